#!/usr/bin/env bash
# Integrity (crc32c): 1000 bits flipped in VRAM over three volumes through
# the fault route (POST /v1/faults bit_flips), then every block read
# through NBD: each flipped one fails with EIO, every other one reads back
# what was written, on the same connections; counters, metrics, volume
# show and rate-limited logs say so.  Thin is refused, and a volume
# without integrity behaves as before.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
requires_libnbd
export VRAMD_FAULTS=1 VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576
start_vramd --extent-size 4M
requires_frontend nbd

"$VRAMCTL" volume create i0 --size 16M --integrity crc32c >"$tmpdir/out" ||
  fail "create i0: $(cat "$tmpdir/out")"
grep -q "checksummed" "$tmpdir/out" || fail "create says: $(cat "$tmpdir/out")"
"$VRAMCTL" volume create i1 --size 12M --concat all --integrity crc32c >/dev/null || fail "create i1"
"$VRAMCTL" volume create i2 --size 8M --stripe-unit 64K --integrity crc32c >/dev/null ||
  fail "create i2"
"$VRAMCTL" volume create p0 --size 4M >/dev/null || fail "create p0"
api GET /v1/volumes/i0
[ "$(echo "$body" | jq -r .integrity)" = crc32c ] || fail "i0: $body"
[ "$(echo "$body" | jq .allocated_bytes)" = $(( 16 * M + 16 * M / 1024 )) ] ||
  fail "i0 holds $(echo "$body" | jq .allocated_bytes) bytes, not 16M and its checksums"
api GET /v1/volumes/p0
[ "$(echo "$body" | jq -r .integrity)" = none ] || fail "p0: $body"
echo "$body" | jq -e 'has("checksum_errors") | not' >/dev/null || fail "p0: $body"
api POST /v1/volumes -d '{"name":"t0","size":16777216,"provisioning":"thin","integrity":"crc32c"}'
expect 400 "thin with integrity" invalid_volume
echo "$body" | jq -r .error.message | grep -q "thick volumes" || fail "unclear: $body"
api POST /v1/volumes -d '{"name":"t0","size":16777216,"integrity":"md5"}'
expect 400 "an unknown integrity" invalid_field
pass "crc32c volumes hold 0.1% more for checksums; thin and unknown kinds are refused"

# Random data in, through NBD.
for v in i0 i1 i2 p0; do
  api GET /v1/volumes/$v; size=$(echo "$body" | jq .size_bytes)
  head -c "$size" /dev/urandom >"$tmpdir/$v.img"
  nbdcopy "$tmpdir/$v.img" "$(nbd_uri $v)" || fail "write $v"
done

# 1000 flips: 400 + 350 + 250, one bit each in distinct blocks.
flips() {
  api POST /v1/faults -d "{\"bit_flips\": {\"volume\": \"$1\", \"count\": $2, \"seed\": $3}}"
  expect 200 "flip $2 bits in $1"
  echo "$body" | jq -r '.offsets[]' >"$tmpdir/$1.flips"
  [ "$(wc -l <"$tmpdir/$1.flips")" = "$2" ] || fail "$1: $(wc -l <"$tmpdir/$1.flips") flips"
}
flips i0 400 11; flips i1 350 12; flips i2 250 13
api POST /v1/faults -d '{"bit_flips": {"volume": "i0", "offsets": [16777216]}}'
expect 400 "a flip past the end" invalid_field

# Every block, 4 KiB at a time, then 64 KiB reads across bad ones.
cat >"$tmpdir/check.py" <<'PYEOF'
vol, size = sys.argv[2], int(sys.argv[3])
img = open(sys.argv[4], "rb").read()
bad = {int(l) // 4096 for l in open(sys.argv[5])}
found = good = 0
for b in range(size // 4096):
    try:
        data = h.pread(4096, b * 4096)
    except nbd.Error as e:
        assert eio(e), e
        assert b in bad, "%s: block %d was not flipped but failed" % (vol, b)
        found += 1
        continue
    assert b not in bad, "%s: flipped block %d read back as good" % (vol, b)
    assert data == img[b * 4096:(b + 1) * 4096], "%s: block %d reads wrong" % (vol, b)
    good += 1
big_bad = 0
for b in range(0, size // 4096, 16):
    span = set(range(b, b + 16))
    try:
        data = h.pread(65536, b * 4096)
        assert not span & bad, "%s: a 64K read over a flipped block at %d succeeded" % (vol, b)
        assert data == img[b * 4096:b * 4096 + 65536]
    except nbd.Error as e:
        assert eio(e) and span & bad, e
        big_bad += 1
assert found == len(bad), "%s: %d of %d flips found" % (vol, found, len(bad))
print("%s %d %d %d" % (vol, found, good, big_bad))
h.shutdown()
PYEOF
total=0
for v in i0 i1 i2; do
  api GET /v1/volumes/$v; size=$(echo "$body" | jq .size_bytes)
  nbdpy "$(cat "$tmpdir/check.py")" $v "$size" "$tmpdir/$v.img" "$tmpdir/$v.flips" \
    >"$tmpdir/$v.res" || fail "$v: $(cat "$tmpdir/$v.res")"
  read -r _ found good big <"$tmpdir/$v.res"
  total=$((total + found))
  echo "$v: $found flipped blocks failed with EIO, $good good blocks read back, $big 64K reads failed"
done
[ "$total" = 1000 ] || fail "$total of 1000 flips found"
pass "1000 of 1000 flipped bits found by reads over NBD (EIO), nothing bad returned as good"

# Counted per volume and device, shown, logged at a bounded rate.
api GET /v1/volumes/i0
n=$(echo "$body" | jq .checksum_errors)
[ "$n" -ge 400 ] || fail "i0 counts $n checksum errors"
m=$(metric 'vramd_volume_checksum_errors_total{volume="i0"}')
[ "$m" = "$n" ] || fail "metric $m, volume $n"
d0=$(metric 'vramd_device_checksum_errors_total{gpu="cpu0"}')
d1=$(metric 'vramd_device_checksum_errors_total{gpu="cpu1"}')
sum=0
for v in i0 i1 i2; do api GET /v1/volumes/$v; sum=$((sum + $(echo "$body" | jq .checksum_errors))); done
[ $((d0 + d1)) = "$sum" ] || fail "devices count $d0 + $d1, volumes $sum"
[ "$d0" -gt 0 ] && [ "$d1" -gt 0 ] || fail "per device: $d0, $d1"
"$VRAMCTL" volume show i0 | grep -q "integrity: crc32c ($n reads found a bad checksum)" ||
  fail "volume show: $("$VRAMCTL" volume show i0 | grep integrity)"
lines=$(grep -c "checksum mismatch" "$tmpdir/vramd.log" || true)
grep -q "volume i[012]: checksum mismatch in the block at offset [0-9]* on cpu[01]" \
  "$tmpdir/vramd.log" || fail "no log line names volume, offset and device"
[ "$lines" -le 100 ] || fail "$lines log lines for $sum mismatches: not rate-limited"
"$VRAMCTL" status | grep -q "volume i0: data in VRAM changed since it was written: $n reads" ||
  fail "vramctl status: $("$VRAMCTL" status | sed -n '/^warnings/,/^$/p')"
pass "$sum mismatches counted (devices $d0 + $d1), in metrics, volume show and status; $lines log lines"

# A scrub (a job, run by the GPUs) finds the same blocks: all of them.
for v in i0 i1 i2; do
  "$VRAMCTL" volume scrub $v >"$tmpdir/out" 2>&1 || fail "scrub $v: $(cat "$tmpdir/out")"
  api GET /v1/volumes/$v
  want=$(wc -l <"$tmpdir/$v.flips")
  [ "$(echo "$body" | jq .scrub.last_bad_blocks)" = "$want" ] || fail "scrub $v: $body"
  [ "$(echo "$body" | jq .scrub.last_blocks)" = "$(( $(echo "$body" | jq .size_bytes) / 4096 ))" ] ||
    fail "scrub $v checked $(echo "$body" | jq .scrub.last_blocks) blocks"
done
[ "$(metric 'vramd_volume_scrub_bad_blocks_total{volume="i1"}')" = 350 ] ||
  fail "metric: $(metric 'vramd_volume_scrub_bad_blocks_total{volume="i1"}')"
"$VRAMCTL" volume show i2 | grep -q "^scrub: .*, 2048 blocks checked, 250 bad" ||
  fail "volume show: $("$VRAMCTL" volume show i2 | grep scrub)"
grep -q "volume i2: scrub done: 2048 blocks (8.0 MiB) checked in .*, 250 bad" "$tmpdir/vramd.log" ||
  fail "no scrub log line"
api POST /v1/volumes/p0/scrub; expect 409 "scrub without checksums" no_checksums
api POST /v1/volumes/nope/scrub; expect 404 "scrub nope" not_found
pass "scrubs find 400 + 350 + 250 bad blocks, as many as flipped; volume show, metrics and log say so"

# A write makes a bad block good again; ZERO writes the sums of zeros.
off=$(head -1 "$tmpdir/i0.flips")
nbdpy "
b = $off // 4096 * 4096
try:
    h.pread(4096, b); sys.exit('still good')
except nbd.Error as e:
    assert eio(e), e
h.pwrite(b'\x5a' * 4096, b)
assert h.pread(4096, b) == b'\x5a' * 4096
h.zero(8192, b)
assert h.pread(8192, b) == bytes(8192)
h.pwrite(b'\x11' * 512, b + 1024)
assert h.pread(4096, b) == bytes(1024) + b'\x11' * 512 + bytes(2560)
h.shutdown()" i0 || fail "rewrite, zero and a 512-byte write of a bad block"
pass "a rewritten bad block reads good; ZERO and 512-byte writes keep the checksums right"

# Without integrity, as before: a flip reads back flipped, with no error.
api POST /v1/faults -d '{"bit_flips": {"volume": "p0", "offsets": [4096]}}'; expect 200 "flip p0"
nbdpy "
d = h.pread(4096, 4096)
img = open('$tmpdir/p0.img', 'rb').read()[4096:8192]
assert d[0] != img[0] and d[1:] == img[1:], 'p0 changed otherwise'
h.shutdown()" p0 || fail "p0"
pass "a volume without integrity returns the flipped byte, as before"
