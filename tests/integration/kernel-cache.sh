#!/usr/bin/env bash
# The batch kernel's binary cache: the first start builds from source and
# saves the binary under the state directory, later starts build from it
# (the driver's compiler stays unloaded) and move data through it alike; a
# truncated or foreign file is ignored and rewritten.
. "$(dirname "$0")/functions.sh"
requires nbdcopy
export POCL_DEVICES="pthread pthread"
vol=(--volume "name=v,size=16M,layout=stripe,devices=all,unit=64K")
kdir=$tmpdir/state/kernels

# Copy $1 into volume v and back with 64 requests of 4 KiB in flight, so
# batches carry many parts through the kernel; compare.
round_trip() {
  timeout 120 nbdcopy --requests=64 --request-size=4096 "$1" "$(nbd_uri v)"
  timeout 120 nbdcopy --requests=64 --request-size=4096 "$(nbd_uri v)" "$tmpdir/out"
  cmp "$1" "$tmpdir/out" || fail "$2: data differs after a round trip"
  rm -f "$tmpdir/out"
}
built() { grep -c "batch kernel built from source" "$tmpdir/vramd.log"; }
cached() { grep -c "batch kernel from the cached binary" "$tmpdir/vramd.log"; }

start_vramd -v "${vol[@]}"
[ "$(built)" -ge 1 ] || fail "the first start did not build from source: $(grep -i kernel "$tmpdir/vramd.log")"
files=("$kdir"/kernel-*.bin)
[ ${#files[@]} = 1 ] && [ -f "${files[0]}" ] || fail "expected one cached binary, found: ${files[*]}"
[ "$(stat -c %a "$kdir")" = 700 ] && [ "$(stat -c %a "${files[0]}")" = 600 ] ||
  fail "the cache is not private: $(stat -c '%a %n' "$kdir" "${files[0]}")"
head -c 16M /dev/urandom >"$tmpdir/in"
round_trip "$tmpdir/in" "first start"
stop_vramd
pass "first start: built from source, saved $(stat -c %s "${files[0]}") bytes, data round trip"

start_vramd -v "${vol[@]}"
[ "$(cached)" = 2 ] && [ "$(built)" = 0 ] ||
  fail "a restart did not use the cache on both devices: $(grep -i 'batch kernel' "$tmpdir/vramd.log")"
head -c 16M /dev/urandom >"$tmpdir/in2"
round_trip "$tmpdir/in2" "restart"
stop_vramd
pass "restart: both devices built from the cached binary, data round trip"

size=$(stat -c %s "${files[0]}")
truncate -s $((size / 2)) "${files[0]}"
start_vramd -v "${vol[@]}"
[ "$(built)" -ge 1 ] || fail "a truncated binary was not ignored"
[ "$(stat -c %s "${files[0]}")" = "$size" ] || fail "the truncated binary was not rewritten"
round_trip "$tmpdir/in" "after truncation"
stop_vramd
pass "a truncated binary is ignored and rewritten"

chmod 666 "${files[0]}"
start_vramd -v "${vol[@]}"
[ "$(built)" -ge 1 ] || fail "a world-writable binary was used"
[ "$(stat -c %a "${files[0]}")" = 600 ] || fail "the world-writable binary was not replaced"
round_trip "$tmpdir/in2" "after a foreign file"
pass "a world-writable binary is not trusted and is replaced"
