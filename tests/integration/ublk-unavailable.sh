#!/usr/bin/env bash
# Without the ublk driver, a ublk volume fails with the cause named and the
# daemon keeps running.  (The kernel tests cover ublk itself.)
. "$(dirname "$0")/functions.sh"
[ -e /dev/ublk-control ] && { echo "SKIP: ublk_drv is loaded here; the kernel tests cover it"; exit 77; }

"$VRAMD" --api-socket "$tmpdir/api.sock" --nbd-socket "$tmpdir/nbd.sock" --metrics-listen off \
  --state-dir "$tmpdir/state" --device-types cpu --reserve 0 \
  --volume name=u0,size=16M,frontend=ublk >"$tmpdir/vramd.log" 2>&1 &
vramd_pid=$!
on_exit stop_vramd
for _ in $(seq 1 100); do grep -q "ready:" "$tmpdir/vramd.log" && break; sleep 0.1; done
grep -q "ready:" "$tmpdir/vramd.log" || { cat "$tmpdir/vramd.log"; fail "vramd did not become ready"; }
grep -q "volume u0: ublk is not available: /dev/ublk-control does not exist.*modprobe ublk_drv" \
  "$tmpdir/vramd.log" || fail "no clear message: $(cat "$tmpdir/vramd.log")"
kill -0 "$vramd_pid" || fail "vramd exited"
pass "a ublk volume without ublk_drv fails with the cause; vramd keeps running"
grep -q "swap safety: mlockall" "$tmpdir/vramd.log" && grep -q "swap safety: PR_SET_IO_FLUSHER" "$tmpdir/vramd.log" &&
  grep -q "swap safety: oom_score_adj" "$tmpdir/vramd.log" || fail "swap safety steps not logged: $(cat "$tmpdir/vramd.log")"
pass "swap safety steps are logged"
