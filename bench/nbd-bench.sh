#!/usr/bin/env bash
# nbd-bench.sh: fio (ioengine=nbd, Unix socket) against vramd, against
# `nbdkit memory` of the same size and against `nbdkit null`, in one run,
# and a table of vramd/nbdkit.  `nbdkit null` stores nothing (reads are
# zeros, writes are dropped): it is the most that this client, this
# protocol and one socket give any server, so it shows what bounds a job.
#
# Per storing server: fill the whole volume with fio verify blocks, run the
# read jobs, verify the whole fill (a wrong byte fails the run), run the
# write jobs, then a 4k random write + read-back verify pass.  The QD1 jobs
# (qd1read, qd1write: 4k random, one job, iodepth 1, on the first 1 GiB)
# report p50/p99/p99.9 total latency next to throughput.
#
# Usage: bench/nbd-bench.sh [--size SIZE] [--runtime SEC] [--pocl]
#          [--device-types TYPES] [--vramd PATH] [--vramd-opts "ARGS"]
#          [--servers vramd,nbdkit,null] [--jobs LIST] [--repeat N] [--tsv FILE]
#          [--perf DIR]
#   --pocl: two PoCL CPU devices, 512M and 5 s per job unless given (runs anywhere).
#   --jobs: any of seqwrite,seqread,randread,randwrite,seq8,qd1read,qd1write
#           (default all).
#   --repeat: run each timed job N times and report the median (default 1).
#   --tsv: also write "server job MB/s IOPS p50 p99 p99.9 lowest-highest"
#          lines to FILE (latency in µs, of the run with the median MB/s).
#   --perf: profile the whole host (perf record -a -g) during each timed job
#           and leave DIR/SERVER-JOB.txt: where the CPU time went, by thread.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
size= runtime= pocl= types= vramd="$top/daemon/vramd" vopts= tsv= perfdir= repeat=1
servers=vramd,nbdkit,null jobs=seqwrite,seqread,randread,randwrite,seq8,qd1read,qd1write
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --pocl) pocl=1; shift ;;
    --device-types) types=$2; shift 2 ;;
    --vramd) vramd=$2; shift 2 ;;
    --vramd-opts) vopts=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --tsv) tsv=$2; shift 2 ;;
    --perf) perfdir=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "nbd-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$pocl" ]; then
  export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
  size=${size:-512M} runtime=${runtime:-5} types=${types:-cpu}
fi
size=${size:-8G} runtime=${runtime:-8}
IFS=, read -r -a servers <<<"$servers"
IFS=, read -r -a jobs <<<"$jobs"
for t in fio nbdkit nbdinfo jq; do
  command -v $t >/dev/null || { echo "nbd-bench.sh: needs $t" >&2; exit 2; }
done
for srv in "${servers[@]}"; do
  [ "$srv" != vramd ] || [ -x "$vramd" ] ||
    { echo "nbd-bench.sh: build vramd first ($vramd)" >&2; exit 2; }
done
if [ -n "$perfdir" ]; then
  command -v perf >/dev/null || { echo "nbd-bench.sh: --perf needs perf" >&2; exit 2; }
  mkdir -p "$perfdir"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nbd-bench.XXXXXX")
declare -A pid
# Stop what we started and remove the scratch directory.
cleanup() {
  for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# Start one server; sets uri[$1].  NBDKIT_MEMORY_PLUGIN / NBDKIT_NULL_PLUGIN:
# plugin paths where nbdkit's own plugin directory is missing (a bundle).
declare -A uri
start() {
  case $1 in
    vramd)
      # shellcheck disable=SC2086 # --vramd-opts is a list of words
      "$vramd" --api-socket "$tmp/api.sock" --nbd-socket "$tmp/vramd.sock" \
        --metrics-listen off --state-dir "$tmp/state" ${types:+--device-types "$types"} \
        ${pocl:+--reserve 0} $vopts \
        --volume "name=bench,size=$size,layout=stripe,devices=all" >"$tmp/vramd.log" 2>&1 &
      pid[vramd]=$!
      uri[vramd]="nbd+unix:///bench?socket=$tmp/vramd.sock"
      for _ in $(seq 1 600); do grep -q "ready:" "$tmp/vramd.log" && break; sleep 0.1; done
      grep -q "volume bench created" "$tmp/vramd.log" || { cat "$tmp/vramd.log" >&2; exit 1; } ;;
    nbdkit|null)
      local plugin="${NBDKIT_MEMORY_PLUGIN:-memory}"
      [ "$1" = null ] && plugin="${NBDKIT_NULL_PLUGIN:-null}"
      nbdkit -f -U "$tmp/$1.sock" "$plugin" "size=$size" &
      pid[$1]=$!
      uri[$1]="nbd+unix:///?socket=$tmp/$1.sock"
      for _ in $(seq 1 100); do [ -S "$tmp/$1.sock" ] && break; sleep 0.1; done ;;
    *) echo "nbd-bench.sh: unknown server $1" >&2; exit 2 ;;
  esac
}

# fio against one server; prints "MB/s IOPS p50 p99 p99.9", latency (from
# submission to completion) in µs of the direction that moved data.
run() {
  local u=$1 name=$2; shift 2
  fio --name="$name" --ioengine=nbd --uri="$u" --size="$bytes" --group_reporting \
    --lat_percentiles=1 --output-format=json --output="$tmp/$name.json" "$@" >/dev/null
  jq -r '.jobs[0] | (if .read.io_bytes > 0 then .read else .write end).lat_ns.percentile as $p |
    [(.read.bw_bytes + .write.bw_bytes) / 1e6, .read.iops + .write.iops,
     ($p["50.000000"] // 0) / 1e3, ($p["99.000000"] // 0) / 1e3, ($p["99.900000"] // 0) / 1e3] |
    map(. * 10 | round / 10) | @tsv' "$tmp/$name.json"
}

# Check data or stop the whole run: speed with a wrong byte is a failure.
check() {
  local srv=$1 what=$2; shift 2
  run "${uri[$srv]}" "$what" --verify=crc32c --verify_fatal=1 --verify_state_save=0 "$@" \
    >/dev/null 2>"$tmp/$what.err" ||
    { echo "nbd-bench.sh: $srv FAILED $what" >&2; tail -5 "$tmp/$what.err" >&2; exit 1; }
  echo "   $srv: $what ok" >&2
}

declare -A res
tb=(--time_based --runtime="$runtime" --ramp_time=1)
# Profile the host for the timed part of job $2 of server $1, after its ramp.
profile() {
  sleep 1.5
  perf record -a -g -e cpu-clock -F 499 -o "$tmp/perf.data" -- sleep "$((runtime - 1))" \
    >/dev/null 2>&1 || return 0
  { perf report -i "$tmp/perf.data" --stdio --no-children --sort comm -g none --percent-limit 0.5
    perf report -i "$tmp/perf.data" --stdio --no-children --sort comm,dso,sym -g none \
      --percent-limit 0.3; } 2>/dev/null | grep -v '^#' | grep -v '^$' >"$perfdir/$1-$2.txt"
  rm -f "$tmp/perf.data"
}

# fio arguments of timed job $1.
job_args() {
  case $1 in
    seqwrite) echo --rw=write --bs=1M --iodepth=32 ;;
    seqread) echo --rw=read --bs=1M --iodepth=32 ;;
    randread) echo --rw=randread --bs=4k --iodepth=32 --numjobs=4 ;;
    randwrite) echo --rw=randwrite --bs=4k --iodepth=32 --numjobs=4 ;;
    seq8) echo --rw=read --bs=1M --iodepth=32 --numjobs=8 --size=$((bytes / 8)) \
            --offset_increment=$((bytes / 8)) ;;
    qd1read) echo --rw=randread --bs=4k --iodepth=1 --size=$((bytes < 1 << 30 ? bytes : 1 << 30)) ;;
    qd1write) echo --rw=randwrite --bs=4k --iodepth=1 --size=$((bytes < 1 << 30 ? bytes : 1 << 30)) ;;
    *) echo "nbd-bench.sh: unknown job $1" >&2; exit 2 ;;
  esac
}

# One timed job against one server, $repeat times: res gets the median run's
# "MB/s IOPS p50 p99 p99.9", spread its "min-max" MB/s.
declare -A spread
job() {
  local srv=$1 j=$2 prof= args runs=
  args=$(job_args "$j") || exit 2
  for _ in $(seq 1 "$repeat"); do
    if [ -n "$perfdir" ]; then profile "$srv" "$j" & prof=$!; fi
    # shellcheck disable=SC2086 # job_args is a list of words
    runs+="$(run "${uri[$srv]}" "$j" $args "${tb[@]}")"$'\n'
    [ -z "$prof" ] || wait "$prof"
  done
  runs=$(printf '%s' "$runs" | sort -g)
  res[$srv,$j]=$(sed -n "$(( (repeat + 1) / 2 ))p" <<<"$runs")
  spread[$srv,$j]="$(head -1 <<<"$runs" | cut -f1)-$(tail -1 <<<"$runs" | cut -f1)"
  [ -z "$tsv" ] || printf '%s\t%s\t%s\t%s\n' "$srv" "$j" "${res[$srv,$j]}" "${spread[$srv,$j]}" >>"$tsv"
  echo "   $srv $j: ${res[$srv,$j]}" >&2
}

[ -z "$tsv" ] || : >"$tsv"
rss=
for srv in "${servers[@]}"; do
  start "$srv"
  bytes=$(nbdinfo --size "${uri[$srv]}")
  fill=(--rw=write --bs=1M --iodepth=32)
  if [ "$srv" = null ]; then
    echo "== null: jobs (nothing stored, nothing to verify)" >&2
    for j in "${jobs[@]}"; do job "$srv" "$j"; done
  else
    echo "== $srv: fill, read jobs, verify, write jobs, verify" >&2
    run "${uri[$srv]}" fill "${fill[@]}" --verify=crc32c --do_verify=0 --verify_state_save=0 >/dev/null
    for j in "${jobs[@]}"; do case $j in *read|seq8) job "$srv" "$j" ;; esac; done
    check "$srv" verify-fill "${fill[@]}" --verify_only
    for j in "${jobs[@]}"; do case $j in *write) job "$srv" "$j" ;; esac; done
    check "$srv" verify-4k --rw=randwrite --bs=4k --iodepth=32 \
      --size=$((bytes < 256 << 20 ? bytes : 256 << 20)) --do_verify=1
  fi
  if [ "$srv" = vramd ]; then
    rss=$(awk '/^VmRSS|^VmHWM/ { printf "%s %s %s  ", $1, $2, $3 }' "/proc/${pid[vramd]}/status")
  fi
  kill "${pid[$srv]}"; wait "${pid[$srv]}" 2>/dev/null || true; unset "pid[$srv]"
done

printf '%s\n' "size $size ($bytes bytes), ${runtime}s per job, $(date -u +%Y-%m-%dT%H:%MZ)"
[ -z "$rss" ] || printf 'vramd memory after the run: %s\n' "$rss"
declare -A label=([seqwrite]="seq write 1M QD32" [seqread]="seq read 1M QD32"
  [randread]="rand read 4k QD32 x4 jobs" [randwrite]="rand write 4k QD32 x4 jobs"
  [seq8]="seq read 1M QD32 x8 jobs" [qd1read]="rand read 4k QD1" [qd1write]="rand write 4k QD1")
head="| job |" rule="|---|"
for srv in "${servers[@]}"; do head+=" $srv MB/s | $srv IOPS |"; rule+="---|---|"; done
[ "$repeat" -gt 1 ] && echo "median of $repeat runs per job (lowest-highest MB/s in brackets)"
head+=" vramd/nbdkit |" rule+="---|"
printf '%s\n%s\n' "$head" "$rule"
for j in "${jobs[@]}"; do
  line="| ${label[$j]} |"
  for srv in "${servers[@]}"; do
    read -r b i _ <<<"${res[$srv,$j]}"
    [ "$repeat" -gt 1 ] && b+=" (${spread[$srv,$j]})"
    line+=" $b | $i |"
  done
  read -r vb _ <<<"${res[vramd,$j]:-0 0}"
  read -r kb _ <<<"${res[nbdkit,$j]:-0 0}"
  line+=" $(awk -v a="$vb" -v b="$kb" 'BEGIN { print (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "-" }') |"
  printf '%s\n' "$line"
done
# QD1: latency, where lower is better; ratios are vramd over nbdkit memory.
qd1=()
for j in "${jobs[@]}"; do case $j in qd1*) qd1+=("$j") ;; esac; done
[ ${#qd1[@]} -gt 0 ] || exit 0
printf '\n%s\n' "Latency at QD1 (µs, from submission to completion; p50 / p99 / p99.9):"
head="| job |" rule="|---|"
for srv in "${servers[@]}"; do head+=" $srv |"; rule+="---|"; done
printf '%s\n%s\n' "$head vramd/nbdkit |" "$rule---|"
for j in "${qd1[@]}"; do
  line="| ${label[$j]} |"
  for srv in "${servers[@]}"; do
    read -r _ _ p50 p99 p999 <<<"${res[$srv,$j]}"
    line+=" $p50 / $p99 / $p999 |"
  done
  read -r _ _ v50 v99 v999 <<<"${res[vramd,$j]:-0 0 0 0 0}"
  read -r _ _ k50 k99 k999 <<<"${res[nbdkit,$j]:-0 0 0 0 0}"
  line+=" $(awk -v a="$v50 $v99 $v999" -v b="$k50 $k99 $k999" 'BEGIN {
    n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) s = s (i > 1 ? " / " : "") (x[i] > 0 && y[i] > 0 ? sprintf("%.2f", x[i] / y[i]) : "-")
    print s }') |"
  printf '%s\n' "$line"
done
