# guest-elastic.sh: thin volumes and moves on kernel block devices, sourced
# by guest-suite.sh: fstrim on ext4 and swapon --discard give chunks back,
# and a drain while a filesystem is mounted keeps it whole.

# A volume's allocated bytes.
allocated() { vctl --json volume show "$1" | sed -n 's/.*"allocated_bytes": *\([0-9]*\).*/\1/p'; }

# Thin ublk volumes ut (filesystem, 256M) and uts (swap, 64M), 4M chunks.
# uts is concatenated: a chunk is then 4 MiB of the device, two of swap's
# 2 MiB clusters. Striped by 1M over two devices, a chunk would hold
# ranges of four clusters spread over 8 MiB, and the few freed clusters
# the kernel does not discard could pin every chunk (seen in CI).
t_thin_start() {
  [ -x "$(cat "$W/vramctl-path")" ] || { echo "no vramctl in this build"; exit 77; }
  start_vramd "$W/vramd-thin.log" --thin-chunk 4M --thin-stock 2 \
    --volume name=ut,size=256M,frontend=ublk,provisioning=thin,unit=64K \
    --volume name=uts,size=64M,frontend=ublk,provisioning=thin,layout=concat \
    --volume name=ud,size=96M,frontend=ublk,unit=64K --extent-size 16M || return 1
  for v in ut uts ud; do
    d=$(dev_of "$W/vramd-thin.log" $v)
    [ -b "$d" ] || { echo "no block device for $v"; return 1; }
    echo "$d" > "$W/dev.$v"
  done
  [ "$(allocated ut)" = 0 ] && [ "$(allocated uts)" = 0 ]
}

# ext4 on a thin volume: a file takes chunks, fstrim after rm gives them back.
t_thin_fstrim() {
  local d=$1 a0 a1 a2
  mkfs.ext4 -q -F "$d" && mount -o nodiscard "$d" /mnt/kt || return 1
  a0=$(allocated ut)
  dd if=/dev/urandom of=/mnt/kt/big bs=1M count=64 conv=fsync status=none || return 1
  a1=$(allocated ut)
  rm /mnt/kt/big && sync && fstrim -v /mnt/kt || return 1
  sleep 1; a2=$(allocated ut)
  echo "allocated after mkfs $a0, after a 64 MiB file $a1, after rm and fstrim $a2"
  umount /mnt/kt && fsck.ext4 -fn "$d" > /dev/null || return 1
  [ "$a1" -ge $((a0 + 64 * 1048576)) ] && [ "$a2" -le $((a1 - 56 * 1048576)) ]
}

# swapon --discard on a thin volume: pages swapped out take chunks, and
# freeing them (the process ends) discards their clusters.
t_thin_swap_discard() {
  local d=$1 cg=/sys/fs/cgroup/kt-thin a0 a1 a2
  mkswap "$d" > /dev/null && swapon --discard "$d" || return 1
  a0=$(allocated uts)
  echo +memory > /sys/fs/cgroup/cgroup.subtree_control
  mkdir -p $cg /run/kt-thin && echo 8M > $cg/memory.max || return 1
  mount -t tmpfs -o size=100M tmpfs /run/kt-thin || return 1
  sh -c "echo \$\$ > $cg/cgroup.procs; exec head -c 40M /dev/urandom > /run/kt-thin/f" || return 1
  a1=$(allocated uts)
  rm -f /run/kt-thin/f; umount /run/kt-thin; rmdir $cg
  for _ in $(seq 1 50); do a2=$(allocated uts); [ "$a2" -lt "$a1" ] && break; sleep 0.2; done
  sleep 1; a2=$(allocated uts) # what came back, not only the first chunk
  echo "swap allocated at swapon $a0, with 40 MiB pushed out of an 8 MiB memcg $a1, after freeing $a2"
  swapoff "$d" || return 1
  [ "$a1" -ge $((16 * 1048576)) ] && [ "$a2" -lt "$a1" ]
}

# ext4 mounted on a striped thick volume while cpu1 is drained, undrained
# and the volume rebalanced, with a writer running: checksums and fsck hold.
t_drain_mounted() {
  local d=$1 on
  mkfs.ext4 -q -F "$d" && mount "$d" /mnt/kt || return 1
  dd if=/dev/urandom of=/mnt/kt/a bs=1M count=24 status=none || return 1
  (for i in $(seq 1 20); do dd if=/dev/urandom of=/mnt/kt/w$i bs=256k count=4 conv=fsync status=none; done) &
  local writer=$!
  vctl device drain cpu1 > /dev/null || { wait $writer; umount /mnt/kt; return 1; }
  on=$(vctl --json volume show ud | tr -d ' \n' | grep -o '"on":"[a-z0-9]*"' | sort -u | tr '\n' ' ')
  vctl device undrain cpu1 > /dev/null && vctl volume rebalance ud > /dev/null || { wait $writer; umount /mnt/kt; return 1; }
  wait $writer || return 1
  (cd /mnt/kt && md5sum a w* > "$W/dsums") || return 1
  umount /mnt/kt && echo 3 > /proc/sys/vm/drop_caches && mount "$d" /mnt/kt || return 1
  (cd /mnt/kt && md5sum --quiet -c "$W/dsums") || { umount /mnt/kt; echo "checksums differ"; return 1; }
  umount /mnt/kt || return 1
  echo "while drained, ud lived on: $on; $(grep -o 'requests waited at most [0-9.]* ms' "$W/vramd-thin.log" | tail -2 | tr '\n' ' ')"
  [ "$on" = '"on":"cpu0" ' ] && fsck.ext4 -fn "$d" > /dev/null
}

elastic_steps() {
  if step thin_ublk_volumes_created 240 t_thin_start; then
    step thin_ublk_ext4_fstrim_gives_chunks_back 300 on t_thin_fstrim ut
    step thin_ublk_swapon_discard_gives_chunks_back 300 on t_thin_swap_discard uts
    step drain_ublk_ext4_mounted_stays_clean 300 on t_drain_mounted ud
  fi
  stop_vramd 60 > /dev/null
}
