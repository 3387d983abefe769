#!/usr/bin/env bash
# persist: volumes with persist = PATH come back with their contents
# across a clean restart (saved at stop, loaded before they are exposed),
# keep the last good image across a SIGKILL and an interrupted save, and
# refuse a corrupt image (the volume starts empty and the image is not
# saved over).  Only root may set persist through the API.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
export VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576
start_vramd --extent-size 8M --thin-chunk 4M

# read_back NAME FILE: the volume's contents into FILE.
read_back() { nbdcopy "$(nbd_uri "$1")" "$2" || fail "read $1"; }
# restart [kill]: stop vramd (SIGTERM, or SIGKILL) and start it again.
restart() {
  if [ "${1:-}" = kill ]; then kill -KILL "$vramd_pid"; wait "$vramd_pid" 2>/dev/null || true; vramd_pid=
  else stop_vramd; fi
  start_vramd --extent-size 8M --thin-chunk 4M
}

# 1. Created with persist: no image yet (logged), empty; written.
"$VRAMCTL" volume create p --size 32M --persist "$tmpdir/p.img" >/dev/null || fail "create p"
"$VRAMCTL" volume create t --size 64M --thin --persist "$tmpdir/t.img" >/dev/null || fail "create t"
grep -q "volume p: no image at $tmpdir/p.img yet: it starts empty" "$tmpdir/vramd.log" ||
  fail "a missing image is not logged"
head -c 32M /dev/urandom >"$tmpdir/a"
truncate -s 64M "$tmpdir/ta"
head -c 3M /dev/urandom | dd of="$tmpdir/ta" bs=1M seek=30 conv=notrunc status=none
nbdcopy "$tmpdir/a" "$(nbd_uri p)"
nbdcopy "$tmpdir/ta" "$(nbd_uri t)"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 711 "$tmpdir"; chmod 666 "$tmpdir/api.sock"
  ! setpriv --reuid=65534 --regid=65534 --clear-groups "$VRAMCTL" volume create q --size 4M \
    --persist "$tmpdir/q.img" 2>"$tmpdir/err" || fail "uid 65534 set persist"
  grep -q "only root may set persist" "$tmpdir/err" || fail "persist by uid 65534: $(cat "$tmpdir/err")"
fi
pass "persist volumes start empty with the missing image logged; only root may set persist"

# 2. A clean restart saves both and loads them before they are exposed.
restart
for f in p.img p.img.sum t.img t.img.sum; do [ -f "$tmpdir/$f" ] || fail "no $f after a stop"; done
[ ! -e "$tmpdir/p.img.partial" ] || fail "a partial file stayed"
cmp "$tmpdir/a" "$tmpdir/p.img" || fail "p.img is not what p held"
[ "$(du -k "$tmpdir/t.img" | cut -f1)" -le 4096 ] || fail "t.img is not sparse"
read_back p "$tmpdir/back"; cmp "$tmpdir/a" "$tmpdir/back" || fail "p after a restart"
read_back t "$tmpdir/back"; cmp "$tmpdir/ta" "$tmpdir/back" || fail "t after a restart"
grep -q "volume p: loaded from $tmpdir/p.img, checksum matches" "$tmpdir/vramd.log" || fail "no load logged"
api GET /v1/volumes/t
[ "$(echo "$body" | jq .allocated_bytes)" -le $((4 * 4 * M)) ] || fail "t took $(echo "$body" | jq .allocated_bytes) bytes for 3M of data"
pass "a clean restart saves the images with their sums and loads them back (thin stays thin)"

# 3. SIGKILL: what was written since is lost, the last good image stays.
head -c 32M /dev/urandom | nbdcopy - "$(nbd_uri p)"
restart kill
read_back p "$tmpdir/back"; cmp "$tmpdir/a" "$tmpdir/back" || fail "p after SIGKILL is not the last good image"
pass "after SIGKILL the last good image is loaded"

# 4. A stop killed between the image's rename and its sum's (the new sum
# still .partial), and one killed mid-save (a stale image .partial).
mv "$tmpdir/p.img.sum" "$tmpdir/p.img.sum.partial"
head -c 1M /dev/urandom >"$tmpdir/p.img.partial"
restart
read_back p "$tmpdir/back"; cmp "$tmpdir/a" "$tmpdir/back" || fail "p with its sum under .partial"
[ -f "$tmpdir/p.img.sum" ] && [ ! -e "$tmpdir/p.img.sum.partial" ] || fail "the sum was not put in place"
restart
[ ! -e "$tmpdir/p.img.partial" ] && cmp "$tmpdir/a" "$tmpdir/p.img" || fail "the stale partial image got in the way"
pass "a sum left under .partial is taken and put in place; a stale partial image is replaced"

# 5. A corrupt image is refused: the volume starts empty and the image is
# not saved over at the next stop.
stop_vramd
printf '\x55' | dd of="$tmpdir/p.img" bs=1 seek=$((5 * M + 7)) conv=notrunc status=none
cp "$tmpdir/p.img" "$tmpdir/corrupt"
start_vramd --extent-size 8M --thin-chunk 4M
grep -q "volume p: image refused: .* does not match its .sum" "$tmpdir/vramd.log" || fail "corrupt image not refused"
read_back p "$tmpdir/back"; cmp "$tmpdir/back" <(head -c 32M /dev/zero) || fail "p is not empty after a refused image"
read_back t "$tmpdir/back"; cmp "$tmpdir/ta" "$tmpdir/back" || fail "t suffered from p's corrupt image"
stop_vramd
grep -q "volume p: not saved: its image $tmpdir/p.img was refused at start" "$tmpdir/vramd.log" ||
  fail "the stop did not say it kept the refused image"
cmp "$tmpdir/corrupt" "$tmpdir/p.img" || fail "the refused image was saved over"
pass "a corrupt image is refused, the volume starts empty, and the image is kept as it was"
