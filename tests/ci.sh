#!/bin/sh
# ci.sh: the whole test suite, as CI runs it: a warnings-as-errors build and
# its tests, the same tests under ASan and UBSan, the fuzzers, and make distcheck.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"

# A merge leftover anywhere fails at once.
if git rev-parse --git-dir >/dev/null 2>&1 && git grep -nE '^(<<<<<<<|>>>>>>>) ' -- . ':!*.xz'; then
  echo "ci.sh: merge conflict markers left in the tree" >&2
  exit 1
fi

# Nothing stray at the repository root.
if git rev-parse --git-dir >/dev/null 2>&1; then tests/repo-root.sh; fi

# Out-of-tree builds need a clean source tree.
[ ! -f config.status ] || make distclean >/dev/null
autoreconf -fi >/dev/null
rm -rf build-ci build-asan
mkdir -p build-ci build-asan

echo "== build with -Werror and run the tests"
(cd build-ci && ../configure --enable-werror >/dev/null && make -j"$jobs" >/dev/null &&
  make -j"$jobs" check) || { cat build-ci/test-suite.log 2>/dev/null; exit 1; }

echo "== kernel tests in a QEMU guest (ublk, kernel NBD attach, swap)"
(cd build-ci && make check-kernel) || exit 1

echo "== the same tests under ASan and UBSan"
# PoCL's own allocations are not ours to fix: leaks are checked by the
# sanitizer runs of our own code, with detect_leaks kept on.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# The full-length soak (tests/integration/soak.sh) ran above; repeats are short.
export SOAK_SECONDS="${CI_SHORT_SOAK:-30}"
(cd build-asan && ../configure --enable-werror --enable-sanitizers >/dev/null &&
  make -j"$jobs" >/dev/null && make -j"$jobs" check) ||
  { cat build-asan/test-suite.log 2>/dev/null; exit 1; }

echo "== fuzz the NBD request and option parsers, API bodies and vramd.conf"
tests/fuzz/run.sh "${FUZZ_SECONDS:-30}" || exit 1

echo "== make distcheck"
# The tarball's own make check repeats the suite; its soak can be short.
(cd build-ci && SOAK_SECONDS=20 make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror \
  >distcheck.log 2>&1) ||
  { tail -60 build-ci/distcheck.log; find build-ci -path '*_build*' -name test-suite.log -exec cat {} +;
    echo "distcheck failed"; exit 1; }
echo "== packages: build, lintian, install, run and purge the .deb; build the RPM"
if [ "$(id -u)" = 0 ]; then tests/package.sh "$top/build-ci"; else echo "SKIP: needs root"; fi
echo "ci.sh: all passed"
