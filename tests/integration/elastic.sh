#!/usr/bin/env bash
# Elastic VRAM end to end: drain a device under fio with verify, undrain
# and rebalance; a drain refused for lack of room with nothing moved; a
# reserve raised with --drain; and yield, driven through the fault route
# that makes the driver's free-memory query answer less.
. "$(dirname "$0")/functions.sh"
requires jq
requires fio
fio --enghelp=nbd >/dev/null 2>&1 || { echo "SKIP: fio has no nbd engine"; exit 77; }
export VRAMD_FAULTS=1 VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576
start_vramd --extent-size 16M --thin-chunk 4M --thin-stock 1
requires_frontend nbd

# Wait until no job runs or waits (a yield the keeper started, say).
jobs_idle() {
  for _ in $(seq 1 100); do
    "$VRAMCTL" job list -H -o state | grep -qE "running|queued" || return 0; sleep 0.1
  done
  fail "jobs still running: $("$VRAMCTL" job list)"
}
# Bytes a device holds, and where a volume's extents are.
dev_field() { api GET "/v1/devices/$1"; echo "$body" | jq -r ".$2"; }
ons() { api GET "/v1/volumes/$1"; echo "$body" | jq -r '[.extents[].on] | unique | join(",")'; }

"$VRAMCTL" volume create v0 --size 128M --stripe-unit 64K >/dev/null || fail "create v0"
"$VRAMCTL" volume create t0 --size 512M --thin >/dev/null || fail "create t0"
[ "$(ons v0)" = "cpu0,cpu1" ] || fail "v0 before: $(ons v0)"

# 1. Drain, undrain and rebalance over and over while fio writes with
# verify: no error, no mismatch.
fio_args=(--ioengine=nbd "--uri=$(nbd_uri v0)" --size=128M --iodepth=16 --bsrange=4k-64k
          --rw=randwrite --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_backlog=512
          --verify_state_save=0 --loops=3 --output="$tmpdir/fio.out")
timeout 300 fio --name=drain "${fio_args[@]}" & fio_pid=$!
rounds=0
while kill -0 $fio_pid 2>/dev/null; do
  "$VRAMCTL" device drain cpu1 >/dev/null 2>"$tmpdir/err" || fail "drain: $(cat "$tmpdir/err")"
  [ "$(dev_field cpu1 state)" = drained ] || fail "cpu1 after drain: $(dev_field cpu1 state)"
  [ "$(ons v0)" = cpu0 ] || fail "v0 after drain: $(ons v0)"
  "$VRAMCTL" device undrain cpu1 >/dev/null || fail "undrain"
  "$VRAMCTL" volume rebalance v0 >/dev/null 2>"$tmpdir/err" || fail "rebalance: $(cat "$tmpdir/err")"
  [ "$(ons v0)" = "cpu0,cpu1" ] || fail "v0 after rebalance: $(ons v0)"
  rounds=$((rounds + 1))
done
wait $fio_pid || fail "fio with verify during drains: $(cat "$tmpdir/fio.out")"
grep -q "err= 0" "$tmpdir/fio.out" || fail "fio errors: $(cat "$tmpdir/fio.out")"
[ $rounds -ge 2 ] || fail "only $rounds drain rounds ran during fio"
stall=$(grep -o "requests waited at most [0-9.]* ms" "$tmpdir/vramd.log" | awk '{print $5}' | sort -n | tail -1)
pass "$rounds rounds of drain, undrain and rebalance under fio randwrite+verify: 0 errors; longest wait $stall ms"

# 2. A drained device holds nothing, shows drained everywhere, takes nothing.
was=$(dev_field cpu1 allocated_bytes)
"$VRAMCTL" device drain cpu1 >/dev/null || fail "drain again"
[ "$(dev_field cpu1 allocated_bytes)" = 0 ] || fail "a drained cpu1 holds $(dev_field cpu1 allocated_bytes)"
[ "$(metric 'vramd_device_state{gpu="cpu1",state="drained"}')" = 1 ] || fail "metric state"
"$VRAMCTL" device list -o id,state -H | grep -q "cpu1.*drained" || fail "device list: $("$VRAMCTL" device list)"
"$VRAMCTL" volume create v1 --size 16M --stripe cpu0,cpu1 >/dev/null 2>"$tmpdir/err" &&
  fail "a volume was created on a drained device"
grep -q "drained" "$tmpdir/err" || fail "create on drained: $(cat "$tmpdir/err")"
api POST /v1/devices/cpu1/drain; expect 409 "drain a drained device" busy_device
"$VRAMCTL" device undrain cpu1 >/dev/null && "$VRAMCTL" volume rebalance v0 >/dev/null || fail "back"
pass "drained: nothing held (was $was), state in API, metrics and list; no new volume; 409 again"

# 3. No room: cpu0 keeps only what it has, so cpu1's share cannot move.
held=$(dev_field cpu0 allocated_bytes); cpu1_held=$(dev_field cpu1 allocated_bytes)
mem=$(dev_field cpu0 free_bytes)
"$VRAMCTL" device set cpu0 --reserve $(( mem - held - M )) >/dev/null || fail "reserve cpu0"
set +e; "$VRAMCTL" device drain cpu1 >/dev/null 2>"$tmpdir/err"; rc=$?; set -e
[ $rc = 1 ] && grep -q "short" "$tmpdir/err" || fail "drain without room: $rc $(cat "$tmpdir/err")"
[ "$(dev_field cpu1 allocated_bytes)" = "$cpu1_held" ] && [ "$(dev_field cpu1 state)" = active ] ||
  fail "a refused drain moved something or changed the state"
"$VRAMCTL" device set cpu0 --reserve 0 >/dev/null || fail "reserve cpu0 back"
pass "a drain with no room elsewhere is refused with the shortfall; nothing moved"

# 4. A reserve raised with --drain moves what lies inside it.
held=$(dev_field cpu1 allocated_bytes); mem=$(dev_field cpu1 free_bytes)
"$VRAMCTL" device set cpu1 --reserve $(( mem - held + 32 * M )) --drain >/dev/null 2>"$tmpdir/err" ||
  fail "reserve --drain: $(cat "$tmpdir/err")"
[ "$(dev_field cpu1 inside_reserve_bytes)" = 0 ] || fail "inside after --drain: $(dev_field cpu1 inside_reserve_bytes)"
"$VRAMCTL" device set cpu1 --reserve 0 >/dev/null && "$VRAMCTL" volume rebalance v0 >/dev/null || fail "reset"
pass "device set --reserve --drain moved what lay inside the new reserve"

# 5. Yield: thin chunks on cpu1, then another process takes cpu1's memory.
timeout 60 qemu-io -f raw -c "write -P 0x5a 0 64M" "$(nbd_uri t0)" >/dev/null 2>&1 ||
  timeout 60 fio --name=fill --ioengine=nbd "--uri=$(nbd_uri t0)" --rw=write --bs=1M --size=64M \
    --output="$tmpdir/fio.out" || fail "fill t0"
before=$(dev_field cpu1 allocated_bytes); free=$(dev_field cpu1 driver_free_bytes)
"$VRAMCTL" device set cpu1 --yield-floor 256M >/dev/null || fail "yield floor"
t0=$(date +%s%N)
# Host memory drifts by a few MiB between two looks: ask for 64M back and
# expect at least 48M.
api POST /v1/faults -d "{\"memory_taken\": {\"device\": \"cpu1\", \"bytes\": $(( free - 256 * M + 64 * M ))}}"
expect 204 "take cpu1's memory"
for _ in $(seq 1 50); do
  [ "$(dev_field cpu1 allocated_bytes)" -le $(( before - 48 * M )) ] && break; sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
after=$(dev_field cpu1 allocated_bytes)
[ "$after" -le $(( before - 48 * M )) ] || fail "yield: cpu1 held $before, then $after"
# The memory is free before the job is marked done: wait for both.
yield_done() { "$VRAMCTL" job list -H -o kind,target,state | grep -q "yield.*cpu1.*done"; }
for _ in $(seq 1 50); do yield_done && break; sleep 0.1; done
yield_done || fail "no yield job: $("$VRAMCTL" job list)"
[ "$(dev_field cpu1 yield_short_bytes)" = 0 ] || fail "short: $(dev_field cpu1 yield_short_bytes)"
timeout 60 fio --name=check --ioengine=nbd "--uri=$(nbd_uri v0)" --rw=read --bs=1M --size=128M \
  --output="$tmpdir/fio.out" || fail "reads after a yield"
pass "yield: another process took 64M past the floor; cpu1 gave back $(( (before - after) / M ))M in $ms ms"

# 6. Nowhere to go: v0 back on cpu1, cpu0 full, so the shortfall is
# reported and v0 still served.
"$VRAMCTL" device set cpu1 --yield-floor off >/dev/null || fail "cpu1 floor off"
api POST /v1/faults -d '{"memory_taken": {"device": "cpu1", "bytes": 0}}'; expect 204 "give back"
jobs_idle
"$VRAMCTL" device set cpu1 --reserve 0 >/dev/null || fail "cpu1 reserve back"
"$VRAMCTL" volume rebalance v0 >/dev/null || fail "rebalance before the shortfall"
[ "$(ons v0)" = "cpu0,cpu1" ] || fail "v0 before the shortfall: $(ons v0)"
held=$(dev_field cpu0 allocated_bytes); mem=$(dev_field cpu0 free_bytes)
"$VRAMCTL" device set cpu0 --reserve $(( mem - held )) >/dev/null || fail "fill cpu0"
"$VRAMCTL" device set cpu1 --yield-floor 256M >/dev/null || fail "yield floor again"
# Take everything the driver says is free: the floor is far away.
api GET /v1/devices/cpu1; free=$(echo "$body" | jq .driver_free_bytes)
api POST /v1/faults -d "{\"memory_taken\": {\"device\": \"cpu1\", \"bytes\": $(( free * 2 ))}}"
expect 204 "take all of cpu1's memory"
for _ in $(seq 1 50); do [ "$(dev_field cpu1 yield_short_bytes)" != 0 ] && break; sleep 0.1; done
[ "$(dev_field cpu1 yield_short_bytes)" != 0 ] || fail "no shortfall reported"
[ "$(metric 'vramd_device_yield_short_bytes{gpu="cpu1"}')" != 0 ] || fail "shortfall metric"
grep -q "no other device has room" "$tmpdir/vramd.log" || fail "shortfall not logged"
"$VRAMCTL" status | grep -q "device cpu1: another process wants" || fail "status: $("$VRAMCTL" status)"
timeout 60 fio --name=check --ioengine=nbd "--uri=$(nbd_uri v0)" --rw=read --bs=1M --size=128M \
  --output="$tmpdir/fio.out" || fail "reads during a shortfall"
pass "a yield with nowhere to go is reported (API, metric, log, status) and the volume is still served"
