#!/usr/bin/env bash
# Without the ublk driver, a ublk volume fails with the cause named and the
# daemon keeps running; the swap safety steps are logged and shown by status.
# (The kernel tests cover ublk itself.)
. "$(dirname "$0")/functions.sh"
requires jq
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
status=$("$VRAMCTL" --socket "$tmpdir/api.sock" status) || fail "vramctl status failed"
echo "$status" | grep -q "^swap safety: mlockall [a-zA-Z]*, IO_FLUSHER [a-zA-Z]*, oom_score_adj -\?[0-9]" ||
  fail "no swap safety line in vramctl status: $status"
"$VRAMCTL" --socket "$tmpdir/api.sock" --json status | jq -e '.vramd.safety |
  (.mlocked | type == "boolean") and (.io_flusher | type == "boolean") and (.oom_score_adj | type == "number")' \
  >/dev/null || fail "no safety in GET /v1"
pass "vramctl status and GET /v1 show the swap safety steps"
