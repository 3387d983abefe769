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
  "$VRAMD" --api-socket "$tmpdir/api.sock" --nbd-socket "$tmpdir/nbd.sock" \
    --metrics-listen off --state-dir "$tmpdir/state" --device-types cpu \
    --reserve 0 "$@" >"$tmpdir/vramd.log" 2>&1 &
  vramd_pid=$!
  on_exit "stop_vramd"
  for _ in $(seq 1 100); do
    [ -S "$tmpdir/api.sock" ] && grep -q "ready:" "$tmpdir/vramd.log" && return 0
    kill -0 "$vramd_pid" 2>/dev/null || { cat "$tmpdir/vramd.log" >&2; fail "vramd exited"; }
    sleep 0.1
  done
  cat "$tmpdir/vramd.log" >&2
  fail "vramd did not become ready"
}

# Stop vramd with SIGTERM and wait for it.
stop_vramd() {
  [ -n "${vramd_pid:-}" ] || return 0
  kill -TERM "$vramd_pid" 2>/dev/null || true
  wait "$vramd_pid" 2>/dev/null || true
  vramd_pid=
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
