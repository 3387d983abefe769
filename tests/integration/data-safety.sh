#!/usr/bin/env bash
# Data safety: a write acknowledged with FUA, or followed by an
# acknowledged FLUSH, is seen by every other connection (the CAN_MULTI_CONN
# promise); a new volume never shows bytes of a deleted one.
. "$(dirname "$0")/functions.sh"
requires jq
requires_libnbd
start_vramd --extent-size 64K \
  --volume name=s,size=8M,layout=stripe,devices=all,unit=4K \
  --volume name=k,size=8M,layout=concat,devices=all
requires_frontend nbd

# Three connections per volume; random writes (many crossing stripe units
# and extents) on one, read back at once on the others.
for vol in s k; do
  timeout 120 "$PY" - "$tmpdir/nbd.sock" "$vol" <<'PYEOF' || fail "$vol: multi-conn"
import nbd, os, random, sys
def conn():
    h = nbd.NBD(); h.set_export_name(sys.argv[2]); h.connect_unix(sys.argv[1]); return h
hs = [conn() for _ in range(3)]
assert hs[0].can_multi_conn() and hs[0].can_fua() and hs[0].can_flush()
size = hs[0].get_size()
rnd = random.Random(7)
for i in range(600):
    w = hs[i % 3]
    n = rnd.choice([1, 512, 4096, 4097, 65536, 300000])
    off = rnd.randrange(0, size - n)
    data = os.urandom(n)
    if i % 2:
        w.pwrite(data, off, nbd.CMD_FLAG_FUA)
    else:
        w.pwrite(data, off)
        w.flush()
    for r in hs:
        if r is not w and r.pread(n, off) != data:
            sys.exit("write %d (%d bytes at %d) not seen by another connection" % (i, n, off))
for h in hs:
    h.shutdown()
PYEOF
done
pass "600 FUA or flushed writes per volume were seen at once by every other connection"

# A deleted volume's bytes never show in a new one created over the same
# memory.  64 KiB extents come from the malloc arena on PoCL (below the
# mmap threshold), so freed ones are handed out again, old bytes and all,
# unless vramd zeroes them.
timeout 60 "$PY" - "$tmpdir/nbd.sock" <<'PYEOF' || fail "pattern"
import nbd, sys
for v in ("s", "k"):
    h = nbd.NBD(); h.set_export_name(v); h.connect_unix(sys.argv[1])
    h.pwrite(b"\xde\xad\xbe\xef" * (h.get_size() // 4), 0, nbd.CMD_FLAG_FUA); h.shutdown()
PYEOF
api DELETE /v1/volumes/s; expect 204 "delete s"
api DELETE /v1/volumes/k; expect 204 "delete k"
for l in stripe concat; do
  api POST /v1/volumes -d "{\"name\":\"n$l\",\"size\":8388608,\"layout\":\"$l\"}"; expect 201 "create n$l"
done
for l in stripe concat; do
  timeout 60 "$PY" - "$tmpdir/nbd.sock" "n$l" <<'PYEOF' || fail "n$l shows old bytes"
import nbd, sys
h = nbd.NBD(); h.set_export_name(sys.argv[2]); h.connect_unix(sys.argv[1])
size = h.get_size()
for off in range(0, size, 2**20):
    if h.pread(2**20, off) != bytes(2**20):
        sys.exit("non-zero bytes at %d" % off)
h.shutdown()
PYEOF
done
pass "volumes created after deleting patterned ones read as zeros"
