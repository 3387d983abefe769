#!/usr/bin/env bash
# nbd-bench.sh: fio (ioengine=nbd, Unix socket) against vramd and against
# `nbdkit memory` of the same size, in one run: fill, a verify=crc32c pass,
# then the standard jobs (../shared/GPU.md), and a table of vramd/nbdkit.
#
# Usage: bench/nbd-bench.sh [--size SIZE] [--runtime SEC] [--pocl]
#                           [--device-types TYPES] [--vramd PATH]
#   --pocl: two PoCL CPU devices, 512M and 5 s per job unless given (runs anywhere).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
size= runtime= pocl= types= vramd="$top/daemon/vramd"
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --pocl) pocl=1; shift ;;
    --device-types) types=$2; shift 2 ;;
    --vramd) vramd=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "nbd-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$pocl" ]; then
  export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
  size=${size:-512M} runtime=${runtime:-5} types=${types:-cpu}
fi
size=${size:-8G} runtime=${runtime:-8}
for t in fio nbdkit jq; do command -v $t >/dev/null || { echo "nbd-bench.sh: needs $t" >&2; exit 2; }; done
[ -x "$vramd" ] || { echo "nbd-bench.sh: build vramd first ($vramd)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nbd-bench.XXXXXX")
pids=()
# Stop what we started and remove the scratch directory.
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

"$vramd" --api-socket "$tmp/api.sock" --nbd-socket "$tmp/vramd.sock" --metrics-listen off \
  --state-dir "$tmp/state" ${types:+--device-types "$types"} ${pocl:+--reserve 0} \
  --volume "name=bench,size=$size,layout=stripe,devices=all" >"$tmp/vramd.log" 2>&1 &
pids+=($!)
# NBDKIT_MEMORY_PLUGIN: path of nbdkit-memory-plugin.so where nbdkit's own
# plugin directory is missing (a bundle on the GPU host).
nbdkit -f -U "$tmp/nbdkit.sock" "${NBDKIT_MEMORY_PLUGIN:-memory}" "size=$size" &
pids+=($!)
for _ in $(seq 1 300); do
  grep -q "ready:" "$tmp/vramd.log" && [ -S "$tmp/nbdkit.sock" ] && break
  sleep 0.1
done
grep -q "volume bench created" "$tmp/vramd.log" || { cat "$tmp/vramd.log" >&2; exit 1; }
bytes=$(nbdinfo --size "nbd+unix:///bench?socket=$tmp/vramd.sock")

# fio against one server; prints "MB/s IOPS".
run() {
  local uri=$1 name=$2; shift 2
  fio --name="$name" --ioengine=nbd --uri="$uri" --size="$bytes" --group_reporting \
    --output-format=json --output="$tmp/$name.json" "$@" >/dev/null
  jq -r '.jobs[0] | [(.read.bw_bytes + .write.bw_bytes) / 1e6, .read.iops + .write.iops] |
    map(. * 10 | round / 10) | @tsv' "$tmp/$name.json"
}

declare -A res
jobs=(seqwrite seqread randread randwrite seq8)
for srv in vramd nbdkit; do
  if [ $srv = vramd ]; then uri="nbd+unix:///bench?socket=$tmp/vramd.sock"
  else uri="nbd+unix:///?socket=$tmp/nbdkit.sock"; fi
  echo "== $srv: fill, verify, jobs" >&2
  run "$uri" fill --rw=write --bs=1M --iodepth=32 >/dev/null
  run "$uri" verify --rw=randwrite --bs=4k --iodepth=32 --size=$((bytes < 256<<20 ? bytes : 256<<20)) \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 >/dev/null ||
    { echo "nbd-bench.sh: $srv failed verification" >&2; exit 1; }
  tb=(--time_based --runtime="$runtime" --ramp_time=1)
  res[$srv,seqwrite]=$(run "$uri" seqwrite --rw=write --bs=1M --iodepth=32 "${tb[@]}")
  res[$srv,seqread]=$(run "$uri" seqread --rw=read --bs=1M --iodepth=32 "${tb[@]}")
  res[$srv,randread]=$(run "$uri" randread --rw=randread --bs=4k --iodepth=32 --numjobs=4 "${tb[@]}")
  res[$srv,randwrite]=$(run "$uri" randwrite --rw=randwrite --bs=4k --iodepth=32 --numjobs=4 "${tb[@]}")
  res[$srv,seq8]=$(run "$uri" seq8 --rw=read --bs=1M --iodepth=32 --numjobs=8 \
    --size=$((bytes / 8)) --offset_increment=$((bytes / 8)) "${tb[@]}")
done

rss=$(awk '/^VmRSS|^VmHWM/ { printf "%s %s %s  ", $1, $2, $3 }' "/proc/${pids[0]}/status")
printf '%s\n' "size $size ($bytes bytes), ${runtime}s per job, $(date -u +%Y-%m-%dT%H:%MZ)"
printf 'vramd memory after the run: %s\n' "$rss"
printf '| %-30s | %12s | %10s | %12s | %10s | %13s |\n' job "vramd MB/s" "vramd IOPS" \
  "nbdkit MB/s" "nbdkit IOPS" "vramd/nbdkit"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..32})" "$(printf -- '-%.0s' {1..14})" \
  "$(printf -- '-%.0s' {1..12})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..12})" \
  "$(printf -- '-%.0s' {1..15})"
declare -A label=([seqwrite]="seq write 1M QD32" [seqread]="seq read 1M QD32"
  [randread]="rand read 4k QD32 x4 jobs" [randwrite]="rand write 4k QD32 x4 jobs"
  [seq8]="seq read 1M QD32 x8 jobs")
for j in "${jobs[@]}"; do
  read -r vb vi <<<"${res[vramd,$j]}"
  read -r kb ki <<<"${res[nbdkit,$j]}"
  ratio=$(awk -v a="$vb" -v b="$kb" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '| %-30s | %12s | %10s | %12s | %10s | %13s |\n' "${label[$j]}" "$vb" "$vi" "$kb" "$ki" "$ratio"
done
