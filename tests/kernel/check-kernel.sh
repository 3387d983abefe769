#!/bin/bash
# check-kernel.sh [GUEST_SCRIPT [ARGS...]]: `make check-kernel` (and
# `make check-swap-soak`): boot Debian's 6.12 kernel in QEMU (TCG) and run
# GUEST_SCRIPT (default guest-suite.sh) there against this build.  Exit 77
# (skip) only when qemu cannot run here at all; otherwise PASS/FAIL per step.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$(pwd)}"
top_builddir=$(cd "$top_builddir" && pwd)
[ -x "$top_builddir/daemon/vramd" ] || { echo "FAIL: no $top_builddir/daemon/vramd (run make first)"; exit 1; }
why=$(bash "$here/vmtest.sh" check); rc=$?
[ $rc = 77 ] && { echo "SKIP: kernel tests: $why"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: qemu check: $why"; exit 1; }

guest=${1:-guest-suite.sh}; shift $(($# > 0))
out=${VM_OUT:-$top_builddir/tests/kernel/out}
rm -rf "$out" && mkdir -p "$out"
t0=$(date +%s)
VM_OUT=$out bash "$here/vmtest.sh" run "$here/$guest" "$top_builddir" "$@"; rc=$?
echo
echo "================ ${guest%.sh} (guest log: $out/guest.log) ================"
if [ -f "$out/results" ]; then cat "$out/results"; else echo "FAIL the guest produced no results"; rc=1; fi
[ -f "$out/rc" ] || { echo "FAIL the guest did not finish (see $out/console.log)"; rc=1; }
grep -q '^FAIL' "$out/results" 2>/dev/null && rc=1
echo "kernel tests: $(grep -c '^PASS' "$out/results" 2>/dev/null) passed, $(grep -c '^FAIL' "$out/results" 2>/dev/null) failed, $(grep -c '^SKIP' "$out/results" 2>/dev/null) skipped in $(( $(date +%s) - t0 )) s"
[ "$rc" = 0 ] && echo "OVERALL: PASS" || echo "OVERALL: FAIL"
exit "$rc"
