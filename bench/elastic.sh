#!/usr/bin/env bash
# elastic.sh: elastic VRAM on real devices, in one run: thin against
# thick volumes on the same fio jobs (ratios); what the driver reports free
# before and after a thin volume is discarded and a device drained; the
# drain rate with and without clients, and the longest I/O stall under fio
# during a drain; and the time a yield takes to give back GIB when another
# process (bench/vram-hog) takes that much past the yield floor.
#
# Usage: bench/elastic.sh [--pocl] [--size SIZE] [--runtime SEC] [--hog GIB]
#          [--chunks LIST]
#   --pocl: two PoCL CPU devices, 512M volumes, 3 s per job (runs anywhere;
#           no yield step: host memory has no driver to ask).
#   --chunks: also run 4k random jobs on thin volumes with each thin-chunk
#           in LIST (e.g. 16M,64M,256M,1G), for the chunk size choice.
set -uo pipefail
size=16G runtime=5 hog=16 types=gpu chunks= pocl=
while [ $# -gt 0 ]; do
  case "$1" in
    --pocl) pocl=1; shift ;;
    --size) size=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --hog) hog=$2; shift 2 ;;
    --chunks) chunks=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "elastic.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$pocl" ]; then
  export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
  size=512M runtime=3 types=cpu
fi
dir=$(mktemp -d)
pid=
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
trap 'stop; rm -rf "$dir"' EXIT
ctl() { vramctl --socket "$dir/api.sock" "$@"; }
uri() { echo "nbd+unix:///$1?socket=$dir/nbd.sock"; }
smi() { nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits 2>/dev/null |
          awk -F', ' '{ printf "gpu%s %s MiB used  ", $1, $2 }'; }
dev() { ctl --json device show "$1" | jq -r ".$2"; }

# Start vramd with extra options; wait for its API.
start() {
  rm -rf "$dir/state" "$dir"/*.sock
  vramd --api-socket "$dir/api.sock" --nbd-socket "$dir/nbd.sock" --metrics-listen off \
    --state-dir "$dir/state" --device-types "$types" "$@" > "$dir/vramd.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do grep -q "ready:" "$dir/vramd.log" && return 0; sleep 0.1; done
  cat "$dir/vramd.log"; echo "vramd did not start"; exit 1
}

# fio job NAME VOLUME RW BS QD JOBS [extra]: prints IOPS and MB/s.
job() {
  local n=$1 v=$2 rw=$3 bs=$4 qd=$5 nj=$6; shift 6
  fio --name="$n" --ioengine=nbd --uri="$(uri "$v")" --rw="$rw" --bs="$bs" --iodepth="$qd" \
    --numjobs="$nj" --size="$size" --time_based --runtime="$runtime" --group_reporting \
    --output-format=json --output="$dir/job.json" "$@" > /dev/null 2>&1
  jq -r '.jobs[0] | "\(.read.iops + .write.iops | floor) \((.read.bw + .write.bw) / 1024 | floor)"' \
    "$dir/job.json"
}
fill() { fio --name=fill --ioengine=nbd --uri="$(uri "$1")" --rw=write --bs=1M --iodepth=32 \
           --size="$size" --output-format=json > /dev/null 2>&1; }

echo "== $(date -u +%FT%TZ), $types devices: $(vramd --list-devices --device-types "$types" 2>/dev/null |
  awk 'NR > 1 { printf "%s ", $1 }')"
start --thin-chunk 64M
read -r d0 d1 < <(ctl --json device list | jq -r '[.devices[].id] | join(" ")')
echo "before any volume: $(smi)"

# 1. Thin against thick on the standard jobs, both filled first.
ctl volume create thick --size "$size" > /dev/null && ctl volume create thin --size "$size" --thin > /dev/null
fill thick; fill thin
echo "filled both: thin holds $(ctl --json volume show thin | jq .allocated_bytes) bytes; $(smi)"
printf "%-10s %12s %12s %8s\n" job thick thin thin/thick
for spec in "seqwrite write 1M 32 1" "seqread read 1M 32 1" "randread randread 4k 32 4" \
            "randwrite randwrite 4k 32 4"; do
  set -- $spec
  a=$(job "$1" thick "$2" "$3" "$4" "$5"); b=$(job "$1" thin "$2" "$3" "$4" "$5")
  ka=${a% *} kb=${b% *}; [ "$3" = 1M ] && { ka=${a#* }; kb=${b#* }; }
  printf "%-10s %12s %12s %8s\n" "$1" "$ka" "$kb" "$(awk -v x="$kb" -v y="$ka" 'BEGIN { printf "%.2f", y ? x / y : 0 }')"
done
echo "(4k: IOPS; 1M: MB/s)"

# 2. Discard the thin volume whole: its chunks go back to the driver.
t0=$(date +%s%N)
fio --name=trim --ioengine=nbd --uri="$(uri thin)" --rw=trim --bs=64M --size="$size" \
  --output-format=json > /dev/null 2>&1
sleep 1
echo "thin discarded: holds $(ctl --json volume show thin | jq .allocated_bytes) bytes 1 s after a trim of all of it ($(( ($(date +%s%N) - t0) / 1000000 )) ms); $(smi)"

# 3. Drain: idle, then under fio with latency, then rebalance.
sleep 0.5
t0=$(date +%s%N); ctl device drain "$d1" > /dev/null; t1=$(date +%s%N)
echo "drain $d1, idle: $(grep -o "$d1: moved .*" "$dir/vramd.log" | tail -1); $(( (t1 - t0) / 1000000 )) ms end to end; $(smi)"
ctl device undrain "$d1" > /dev/null
ctl volume rebalance thick > /dev/null
echo "rebalance: $(grep -o "volume thick: rebalance: moved .*" "$dir/vramd.log" | tail -1)"
fio --name=under --ioengine=nbd --uri="$(uri thick)" --rw=randrw --bs=4k --iodepth=16 \
  --numjobs=2 --size="$size" --time_based --runtime=$((runtime * 3)) --group_reporting \
  --percentile_list=50:99:99.9:100 --output-format=json --output="$dir/under.json" \
  > /dev/null 2>&1 &
fpid=$!
sleep "$runtime"
ctl device drain "$d1" > /dev/null
wait $fpid
echo "drain $d1 under fio randrw 4k QD16x2: $(grep -o "$d1: moved .*" "$dir/vramd.log" | tail -1)"
jq -r '.jobs[0] | "  fio over the whole run: read p50 \(.read.clat_ns.percentile["50.000000"] / 1000 | floor) us, p99.9 \(.read.clat_ns.percentile["99.900000"] / 1000 | floor) us, max \(.read.clat_ns.max / 1000000 * 100 | floor / 100) ms; write max \(.write.clat_ns.max / 1000000 * 100 | floor / 100) ms; \(.read.iops + .write.iops | floor) IOPS"' "$dir/under.json"
ctl device undrain "$d1" > /dev/null; ctl volume rebalance thick > /dev/null

# 4. Yield: another process takes HOG GiB past the floor on d0.
if [ -z "$pocl" ] && command -v vram-hog > /dev/null; then
  ctl volume create big --size "$(( $(dev "$d0" available_bytes) * 2 / 1073741824 - 2 * hog - 4 ))G" > /dev/null ||
    echo "could not make the big volume"
  floor=$(dev "$d0" driver_free_bytes)
  ctl device set "$d0" --yield-floor "$floor" > /dev/null
  echo "yield: $d0 floor $((floor >> 20)) MiB (its free memory now), holds $(( $(dev "$d0" allocated_bytes) >> 20 )) MiB; $(smi)"
  vram-hog --device 0 --gib "$hog" --wait 60 > "$dir/hog.txt" & hpid=$!
  while ! grep -q holds "$dir/hog.txt" 2>/dev/null; do sleep 0.05; done
  th=$(date +%s%N)
  for _ in $(seq 1 600); do
    [ "$(dev "$d0" driver_free_bytes)" -ge $(( floor - (256 << 20) )) ] && break; sleep 0.05
  done
  ty=$(date +%s%N)
  cat "$dir/hog.txt"
  echo "yield of $hog GiB: free back to the floor (within 256 MiB) $(( (ty - th) / 1000000 )) ms after the hog held it; $(grep -o "$d0: yield: moved .*" "$dir/vramd.log" | tail -1); short $(dev "$d0" yield_short_bytes); $(smi)"
  kill "$hpid"; wait "$hpid" 2>/dev/null
fi
stop

# 5. The chunk size: thin 4k random on each, filled first.
for c in ${chunks//,/ }; do
  start --thin-chunk "$c"
  ctl volume create thin --size "$size" --thin > /dev/null; fill thin
  r=$(job rr thin randread 4k 32 4); w=$(job rw thin randwrite 4k 32 4)
  echo "thin-chunk $c: randread ${r% *} IOPS, randwrite ${w% *} IOPS"
  stop
done
