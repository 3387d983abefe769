# guest-nbd.sh: kernel NBD attach tests (vramd's own attach, no nbd-client),
# sourced by guest-suite.sh; they mirror the ublk ones.

# Before the nbd module is loaded, attach fails with the cause named.
t_nbd_unavailable() {
  [ -e /dev/nbd0 ] && { echo "nbd is already loaded"; exit 77; }
  start_vramd "$W/nonbd.log" --volume name=non,size=16M,frontend=nbd,attach=1 || return 1
  stop_vramd 30 || return 1
  grep "volume non:" "$W/nonbd.log"
  grep -q "volume non: kernel NBD is not available.*modprobe nbd" "$W/nonbd.log"
}

# Volumes: n0 (filesystem, SIGTERM), ns (swap), nf on /dev/nbd5 (fio),
# and a second volume asking for /dev/nbd5, which must be refused at start.
t_nbd_start() {
  modprobe nbd nbds_max=8 && [ -b /dev/nbd7 ] || return 1
  start_volumes "$W/vramd-nbd.log" n frontend=nbd,attach=1 5 /dev/nbd5
}

# With nbd-staging 1M a request may carry at most 1 MiB: attach must lower
# max_sectors_kb so the kernel never sends more, and 4 MiB direct writes
# (split by the kernel) read back intact.
t_nbd_small_staging() {
  local kb
  start_vramd "$W/nbd-small.log" --nbd-staging 1M \
    --volume name=nsm,size=32M,layout=stripe,devices=all,frontend=nbd,attach=1,index=6 || return 1
  [ -b /dev/nbd6 ] || { cat "$W/nbd-small.log"; return 1; }
  kb=$(cat /sys/block/nbd6/queue/max_sectors_kb)
  echo "/dev/nbd6 max_sectors_kb $kb"
  [ "$kb" -le 1024 ] || return 1
  head -c 16M /dev/urandom > "$W/small.bin"
  dd if="$W/small.bin" of=/dev/nbd6 bs=4M oflag=direct status=none || return 1
  dd if=/dev/nbd6 of="$W/small.out" bs=4M count=4 iflag=direct status=none || return 1
  cmp "$W/small.bin" "$W/small.out" || return 1
  ! grep -q "EOVERFLOW\|too large" "$W/nbd-small.log" || return 1
  stop_vramd 30
}

# SIGSTOP interrupts the kernel's NBD_DO_IT wait, and the kernel then
# drops the device (a limit of the ioctl interface, docs/reliability.md):
# vramd must say so at error level, naming the device and the volume, and
# keep serving and stop cleanly.
t_nbd_sigstop_logged() {
  local pid
  start_vramd "$W/nbd-stop.log" \
    --volume name=nst,size=16M,layout=stripe,devices=all,frontend=nbd,attach=1,index=3 || return 1
  pid=$(cat "$W/vramd.pid")
  kill -STOP "$pid" && sleep 2 && kill -CONT "$pid" || return 1
  for _ in $(seq 1 50); do
    grep -q "<3>vramd: nbd: the kernel dropped /dev/nbd3 of volume nst" "$W/nbd-stop.log" && break
    sleep 0.2
  done
  grep "dropped /dev/nbd3" "$W/nbd-stop.log" || { echo "no error line after SIGSTOP"; return 1; }
  "$(cat "$W/vramctl-path")" --socket "$W/api.sock" volume show nst > /dev/null || return 1
  stop_vramd 30
}

# Called by guest-suite.sh after the ublk steps.
nbd_steps() {
  cp "$W/vramd.log" "$W/vramd-ublk.log" 2>/dev/null
  step nbd_attach_unavailable_names_cause 300 t_nbd_unavailable
  if step nbd_attach_volumes_created 240 t_nbd_start; then
    step nbd_attach_ext4_mkfs_mount_remount_md5_fsck 300 on t_ext4 n0
    step nbd_attach_swap_under_memcg_pressure 300 on t_swap ns
    step nbd_attach_fio_io_uring_verify 300 on t_fio nf
    step nbd_attach_delete_mounted_refused_then_forced 120 on t_delete_busy ns ns
    step nbd_attach_sigterm_with_mounted_fs 120 on t_sigterm_mounted n0 "$W/vramd-nbd.log"
  fi
  stop_vramd 60 > /dev/null
  step nbd_attach_small_staging_limits_requests 180 t_nbd_small_staging
  step nbd_attach_sigstop_says_device_dropped 180 t_nbd_sigstop_logged
}
