#!/usr/bin/env bash
# A mirror with crc32c checksums, on two PoCL devices: one write fails on
# cpu1 (tests/shim/libclfault.so, once), so that copy goes stale while the
# device stays; a scrub skips it; `volume repair` rebuilds it on cpu1 with
# its checksums; a scrub then checks every copy's blocks against them
# (none skipped); and with cpu0 lost for real, every block read from the
# rebuilt copy alone passes its checksum and is what was written.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
export POCL_DEVICES="pthread pthread"
export VRAMCTL_SOCKET="$tmpdir/api.sock"
unset VRAMD_FAULTS
M=1048576
vol() { api GET "/v1/volumes/$1"; echo "$body" | jq -r "$2"; }
with_clfault
start_vramd --extent-size 4M
requires_frontend nbd
log="$tmpdir/vramd.log"

"$VRAMCTL" volume create ms --size 32M --mirror cpu0,cpu1 --integrity crc32c >/dev/null || fail "create ms"
head -c $((32 * M)) /dev/urandom >"$tmpdir/a"
head -c $((32 * M)) /dev/urandom >"$tmpdir/b"
nbdcopy "$tmpdir/a" "$(nbd_uri ms)" || fail "write ms"
# One transfer onto cpu1 fails; the device answers its probe and stays.
clfault_arm once 1 CL_OUT_OF_RESOURCES clEnqueueWriteBuffer,clEnqueueWriteBufferRect,clEnqueueMapBuffer
nbdcopy "$tmpdir/b" "$(nbd_uri ms)" || fail "write ms with one write failing on cpu1"
[ ! -e "$VD_CLFAULT_FILE" ] || fail "the one-off fault never fired"
grep -q "cpu1: .* failed, but the device answers a probe" "$log" || fail "no probe line: $(tail -5 "$log")"
[ "$(vol ms '[.state, .copies_healthy, .checksum_errors, ([.io[].errors] | add)] | join(",")')" = degraded,1,0,0 ] ||
  fail "ms after the failed write: $(vol ms .)"
# A scrub now checks the copy in sync and skips the stale one, whose
# device is still there.
"$VRAMCTL" volume scrub ms >"$tmpdir/scrub.out" 2>&1 || fail "scrub of degraded ms: $(cat "$tmpdir/scrub.out")"
[ "$(vol ms '[.scrub.last_blocks, .scrub.last_bad_blocks, .scrub.last_skipped_blocks] | join(",")')" = \
  "$((32 * M / 4096)),0,$((32 * M / 4096))" ] || fail "scrub of degraded ms: $(vol ms .scrub)"

"$VRAMCTL" volume repair ms >"$tmpdir/repair.out" 2>&1 || fail "repair: $(cat "$tmpdir/repair.out")"
api GET /v1/jobs
echo "$body" | jq -e '[.jobs[] | select(.kind == "repair")] | length == 1 and
  (.[0] | .state == "done" and .done_bytes == .total_bytes)' >/dev/null || fail "repair job: $body"
grep -q "volume ms: copy 2 of 2 rebuilt on cpu1" "$log" || fail "no rebuilt line: $(tail -5 "$log")"
[ "$(vol ms '[.state, .copies_healthy, (.devices | join("+"))] | join(",")')" = ok,2,cpu0+cpu1 ] ||
  fail "ms after the repair: $(vol ms .)"

# The scrub reads both copies' blocks against the checksums.
"$VRAMCTL" volume scrub ms >"$tmpdir/scrub.out" 2>&1 || fail "scrub: $(cat "$tmpdir/scrub.out")"
[ "$(vol ms '[.scrub.last_blocks, .scrub.last_bad_blocks, .scrub.last_skipped_blocks] | join(",")')" = "$((2 * 32 * M / 4096)),0,0" ] ||
  fail "scrub after the repair: $(vol ms .scrub)"

# cpu0 goes: the rebuilt copy alone serves every block, verified.
clfault_arm lost 0 CL_DEVICE_NOT_AVAILABLE
nbdcopy "$(nbd_uri ms)" "$tmpdir/out" || fail "read ms from cpu1 alone"
cmp -s "$tmpdir/b" "$tmpdir/out" || fail "the rebuilt copy differs from what was written"
grep -q "cpu0: device lost" "$log" || fail "cpu0 not lost: $(tail -5 "$log")"
[ "$(vol ms '[.state, .copies_healthy, .checksum_errors, ([.io[].errors] | add)] | join(",")')" = degraded,1,0,0 ] ||
  fail "ms with cpu0 lost: $(vol ms .)"
pass "a checksummed mirror's stale copy skipped by a scrub, then rebuilt with its checksums: scrub clean over both copies; with cpu0 lost, 32 MiB read from the rebuilt copy alone, verified"
