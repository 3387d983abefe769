#!/usr/bin/env bash
# Mirrors end to end, on three PoCL devices, with devices lost for real:
# tests/shim/libclfault.so, preloaded into vramd, makes every OpenCL call
# on a device fail as a lost device does (no flag is set by hand).
# 1. A mirror over cpu0 and cpu1: writes land on both, reads are shared
#    between them, the spec grammar is checked.
# 2. cpu1 is lost under fio randwrite with verify: 0 errors, the volume
#    shows degraded (status, volume show, metrics) and serves on.
. "$(dirname "$0")/functions.sh"
requires jq
requires fio
requires nbdcopy
requires_libnbd
fio --enghelp=nbd >/dev/null 2>&1 || { echo "SKIP: fio has no nbd engine"; exit 77; }
shim="$top_builddir/tests/shim/libclfault.so"
[ -f "$shim" ] || fail "$shim is not built"
export POCL_DEVICES="pthread pthread pthread"
export VD_CLFAULT_FILE="$tmpdir/clfault" VRAMCTL_SOCKET="$tmpdir/api.sock"
unset VRAMD_FAULTS
M=1048576

# vramd through a wrapper that preloads the shim (after libasan, which must
# come first, in a sanitizer build).
asan=$(ldd "$VRAMD" | awk '/libasan/ { print $3 }')
printf '#!/bin/sh\nLD_PRELOAD="%s" exec "%s" "$@"\n' "${asan:+$asan:}$shim" "$VRAMD" >"$tmpdir/vramd-shim"
chmod +x "$tmpdir/vramd-shim"
VRAMD="$tmpdir/vramd-shim"
# Lose the device at pool index $1 for good (the file is written whole).
lose() { echo "lost $1 CL_DEVICE_NOT_AVAILABLE" >"$tmpdir/clfault.new"; mv "$tmpdir/clfault.new" "$VD_CLFAULT_FILE"; }
vol() { api GET "/v1/volumes/$1"; echo "$body" | jq -r "$2"; }
devbytes() { metric "vramd_device_$1_bytes_total{device=\"$2\"}"; }
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
