#!/usr/bin/env bash
# vramctl against a broken or hostile server (fake-vramd.py): one that never
# answers, answers a byte a second, sends an endless body, sends ids that
# are not strings, or names that hold tabs, newlines and escapes.  Each
# ends with exit 1 and a clear message within the deadline, in bounded
# memory, never "(null)", one table line per row; a socket path too long
# for a Unix socket is named as such.
. "$(dirname "$0")/functions.sh"
requires python3
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time not installed"; exit 77; }
fake="$top_srcdir/tests/integration/fake-vramd.py"
sock="$tmpdir/fake.sock"

# Run the fake server in MODE until the next one.
fake_pid=
start_fake() {
  [ -z "$fake_pid" ] || { kill "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; }
  rm -f "$sock"
  python3 "$fake" "$sock" "$1" &
  fake_pid=$!
  for _ in $(seq 50); do [ -S "$sock" ] && return 0; sleep 0.1; done
  fail "fake-vramd.py $1 did not start"
}
on_exit '[ -z "$fake_pid" ] || kill "$fake_pid" 2>/dev/null || true'

# Run vramctl ARGS; sets rc, ms (wall time) and kib (peak RSS).
run_ctl() {
  local t0
  t0=$(date +%s%N)
  set +e
  timeout 60 /usr/bin/time -f %M -o "$tmpdir/rss" "$VRAMCTL" --socket "$sock" "$@" \
    >"$tmpdir/out" 2>"$tmpdir/err"
  rc=$?
  set -e
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  kib=$(tail -1 "$tmpdir/rss")
}

# 1. Never answers, or a byte a second: the deadline ends it, whole command.
for mode in silent slow; do
  start_fake "$mode"
  run_ctl --timeout 2 status
  [ "$rc" = 1 ] || fail "$mode: exit $rc: $(cat "$tmpdir/err")"
  grep -q "did not answer within 2 s" "$tmpdir/err" || fail "$mode: message: $(cat "$tmpdir/err")"
  [ "$ms" -ge 1900 ] && [ "$ms" -lt 4000 ] || fail "$mode: took $ms ms with --timeout 2"
  pass "$mode server: exit 1 after $ms ms with --timeout 2: $(head -1 "$tmpdir/err")"
done
start_fake silent
run_ctl status --timeout 1.5
[ "$rc" = 1 ] && [ "$ms" -lt 3500 ] && grep -q "within 1.5 s" "$tmpdir/err" ||
  fail "--timeout after the command: exit $rc after $ms ms: $(cat "$tmpdir/err")"
pass "--timeout after the command sets the deadline ($ms ms)"
t0=$(date +%s%N)
set +e; VRAMCTL_TIMEOUT=1.5 timeout 30 "$VRAMCTL" --socket "$sock" volume list 2>"$tmpdir/err"; rc=$?; set -e
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 1 ] && [ "$ms" -lt 3500 ] && grep -q "within 1.5 s" "$tmpdir/err" ||
  fail "VRAMCTL_TIMEOUT=1.5: exit $rc after $ms ms: $(cat "$tmpdir/err")"
pass "VRAMCTL_TIMEOUT sets the deadline ($ms ms)"
for bad in 0 -1 x 1e9 ''; do
  set +e; timeout 30 "$VRAMCTL" --socket "$sock" --timeout "$bad" status 2>"$tmpdir/err"; rc=$?; set -e
  [ "$rc" = 2 ] || fail "--timeout '$bad': exit $rc"
done
"$VRAMCTL" --help | grep -q -- "--timeout" || fail "--help does not mention --timeout"
pass "a bad --timeout is a usage error; --help documents it"

# 2. An endless body: cut off at the reply cap, memory bounded.
start_fake endless
run_ctl --timeout 20 volume list
[ "$rc" = 1 ] || fail "endless: exit $rc"
grep -q "passed 16 MiB" "$tmpdir/err" || fail "endless: message: $(cat "$tmpdir/err")"
# Under ASan its shadow and quarantine say nothing about the cap.
grep -q __asan_init <<<"$(nm "$VRAMCTL" 2>/dev/null)" || [ "$kib" -lt 131072 ] ||
  fail "endless: vramctl grew to $kib KiB"
[ "$ms" -lt 15000 ] || fail "endless: took $ms ms"
pass "endless body: exit 1 after $ms ms, peak RSS $kib KiB: $(cat "$tmpdir/err")"

# 3. Ids, names and strings that are numbers, nulls or objects.
start_fake nonstring
for cmd in "status" "volume list" "volume show v" "device show x" "volume list -H" "device list"; do
  # shellcheck disable=SC2086
  run_ctl --timeout 10 $cmd
  [ "$rc" = 0 ] || fail "nonstring: '$cmd' exit $rc: $(cat "$tmpdir/err")"
  ! grep -q "(null)" "$tmpdir/out" "$tmpdir/err" || fail "nonstring: '$cmd' printed (null): $(cat "$tmpdir/out")"
done
grep -q "?" "$tmpdir/out" || fail "nonstring: no '?' for the missing strings"
pass "ids and names that are not strings print '?', never (null)"

# 4. Names with tabs, newlines and a terminal escape: one line per row,
#    -H fields split on tabs, no escape byte reaches the terminal.
start_fake control
for noun in volume device; do
  fields=8; # volume: 7 and ALLOC; device: ID TYPE STATE NAME and four sizes
  run_ctl --timeout 10 $noun list -H
  [ "$rc" = 0 ] && [ "$(wc -l <"$tmpdir/out")" = 1 ] && [ "$(awk -F'\t' '{ print NF }' "$tmpdir/out")" = $fields ] ||
    fail "control: $noun list -H: exit $rc: $(cat -A "$tmpdir/out")"
  ! grep -q $'\x1b' "$tmpdir/out" || fail "control: $noun list -H wrote an escape byte"
  cp "$tmpdir/out" "$tmpdir/tabbed"
  run_ctl --timeout 10 $noun list
  [ "$rc" = 0 ] && [ "$(wc -l <"$tmpdir/out")" = 2 ] && ! grep -q $'\x1b' "$tmpdir/out" ||
    fail "control: $noun list: exit $rc: $(cat -A "$tmpdir/out")"
done
pass "names with tabs, newlines and escapes: one line a row, -H splits on tabs: $(cut -f1-3 "$tmpdir/tabbed")"
# Every string vramctl prints from the server has its control characters
# (C0, DEL and C1: ESC, BEL, CSI 0x9b) as '?', in show, JSON and errors.
ctl_bytes=$'[\x01-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]'
for cmd in "volume show v" "volume show v --json" "volume list" "device list --json"; do
  # shellcheck disable=SC2086
  run_ctl --timeout 10 $cmd
  [ "$rc" = 0 ] || fail "control: '$cmd' exit $rc: $(cat "$tmpdir/err")"
  ! LC_ALL=C grep -qE "$ctl_bytes" "$tmpdir/out" || fail "control: '$cmd' wrote: $(cat -A "$tmpdir/out")"
done
run_ctl --timeout 10 volume show v
grep -q "stripe?\[2J" "$tmpdir/out" || fail "control: show did not keep the text: $(cat -A "$tmpdir/out")"
run_ctl --timeout 10 volume show e
[ "$rc" = 1 ] && grep -q "no volume ?\[2Je??1m" "$tmpdir/err" && ! LC_ALL=C grep -qE "$ctl_bytes" "$tmpdir/err" ||
  fail "control: error message: exit $rc: $(cat -A "$tmpdir/err")"
pass "control characters from the server print as '?' in show, JSON and errors: $(cat "$tmpdir/err")"

# 5. A socket path too long for sockaddr_un: said so, before any connect.
long="$tmpdir/$(printf 'd%.0s' $(seq 120))/api.sock"
set +e; "$VRAMCTL" --socket "$long" status 2>"$tmpdir/err"; rc=$?; set -e
[ "$rc" = 1 ] || fail "long path: exit $rc"
grep -q "a Unix socket path holds 1 to 107" "$tmpdir/err" || fail "long path: $(cat "$tmpdir/err")"
! grep -qi "resolve host" "$tmpdir/err" || fail "long path: curl's message leaked: $(cat "$tmpdir/err")"
pass "a socket path too long: $(cat "$tmpdir/err")"
