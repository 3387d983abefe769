#!/usr/bin/env bash
# run.sh: the whole benchmark in one command, on a GPU host or (--pocl)
# anywhere: the in-process engine benchmark (throughput, and QD1 latency
# next to a bare pinned copy), the raw Unix-socket ceiling, then fio's nbd
# engine against vramd, `nbdkit memory` and `nbdkit null`
# (bench/nbd-bench.sh, QD1 latency included), a table of every target
# with its figure, and where vramd's host memory goes next to a bare OpenCL
# context per device (bench/mem-bench.sh).
# Every storing run fills its volume first and verifies it; a verify failure
# stops the run with exit 1.  Documented in bench/README.md.
#
# Usage: bench/run.sh [--pocl] [--bin DIR] [--size SIZE] [--engine-size SIZE]
#                     [--runtime SEC] [--repeat N] [--out FILE] [--sweep "VRAMD OPTIONS"]...
#   --bin: folder holding vramd, engine-bench, sock-bench, vramctl and
#          cl-bare (default: the build tree); a GPU bundle's bin/ after
#          `. bench/gpu-env.sh BUNDLE`.
#   --size: NBD volume (default 8G, PoCL 512M); --engine-size: engine volume
#          per device (default 8G, PoCL 256M); --runtime: seconds per fio job;
#          --repeat: runs per fio job, the median counts (default 3, PoCL 1).
#   --out: also append the report (markdown) to FILE, as it goes.
#   --sweep: after the main run, the 1M NBD jobs against vramd alone started
#          with these extra options (repeatable), e.g. --sweep "--nbd-staging 8M".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
pocl= bin= size= esize= runtime= out= repeat=
sweeps=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pocl) pocl=1; shift ;;
    --bin) bin=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --engine-size) esize=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --sweep) sweeps+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$bin" ]; then
  vramd=$bin/vramd ebench=$bin/engine-bench sbench=$bin/sock-bench
else
  vramd=$top/daemon/vramd ebench=$top/bench/engine-bench sbench=$top/bench/sock-bench
fi
for p in "$vramd" "$ebench" "$sbench"; do
  [ -x "$p" ] || { echo "run.sh: $p is missing (build first, or --bin DIR)" >&2; exit 2; }
done
types=gpu
if [ -n "$pocl" ]; then
  export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
  types=cpu size=${size:-512M} esize=${esize:-256M} runtime=${runtime:-5} repeat=${repeat:-1}
fi
size=${size:-8G} esize=${esize:-8G} runtime=${runtime:-6} repeat=${repeat:-3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
report=${out:-$tmp/report.md} # written as it goes: a cut-off run keeps its part
# Print to the terminal and keep for the report.
say() { printf '%s\n' "$@" | tee -a "$report"; }

say "## bench/run.sh ${pocl:+--pocl }— $(date -u +%Y-%m-%d\ %H:%MZ), $(hostname)" ""
say '```'
"$vramd" --list-devices --device-types "$types" 2>&1 | tee -a "$report"
say "cores: $(nproc), kernel $(uname -r)" '```' ""

echo "== engine: 1M and 4M, one device and striped over all (fill + verify inside)" >&2
"$ebench" --device-types "$types" --size "$esize" --seconds 2 --qd 32 --bs 1M,4M \
  >"$tmp/engine-big.txt" || { cat "$tmp/engine-big.txt"; echo "run.sh: engine-bench failed" >&2; exit 1; }
echo "== engine: 4K, one device against all of them, QD 1 to 512" >&2
"$ebench" --device-types "$types" --size "$esize" --seconds 1 --qd 1,2,4,8,16,32,64,128,256,512 --bs 4K \
  >"$tmp/engine-4k.txt" || { cat "$tmp/engine-4k.txt"; echo "run.sh: engine-bench failed" >&2; exit 1; }
echo "== engine: QD1 latency, 4K, next to a bare pinned copy" >&2
"$ebench" --device-types "$types" --size "$esize" --seconds 2 --bs 4K --latency \
  >"$tmp/engine-lat.txt" || { cat "$tmp/engine-lat.txt"; echo "run.sh: engine-bench failed" >&2; exit 1; }
say '```' "$(grep -hv '^$' "$tmp/engine-big.txt" "$tmp/engine-4k.txt" "$tmp/engine-lat.txt")" '```' ""

echo "== raw Unix socket, 1M messages" >&2
sock1=$("$sbench" --seconds 3 | awk '{ print $(NF-1) }')
sock1s=$("$sbench" --seconds 3 --splice | awk '{ print $(NF-1) }')
sock1r=$("$sbench" --seconds 3 --ring 32 | awk '{ print $(NF-1) }')
sock8=$("$sbench" --seconds 3 --conns 8 | awk '{ print $(NF-1) }')
say "Raw Unix socket, 1 MiB messages (bench/sock-bench): one connection ${sock1} GB/s" \
  "(send), ${sock1s} GB/s (vmsplice+splice, sender copies nothing), ${sock1r} GB/s when the" \
  "receiver cycles through 32 MiB of buffers as a server's staging does; 8 connections ${sock8} GB/s." ""

echo "== NBD: vramd, nbdkit memory, nbdkit null" >&2
nbdopts=(--size "$size" --runtime "$runtime" --repeat "$repeat" --vramd "$vramd" --tsv "$tmp/nbd.tsv")
[ -n "$pocl" ] && nbdopts+=(--pocl)
"$top/bench/nbd-bench.sh" "${nbdopts[@]}" >"$tmp/nbd.md"
say "$(cat "$tmp/nbd.md")" ""

# Engine figure: GB/s (field 7) or IOPS (field 9) of LABEL JOB at BS and QD.
eng() { awk -v l="$1" -v j="$2" -v b="$3" -v q="$4" -v f="$5" \
  '$1 == l && $2 == j && $3 $4 == b && $6 == q { print $f }' "$tmp"/engine-big.txt "$tmp"/engine-4k.txt; }
# The lowest all/one ratio of 4 KiB JOB over every depth, and the depth.
eng_min() { awk -v j="$1" '$1 == "one" && $2 == j { one[$6] = $9 }
  $1 == "all" && $2 == j && one[$6] > 0 { r = $9 / one[$6]; if (min == "" || r < min) { min = r; q = $6 } }
  END { if (min != "") printf "%.2f (QD %s)", min, q }' "$tmp/engine-4k.txt"; }
ndev=$(grep -c '^# device ' "$tmp/engine-big.txt")
# Engine QD1 p50 in µs of LABEL (one, all, bare, bare-poll) and JOB, 4 KiB.
lat() { awk -v l="$1" -v j="$2" '$1 == "qd1" && $2 == l && $3 == j { print $7 }' "$tmp/engine-lat.txt"; }
# NBD figure: field F (default 3, MB/s; 5-7: p50, p99, p99.9 µs) of SERVER JOB.
nbd() { awk -v s="$1" -v j="$2" -v f="${3:-3}" '$1 == s && $2 == j { print $f }' "$tmp/nbd.tsv"; }
# One table row: what, figure, the least that meets the target, and whether it does.
row() {
  local met
  met=$(awk -v v="$2" -v lim="$3" 'BEGIN {
    if (v == "") print "no figure"; else print (v + 0 >= lim ? "yes" : "**no**") }')
  # the targets are for GPUs; under PoCL every figure is shown, none is judged
  [ -n "$pocl" ] && met="n/a (PoCL)"
  say "| $1 | $2 | >= $3 | $met |"
}
# The same for a target that is a maximum (latency).
row_max() {
  local met
  met=$(awk -v v="$2" -v lim="$3" 'BEGIN {
    if (v == "") print "no figure"; else print (v + 0 <= lim ? "yes" : "**no**") }')
  [ -n "$pocl" ] && met="n/a (PoCL)"
  say "| $1 | $2 | <= $3 | $met |"
}
minus() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "") printf "%.1f", a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b }'; }

say "| target | measured | goal | met |" "|---|---|---|---|"
for j in seq-write seq-read; do
  row "engine $j 1M, one device (GB/s)" "$(eng one "$j" 1.0MiB 32 7)" 45
done
# Scaling: N devices against one (0.9 N at 1 MiB, as 1.8 for two and 3.6
# for four), never below one at 4 KiB, and 0.75 N at 4 KiB QD512.
for j in seq-write seq-read; do
  row "engine $j 1M, $ndev devices/one" \
    "$(ratio "$(eng all "$j" 1.0MiB 32 7)" "$(eng one "$j" 1.0MiB 32 7)")" "$(awk -v n="$ndev" 'BEGIN { print 0.9 * n }')"
done
for j in rand-write rand-read; do
  row "engine $j 4K, all devices, QD128 (IOPS)" "$(eng all "$j" 4.0KiB 128 9)" 1000000
  row "engine $j 4K, $ndev devices/one, lowest over QD 1-512" "$(eng_min "$j")" 1
  row "engine $j 4K, $ndev devices/one, QD512" \
    "$(ratio "$(eng all "$j" 4.0KiB 512 9)" "$(eng one "$j" 4.0KiB 512 9)")" "$(awk -v n="$ndev" 'BEGIN { print 0.75 * n }')"
done
for j in seqwrite seqread; do
  row "NBD $j 1M QD32, vramd/nbdkit" "$(ratio "$(nbd vramd $j)" "$(nbd nbdkit $j)")" 1.6
done
for j in randread randwrite; do
  row "NBD $j 4k QD32 ×4, vramd/nbdkit" "$(ratio "$(nbd vramd $j)" "$(nbd nbdkit $j)")" 1.1
done
row "NBD seq read 1M QD32 ×8, vramd (MB/s)" "$(nbd vramd seq8)" 20000
for j in read write; do
  row_max "engine QD1 4K rand-$j p50, one device, minus bare copy (µs)" \
    "$(minus "$(lat one rand-$j)" "$(lat bare rand-$j)")" 2
done
for j in read write; do
  for q in "5 p50 1.15" "6 p99 1.5" "7 p99.9 2"; do
    read -r f name lim <<<"$q"
    row_max "NBD $j 4k QD1 $name, vramd/nbdkit" \
      "$(ratio "$(nbd vramd qd1$j "$f")" "$(nbd nbdkit qd1$j "$f")")" "$lim"
  done
done
say "" "$(printf '%s ' "Ceilings for one connection: \`nbdkit null\` (stores nothing) moves" \
  "$(nbd null seqwrite) MB/s of 1M writes and $(nbd null seqread) MB/s of 1M reads; vramd" \
  "reaches $(ratio "$(nbd vramd seqwrite)" "$(nbd null seqwrite)") and" \
  "$(ratio "$(nbd vramd seqread)" "$(nbd null seqread)") of that, nbdkit memory" \
  "$(ratio "$(nbd nbdkit seqwrite)" "$(nbd null seqwrite)") and" \
  "$(ratio "$(nbd nbdkit seqread)" "$(nbd null seqread)"); the raw socket moves ${sock1} GB/s.")"
# What bounds QD1: vramd's time outside the device copy (its p50 minus a
# bare copy's) against what 1.15 x nbdkit memory leaves once the copy is
# paid, and against nbdkit null (a server that does nothing).
for j in read write; do
  v=$(nbd vramd qd1$j 5) b=$(lat bare rand-$j) k=$(nbd nbdkit qd1$j 5) z=$(nbd null qd1$j 5)
  say "" "$(printf '%s ' "QD1 $j: vramd p50 $v µs, of which a bare 4 KiB copy takes $b µs:" \
    "$(minus "$v" "$b") µs outside it, against nbdkit memory's whole $k µs and nbdkit null's" \
    "$z µs; 1.15 × nbdkit memory leaves $(awk -v k="$k" -v b="$b" \
    'BEGIN { if (k != "" && b != "") printf "%.1f", k * 1.15 - b }') µs for all but the copy.")"
done

echo "== host memory: vramd next to a bare OpenCL context per device" >&2
memopts=(--size "$size" --out "$tmp/mem.md")
[ -n "$pocl" ] && memopts+=(--pocl)
[ -n "$bin" ] && memopts+=(--bin "$bin" --vramd "vramd=$vramd")
"$top/bench/mem-bench.sh" "${memopts[@]}" >/dev/null
say "" "$(cat "$tmp/mem.md")"

if [ ${#sweeps[@]} -gt 0 ]; then
  say "" "vramd alone with other settings, same jobs (MB/s):" "" \
    "| vramd options | seq write 1M | seq read 1M | seq read 1M ×8 |" "|---|---|---|---|" \
    "| (defaults, above) | $(nbd vramd seqwrite) | $(nbd vramd seqread) | $(nbd vramd seq8) |"
  for opts in "${sweeps[@]}"; do
    echo "== NBD sweep: vramd $opts" >&2
    "$top/bench/nbd-bench.sh" "${nbdopts[@]}" --servers vramd --jobs seqwrite,seqread,seq8 \
      --vramd-opts "$opts" >/dev/null
    say "| \`$opts\` | $(nbd vramd seqwrite) | $(nbd vramd seqread) | $(nbd vramd seq8) |"
  done
fi
