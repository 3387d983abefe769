#!/bin/sh
# make-bundle.sh OUT [--clients]: build release binaries from HEAD and
# gather them with every non-glibc shared library they need into OUT (bin/,
# lib/), for a GPU host where nothing can be installed.  --clients also packs
# fio, nbdkit (memory and null plugins), nbdcopy and nbdinfo with their libraries into
# OUT/clients.tar.xz (too large to carry unpacked); gpu-env.sh unpacks it.
set -eu
out=$(realpath -m "$1"); shift
top=$(cd "$(dirname "$0")/.." && pwd)
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git -C "$top" archive HEAD | tar -x -C "$src"
(cd "$src" && autoreconf -fi >/dev/null 2>&1 && ./configure CFLAGS="-O2 -g0" >/dev/null &&
  make -j"$(nproc)" >/dev/null)
mkdir -p "$out/bin" "$out/lib"
cp "$src/daemon/vramd" "$src/bench/engine-bench" "$src/bench/sock-bench" "$out/bin/"
[ -x "$src/cli/vramctl" ] && cp "$src/cli/vramctl" "$out/bin/"
if [ "${1:-}" = --clients ]; then
  c=$(mktemp -d)
  mkdir -p "$c/bin" "$c/lib"
  cp "$(command -v fio)" "$(command -v nbdkit)" "$(command -v nbdcopy)" "$(command -v nbdinfo)" \
    "$(command -v jq)" "$c/bin/"
  cp /usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-memory-plugin.so \
    /usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-null-plugin.so "$c/lib/"
  for f in "$c"/bin/* "$c"/lib/*.so; do ldd "$f" | awk '/=> \// { print $3 }'; done | sort -u |
    grep -Ev '/(libc|libm|libpthread|libdl|librt|libresolv|libanl|libutil|libnss_[a-z]*|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$c/lib/"; done
  tar -cJf "$out/clients.tar.xz" -C "$c" .
  rm -rf "$c"
fi
# Libraries: everything ldd names except glibc's own, which the host has.
for f in "$out"/bin/*; do
  ldd "$f" | awk '/=> \// { print $3 }'
done | sort -u | grep -Ev '/(libc|libm|libpthread|libdl|librt|libresolv|libanl|libutil|libnss_[a-z]*|ld-linux[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$out/lib/"; done
cp -L /usr/lib/x86_64-linux-gnu/libOpenCL.so.1 "$out/lib/"
du -sh "$out"
