#!/bin/bash
# guest-suite.sh BUILDDIR: the kernel tests, run INSIDE the QEMU guest by
# tests/kernel/check-kernel.sh.  vramd runs in the guest on two PoCL devices
# with volumes striped over both; the tests use what users use: mkfs, mount,
# fsck, swap under memory pressure, fio, and stopping the daemon while a
# device is mounted.  Exit status: the number of failed steps.
set -u
SUITE=$(realpath "$0")
HERE=$(dirname "$SUITE")
. "$HERE/guest-lib.sh"

[ -f "$HERE/guest-nbd.sh" ] && . "$HERE/guest-nbd.sh"
[ -f "$HERE/guest-elastic.sh" ] && . "$HERE/guest-elastic.sh"
[ -f "$HERE/guest-mirror.sh" ] && . "$HERE/guest-mirror.sh"
. "$HERE/guest-attach.sh"
[ -f "$HERE/guest-resize.sh" ] && . "$HERE/guest-resize.sh"
[ -f "$HERE/guest-nvmet.sh" ] && . "$HERE/guest-nvmet.sh"

# Before the module is loaded, a ublk volume fails with the cause named.
t_ublk_unavailable() {
  [ -e /dev/ublk-control ] && { echo "ublk_drv is already loaded"; exit 77; }
  start_vramd "$W/noublk.log" --volume name=nou,size=16M,frontend=ublk || return 1
  stop_vramd 30 || return 1
  grep "volume nou:" "$W/noublk.log"
  grep -q "ublk is not available: /dev/ublk-control does not exist.*modprobe ublk_drv" "$W/noublk.log"
}

t_modules() {
  modprobe ublk_drv && [ -c /dev/ublk-control ] && modprobe ext4
  [ -c /dev/ublk-control ] && grep -qw ext4 /proc/filesystems
}

# Volumes: u0 (filesystem, SIGTERM), us (swap), uf at a fixed id 7 (fio),
# and a second volume asking for id 7, which must be refused at start.
t_ublk_start() {
  start_volumes "$W/vramd.log" u frontend=ublk 7 /dev/ublkb7
}

# Block limits carry the stripe geometry: 64 KiB unit over 2 devices.
t_ublk_params() {
  local q=/sys/block/$(basename "$(cat "$W/dev.u0")")/queue
  grep -H . $q/logical_block_size $q/physical_block_size $q/chunk_sectors $q/minimum_io_size \
    $q/optimal_io_size $q/discard_granularity $q/discard_max_bytes $q/write_zeroes_max_bytes \
    $q/max_sectors_kb | sed "s|$q/||"
  [ "$(cat $q/logical_block_size)" = 4096 ] && [ "$(cat $q/chunk_sectors)" = 128 ] &&
    [ "$(cat $q/minimum_io_size)" = 65536 ] && [ "$(cat $q/optimal_io_size)" = 131072 ] &&
    [ "$(cat $q/discard_max_bytes)" -gt 0 ] && [ "$(cat $q/write_zeroes_max_bytes)" -gt 0 ]
}

# Discard and write-zeroes really zero the range.
t_ublk_zero() {
  local d; d=$(cat "$W/dev.uf")
  dd if=/dev/urandom of="$d" bs=1M count=4 oflag=direct status=none || return 1
  blkdiscard -o 0 -l 1048576 "$d" && blkdiscard -z -o 1048576 -l 1048576 "$d" || return 1
  [ "$(dd if="$d" bs=1M count=2 iflag=direct status=none | tr -d '\0' | wc -c)" = 0 ] &&
    [ "$(dd if="$d" bs=1M skip=2 count=1 iflag=direct status=none | tr -d '\0' | wc -c)" -gt 0 ]
}

# SIGKILL: no recovery mode, so the kernel removes the device by itself.
t_ublk_sigkill() {
  start_vramd "$W/kill.log" --volume name=uk,size=16M,frontend=ublk || return 1
  local d pid; d=$(dev_of "$W/kill.log" uk); pid=$(cat "$W/vramd.pid")
  [ -b "$d" ] || return 1
  kill -KILL "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  for _ in $(seq 1 300); do [ -e "$d" ] || break; sleep 0.1; done
  [ ! -e "$d" ] || { echo "$d still exists 30 s after SIGKILL"; return 1; }
  echo "$d removed by the kernel after SIGKILL"
  dd if="$d" of=/dev/null bs=4k count=1 2>/dev/null && return 1
  return 0
}

step_entry "$@"
suite_init "${1:?usage: guest-suite.sh BUILDDIR}"
step ublk_unavailable_names_cause 300 t_ublk_unavailable
step modules_ublk_ext4 60 t_modules
if step ublk_volumes_created 240 t_ublk_start; then
  step ublk_block_limits 30 t_ublk_params
  step ublk_discard_write_zeroes_zero 120 t_ublk_zero
  step ublk_ext4_mkfs_mount_remount_md5_fsck 300 on t_ext4 u0
  step ublk_swap_under_memcg_pressure 300 on t_swap us
  step ublk_fio_io_uring_verify 300 on t_fio uf
  step ublk_delete_mounted_refused_then_forced 120 on t_delete_busy us us
  step ublk_sigterm_with_mounted_fs 120 on t_sigterm_mounted u0 "$W/vramd.log"
fi
stop_vramd 60 > /dev/null
step ublk_sigkill_device_removed 180 t_ublk_sigkill
declare -F nbd_steps > /dev/null && nbd_steps
declare -F elastic_steps > /dev/null && elastic_steps
declare -F mirror_steps > /dev/null && mirror_steps
attach_steps
declare -F resize_steps > /dev/null && resize_steps
declare -F nvmet_steps > /dev/null && nvmet_steps
echo "guest suite: $FAILS failure(s) in $(awk -v a="$T0" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}') s"
exit "$FAILS"
