#!/bin/sh
# demo.sh: build vramd and run its main job on this host's default devices
# (GPUs; PoCL on the CPU where there are none): start vramd, make a volume
# striped over every device, write data through NBD, read it back, compare.
set -eu
cd "$(dirname "$0")"
[ -x daemon/vramd ] && [ -x cli/vramctl ] ||
  { autoreconf -fi >/dev/null && ./configure >/dev/null && make -j"$(nproc)" >/dev/null; }
size=${DEMO_SIZE:-256M}
dir=$(mktemp -d "${TMPDIR:-/tmp}/vramd-demo.XXXXXX")
export VRAMCTL_SOCKET="$dir/api.sock"

# Stop vramd and remove the demo's files, however the demo ends.
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

echo "== devices"
./daemon/vramd --list-devices
echo
echo "== start vramd (sockets and state in $dir)"
./daemon/vramd --api-socket "$dir/api.sock" --nbd-socket "$dir/nbd.sock" \
  --metrics-listen off --state-dir "$dir/state" >"$dir/vramd.log" 2>&1 &
pid=$!
i=0
until ./cli/vramctl status >/dev/null 2>&1; do
  i=$((i + 1))
  kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ] || { cat "$dir/vramd.log"; exit 1; }
  sleep 0.1
done
echo
echo "== vramctl volume create demo0 --size $size --stripe all"
uri=$(./cli/vramctl volume create demo0 --size "$size" --stripe all | tee /dev/stderr | tail -1)
echo
echo "== write $size of random data through NBD, read it back, compare"
bytes=$(./cli/vramctl --json volume show demo0 | jq .size_bytes)
head -c "$bytes" /dev/urandom >"$dir/data"
t0=$(date +%s.%N)
nbdcopy "$dir/data" "$uri"
t1=$(date +%s.%N)
nbdcopy "$uri" "$dir/back"
t2=$(date +%s.%N)
cmp "$dir/data" "$dir/back"
awk -v b="$bytes" -v a="$t0" -v m="$t1" -v z="$t2" 'BEGIN {
  printf "identical: wrote %.0f MiB at %.2f GB/s, read at %.2f GB/s\n", b / 1048576,
         b / (m - a) / 1e9, b / (z - m) / 1e9 }'
echo
echo "== vramctl status"
./cli/vramctl status
./cli/vramctl volume delete demo0 >/dev/null
