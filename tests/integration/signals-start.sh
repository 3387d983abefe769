#!/usr/bin/env bash
# SIGTERM during start-up: while vramd recreates several big saved volumes
# (each zero-filled), it stops between two of them, runs the stop
# sequence (exit 0, sockets removed) and leaves the state file as it was.
. "$(dirname "$0")/functions.sh"
requires jq
mkdir -p "$tmpdir/state"
jq -n '{version: 1, volumes: [range(8) | {name: "big\(.)", size: 268435456, layout: "stripe",
  devices: ["cpu0", "cpu1"], stripe_unit: 1048576, frontend: "nbd", attach: false}]}' \
  >"$tmpdir/state/volumes.json"
cp "$tmpdir/state/volumes.json" "$tmpdir/saved.json"
"$VRAMD" --api-socket "$tmpdir/api.sock" --nbd-socket "$tmpdir/nbd.sock" --metrics-listen off \
  --state-dir "$tmpdir/state" --device-types cpu --reserve 0 >"$tmpdir/vramd.log" 2>&1 &
vramd_pid=$!
on_exit "stop_vramd"
# The NBD socket comes before the volumes; the first volume is then on its way.
for _ in $(seq 1 300); do [ -S "$tmpdir/nbd.sock" ] && break; sleep 0.1; done
[ -S "$tmpdir/nbd.sock" ] || fail "vramd did not start: $(tail -3 "$tmpdir/vramd.log")"
sleep 0.5
start=$(date +%s%N)
kill -TERM "$vramd_pid"
rc=0; wait "$vramd_pid" || rc=$?
vramd_pid=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc = 0 ] || fail "exit $rc after SIGTERM during start-up: $(tail -5 "$tmpdir/vramd.log")"
made=$(sed -n 's/.*stop requested while recreating saved volumes (\([0-9]*\) of 8 made).*/\1/p' \
  "$tmpdir/vramd.log")
[ -n "$made" ] && [ "$made" -lt 8 ] || fail "not stopped between volumes: $(tail -5 "$tmpdir/vramd.log")"
! grep -q "ready:" "$tmpdir/vramd.log" || fail "vramd became ready after SIGTERM"
grep -q "signal 15: stopping before start-up was done" "$tmpdir/vramd.log" || fail "stop not logged"
[ ! -e "$tmpdir/nbd.sock" ] && [ ! -e "$tmpdir/api.sock" ] || fail "sockets left behind"
cmp -s "$tmpdir/saved.json" "$tmpdir/state/volumes.json" || fail "the state file changed"
# One 256 MiB volume takes over a second here; 8 take over 10 s.
[ $ms -lt 6000 ] || fail "SIGTERM during start-up took $ms ms"
pass "SIGTERM during start-up: exit 0 in $ms ms after $made of 8 volumes; sockets removed, state file unchanged"
