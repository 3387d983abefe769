# functions.sh: shared helpers for integration tests (sourced).
set -euo pipefail

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
VRAMD="$top_builddir/daemon/vramd"
VRAMCTL="$top_builddir/cli/vramctl"

# A private directory, removed at exit with whatever was started.
tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/vramd-test.XXXXXX")
cleanup_fns=()
cleanup() {
  local rc=$?
  for ((i=${#cleanup_fns[@]}-1; i>=0; i--)); do eval "${cleanup_fns[$i]}" || true; done
  [ -z "${vramd_bad_exit:-}" ] || rc=1
  rm -rf "$tmpdir"
  exit $rc
}
trap cleanup EXIT INT TERM
on_exit() { cleanup_fns+=("$1"); }

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }
# Skip (exit 77) when a tool is missing.
requires() { command -v "$1" >/dev/null 2>&1 || { echo "SKIP: $1 not installed"; exit 77; }; }

# Start vramd in the background on private sockets; extra args pass through.
start_vramd() {
  # The shell truncates the log in the child, after fork: remove it here so
  # the wait below never sees an earlier run's "ready:".
  rm -f "$tmpdir/vramd.log"
  "$VRAMD" --api-socket "$tmpdir/api.sock" --nbd-socket "$tmpdir/nbd.sock" \
    --metrics-listen off --state-dir "$tmpdir/state" --device-types cpu \
    --reserve 0 "$@" >"$tmpdir/vramd.log" 2>&1 &
  vramd_pid=$!
  on_exit "stop_vramd"
  for _ in $(seq 1 100); do
    # "ready:" is logged once every listener is up.
    if [ -S "$tmpdir/api.sock" ] && [ -S "$tmpdir/nbd.sock" ] && grep -q "ready:" "$tmpdir/vramd.log"; then
      # Every thread of an idle daemon runs by now and no client has come:
      # the count that tests expect to return to.
      vramd_idle_threads=$(ls /proc/"$vramd_pid"/task | wc -l)
      return 0
    fi
    kill -0 "$vramd_pid" 2>/dev/null || { cat "$tmpdir/vramd.log" >&2; fail "vramd exited"; }
    sleep 0.1
  done
  cat "$tmpdir/vramd.log" >&2
  fail "vramd did not become ready"
}

# Stop vramd with SIGTERM and wait for it; a non-zero exit (a leak found
# by LeakSanitizer, a crash) fails the test.
stop_vramd() {
  local rc=0
  [ -n "${vramd_pid:-}" ] || return 0
  kill -TERM "$vramd_pid" 2>/dev/null || true
  wait "$vramd_pid" 2>/dev/null || rc=$?
  vramd_pid=
  if [ $rc != 0 ]; then
    grep -A20 -m1 "Sanitizer" "$tmpdir/vramd.log" >&2 || tail -5 "$tmpdir/vramd.log" >&2
    echo "FAIL: vramd exited $rc after SIGTERM" >&2
    vramd_bad_exit=1
  fi
  return 0
}

# NBD tests: vramd with a striped volume vs, a concat volume vc (both
# several extents long) and a guard volume whose data must never change.
start_nbd_vramd() {
  start_vramd --extent-size 8M \
    --volume "name=vs,size=${NBD_SIZE:-64M},layout=stripe,devices=all,unit=64K" \
    --volume "name=vc,size=${NBD_SIZE:-64M},layout=concat,devices=all" \
    --volume name=guard,size=4M,layout=stripe,devices=all,unit=4K "$@"
  requires nbdcopy
  head -c 4M /dev/urandom >"$tmpdir/guard.data"
  nbdcopy "$tmpdir/guard.data" "$(nbd_uri guard)"
}
# The NBD URI of a volume on the test daemon.
nbd_uri() { echo "nbd+unix:///$1?socket=$tmpdir/nbd.sock"; }
# Fail unless the guard volume still holds what start_nbd_vramd wrote and
# the daemon is alive.
check_guard() {
  kill -0 "$vramd_pid" 2>/dev/null || { cat "$tmpdir/vramd.log" >&2; fail "vramd died"; }
  timeout 60 nbdcopy "$(nbd_uri guard)" "$tmpdir/guard.back"
  cmp -s "$tmpdir/guard.data" "$tmpdir/guard.back" || fail "the guard volume changed"
}
# Wait (20 s at most) until vramd is back to at most $1 threads: every
# connection it served has ended.
wait_threads() {
  for _ in $(seq 1 200); do
    [ "$(ls /proc/"$vramd_pid"/task | wc -l)" -le "$1" ] && return 0
    sleep 0.1
  done
  fail "vramd still has $(ls /proc/"$vramd_pid"/task | wc -l) threads, expected at most $1"
}
# Run one case of nbd-raw.py against vs and vc; after it the daemon must
# serve other clients, keep the guard volume intact and end every thread.
run_raw_case() {
  requires python3
  start_nbd_vramd
  local threads vol
  threads=$(ls /proc/"$vramd_pid"/task | wc -l)
  for vol in vs vc; do
    timeout 120 python3 "$top_srcdir/tests/integration/nbd-raw.py" "$tmpdir/nbd.sock" "$vol" "$1" ||
      fail "$vol: case $1"
    check_guard
    timeout 60 nbdcopy "$(nbd_uri "$vol")" "$tmpdir/out" || fail "$vol: not served after case $1"
    wait_threads "$threads"
    pass "$vol: $1; the daemon still serves and the guard volume is unchanged"
  done
}

# Call the API: api METHOD PATH [curl args]; sets $status and $body.
api() {
  local m=$1 p=$2
  shift 2
  status=$(curl -s -o "$tmpdir/body" -w '%{http_code}' --max-time 30 --path-as-is \
    --unix-socket "$tmpdir/api.sock" -X "$m" "$@" "http://localhost$p") || status=000
  body=$(cat "$tmpdir/body" 2>/dev/null || true)
}

# Expect the last api call to have answered code (and error code if given).
expect() {
  [ "$status" = "$1" ] || fail "$2: expected HTTP $1, got $status: $body"
  if [ $# -ge 3 ]; then
    [ "$(echo "$body" | jq -r .error.code)" = "$3" ] || fail "$2: expected error $3: $body"
  fi
}

# Skip (77) when vramd lacks a frontend, e.g. before NBD is built in.
requires_frontend() {
  api GET /v1
  echo "$body" | jq -e --arg f "$1" '.frontends | index($f) != null' >/dev/null ||
    { echo "SKIP: vramd has no $1 frontend"; exit 77; }
}

# Skip (77) unless a python3 with libnbd's bindings is found; sets $PY
# (pyenv's python3 may shadow the system one that has them).
requires_libnbd() {
  local p
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import nbd' 2>/dev/null; then PY=$p; return 0; fi
  done
  echo "SKIP: python3 libnbd bindings not installed"; exit 77
}
# One metric's value from the API socket's /metrics: metric NAME{LABELS}.
metric() {
  curl -s --max-time 30 --unix-socket "$tmpdir/api.sock" http://localhost/metrics |
    awk -v m="$1" '$1 == m { print $2; found=1 } END { if (!found) print "missing" }'
}
# Threads, open fds and RSS (KiB) of vramd, as "threads fds rss".
vramd_usage() {
  echo "$(ls /proc/"$vramd_pid"/task | wc -l) $(ls /proc/"$vramd_pid"/fd | wc -l)" \
    "$(awk '/^VmRSS/ { print $2 }' /proc/"$vramd_pid"/status)"
}
# True when vramd was built with AddressSanitizer (its quarantine holds
# freed memory, so RSS says nothing about leaks there).
vramd_asan() { grep -q libasan "/proc/$vramd_pid/maps" 2>/dev/null || grep -q __asan_init <<<"$(nm "$VRAMD" 2>/dev/null)"; }
# Fail unless threads and fds are back to the "threads fds rss" baseline
# $1 and RSS grew at most $2 KiB (RSS unchecked under ASan); waits 20 s.
check_usage() {
  local t f r now
  read -r t f r <<<"$1"
  wait_threads "$t"
  for _ in $(seq 1 100); do
    now=$(vramd_usage); [ "$(echo "$now" | cut -d' ' -f2)" -le "$f" ] && break; sleep 0.2
  done
  read -r _ nf nr <<<"$now"
  [ "$nf" -le "$f" ] || fail "fds: $f at the start, $nf now"
  vramd_asan || [ "$nr" -le $((r + $2)) ] || fail "RSS: $r KiB at the start, $nr KiB now (slack $2 KiB)"
  echo "usage: threads/fds/RSS KiB $1 -> $now"
}
# Run python code with a libnbd handle h on volume $1 (after
# requires_libnbd); conn(name) opens another, eio(e) tells an EIO.
nbdpy() {
  local code=$1; shift
  timeout 60 "$PY" - "$tmpdir/nbd.sock" "$@" <<PYEOF
import nbd, sys, errno, time
def conn(name):
    h = nbd.NBD(); h.set_export_name(name); h.connect_unix(sys.argv[1]); return h
def eio(e):  # libnbd names the errno
    return e.errno in ("EIO", errno.EIO)
h = conn(sys.argv[2])
$code
PYEOF
}
# Run vramd from here on with tests/shim/libclfault.so preloaded (after
# libasan, which must come first, in a sanitizer build), armed by the file
# $VD_CLFAULT_FILE (see clfault_arm).
with_clfault() {
  local shim="$top_builddir/tests/shim/libclfault.so" asan
  [ -f "$shim" ] || fail "$shim is not built"
  export VD_CLFAULT_FILE="$tmpdir/clfault"
  asan=$(ldd "$VRAMD" | awk '/libasan/ { print $3 }')
  printf '#!/bin/sh\nLD_PRELOAD="%s" exec "%s" "$@"\n' "${asan:+$asan:}$shim" "$VRAMD" >"$tmpdir/vramd-shim"
  chmod +x "$tmpdir/vramd-shim"
  VRAMD="$tmpdir/vramd-shim"
}
# Arm the shim with one line (MODE INDEX CODE [FUNCTIONS]), written whole.
clfault_arm() { echo "$*" >"$VD_CLFAULT_FILE.new" && mv "$VD_CLFAULT_FILE.new" "$VD_CLFAULT_FILE"; }
