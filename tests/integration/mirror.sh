#!/usr/bin/env bash
# Mirrors end to end, on three PoCL devices, with devices lost for real:
# tests/shim/libclfault.so, preloaded into vramd, makes every OpenCL call
# on a device fail as a lost device does (no flag is set by hand).
# 1. A mirror over cpu0 and cpu1: writes land on both, reads are shared
#    between them, the spec grammar is checked.
# 2. cpu1 is lost under fio randwrite with verify: 0 errors, the volume
#    shows degraded (status, volume show, metrics) and serves on.
# 3. repair rebuilds the copy on cpu2 as a job while a client writes; the
#    volume is healthy again; then cpu0 is lost too, so every read comes
#    from the rebuilt copy: it holds every write, those made during the
#    repair included.
. "$(dirname "$0")/functions.sh"
requires jq
requires fio
requires nbdcopy
requires_libnbd
fio --enghelp=nbd >/dev/null 2>&1 || { echo "SKIP: fio has no nbd engine"; exit 77; }
export POCL_DEVICES="pthread pthread pthread"
export VRAMCTL_SOCKET="$tmpdir/api.sock"
unset VRAMD_FAULTS
M=1048576

with_clfault
# Lose the device at pool index $1 for good.
lose() { clfault_arm lost "$1" CL_DEVICE_NOT_AVAILABLE; }
vol() { api GET "/v1/volumes/$1"; echo "$body" | jq -r "$2"; }
devbytes() { metric "vramd_device_$1_bytes_total{gpu=\"$2\"}"; }
errors() {
  local n=0 op
  for op in read write write_zeroes flush; do
    n=$((n + $(metric "vramd_volume_errors_total{volume=\"$1\",op=\"$op\"}")))
  done
  echo $n
}
start_vramd --extent-size 4M
requires_frontend nbd
log="$tmpdir/vramd.log"

# The grammar: copies must divide the devices, a mirror is thick, and
# copies belongs to mirrors only.
"$VRAMCTL" volume create bad --size 8M --mirror cpu0,cpu1,cpu2 2>"$tmpdir/err" &&
  fail "a mirror of 2 copies over 3 devices was made"
grep -q "a mirror of 2 copies needs a multiple of 2 devices, not 3" "$tmpdir/err" ||
  fail "3 devices: $(cat "$tmpdir/err")"
"$VRAMCTL" volume create bad --size 8M --mirror cpu0,cpu1 --thin 2>"$tmpdir/err" &&
  fail "a thin mirror was made"
"$VRAMCTL" volume create bad --size 8M --stripe all --copies 2 2>"$tmpdir/err" &&
  fail "copies on a stripe was taken"
grep -q "copies= applies to layout=mirror only" "$tmpdir/err" || fail "copies: $(cat "$tmpdir/err")"
api POST /v1/volumes -d '{"name":"bad","size":8388608,"layout":"mirror","devices":["cpu0","cpu1"],"copies":1}'
expect 400 "a mirror of one copy"

# 1. Writes land on both copies; reads are shared between them.
"$VRAMCTL" volume create m0 --size 64M --mirror cpu0,cpu1 >/dev/null || fail "create m0"
[ "$(vol m0 '[.layout, .copies, .copies_healthy, .state] | join(",")')" = "mirror,2,2,ok" ] ||
  fail "m0: $(vol m0 .)"
[ "$(vol m0 '[.extents[].on] | unique | join(",")')" = "cpu0,cpu1" ] || fail "m0 extents: $(vol m0 .extents)"
[ "$(vol m0 .allocated_bytes)" = $((128 * M)) ] || fail "m0 holds $(vol m0 .allocated_bytes) bytes"
head -c $((64 * M)) /dev/urandom >"$tmpdir/img"
w0=$(devbytes written cpu0) w1=$(devbytes written cpu1) r0=$(devbytes read cpu0) r1=$(devbytes read cpu1)
nbdcopy "$tmpdir/img" "$(nbd_uri m0)" || fail "write m0"
nbdcopy "$(nbd_uri m0)" "$tmpdir/out" || fail "read m0"
cmp -s "$tmpdir/img" "$tmpdir/out" || fail "m0 reads back other data"
w0=$(($(devbytes written cpu0) - w0)) w1=$(($(devbytes written cpu1) - w1))
r0=$(($(devbytes read cpu0) - r0)) r1=$(($(devbytes read cpu1) - r1))
[ $w0 -ge $((64 * M)) ] && [ $w1 -ge $((64 * M)) ] || fail "writes: cpu0 $w0, cpu1 $w1 bytes"
[ $r0 -ge $((16 * M)) ] && [ $r1 -ge $((16 * M)) ] && [ $((r0 + r1)) -le $((72 * M)) ] ||
  fail "reads not shared: cpu0 $r0, cpu1 $r1 bytes"
pass "m0 mirrored over cpu0 and cpu1: 64 MiB written to each; reads $((r0 / M)) MiB + $((r1 / M)) MiB"

# 2. cpu1 is lost while fio writes and verifies: no request fails.
fio_args=(--ioengine=nbd "--uri=$(nbd_uri m0)" --size=64M --iodepth=16 --bsrange=4k-64k
          --rw=randwrite --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_backlog=512
          --verify_state_save=0 --loops=12 --output="$tmpdir/fio.out")
timeout 120 fio --name=loss "${fio_args[@]}" & fio_pid=$!
# Lose it once fio is well under way (bytes written to cpu1 keep growing).
b=$(devbytes written cpu1)
for _ in $(seq 1 100); do [ $(($(devbytes written cpu1) - b)) -gt $((32 * M)) ] && break; sleep 0.1; done
kill -0 $fio_pid 2>/dev/null || fail "fio ended before the loss: $(cat "$tmpdir/fio.out")"
lose 1
wait $fio_pid || fail "fio with verify through the loss: $(cat "$tmpdir/fio.out")"
grep -q "err= 0" "$tmpdir/fio.out" || fail "fio errors: $(cat "$tmpdir/fio.out")"
grep -q "cpu1: device lost: .* probes in a row failed with CL_DEVICE_NOT_AVAILABLE" "$log" ||
  fail "cpu1 not lost: $(tail -5 "$log")"
grep -q "volume m0: a copy went out of sync" "$log" || fail "no degraded line: $(tail -5 "$log")"
[ "$(errors m0)" = 0 ] || fail "m0 counted $(errors m0) failed requests"
[ "$(vol m0 '[.state, .copies_healthy] | join(",")')" = "degraded,1" ] || fail "m0 after the loss: $(vol m0 .)"
"$VRAMCTL" volume show m0 | grep -q "^state: *degraded (1 of 2 copies in sync)" ||
  fail "volume show: $("$VRAMCTL" volume show m0)"
"$VRAMCTL" status >"$tmpdir/status.txt" || fail "vramctl status"
grep -q "lost a copy on cpu1 serve from the others (degraded: m0)" "$tmpdir/status.txt" ||
  fail "status: $(cat "$tmpdir/status.txt")"
[ "$(metric 'vramd_volume_degraded{volume="m0"}')" = 1 ] &&
  [ "$(metric 'vramd_volume_copies_healthy{volume="m0"}')" = 1 ] &&
  [ "$(metric 'vramd_volume_failed{volume="m0"}')" = 0 ] || fail "metrics after the loss"
nbdcopy "$tmpdir/img" "$(nbd_uri m0)" && nbdcopy "$(nbd_uri m0)" "$tmpdir/out" &&
  cmp -s "$tmpdir/img" "$tmpdir/out" || fail "m0 degraded: written and read back other data"
[ "$(errors m0)" = 0 ] || fail "m0 counted $(errors m0) failed requests"
pass "cpu1 lost under fio randwrite+verify: 0 errors; m0 degraded (1 of 2 copies), serves on"

# 3. Repair: refused where it means nothing, then onto cpu2 while a client
# writes 4 KiB blocks at random (the expected image kept beside).
"$VRAMCTL" volume create s0 --size 8M --stripe cpu0 >/dev/null || fail "create s0"
api POST /v1/volumes/s0/repair
expect 400 "repair of a stripe" not_a_mirror
api POST /v1/volumes/m0/repair -d '{"device":"gpu9"}'
expect 404 "repair onto no device"
api POST /v1/volumes/m0/repair -d '{"device":"cpu1"}'
expect 409 "repair onto the lost cpu1" device_lost
"$VRAMCTL" volume repair m0 --device cpu0 >/dev/null 2>"$tmpdir/err" && fail "repair onto cpu0, which holds the other copy"
grep -q "cpu0 holds another copy of the same data" "$tmpdir/err" || fail "repair onto cpu0: $(cat "$tmpdir/err")"
[ "$(vol m0 .state)" = degraded ] || fail "m0 after a refused repair: $(vol m0 .state)"
cp "$tmpdir/img" "$tmpdir/expect"
rm -f "$tmpdir/stop"
nbdpy '
import os, random
exp = open(sys.argv[3], "r+b"); stop = sys.argv[4]; n = 0; rnd = random.Random(17)
while not os.path.exists(stop) or n < 400:
    off = rnd.randrange(0, 64 * 2**20 // 4096) * 4096; data = rnd.randbytes(4096)
    h.pwrite(data, off); exp.seek(off); exp.write(data); n += 1
    if n == 200: open(stop + ".go", "w").close()
exp.close(); h.shutdown(); print("writes:", n)' m0 "$tmpdir/expect" "$tmpdir/stop" >"$tmpdir/writer.out" 2>&1 & writer=$!
for _ in $(seq 1 100); do [ -e "$tmpdir/stop.go" ] && break; sleep 0.1; done
[ -e "$tmpdir/stop.go" ] || fail "the writer did not start: $(cat "$tmpdir/writer.out")"
"$VRAMCTL" volume repair m0 --device cpu2 >"$tmpdir/repair.out" 2>&1 || fail "repair: $(cat "$tmpdir/repair.out")"
touch "$tmpdir/stop"
wait $writer || fail "writer during the repair: $(cat "$tmpdir/writer.out")"
api GET /v1/jobs
[ "$(echo "$body" | jq -r '[.jobs[] | select(.kind == "repair") | .state] | join(",")')" = failed,done ] ||
  fail "repair job: $body"
grep -q "volume m0: copy 2 of 2 rebuilt on cpu2" "$log" || fail "no rebuilt line: $(tail -5 "$log")"
[ "$(vol m0 '[.state, .copies_healthy, (.devices | join("+")), ([.extents[].on] | unique | join("+"))] | join(",")')" = "ok,2,cpu0+cpu2,cpu0+cpu2" ] ||
  fail "m0 after the repair: $(vol m0 .)"
"$VRAMCTL" volume show m0 | grep -q "^state: *ok (2 of 2 copies in sync)" || fail "volume show after repair"
[ "$(metric 'vramd_volume_degraded{volume="m0"}')" = 0 ] &&
  [ "$(metric 'vramd_volume_copies_healthy{volume="m0"}')" = 2 ] || fail "metrics after the repair"
api POST /v1/volumes/m0/repair
expect 409 "a second repair" nothing_to_repair
# The definition names the new device, for the next start.
jq -e '.volumes[] | select(.name == "m0") | .devices == ["cpu0","cpu2"]' "$tmpdir/state/volumes.json" >/dev/null ||
  fail "saved definition: $(cat "$tmpdir/state/volumes.json")"

# cpu0 goes too: the rebuilt copy on cpu2 alone must hold every write.
lose 0
nbdcopy "$(nbd_uri m0)" "$tmpdir/out" || fail "read m0 from cpu2 alone"
cmp "$tmpdir/expect" "$tmpdir/out" || fail "the copy rebuilt on cpu2 differs from what was written"
grep -q "cpu0: device lost" "$log" || fail "cpu0 not lost: $(tail -5 "$log")"
[ "$(vol m0 '[.state, .copies_healthy] | join(",")')" = "degraded,1" ] || fail "m0 after cpu0: $(vol m0 .)"
[ "$(errors m0)" = 0 ] || fail "m0 counted $(errors m0) failed requests"
pass "repair onto cpu2 as a job during $(cat "$tmpdir/writer.out"): healthy again; with cpu0 lost too, cpu2's copy reads back every write"
