#!/usr/bin/env bash
# NBD negotiation under attack over TCP without authentication (--nbd-listen
# 127.0.0.1:PORT): 300 connections from the client's own address trickle a
# byte now and then while 127.0.0.2 reconnects 300 more as fast as they are
# dropped.  A real client is served within SERVED_MS each time; vramd's
# threads stay as they were and its locked memory and RSS grow by at most
# 16 MiB (with a real session of 1 MiB staging); the trickling connections
# are closed at the 10 s deadline.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-flood-lib.sh"
requires python3
requires nbdinfo
requires jq
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_vramd --nbd-listen "127.0.0.1:$port" --volume name=v,size=4M --nbd-staging 1M
uri="nbd://127.0.0.1:$port/v"
served "$uri" # warm-up: the first session's allocations
base=$(usage_now)
lines=$(wc -l <"$tmpdir/vramd.log")

usage_watch
flood_start trickle "127.0.0.1:$port" 300 $((NEG_DEADLINE + 4))
flood_start reconnect "127.0.0.1:$port" 300 6 --reconnect --source 127.0.0.2
for _ in 1 2 3; do served "$uri"; sleep 0.5; done
flood_wait reconnect
echo "$stats" | jq -e '.opened > 300' >/dev/null || fail "the flood never reconnected: $stats"
served "$uri"
flood_wait trickle
check_deadline
check_usage_max 2 16384 "$base"
now=$(wc -l <"$tmpdir/vramd.log")
echo "log: $((now - lines)) lines"
[ $((now - lines)) -le 60 ] || { tail -20 "$tmpdir/vramd.log"; fail "the log grew by $((now - lines)) lines"; }
pass "TCP: trickling and reconnecting floods from two addresses; real clients served, threads, memory and log bounded"
