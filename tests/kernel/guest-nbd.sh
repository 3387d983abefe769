# guest-nbd.sh: kernel NBD attach tests (vramd's own attach, no nbd-client),
# sourced by guest-suite.sh; they mirror the ublk ones.

# The default number of connections: one per CPU, at most 4.
default_conns() { local n; n=$(nproc); echo $((n > 4 ? 4 : n)); }

# With the nbd module neither loaded nor loadable, there is no netlink
# family: attach falls back to the ioctls, finds no /dev/nbdN and names
# the cause.  (Resolving the family would load the module on demand.)
t_nbd_unavailable() {
  local mp; mp=$(cat /proc/sys/kernel/modprobe)
  [ -e /dev/nbd0 ] && { echo "nbd is already loaded"; exit 77; }
  echo /bin/false > /proc/sys/kernel/modprobe || return 1
  start_vramd "$W/nonbd.log" --volume name=non,size=16M,frontend=nbd,attach=1
  local rc=$?
  echo "$mp" > /proc/sys/kernel/modprobe
  [ $rc = 0 ] && stop_vramd 30 || return 1
  grep "volume non:" "$W/nonbd.log"
  grep -q "volume non: kernel NBD is not available.*modprobe nbd" "$W/nonbd.log"
}

# Volumes: n0 (filesystem, SIGTERM), ns (swap), nf on /dev/nbd20 (fio);
# a second volume asking for /dev/nbd20 is refused.  No modprobe: the
# netlink attach loads the module, and creates /dev/nbd20 although the
# module made only nbds_max (16) devices.
t_nbd_start() {
  local max
  start_volumes "$W/vramd-nbd.log" n frontend=nbd,attach=1 20 /dev/nbd20 || return 1
  max=$(cat /sys/module/nbd/parameters/nbds_max) || return 1
  echo "nbd loaded on demand with nbds_max=$max; /dev/nbd20 created on demand"
  [ "$max" -le 20 ] && grep -q "volume nf is /dev/nbd20 (kernel NBD attach, $(default_conns) connections*, netlink)" "$W/vramd-nbd.log"
}

# Voluntary context switches of the vramd threads named $1 (a connection's
# reader, which sleeps in recv between requests); empty if there is none.
ctxsw() {
  local t
  for t in /proc/"$(cat "$W/vramd.pid")"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = "$1" ] && awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status"
  done | awk '{s += $1; n++} END {if (n) print s}'
}

# Every connection carries requests: one hardware queue per connection in
# sysfs, the API and vramctl count them, and direct writes from each
# queue's CPU wake that connection's reader in vramd.
t_nbd_conns() {
  local d=$1 vol=$2 n b ctl k cpu before after
  n=$(default_conns); b=$(basename "$d"); ctl=$(cat "$W/vramctl-path")
  [ "$n" -ge 2 ] || { echo "one vCPU: the default is one connection"; exit 77; }
  echo "$b: hardware queues $(ls /sys/block/$b/mq | tr '\n' ' ')"
  [ "$(ls /sys/block/$b/mq | wc -l)" = "$n" ] || return 1
  "$ctl" --socket "$W/api.sock" volume show "$vol" | grep -E "where|clients"
  "$ctl" --socket "$W/api.sock" volume show "$vol" | grep -q "^where: .*($n kernel connections)" || return 1
  [ "$("$ctl" --socket "$W/api.sock" volume show "$vol" --json | jq .clients)" = "$n" ] || return 1
  for k in $(seq 0 $((n - 1))); do
    cpu=$(cut -d, -f1 < /sys/block/$b/mq/$k/cpu_list)
    before=$(ctxsw "${b}c$k")
    [ -n "$before" ] || { echo "no vramd thread ${b}c$k"; return 1; }
    taskset -c "$cpu" dd if=/dev/urandom of="$d" bs=4k count=200 seek=$((k * 200)) \
      oflag=direct status=none || return 1
    after=$(ctxsw "${b}c$k")
    echo "queue $k (cpu $cpu): connection ${b}c$k reader woke $((after - before)) times for 200 writes"
    [ $((after - before)) -ge 100 ] || return 1
  done
}

# fio, 4 KiB random reads and writes at depth 16 per job, one job per
# CPU: IOPS with one connection against the default.  Under TCG the
# figures say little; the ratio is the sanity check.
t_nbd_measure() {
  local n c d r w; n=$(default_conns)
  for c in 1 "$n"; do
    start_vramd "$W/nm$c.log" --nbd-attach-connections "$c" \
      --volume name=nm,size=64M,layout=stripe,devices=all,frontend=nbd,attach=1 || return 1
    d=$(dev_of "$W/nm$c.log" nm)
    [ -b "$d" ] || return 1
    dd if=/dev/urandom of="$d" bs=1M count=64 oflag=direct status=none || return 1
    for rw in randread randwrite; do
      fio --name=m --filename="$d" --ioengine=io_uring --direct=1 --rw=$rw --bs=4k \
        --iodepth=16 --numjobs="$n" --cpus_allowed=0-$((n - 1)) --cpus_allowed_policy=split \
        --time_based --runtime="${MEASURE_S:-8}" --group_reporting --output-format=terse \
        > "$W/nm$c.$rw" || return 1
    done
    r=$(awk -F';' '{print $8}' "$W/nm$c.randread"); w=$(awk -F';' '{print $49}' "$W/nm$c.randwrite")
    echo "$c connection(s): randread $r IOPS, randwrite $w IOPS"
    echo "$r $w" > "$W/nm$c.iops"
    stop_vramd 60 || return 1
    [ "${r:-0}" -gt 0 ] && [ "${w:-0}" -gt 0 ] || return 1
  done
  read -r r1 w1 < "$W/nm1.iops"; read -r rn wn < "$W/nm$n.iops"
  awk -v n="$n" -v r1="$r1" -v w1="$w1" -v rn="$rn" -v wn="$wn" \
    'BEGIN{printf "%d connections / 1: randread x%.2f, randwrite x%.2f\n", n, rn/r1, wn/w1}'
}

# With nbd-staging 1M a request may carry at most 1 MiB: attach must lower
# max_sectors_kb so the kernel never sends more, and 4 MiB direct writes
# (split by the kernel) read back intact.
# It runs on the ioctl fallback (a test hook), with two connections.
t_nbd_small_staging() {
  local kb
  modprobe nbd || return 1
  VRAMD_FAULTS=1 VRAMD_NBD_ATTACH=ioctl start_vramd "$W/nbd-small.log" --nbd-staging 1M \
    --nbd-attach-connections 2 \
    --volume name=nsm,size=32M,layout=stripe,devices=all,frontend=nbd,attach=1,index=6 || return 1
  [ -b /dev/nbd6 ] || { cat "$W/nbd-small.log"; return 1; }
  grep "volume nsm is" "$W/nbd-small.log"
  grep -q "volume nsm is /dev/nbd6 (kernel NBD attach, 2 connections, ioctl" "$W/nbd-small.log" &&
    [ "$(ls /sys/block/nbd6/mq | wc -l)" = 2 ] || return 1
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

# SIGSTOP vramd for 2 s once the kernel has taken DEV's connections (its
# pid in sysfs: with the ioctls, DO_IT has begun), then SIGCONT.
stop_cont_when_connected() {
  local pid b; pid=$(cat "$W/vramd.pid"); b=$(basename "$1")
  for _ in $(seq 1 100); do [ -e "/sys/block/$b/pid" ] && break; sleep 0.1; done
  [ -e "/sys/block/$b/pid" ] || { echo "$1 never connected"; return 1; }
  kill -STOP "$pid" && sleep 2 && kill -CONT "$pid"
}

# SIGSTOP for 2 s.  A netlink device waits it out: I/O resumes and
# nothing is logged.  The ioctl path (forced by a test hook) loses the
# device when DO_IT's wait is interrupted, and must say so at error level.
t_nbd_sigstop() {
  start_vramd "$W/nbd-stop.log" \
    --volume name=nst,size=16M,layout=stripe,devices=all,frontend=nbd,attach=1,index=3 || return 1
  stop_cont_when_connected /dev/nbd3 || return 1
  dd if=/dev/urandom of=/dev/nbd3 bs=4k count=16 oflag=direct status=none || return 1
  dd if=/dev/nbd3 of=/dev/null bs=4k count=16 iflag=direct status=none || return 1
  ! grep "dropped /dev/nbd3" "$W/nbd-stop.log" || { echo "netlink device dropped"; return 1; }
  echo "netlink: /dev/nbd3 served I/O after SIGSTOP and SIGCONT"
  stop_vramd 30 || return 1
  # The netlink device was destroyed on disconnect; the ioctls need one
  # that the module made at load.
  [ -b /dev/nbd9 ] || { echo "no /dev/nbd9 for the ioctl half"; return 1; }
  VRAMD_FAULTS=1 VRAMD_NBD_ATTACH=ioctl start_vramd "$W/nbd-stop-ioctl.log" \
    --volume name=nst,size=16M,layout=stripe,devices=all,frontend=nbd,attach=1,index=9 || return 1
  stop_cont_when_connected /dev/nbd9 || return 1
  for _ in $(seq 1 50); do
    grep -q "vramd: error: nbd: the kernel dropped /dev/nbd9 of volume nst" "$W/nbd-stop-ioctl.log" && break
    sleep 0.2
  done
  grep "dropped /dev/nbd9" "$W/nbd-stop-ioctl.log" ||
    { cat "$W/nbd-stop-ioctl.log"; dmesg | tail -5; echo "ioctl: no error line after SIGSTOP"; return 1; }
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
    step nbd_attach_every_connection_used 120 on t_nbd_conns nf nf
    step nbd_attach_delete_mounted_refused_then_forced 120 on t_delete_busy ns ns
    step nbd_attach_sigterm_with_mounted_fs 120 on t_sigterm_mounted n0 "$W/vramd-nbd.log"
  fi
  stop_vramd 60 > /dev/null
  step nbd_attach_small_staging_limits_requests 180 t_nbd_small_staging
  step nbd_attach_sigstop_netlink_survives_ioctl_logged 180 t_nbd_sigstop
  stop_vramd 60 > /dev/null
  step nbd_attach_fio_1_vs_default_connections 300 t_nbd_measure
}
