#!/usr/bin/env bash
# A mirror with checksums heals itself: bits flipped in VRAM on one copy
# (the fault route's bit_flips with "copy") are found by reads, which are
# served from the other copy with no error, and the bad blocks rewritten
# from it; the mirror never goes degraded.  Flips on both copies of a
# block fail that block's reads with EIO, and nothing else.  A scrub finds
# and rewrites flips on either copy; a second scrub finds none.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
requires cmp
requires_libnbd
export VRAMD_FAULTS=1 VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576
start_vramd --extent-size 4M
requires_frontend nbd

"$VRAMCTL" volume create m --size 8M --mirror cpu0,cpu1 --integrity crc32c >/dev/null ||
  fail "create a mirror with checksums"
head -c $((8 * M)) /dev/urandom >"$tmpdir/img"
nbdcopy "$tmpdir/img" "$(nbd_uri m)" || fail "write"
field() { api GET /v1/volumes/m; echo "$body" | jq -r "$1"; }
# Flip bits at offsets $2.. in copy $1.
flip() {
  local copy=$1; shift
  api POST /v1/faults -d "{\"bit_flips\": {\"volume\": \"m\", \"copy\": $copy, \"offsets\": [$(IFS=,; echo "$*")]}}"
  expect 200 "flip in copy $copy"
}
readback() {
  nbdcopy "$(nbd_uri m)" "$tmpdir/back" || fail "$1: read back failed"
  cmp -s "$tmpdir/img" "$tmpdir/back" || fail "$1: data read back differs"
}
# Wait up to 10 s for checksum_repaired to reach $1.
wait_repaired() {
  for _ in $(seq 1 100); do
    [ "$(field .checksum_repaired)" -ge "$1" ] && return 0
    sleep 0.1
  done
  fail "checksum_repaired is $(field .checksum_repaired), not $1: $(tail -3 "$tmpdir/vramd.log")"
}

# 1. Copy 0 and copy 1 each get bad blocks (distinct ones); every block
# read alone is served right, errors are counted, the heals follow,
# nothing degrades.
api POST /v1/faults -d '{"bit_flips": {"volume": "m", "copy": 2, "offsets": [0]}}'
expect 400 "a flip in a copy the mirror does not have" invalid_field
offs0=(4096 65536 1048576 3145733 7340032) offs1=(8192 2097152 5242887 8384512)
flip 0 "${offs0[@]}"
flip 1 "${offs1[@]}"
nbdpy "
img = open('$tmpdir/img', 'rb').read()
for b in range(len(img) // 4096):
    for _ in range(2):  # reads alternate between the copies: each meets both
        assert h.pread(4096, b * 4096) == img[b * 4096:(b + 1) * 4096], 'block %d' % b
h.shutdown()" m || fail "a block read alone was not served right"
errs=$(field .checksum_errors)
[ "$errs" -ge 9 ] || fail "$errs checksum errors counted for 9 bad blocks read twice"
wait_repaired 9
[ "$(field .state)" = ok ] && [ "$(field .copies_healthy)" = 2 ] ||
  fail "the mirror is $(field .state) with $(field .copies_healthy) copies in sync"
grep -q "is served from another copy" "$tmpdir/vramd.log" || fail "no log line for the mismatch"
"$VRAMCTL" volume scrub m >/dev/null || fail "scrub after the reads"
[ "$(field .scrub.last_bad_blocks)" = 0 ] ||
  fail "the reads' heals left $(field .scrub.last_bad_blocks) bad blocks"
readback "after the heals"
pass "9 bad blocks over both copies: every block read back right (${errs} mismatches served from the other copy), rewritten ($(field .checksum_repaired) ranges), the mirror in sync"

# 1b. One read over bad blocks of both copies (at different places) may
# fail once; both blocks are rewritten, and the read then succeeds.
flip 0 $((5 * M))
flip 1 $((5 * M + 8192))
nbdpy "
img = open('$tmpdir/img', 'rb').read()
for attempt in range(50):
    try:
        assert h.pread(65536, 5 * 2**20) == img[5 * 2**20:5 * 2**20 + 65536]
        break
    except nbd.Error as e:
        assert eio(e) and attempt < 49, e
        time.sleep(0.1)
h.shutdown()" m || fail "a read over bad blocks of both copies never came right"
pass "a read over bad blocks of both copies is right once they are rewritten"

# 2. The same block bad on both copies: its reads fail, the rest read right.
flip 0 $((6 * M + 100))
flip 1 $((6 * M + 200))
nbdpy "
img = open('$tmpdir/img', 'rb').read()
try:
    h.pread(4096, 6 * 2**20); sys.exit('a block bad on both copies read back')
except nbd.Error as e:
    assert eio(e), e
assert h.pread(4096, 6 * 2**20 + 4096) == img[6 * 2**20 + 4096:6 * 2**20 + 8192]
h.shutdown()" m || fail "a block bad on both copies"
for _ in $(seq 1 20); do [ "$(field .state)" = ok ] && break; sleep 0.1; done
[ "$(field .state)" = ok ] && [ "$(field .copies_healthy)" = 2 ] ||
  fail "one bad block everywhere degraded the mirror: $(field .state)"
nbdpy "h.pwrite(open('$tmpdir/img', 'rb').read()[6 * 2**20:6 * 2**20 + 4096], 6 * 2**20); h.shutdown()" m ||
  fail "rewrite the block"
pass "a block bad on both copies fails with EIO alone; a write makes it good"

# 3. A scrub finds and rewrites flips on either copy, before any read.
flip 0 12288 $((3 * M)) $((7 * M + 5))
flip 1 20480 $((4 * M + 9))
"$VRAMCTL" volume scrub m >/dev/null || fail "scrub"
[ "$(field .scrub.last_bad_blocks)" = 5 ] && [ "$(field .scrub.last_repaired_blocks)" = 5 ] ||
  fail "scrub: $(field .scrub | jq -c .)"
"$VRAMCTL" volume show m | grep -q "5 bad, 5 repaired" || fail "volume show: $("$VRAMCTL" volume show m)"
[ "$(metric 'vramd_volume_scrub_repaired_blocks_total{volume="m"}')" -ge 5 ] || fail "metric"
"$VRAMCTL" volume scrub m >/dev/null || fail "second scrub"
[ "$(field .scrub.last_bad_blocks)" = 0 ] || fail "second scrub: $(field .scrub | jq -c .)"
readback "after the scrub"
pass "a scrub found 5 bad blocks over both copies and rewrote them; the next found none"
