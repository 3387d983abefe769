#!/usr/bin/env bash
# systemd integration without systemd as init: socket activation through
# systemd-socket-activate, and the sd_notify messages on a NOTIFY_SOCKET.
. "$(dirname "$0")/functions.sh"
requires jq
requires curl
requires python3
requires systemd-socket-activate

sock="$tmpdir/activated.sock"
systemd-socket-activate -l "$sock" -- "$VRAMD" --api-socket "$tmpdir/unused.sock" \
  --metrics-listen off --state-dir "$tmpdir/state" --device-types cpu --reserve 0 \
  >"$tmpdir/act.log" 2>&1 &
act=$!
on_exit "kill -TERM $act 2>/dev/null; wait $act 2>/dev/null || true"
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "systemd-socket-activate did not listen"
! grep -q "ready:" "$tmpdir/act.log" || fail "vramd started before the first connection"
out=$(curl -s --max-time 30 --unix-socket "$sock" http://localhost/v1) || fail "no answer on the passed socket"
[ "$(echo "$out" | jq -r .name)" = vramd ] || fail "GET /v1 on the passed socket: $out"
grep -q "API on the socket passed by systemd" "$tmpdir/act.log" || fail "vramd did not use the passed socket: $(cat "$tmpdir/act.log")"
[ ! -e "$tmpdir/unused.sock" ] || fail "vramd made its own socket as well"
pass "the first connection starts vramd, and the API answers on the passed socket"
kill -TERM $act; wait $act 2>/dev/null || true

# sd_notify: READY=1 with STATUS=, WATCHDOG=1 when asked, STOPPING=1 at SIGTERM.
python3 - "$tmpdir/notify.sock" "$tmpdir/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(30)
with open(sys.argv[2], "w", buffering=1) as f:
    try:
        while True:
            m = s.recv(4096).decode()
            f.write(m.replace("\n", " ") + "\n")
            if "STOPPING=1" in m: break
    except socket.timeout: pass
PY
listener=$!
on_exit "kill $listener 2>/dev/null || true"
for _ in $(seq 50); do [ -S "$tmpdir/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET="$tmpdir/notify.sock" WATCHDOG_USEC=400000 start_vramd
for _ in $(seq 50); do grep -q WATCHDOG=1 "$tmpdir/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q "^READY=1 STATUS=0 volumes, .* free of .* on 2 devices" "$tmpdir/notify.log" || fail "READY/STATUS: $(cat "$tmpdir/notify.log")"
grep -q "WATCHDOG=1" "$tmpdir/notify.log" || fail "no WATCHDOG=1: $(cat "$tmpdir/notify.log")"
stop_vramd
wait $listener || true
grep -q "^STOPPING=1" "$tmpdir/notify.log" || fail "no STOPPING=1: $(cat "$tmpdir/notify.log")"
pass "sd_notify: READY=1 with STATUS, WATCHDOG=1, STOPPING=1"
