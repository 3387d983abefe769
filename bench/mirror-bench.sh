#!/usr/bin/env bash
# mirror-bench.sh: mirrors on real devices, in one run.
# 1. Throughput: a mirror of SIZE over the first two devices against a
#    stripe of SIZE over the same two, on the same fio jobs through NBD
#    (each volume filled first): what writing both copies costs and what
#    reading from either gains, as mirror/stripe ratios.
# 2. Repair rate: a mirror of SIZE over two devices, filled with fio
#    verify blocks; one copy goes out of sync, then `vramctl volume
#    repair` rebuilds it as a job, timed (the job's own rate, and end to
#    end).  tests/shim/libclfault.so, preloaded into vramd, makes the copy
#    go for real: with three devices or more the second device is lost
#    (every OpenCL call on it fails) and the copy is rebuilt on the third;
#    with two, one write to the second device fails (the device stays)
#    and the copy is rebuilt on it.  The whole fill is verified after.
#    Then once more under fio randrw 4k QD16 x2: one write to the copy's
#    device fails and the copy is rebuilt there while fio runs.
# Prints a markdown table with the command, date and devices.
#
# Usage: bench/mirror-bench.sh [--pocl] [--bin DIR] [--shim PATH]
#          [--size SIZE] [--runtime SEC] [--out FILE]
#   --bin: folder holding vramd and vramctl (default: the build tree; a GPU
#          bundle's bin/ after `. bench/gpu-env.sh BUNDLE`, fio from there).
#   --shim: libclfault.so (default: DIR/../lib/ with --bin, the bundle's,
#          else tests/shim/ of the build tree).
#   --size: per volume, default 16G, PoCL 256M.  --runtime: seconds per
#          fio job (default 5, PoCL 3).  --out: also append the report to FILE.
# The shim takes a device's place in its platform's list: the device ids
# (gpuN) must follow one platform's order, as on a host of one vendor.
# It stands in for the ICD loader's entry points, so it sees every call
# that goes through the loader (any vendor's driver), none that bypasses it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pocl= bin= shim= size= runtime= out=
args="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --pocl) pocl=1; shift ;;
    --bin) bin=$2; shift 2 ;;
    --shim) shim=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "mirror-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
vramd=${bin:-$top/daemon}/vramd vramctl=${bin:-$top/cli}/vramctl
shim=${shim:-${bin:+$bin/../lib/libclfault.so}}
shim=${shim:-$top/tests/shim/libclfault.so}
for p in "$vramd" "$vramctl"; do
  [ -x "$p" ] || { echo "mirror-bench.sh: $p is missing (build first, or --bin DIR)" >&2; exit 2; }
done
[ -f "$shim" ] || { echo "mirror-bench.sh: $shim is missing (make tests/shim/libclfault.so, or --shim PATH; make-bundle.sh packs it)" >&2; exit 2; }
for t in fio jq; do
  command -v $t >/dev/null || { echo "mirror-bench.sh: needs $t (make-bundle.sh --clients packs it)" >&2; exit 2; }
done
fio --enghelp=nbd >/dev/null 2>&1 || { echo "mirror-bench.sh: this fio has no nbd engine" >&2; exit 2; }
types=gpu
if [ -n "$pocl" ]; then
  export POCL_DEVICES="${POCL_DEVICES:-pthread pthread pthread}"
  types=cpu size=${size:-256M} runtime=${runtime:-3}
fi
size=${size:-16G} runtime=${runtime:-5}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mirror-bench.XXXXXX")
pid=
# Stop vramd (and what runs beside it) and remove the scratch directory.
finish() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap finish EXIT
report=${out:-$tmp/report.md}
say() { printf '%s\n' "$@" | tee -a "$report"; }
export VRAMCTL_SOCKET=$tmp/api.sock VD_CLFAULT_FILE=$tmp/clfault
ctl() { "$vramctl" "$@"; }
uri() { echo "nbd+unix:///$1?socket=$tmp/nbd.sock"; }
die() { echo "mirror-bench.sh: $*" >&2; tail -n 5 "$tmp/vramd.log" >&2; exit 1; }

# start [PRELOAD]: vramd with no volume on private sockets (PRELOAD: a
# library to preload, the shim); the one before is stopped.
start() {
  [ -z "$pid" ] || { kill "$pid"; wait "$pid" 2>/dev/null || true; }
  rm -rf "$tmp/state" "$tmp"/*.sock "$VD_CLFAULT_FILE"
  LD_PRELOAD=${1:-${LD_PRELOAD:-}} "$vramd" --api-socket "$tmp/api.sock" \
    --nbd-socket "$tmp/nbd.sock" --metrics-listen off --state-dir "$tmp/state" \
    --device-types "$types" ${pocl:+--reserve 0} >"$tmp/vramd.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do grep -q "ready:" "$tmp/vramd.log" && return 0; sleep 0.1; done
  die "vramd did not start"
}

# fio job NAME VOLUME RW BS QD JOBS [extra]: prints IOPS and MB/s.
job() {
  local n=$1 v=$2 rw=$3 bs=$4 qd=$5 nj=$6; shift 6
  fio --name="$n" --ioengine=nbd --uri="$(uri "$v")" --rw="$rw" --bs="$bs" --iodepth="$qd" \
    --numjobs="$nj" --size="$size" --time_based --runtime="$runtime" --group_reporting \
    --output-format=json --output="$tmp/job.json" "$@" >/dev/null 2>&1 || die "fio $n on $v failed"
  jq -r '.jobs[0] | "\(.read.iops + .write.iops | floor) \((.read.bw + .write.bw) / 1024 | floor)"' \
    "$tmp/job.json"
}
# fill VOLUME [verify]: write it whole, 1M at QD32 (with fio verify blocks).
fill() {
  fio --name=fill --ioengine=nbd --uri="$(uri "$1")" --rw=write --bs=1M --iodepth=32 \
    --size="$size" ${2:+--verify=crc32c --do_verify=0} --output-format=json \
    --output="$tmp/fill.json" >/dev/null 2>&1 || die "fill of $1 failed"
}
# vol NAME JQ: a field of the volume.
vol() { ctl --json volume show "$1" | jq -r "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }

start
mapfile -t devs < <(ctl --json device list | jq -r '.devices[].id')
[ "${#devs[@]}" -ge 2 ] || die "a mirror needs two devices; found ${#devs[@]}"
d0=${devs[0]} d1=${devs[1]} d2=${devs[2]:-}
names=$(ctl --json device list |
  jq -r '[.devices | group_by(.name)[] | "\(map(.id) | join(",")): \(.[0].name)"] | join("; ")')
echo "== $(date -u +%FT%TZ), $names" >&2

# 1. Mirror against stripe on the same two devices, both filled first.
ctl volume create st --size "$size" --stripe "$d0,$d1" >/dev/null || die "create st"
ctl volume create mi --size "$size" --mirror "$d0,$d1" >/dev/null || die "create mi"
fill st; fill mi
declare -A res
for spec in "seqwrite write 1M 32 1" "seqread read 1M 32 1" "seqread8 read 1M 32 8" \
            "randread randread 4k 32 4" "randwrite randwrite 4k 32 4"; do
  set -- $spec
  echo "== $1 on the stripe and the mirror" >&2
  res[$1-st]=$(job "$1" st "$2" "$3" "$4" "$5"); res[$1-mi]=$(job "$1" mi "$2" "$3" "$4" "$5")
done
ctl volume delete st >/dev/null && ctl volume delete mi >/dev/null || die "delete"

# lose_copy INDEX MODE: make the copy on the device at platform index
# INDEX go (MODE lost: for good; once: one write fails, the device stays)
# under a write load; wait until the mirror is degraded.
lose_copy() {

  for _ in 1 2 3 4 5; do
    if [ "$2" = lost ]; then
      echo "lost $1 CL_DEVICE_NOT_AVAILABLE" >"$VD_CLFAULT_FILE.new"
    else
      echo "once $1 CL_OUT_OF_RESOURCES clEnqueueWriteBuffer,clEnqueueWriteBufferRect,clEnqueueMapBuffer,clEnqueueNDRangeKernel" >"$VD_CLFAULT_FILE.new"
    fi
    mv "$VD_CLFAULT_FILE.new" "$VD_CLFAULT_FILE"
    # the fill's first 16 MiB again, the same bytes: the fill still verifies
    fio --name=fill --ioengine=nbd --uri="$(uri m)" --rw=write --bs=1M --iodepth=32 \
      --size="$size" --io_size=16M --verify=crc32c --do_verify=0 --output-format=json \
      --output="$tmp/poke.json" >/dev/null 2>&1 || die "a write failed while a copy went"
    for _ in $(seq 1 50); do [ "$(vol m .state)" = degraded ] && return 0; sleep 0.1; done
  done
  die "the copy at index $1 did not go out of sync"
}
# repair [DEVICE]: rebuild the stale copy; $tmp/rep gets the seconds end
# to end, the job's bytes and its bytes per second.
repair() {
  local t0 t1
  t0=$(date +%s%N)
  ctl volume repair m ${1:+--device "$1"} >"$tmp/repair.out" 2>&1 || die "repair: $(cat "$tmp/repair.out")"
  t1=$(date +%s%N)
  [ "$(vol m .state)" = ok ] || die "m is $(vol m .state) after the repair"
  ctl --json job list | jq -r --arg s "$(( (t1 - t0) / 1000000 ))" \
    '[.jobs[] | select(.kind == "repair" and .state == "done")] | last |
     "\($s | tonumber / 1000) \(.done_bytes) \(.rate_bytes_per_second)"' >"$tmp/rep"
}

# 2. Repair, idle, with the shim preloaded (a lock and a stat per OpenCL call).
start "$shim"
ctl volume create m --size "$size" --mirror "$d0,$d1" >/dev/null || die "create m"
fill m verify
if [ -n "$d2" ]; then
  how1="$d1 lost (every call fails), rebuilt on $d2"
  lose_copy "${d1//[!0-9]/}" lost; on=$d2
  grep -q "$d1: device lost" "$tmp/vramd.log" || die "$d1 was not the device lost: the ids do not follow the platform's order"
else
  how1="one write to $d1 failed, rebuilt on $d1"
  lose_copy "${d1//[!0-9]/}" once; on=$d1
fi
repair "$on"; read -r s1 b1 r1 <"$tmp/rep"
fio --name=fill --ioengine=nbd --uri="$(uri m)" --rw=write --bs=1M --iodepth=32 --size="$size" \
  --verify=crc32c --verify_only=1 --output-format=json --output="$tmp/verify.json" \
  >/dev/null 2>&1 || die "the mirror read back other data after the repair"

# 3. Again under fio randrw: one write to the rebuilt copy's device fails.
fio --name=load --ioengine=nbd --uri="$(uri m)" --rw=randrw --bs=4k --iodepth=16 --numjobs=2 \
  --size="$size" --time_based --runtime=3600 --group_reporting --output-format=json \
  --output="$tmp/load.json" >/dev/null 2>&1 &
lpid=$!
sleep 1
lose_copy "${on//[!0-9]/}" once
repair "$on"; read -r s2 b2 r2 <"$tmp/rep"
kill -INT "$lpid"; wait "$lpid" || true   # fio's status after SIGINT is not 0
# (its JSON comes after a line about the signal)
sed -n '/^{/,$p' "$tmp/load.json" >"$tmp/load-only.json"
[ "$(jq '.jobs[0].error' "$tmp/load-only.json" 2>/dev/null)" = 0 ] ||
  die "fio randrw failed during the repair: $(head -c 300 "$tmp/load.json")"
load=$(jq -r '.jobs[0] | "\(.read.iops + .write.iops | floor) IOPS"' "$tmp/load-only.json")
wait_ms=$(grep -o "volume m: repair: .*requests waited at most [0-9.]* ms" "$tmp/vramd.log" |
  sed 's/.*at most \([0-9.]*\) ms/\1/' | tail -1)

say "## bench/mirror-bench.sh $args — $(date -u +%Y-%m-%d\ %H:%MZ), $(hostname)" ""
say "$names; volumes of $size; fio $(fio --version) through NBD (Unix socket), $runtime s per job" ""
say "| job | stripe | mirror | mirror / stripe |" "|---|---|---|---|"
for j in seqwrite seqread seqread8 randread randwrite; do
  a=${res[$j-st]} b=${res[$j-mi]}
  case $j in
    seq*) a=${a#* } b=${b#* } u="MB/s" ;;
    *) a=${a% *} b=${b% *} u="IOPS" ;;
  esac
  case $j in
    seqwrite) l="seq write 1M QD32" ;; seqread) l="seq read 1M QD32" ;;
    seqread8) l="seq read 1M QD32 x8 jobs" ;; randread) l="rand read 4k QD32 x4" ;;
    randwrite) l="rand write 4k QD32 x4" ;;
  esac
  say "| $l ($u) | $a | $b | $(ratio "$b" "$a") |"
done
w1=$(grep -o "volume m: repair: .*requests waited at most [0-9.]* ms" "$tmp/vramd.log" |
  sed 's/.*at most \([0-9.]*\) ms/\1/' | head -1)
say "" "| repair of one copy | bytes | s end to end | job GB/s | longest request wait |" "|---|---|---|---|---|"
say "$(awk -v h="$how1" -v b="$b1" -v s="$s1" -v r="$r1" -v w="$w1" 'BEGIN { printf "| idle: %s | %d | %.2f | %.2f | %s ms |", h, b, s, r / 1e9, w }')"
say "$(awk -v h="one write to $on failed, rebuilt on $on, under fio randrw 4k QD16 x2 ($load over its run)" -v b="$b2" -v s="$s2" -v r="$r2" -v w="$wait_ms" 'BEGIN { printf "| %s | %d | %.2f | %.2f | %s ms |", h, b, s, r / 1e9, w }')"
