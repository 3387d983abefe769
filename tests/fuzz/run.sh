#!/bin/sh
# run.sh: build each libFuzzer target with clang (fuzzer, ASan, UBSan) and
# run it for a bounded time on its checked-in seed corpus.
# Usage: tests/fuzz/run.sh [SECONDS per target, default 30]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-30}
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/vramd-fuzz.XXXXXX")}
command -v clang >/dev/null || { echo "run.sh: clang is not installed" >&2; exit 1; }
# Sources that include autoconf's config.h get a stand-in: the parsers
# under test need none of its features (TLS stays compiled out).
mkdir -p "$out/include"
printf '#define PACKAGE_VERSION "fuzz"\n' >"$out/include/config.h"
inc="-I$out/include -I$top/common -I$top/daemon -I$top/daemon/volume -I$top/daemon/map -I$top/daemon/pool -I$top/daemon/engine -I$top/frontends -I$top/api"
for src in "$top"/tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  echo "== $name: ${secs}s"
  # A target names the other files it links in "fuzz-sources:" and the
  # pkg-config packages in "fuzz-libs:" lines of its header comment.
  srcs=$(sed -n 's/^ \* fuzz-sources: //p' "$src" | tr ' ' '\n' | sed "s|^.|$top/&|")
  pkgs=$(sed -n 's/^ \* fuzz-libs: //p' "$src")
  libs=
  [ -z "$pkgs" ] || libs="$(pkg-config --libs $pkgs) -ldl"
  # shellcheck disable=SC2086
  clang -g -O1 -std=gnu11 -pthread -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -D_GNU_SOURCE -DSYSCONFDIR='"/etc"' -DCL_TARGET_OPENCL_VERSION=300 $inc "$src" $srcs \
    -o "$out/$name" $libs
  mkdir -p "$out/corpus-$name"
  # New inputs go to a scratch corpus; the checked-in seeds stay as they are.
  "$out/$name" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
    "$out/corpus-$name" "$top/tests/fuzz/corpus/$name" 2>"$out/$name.log" ||
    { tail -40 "$out/$name.log"; echo "run.sh: $name found a bug (inputs in $out)" >&2; exit 1; }
  grep -E "stat::number_of_executed_units" "$out/$name.log" || true
done
[ -n "${FUZZ_OUT:-}" ] || rm -rf "$out"
echo "run.sh: all fuzz targets ran clean"
