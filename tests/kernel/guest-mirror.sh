#!/bin/bash
# guest-mirror.sh: ext4 on a mirrored ublk volume across a device loss and
# a repair, INSIDE the QEMU guest: sourced by guest-suite.sh, or run alone
# by `tests/kernel/check-kernel.sh guest-mirror.sh`.  vramd runs on three
# PoCL devices with tests/shim/libclfault.so preloaded, so a device is lost
# for real (its OpenCL calls fail; no flag is set by hand): cpu1 goes while
# a writer fsyncs files, the volume serves on degraded with no error, a
# repair rebuilds the copy on cpu2 while another writer runs, then cpu0
# goes too and the copy rebuilt on cpu2 alone must hold every file, with
# fsck clean.

# A vramd wrapper with the shim preloaded, armed by the file $W/clfault.
# In a sanitizer build libasan must come first, and the linker PoCL runs
# inherits it: tests/lsan.supp names that linker's leaks, as in make check.
clfault_vramd() {
  local asan lsan=; asan=$(ldd "$VRAMD" | awk '/libasan/ { print $3 }')
  [ -n "$asan" ] && lsan="LSAN_OPTIONS=suppressions=$(dirname "$SUITE")/../lsan.supp:print_suppressions=0 "
  printf '#!/bin/sh\n%sVD_CLFAULT_FILE="%s" LD_PRELOAD="%s" exec "%s" "$@"\n' \
    "$lsan" "$W/clfault" "${asan:+$asan:}$1" "$VRAMD" > "$W/vramd-clfault" && chmod +x "$W/vramd-clfault"
}
# Lose the device at pool index $1 for good (the file is written whole).
lose() { echo "lost $1 CL_DEVICE_NOT_AVAILABLE" > "$W/clfault.new" && mv "$W/clfault.new" "$W/clfault"; }
# A field of the mirror's `volume show --json`, through jq.
mvol() { vctl --json volume show um | jq -r "$1"; }
# Failed requests vramd counted on the mirror, over every operation.
merrors() { mvol '[.io[].errors] | add'; }
# Block-layer I/O errors the kernel logged so far.
kerrors() { dmesg | grep -c "I/O error"; }
# wait_log PATTERN SECONDS: until the vramd log has a line matching PATTERN.
wait_log() {
  for _ in $(seq 1 $(($2 * 10))); do grep -q "$1" "$W/mirror.log" && return 0; sleep 0.1; done
  echo "no '$1' in the log after $2 s: $(tail -n 5 "$W/mirror.log")"; return 1
}
# writer PREFIX N: N files of 1 MiB, each fsynced, each a whole dd or a failure.
writer() {
  for i in $(seq 1 "$2"); do
    dd if=/dev/urandom of="/mnt/kt/$1$i" bs=256k count=4 conv=fsync status=none || exit 1
  done
}

# A mirror um over cpu0 and cpu1 (crc32c checksums) on ublk, 96 MiB.
t_mirror_start() {
  local shim d; shim=$(cat "$W/build-path")/tests/shim/libclfault.so
  [ -f "$shim" ] || { echo "$shim is not built (make tests/shim/libclfault.so; make check-kernel builds it)"; return 1; }
  command -v jq > /dev/null || { echo "jq is missing (apt-get install jq)"; return 1; }
  modprobe ublk_drv && modprobe ext4 && [ -c /dev/ublk-control ] || return 1
  clfault_vramd "$shim" || return 1
  rm -f "$W/clfault"
  export POCL_DEVICES="pthread pthread pthread"
  local VRAMD=$W/vramd-clfault
  start_vramd "$W/mirror.log" --state-dir "$W/mirror-state" --extent-size 16M \
    --volume name=um,size=96M,layout=mirror,devices=cpu0+cpu1,frontend=ublk,integrity=crc32c || return 1
  d=$(dev_of "$W/mirror.log" um)
  [ -b "$d" ] || { echo "no block device for um: $(tail -n 5 "$W/mirror.log")"; return 1; }
  echo "$d" > "$W/dev.um"
  echo "um is $d: $(mvol '[.layout, .copies, .copies_healthy, .state, .integrity, (.devices | join("+"))] | join(",")')"
  [ "$(mvol '[.layout, .copies_healthy, .state, .integrity, (.devices | join("+"))] | join(",")')" = \
    "mirror,2,ok,crc32c,cpu0+cpu1" ]
}

# ext4 with files; cpu1 is lost while a writer fsyncs: the writer sees no
# error, nor does the kernel or vramd's counters; the mirror is degraded.
t_mirror_loss() {
  local d=$1 e0 w
  mkfs.ext4 -q -F "$d" && mount "$d" /mnt/kt || return 1
  dd if=/dev/urandom of=/mnt/kt/big bs=1M count=16 conv=fsync status=none || return 1
  mkdir -p /mnt/kt/small && for i in $(seq 1 40); do
    head -c $((RANDOM * 3 + 1)) /dev/urandom > /mnt/kt/small/f$i; done
  sync; e0=$(kerrors)
  writer w 32 & w=$!
  for _ in $(seq 1 600); do [ -e /mnt/kt/w4 ] || ! kill -0 $w 2>/dev/null && break; sleep 0.1; done
  kill -0 $w 2>/dev/null || { wait $w; echo "the writer ended (rc $?) before the loss"; return 1; }
  lose 1
  wait_log "cpu1: device lost" 60 || { wait $w; return 1; }
  local during; during=$(find /mnt/kt -maxdepth 1 -name 'w*' | wc -l)
  wait $w || { echo "the writer failed after cpu1 was lost"; return 1; }
  sync
  grep -E "cpu1: device lost|volume um: a copy went out of sync" "$W/mirror.log" | sed 's/^vramd: //'
  echo "cpu1 lost with $during of 32 writer files begun; $(mvol '"state \(.state), \(.copies_healthy) of \(.copies) copies in sync"'); vramd counted $(merrors) failed requests, the kernel $(($(kerrors) - e0)) I/O errors"
  (cd /mnt/kt && find . -type f -print0 | xargs -0 md5sum > "$W/msums") || return 1
  [ "$(mvol '[.state, .copies_healthy] | join(",")')" = degraded,1 ] && [ "$(merrors)" = 0 ] &&
    [ "$(kerrors)" = "$e0" ] && [ "$(wc -l < "$W/msums")" = 73 ]
}

# vramctl volume repair onto cpu2 while another writer runs: the job is
# done, the mirror is in sync on cpu0 and cpu2, and no request failed.
t_mirror_repair() {
  local e0 w t0; e0=$(kerrors)
  writer r 16 & w=$!
  t0=$(now)
  vctl volume repair um --device cpu2 > "$W/repair.out" 2>&1 ||
    { wait $w; cat "$W/repair.out"; echo "repair failed"; return 1; }
  echo "repair onto cpu2: $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s end to end"
  wait $w || { echo "the writer failed during the repair"; return 1; }
  sync
  vctl --json job list | jq -r '[.jobs[] | select(.kind == "repair")] | last |
    "job \(.id): \(.state), \(.done_bytes) of \(.total_bytes) bytes\(if .done_bytes == .total_bytes and .total_bytes > 0 then " (all)" else "" end) at \(.rate_bytes_per_second / 1048576 | floor) MiB/s"' |
    tee "$W/repair.job"
  grep "volume um: copy 2 of 2 rebuilt on cpu2" "$W/mirror.log" | sed 's/^vramd: //' || { echo "no rebuilt line"; return 1; }
  echo "after: $(mvol '"state \(.state), \(.copies_healthy) of \(.copies) copies in sync, devices \(.devices | join("+")), extents on \([.extents[].on] | unique | join("+"))"'); $(merrors) failed requests, $(($(kerrors) - e0)) kernel I/O errors"
  (cd /mnt/kt && find . -type f -print0 | xargs -0 md5sum > "$W/msums") || return 1
  grep -q ": done, [0-9]* of [0-9]* bytes (all)" "$W/repair.job" &&
    [ "$(mvol '[.state, .copies_healthy, (.devices | join("+")), ([.extents[].on] | unique | join("+"))] | join(",")')" = \
      "ok,2,cpu0+cpu2,cpu0+cpu2" ] && [ "$(merrors)" = 0 ] && [ "$(kerrors)" = "$e0" ] &&
    [ "$(wc -l < "$W/msums")" = 89 ]
}

# cpu0 goes too: remounted with the caches dropped, every file is read
# from the copy rebuilt on cpu2 alone and matches; fsck is clean.
t_mirror_last_copy() {
  local d=$1
  umount /mnt/kt || return 1
  lose 0
  echo 3 > /proc/sys/vm/drop_caches && blockdev --flushbufs "$d" && mount "$d" /mnt/kt || return 1
  (cd /mnt/kt && md5sum --quiet -c "$W/msums") || { umount /mnt/kt; echo "files differ when read from cpu2 alone"; return 1; }
  umount /mnt/kt || return 1
  fsck.ext4 -fn "$d" || { echo "fsck found errors"; return 1; }
  wait_log "cpu0: device lost" 30 || return 1
  echo "cpu0 lost too: $(wc -l < "$W/msums") files match as read from cpu2 alone, fsck clean; $(mvol '"state \(.state), \(.copies_healthy) of \(.copies) copies in sync"'), $(merrors) failed requests"
  [ "$(mvol '[.state, .copies_healthy] | join(",")')" = degraded,1 ] && [ "$(merrors)" = 0 ]
}

mirror_steps() {
  if step mirror_ublk_volume_created 300 t_mirror_start; then
    step mirror_ublk_ext4_device_lost_under_writer_degraded 300 on t_mirror_loss um &&
      step mirror_ublk_repair_onto_third_device_in_sync 300 t_mirror_repair &&
      step mirror_ublk_rebuilt_copy_alone_md5_fsck_clean 300 on t_mirror_last_copy um
    umount /mnt/kt 2> /dev/null
    # SIGTERM with a device lost: a clean exit, no sanitizer report
    step mirror_vramd_exits_clean 90 stop_vramd 60
  fi
  stop_vramd 60 > /dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  . "$(dirname "$(realpath "$0")")/guest-lib.sh"
  run_alone mirror "$@"
fi
