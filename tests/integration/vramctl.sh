#!/usr/bin/env bash
# vramctl end to end: every command, --json, --help, exit codes, and the
# message when vramd is not running.
. "$(dirname "$0")/functions.sh"
requires jq
export VRAMCTL_SOCKET="$tmpdir/api.sock"

set +e
"$VRAMCTL" status >"$tmpdir/out" 2>&1; rc=$?
set -e
[ $rc = 1 ] || fail "not running: exit $rc"
grep -q "vramd is not running" "$tmpdir/out" && grep -q "systemctl start vramd.socket" "$tmpdir/out" ||
  fail "not-running message: $(cat "$tmpdir/out")"
pass "without vramd: exit 1, says so and how to start it"

for cmd in "" "device list" "device show" "volume create" "volume list" "volume show" "volume delete" "status"; do
  # shellcheck disable=SC2086
  "$VRAMCTL" $cmd --help >"$tmpdir/out" 2>&1 || fail "'$cmd --help' failed"
  grep -q "^Usage: vramctl" "$tmpdir/out" || fail "'$cmd --help': $(cat "$tmpdir/out")"
done
pass "--help on every command"

usage_err() { set +e; "$VRAMCTL" "$@" >/dev/null 2>"$tmpdir/err"; local rc=$?; set -e
  [ $rc = 2 ] || fail "'$*' should be a usage error (2), got $rc"; [ -s "$tmpdir/err" ] || fail "'$*': no message"; }
usage_err
usage_err frobnicate
usage_err volume create
usage_err volume create x
usage_err volume create x --size 12X
usage_err volume create x --size 0
usage_err volume create x --size 0.1K
usage_err volume create x --size 1.G
usage_err volume create x --size 1G --stripe all --concat all
usage_err volume create 'Bad/Name' --size 1G
usage_err volume create x --size 1G --frontend iscsi
usage_err volume show
usage_err volume delete a b
usage_err device list --bogus
pass "usage errors exit 2 with a message"

start_vramd
"$VRAMCTL" device list >"$tmpdir/out"
grep -q '^cpu0 ' "$tmpdir/out" && grep -q 'GiB' "$tmpdir/out" || fail "device list: $(cat "$tmpdir/out")"
"$VRAMCTL" --json device list | jq -e '.devices[0].total_bytes > 0' >/dev/null || fail "device list --json"
"$VRAMCTL" --socket "$tmpdir/api.sock" status >"$tmpdir/out" || fail "status"
grep -q "^pool: 2 devices" "$tmpdir/out" || fail "status: $(cat "$tmpdir/out")"
"$VRAMCTL" status --json | jq -e '.pool.devices == 2 and (.volumes | length) == 0' >/dev/null || fail "status --json"
pass "device list and status, as tables and --json"

set +e
"$VRAMCTL" volume show nosuch >/dev/null 2>"$tmpdir/err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "no volume 'nosuch'" "$tmpdir/err" || fail "show unknown: $rc $(cat "$tmpdir/err")"
pass "a failed request exits 1 with the API's message"

requires_frontend nbd
"$VRAMCTL" volume create swap0 --size 12M --stripe all >"$tmpdir/out" || fail "create: $(cat "$tmpdir/out")"
tail -1 "$tmpdir/out" | grep -q "^nbd+unix:///swap0?socket=" || fail "create must print the NBD URI: $(cat "$tmpdir/out")"
"$VRAMCTL" volume create c1 --size 5000 --concat cpu1 --json >"$tmpdir/out"
jq -e '.size_bytes == 8192 and .layout == "concat" and .devices == ["cpu1"]' "$tmpdir/out" >/dev/null ||
  fail "create --json: $(cat "$tmpdir/out")"
"$VRAMCTL" volume create f1 --size 1.5M --json >"$tmpdir/out"
jq -e '.requested_size_bytes == 1572864' "$tmpdir/out" >/dev/null || fail "create --size 1.5M: $(cat "$tmpdir/out")"
"$VRAMCTL" volume delete f1 >/dev/null
"$VRAMCTL" volume create s1 --size 1M --stripe cpu0,cpu1 --stripe-unit 64K --frontend nbd >/dev/null
pass "volume create (stripe all, concat, explicit devices and unit) prints where the volume is"

set +e
"$VRAMCTL" volume create swap0 --size 1M >/dev/null 2>"$tmpdir/err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "already exists" "$tmpdir/err" || fail "duplicate: $rc $(cat "$tmpdir/err")"
avail=$("$VRAMCTL" --json status | jq .pool.available_bytes)
set +e
"$VRAMCTL" volume create swap1 --size $((avail * 2 / 1048576))M --stripe all >/dev/null 2>"$tmpdir/err"; rc=$?
set -e
[ $rc = 1 ] && grep -q "at most" "$tmpdir/err" && grep -q "available now: cpu0" "$tmpdir/err" ||
  fail "no-room refusal must say what fits: $(cat "$tmpdir/err")"
pass "refusals exit 1: duplicate, and no room saying what would fit"

"$VRAMCTL" volume list >"$tmpdir/out"
[ "$(grep -c -E '^(c1|s1|swap0) ' "$tmpdir/out")" = 3 ] || fail "volume list: $(cat "$tmpdir/out")"
"$VRAMCTL" volume list --json | jq -e '[.volumes[].name] == ["c1","s1","swap0"]' >/dev/null || fail "list --json"
"$VRAMCTL" volume show swap0 >"$tmpdir/out"
grep -q "^size: *12.0 MiB" "$tmpdir/out" && grep -q "^extents:" "$tmpdir/out" || fail "show: $(cat "$tmpdir/out")"
"$VRAMCTL" volume show swap0 --json | jq -e '.size_bytes == 12582912 and (.extents | length) >= 2' >/dev/null || fail "show --json"
"$VRAMCTL" status >"$tmpdir/out"
grep -q "^swap0 " "$tmpdir/out" || fail "status lacks the volume: $(cat "$tmpdir/out")"
pass "volume list, show and status, as tables and --json"

"$VRAMCTL" volume delete swap0 | grep -q "deleted swap0" || fail "delete"
"$VRAMCTL" volume delete c1 --force --json | jq -e '.deleted == "c1"' >/dev/null || fail "delete --json"
"$VRAMCTL" volume delete s1 >/dev/null
set +e
"$VRAMCTL" volume delete s1 2>"$tmpdir/err"; rc=$?
set -e
[ $rc = 1 ] || fail "delete unknown: exit $rc"
"$VRAMCTL" --json status | jq -e '.pool.allocated_bytes == 0' >/dev/null || fail "VRAM left"
pass "volume delete (plain, --force, unknown), VRAM all back"
