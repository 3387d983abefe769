#!/usr/bin/env bash
# vramctl volume attach and detach on NBD exports, with real clients: an
# export appears and goes (nbdinfo), a detach with a client connected is
# refused until --force, a second attach is a 409, bad frontends are
# refused by name, a restart keeps the attachment, volume show names a
# connected client's pid, and every change is logged with who asked.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdinfo
requires nbdsh
requires nbdcopy
PATH="/usr/bin:$PATH" nbdsh -c pass >/dev/null 2>&1 || { echo "SKIP: nbdsh does not run"; exit 77; }
start_vramd
requires_frontend nbd
vctl() { "$VRAMCTL" --socket "$tmpdir/api.sock" "$@"; }
sees() { nbdinfo --list "nbd+unix://?socket=$tmpdir/nbd.sock" 2>/dev/null | grep -q "export=\"$1\""; }

# 1. Created with no frontend: it exists, holds its VRAM, and no NBD
# client sees it.
out=$(vctl volume create quiet --size 4M --frontend none) || fail "create --frontend none"
echo "$out" | grep -q "^-$" || fail "a volume with no frontend printed a place: $out"
api GET /v1/volumes/quiet; expect 200 "show quiet"
echo "$body" | jq -e '.frontend == "none" and .nbd_uri == null and .connections == []' \
  >/dev/null || fail "quiet is exposed: $body"
sees quiet && fail "nbdinfo sees a volume with no frontend"
pass "a volume created with --frontend none is kept and not exported"

# 2. attach prints the NBD URI; nbdinfo sees the export; the state file
# has it; a second attach is a 409 that says where it is.
uri=$(vctl volume attach quiet --frontend nbd) || fail "attach"
[ "$uri" = "nbd+unix:///quiet?socket=$tmpdir/nbd.sock" ] || fail "attach printed '$uri'"
nbdinfo "$uri" >/dev/null || fail "nbdinfo cannot open $uri"
sees quiet || fail "nbdinfo --list does not list quiet after attach"
jq -e '.volumes[] | select(.name == "quiet") | .frontend == "nbd"' "$tmpdir/state/volumes.json" \
  >/dev/null || fail "attach not saved: $(cat "$tmpdir/state/volumes.json")"
set +e; vctl volume attach quiet --frontend nbd 2>"$tmpdir/err"; rc=$?; set -e
[ $rc = 1 ] && grep -q "^vramctl: volume 'quiet' is already attached (an nbd export); detach it first$" \
  "$tmpdir/err" || fail "second attach: exit $rc: $(cat "$tmpdir/err")"
api POST /v1/volumes/quiet/attach -d '{"frontend":"nbd"}'; expect 409 "second attach" volume_attached
pass "attach prints $uri, nbdinfo sees it, it is saved; a second attach is 409"

# 3. Bad frontends and bodies are refused by name, before anything changes.
set +e; vctl volume attach quiet --frontend iscsi 2>"$tmpdir/err"; rc=$?; set -e
[ $rc = 2 ] && grep -q "^vramctl: volume attach: --frontend: frontend 'iscsi' is not nbd, ublk or none" \
  "$tmpdir/err" || fail "--frontend iscsi: exit $rc: $(cat "$tmpdir/err")"
set +e; vctl volume attach quiet 2>"$tmpdir/err"; rc=$?; set -e
[ $rc = 2 ] && grep -q -- "--frontend is required" "$tmpdir/err" || fail "no --frontend: exit $rc"
api POST /v1/volumes/quiet/attach -d '{"frontend":"iscsi"}'; expect 400 "iscsi" invalid_field
echo "$body" | jq -e '.error.field == "frontend"' >/dev/null || fail "iscsi: field not named: $body"
api POST /v1/volumes/quiet/attach -d '{"frontend":"nbd","size":1}'; expect 400 "size" unknown_field
api POST /v1/volumes/quiet/attach -d '{"frontend":"none"}'; expect 400 "none" invalid_field
api POST /v1/volumes/quiet/attach -d '{"frontend":"nbd","index":3}'; expect 400 "index" invalid_field
api POST /v1/volumes/nosuch/attach -d '{"frontend":"nbd"}'; expect 404 "unknown" no_such_volume
api GET /v1/volumes/quiet/attach; expect 405 "GET attach"
api POST /v1/volumes/quiet/mount -d '{}'; expect 400 "unknown action" invalid_name
pass "bad frontends, fields and routes are refused by name (400, 404, 405)"

# 4. A connected client: volume show names its pid and uid; a detach is
# refused naming it, --force cuts it off and withdraws the export.
PATH="/usr/bin:$PATH" nbdsh -u "$uri" -c 'import time; time.sleep(30)' &
holder=$!
on_exit "kill $holder 2>/dev/null || true"
for _ in $(seq 100); do
  api GET /v1/volumes/quiet
  [ "$(echo "$body" | jq '.connections | length')" = 1 ] && break
  sleep 0.1
done
[ "$(echo "$body" | jq '.connections | length')" = 1 ] || fail "no client listed: $body"
want_pid=$holder # libnbd connects from nbdsh's own process
echo "$body" | jq -e --argjson p "$want_pid" --argjson u "$(id -u)" \
  '.connections[0] == {"kind": "unix", "pid": $p, "uid": $u}' >/dev/null ||
  fail "connections: $(echo "$body" | jq -c .connections), want pid $want_pid"
vctl volume show quiet | grep -qE "^unix +$want_pid +$(id -u) +- +-$" ||
  fail "volume show: $(vctl volume show quiet)"
set +e; vctl volume detach quiet 2>"$tmpdir/err"; rc=$?; set -e
[ $rc = 1 ] && [ "$(wc -l <"$tmpdir/err")" = 1 ] &&
  grep -q "^vramctl: volume 'quiet' has 1 NBD client connected; disconnect it or detach with --force$" \
    "$tmpdir/err" || fail "detach in use: exit $rc: $(cat "$tmpdir/err")"
sees quiet || fail "a refused detach withdrew the export"
jq -e '.volumes[] | select(.name == "quiet") | .frontend == "nbd"' "$tmpdir/state/volumes.json" \
  >/dev/null || fail "a refused detach changed the state file"
[ "$(vctl volume detach --force quiet)" = "detached quiet" ] || fail "detach --force"
# The client sleeps and has not noticed yet; vramd has closed its session.
api GET /v1/volumes/quiet
echo "$body" | jq -e '.clients == 0' >/dev/null || fail "a client is left after --force: $body"
kill $holder 2>/dev/null || true
sees quiet && fail "nbdinfo still sees quiet after detach"
nbdinfo "$uri" >/dev/null 2>&1 && fail "quiet opens after detach"
api GET /v1/volumes/quiet; expect 200 "quiet after detach"
echo "$body" | jq -e '.frontend == "none" and .clients == 0' >/dev/null || fail "after detach: $body"
set +e; vctl volume detach quiet 2>"$tmpdir/err"; rc=$?; set -e
[ $rc = 1 ] && grep -q "volume 'quiet' is not attached" "$tmpdir/err" || fail "second detach: exit $rc"
pass "volume show lists client pid $want_pid; detach is refused naming it, --force cuts it off"

# 5. Contents survive a detach and attach; the exposure survives a restart.
head -c 1M /dev/urandom >"$tmpdir/data"
vctl volume attach quiet --frontend nbd >/dev/null || fail "attach again"
nbdcopy "$tmpdir/data" "$uri" || fail "write"
vctl volume detach quiet >/dev/null || fail "detach idle"
vctl volume attach quiet --frontend nbd >/dev/null || fail "attach a third time"
nbdcopy "$uri" "$tmpdir/back" || fail "read back"
cmp -s -n 1048576 "$tmpdir/back" "$tmpdir/data" || fail "contents changed across detach"
vctl volume create other --size 4M --frontend none >/dev/null || fail "create other"
stop_vramd
start_vramd
sees quiet || fail "the attachment did not survive a restart"
sees other && fail "a detached volume came back exported"
api GET /v1/volumes/other; expect 200 "other after restart"
echo "$body" | jq -e '.frontend == "none"' >/dev/null || fail "other after restart: $body"
pass "contents survive detach and attach; a restart keeps both exposures"

# 6. Over TCP, volume show names the client's address and port; every
# change is logged with who asked and what came of it.
stop_vramd
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_vramd --nbd-listen "127.0.0.1:$port"
PATH="/usr/bin:$PATH" nbdsh -u "nbd://127.0.0.1:$port/quiet" -c 'import time; time.sleep(30)' &
holder=$!
for _ in $(seq 100); do
  api GET /v1/volumes/quiet
  [ "$(echo "$body" | jq '.connections | length')" = 1 ] && break
  sleep 0.1
done
echo "$body" | jq -e '.connections[0].kind == "tcp" and
  (.connections[0].address | test("^127\\.0\\.0\\.1:[0-9]+$"))' >/dev/null ||
  fail "a TCP client is not listed by address: $(echo "$body" | jq -c .connections)"
addr=$(echo "$body" | jq -r '.connections[0].address')
vctl volume show quiet | grep -qE "^tcp +- +- +$addr +-$" || fail "volume show: $(vctl volume show quiet)"
vctl volume detach --force quiet >/dev/null || fail "detach --force over TCP"
kill $holder 2>/dev/null || true
pass "a TCP client is listed as $addr"
set +e; vctl volume detach quiet 2>/dev/null; set -e
grep -q "api: POST /v1/volumes/quiet/detach by uid $(id -u) pid [0-9]*: 204" "$tmpdir/vramd.log" &&
  grep -q "volume quiet: detached from nbd (forced)" "$tmpdir/vramd.log" ||
  fail "detach not logged: $(grep api: "$tmpdir/vramd.log")"
grep -q "api: POST /v1/volumes/quiet/detach by uid $(id -u) pid [0-9]* refused: 409" \
  "$tmpdir/vramd.log" || fail "refused detach not logged"
vctl volume attach quiet --frontend nbd >/dev/null
grep -q "api: POST /v1/volumes/quiet/attach by uid $(id -u) pid [0-9]*: 200 nbd+unix:///quiet" \
  "$tmpdir/vramd.log" || fail "attach not logged: $(grep api: "$tmpdir/vramd.log")"
pass "attach and detach are logged with uid, pid and outcome"
