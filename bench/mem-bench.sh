#!/usr/bin/env bash
# mem-bench.sh: where vramd's host memory (and its idle VRAM) goes, next to
# what the OpenCL driver alone costs, measured in the same run.
#
# First cl-bare (a context and a queue per device, nothing else): unlocked,
# locked as vramd locks itself (mlockall MCL_CURRENT|MCL_FUTURE), locked
# with MCL_ONFAULT, with vramd's batch kernel built, and with one context
# over all devices.  Then each vramd given: with no volume, and after a
# volume striped over all devices took a fill, 4k QD1 random reads and
# writes and 4k QD32 random writes (fio, nbd engine).  Each snapshot sums
# /proc/PID/smaps by class (bench/mem-breakdown.awk: thread stacks, malloc
# heaps, /dev mappings, files, other anonymous memory) and, with
# nvidia-smi, the memory the process holds on each GPU.  The last column
# is (VmRSS - configured) / VmRSS of the bare locked context, where
# configured is the pinned staging held plus (PoCL) volumes on CPU devices:
# the host memory that is vramd's own, as a multiple of the driver's.
#
# Usage: bench/mem-bench.sh [--pocl] [--bin DIR] [--vramd LABEL=PATH]...
#                           [--size SIZE] [--runtime SEC] [--out FILE] [--keep DIR]
#   --bin: folder with vramd, vramctl and cl-bare (default: the build tree).
#   --vramd: a vramd to measure (repeatable, e.g. before=old/vramd);
#            default: DIR/vramd as "vramd".
#   --size: the volume (default 8G, PoCL 512M); --runtime: seconds per job
#           (default 5); --out: also append the report to FILE; --keep: copy
#           every snapshot's raw breakdown, status and logs into DIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pocl= bin= size= runtime=5 out= keep=
vramds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pocl) pocl=1; shift ;;
    --bin) bin=$2; shift 2 ;;
    --vramd) vramds+=("$2"); shift 2 ;;
    --size) size=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "mem-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$bin" ]; then
  vramctl=$bin/vramctl bare=$bin/cl-bare
  [ ${#vramds[@]} -gt 0 ] || vramds=("vramd=$bin/vramd")
else
  vramctl=$top/cli/vramctl bare=$top/bench/cl-bare
  [ ${#vramds[@]} -gt 0 ] || vramds=("vramd=$top/daemon/vramd")
fi
types=gpu
if [ -n "$pocl" ]; then
  export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
  types=cpu size=${size:-512M}
fi
size=${size:-8G}
for t in fio jq "$vramctl" "$bare"; do
  command -v "$t" >/dev/null || { echo "mem-bench.sh: needs $t" >&2; exit 2; }
done
gpus=()
if command -v nvidia-smi >/dev/null && [ -z "$pocl" ]; then
  mapfile -t gpus < <(nvidia-smi --query-gpu=pci.bus_id --format=csv,noheader)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mem-bench.XXXXXX")
pid=
# Stop what we started and remove the scratch directory.
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  [ -z "$keep" ] || { mkdir -p "$keep" && cp -r "$tmp"/. "$keep"/; }
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
report=${out:-$tmp/report.md}
# Print to the terminal and keep for the report.
say() { printf '%s\n' "$@" | tee -a "$report"; }
kib2mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# One snapshot of process $2 as row $1: fills rows[] and keeps the files.
rows=()
snap() {
  local label=$1 p=$2 staging=${3:-0} sps st gpu="" b
  sps=$(cat /proc/"$p"/task/*/syscall 2>/dev/null | awk '{ print $(NF-1) }' | tr '\n' ' ')
  awk -v sps="$sps" -f "$top/bench/mem-breakdown.awk" /proc/"$p"/smaps >"$tmp/$label.mem"
  st=$(awk '/^(VmRSS|VmHWM|VmLck):/ { v[$1] = $2 } /^Threads:/ { t = $2 }
    END { print v["VmRSS:"], v["VmHWM:"], v["VmLck:"], t }' /proc/"$p"/status)
  echo "$st" >"$tmp/$label.status"
  cp /proc/"$p"/smaps "$tmp/$label.smaps"
  for t in /proc/"$p"/task/*; do echo "$(cat "$t/comm") $(awk '{ print $(NF-1) }' "$t/syscall")"; done \
    >"$tmp/$label.sp" 2>/dev/null || true
  cat /proc/"$p"/task/*/comm | sort | uniq -c | awk '{ printf "%s×%s ", $2, $1 }' >"$tmp/$label.threads"
  if [ ${#gpus[@]} -gt 0 ]; then
    nvidia-smi --query-compute-apps=pid,gpu_bus_id,used_memory --format=csv,noheader,nounits \
      >"$tmp/$label.gpu" || true
    for b in "${gpus[@]}"; do
      gpu+="$(awk -F', *' -v p="$p" -v b="$b" '$1 == p && $2 == b { s += $3 } END { print s + 0 }' \
        "$tmp/$label.gpu") / "
    done
    gpu=${gpu% / }
  fi
  rows+=("$label|$st|$staging|${gpu:--}")
}

# Wait until file $1 has a line matching $2 (30 s at most).
wait_for() {
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "mem-bench.sh: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

# A bare context per device, with cl-bare's options $2..., as row $1.
run_bare() {
  local label=$1; shift
  "$bare" --device-types "$types" "$@" >"$tmp/$label.out" 2>&1 &
  pid=$!
  wait_for "$tmp/$label.out" "^cl-bare:"
  sleep 1 # driver threads settle
  snap "$label" "$pid"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

echo "== bare OpenCL contexts" >&2
run_bare bare
run_bare bare-locked --lock all
run_bare bare-onfault --lock onfault
run_bare bare-kernel-locked --lock all --kernel
run_bare bare-shared-ctx --shared-context

# fio against the volume: a job as row input, quietly.
fio_job() {
  fio --name="$1" --ioengine=nbd --uri="nbd+unix:///mem?socket=$tmp/nbd.sock" \
    --output="$tmp/fio-$1.txt" "${@:2}" >/dev/null
}

for v in "${vramds[@]}"; do
  label=${v%%=*} exe=${v#*=}
  echo "== $label: idle, then a volume and QD1 jobs" >&2
  rm -rf "$tmp/state"
  "$exe" --api-socket "$tmp/api.sock" --nbd-socket "$tmp/nbd.sock" --metrics-listen off \
    --state-dir "$tmp/state" --device-types "$types" ${pocl:+--reserve 0} \
    >"$tmp/$label.log" 2>&1 &
  pid=$!
  wait_for "$tmp/$label.log" "ready:"
  sleep 1
  # kB that are vramd's by configuration: pinned staging held, and volumes
  # on CPU devices (PoCL), whose "VRAM" is host memory
  held() {
    echo $(( $("$vramctl" --socket "$tmp/api.sock" status --json |
                 jq '.vramd.pinned_host.held_bytes / 1024 | floor') +
             $("$vramctl" --socket "$tmp/api.sock" device list --json |
                 jq '[.devices[] | select(.type == "cpu") | .allocated_bytes] | (add // 0) / 1024 | floor') ))
  }
  snap "$label-idle" "$pid" "$(held)"
  "$vramctl" --socket "$tmp/api.sock" volume create mem --size "$size" --stripe all >/dev/null
  bytes=$(( $(numfmt --from=iec "$size") < 1 << 30 ? $(numfmt --from=iec "$size") : 1 << 30 ))
  fio_job fill --rw=write --bs=1M --iodepth=32 --size="$bytes"
  for j in randread randwrite; do
    fio_job "qd1$j" --rw=$j --bs=4k --iodepth=1 --size="$bytes" --time_based --runtime="$runtime"
  done
  fio_job qd32 --rw=randwrite --bs=4k --iodepth=32 --size="$bytes" --time_based --runtime="$runtime"
  sleep 1
  snap "$label-after-jobs" "$pid" "$(held)"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done

say "## bench/mem-bench.sh ${pocl:+--pocl }— $(date -u +%Y-%m-%d\ %H:%MZ), $(hostname)" ""
say "Volume $size striped over all devices; jobs: 1M fill of the first" \
  "$(kib2mib $((bytes / 1024))) MiB, then 4k random read and write at QD1 and 4k random" \
  "write at QD32, ${runtime} s each. MiB; stacks as count × total size mapped." ""
gh=""
[ ${#gpus[@]} -gt 0 ] && gh=" GPU MiB (${gpus[*]}) |"
say "| process | VmRSS | staging (+CPU volumes) | stacks (n: size) | heaps | /dev maps | files | other anon | VmLck | threads |$gh (VmRSS-configured)/bare-locked |" \
  "|---|---|---|---|---|---|---|---|---|---|${gh:+---|}---|"
base=$(cut -d' ' -f1 "$tmp/bare-locked.status")
for r in "${rows[@]}"; do
  IFS='|' read -r label st staging gpu <<<"$r"
  read -r rss _ lck thr <<<"$st"
  # shellcheck disable=SC2046 # class lines: name rss locked mappings size
  set -- $(awk '$1 == "class" { printf "%s %s %s %s ", $3, $5, $6, $2 }' "$tmp/$label.mem")
  line="| $label | $(kib2mib "$rss") | $(kib2mib "${staging%.*}") | $(kib2mib "$1") ($2: $(kib2mib "$3"))"
  line+=" | $(kib2mib "$5") | $(kib2mib "$9") | $(kib2mib "${13}") | $(kib2mib "${17}") | $(kib2mib "$lck") | $thr |"
  [ -n "$gh" ] && line+=" $gpu |"
  line+=" $(awk -v r="$rss" -v s="${staging%.*}" -v b="$base" 'BEGIN { printf "%.2f", (r - s) / b }') |"
  say "$line"
done
say "" "Largest mapped files (Rss MiB) in the last vramd snapshot and in bare-locked:" ""
last=${rows[-1]%%|*}
say "| file | $last | bare-locked |" "|---|---|---|"
awk '$1 == "file" { print $3, $2 }' "$tmp/$last.mem" | sort -rn | head -8 | while read -r kb f; do
  b=$(awk -v f="$f" '$1 == "file" && $2 == f { print $3 }' "$tmp/bare-locked.mem")
  say "| ${f##*/} | $(kib2mib "$kb") | $(kib2mib "${b:-0}") |"
done
say "" "Threads:" ""
for r in "${rows[@]}"; do
  label=${r%%|*}
  say "- $label: $(cat "$tmp/$label.threads")"
done
for v in "${vramds[@]}"; do
  grep -h "swap safety: mlockall\|staging" "$tmp/${v%%=*}.log" | sed "s/^/${v%%=*}: /" >&2 || true
done
