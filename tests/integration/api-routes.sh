#!/usr/bin/env bash
# The control API with curl: every route and every status code it answers.
. "$(dirname "$0")/functions.sh"
requires jq
requires curl
start_vramd
[ "$(stat -c %a "$tmpdir/api.sock")" = 660 ] || fail "API socket mode is not 0660"
pass "API socket is mode 0660"

api GET /v1; expect 200 "GET /v1"
[ "$(echo "$body" | jq -r .api)" = v1 ] || fail "GET /v1: $body"
api GET /healthz; expect 200 "GET /healthz"
api GET /v1/devices; expect 200 "GET /v1/devices"
[ "$(echo "$body" | jq '.devices | length')" -ge 2 ] || fail "two devices expected: $body"
api GET /v1/devices/cpu0; expect 200 "GET /v1/devices/cpu0"
echo "$body" | jq -e '.id == "cpu0" and .total_bytes > 0 and .available_bytes > 0' >/dev/null ||
  fail "device fields: $body"
api GET /v1/devices/gpu9; expect 404 "unknown device" no_such_device
api GET /v1/pool; expect 200 "GET /v1/pool"
echo "$body" | jq -e '.devices >= 2 and .allocated_bytes == 0' >/dev/null || fail "pool: $body"
api GET /v1/volumes; expect 200 "GET /v1/volumes"
api GET /v1/volumes/nosuch; expect 404 "unknown volume" no_such_volume
api DELETE /v1/volumes/nosuch; expect 404 "delete unknown" no_such_volume
api PUT /v1/volumes; expect 405 "PUT /v1/volumes" method_not_allowed
curl -s -D "$tmpdir/hdr405" -o /dev/null --unix-socket "$tmpdir/api.sock" -X PUT http://localhost/v1/volumes
grep -qi '^Allow: GET, POST' "$tmpdir/hdr405" || fail "405 without Allow: $(cat "$tmpdir/hdr405")"
! grep -qi '^Location:' "$tmpdir/hdr405" || fail "405 with a Location header: $(cat "$tmpdir/hdr405")"
api GET /v2; expect 404 "unknown route" not_found
api GET /metrics; expect 200 "GET /metrics"
grep -q '^vramd_build_info{version=' <<<"$body" || fail "no build info in /metrics"
pass "read-only routes answer 200, 404 and 405 with the error envelope"

requires_frontend nbd
api POST /v1/volumes -d '{"name":"vol0","size":8388608,"layout":"stripe","devices":"all","stripe_unit":65536,"frontend":"nbd"}' -D "$tmpdir/hdr"
expect 201 "create"
grep -qi '^Location: /v1/volumes/vol0' "$tmpdir/hdr" || fail "no Location header: $(cat "$tmpdir/hdr")"
echo "$body" | jq -e '.name == "vol0" and .size_bytes == 8388608 and .layout == "stripe" and
  (.devices | length) >= 2 and .stripe_unit_bytes == 65536 and (.extents | length) >= 2 and
  (.nbd_uri | startswith("nbd+unix:///vol0?socket="))' >/dev/null || fail "create body: $body"
pass "create answers 201 with Location and the volume"

api POST /v1/volumes -d '{"name":"vol0","size":4096}'; expect 409 "duplicate" volume_exists
pass "a duplicate name answers 409"

api POST /v1/volumes -d '{"name":"odd","size":5000,"layout":"concat","devices":["cpu1"]}'
expect 201 "concat"
echo "$body" | jq -e '.size_bytes == 8192 and .requested_size_bytes == 5000 and .devices == ["cpu1"]' >/dev/null ||
  fail "concat rounding: $body"
pass "concat on one device rounds up to 4 KiB and reports it"

api GET /v1/volumes/vol0; expect 200 "show"
echo "$body" | jq -e '.clients == 0 and .io.write.done_bytes == 0 and (.extents | all(.size_bytes > 0))' >/dev/null ||
  fail "show: $body"
api GET /v1/volumes; expect 200 "list"
[ "$(echo "$body" | jq -c '[.volumes[].name]')" = '["odd","vol0"]' ] || fail "list: $body"
pass "show and list"

api GET /v1/pool
avail=$(echo "$body" | jq .available_bytes)
api POST /v1/volumes -d "{\"name\":\"huge\",\"size\":$((avail * 4))}"
expect 507 "too big" no_space
echo "$body" | jq -e '(.error.message | test("at most")) and (.error.devices | length) >= 2' >/dev/null ||
  fail "507 must say what fits where: $body"
api GET /v1/volumes/huge; expect 404 "no half-made volume after 507"
pass "a volume the pool cannot hold answers 507, saying what fits where"

# nbdsh runs on the system's python3, where python3-libnbd lives.
if command -v nbdsh >/dev/null && PATH="/usr/bin:$PATH" nbdsh -c pass >/dev/null 2>&1; then
  uri="nbd+unix:///vol0?socket=$tmpdir/nbd.sock"
  PATH="/usr/bin:$PATH" nbdsh -u "$uri" -c 'import time; time.sleep(4)' &
  holder=$!
  on_exit "kill $holder 2>/dev/null || true"
  for _ in $(seq 50); do api GET /v1/volumes/vol0; [ "$(echo "$body" | jq .clients)" -ge 1 ] && break; sleep 0.1; done
  [ "$(echo "$body" | jq .clients)" -ge 1 ] || fail "an NBD client is not counted: $body"
  api DELETE /v1/volumes/vol0; expect 409 "delete in use" volume_in_use
  api DELETE "/v1/volumes/vol0?force=true"; expect 204 "forced delete"
  wait $holder 2>/dev/null || true
  pass "deleting a volume in use answers 409; ?force=true deletes it"
else
  echo "SKIP: nbdsh not installed, in-use delete not tested"
  api DELETE /v1/volumes/vol0; expect 204 "delete"
fi
curl -s -D "$tmpdir/hdr204" -o /dev/null --unix-socket "$tmpdir/api.sock" -X DELETE \
  http://localhost/v1/volumes/odd
grep -q '^HTTP/1.1 204' "$tmpdir/hdr204" || fail "delete: $(cat "$tmpdir/hdr204")"
! grep -qi '^Content-Type:' "$tmpdir/hdr204" || fail "204 with a content type: $(cat "$tmpdir/hdr204")"
api DELETE /v1/volumes/odd; expect 404 "delete twice" no_such_volume
api GET /v1/pool
echo "$body" | jq -e '.allocated_bytes == 0 and .volumes == 0' >/dev/null || fail "VRAM left: $body"
pass "delete answers 204, then 404; every byte is back in the pool"

# Every change is logged with who asked and what came of it.
me=$(id -u)
grep -Eq "vramd: api: POST /v1/volumes by uid $me pid [0-9]+: 201 /v1/volumes/vol0$" "$tmpdir/vramd.log" ||
  fail "no log line for the create: $(grep 'api:' "$tmpdir/vramd.log")"
grep -Eq "vramd: api: POST /v1/volumes by uid $me pid [0-9]+ refused: 507 .*at most" "$tmpdir/vramd.log" ||
  fail "no log line for the refused create: $(grep 'api:' "$tmpdir/vramd.log")"
grep -Eq "vramd: api: DELETE /v1/volumes/odd by uid $me pid [0-9]+: 204$" "$tmpdir/vramd.log" ||
  fail "no log line for the delete: $(grep 'api:' "$tmpdir/vramd.log")"
! grep -q "api: GET " "$tmpdir/vramd.log" || fail "reads must not be logged at info level"
pass "creates and deletes are logged with the requester's uid and pid and the outcome"
