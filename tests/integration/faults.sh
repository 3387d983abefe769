#!/usr/bin/env bash
# Fault injection through the test-only route POST /v1/faults (it exists
# only under VRAMD_FAULTS=1): an allocation failing halfway through a
# create, a transfer failing mid-request, and a device lost.
. "$(dirname "$0")/functions.sh"
requires jq
requires_libnbd
export VRAMD_FAULTS=1 VRAMCTL_SOCKET="$tmpdir/api.sock"
start_vramd --extent-size 1M \
  --volume name=a,size=8M,layout=stripe,devices=all,unit=64K \
  --volume name=b,size=4M,layout=concat,devices=cpu0 \
  --volume name=c,size=4M,layout=concat,devices=cpu1
requires_frontend nbd

# 1. Allocation fails halfway: 507, nothing stays allocated.
api GET /v1/pool; before=$(echo "$body" | jq -c '[.allocated_bytes, .per_device]')
api POST /v1/faults -d '{"alloc_after": 5}'; expect 204 "arm alloc fault"
api POST /v1/volumes -d '{"name":"x","size":16777216}'
expect 507 "create with a failing allocation" no_space
echo "$body" | jq -r .error.message | grep -q "could not allocate" || fail "unclear message: $body"
api GET /v1/pool; after=$(echo "$body" | jq -c '[.allocated_bytes, .per_device]')
[ "$before" = "$after" ] || fail "pool totals changed: $before -> $after"
api GET /v1/volumes/x; expect 404 "the refused volume is not there"
api POST /v1/volumes -d '{"name":"x","size":16777216}'; expect 201 "create once the fault is spent"
api DELETE /v1/volumes/x; expect 204 "delete x"
pass "allocation failure halfway: 507, every extent freed, pool totals unchanged ($after)"

# 2. A transfer fails: that request gets EIO, the error counter rises, the
# next request and the other volumes go on.
nbdpy 'h.pwrite(b"\xa5" * 8 * 2**20, 0); h.shutdown()' a
nbdpy 'h.pwrite(b"\x5a" * 4 * 2**20, 0); h.shutdown()' b
errs=$(metric 'vramd_volume_errors_total{volume="a",op="read"}')
api POST /v1/faults -d '{"io_after": 1}'; expect 204 "arm io fault"
nbdpy '
try:
    h.pread(65536, 0); sys.exit("a read with a failed transfer succeeded")
except nbd.Error as e:
    assert eio(e), e
assert h.pread(8 * 2**20, 0) == b"\xa5" * 8 * 2**20, "data changed"
h.shutdown()' a || fail "transfer fault"
[ "$(metric 'vramd_volume_errors_total{volume="a",op="read"}')" = $((errs + 1)) ] ||
  fail "error counter did not rise by one"
nbdpy 'assert h.pread(4 * 2**20, 0) == b"\x5a" * 4 * 2**20; h.shutdown()' b || fail "b after io fault"
kill -0 "$vramd_pid" || fail "vramd died"
pass "a failed transfer: EIO for that request only, error counter +1, daemon and volumes go on"

# 3. cpu1 is lost: a and c fail (state, metrics), their I/O gets EIO at
# once; b on cpu0 is untouched.
nbdpy 'h.pwrite(b"\x3c" * 4 * 2**20, 0); h.shutdown()' c
api POST /v1/faults -d '{"device_lost": "cpu1"}'; expect 204 "lose cpu1"
for v in a c; do
  "$VRAMCTL" volume show $v | grep -q "^state: *failed" || fail "$v: vramctl shows no failed state"
  [ "$(metric "vramd_volume_failed{volume=\"$v\"}")" = 1 ] || fail "$v: vramd_volume_failed is not 1"
  start=$(date +%s%N)
  nbdpy '
for off in range(0, 4 * 2**20, 2**20):
    try:
        h.pread(4096, off); sys.exit("read on a lost device succeeded")
    except nbd.Error as e:
        assert eio(e), e
    try:
        h.pwrite(b"x" * 4096, off); sys.exit("write on a lost device succeeded")
    except nbd.Error as e:
        assert eio(e), e
h.shutdown()' $v || fail "$v: I/O on a lost device"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ $ms -lt 5000 ] || fail "$v: EIO took $ms ms"
done
"$VRAMCTL" volume show b | grep -q "^state: *ok" || fail "b: not ok"
[ "$(metric 'vramd_volume_failed{volume="b"}')" = 0 ] || fail "b: vramd_volume_failed is not 0"
[ "$(metric 'vramd_device_lost{gpu="cpu1"}')" = 1 ] || fail "vramd_device_lost is not 1"
nbdpy 'assert h.pread(4 * 2**20, 0) == b"\x5a" * 4 * 2**20
h.pwrite(b"\x11" * 2**20, 0); assert h.pread(2**20, 0) == b"\x11" * 2**20
h.shutdown()' b || fail "b after cpu1 was lost"
api POST /v1/volumes -d '{"name":"y","size":1048576,"layout":"concat","devices":["cpu1"]}'
expect 507 "create on a lost device"
api GET /v1/devices/cpu1; [ "$(echo "$body" | jq .lost)" = true ] || fail "cpu1 not shown lost: $body"
pass "device lost: its volumes fail fast with EIO (state failed, vramd_volume_failed 1); b on cpu0 serves on"

# 4. Without VRAMD_FAULTS=1 the route does not exist.
stop_vramd
VRAMD_FAULTS= start_vramd
api POST /v1/faults -d '{"io_after": 1}'; expect 404 "fault route without VRAMD_FAULTS"
pass "no fault route without VRAMD_FAULTS=1"
