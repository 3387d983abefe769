#!/usr/bin/env bash
# Clients that vanish with requests in flight: after 10,000 of them
# (VANISH_COUNT), vramd's threads and fds are back to their baseline and
# RSS within 16 MiB of it (measured after a 2,000-connection warm-up that
# lets malloc's per-thread arenas reach their size); other clients are
# served throughout.
. "$(dirname "$0")/functions.sh"
requires python3
start_nbd_vramd
vanish() { timeout 300 python3 "$top_srcdir/tests/integration/nbd-vanish.py" "$tmpdir/nbd.sock" "$1" "$2" 4; }
vanish vs 1000 && vanish vc 1000 && check_guard || fail "warm-up"
wait_threads "$vramd_idle_threads"
sleep 1
base=$(vramd_usage)
n=${VANISH_COUNT:-10000}
start=$(date +%s)
vanish vs $((n / 2)) || fail "vanishing clients on vs"
vanish vc $((n - n / 2)) || fail "vanishing clients on vc"
check_guard
check_usage "$base" 16384
pass "$n clients vanished with requests in flight in $(( $(date +%s) - start )) s; nothing leaked"
