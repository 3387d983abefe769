#!/usr/bin/env bash
# Integrity crc32c+parity: random single bit flips (one per parity group)
# over three volumes, through the fault route, are all rebuilt by reads
# through NBD, which return what nbdcopy wrote; two flips in one group
# fail with EIO; a scrub rebuilds a new round of flips; a 512-byte write
# and a ZERO keep the parity right.  Counted exactly per volume and
# device, in the API, metrics, volume show and the log.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
requires_libnbd
export VRAMD_FAULTS=1 VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576
G=131072 # a parity group: 32 blocks of 4 KiB
start_vramd --extent-size 4M
requires_frontend nbd

"$VRAMCTL" volume create p0 --size 16M --integrity crc32c+parity >"$tmpdir/out" ||
  fail "create p0: $(cat "$tmpdir/out")"
grep -q "checksummed with parity" "$tmpdir/out" || fail "create says: $(cat "$tmpdir/out")"
"$VRAMCTL" volume create p1 --size 12M --concat all --integrity crc32c+parity >/dev/null ||
  fail "create p1"
"$VRAMCTL" volume create p2 --size 8M --stripe-unit 64K --integrity crc32c+parity >/dev/null ||
  fail "create p2"
api GET /v1/volumes/p0
[ "$(echo "$body" | jq -r .integrity)" = crc32c+parity ] || fail "p0: $body"
[ "$(echo "$body" | jq .allocated_bytes)" = $(( 16 * M + 16 * M / 1024 + 16 * M / 32 )) ] ||
  fail "p0 holds $(echo "$body" | jq .allocated_bytes) bytes, not 16M, its checksums and parity"
[ "$(echo "$body" | jq .parity_repaired)" = 0 ] || fail "p0: $body"
api POST /v1/volumes -d '{"name":"t0","size":16777216,"provisioning":"thin","integrity":"crc32c+parity"}'
expect 400 "thin with parity" invalid_volume
pass "crc32c+parity volumes hold 3.2% more for checksums and parity; thin is refused"

for v in p0 p1 p2; do
  api GET /v1/volumes/$v; size=$(echo "$body" | jq .size_bytes)
  head -c "$size" /dev/urandom >"$tmpdir/$v.img"
  nbdcopy "$tmpdir/$v.img" "$(nbd_uri $v)" || fail "write $v"
done

# One flip in a random block of each of n random groups (a group is a
# 128 KiB range of p0 and p1; p2's 64 KiB stripe unit puts one group of
# each device in every 256 KiB), plus, with double, two in another.
pick() { # volume span n seed double
  "$PY" - "$@" <<'PYEOF'
import random, sys
vol, span, n, seed, double = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
size = {"p0": 16, "p1": 12, "p2": 8}[vol] << 20
r = random.Random(seed)
ranges = r.sample(range(size // span), n + 1)
offs = [g * span + r.randrange(span // 4096) * 4096 + r.randrange(4096) for g in ranges[:n]]
if double == "yes":
    offs += [ranges[n] * span + 4096 * k + 7 for k in (2, 5)]
print(" ".join(map(str, offs)))
PYEOF
}
flip() { # volume offsets...
  [ $# -gt 1 ] || fail "no offsets to flip in $1"
  local v=$1; shift
  api POST /v1/faults -d "{\"bit_flips\": {\"volume\": \"$v\", \"offsets\": [$(echo "$*" | tr ' ' ,)]}}"
  expect 200 "flip $# bits in $v"
  echo "$body" | jq -r '.offsets[]' >"$tmpdir/$v.flips"
}
flip p0 $(pick p0 $G 100 1 yes)
flip p1 $(pick p1 $G 80 2 no)
flip p2 $(pick p2 $((2 * G)) 30 3 no)
dbl=$(tail -2 "$tmpdir/p0.flips" | tr '\n' ' ')

# Every block of every volume, 4 KiB at a time: the data written, but for
# the double's two blocks.
cat >"$tmpdir/check.py" <<'PYEOF'
vol, size = sys.argv[2], int(sys.argv[3])
img = open(sys.argv[4], "rb").read()
bad = {int(x) // 4096 for x in sys.argv[5].split()}
failed = good = 0
for b in range(size // 4096):
    try:
        data = h.pread(4096, b * 4096)
    except nbd.Error as e:
        assert eio(e) and b in bad, "%s: block %d: %s" % (vol, b, e)
        failed += 1
        continue
    assert b not in bad, "%s: block %d of the double read back" % (vol, b)
    assert data == img[b * 4096:(b + 1) * 4096], "%s: block %d reads wrong" % (vol, b)
    good += 1
print("%s %d %d" % (vol, good, failed))
h.shutdown()
PYEOF
for v in p0 p1 p2; do
  api GET /v1/volumes/$v; size=$(echo "$body" | jq .size_bytes)
  nbdpy "$(cat "$tmpdir/check.py")" $v "$size" "$tmpdir/$v.img" "$([ $v = p0 ] && echo "$dbl")" \
    >"$tmpdir/$v.res" || fail "$v: $(cat "$tmpdir/$v.res")"
  read -r _ good failed <"$tmpdir/$v.res"
  echo "$v: $good blocks read back as written, $failed failed with EIO"
done
read -r _ _ failed <"$tmpdir/p0.res"
[ "$failed" = 2 ] || fail "p0: $failed reads failed, not the double's 2"
# What nbdcopy reads is what it wrote.
for v in p1 p2; do
  nbdcopy "$(nbd_uri $v)" "$tmpdir/$v.back" || fail "read $v"
  cmp -s "$tmpdir/$v.img" "$tmpdir/$v.back" || fail "$v reads back otherwise than written"
done
pass "210 single flips over three volumes rebuilt by reads; nbdcopy reads back what it wrote"

# Counted exactly, per volume and device; shown and logged.
total=0
for v in p0:100:2 p1:80:0 p2:30:0; do
  IFS=: read -r name want errs <<<"$v"
  api GET /v1/volumes/$name
  [ "$(echo "$body" | jq .parity_repaired)" = "$want" ] ||
    fail "$name counts $(echo "$body" | jq .parity_repaired) rebuilt blocks, not $want"
  [ "$(echo "$body" | jq .checksum_errors)" = "$errs" ] ||
    fail "$name counts $(echo "$body" | jq .checksum_errors) checksum errors, not $errs"
  [ "$(metric "vramd_volume_parity_repaired_total{volume=\"$name\"}")" = "$want" ] ||
    fail "metric for $name: $(metric "vramd_volume_parity_repaired_total{volume=\"$name\"}")"
  total=$((total + want))
done
d0=$(metric 'vramd_device_parity_repaired_total{gpu="cpu0"}')
d1=$(metric 'vramd_device_parity_repaired_total{gpu="cpu1"}')
[ $((d0 + d1)) = "$total" ] && [ "$d0" -gt 0 ] && [ "$d1" -gt 0 ] ||
  fail "devices count $d0 + $d1 rebuilt blocks, volumes $total"
"$VRAMCTL" volume show p0 | grep -q "integrity: crc32c+parity (100 bad blocks rebuilt from parity, 2 reads failed" ||
  fail "volume show: $("$VRAMCTL" volume show p0 | grep integrity)"
"$VRAMCTL" status | grep -q "volume p1: bad blocks were repaired (80 since start" ||
  fail "vramctl status: $("$VRAMCTL" status | sed -n '/^warnings/,/^$/p')"
grep -q "volume p[012]: checksum mismatch in the block at offset [0-9]* on cpu[01]: rebuilt from parity" \
  "$tmpdir/vramd.log" || fail "no log line names volume, offset and device"
lines=$(grep -c "rebuilt from parity" "$tmpdir/vramd.log" || true)
[ "$lines" -le 100 ] || fail "$lines log lines for $total rebuilt blocks: not rate-limited"
pass "$total rebuilt blocks counted (devices $d0 + $d1), 2 errors; API, metrics, volume show; $lines log lines"

# A scrub rebuilds a new round of single flips, and finds the double.
flip p1 $(pick p1 $G 50 4 no)
"$VRAMCTL" volume scrub p1 >"$tmpdir/out" 2>&1 || fail "scrub p1: $(cat "$tmpdir/out")"
"$VRAMCTL" volume scrub p0 >"$tmpdir/out" 2>&1 || fail "scrub p0: $(cat "$tmpdir/out")"
api GET /v1/volumes/p1
[ "$(echo "$body" | jq -c '[.scrub.last_bad_blocks, .scrub.last_repaired_blocks, .parity_repaired]')" = \
  "[50,50,130]" ] || fail "scrub p1: $body"
api GET /v1/volumes/p0
[ "$(echo "$body" | jq -c '[.scrub.last_bad_blocks, .scrub.last_repaired_blocks]')" = "[2,0]" ] ||
  fail "scrub p0: $body"
grep -q "volume p1: scrub done: 3072 blocks (12.0 MiB) checked in .*, 50 bad, 50 rebuilt from parity" \
  "$tmpdir/vramd.log" || fail "no scrub log line"
"$VRAMCTL" volume show p1 | grep -q "^scrub: .*, 3072 blocks checked, 50 bad, 50 repaired" ||
  fail "volume show: $("$VRAMCTL" volume show p1 | grep scrub)"
nbdcopy "$(nbd_uri p1)" "$tmpdir/p1.back" || fail "read p1"
cmp -s "$tmpdir/p1.img" "$tmpdir/p1.back" || fail "p1 reads back otherwise after the scrub"
pass "a scrub rebuilds 50 of 50 new flips (found 50, repaired 50) and reports the double as bad"

# A 512-byte write and a ZERO in one group, then a flip in each block.
nbdpy "
g = 37 * $G
h.pwrite(b'\x11' * 512, g + 1024)
h.zero(8192, g + 8192)
h.shutdown()" p2 || fail "partial write and zero"
for at in 3000 9000; do # one at a time: both blocks are in one group
  flip p2 $((37 * G + at))
  nbdpy "
g = 37 * $G
img = bytearray(open('$tmpdir/p2.img', 'rb').read()[g:g + 16384])
img[1024:1536] = b'\x11' * 512
img[8192:16384] = bytes(8192)
assert h.pread(16384, g) == bytes(img), 'the group reads wrong'
h.shutdown()" p2 || fail "a flip at $at after a partial write and a zero"
done
api GET /v1/volumes/p2
[ "$(echo "$body" | jq .parity_repaired)" = 32 ] || fail "p2: $body"
pass "512-byte writes and ZEROs keep the parity right: flips after them are rebuilt"
