#!/usr/bin/env bash
# save-restore: volume save, volume create --from and volume restore.
# Round trips with cmp on striped, concat and thin volumes with holes (the
# image is sparse); bad files refused; a cancelled save or load leaves no
# file and no volume; a full disk fails the job and leaves nothing; a
# non-root caller writes only where it may, and owns what it writes; a
# save while a client writes holds one moment of the volume and what was
# acknowledged before it; a block device is written in place.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
requires_libnbd
export VRAMD_FAULTS=1 VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576
start_vramd --extent-size 8M --thin-chunk 4M --thin-stock 2 --save-staging 4M

# src FILE SIZE_M: a sparse file with random data at 1M (3M), 20M (2M)
# and in its last 512K.
src() {
  truncate -s "$2M" "$1"
  head -c 3M /dev/urandom | dd of="$1" bs=1M seek=1 conv=notrunc status=none
  head -c 2M /dev/urandom | dd of="$1" bs=1M seek=20 conv=notrunc status=none
  head -c 512K /dev/urandom | dd of="$1" bs=512K seek=$(($2 * 2 - 1)) conv=notrunc status=none
}
# KiB a file takes on disk.
used() { du -k "$1" | cut -f1; }
# job_state ID: its state.
job_state() { api GET "/v1/jobs/$1"; echo "$body" | jq -r .state; }
# wait_state ID STATE: 20 s at most.
wait_state() {
  for _ in $(seq 1 200); do [ "$(job_state "$1")" = "$2" ] && return 0; sleep 0.1; done
  fail "job $1 is $(job_state "$1"), not $2: $body"
}

# 1. Round trips: striped, concat and thin, each saved sparse and loaded
# back into a new volume (its size from the image) that reads the same.
"$VRAMCTL" volume create vs --size 64M --stripe-unit 64K >/dev/null
"$VRAMCTL" volume create vc --size 64M --concat all >/dev/null
"$VRAMCTL" volume create vt --size 256M --thin >/dev/null
src "$tmpdir/s64" 64
src "$tmpdir/s256" 256
for v in vs vc vt; do
  s=$tmpdir/s64; [ $v = vt ] && s=$tmpdir/s256
  nbdcopy "$s" "$(nbd_uri $v)" || fail "$v: write the source"
  "$VRAMCTL" volume save $v "$tmpdir/$v.img" >"$tmpdir/out" 2>&1 || fail "$v: save: $(cat "$tmpdir/out")"
  cmp "$s" "$tmpdir/$v.img" || fail "$v: the image differs from what was written"
  [ "$(used "$tmpdir/$v.img")" -le $((7 * 1024)) ] ||
    fail "$v: the image takes $(used "$tmpdir/$v.img") KiB for 5.5 MiB of data: not sparse"
  [ ! -e "$tmpdir/$v.img.partial" ] || fail "$v: the partial file stayed"
  "$VRAMCTL" volume create $v-back --from "$tmpdir/$v.img" $([ $v = vt ] && echo --thin) \
    >"$tmpdir/out" 2>&1 || fail "$v: load: $(cat "$tmpdir/out")"
  grep -q "^created $v-back: .* from $tmpdir/$v.img" "$tmpdir/out" || fail "$v: load said $(cat "$tmpdir/out")"
  api GET /v1/volumes/$v-back
  [ "$(echo "$body" | jq .size_bytes)" = "$(stat -c %s "$s")" ] || fail "$v-back: size $(echo "$body" | jq .size_bytes)"
  nbdcopy "$(nbd_uri $v-back)" "$tmpdir/back" || fail "$v-back: read"
  cmp "$s" "$tmpdir/back" || fail "$v-back: does not read as the image"
  pass "$v: saved ($(used "$tmpdir/$v.img") KiB on disk of $(($(stat -c %s "$s") / M)) MiB) and loaded back the same"
done
api GET /v1/volumes/vt-back
alloc=$(echo "$body" | jq .allocated_bytes)
[ "$alloc" -le $((5 * 4 * M)) ] || fail "vt-back: the load took $alloc bytes of VRAM: data lies in 5 4M chunks"
pass "a thin volume loaded from a sparse image holds only the chunks with data ($((alloc / M)) MiB)"

# 2. Restore into an existing volume: what it held before is gone, holes
# and all; an image larger than the volume, or a file that is neither a
# regular file nor a block device, is refused.
head -c 64M /dev/urandom | nbdcopy - "$(nbd_uri vs)"
"$VRAMCTL" volume restore vs "$tmpdir/vc.img" >"$tmpdir/out" 2>&1 || fail "restore: $(cat "$tmpdir/out")"
nbdcopy "$(nbd_uri vs)" "$tmpdir/back"
cmp "$tmpdir/s64" "$tmpdir/back" || fail "vs after restore differs from the image"
"$VRAMCTL" volume create small --size 16M >/dev/null
! "$VRAMCTL" volume restore small "$tmpdir/vs.img" 2>"$tmpdir/err" || fail "a larger image restored"
grep -q "more than the volume's 16.0 MiB" "$tmpdir/err" || fail "too large: $(cat "$tmpdir/err")"
! "$VRAMCTL" volume create big --from "$tmpdir/vs.img" --size 16M 2>"$tmpdir/err" || fail "create --from a larger image"
api GET /v1/volumes/big; expect 404 "the refused load left volume big"
for bad in /dev/null "$tmpdir"; do
  ! "$VRAMCTL" volume save vs "$bad" 2>"$tmpdir/err" || fail "saved to $bad"
  grep -q "not a regular file or a block device\|does not name a file" "$tmpdir/err" || fail "save to $bad: $(cat "$tmpdir/err")"
  ! "$VRAMCTL" volume restore vs "$bad" 2>"$tmpdir/err" || fail "restored from $bad"
  grep -q "not a regular file or a block device" "$tmpdir/err" || fail "restore from $bad: $(cat "$tmpdir/err")"
done
api POST /v1/volumes/vs/save -d '{"path": "relative"}'; expect 400 "a relative path" invalid_field
touch "$tmpdir/x.img.partial"
! "$VRAMCTL" volume save vs "$tmpdir/x.img" 2>"$tmpdir/err" || fail "saved over a partial file"
grep -q "x.img.partial exists" "$tmpdir/err" || fail "partial exists: $(cat "$tmpdir/err")"
pass "restore replaces the contents; larger images, /dev/null, a directory and a partial file are refused"

# 3. Cancel midway (each unit waits 30 ms): no file, no partial file; a
# cancelled load deletes the volume it made.
api POST /v1/faults -d '{"unit_delay_ms": 30}'; expect 204 "slow units"
api POST /v1/volumes/vc/save -d "{\"path\": \"$tmpdir/cancel.img\"}"; expect 202 "start a save"
id=$(echo "$body" | jq .id)
for _ in $(seq 1 100); do [ "$(echo "$body" | jq .done_bytes)" -gt 0 ] && break; sleep 0.05; api GET /v1/jobs/$id; done
[ -e "$tmpdir/cancel.img.partial" ] || fail "no partial file while the save runs"
api DELETE /v1/jobs/$id; expect 202 "cancel the save"
wait_state "$id" cancelled
[ ! -e "$tmpdir/cancel.img" ] && [ ! -e "$tmpdir/cancel.img.partial" ] || fail "a cancelled save left $(ls "$tmpdir" | grep cancel)"
"$VRAMCTL" volume create vl --from "$tmpdir/vc.img" --no-wait >"$tmpdir/out" || fail "create --from --no-wait"
id=$(cat "$tmpdir/out")
api GET /v1/volumes/vl
[ "$(echo "$body" | jq -r .frontend)" = none ] || fail "a loading volume is exposed: $body"
"$VRAMCTL" job cancel "$id" >/dev/null || fail "vramctl job cancel $id"
wait_state "$id" cancelled
api GET /v1/volumes/vl; expect 404 "a cancelled load left its volume"
api POST /v1/faults -d '{"unit_delay_ms": 0}'; expect 204 "units at full speed"
pass "a cancelled save leaves no file; a loading volume is not exposed, and a cancelled load deletes it"

# 4. A file system that refuses O_DIRECT (as tmpfs did before Linux 6.6):
# buffered I/O with a warning, the same images.
api POST /v1/faults -d '{"direct_refused": true}'; expect 204 "refuse O_DIRECT"
"$VRAMCTL" volume save vc "$tmpdir/buf.img" 2>"$tmpdir/err" || fail "buffered save: $(cat "$tmpdir/err")"
cmp "$tmpdir/s64" "$tmpdir/buf.img" || fail "the buffered save differs"
"$VRAMCTL" volume create vbuf --from "$tmpdir/buf.img" >/dev/null 2>"$tmpdir/err" || fail "buffered load: $(cat "$tmpdir/err")"
nbdcopy "$(nbd_uri vbuf)" "$tmpdir/back"
cmp "$tmpdir/s64" "$tmpdir/back" || fail "the buffered load differs"
api POST /v1/faults -d '{"direct_refused": false}'; expect 204 "O_DIRECT again"
grep -q "buf.img: its file system refuses O_DIRECT; buffered I/O instead" "$tmpdir/vramd.log" ||
  fail "no warning about O_DIRECT"
grep -q "saved to $tmpdir/buf.img .*buffered I/O" "$tmpdir/vramd.log" || fail "the save did not say buffered"
pass "without O_DIRECT: a warning, buffered I/O, and the same image both ways"

# 5. A full disk: the job fails saying so, no file stays, the volume reads
# as before.
if [ "$(id -u)" = 0 ] && mkdir "$tmpdir/full" && mount -t tmpfs -o size=8M tmpfs "$tmpdir/full"; then
  on_exit "umount '$tmpdir/full'"
  head -c 64M /dev/urandom >"$tmpdir/r64"
  nbdcopy "$tmpdir/r64" "$(nbd_uri vc)"
  ! "$VRAMCTL" volume save vc "$tmpdir/full/vc.img" 2>"$tmpdir/err" || fail "saved 64M into 8M"
  grep -q "no space left" "$tmpdir/err" || fail "full disk: $(cat "$tmpdir/err")"
  [ -z "$(ls "$tmpdir/full")" ] || fail "a failed save left $(ls "$tmpdir/full")"
  nbdcopy "$(nbd_uri vc)" "$tmpdir/back"
  cmp "$tmpdir/r64" "$tmpdir/back" || fail "vc changed after a failed save"
  pass "a save onto a full file system fails, leaves no file and the volume as it was"
else
  echo "SKIP: a full disk needs root to mount a small tmpfs"
fi

# 6. Files are the caller's: uid 65534 may not save into a directory it
# cannot write, and owns the image it saves into one it can.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 711 "$tmpdir"; chmod 666 "$tmpdir/api.sock"
  mkdir "$tmpdir/nobody"; chown 65534:65534 "$tmpdir/nobody"
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$VRAMCTL" "$@"; }
  ! as_nobody volume save vs "$tmpdir/root.img" 2>"$tmpdir/err" || fail "uid 65534 saved into $tmpdir"
  grep -q "uid 65534 may not write" "$tmpdir/err" || fail "refused: $(cat "$tmpdir/err")"
  as_nobody volume save vs "$tmpdir/nobody/vs.img" 2>"$tmpdir/err" || fail "uid 65534: $(cat "$tmpdir/err")"
  [ "$(stat -c %u "$tmpdir/nobody/vs.img")" = 65534 ] || fail "the image belongs to uid $(stat -c %u "$tmpdir/nobody/vs.img")"
  chmod 600 "$tmpdir/s64"
  ! as_nobody volume restore small "$tmpdir/s64" 2>"$tmpdir/err" || fail "uid 65534 read a file it may not"
  grep -q "uid 65534 may not read" "$tmpdir/err" || fail "refused read: $(cat "$tmpdir/err")"
  pass "uid 65534 is refused a directory it cannot write and a file it cannot read; it owns its image"
else
  echo "SKIP: the caller checks need root and setpriv"
fi

# 7. A block device (a loop device over a 65M file, filled with 0xff):
# saved onto in place, zeros written too, and loaded from.
if [ "$(id -u)" = 0 ] && command -v losetup >/dev/null &&
   head -c 65M /dev/zero | tr '\0' '\377' >"$tmpdir/loop.file" &&
   loop=$(losetup -f --show "$tmpdir/loop.file" 2>/dev/null); then
  on_exit "losetup -d $loop"
  "$VRAMCTL" volume save vs "$loop" 2>"$tmpdir/err" || fail "save to $loop: $(cat "$tmpdir/err")"
  cmp -n 64M "$tmpdir/s64" "$loop" || fail "$loop does not hold the volume"
  ! "$VRAMCTL" volume save vt "$loop" 2>"$tmpdir/err" || fail "saved 256M onto 65M"
  grep -q "less than the volume's" "$tmpdir/err" || fail "small device: $(cat "$tmpdir/err")"
  "$VRAMCTL" volume create vb --from "$loop" >/dev/null 2>"$tmpdir/err" || fail "load from $loop: $(cat "$tmpdir/err")"
  nbdcopy "$(nbd_uri vb)" "$tmpdir/back"
  cmp -n $((65 * M)) "$loop" "$tmpdir/back" || fail "vb does not read as $loop"
  pass "a block device is saved onto in place (zeros written) and loaded from"
else
  echo "SKIP: block devices need root and a loop device"
fi

# 8. Saves while a client writes: blocks 0-16M are rewritten in order,
# generation after generation (QD1, so each write is acknowledged before
# the next); 16M-32M were written before and never again.  Each image
# must hold one moment: generation g+1 up to some block, g after it.
"$VRAMCTL" volume create vw --size 32M --stripe-unit 64K >/dev/null
head -c 16M /dev/urandom >"$tmpdir/fixed"
nbdpy "
d = open('$tmpdir/fixed', 'rb').read()
for o in range(0, 16 << 20, 1 << 20):
    h.pwrite(d[o:o + (1 << 20)], (16 << 20) + o)" vw
nbdpy "
import struct, os
gen = 1
while not os.path.exists('$tmpdir/stop'):
    for i in range(4096):
        h.pwrite(struct.pack('<QQ', gen, i) * 256, i * 4096)
    open('$tmpdir/gen', 'w').write(str(gen))
    gen += 1
" vw &
writer=$!
on_exit "touch '$tmpdir/stop'; wait $writer 2>/dev/null"
for _ in $(seq 1 200); do [ -s "$tmpdir/gen" ] && break; sleep 0.1; done
[ -s "$tmpdir/gen" ] || fail "the writer did not finish a generation"
for n in 1 2 3; do
  "$VRAMCTL" volume save vw "$tmpdir/vw$n.img" 2>"$tmpdir/err" || fail "save $n under writes: $(cat "$tmpdir/err")"
done
touch "$tmpdir/stop"; wait $writer || fail "the writer failed"
for n in 1 2 3; do
  cmp <(tail -c 16M "$tmpdir/vw$n.img") "$tmpdir/fixed" || fail "save $n lost data written before it"
  "$PY" - "$tmpdir/vw$n.img" <<'EOF' || fail "save $n is not one moment of the volume"
import struct, sys
d = open(sys.argv[1], 'rb').read(16 << 20)
gens = []
for i in range(4096):
    b = d[i * 4096:(i + 1) * 4096]
    g, j = struct.unpack('<QQ', b[:16])
    if b != b[:16] * 256 or j != i:
        sys.exit('block %d is torn or misplaced' % i)
    gens.append(g)
k = next((i for i in range(1, 4096) if gens[i] != gens[0]), 4096)
if any(g != gens[0] for g in gens[:k]) or any(g != gens[0] - 1 for g in gens[k:]):
    sys.exit('generations %s' % sorted(set(gens)))
print('image: generation %d up to block %d, %d after' % (gens[0], k, gens[0] - 1))
EOF
done
grep -o "volume vw: saved .*" "$tmpdir/vramd.log" | tail -1
pass "three saves under QD1 writes each hold one moment, and what was written before"

# 9. A caller that sees another directory than vramd (a mount of its own,
#    as systemd's PrivateTmp gives vramd one): refused, nothing written.
if unshare -m true 2>/dev/null; then
  mkdir -p "$tmpdir/ns"
  set +e
  unshare -m sh -c "mount -t tmpfs tmpfs '$tmpdir/ns' &&
    '$VRAMCTL' --socket '$tmpdir/api.sock' volume save vs '$tmpdir/ns/x.img'" >/dev/null 2>"$tmpdir/err"
  rc=$?
  set -e
  [ $rc = 1 ] && grep -q "vramd sees another $tmpdir/ns than you do" "$tmpdir/err" ||
    fail "a directory vramd sees otherwise: $rc $(cat "$tmpdir/err")"
  [ ! -e "$tmpdir/ns/x.img" ] && [ ! -e "$tmpdir/ns/x.img.partial" ] || fail "a file was written"
  pass "a directory the caller sees otherwise than vramd (its own mount) is refused, nothing written"
else
  echo "SKIP (section 9): unshare -m is not allowed here"
fi
