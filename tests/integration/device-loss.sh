#!/usr/bin/env bash
# A device that fails for real: tests/shim/libclfault.so, preloaded into
# vramd, makes the OpenCL calls on one device return the errors a lost
# device returns (no VRAMD_FAULTS, no flag).
# 1. One call on cpu1 fails once: only that request gets EIO.
# 2. cpu1 lost (CL_DEVICE_NOT_AVAILABLE from every call): its volumes fail
#    fast, cpu0's serves on, status and metrics say so, SIGTERM exits 0.
# 3. cpu0 lost, seen only in its commands' status (CL_OUT_OF_RESOURCES) and
#    as maps it refuses: likewise, and new sessions on cpu1 still work.
# 4. Every call on cpu1 fails with an error that does not mean "gone"
#    (CL_OUT_OF_HOST_MEMORY): its requests fail, but it is not marked lost.
. "$(dirname "$0")/functions.sh"
requires jq
requires promtool
requires nbdcopy
requires_libnbd
shim="$top_builddir/tests/shim/libclfault.so"
[ -f "$shim" ] || fail "$shim is not built"
export VD_CLFAULT_FILE="$tmpdir/clfault" VRAMCTL_SOCKET="$tmpdir/api.sock"
unset VRAMD_FAULTS

# Start vramd through a wrapper that preloads the shim (after libasan, which
# must come first, in a sanitizer build); volumes a (both devices), b (cpu0)
# and c (cpu1) hold a pattern each.
asan=$(ldd "$VRAMD" | awk '/libasan/ { print $3 }')
printf '#!/bin/sh\nLD_PRELOAD="%s" exec "%s" "$@"\n' "${asan:+$asan:}$shim" "$VRAMD" >"$tmpdir/vramd-shim"
chmod +x "$tmpdir/vramd-shim"
VRAMD="$tmpdir/vramd-shim"
start() {
  rm -rf "$tmpdir/state" "$VD_CLFAULT_FILE"
  start_vramd --extent-size 1M \
    --volume name=a,size=8M,layout=stripe,devices=all,unit=64K \
    --volume name=b,size=4M,layout=concat,devices=cpu0 \
    --volume name=c,size=4M,layout=concat,devices=cpu1
  api GET /v1/devices
  [ "$(echo "$body" | jq -c '[.devices[] | .id]')" = '["cpu0","cpu1"]' ] &&
    [ "$(echo "$body" | jq '[.devices[] | .platform] | unique | length')" = 1 ] ||
    fail "expected cpu0 and cpu1 on one platform (the shim counts devices per platform): $body"
  nbdpy 'h.pwrite(b"\xa5" * 8 * 2**20, 0); h.shutdown()' a
  nbdpy 'h.pwrite(b"\x5a" * 4 * 2**20, 0); h.shutdown()' b
  nbdpy 'h.pwrite(b"\x3c" * 4 * 2**20, 0); h.shutdown()' c
}
# Arm the shim: arm MODE INDEX CODE [FUNCTIONS] (written whole, then moved).
arm() { echo "$*" >"$tmpdir/clfault.new"; mv "$tmpdir/clfault.new" "$VD_CLFAULT_FILE"; }
# Fail unless volume $1's first request fails with EIO (the one that finds
# the device gone) and the volume holds pattern $2 of $3 MiB otherwise.
expect_intact() {
  nbdpy "assert h.pread($3 * 2**20, 0) == b\"$2\" * $3 * 2**20, 'data changed'; h.shutdown()" "$1" ||
    fail "$1: not served with its data intact"
}
# Fail unless volume $1 fails every read and write with EIO within 5 s,
# shows state failed and vramd_volume_failed 1, and nbdcopy gives up at once.
expect_failed() {
  local v=$1 start ms
  "$VRAMCTL" volume show "$v" | grep -q "^state: *failed" || fail "$v: vramctl shows no failed state"
  [ "$(metric "vramd_volume_failed{volume=\"$v\"}")" = 1 ] || fail "$v: vramd_volume_failed is not 1"
  start=$(date +%s%N)
  nbdpy '
for off in range(0, 4 * 2**20, 2**20):
    for op in (lambda: h.pread(65536, off), lambda: h.pwrite(b"x" * 4096, off)):
        try:
            op(); sys.exit("I/O on a lost device succeeded")
        except nbd.Error as e:
            assert eio(e), e
h.shutdown()' "$v" || fail "$v: I/O on a lost device"
  ! timeout 30 nbdcopy "$(nbd_uri "$v")" "$tmpdir/out" 2>"$tmpdir/nbdcopy.err" ||
    fail "$v: nbdcopy read a volume on a lost device"
  grep -q "Input/output error" "$tmpdir/nbdcopy.err" || fail "$v: nbdcopy: $(cat "$tmpdir/nbdcopy.err")"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ $ms -lt 5000 ] || fail "$v: 8 EIOs and a failed nbdcopy took $ms ms"
  echo "$v: 8 requests and nbdcopy failed with EIO in $ms ms"
}
# Fail unless the metrics say device $1 lost and $2 not, and promtool
# finds nothing to complain about.
expect_metrics() {
  curl -s --max-time 30 --unix-socket "$tmpdir/api.sock" http://localhost/metrics >"$tmpdir/m"
  promtool check metrics <"$tmpdir/m" >"$tmpdir/lint" 2>&1 || fail "promtool: $(cat "$tmpdir/lint")"
  [ ! -s "$tmpdir/lint" ] || fail "promtool warnings: $(cat "$tmpdir/lint")"
  [ "$(metric "vramd_device_lost{gpu=\"$1\"}")" = 1 ] || fail "vramd_device_lost of $1 is not 1"
  [ "$(metric "vramd_device_lost{gpu=\"$2\"}")" = 0 ] || fail "vramd_device_lost of $2 is not 0"
}
# Fail unless vramctl status --json shows device $1 lost ("": none) and
# volumes $2 (a jq array) failed, the rest ok.
expect_status() {
  "$VRAMCTL" status --json >"$tmpdir/status" || fail "vramctl status failed"
  jq -e --arg d "$1" --argjson f "$2" '
    ([.devices[] | select(.lost) | .id] == ([$d] - [""])) and
    ([.volumes[] | select(.state == "failed") | .name] | sort) == ($f | sort) and
    ([.volumes[] | select(.state != "failed") | .state] | all(. == "ok"))' "$tmpdir/status" >/dev/null ||
    fail "vramctl status does not show $1 lost and $2 failed: $(cat "$tmpdir/status")"
  # The text an operator reads names the device and its failed volumes.
  "$VRAMCTL" status >"$tmpdir/status.txt" || fail "vramctl status failed"
  if [ -n "$1" ]; then
    grep -q "device $1 lost: .*(failed:$(jq -r --arg d "$1" --argjson f "$2" \
      '[.volumes[] | select(.state == "failed" and (.devices | index($d))) | " " + .name] | join("")' \
      "$tmpdir/status"))" "$tmpdir/status.txt" ||
      fail "vramctl status text does not warn of $1: $(cat "$tmpdir/status.txt")"
  else
    ! grep -q " lost:" "$tmpdir/status.txt" || fail "vramctl status warns of a loss: $(cat "$tmpdir/status.txt")"
  fi
}
# Stop vramd with SIGTERM: it must exit 0, within 15 s.
expect_clean_stop() {
  local start=$(date +%s%N) ms
  stop_vramd
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ -z "${vramd_bad_exit:-}" ] || fail "vramd did not exit 0 on SIGTERM after losing a device"
  [ $ms -lt 15000 ] || fail "SIGTERM took $ms ms"
  echo "SIGTERM: exit 0 in $ms ms"
}

# Lose device $1 (index $2) with error $3 from functions $4 ("": all); fail
# unless the first read on volume $5, which meets the loss, gets EIO and
# the log says why $1 is lost.
lose() {
  arm lost "$2" "$3" $4
  nbdpy '
try:
    h.pread(4096, 0); sys.exit("a read on a lost device succeeded")
except nbd.Error as e:
    assert eio(e), e
h.shutdown()' "$5" || fail "first read on the lost $1"
  grep -q "$1: device lost: .* 2 probes in a row failed with $3" "$log" ||
    fail "no device-lost line: $(tail -5 "$log")"
}

start
log="$tmpdir/vramd.log"

# 1. One-off failures on cpu1 (a read's transfer; a small write's upload,
# which goes through the batch path): that request alone gets EIO.
arm once 1 CL_OUT_OF_RESOURCES clEnqueueReadBuffer
nbdpy '
try:
    h.pread(65536, 0); sys.exit("a read whose transfer failed succeeded")
except nbd.Error as e:
    assert eio(e), e
h.shutdown()' c || fail "one-off read failure"
[ ! -e "$VD_CLFAULT_FILE" ] || fail "the one-off read fault never fired"
expect_intact c '\x3c' 4
arm once 1 CL_DEVICE_NOT_AVAILABLE clEnqueueWriteBuffer
nbdpy '
try:
    h.pwrite(b"\x77" * 4096, 8192); sys.exit("a write whose transfer failed succeeded")
except nbd.Error as e:
    assert eio(e), e
h.pwrite(b"\x77" * 4096, 8192)
assert h.pread(4 * 2**20, 0) == b"\x3c" * 8192 + b"\x77" * 4096 + b"\x3c" * (4 * 2**20 - 12288)
h.pwrite(b"\x3c" * 4096, 8192)
h.shutdown()' c || fail "one-off write failure"
[ ! -e "$VD_CLFAULT_FILE" ] || fail "the one-off write fault never fired"
[ "$(grep -c "clfault: device 1: one" "$log")" = 2 ] || fail "the shim did not fire twice: $(grep clfault "$log")"
[ "$(grep -c "cpu1: .* failed, but the device answers a probe" "$log")" = 2 ] ||
  fail "no probe answered: $(tail -5 "$log")"
"$VRAMCTL" volume show c | grep -q "^state: *ok" || fail "c: not ok after one-off failures"
[ "$(metric 'vramd_device_lost{gpu="cpu1"}')" = 0 ] || fail "cpu1 lost after one-off failures"
expect_status "" '[]'
pass "one-off failures (CL_OUT_OF_RESOURCES, CL_DEVICE_NOT_AVAILABLE): EIO for that request only; cpu1 not lost, c intact"

# 2. cpu1 is lost: every OpenCL call on it fails.  The first request that
# meets it fails the device; a and c fail fast, b on cpu0 serves on.
lose cpu1 1 CL_DEVICE_NOT_AVAILABLE "" c
for v in a c; do expect_failed $v; done
expect_intact b '\x5a' 4
nbdpy 'h.pwrite(b"\x11" * 2**20, 0); assert h.pread(2**20, 0) == b"\x11" * 2**20; h.shutdown()' b ||
  fail "b: not writable after cpu1 was lost"
"$VRAMCTL" volume show b | grep -q "^state: *ok" || fail "b: not ok"
[ "$(metric 'vramd_volume_failed{volume="b"}')" = 0 ] || fail "b: vramd_volume_failed is not 0"
expect_metrics cpu1 cpu0
expect_status cpu1 '["a","c"]'
api POST /v1/volumes -d '{"name":"y","size":1048576,"layout":"concat","devices":["cpu1"]}'
expect 507 "create on the lost cpu1"
expect_clean_stop
pass "cpu1 lost through its OpenCL calls: a and c fail fast with EIO (state failed, metrics), b serves on"

# 3. cpu0 is lost, and only its commands' status and its maps say so
# (enqueues still succeed): b and a fail, c on cpu1 serves new sessions.
start
lose cpu0 0 CL_OUT_OF_RESOURCES clGetEventInfo,clEnqueueMapBuffer b
for v in a b; do expect_failed $v; done
expect_intact c '\x3c' 4
expect_metrics cpu0 cpu1
expect_status cpu0 '["a","b"]'
expect_clean_stop
pass "cpu0 lost through its commands' status: a and b fail fast, new sessions on c get staging and data"

# 4. An error that is the host's trouble, not the device's, even when it
# never stops: c's requests fail, cpu1 stays in service.
start
arm lost 1 CL_OUT_OF_HOST_MEMORY
nbdpy '
for _ in range(3):
    try:
        h.pread(4096, 0); sys.exit("a read whose transfer failed succeeded")
    except nbd.Error as e:
        assert eio(e), e
h.shutdown()' c || fail "reads on cpu1 failing with CL_OUT_OF_HOST_MEMORY"
grep -q "cpu1: .* failed, and a probe with CL_OUT_OF_HOST_MEMORY, which does not mean" "$log" ||
  fail "no probe verdict: $(tail -5 "$log")"
! grep -q "device lost" "$log" || fail "cpu1 lost over CL_OUT_OF_HOST_MEMORY"
[ "$(metric 'vramd_device_lost{gpu="cpu1"}')" = 0 ] || fail "vramd_device_lost of cpu1 is not 0"
expect_status "" '[]'
expect_intact b '\x5a' 4
expect_clean_stop
pass "an error that does not mean loss (CL_OUT_OF_HOST_MEMORY) fails requests but leaves cpu1 in service"
