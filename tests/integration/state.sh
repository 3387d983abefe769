#!/usr/bin/env bash
# Restart and state recovery: definitions come back, contents do not; a
# corrupt state file is kept aside and reported, never silently lost.
. "$(dirname "$0")/functions.sh"
requires jq
start_vramd
requires_frontend nbd
api POST /v1/volumes -d '{"name":"keep1","size":4194304,"stripe_unit":65536}'; expect 201 "create keep1"
api POST /v1/volumes -d '{"name":"keep2","size":1048576,"layout":"concat","devices":["cpu1"]}'; expect 201 "create keep2"
api POST /v1/volumes -d '{"name":"gone","size":1048576}'; expect 201 "create gone"
api DELETE /v1/volumes/gone; expect 204 "delete gone"
jq -e '[.volumes[].name] == ["keep1","keep2"]' "$tmpdir/state/volumes.json" >/dev/null ||
  fail "state file: $(cat "$tmpdir/state/volumes.json")"
# The answers' _bytes names stay out of the file: older files must load.
jq -e '.version == 1 and .volumes[0].size == 4194304 and .volumes[0].stripe_unit == 65536 and
  ([.volumes[] | keys[] | select(endswith("_bytes"))] == [])' "$tmpdir/state/volumes.json" >/dev/null ||
  fail "state file keys changed: $(cat "$tmpdir/state/volumes.json")"
[ ! -e "$tmpdir/state/volumes.json.tmp" ] || fail "temporary file left behind"
pass "definitions are saved as volumes are created and deleted"

wrote=0
if command -v nbdcopy >/dev/null && [ -S "$tmpdir/nbd.sock" ]; then
  head -c 4194304 /dev/urandom >"$tmpdir/data"
  nbdcopy "$tmpdir/data" "nbd+unix:///keep1?socket=$tmpdir/nbd.sock"
  wrote=1
fi
stop_vramd
start_vramd
api GET /v1/volumes; expect 200 "list after restart"
echo "$body" | jq -e '[.volumes[].name] == ["keep1","keep2"] and
  (.volumes[0].stripe_unit_bytes == 65536) and (.volumes[1].devices == ["cpu1"])' >/dev/null ||
  fail "definitions not back: $body"
grep -q "recreated 2 saved volumes" "$tmpdir/vramd.log" || fail "no log line: $(cat "$tmpdir/vramd.log")"
if [ $wrote = 1 ]; then
  nbdcopy "nbd+unix:///keep1?socket=$tmpdir/nbd.sock" "$tmpdir/back"
  cmp -s "$tmpdir/back" <(head -c 4194304 /dev/zero) || fail "contents survived a restart"
  pass "definitions are back after a restart, contents are empty (zeros)"
else
  pass "definitions are back after a restart"
fi

stop_vramd
echo '{"version": 1, "volumes": [ {"name": "x", ' >"$tmpdir/state/volumes.json"
start_vramd
grep -q "state file.*kept as .*volumes.json.corrupt-" "$tmpdir/vramd.log" || fail "corrupt file not reported: $(cat "$tmpdir/vramd.log")"
ls "$tmpdir/state"/volumes.json.corrupt-* >/dev/null 2>&1 || fail "corrupt file not kept aside"
grep -q '"name": "x"' "$tmpdir/state"/volumes.json.corrupt-* || fail "corrupt file changed"
api GET /v1/volumes; expect 200 "list after corrupt state"
[ "$(echo "$body" | jq '.volumes | length')" = 0 ] || fail "volumes from a corrupt file: $body"
api POST /v1/volumes -d '{"name":"fresh","size":1048576}'; expect 201 "create after corrupt state"
pass "a corrupt state file is reported and kept aside; vramd starts and saves anew"

stop_vramd
jq '.volumes += [{"name":"toobig","size":1152921504606846976,"layout":"stripe","devices":["cpu0"],"stripe_unit":65536,"frontend":"nbd","attach":false}]' \
  "$tmpdir/state/volumes.json" >"$tmpdir/s.json" && mv "$tmpdir/s.json" "$tmpdir/state/volumes.json"
start_vramd
grep -q "saved volume #2 (toobig) not recreated" "$tmpdir/vramd.log" || fail "unrestorable volume not reported"
grep -q toobig "$tmpdir/state"/volumes.json.unrestored-* || fail "unrestorable definition not kept"
api GET /v1/volumes/fresh; expect 200 "the other volume is back"
pass "a definition that cannot be recreated is reported and kept aside"
