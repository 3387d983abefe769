#!/usr/bin/env bash
# save-bench.sh: vramd's save and load rates against what the disk gives
# fio, in one run on one file system: fio writes a file of SIZE
# sequentially with O_DIRECT (1M blocks, 32 in flight, io_uring) and
# reads it back the same way; `vramctl volume create --from` loads that
# file into a volume and `vramctl volume save` writes the volume to a
# second file, which must equal the first.  Rates come from vramd's log
# (the job's own time, not the create's allocation).  Prints a table of
# GB/s and vramd/fio ratios; the goal is at least 0.90.
#
# Usage: bench/save-bench.sh [--pocl] [--bin DIR] [--dir DIR] [--size SIZE]
#                            [--repeat N] [--vramd-opts "ARGS"] [--out FILE]
#   --bin: folder holding vramd and vramctl (default: the build tree; a GPU
#          bundle's bin/ after `. bench/gpu-env.sh BUNDLE`, fio from there).
#   --dir: where the files go (default $TMPDIR or /tmp): the NVMe to measure;
#          it needs twice SIZE free.
#   --size: default 8G, PoCL 512M.  --repeat: runs, the median counts
#          (default 3, PoCL 1).  --vramd-opts: e.g. "--save-staging 128M".
#   --out: also append the report (markdown) to FILE.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pocl= bin= dir=${TMPDIR:-/tmp} size= repeat= vopts= out=
while [ $# -gt 0 ]; do
  case "$1" in
    --pocl) pocl=1; shift ;;
    --bin) bin=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --vramd-opts) vopts=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "save-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
vramd=${bin:-$top/daemon}/vramd vramctl=${bin:-$top/cli}/vramctl
for p in "$vramd" "$vramctl"; do
  [ -x "$p" ] || { echo "save-bench.sh: $p is missing (build first, or --bin DIR)" >&2; exit 2; }
done
for t in fio jq; do
  command -v $t >/dev/null || { echo "save-bench.sh: needs $t" >&2; exit 2; }
done
types=gpu
if [ -n "$pocl" ]; then
  export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
  types=cpu size=${size:-512M} repeat=${repeat:-1}
fi
size=${size:-8G} repeat=${repeat:-3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/save-bench.XXXXXX")
work=$(mktemp -d "$dir/save-bench.XXXXXX")
pid=
finish() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  rm -rf "$tmp" "$work"
}
trap finish EXIT
report=${out:-$tmp/report.md}
say() { printf '%s\n' "$@" | tee -a "$report"; }
export VRAMCTL_SOCKET=$tmp/api.sock

# vramd with no volume, on private sockets.
# shellcheck disable=SC2086
"$vramd" --api-socket "$tmp/api.sock" --metrics-listen off --state-dir "$tmp/state" \
  --device-types "$types" --nbd-socket "$tmp/nbd.sock" $vopts >"$tmp/vramd.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q "ready:" "$tmp/vramd.log" && break; sleep 0.1; done
grep -q "ready:" "$tmp/vramd.log" || { cat "$tmp/vramd.log" >&2; exit 1; }

# fio_rate RW: bytes per second of one sequential O_DIRECT pass over the file.
fio_rate() {
  fio --name=seq --filename="$work/a.img" --rw="$1" --bs=1M --iodepth=32 --ioengine=io_uring \
    --direct=1 --size="$size" --fallocate=none --output-format=json 2>/dev/null |
    jq ".jobs[0].$([ "$1" = write ] && echo write || echo read).bw_bytes"
}
# log_rate WHAT: the GB/s of vramd's last "WHAT ... (N GB/s" log line.
log_rate() { grep -o "$1 .*(\([0-9.]*\) GB/s" "$tmp/vramd.log" | tail -1 | sed 's/.*(\([0-9.]*\) GB\/s/\1/'; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for r in $(seq 1 "$repeat"); do
  rm -f "$work"/*.img
  echo "== run $r: fio write, fio read, load, save ($size in $dir)" >&2
  echo "$(fio_rate write)" | awk '{ printf "%.3f\n", $1 / 1e9 }' >>"$tmp/fio-write"
  echo "$(fio_rate read)" | awk '{ printf "%.3f\n", $1 / 1e9 }' >>"$tmp/fio-read"
  "$vramctl" volume create sb --from "$work/a.img" --frontend none >/dev/null
  log_rate "volume sb: loaded" >>"$tmp/load"
  "$vramctl" volume save sb "$work/b.img" >/dev/null
  log_rate "volume sb: saved to" >>"$tmp/save"
  cmp "$work/a.img" "$work/b.img" || { echo "save-bench.sh: the saved image differs" >&2; exit 1; }
  "$vramctl" volume delete sb >/dev/null
done

fw=$(median <"$tmp/fio-write") fr=$(median <"$tmp/fio-read")
ld=$(median <"$tmp/load") sv=$(median <"$tmp/save")
say "## bench/save-bench.sh ${pocl:+--pocl }— $(date -u +%Y-%m-%d\ %H:%MZ), $(hostname)" ""
say "$size, $(df -T "$dir" | awk 'NR == 2 { print $2 " on " $1 }'), median of $repeat; vramd $(grep -o 'save-staging [^ ]*' <<<"$vopts" || echo 'save-staging 32M (default)'), $(grep -o '[a-z]* I/O)' "$tmp/vramd.log" | tail -1 | tr -d ')')" ""
say "| operation | vramd GB/s | fio O_DIRECT GB/s | vramd / fio |" "|---|---|---|---|"
say "$(awk -v v="$ld" -v f="$fr" 'BEGIN { printf "| load (disk to VRAM) vs fio read | %.2f | %.2f | %.2f |", v, f, v / f }')"
say "$(awk -v v="$sv" -v f="$fw" 'BEGIN { printf "| save (VRAM to disk) vs fio write | %.2f | %.2f | %.2f |", v, f, v / f }')"
