#!/bin/bash
# guest-resize.sh: vramctl volume resize with kernel devices, run INSIDE
# the QEMU guest: sourced by guest-suite.sh, or run alone by
# `tests/kernel/check-kernel.sh guest-resize.sh`.  A kernel /dev/nbdN
# grows in place while ext4 is mounted on it (resize2fs online takes the
# room, the data stays), on both the netlink and the ioctl path; a
# /dev/ublkbN grows where the kernel has UPDATE_SIZE (6.16), and is
# refused elsewhere with the kernel it needs named, nothing changed.

# vramctl on the guest's daemon.
rctl() { "$(cat "$W/vramctl-path")" --socket "$W/api.sock" "$@"; }

# vramd for these steps, with a state folder of its own.
start_resize_vramd() { start_vramd "$W/resize.log" --state-dir "$W/resize-state" "$@"; }

# t_resize_nbd netlink|ioctl: kernel NBD attached by that path, ext4
# mounted, grown by 64M in place, resize2fs online, the file unchanged.
t_resize_nbd() {
  local dev sum before after idx=()
  stop_vramd 60 > /dev/null
  modprobe ext4 && modprobe nbd || return 1
  rm -rf "$W/resize-state"
  # The ioctl path needs /dev/nbdN to exist, and netlink's earlier steps
  # destroyed the devices they made: load the module afresh (nothing is
  # attached now that vramd stopped) and name one.
  if [ "$1" = ioctl ]; then
    modprobe -r nbd 2>/dev/null; modprobe nbd nbds_max=16 || return 1
    for _ in $(seq 1 50); do [ -b /dev/nbd5 ] && break; sleep 0.1; done
    export VRAMD_FAULTS=1 VRAMD_NBD_ATTACH=ioctl && idx=(--index 5)
  fi
  start_resize_vramd || return 1
  dev=$(rctl volume create nr --size 64M --attach "${idx[@]}" | tail -n 1)
  [ -b "$dev" ] || { echo "no kernel device: $dev"; return 1; }
  grep "volume nr is" "$W/resize.log"
  grep -q "volume nr is .*, $1" "$W/resize.log" || { echo "not attached by $1"; return 1; }
  mkfs.ext4 -q -F "$dev" && mount "$dev" /mnt/kt || return 1
  dd if=/dev/urandom of=/mnt/kt/data bs=1M count=8 status=none && sync || return 1
  sum=$(md5 /mnt/kt/data)
  before=$(df -B1 --output=size /mnt/kt | tail -n 1)
  rctl volume resize nr --size +64M || { umount /mnt/kt; return 1; }
  [ "$(blockdev --getsize64 "$dev")" = $((128 << 20)) ] ||
    { umount /mnt/kt; echo "$dev is $(blockdev --getsize64 "$dev") bytes after the grow"; return 1; }
  resize2fs "$dev" || { umount /mnt/kt; return 1; }
  after=$(df -B1 --output=size /mnt/kt | tail -n 1)
  echo "ext4 on $dev: $before -> $after bytes"
  [ "$after" -gt $((before + (48 << 20))) ] || { umount /mnt/kt; echo "resize2fs did not grow it"; return 1; }
  dd if=/dev/urandom of=/mnt/kt/more bs=1M count=60 status=none && sync || { umount /mnt/kt; return 1; }
  [ "$(md5 /mnt/kt/data)" = "$sum" ] || { umount /mnt/kt; echo "data changed"; return 1; }
  umount /mnt/kt && fsck.ext4 -f -n "$dev" > /dev/null || return 1
  grep "is now $((128 << 20)) bytes" "$W/resize.log" || return 1
  rctl volume delete nr && stop_vramd 60
}

# ublk: resized in place on 6.16 and later; refused on older kernels with
# the version named, the device and the volume keeping their size.
t_resize_ublk() {
  local dev
  stop_vramd 60 > /dev/null
  modprobe ublk_drv || return 1
  rm -rf "$W/resize-state"
  start_resize_vramd || return 1
  dev=$(rctl volume create ur --size 32M --frontend ublk | tail -n 1)
  [ -b "$dev" ] || { echo "no ublk device: $dev"; return 1; }
  if grep -q "ublk: kernel features" "$W/resize.log" &&
     [ $(( $(sed -n 's/.*ublk: kernel features \(0x[0-9a-f]*\).*/\1/p' "$W/resize.log") & (1 << 10) )) != 0 ]; then
    rctl volume resize ur --size +32M || return 1
    [ "$(blockdev --getsize64 "$dev")" = $((64 << 20)) ] || { echo "$dev did not grow"; return 1; }
    echo "$(uname -r): $dev grew in place"
  else
    if rctl volume resize ur --size +32M 2> "$W/resize.err"; then
      echo "a ublk resize was accepted on $(uname -r)"; return 1; fi
    cat "$W/resize.err"
    grep -q "needs Linux 6.16 or later.*this kernel is $(uname -r)" "$W/resize.err" ||
      { echo "the refusal does not name the kernel"; return 1; }
    [ "$(blockdev --getsize64 "$dev")" = $((32 << 20)) ] &&
      [ "$(rctl volume show ur --json | jq .size_bytes)" = $((32 << 20)) ] ||
      { echo "a refused resize changed the size"; return 1; }
  fi
  rctl volume delete ur && stop_vramd 60
}

# The steps, for guest-suite.sh or this script alone.
resize_steps() {
  step resize_nbd_netlink_ext4_online 300 t_resize_nbd netlink
  step resize_nbd_ioctl_ext4_online 300 t_resize_nbd ioctl
  step resize_ublk_or_refusal_names_kernel 300 t_resize_ublk
  stop_vramd 60 > /dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  . "$(dirname "$(realpath "$0")")/guest-lib.sh"
  run_alone resize "$@"
fi
