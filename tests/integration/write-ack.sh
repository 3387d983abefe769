#!/usr/bin/env bash
# write-ack: a queue-depth-1 WRITE is answered once queued on its device
# (queued, the default) or once landed in VRAM (landed), and neither
# loses a write its client was told of.  A transfer fails for real
# (tests/shim/libclfault.so fails the wait on the write's event).
# 1. queued: lone writes are answered and read back; a FLUSH succeeds.
# 2. queued: the write's transfer fails after it was answered: the FLUSH
#    that follows gets EIO, so do reads, the volume is failed, its device
#    is out of service with the reason logged; the other device's volume
#    serves on.
# 3. queued: a FUA write is never answered early: its failure is its EIO.
# 4. landed: the same failure is the write's own EIO, and the volume and
#    its device serve on (one failed call does not mean a lost device).
. "$(dirname "$0")/functions.sh"
requires jq
requires_libnbd
unset VRAMD_FAULTS
with_clfault
export VRAMCTL_SOCKET="$tmpdir/api.sock"
log="$tmpdir/vramd.log"

start() {
  rm -rf "$tmpdir/state" "$VD_CLFAULT_FILE"
  start_vramd "$@" --extent-size 1M \
    --volume name=a,size=4M,layout=concat,devices=cpu0 \
    --volume name=b,size=4M,layout=concat,devices=cpu1
}
# Fail the next wait on a command of device $1 (its index) once.
arm_wait() { clfault_arm once "$1" CL_OUT_OF_RESOURCES clGetEventInfo,clWaitForEvents; }
state() { api GET "/v1/volumes/$1"; echo "$body" | jq -r .state; }
lost() { api GET /v1/devices; echo "$body" | jq -r --arg d "$1" '.devices[] | select(.id == $d) | .lost'; }

# 1.
start
nbdpy '
for i in range(64):
    h.pwrite(bytes([i]) * 4096, i * 4096)
h.flush()
for i in range(64):
    assert h.pread(4096, i * 4096) == bytes([i]) * 4096, "block %d" % i
h.shutdown()' a || fail "queued: lone writes not read back"
[ "$(state a)" = ok ] || fail "volume a not ok after lone writes"
echo "1. queued: 64 lone writes answered, flushed and read back"

# 2.
arm_wait 0
nbdpy '
h.pwrite(b"\x77" * 4096, 8192)   # answered before its transfer fails
try:
    h.flush(); sys.exit("a FLUSH after a failed write succeeded")
except nbd.Error as e:
    assert eio(e), e
try:
    h.pread(4096, 8192); sys.exit("a read after a failed write succeeded")
except nbd.Error as e:
    assert eio(e), e
h.shutdown()' a || fail "queued: a failed write after its answer went unreported"
[ ! -e "$VD_CLFAULT_FILE" ] || fail "the fault never fired"
[ "$(state a)" = failed ] || fail "volume a is $(state a), not failed"
[ "$(lost cpu0)" = true ] || fail "cpu0 not out of service"
grep -q "cpu0: out of service: a write acknowledged before it landed failed" "$log" ||
  fail "no log line for the failed answered write: $(tail -5 "$log")"
nbdpy 'h.pwrite(b"\x42" * 4096, 0); h.flush(); assert h.pread(4096, 0) == b"\x42" * 4096; h.shutdown()' b ||
  fail "volume b stopped serving"
echo "2. queued: a write failed after its answer: FLUSH and reads got EIO, a failed, cpu0 out"
stop_vramd

# 3.
start
arm_wait 0
nbdpy '
try:
    h.pwrite(b"\x66" * 4096, 0, nbd.CMD_FLAG_FUA); sys.exit("a failed FUA write succeeded")
except nbd.Error as e:
    assert eio(e), e
h.shutdown()' a || fail "queued: a FUA write was answered before it landed"
[ ! -e "$VD_CLFAULT_FILE" ] || fail "the fault never fired"
echo "3. queued: a failed FUA write got its own EIO"
stop_vramd

# 4.
start --write-ack landed
arm_wait 0
nbdpy '
try:
    h.pwrite(b"\x55" * 4096, 0); sys.exit("a failed write succeeded")
except nbd.Error as e:
    assert eio(e), e
h.pwrite(b"\x56" * 4096, 0)
h.flush()
assert h.pread(4096, 0) == b"\x56" * 4096
h.shutdown()' a || fail "landed: a failed write was not its own EIO, or a serves no more"
[ ! -e "$VD_CLFAULT_FILE" ] || fail "the fault never fired"
[ "$(state a)" = ok ] || fail "landed: volume a is $(state a) after one failed call"
[ "$(lost cpu0)" = false ] || fail "landed: cpu0 out of service after one failed call"
echo "4. landed: the failed write got EIO; a and cpu0 serve on"
pass
