#!/usr/bin/env bash
# NBD negotiation under attack over the Unix socket: 2000 connections from
# one uid that each trickle a byte now and then, then a flood from another
# uid that reconnects as fast as it is dropped.  Real clients of either
# uid are served within SERVED_MS; vramd's threads stay as they were, its
# locked memory and RSS grow by at most 16 MiB (with a real session of
# 1 MiB staging), its log by a few dozen
# lines; the trickling connections are closed at the 10 s deadline.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-flood-lib.sh"
requires python3
requires nbdinfo
requires jq
requires setpriv
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a second uid"; exit 77; }
chmod 0711 "$tmpdir" # uid nobody reaches the socket (0660, group root) through its group
start_vramd --volume name=v,size=4M --nbd-staging 1M # a real session pins 1 MiB
uri="nbd+unix:///v?socket=$tmpdir/nbd.sock"
nobody="setpriv --reuid=nobody --regid=nogroup --groups=0"
AS=$nobody served "$uri" # warm-up: the first session's allocations
served "$uri"
base=$(usage_now)
fds=$(ls /proc/"$vramd_pid"/fd | wc -l)
lines=$(wc -l <"$tmpdir/vramd.log")

# 1. One uid trickles from 2000 connections: the same uid and another are
# served at once, and the trickle is cut at the deadline.
usage_watch
start=$(date +%s)
flood_start trickle "$tmpdir/nbd.sock" 2000 $((NEG_DEADLINE + 4))
served "$uri"
AS=$nobody served "$uri"
flood_wait trickle
check_deadline
check_usage_max 2 16384 "$base"
pass "2000 trickling connections: real clients served, the rest closed by the deadline"

# 2. Another uid floods, reconnecting as fast as it is dropped: root is
# served throughout.
usage_watch
FLOOD_AS=$nobody flood_start reconnect "$tmpdir/nbd.sock" 1000 6 --reconnect
for _ in 1 2 3; do served "$uri"; sleep 0.5; done
flood_wait reconnect
echo "$stats" | jq -e '.opened > 1000' >/dev/null || fail "the flood never reconnected: $stats"
check_usage_max 2 16384 "$base"
pass "a reconnecting flood from uid nobody: root still served"

now=$(wc -l <"$tmpdir/vramd.log")
echo "log: $((now - lines)) lines in $(($(date +%s) - start)) s of flooding"
[ $((now - lines)) -le 60 ] || { tail -20 "$tmpdir/vramd.log"; fail "the log grew by $((now - lines)) lines"; }
for _ in $(seq 1 50); do [ "$(ls /proc/"$vramd_pid"/fd | wc -l)" -le "$fds" ] && break; sleep 0.2; done
[ "$(ls /proc/"$vramd_pid"/fd | wc -l)" -le "$fds" ] || fail "descriptors: $fds before, $(ls /proc/"$vramd_pid"/fd | wc -l) now"
pass "the log and descriptors stay bounded"
