#!/usr/bin/env bash
# Signals: SIGTERM under load stops vramd cleanly and quickly, and every
# write a client saw acknowledged was on the device (read back before the
# next one); SIGKILL and restart bring the definitions back, contents
# empty, and connected clients see a clean disconnect, never a hang.
. "$(dirname "$0")/functions.sh"
requires jq
requires_libnbd
start_vramd --extent-size 4M \
  --volume name=a,size=32M,layout=stripe,devices=all,unit=64K \
  --volume name=b,size=32M,layout=concat,devices=all
requires_frontend nbd

# 1. SIGTERM under load: 8 connections over two volumes, each writing a
# unique 64 KiB block with FUA and reading it back, until vramd goes.
timeout 120 "$PY" - "$tmpdir/nbd.sock" "$tmpdir/loaded" >"$tmpdir/load.out" 2>&1 <<'PYEOF' &
import nbd, os, sys, threading
acked, bad, ends = [0], [], []
# Every client connects before any writes, so the signal (sent once 200
# writes are acknowledged) never lands in the middle of a connect.
ready = threading.Barrier(8)
def run(k):
    h = nbd.NBD(); h.set_export_name("ab"[k % 2]); h.connect_unix(sys.argv[1])
    ready.wait()
    slots = h.get_size() // 65536
    i = 0
    try:
        while True:
            off = ((i * 8 + k) % slots) * 65536
            data = ((b"%d:%d:" % (k, i)) * 65536)[:65536]
            h.pwrite(data, off, nbd.CMD_FLAG_FUA)
            acked[0] += 1
            if acked[0] == 200:
                open(sys.argv[2], "w").close()
            back = h.pread(65536, off)
            if back != data:
                bad.append("%d:%d" % (k, i)); return
            i += 1
    except nbd.Error as e:
        ends.append(str(e))
ts = [threading.Thread(target=run, args=(k,)) for k in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print("acked", acked[0], "bad", len(bad), "ended", len(ends))
sys.exit(1 if bad or len(ends) != 8 else 0)
PYEOF
load=$!
for _ in $(seq 1 300); do [ -e "$tmpdir/loaded" ] && break; sleep 0.1; done
[ -e "$tmpdir/loaded" ] || fail "no load: $(cat "$tmpdir/load.out")"
start=$(date +%s%N)
kill -TERM "$vramd_pid"
rc=0; wait "$vramd_pid" || rc=$?
vramd_pid=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc = 0 ] || fail "vramd exited $rc on SIGTERM: $(tail -5 "$tmpdir/vramd.log")"
[ $ms -lt 10000 ] || fail "SIGTERM under load took $ms ms"
wait $load || fail "clients under SIGTERM: $(cat "$tmpdir/load.out")"
grep -q "signal 15: stopping" "$tmpdir/vramd.log" || fail "no stop in the log"
[ ! -e "$tmpdir/nbd.sock" ] && [ ! -e "$tmpdir/api.sock" ] || fail "sockets left behind"
pass "SIGTERM under load: exit 0 in $ms ms; $(cat "$tmpdir/load.out"), no acknowledged write was missing"

# 2. SIGKILL with a client connected: it sees a disconnect at once; after
# a restart the definitions are back and the contents are zeros.
start_vramd  # a and b came from the command line, so they are not saved
api POST /v1/volumes -d '{"name":"kept","size":8388608}'; expect 201 "create kept"
timeout 60 "$PY" - "$tmpdir/nbd.sock" "$tmpdir" >"$tmpdir/kill.out" 2>&1 <<'PYEOF' &
import nbd, os, sys, time
h = nbd.NBD(); h.set_export_name("kept"); h.connect_unix(sys.argv[1])
h.pwrite(b"\x77" * 2**20, 0, nbd.CMD_FLAG_FUA)
open(sys.argv[2] + "/written", "w").close()
while not os.path.exists(sys.argv[2] + "/killed"):
    time.sleep(0.05)
t = time.time()
try:
    h.pread(4096, 0); sys.exit("a read succeeded after SIGKILL")
except nbd.Error as e:
    print("disconnect seen in %.3f s: %s" % (time.time() - t, e))
PYEOF
client=$!
for _ in $(seq 1 200); do [ -e "$tmpdir/written" ] && break; sleep 0.1; done
[ -e "$tmpdir/written" ] || fail "client did not write: $(cat "$tmpdir/kill.out")"
kill -KILL "$vramd_pid"; wait "$vramd_pid" 2>/dev/null || true
vramd_pid=
touch "$tmpdir/killed"
wait $client || fail "client after SIGKILL: $(cat "$tmpdir/kill.out")"
start_vramd
api GET /v1/volumes; expect 200 "list after SIGKILL"
echo "$body" | jq -e '[.volumes[].name] == ["kept"]' >/dev/null || fail "definitions not back: $(echo "$body" | jq -c "[.volumes[].name]")"
timeout 60 "$PY" - "$tmpdir/nbd.sock" <<'PYEOF' || fail "contents after SIGKILL"
import nbd, sys
h = nbd.NBD(); h.set_export_name("kept"); h.connect_unix(sys.argv[1])
assert h.pread(2**20, 0) == bytes(2**20), "contents survived SIGKILL"
h.shutdown()
PYEOF
pass "SIGKILL: $(cat "$tmpdir/kill.out"); definitions back after restart, contents zeros"
