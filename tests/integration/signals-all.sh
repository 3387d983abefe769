#!/usr/bin/env bash
# Every signal a person or a tool may send: the stop signals (SIGTERM,
# SIGINT, SIGQUIT) run the stop sequence (exit 0, sockets removed); SIGHUP
# re-reads verbose from the config file; every other one is ignored, and
# vramd goes on serving the data written before it.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
echo "verbose = off" >"$tmpdir/vramd.conf"
start_vramd --config "$tmpdir/vramd.conf" --volume name=v,size=4M
head -c 4M /dev/urandom >"$tmpdir/data"
nbdcopy "$tmpdir/data" "$(nbd_uri v)"

# 1. Ignored: after each, vramd answers vramctl and NBD reads the data back.
for sig in USR1 USR2 ALRM PIPE VTALRM PROF XCPU XFSZ IO STKFLT PWR SYS TRAP TSTP TTIN TTOU \
           RTMIN RTMIN+5 RTMAX; do
  kill -s "$sig" "$vramd_pid"
  "$VRAMCTL" --socket "$tmpdir/api.sock" status >"$tmpdir/status" ||
    fail "SIG$sig: vramctl status failed: $(tail -3 "$tmpdir/vramd.log")"
  timeout 30 nbdcopy "$(nbd_uri v)" "$tmpdir/back" || fail "SIG$sig: NBD read failed"
  cmp -s "$tmpdir/data" "$tmpdir/back" || fail "SIG$sig: the data changed"
done
grep -q "signal 10 (User defined signal 1) ignored" "$tmpdir/vramd.log" || fail "SIGUSR1 not logged"
pass "19 signals ignored: vramd still serves and the data written before reads back"

# 2. SIGHUP re-reads the config: verbose on takes effect, another change
# is reported as waiting for a restart, a broken file changes nothing.
echo "verbose = on" >"$tmpdir/vramd.conf"
kill -HUP "$vramd_pid"
for _ in $(seq 1 50); do grep -q "SIGHUP: re-read" "$tmpdir/vramd.log" && break; sleep 0.1; done
grep -q "SIGHUP: re-read $tmpdir/vramd.conf; verbose is on" "$tmpdir/vramd.log" ||
  fail "SIGHUP did not re-read verbose: $(tail -3 "$tmpdir/vramd.log")"
! grep -q "^<7>" "$tmpdir/vramd.log" || fail "debug lines before verbose = on"
nbdcopy "$(nbd_uri v)" "$tmpdir/back"
for _ in $(seq 1 50); do grep -q "^vramd: debug: nbd v: connection ends" "$tmpdir/vramd.log" && break; sleep 0.1; done
grep -q "^vramd: debug: nbd v: connection ends" "$tmpdir/vramd.log" || fail "no debug lines after verbose = on"
printf 'verbose = on\nnbd-max-sessions = 8\n' >"$tmpdir/vramd.conf"
kill -HUP "$vramd_pid"
for _ in $(seq 1 50); do grep -q "take effect at the next start" "$tmpdir/vramd.log" && break; sleep 0.1; done
grep -q "changes settings other than verbose" "$tmpdir/vramd.log" || fail "other change not reported"
echo "verbose = maybe" >"$tmpdir/vramd.conf"
kill -HUP "$vramd_pid"
for _ in $(seq 1 50); do grep -q "nothing changed" "$tmpdir/vramd.log" && break; sleep 0.1; done
grep -q "SIGHUP: .*verbose: 'maybe' is not on or off; nothing changed" "$tmpdir/vramd.log" ||
  fail "a bad config on SIGHUP not reported"
kill -0 "$vramd_pid" || fail "vramd died on SIGHUP"
pass "SIGHUP re-reads verbose, reports other changes and a broken file, and vramd goes on"

# 3. Stop signals: exit 0, sockets removed, the stop logged.
stop_vramd
for sig in INT QUIT TERM; do
  start_vramd --volume name=v,size=4M
  kill -s "$sig" "$vramd_pid"
  rc=0; timeout 30 tail --pid="$vramd_pid" -f /dev/null; wait "$vramd_pid" || rc=$?
  vramd_pid=
  [ $rc = 0 ] || fail "SIG$sig: exit $rc: $(tail -3 "$tmpdir/vramd.log")"
  [ ! -e "$tmpdir/api.sock" ] && [ ! -e "$tmpdir/nbd.sock" ] || fail "SIG$sig: sockets left behind"
  grep -q "signal $(kill -l "$sig"): stopping" "$tmpdir/vramd.log" || fail "SIG$sig: no stop logged"
done
pass "SIGINT, SIGQUIT and SIGTERM each stop vramd with exit 0 and remove its sockets"
