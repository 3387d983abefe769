#!/usr/bin/env bash
# driver-copies = per-device: the second PoCL device runs on a private
# copy of the vendor library (dlmopen), as GPUs do by default, and
# everything works across the two copies: a volume striped over both,
# kernels (checksums, scrub) on each, a drain that copies every extent
# from one copy's device to the other's and back.  Data compared byte for
# byte after each step.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
requires cmp
export VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576

start_vramd --driver-copies per-device --extent-size 1M
grep -q "pool: 1 of 2 devices on a private copy of their driver" "$tmpdir/vramd.log" ||
  fail "no private driver copy: $(head -5 "$tmpdir/vramd.log")"
"$VRAMCTL" volume create s --size 16M --stripe all --stripe-unit 64K --integrity crc32c >/dev/null ||
  fail "create a striped volume with checksums"
head -c $((16 * M)) /dev/urandom >"$tmpdir/data"
nbdcopy "$tmpdir/data" "$(nbd_uri s)" || fail "write through NBD"
check() {
  nbdcopy "$(nbd_uri s)" "$tmpdir/back" || fail "$1: read through NBD"
  cmp -s "$tmpdir/data" "$tmpdir/back" || fail "$1: the data read back differs"
}
check "striped over both copies"
api GET /v1/volumes/s
[ "$(echo "$body" | jq '[.extents[].on] | unique | length')" = 2 ] || fail "not on both devices: $body"
"$VRAMCTL" volume scrub s >/dev/null || fail "scrub"
api GET /v1/volumes/s
[ "$(echo "$body" | jq .scrub.last_bad_blocks)" = 0 ] && [ "$(echo "$body" | jq .scrub.last_blocks)" = 4096 ] || fail "scrub found bad blocks: $(echo "$body" | jq -c .scrub)"
pass "a striped volume with checksums on two driver copies: read back, scrubbed clean"

"$VRAMCTL" device drain cpu1 >/dev/null || fail "drain cpu1 (private copy)"
check "drained to the shared copy's device"
"$VRAMCTL" device undrain cpu1 >/dev/null || fail "undrain"
"$VRAMCTL" device drain cpu0 >/dev/null || fail "drain cpu0 (shared copy)"
check "drained to the private copy's device"
api GET /v1/volumes/s
[ "$(echo "$body" | jq -r '[.extents[].on] | unique | join(",")')" = cpu1 ] || fail "not all on cpu1: $body"
"$VRAMCTL" volume scrub s >/dev/null || fail "scrub after the moves"
api GET /v1/volumes/s
[ "$(echo "$body" | jq .scrub.last_bad_blocks)" = 0 ] || fail "scrub after moves: $(echo "$body" | jq -c .scrub)"
pass "every extent moved from one copy's device to the other's and back: data and checksums intact"
