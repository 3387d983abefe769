#!/usr/bin/env bash
# A scrub of a degraded mirror, on three PoCL devices, devices lost for
# real (tests/shim/libclfault.so): it skips the stale copies, checks the
# copies in sync, rewrites their bad blocks from another copy in sync,
# and says how many blocks it skipped.  A mirror with some range left on
# no copy in sync fails its scrub with an error that says so; the other
# volumes scrub and serve on.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
requires cmp
requires_libnbd
export POCL_DEVICES="pthread pthread pthread"
export VRAMD_FAULTS=1 VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576
with_clfault
start_vramd --extent-size 4M
requires_frontend nbd
log="$tmpdir/vramd.log"
vol() { api GET "/v1/volumes/$1"; echo "$body" | jq -r "$2"; }
# Flip bits in volume $1, copy $2, at offsets $3..
flip() {
  local v=$1 copy=$2; shift 2
  api POST /v1/faults -d "{\"bit_flips\": {\"volume\": \"$v\", \"copy\": $copy, \"offsets\": [$(IFS=,; echo "$*")]}}"
  expect 200 "flip in $v copy $copy"
}
# The last scrub of $1: checked, bad, repaired, skipped.
last() { vol "$1" '.scrub | [.last_blocks, .last_bad_blocks, .last_repaired_blocks, .last_skipped_blocks] | join(",")'; }
# Write file $2 to volume $1 (the write loses an armed device).
put() { nbdcopy "$tmpdir/$2" "$(nbd_uri "$1")" || fail "write $2 to $1"; }
readback() {
  nbdcopy "$(nbd_uri "$1")" "$tmpdir/back" || fail "$1: read back failed"
  cmp -s "$tmpdir/$2" "$tmpdir/back" || fail "$1: data read back differs from $2"
}

# m: 3 copies with crc32c; p: 2 copies with crc32c+parity; f: 2 copies
# on the two devices that will be lost.
"$VRAMCTL" volume create m --size 16M --mirror cpu0,cpu1,cpu2 --copies 3 --integrity crc32c >/dev/null ||
  fail "create m"
"$VRAMCTL" volume create p --size 4M --mirror cpu0,cpu1 --integrity crc32c+parity >/dev/null ||
  fail "create p"
"$VRAMCTL" volume create f --size 4M --mirror cpu1,cpu2 --integrity crc32c >/dev/null ||
  fail "create f"
for x in a b c; do head -c $((16 * M)) /dev/urandom >"$tmpdir/$x"; done
head -c $((4 * M)) "$tmpdir/a" >"$tmpdir/a4"
put m a; put p a4; put f a4

# 1. cpu1 is lost under a write: m and p go degraded.
clfault_arm lost 1 CL_DEVICE_NOT_AVAILABLE
put m b; put p a4
grep -q "cpu1: device lost" "$log" || fail "cpu1 not lost: $(tail -5 "$log")"
[ "$(vol m '[.state, .copies_healthy] | join(",")')" = degraded,2 ] || fail "m: $(vol m .)"
[ "$(vol p '[.state, .copies_healthy] | join(",")')" = degraded,1 ] || fail "p: $(vol p .)"

# Bits flipped on the copies in sync: 3 blocks of copy 0, 2 of copy 2.
flip m 0 4096 $((5 * M + 7)) $((15 * M))
flip m 2 8192 $((9 * M + 100))
"$VRAMCTL" volume scrub m >"$tmpdir/scrub.out" 2>&1 || fail "scrub of degraded m: $(cat "$tmpdir/scrub.out")"
[ "$(last m)" = "8192,5,5,4096" ] || fail "scrub of m: $(vol m .scrub)"
"$VRAMCTL" volume show m | grep -q "5 bad, 5 repaired, 4096 skipped on stale copies" ||
  fail "volume show: $("$VRAMCTL" volume show m)"
grep -q "volume m: scrub done: 8192 blocks .*, 4096 on stale copies skipped, 5 bad, 5 rewritten" "$log" ||
  fail "no scrub log line: $(tail -3 "$log")"
# The job walked every copy, the stale one skipped included.
api GET /v1/jobs
echo "$body" | jq -e '.jobs[0] | .kind == "scrub" and .state == "done" and
  .done_bytes == .total_bytes and .total_bytes == 3 * 16 * 1048576' >/dev/null || fail "scrub job: $body"
readback m b
"$VRAMCTL" volume scrub m >/dev/null || fail "second scrub of m"
[ "$(last m)" = "8192,0,0,4096" ] || fail "second scrub of m: $(vol m .scrub)"
[ "$(vol m '[.state, .copies_healthy] | join(",")')" = degraded,2 ] || fail "m after the scrubs: $(vol m .)"
pass "m with cpu1 lost: scrub skipped its 4096 stale blocks, found the 5 flipped on the 2 copies in sync and rewrote them; m reads back right"

# With parity, the one copy in sync rebuilds its bad block itself.
flip p 0 $((2 * M + 3))
"$VRAMCTL" volume scrub p >"$tmpdir/scrub.out" 2>&1 || fail "scrub of degraded p: $(cat "$tmpdir/scrub.out")"
[ "$(last p)" = "1024,1,1,1024" ] || fail "scrub of p: $(vol p .scrub)"
readback p a4
pass "p (crc32c+parity) with cpu1 lost: scrub skipped 1024 stale blocks, the flipped one rebuilt from parity"

# 2. cpu2 is lost too: m keeps one copy, f none.
clfault_arm lost 2 CL_DEVICE_NOT_AVAILABLE
put m c
grep -q "cpu2: device lost" "$log" || fail "cpu2 not lost: $(tail -5 "$log")"
"$VRAMCTL" volume scrub f >"$tmpdir/scrub.out" 2>&1 && fail "a scrub of f with no copy left succeeded"
grep -q "volume f failed: some of its data has no copy in sync" "$tmpdir/scrub.out" ||
  fail "scrub of f: $(cat "$tmpdir/scrub.out")"
[ "$(vol f .state)" = failed ] || fail "f: $(vol f .)"
# m's one copy: its bad blocks are found, nothing can rewrite them.
flip m 0 $((3 * M)) $((11 * M + 9))
"$VRAMCTL" volume scrub m >"$tmpdir/scrub.out" 2>&1 || fail "scrub of m on one copy: $(cat "$tmpdir/scrub.out")"
[ "$(last m)" = "4096,2,0,8192" ] || fail "scrub of m on one copy: $(vol m .scrub)"
grep -q "volume m: scrub done: 4096 blocks .* 2 bad, 0 rewritten from another copy" "$log" ||
  fail "no scrub log line: $(tail -3 "$log")"
# The daemon serves on: the two blocks written again, m reads back whole.
nbdpy "
c = open('$tmpdir/c', 'rb').read()
for off in (3 * 2**20, 11 * 2**20):
    try:
        h.pread(4096, off); sys.exit('a bad block on the one copy read back')
    except nbd.Error as e:
        assert eio(e), e
    h.pwrite(c[off:off + 4096], off)
h.shutdown()" m || fail "the bad blocks of m's one copy"
readback m c
"$VRAMCTL" volume scrub p >/dev/null || fail "scrub of p with cpu2 lost"
pass "with cpu2 lost too: f (no copy left) fails its scrub with an error; m's one copy scrubbed, 2 bad found (EIO until written), then m reads back whole"
