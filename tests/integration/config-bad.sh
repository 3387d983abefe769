#!/usr/bin/env bash
# vramd.conf is read as written: a volume= line that is invalid on its
# face exits 2 with its message, like an unknown key; a NUL byte and a
# file that is not a regular file are named; settings whose pinned bound
# exceeds the host's RAM are warned about at start and in `vramctl status`.
. "$(dirname "$0")/functions.sh"
# Expect vramd with config $1 to exit 2 at once with message $2.
refused() {
  local rc=0
  timeout 20 "$VRAMD" --config "$1" --api-socket "$tmpdir/api.sock" --nbd-socket "$tmpdir/nbd.sock" \
    --metrics-listen off --state-dir "$tmpdir/state" --device-types cpu >"$tmpdir/out" 2>&1 || rc=$?
  [ $rc = 2 ] || fail "$2: exit $rc: $(cat "$tmpdir/out")"
  grep -qF "$2" "$tmpdir/out" || fail "expected '$2', got: $(cat "$tmpdir/out")"
}
c="$tmpdir/vramd.conf"
printf 'volume = name=a,size=4M,unit=3K\n' >"$c"
refused "$c" "$c:1: volume: unit '3K' is not a power of two from 4K to 1M"
printf 'volume = name=a,size=4M\n# b\nvolume = name=a,size=8M\n' >"$c"
refused "$c" "$c:3: volume: 'a' is defined twice"
printf 'volume = name=a,size=4M,devices=cpu0+cpu0\n' >"$c"
refused "$c" "$c:1: devices: 'cpu0' is listed twice"
printf 'volume = name=a,size=4M,colour=red\n' >"$c"
refused "$c" "$c:1: volume: unknown key 'colour'"
printf 'verbose = on\nworkers = 2\0\n' >"$c"
refused "$c" "$c:2: line holds a NUL byte"
rm "$c"; mkfifo "$c"
refused "$c" "$c: not a regular file"
pass "bad volume= lines, a NUL byte and a FIFO exit 2 with their message"

printf 'nbd-staging = 256M\nnbd-max-sessions = 4096\n' >"$tmpdir/big.conf"
start_vramd --config "$tmpdir/big.conf"
grep -q "pinned host memory: these settings let vramd pin up to 1.0 TiB, more than the host's" \
  "$tmpdir/vramd.log" || fail "no warning at start: $(cat "$tmpdir/vramd.log")"
"$VRAMCTL" --socket "$tmpdir/api.sock" status | grep -q "pinned host memory may reach 1.0 TiB, more than the host's" ||
  fail "no warning in vramctl status: $("$VRAMCTL" --socket "$tmpdir/api.sock" status)"
stop_vramd
start_vramd --nbd-staging 1M --nbd-max-sessions 4
! grep -q "more than the host's" "$tmpdir/vramd.log" || fail "warning with a small bound"
! "$VRAMCTL" --socket "$tmpdir/api.sock" status | grep -q "pinned host memory may reach" ||
  fail "vramctl status warns with a small bound"
pass "a pinned bound above the host's RAM is warned about at start and in vramctl status"
