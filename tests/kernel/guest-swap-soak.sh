#!/bin/bash
# guest-swap-soak.sh BUILDDIR SECONDS: the swap soak, run INSIDE the QEMU
# guest by `make check-swap-soak`.  vramd (two PoCL devices) serves two swap
# devices of equal priority, a ublk volume and a kernel-NBD-attached one;
# SOAK_WORKERS processes whose working sets exceed their memory cgroup by
# half keep swapping through both for SECONDS, while vramd's API is polled
# every second.  Passes when no task hangs, nothing is OOM-killed, vramd
# lives, every worker's data is intact, every API answer took under a
# second and both devices carried swap.  Exit status: failed steps.
set -u
SUITE=$(realpath "$0")
HERE=$(dirname "$SUITE")
. "$HERE/guest-lib.sh"

WORKERS=4 WORKER_MB=32 MEMCG_MB=64 SWAP_MB=96 HUNG_SECS=30 API_LIMIT=1.0
CG=/sys/fs/cgroup/swap-soak
api_get() {
  curl -s --max-time 10 --unix-socket "$W/api.sock" "$@"
}

# Modules, a hung-task timeout that means something, zswap off (pages must
# reach the devices), an empty kernel log, then vramd and both swap devices.
t_setup() {
  modprobe ublk_drv && modprobe nbd nbds_max=4 || return 1
  [ -w /proc/sys/kernel/hung_task_timeout_secs ] ||
    { echo "this kernel has no hung-task detector: the soak cannot judge hangs"; return 1; }
  echo "$HUNG_SECS" > /proc/sys/kernel/hung_task_timeout_secs
  echo -1 > /proc/sys/kernel/hung_task_warnings
  [ -w /sys/module/zswap/parameters/enabled ] && echo N > /sys/module/zswap/parameters/enabled
  dmesg -C || return 1
  start_vramd "$W/vramd.log" \
    --volume "name=su,size=${SWAP_MB}M,layout=stripe,devices=all,frontend=ublk" \
    --volume "name=sn,size=${SWAP_MB}M,layout=stripe,devices=all,frontend=nbd,attach=1" || return 1
  grep -E "swap safety|volume s[un] is" "$W/vramd.log"
  local v d
  for v in su sn; do
    d=$(dev_of "$W/vramd.log" "$v")
    [ -b "$d" ] || { echo "no block device for $v"; return 1; }
    echo "$d" > "$W/dev.$v"
    mkswap "$d" > /dev/null && swapon -p 5 "$d" || return 1
  done
  cat /proc/swaps
  [ "$(awk 'NR > 1 && $5 == 5' /proc/swaps | wc -l)" = 2 ] || { echo "both devices must swap at priority 5"; return 1; }
}

# The API poller: one curl that asks, on a fresh connection at most once a
# second, for /v1, the pool and each volume in turn, N rounds of those;
# a "url code seconds" line each in $W/api.lat.
poll_api() {
  local n=$1 i p
  for i in $(seq 1 "$n"); do
    for p in /v1 /v1/pool /v1/volumes/su /v1/volumes/sn; do
      printf 'url = "http://localhost%s?poll=%d"\noutput = "/dev/null"\n' "$p" "$i"
    done
  done > "$W/poll.cfg"
  exec stdbuf -oL curl -s -K "$W/poll.cfg" --rate 1/s --max-time 10 -H 'Connection: close' \
    --unix-socket "$W/api.sock" -w '%{url_effective} %{http_code} %{time_total}\n' > "$W/api.lat"
}

# Every 10 s a progress line in $R/progress, readable on the host while
# the guest runs.
progress() {
  local t0; t0=$(now)
  while sleep 10; do
    echo "$(date +%T) +$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.0f", b - a}')s" \
      "pswpin $(vmstat pswpin) pswpout $(vmstat pswpout)" \
      "swap used $(awk 'NR > 1 {printf "%s=%sK ", $1, $4}' /proc/swaps)" \
      "API answers $(wc -l < "$W/api.lat"), worst $(awk '{print $3}' "$W/api.lat" | sort -g | tail -n 1) s" \
      >> "$R/progress"
  done
}

# The soak: workers in a memory cgroup half their combined size, the API
# poller outside it; swap counters before and after.
t_run() {
  local secs=$1 worker i pids=() i0 o0 t0 t1 rc=0
  worker=$(cat "$W/build-path")/tests/kernel/swap-worker
  [ -x "$worker" ] || { echo "no $worker (make check-swap-soak builds it)"; return 1; }
  echo +memory > /sys/fs/cgroup/cgroup.subtree_control
  mkdir -p $CG && echo "${MEMCG_MB}M" > $CG/memory.max || return 1
  rm -f "$W/api.lat"
  poll_api $((secs + 1200)) & local poller=$!
  progress & local prog=$!
  i0=$(vmstat pswpin); o0=$(vmstat pswpout); t0=$(now)
  for i in $(seq 1 $WORKERS); do
    sh -c "echo \$\$ > $CG/cgroup.procs && exec $worker $WORKER_MB $secs $i" > "$W/worker.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"; rc=$?
    echo "$rc $(tail -n 1 "$W/worker.$((i + 1))")" >> "$W/workers"
    grep -v '^swap-worker [0-9]*: [0-9]* MiB' "$W/worker.$((i + 1))"
  done
  rc=0
  t1=$(now)
  kill "$poller" "$prog"; wait "$poller" "$prog"
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b - a}') $(($(vmstat pswpin) - i0)) $(($(vmstat pswpout) - o0))" \
    > "$W/swapped"
  cat "$W/workers"; echo "memcg events: $(tr '\n' ' ' < $CG/memory.events)"
  rmdir $CG
  dmesg > "$R/dmesg.txt"
  [ "$(wc -l < "$W/workers")" = "$WORKERS" ] || rc=1
  return $rc
}

# Every worker exited 0 with every page as last written.
t_data() {
  cat "$W/workers"
  [ "$(grep -c '^0 swap-worker .* 0 bad$' "$W/workers")" = "$WORKERS" ]
}

# No "blocked for more than N seconds" (nor any hung-task report) in the
# kernel log of the whole soak.
t_no_hang() {
  ! grep -iE "blocked for more than|hung_task|hung task" "$R/dmesg.txt"
}

# Nothing was OOM-killed (least of all vramd), vramd is alive and answers.
t_no_oom() {
  local pid j; pid=$(cat "$W/vramd.pid")
  grep -iE "out of memory|oom-kill|oom_reaper|killed process" "$R/dmesg.txt" && return 1
  kill -0 "$pid" || { echo "vramd ($pid) is gone"; return 1; }
  j=$(api_get http://localhost/v1) || { echo "GET /v1 failed after the soak"; return 1; }
  echo "swap safety: $(echo "$j" | jq -c .safety)"
  echo "vramd ($pid) alive, $(awk '/VmRSS|VmLck/ {printf "%s %s kB ", $1, $2}' /proc/"$pid"/status)"
}

# No I/O error, swap error or NBD timeout in the kernel log, none counted
# by vramd; each volume both read and written.
t_io() {
  local v j
  grep -iE "I/O error|swap-device|timed out|control failed|dead connection|invalid socket" \
    "$R/dmesg.txt" && return 1
  for v in su sn; do
    j=$(api_get "http://localhost/v1/volumes/$v") || return 1
    echo "$v: $(echo "$j" | jq -c '.io | map_values({requests, done_bytes, errors})')"
    echo "$j" | jq -e '.io.read.done_bytes > 0 and .io.write.done_bytes > 0 and ([.io[].errors] | add) == 0' > /dev/null ||
      { echo "volume $v did not carry swap both ways without errors"; return 1; }
  done
}

# Every poll answered 200 in under API_LIMIT seconds, about once a second.
t_api() {
  local secs=$1 n
  n=$(wc -l < "$W/api.lat")
  awk -v lim="$API_LIMIT" '$2 != 200 || $3 >= lim {print "slow or failed: " $0; bad++}
    {if ($3 > w) w = $3; s += $3}
    END {printf "%d answers, mean %.3f s, worst %.3f s\n", NR, s / NR, w; exit bad > 0}' "$W/api.lat" || return 1
  [ "$n" -ge "$secs" ] || { echo "only $n answers in $secs s: the API was not polled all along"; return 1; }
}

# The figures for docs/swap-soak.md; then swapoff both and stop vramd.
t_figures() {
  local secs in out worst
  read -r secs in out < "$W/swapped"
  worst=$(awk '{print $3}' "$W/api.lat" | sort -g | tail -n 1)
  result "# swap-in $in pages ($(awk -v p="$in" -v s="$secs" 'BEGIN{printf "%.0f pages/s, %.2f MiB/s", p/s, p*4096/s/1048576}'))," \
    "swap-out $out pages ($(awk -v p="$out" -v s="$secs" 'BEGIN{printf "%.0f pages/s, %.2f MiB/s", p/s, p*4096/s/1048576}'))" \
    "in ${secs} s; worst API latency ${worst} s over $(wc -l < "$W/api.lat") requests"
  [ "$in" -gt 0 ] && [ "$out" -gt $((WORKERS * WORKER_MB * 256 - MEMCG_MB * 256)) ] ||
    { echo "too little swapping to prove anything"; return 1; }
  swapoff "$(cat "$W/dev.su")" && swapoff "$(cat "$W/dev.sn")" || return 1
  stop_vramd 60
}

step_entry "$@"
suite_init "${1:?usage: guest-swap-soak.sh BUILDDIR SECONDS}"
SECS=${2:?usage: guest-swap-soak.sh BUILDDIR SECONDS}
echo "swap soak: $WORKERS workers x $WORKER_MB MiB in a $MEMCG_MB MiB memcg, swap on ublk + kernel NBD ($SWAP_MB MiB each), $SECS s"
if step swap_soak_setup 600 t_setup; then
  step swap_soak_run $((SECS + 600)) t_run "$SECS"
  step swap_soak_worker_data_intact 60 t_data
  step swap_soak_no_hung_task 60 t_no_hang
  step swap_soak_no_oom_kill_vramd_alive 60 t_no_oom
  step swap_soak_no_io_errors_both_devices_used 60 t_io
  step swap_soak_api_answers_under_1s 60 t_api "$SECS"
  step swap_soak_figures_swapoff_stop 300 t_figures
fi
stop_vramd 60 > /dev/null
echo "swap soak: $FAILS failure(s) in $(awk -v a="$T0" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}') s"
exit "$FAILS"
