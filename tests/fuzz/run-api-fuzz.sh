#!/bin/sh
# run-api-fuzz.sh: build the API body and config fuzzers with clang's
# libFuzzer, ASan and UBSan, and run each for SECONDS (default 30).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-30}
out=${FUZZ_OUT:-$top/build-fuzz}
mkdir -p "$out"
inc="-I$top/common -I$top/daemon -I$top/daemon/map -I$top/daemon/pool -I$top/daemon/engine -I$top/frontends -I$top/api"

cflags="-g -O1 -fsanitize=fuzzer,address,undefined -DSYSCONFDIR=\"/etc\" -DCL_TARGET_OPENCL_VERSION=300 -D_GNU_SOURCE -std=gnu11 -pthread"
libs="$(pkg-config --libs jansson OpenCL) -ldl"
core="$top/common/size.c $top/common/name.c $top/common/log.c $top/daemon/volume.c \
  $top/daemon/registry.c $top/daemon/map/volmap.c $top/daemon/pool/pool.c $top/daemon/pool/extent.c \
  $top/daemon/pool/nvml.c $top/daemon/pool/clerr.c"
# shellcheck disable=SC2086
clang $cflags $inc -o "$out/fuzz_api_body" "$top/tests/fuzz/fuzz_api_body.c" "$top/api/body.c" $core $libs
# shellcheck disable=SC2086
clang $cflags $inc -o "$out/fuzz_config" "$top/tests/fuzz/fuzz_config.c" "$top/daemon/config.c" $core $libs
mkdir -p "$out/corpus-body" "$out/corpus-config"
printf '{"name":"swap0","size":12884901888,"layout":"stripe","devices":["gpu0","gpu1"],"stripe_unit":65536,"frontend":"nbd","attach":false}' >"$out/corpus-body/seed"
printf 'reserve = 2G\nmetrics-listen = off\nvolume = name=a,size=1G,devices=gpu0+gpu1,unit=64K\n' >"$out/corpus-config/seed"
"$out/fuzz_api_body" -max_total_time="$secs" -max_len=4096 "$out/corpus-body" 2>&1 | tail -3
"$out/fuzz_config" -max_total_time="$secs" -max_len=4096 "$out/corpus-config" 2>&1 | tail -3
echo "run-api-fuzz.sh: no crash in ${secs}s each"
