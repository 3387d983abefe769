#!/usr/bin/env bash
# nbdfuse, a loop device, mkfs.ext4, mount, files, umount and a clean
# fsck -fn, on stripe and concat volumes.  Skips without FUSE or loop.
. "$(dirname "$0")/functions.sh"
requires nbdfuse
requires mkfs.ext4
requires losetup
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for loop devices and mount"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
modprobe loop 2>/dev/null || true
losetup -f >/dev/null 2>&1 || { echo "SKIP: no free loop device"; exit 77; }
start_nbd_vramd

for vol in vs vc; do
  fuse="$tmpdir/fuse-$vol" mnt="$tmpdir/mnt-$vol"
  mkdir -p "$fuse" "$mnt"
  nbdfuse "$fuse" "$(nbd_uri $vol)" &
  fuse_pid=$!
  on_exit "fusermount3 -u '$fuse' 2>/dev/null || umount -l '$fuse'; wait $fuse_pid"
  for _ in $(seq 1 100); do [ -e "$fuse/nbd" ] && break; sleep 0.1; done
  [ -e "$fuse/nbd" ] || fail "$vol: nbdfuse did not mount"
  loop=$(losetup -f --show "$fuse/nbd") || { echo "SKIP: losetup failed"; exit 77; }
  on_exit "umount '$mnt' 2>/dev/null; losetup -d '$loop' 2>/dev/null"
  timeout 120 mkfs.ext4 -q -F "$loop" || fail "$vol: mkfs.ext4"
  mount "$loop" "$mnt" || { echo "SKIP: mount failed (no ext4 in this kernel?)"; exit 77; }
  head -c 5M /dev/urandom >"$tmpdir/file"
  for i in 1 2 3; do cp "$tmpdir/file" "$mnt/f$i"; done
  mkdir "$mnt/dir" && echo hello >"$mnt/dir/h"
  sync
  sums=$(cd "$mnt" && md5sum f1 f2 f3 dir/h)
  umount "$mnt"
  timeout 120 fsck.ext4 -fn "$loop" >"$tmpdir/fsck" 2>&1 || fail "$vol: fsck: $(cat "$tmpdir/fsck")"
  mount "$loop" "$mnt"
  [ "$(cd "$mnt" && md5sum f1 f2 f3 dir/h)" = "$sums" ] || fail "$vol: files changed after remount"
  umount "$mnt"
  losetup -d "$loop"
  pass "$vol: ext4 on nbdfuse + loop: files written, fsck -fn clean, files intact"
done
check_guard
pass "the guard volume is unchanged"
