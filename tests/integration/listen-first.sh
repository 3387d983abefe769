#!/usr/bin/env bash
# Where vramd listens is logged at start, and a metrics port in use stops
# it before any device is exposed: no volume made, no NBD socket, and the
# API socket it made is removed again.
. "$(dirname "$0")/functions.sh"
requires python3

start_vramd --metrics-listen 127.0.0.1:0
grep -q "vramd: api: listening on $tmpdir/api.sock$" "$tmpdir/vramd.log" || fail "no 'api: listening on' line"
grep -q "vramd: metrics: listening on 127.0.0.1:0$" "$tmpdir/vramd.log" || fail "no 'metrics: listening on' line"
grep -q "vramd: nbd: listening on $tmpdir/nbd.sock" "$tmpdir/vramd.log" || fail "no 'nbd: listening on' line"
stop_vramd
pass "the API, metrics and NBD listeners are logged at start"

# Hold a TCP port, then ask vramd for it.
python3 - "$tmpdir/port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(60)
PY
holder=$!
on_exit "kill $holder"
for _ in $(seq 1 50); do [ -s "$tmpdir/port" ] && break; sleep 0.1; done
port=$(cat "$tmpdir/port")
rc=0
timeout 60 "$VRAMD" --api-socket "$tmpdir/api2.sock" --nbd-socket "$tmpdir/nbd2.sock" \
  --metrics-listen "127.0.0.1:$port" --state-dir "$tmpdir/state2" --device-types cpu --reserve 0 \
  --volume name=early,size=8M >"$tmpdir/busy.log" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$tmpdir/busy.log"; fail "metrics port in use: exit $rc, not 1"; }
grep -q "metrics-listen: cannot listen on 127.0.0.1:$port: Address already in use" "$tmpdir/busy.log" ||
  { cat "$tmpdir/busy.log"; fail "no clear error for the port in use"; }
! grep -q "volume early created\|nbd: listening" "$tmpdir/busy.log" ||
  { cat "$tmpdir/busy.log"; fail "a volume or the NBD socket was made before the port was found busy"; }
[ ! -e "$tmpdir/api2.sock" ] && [ ! -e "$tmpdir/nbd2.sock" ] || fail "sockets left behind"
pass "a metrics port in use stops vramd (exit 1) before any volume or NBD socket exists"
