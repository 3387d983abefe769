#!/bin/sh
# make-bundle.sh OUT: build release binaries from HEAD and gather them with
# every non-glibc shared library they need into OUT (bin/, lib/), for a GPU
# host where nothing can be installed.  Extra programs to bundle (e.g.
# /usr/bin/nbdkit) may follow OUT.
set -eu
out=$(realpath -m "$1"); shift
top=$(cd "$(dirname "$0")/.." && pwd)
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git -C "$top" archive HEAD | tar -x -C "$src"
(cd "$src" && autoreconf -fi >/dev/null 2>&1 && ./configure CFLAGS="-O2 -g0" >/dev/null &&
  make -j"$(nproc)" >/dev/null)
mkdir -p "$out/bin" "$out/lib"
cp "$src/daemon/vramd" "$src/bench/engine-bench" "$out/bin/"
[ -x "$src/cli/vramctl" ] && cp "$src/cli/vramctl" "$out/bin/"
for p in "$@"; do cp "$p" "$out/bin/"; done
# Libraries: everything ldd names except glibc's own, which the host has.
for f in "$out"/bin/*; do
  ldd "$f" | awk '/=> \// { print $3 }'
done | sort -u | grep -Ev '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$out/lib/"; done
cp -L /usr/lib/x86_64-linux-gnu/libOpenCL.so.1 "$out/lib/"
du -sh "$out"
