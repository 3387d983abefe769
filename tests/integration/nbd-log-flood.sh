#!/usr/bin/env bash
# Log flooding: with the one session nbd-max-sessions allows held, 30,000
# refused options (GO while every session is taken, which warns; unknown
# options; unknown exports) and 1,000 EXPORT_NAME clients refused the same
# way add at most 60 lines to vramd's log: warnings a remote peer can cause
# are rate-limited, and the next line past the limit's window counts those
# left out.
. "$(dirname "$0")/functions.sh"
requires python3
start_vramd --volume name=v,size=4M --nbd-max-sessions 1 --nbd-staging 1M
lines=$(wc -l <"$tmpdir/vramd.log")
start=$(date +%s)
timeout 120 python3 - "$tmpdir/nbd.sock" <<'PYEOF' || fail "refused options"
import socket, struct, sys
IHAVEOPT, GO, INFO, EXPORT_NAME = 0x49484156454F5054, 7, 6, 1
ERR = 1 << 31
ERR_UNSUP, ERR_UNKNOWN, ERR_SHUTDOWN = ERR | 1, ERR | 6, ERR | 7
def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError("closed")
        b += c
    return b
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
    recvn(s, 18); s.sendall(struct.pack(">I", 1))
    return s
def opt(o, data=b""):
    return struct.pack(">QII", IHAVEOPT, o, len(data)) + data
def go(name):
    return opt(GO, struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
def final(s):
    while True:
        _, _, typ, ln = struct.unpack(">QIII", recvn(s, 20)); recvn(s, ln)
        if typ == 1 or typ & ERR: return typ
held = conn(); held.sendall(go(b"v"))
assert final(held) == 1, "the one session was refused"
refused = 0
for _ in range(10):          # 3,000 options a connection, sent in batches
    s = conn()
    for _ in range(10):
        batch = [(go(b"v"), ERR_SHUTDOWN), (opt(99), ERR_UNSUP), (go(b"nosuch"), ERR_UNKNOWN)] * 100
        s.sendall(b"".join(b for b, _ in batch))
        for _, want in batch:
            typ = final(s)
            assert typ == want, "reply %x, expected %x" % (typ, want)
            refused += 1
    s.close()
for _ in range(1000):
    s = conn(); s.sendall(opt(EXPORT_NAME, b"v"))
    assert s.recv(1) == b"", "EXPORT_NAME served past nbd-max-sessions"
    s.close()
# Past the rate limit's 5 s window, one more refusal logs again and says
# how many were left out.
import time
time.sleep(5.5)
s = conn(); s.sendall(go(b"v"))
assert final(s) == ERR_SHUTDOWN
s.close()
held.close()
print("%d options and 1000 EXPORT_NAME clients refused" % refused)
assert refused == 30000
PYEOF
now=$(wc -l <"$tmpdir/vramd.log")
echo "log: $((now - lines)) lines in $(($(date +%s) - start)) s"
left=$(sed -n 's/.*(\([0-9]*\) similar messages suppressed).*/\1/p' "$tmpdir/vramd.log" | sort -n | tail -1)
[ "${left:-0}" -ge 9990 ] || fail "no line counts the 9990 warnings left out: ${left:-none}"
[ $((now - lines)) -le 60 ] || { tail -20 "$tmpdir/vramd.log"; fail "the log grew by $((now - lines)) lines"; }
pass "31,000 refusals wrote $((now - lines)) log lines"
