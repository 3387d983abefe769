#!/usr/bin/env bash
# Access: the API socket is 0660 and group vramd, and a user outside the
# group is refused; the control API is never on TCP; the NBD TCP listener
# is off unless asked and binds only where asked; only named volumes are
# exported; NBD sessions are capped (NBD_MAX_SESSIONS).  Needs root (to
# add a group and a user, removed at exit).
. "$(dirname "$0")/functions.sh"
requires jq
requires python3
requires ss
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for groupadd/useradd"; exit 77; }
for t in groupadd useradd userdel runuser setpriv; do requires $t; done

if ! getent group vramd >/dev/null; then
  groupadd --system vramd; on_exit "groupdel vramd"
fi
user=vdtest$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$user"; on_exit "userdel $user"
chmod 0711 "$tmpdir" # only the socket's own mode keeps the user out
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(free_port)
start_vramd --metrics-listen "127.0.0.1:$mport" --volume name=v,size=4M
requires_frontend nbd

# 1. The API socket: 0660, group vramd; outsiders refused, members served.
[ "$(stat -c '%a %G' "$tmpdir/api.sock")" = "660 vramd" ] ||
  fail "API socket is $(stat -c '%a %U:%G' "$tmpdir/api.sock")"
as_user() { runuser -u "$user" -- curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
  --unix-socket "$tmpdir/api.sock" "$@" || true; }
code=$(as_user http://localhost/v1/volumes)
[ "$code" = 000 ] || fail "a user outside group vramd got HTTP $code"
code=$(as_user -X DELETE "http://localhost/v1/volumes/v?force=true")
[ "$code" = 000 ] || fail "a user outside group vramd could delete: HTTP $code"
code=$(setpriv --reuid="$user" --regid="$user" --groups="$(getent group vramd | cut -d: -f3)" \
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 --unix-socket "$tmpdir/api.sock" \
  http://localhost/v1/volumes || true)
[ "$code" = 200 ] || fail "a member of group vramd got HTTP $code"
pass "API socket 0660 root:vramd; an outsider is refused, a member is served"

# 2. TCP: only metrics, on the address asked; never the control API.
listeners() { ss -Hltnp | awk -v p="pid=$vramd_pid," 'index($0, p) { print $4 }' | sort; }
[ "$(listeners)" = "127.0.0.1:$mport" ] || fail "TCP listeners: $(listeners)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/metrics")
[ "$code" = 200 ] || fail "metrics over TCP: $code"
for p in /v1 /v1/volumes /v1/pool /v1/volumes/v; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport$p")
  [ "$code" = 404 ] || fail "GET $p over TCP: $code"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"name":"tcp","size":4096}' \
  "http://127.0.0.1:$mport/v1/volumes")
[ "$code" = 404 ] || fail "POST over TCP: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$mport/v1/volumes/v?force=true")
[ "$code" = 404 ] || fail "DELETE over TCP: $code"
api GET /v1/volumes; [ "$(echo "$body" | jq -c '[.volumes[].name]')" = '["v"]' ] || fail "TCP changed volumes"
pass "over TCP only /metrics answers; the control API is 404 there; no NBD TCP listener by default"

# 3. --nbd-listen binds exactly where asked.
stop_vramd
nport=$(free_port)
start_vramd --nbd-listen "127.0.0.1:$nport" --volume name=v,size=4M
[ "$(listeners)" = "127.0.0.1:$nport" ] || fail "with --nbd-listen: $(listeners)"
requires nbdinfo
nbdinfo --size "nbd://127.0.0.1:$nport/v" >/dev/null || fail "NBD over loopback TCP"
pass "--nbd-listen 127.0.0.1:PORT listens there only"

# 4. Only named volumes are exported.
for name in nosuch "" "v/../v" "V"; do
  ! timeout 20 nbdinfo --size "nbd+unix:///$name?socket=$tmpdir/nbd.sock" >/dev/null 2>&1 ||
    fail "export '$name' was served"
done
[ "$(timeout 20 nbdinfo --list --json "nbd+unix:///?socket=$tmpdir/nbd.sock" | jq -c '[.exports[]."export-name"]')" = '["v"]' ] ||
  fail "export list is not just v"
pass "unknown, default and odd export names are refused; the list names only volumes"

# 5. NBD sessions are capped: the one past the cap is refused with an
# error reply, and served once a slot frees.
timeout 120 python3 - "$tmpdir/nbd.sock" <<'PYEOF' || fail "session cap"
import socket, struct, sys
IHAVEOPT, GO = 0x49484156454F5054, 7
def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError
        b += c
    return b
def session():
    s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
    recvn(s, 18); s.sendall(struct.pack(">I", 3))
    s.sendall(struct.pack(">QII", IHAVEOPT, GO, 7) + struct.pack(">I", 1) + b"v" + struct.pack(">H", 0))
    while True:
        _, _, typ, ln = struct.unpack(">QIII", recvn(s, 20)); recvn(s, ln)
        if typ == 1: return s
        if typ & (1 << 31): s.close(); return None
held = [session() for _ in range(256)]
assert all(held), "refused below the cap"
assert session() is None, "a session past the cap was served"
held.pop().close()
import time
for _ in range(100):
    s = session()
    if s: break
    time.sleep(0.1)
assert s, "not served after a session ended"
PYEOF
pass "NBD sessions are capped at 256; the next one is refused, then served once one ends"
