#!/usr/bin/env bash
# A device's state and reserve through the API and vramctl: PATCH
# /v1/devices/{id} with {"reserve_bytes": N} applies at once, says what now
# lies inside the reserve and is logged with who asked; bad bodies and a
# reserve past the device's memory are refused and change nothing; creates
# racing reserve changes never over-allocate; every device shows active.
. "$(dirname "$0")/functions.sh"
requires jq
requires curl
start_vramd
M=1048576

# 1. The state: API, vramctl device list, device show, status, metrics.
api GET /v1/devices; expect 200 "GET /v1/devices"
echo "$body" | jq -e '(.devices | length) >= 2 and all(.devices[]; .state == "active" and
  .inside_reserve_bytes == 0 and .reserve_bytes == 0)' >/dev/null || fail "devices: $body"
"$VRAMCTL" --socket "$tmpdir/api.sock" device list >"$tmpdir/list"
awk 'NR == 1 { if ($3 != "STATE") exit 1; next } $3 != "active" { exit 1 }' "$tmpdir/list" ||
  fail "device list has no STATE column saying active: $(cat "$tmpdir/list")"
"$VRAMCTL" --socket "$tmpdir/api.sock" device show cpu1 | grep -q "^state: *active$" ||
  fail "device show: $("$VRAMCTL" --socket "$tmpdir/api.sock" device show cpu1)"
"$VRAMCTL" --socket "$tmpdir/api.sock" status | grep -q "^cpu0 .* active " ||
  fail "status: $("$VRAMCTL" --socket "$tmpdir/api.sock" status)"
api GET /metrics; expect 200 "metrics"
for d in cpu0 cpu1; do
  grep -qx "vramd_device_state{gpu=\"$d\",state=\"active\"} 1" <<<"$body" &&
    [ "$(echo "$body" | grep -c "^vramd_device_state{gpu=\"$d\",state=\"[a-z]*\"} 0$")" = 3 ] ||
    fail "$d: vramd_device_state: $(echo "$body" | grep "^vramd_device_state")"
done
pass "every device is active in the API, device list, device show, status and the metrics"

# 2. A reserve raised over what is allocated: capacity drops at once, the
# extents stay, and the answer says how much lies inside the reserve.
api POST /v1/volumes -d '{"name":"v0","size":16777216,"layout":"concat","devices":["cpu0"]}'
expect 201 "create v0"
api GET /v1/devices/cpu0; free=$(echo "$body" | jq .free_bytes)
api PATCH /v1/devices/cpu0 -d "{\"reserve_bytes\": $((free - 8 * M))}"; expect 200 "PATCH cpu0"
echo "$body" | jq -e --argjson r $((free - 8 * M)) '.id == "cpu0" and .reserve_bytes == $r and
  .capacity_bytes == 8388608 and .allocated_bytes == 16777216 and
  .inside_reserve_bytes == 8388608 and .available_bytes == 0' >/dev/null || fail "PATCH answer: $body"
grep -q "api: PATCH /v1/devices/cpu0 by uid $(id -u) pid [0-9]*: 200 reserve .*, capacity 8.0 MiB, 8.0 MiB allocated inside the reserve" \
  "$tmpdir/vramd.log" || fail "the change is not logged with who asked: $(grep PATCH "$tmpdir/vramd.log")"
api POST /v1/volumes -d '{"name":"v1","size":4096,"layout":"concat","devices":["cpu0"]}'
expect 507 "create past the new capacity" no_space
api GET /v1/volumes/v0; expect 200 "v0 stays"
[ "$(echo "$body" | jq -r .state)" = ok ] || fail "v0: $body"
api GET /metrics; expect 200 "metrics after the PATCH"
grep -qx "vramd_device_reserve_bytes{gpu=\"cpu0\"} $((free - 8 * M))" <<<"$body" ||
  fail "metrics reserve: set $((free - 8 * M)): $(grep reserve <<<"$body")"
"$VRAMCTL" --socket "$tmpdir/api.sock" status | grep -q "device cpu0 holds 8.0 MiB inside its reserve" ||
  fail "status: $("$VRAMCTL" --socket "$tmpdir/api.sock" status)"
pass "a raised reserve applies at once, keeps v0 and reports 8 MiB inside it (log, metrics, status)"

# 3. vramctl device set: back to 0, then creates fit again.
out=$("$VRAMCTL" --socket "$tmpdir/api.sock" device set cpu0 --reserve 0) || fail "device set: $out"
echo "$out" | grep -q "^cpu0: reserve 0 B, capacity .*, .* available$" || fail "device set said: $out"
! echo "$out" | grep -q "inside" || fail "nothing is inside a reserve of 0: $out"
"$VRAMCTL" --socket "$tmpdir/api.sock" device set cpu0 --reserve 1.5G --json | jq -e '.reserve_bytes == 1610612736' \
  >/dev/null || fail "device set --json"
"$VRAMCTL" --socket "$tmpdir/api.sock" device set cpu0 --reserve 0 >/dev/null
api POST /v1/volumes -d '{"name":"v1","size":4096,"layout":"concat","devices":["cpu0"]}'
expect 201 "create after the reserve is lowered"
pass "vramctl device set changes the reserve (0, 1.5G, --json) and creates fit again"

# 4. Bad bodies, a reserve past the device's memory, unknown devices,
# other methods: refused by name, nothing changed.
total=$(curl -s --unix-socket "$tmpdir/api.sock" http://localhost/v1/devices/cpu1 | jq .total_bytes)
while IFS='|' read -r b code; do
  api PATCH /v1/devices/cpu1 -d "$b"; expect 400 "body $b" "$code"
done <<EOF
{}|missing_field
{"reserve_bytes": -1}|invalid_field
{"reserve_bytes": "1G"}|invalid_field
{"reserve_bytes": 1.5}|invalid_field
{"reserve_bytes": null}|invalid_field
{"reserve_bytes": 1, "yield_floor": 2}|unknown_field
{"reserve_bytes": 1, "reserve_bytes": 2}|invalid_json
{"reserve_bytes": 18446744073709551616}|invalid_json
[1]|invalid_json
not json|invalid_json
{"reserve_bytes": $((total + 1))}|invalid_field
EOF
api PATCH /v1/devices/cpu1 -d "{\"reserve_bytes\": $((total + 1))}"
echo "$body" | jq -r .error.message | grep -q "more than the device's memory" || fail "too large: $body"
printf '{"reserve_bytes": 1\0}' >"$tmpdir/nul"
api PATCH /v1/devices/cpu1 --data-binary @"$tmpdir/nul"; expect 400 "NUL byte" invalid_json
api GET /v1/devices/cpu1
[ "$(echo "$body" | jq .reserve_bytes)" = 0 ] || fail "a refused PATCH changed the reserve: $body"
api PATCH /v1/devices/gpu9 -d '{"reserve_bytes": 0}'; expect 404 "unknown device" no_such_device
api PUT /v1/devices/cpu1 -d '{}'; expect 405 "PUT" method_not_allowed
curl -s -D "$tmpdir/hdr" -o /dev/null --unix-socket "$tmpdir/api.sock" -X DELETE http://localhost/v1/devices/cpu1
grep -qi '^Allow: GET, PATCH' "$tmpdir/hdr" || fail "405 Allow: $(cat "$tmpdir/hdr")"
out=$("$VRAMCTL" --socket "$tmpdir/api.sock" device set cpu1 --reserve 100P 2>&1) && fail "100P accepted"
echo "$out" | grep -q "^vramctl: cpu1: a reserve of 100.0 PiB is more than the device's memory" || fail "100P: $out"
out=$("$VRAMCTL" --socket "$tmpdir/api.sock" device set gpu9 --reserve 1G 2>&1) && fail "gpu9 accepted"
echo "$out" | grep -q "'vramctl device list'" || fail "gpu9: $out"
rc=0; out=$("$VRAMCTL" --socket "$tmpdir/api.sock" device set cpu1 2>&1) || rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "give what to set: --reserve SIZE" || fail "no --reserve: $rc $out"
rc=0; out=$("$VRAMCTL" --socket "$tmpdir/api.sock" device set cpu1 --reserve 12X 2>&1) || rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "unknown suffix" || fail "--reserve 12X: $rc $out"
# Refusals are logged with who asked (rate-limited, as every API refusal).
grep -q "api: PATCH /v1/devices/cpu1 by uid $(id -u) pid [0-9]* refused: 400 give reserve_bytes or yield_floor_bytes (or both)" \
  "$tmpdir/vramd.log" || fail "refusals are not logged: $(grep refused "$tmpdir/vramd.log")"
pass "bad bodies (12), a reserve past the device's memory, unknown devices and methods are refused; nothing changed"

# 5. Creates racing reserve changes on cpu1: every answer is 201 or 507,
# and afterwards the accounting is exact: with a capacity of 4 MiB, four
# 1 MiB volumes fit and a fifth does not.
api GET /v1/devices/cpu1; free=$(echo "$body" | jq .free_bytes)
pids=()
for i in $(seq 1 24); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 --unix-socket "$tmpdir/api.sock" \
    -X POST -d "{\"name\":\"r$i\",\"size\":$M,\"layout\":\"concat\",\"devices\":[\"cpu1\"]}" \
    http://localhost/v1/volumes >>"$tmpdir/creates" &
  pids+=($!)
done
for i in $(seq 1 24); do
  r=$(( i % 2 ? free - 4 * M : 0 ))
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 --unix-socket "$tmpdir/api.sock" \
    -X PATCH -d "{\"reserve_bytes\":$r}" http://localhost/v1/devices/cpu1 >>"$tmpdir/patches" &
  pids+=($!)
done
wait "${pids[@]}" # not vramd
[ "$(sort -u "$tmpdir/creates" | tr '\n' ' ')" != "" ] && ! grep -vqxE '201|507' "$tmpdir/creates" ||
  fail "creates answered: $(sort "$tmpdir/creates" | uniq -c)"
[ "$(grep -cx 200 "$tmpdir/patches")" = 24 ] || fail "patches answered: $(sort "$tmpdir/patches" | uniq -c)"
made=$(grep -cx 201 "$tmpdir/creates" || true)
api GET /v1/devices/cpu1
[ "$(echo "$body" | jq .allocated_bytes)" = $((made * M)) ] || fail "allocated after $made creates: $body"
for i in $(seq 1 24); do api DELETE /v1/volumes/r$i; done
api PATCH /v1/devices/cpu1 -d "{\"reserve_bytes\": $((free - 4 * M))}"; expect 200 "final reserve"
[ "$(echo "$body" | jq .allocated_bytes)" = 0 ] || fail "allocation left after deletes: $body"
n=0
for i in $(seq 1 6); do
  api POST /v1/volumes -d "{\"name\":\"f$i\",\"size\":$M,\"layout\":\"concat\",\"devices\":[\"cpu1\"]}"
  [ "$status" = 201 ] && n=$((n + 1))
done
[ $n = 4 ] || fail "$n volumes of 1 MiB fit a capacity of 4 MiB"
kill -0 "$vramd_pid" || fail "vramd died"
pass "24 creates racing 24 reserve changes: $made made, all answered 201/507, accounting exact (4 of 6 fit 4 MiB)"
