#!/bin/sh
# demo.sh: build vramd and run its main job on this host's default devices
# (GPUs; PoCL on the CPU where there are none).
set -eu
cd "$(dirname "$0")"
[ -x daemon/vramd ] || { autoreconf -fi >/dev/null && ./configure >/dev/null && make -j"$(nproc)" >/dev/null; }

echo "== devices"
./daemon/vramd --list-devices
echo
echo "== a volume striped over every device: fill, timed I/O, verify"
./bench/engine-bench --size 256M --seconds 1 --bs 4K,1M
