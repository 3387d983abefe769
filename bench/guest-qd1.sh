#!/bin/bash
# guest-qd1.sh BUILDDIR: QD1 latency of a ublk volume against a kernel NBD
# attached one, in the QEMU guest of tests/kernel/vmtest.sh (the GPU hosts
# have neither driver).  Both volumes live on the same PoCL device and go
# through the same engine path, so the ratio, not the figure, is the point:
#   tests/kernel/vmtest.sh run bench/guest-qd1.sh "$PWD/build"
set -u
here=$(cd "$(dirname "$0")" && pwd)
SUITE=$here/../tests/kernel/guest-lib.sh
# shellcheck source=../tests/kernel/guest-lib.sh
. "$SUITE"
export VRAMD # guest-lib.sh's start_vramd runs it
VRAMD=$(realpath "${1:?usage: guest-qd1.sh BUILDDIR}")/daemon/vramd
secs=${QD1_SECONDS:-5}
if ! modprobe ublk_drv || ! modprobe nbd nbds_max=4; then echo "no ublk_drv or nbd"; exit 1; fi
start_vramd "$W/qd1.log" \
  --volume name=qu,size=64M,devices=cpu0,frontend=ublk,index=3 \
  --volume name=qn,size=64M,devices=cpu0,frontend=nbd,attach=1,index=3 || exit 1
if [ ! -b /dev/ublkb3 ] || [ ! -b /dev/nbd3 ]; then cat "$W/qd1.log"; exit 1; fi
# fio QD1 job on a device; prints "p50 p99 p99.9" in µs.
qd1() {
  fio --name=qd1 --filename="$1" --rw="$2" --bs=4k --iodepth=1 --direct=1 \
    --ioengine=io_uring --time_based --runtime="$secs" --ramp_time=1 --lat_percentiles=1 \
    --output-format=json --output="$W/qd1.json" >/dev/null || return 1
  jq -r '.jobs[0] | (if .read.io_bytes > 0 then .read else .write end).lat_ns.percentile |
    [.["50.000000"], .["99.000000"], .["99.900000"]] | map(. / 1e3 | . * 10 | round / 10) | @tsv' \
    "$W/qd1.json"
}
printf '| job | ublk p50 / p99 / p99.9 µs | NBD attach p50 / p99 / p99.9 µs | ublk/NBD p50 |\n|---|---|---|---|\n'
for rw in randread randwrite; do
  read -r u50 u99 u999 <<<"$(qd1 /dev/ublkb3 $rw)" || exit 1
  read -r n50 n99 n999 <<<"$(qd1 /dev/nbd3 $rw)" || exit 1
  printf '| %s 4k QD1 | %s / %s / %s | %s / %s / %s | %s |\n' "$rw" "$u50" "$u99" "$u999" \
    "$n50" "$n99" "$n999" "$(awk -v a="$u50" -v b="$n50" 'BEGIN { printf "%.2f", a / b }')"
done | tee -a "$R/results"
stop_vramd 60 >/dev/null
