# guest-lib.sh: helpers for the kernel tests, sourced INSIDE the QEMU guest
# (root, the host's filesystem through 9p + overlay).  Every step runs in
# its own process under a time limit and prints PASS, FAIL or SKIP; the same
# line goes to $R/results, which the host reads back.
R=${R:-/run/vmout}
W=${W:-/run/kt}
mkdir -p "$W" /mnt/kt
FAILS=0
export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"

now() { date +%s.%N; }
# Append a result line both to the console and to the results file.
result() { echo "$*" | tee -a "$R/results"; }

# step NAME LIMIT FUNC [ARGS...]: run FUNC in a fresh bash (this script
# re-entered with __step) under `timeout`; exit 77 from FUNC means SKIP.
step() {
  local name=$1 limit=$2 t0 out rc dt; shift 2
  t0=$(now)
  out=$(timeout -k 10 "$limit" bash "$SUITE" __step "$@" 2>&1); rc=$?
  dt=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
  [ -n "$out" ] && printf '%s\n' "$out" | sed "s/^/  [$name] /"
  case $rc in
    0) result "PASS $name (${dt}s)" ;;
    77) result "SKIP $name: $(printf '%s' "$out" | tail -n 1)" ;;
    124|137) result "FAIL $name (timed out after ${limit}s)"; FAILS=$((FAILS + 1)) ;;
    *) result "FAIL $name (rc=$rc, ${dt}s): $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')"
       FAILS=$((FAILS + 1)) ;;
  esac
  return $rc
}

# A step re-enters its suite script with __step FUNC ARGS: run FUNC, exit.
step_entry() {
  [ "${1:-}" = __step ] || return 0
  shift
  VRAMD=$(cat "$W/vramd-path")
  "$@"
  exit $?
}

# run_alone NAME BUILDDIR: guest-NAME.sh run by itself rather than sourced
# by the suite: its NAME_steps (or, re-entered, the one step), then exit
# with the number of failures.
run_alone() {
  local name=$1; shift
  set -u
  SUITE=$(realpath "$0")
  step_entry "$@"
  suite_init "${1:?usage: guest-$name.sh BUILDDIR}"
  "${name}_steps"
  echo "$name steps: $FAILS failure(s) in $(awk -v a="$T0" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}') s"
  exit "$FAILS"
}

# suite_init BUILDDIR: the binaries of that build, for this run's steps.
suite_init() {
  BUILD=$(realpath "$1") || exit 2
  VRAMD=$BUILD/daemon/vramd
  echo "$VRAMD" > "$W/vramd-path"
  echo "$BUILD/cli/vramctl" > "$W/vramctl-path"
  echo "$BUILD" > "$W/build-path"
  T0=$(now)  # shellcheck disable=SC2034  # the suite reports its time
  echo "kernel $(uname -r), $(nproc) vCPUs, vramd: $VRAMD"
}

# vramctl against the guest's vramd.
vctl() { "$(cat "$W/vramctl-path")" --socket "$W/api.sock" "$@"; }
md5() { md5sum < "$1" | cut -d' ' -f1; }
vmstat() { awk -v k="$1" '$1 == k {print $2}' /proc/vmstat; }

# start_vramd LOG ARGS...: vramd on private sockets; waits for "ready:".
start_vramd() {
  local log=$1; shift
  "$VRAMD" --api-socket "$W/api.sock" --nbd-socket "$W/nbd.sock" --metrics-listen off \
    --state-dir "$W/state" --device-types cpu --reserve 0 "$@" > "$log" 2>&1 &
  echo $! > "$W/vramd.pid"
  echo "$log" > "$W/vramd.logpath"
  # the first start in a guest is slow: PoCL compiles the engine's kernels
  for _ in $(seq 1 480); do
    grep -q "ready:" "$log" && return 0
    kill -0 "$(cat "$W/vramd.pid")" 2>/dev/null || { cat "$log"; echo "vramd exited"; return 1; }
    sleep 0.5
  done
  cat "$log"; echo "vramd did not become ready in 240 s"; return 1
}

# stop_vramd LIMIT: SIGTERM and wait up to LIMIT seconds for the exit.
stop_vramd() {
  local pid; pid=$(cat "$W/vramd.pid" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 $((${1:-30} * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$W/vramd.pid"
      # a sanitizer build reports at exit: any report fails the step
      ! grep -B2 -A20 "ERROR: [A-Za-z]*Sanitizer\|runtime error:" "$(cat "$W/vramd.logpath")"
      return
    fi
    sleep 0.1
  done
  echo "vramd ($pid) still running ${1:-30} s after SIGTERM"; return 1
}

# start_volumes LOG P OPTS ID DEV [VRAMD ARGS...]: vramd with volumes P0
# (filesystem), Ps (swap) and Pf at id ID (fio; must become DEV), all
# striped over both devices; first, a Pclash that also asks for ID must
# make vramd refuse to start (exit 2), naming both.
start_volumes() {
  local log=$1 p=$2 o=$3 id=$4 want=$5 v d rc=0
  shift 5
  local vols=(--volume "name=${p}0,size=64M,layout=stripe,devices=all,unit=64K,$o"
              --volume "name=${p}s,size=48M,layout=stripe,devices=all,$o"
              --volume "name=${p}f,size=32M,layout=stripe,devices=all,unit=4K,$o,index=$id")
  timeout 60 "$VRAMD" --api-socket "$W/api.sock" --nbd-socket "$W/nbd.sock" --metrics-listen off \
    --state-dir "$W/state" --device-types cpu --reserve 0 "$@" "${vols[@]}" \
    --volume "name=${p}clash,size=16M,$o,index=$id" > "$log.clash" 2>&1 || rc=$?
  [ $rc = 2 ] && grep -q "index $id is given to both '${p}f' and '${p}clash'" "$log.clash" ||
    { cat "$log.clash"; echo "a second volume at index $id: exit $rc, not 2 with both names"; return 1; }
  start_vramd "$log" "$@" "${vols[@]}" || return 1
  grep -E "swap safety|volume|ublk:|nbd:" "$log"
  for v in "${p}0" "${p}s" "${p}f"; do
    d=$(dev_of "$log" "$v")
    [ -b "$d" ] || { echo "no block device for $v"; return 1; }
    echo "$d" > "$W/dev.$v"
  done
  [ "$(cat "$W/dev.${p}f")" = "$want" ] || { echo "${p}f is not $want"; return 1; }
  [ "$(blockdev --getsize64 "$(cat "$W/dev.${p}0")")" = 67108864 ] || { echo "${p}0 is not 64 MiB"; return 1; }
}

# The device path vramd logged for volume $2 in log $1.
dev_of() { sed -n "s/.*volume $2 is \(\/dev\/[a-z0-9]*\).*/\1/p" "$1" | tail -n 1; }

# Filesystem round trip: mkfs, files with checksums, remount, compare, fsck.
t_ext4() {
  local dev=$1 mb=${EXT4_MB:-12}
  mkfs.ext4 -q -F "$dev" && mount "$dev" /mnt/kt || return 1
  dd if=/dev/urandom of=/mnt/kt/big bs=1M count="$mb" status=none || return 1
  mkdir -p /mnt/kt/small && for i in $(seq 1 50); do
    head -c $((RANDOM * 3 + 1)) /dev/urandom > /mnt/kt/small/f$i; done
  (cd /mnt/kt && find . -type f ! -name sums -print0 | xargs -0 md5sum > "$W/sums") || return 1
  umount /mnt/kt && echo 3 > /proc/sys/vm/drop_caches && blockdev --flushbufs "$dev" || return 1
  mount "$dev" /mnt/kt || return 1
  (cd /mnt/kt && md5sum --quiet -c "$W/sums") || { umount /mnt/kt; echo "checksums differ after remount"; return 1; }
  echo "$(wc -l < "$W/sums") files, $mb MiB + small files, checksums match after remount; $(df -h /mnt/kt | tail -1)"
  umount /mnt/kt || return 1
  fsck.ext4 -fn "$dev"
}

# Swap under memory pressure: random pages (zero pages never reach the
# device) pushed out of an 8 MiB memory cgroup, read back and compared.
t_swap() {
  local dev=$1 cg=/sys/fs/cgroup/kt-swap mb=${SWAP_FILE_MB:-24} want got o0 o1 i0 i1 files
  mkswap "$dev" > /dev/null && swapon "$dev" || return 1
  grep -q "^$dev " /proc/swaps || { echo "$dev not in /proc/swaps"; return 1; }
  echo +memory > /sys/fs/cgroup/cgroup.subtree_control
  mkdir -p $cg /run/kt-swt && echo "${SWAP_MEMCG_MB:-8}M" > $cg/memory.max || return 1
  mount -t tmpfs -o size=200M tmpfs /run/kt-swt || return 1
  dd if=/dev/urandom of="$W/r1m" bs=1M count=1 status=none
  files=$(for _ in $(seq "$mb"); do printf '%s ' "$W/r1m"; done)
  # shellcheck disable=SC2086
  want=$(cat $files | md5sum | cut -d' ' -f1)
  o0=$(vmstat pswpout); i0=$(vmstat pswpin)
  files=$files sh -c "echo \$\$ > $cg/cgroup.procs; exec cat \$files > /run/kt-swt/f" || return 1
  o1=$(vmstat pswpout)
  echo "in use: $(grep "^$dev " /proc/swaps)"
  echo max > $cg/memory.max   # read back without thrashing: this swaps the pages in
  got=$(md5 /run/kt-swt/f); i1=$(vmstat pswpin)
  echo "$mb MiB of random tmpfs pages in a ${SWAP_MEMCG_MB:-8} MiB memcg: pswpout +$((o1 - o0)) pages, pswpin +$((i1 - i0)) pages, md5 want=$want got=$got"
  rm -f /run/kt-swt/f; umount /run/kt-swt; rmdir $cg
  swapoff "$dev" || { echo "swapoff failed"; return 1; }
  [ "$want" = "$got" ] && [ $((o1 - o0)) -gt 2048 ] && [ $((i1 - i0)) -gt 0 ]
}

# fio with io_uring, O_DIRECT and crc32c verify on the raw device.
t_fio() {
  local dev=$1
  fio --name=kt --filename="$dev" --ioengine=io_uring --direct=1 --rw=randwrite --bs=4k \
    --iodepth=16 --size="${FIO_MB:-16}M" --verify=crc32c --verify_fatal=1 --output-format=terse \
    | awk -F';' '{printf "fio randwrite+verify: read %s KiB, write %s KiB, write %s IOPS\n", $6, $47, $49}'
  [ "${PIPESTATUS[0]}" = 0 ] || return 1
  fio --name=kt-seq --filename="$dev" --ioengine=io_uring --direct=1 --rw=write --bs=256k \
    --iodepth=4 --size="${FIO_MB:-16}M" --verify=md5 --verify_fatal=1 --output-format=terse > /dev/null
}

# on FUNC VOL [ARGS...]: run a device test on the device of volume VOL.
on() { local f=$1 vol=$2; shift 2; "$f" "$(cat "$W/dev.$vol")" "$@"; }

# True when a block device is gone or has no size (disconnected).
dev_gone() { [ ! -e "$1" ] || [ "$(blockdev --getsize64 "$1" 2>/dev/null || echo 0)" = 0 ]; }

# Delete while mounted: refused, then forced (needs vramctl, else SKIP).
t_delete_busy() {
  local d=$1 vol=$2 ctl; ctl=$(cat "$W/vramctl-path")
  [ -x "$ctl" ] || { echo "no vramctl in this build (the API has not landed)"; exit 77; }
  mkfs.ext4 -q -F "$d" && mount "$d" /mnt/kt || return 1
  if "$ctl" --socket "$W/api.sock" volume delete "$vol"; then
    umount /mnt/kt; echo "delete of a mounted volume was accepted"; return 1; fi
  "$ctl" --socket "$W/api.sock" volume delete "$vol" --force || { umount /mnt/kt; return 1; }
  umount /mnt/kt 2>/dev/null || umount -l /mnt/kt
  dev_gone "$d" || { echo "$d is still there after a forced delete"; return 1; }
}

# SIGTERM with a mounted filesystem: vramd exits, the guest keeps running,
# the mount can be taken down and the device is gone.
t_sigterm_mounted() {
  local d=$1 log=$2
  mount "$d" /mnt/kt || return 1
  dd if=/dev/urandom of=/mnt/kt/during bs=1M count=2 status=none
  stop_vramd 60 || return 1
  grep -E "signal|removing|detaching" "$log"
  ls /mnt/kt > /dev/null 2>&1
  umount /mnt/kt 2>/dev/null || umount -l /mnt/kt || return 1
  dev_gone "$d" || { echo "$d is still there after vramd exited"; return 1; }
  echo "vramd exited, the filesystem was unmounted, $d is gone"
}
