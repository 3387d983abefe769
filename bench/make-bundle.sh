#!/bin/sh
# make-bundle.sh OUT [--clients] [--perf]: build release binaries from HEAD and
# gather them with every non-glibc shared library they need into OUT (bin/,
# lib/, which also holds the test shim libclfault.so), for a GPU host where
# nothing can be installed.  --clients also packs
# fio, nbdkit (memory and null plugins), nbdcopy and nbdinfo with their libraries into
# OUT/clients.tar.xz (too large to carry unpacked); gpu-env.sh unpacks it.
# --perf packs perf(1) the same way, for nbd-bench.sh --perf.
set -eu
out=$(realpath -m "$1"); shift
top=$(cd "$(dirname "$0")/.." && pwd)
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git -C "$top" archive HEAD | tar -x -C "$src"
(cd "$src" && autoreconf -fi >/dev/null 2>&1 && ./configure CFLAGS="-O2 -g0" >/dev/null &&
  make -j"$(nproc)" >/dev/null && make tests/shim/libclfault.so >/dev/null)
mkdir -p "$out/bin" "$out/lib"
cp "$src/daemon/vramd" "$src/bench/engine-bench" "$src/bench/sock-bench" "$out/bin/"
for p in cl-bare cl-calls vram-hog copy-bench; do [ -x "$src/bench/$p" ] && cp "$src/bench/$p" "$out/bin/"; done
[ -x "$src/cli/vramctl" ] && cp "$src/cli/vramctl" "$out/bin/"
# The OpenCL failure shim: mirror-bench.sh loses a device with it (any ICD:
# it stands in for the loader's entry points).
cp "$src/tests/shim/libclfault.so" "$out/lib/"
# Pack programs $2... with their libraries into OUT/$1.tar.xz.
pack() {
  name=$1; shift
  c=$(mktemp -d)
  mkdir -p "$c/bin" "$c/lib"
  for p in "$@"; do
    case $p in *.so) cp "$p" "$c/lib/" ;; *) cp "$(command -v "$p")" "$c/bin/" ;; esac
  done
  for f in "$c"/bin/* "$c"/lib/*.so; do [ -e "$f" ] && ldd "$f" | awk '/=> \// { print $3 }'; done |
    sort -u | grep -Ev "$glibc" | while read -r lib; do cp -L "$lib" "$c/lib/"; done
  tar -cJf "$out/$name.tar.xz" -C "$c" .
  rm -rf "$c"
}
glibc='/(libc|libm|libpthread|libdl|librt|libresolv|libanl|libutil|libnss_[a-z]*|ld-linux[^/]*)\.so'
plugins=/usr/lib/x86_64-linux-gnu/nbdkit/plugins
for opt in "$@"; do
  case $opt in
    --clients) pack clients fio nbdkit nbdcopy nbdinfo jq "$plugins/nbdkit-memory-plugin.so" \
                 "$plugins/nbdkit-null-plugin.so" ;;
    --perf) pack perf perf ;;
    *) echo "make-bundle.sh: unknown option $opt" >&2; exit 2 ;;
  esac
done
# Libraries: everything ldd names except glibc's own, which the host has.
for f in "$out"/bin/*; do
  ldd "$f" | awk '/=> \// { print $3 }'
done | sort -u | grep -Ev "$glibc" |
  while read -r lib; do cp -L "$lib" "$out/lib/"; done
cp -L /usr/lib/x86_64-linux-gnu/libOpenCL.so.1 "$out/lib/"
du -sh "$out"
