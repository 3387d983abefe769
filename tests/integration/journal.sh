#!/usr/bin/env bash
# journal: with stderr the stream $JOURNAL_STREAM names, vramd logs to the
# journal natively, each entry with PRIORITY= and the VOLUME=, DEVICE=,
# JOB= it is about; with another stderr it writes lines there as before.
# No journald runs here, so a private mount namespace puts a socket of
# the test's own at /run/systemd/journal/socket, where sd-journal sends:
# the datagrams it gets are what journald would store.
if [ -z "${VRAMD_JOURNAL_NS:-}" ]; then
  unshare -m true 2>/dev/null || { echo "SKIP: unshare -m not permitted here"; exit 77; }
  VRAMD_JOURNAL_NS=1 exec unshare -m bash "$0" "$@"
fi
. "$(dirname "$0")/functions.sh"
requires jq
requires python3
mount -t tmpfs none /run || fail "cannot mount a private /run"
mkdir -p /run/systemd/journal
python3 - "$tmpdir/entries" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[1], "w") as out:
    while True:
        d = s.recv(1 << 20)
        # One entry per line: its KEY=value fields joined by tabs.
        out.write("\t".join(d.decode(errors="replace").rstrip("\n").split("\n")) + "\n")
        out.flush()
EOF
listener=$!
on_exit "kill $listener 2>/dev/null"
for _ in $(seq 1 50); do [ -e "$tmpdir/entries.ready" ] && break; sleep 0.1; done
[ -S /run/systemd/journal/socket ] || fail "the stand-in journal socket is not there"

# entries PATTERN: how many journal entries match (grep -E on the fields).
entries() { grep -cE "$1" "$tmpdir/entries" || true; }
# wait_entry PATTERN: until an entry matches (10 s at most).
wait_entry() {
  for _ in $(seq 1 100); do [ "$(entries "$1")" -gt 0 ] && return 0; sleep 0.1; done
  fail "no journal entry matches '$1': $(cat "$tmpdir/entries")"
}

# 1. stderr is the journal's stream: entries with fields, nothing on stderr.
# start_vramd waits for "ready:" on stderr, which goes to the journal here.
export VRAMD_FAULTS=1
touch "$tmpdir/vramd.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$tmpdir/vramd.log") "$VRAMD" --api-socket "$tmpdir/api.sock" \
  --nbd-socket "$tmpdir/nbd.sock" --metrics-listen off --state-dir "$tmpdir/state" \
  --device-types cpu --reserve 0 >>"$tmpdir/vramd.log" 2>&1 &
vramd_pid=$!
on_exit stop_vramd
wait_entry "MESSAGE=ready: 2 devices"
api POST /v1/volumes -d '{"name":"jv","size":4194304}'; expect 201 "create jv"
wait_entry "MESSAGE=api: POST /v1/volumes by uid [0-9]+ pid [0-9]+: 201 /v1/volumes/jv	.*PRIORITY=6	.*VOLUME=jv"
api POST /v1/volumes/jv/detach; expect 204 "detach jv"
wait_entry "MESSAGE=volume jv: detached from nbd.*VOLUME=jv"
api POST /v1/devices/cpu1/drain; expect 202 "drain cpu1"
job=$(echo "$body" | jq -r .id)
wait_entry "MESSAGE=cpu1: drained;.*DEVICE=cpu1"
wait_entry "MESSAGE=job $job \(drain cpu1\): done.*JOB=$job"
[ "$(entries "MESSAGE=cpu1: draining, was active	PRIORITY=6	SYSLOG_IDENTIFIER=vramd	DEVICE=cpu1$")" = 1 ] ||
  fail "the state change is not one entry with DEVICE=cpu1: $(grep 'cpu1: draining' "$tmpdir/entries")"
api POST /v1/faults -d '{"device_lost":"cpu0"}'; expect 204 "lose cpu0"
wait_entry "MESSAGE=cpu0: device lost.*PRIORITY=3.*DEVICE=cpu0"
wait_entry "MESSAGE=volume jv: failed \(device cpu0 lost\).*PRIORITY=3.*VOLUME=jv	DEVICE=cpu0"
# Every entry names vramd; none carries a <N> prefix or a "vramd: " one.
n=$(wc -l <"$tmpdir/entries")
[ "$(entries "SYSLOG_IDENTIFIER=vramd")" = "$n" ] || fail "entries without SYSLOG_IDENTIFIER=vramd"
[ "$(entries "MESSAGE=(<[0-9]>|vramd: )")" = 0 ] || fail "a message kept its stderr prefix"
! grep -q "api: POST /v1/volumes" "$tmpdir/vramd.log" || fail "lines went to stderr as well: $(cat "$tmpdir/vramd.log")"
stop_vramd
pass "stderr is the journal: $n entries, with PRIORITY, VOLUME=, DEVICE=, JOB=; none on stderr"

# 2. $JOURNAL_STREAM names another stream (a parent's): lines on stderr.
: >"$tmpdir/entries"
JOURNAL_STREAM=$(stat -c '%d:%i' "$tmpdir/entries") start_vramd
api POST /v1/volumes -d '{"name":"jw","size":4194304}'; expect 201 "create jw"
for _ in $(seq 1 50); do grep -q "^vramd: api: POST /v1/volumes by" "$tmpdir/vramd.log" && break; sleep 0.1; done
grep -q "^vramd: api: POST /v1/volumes by uid [0-9]* pid [0-9]*: 201 /v1/volumes/jw$" "$tmpdir/vramd.log" ||
  fail "no create line on stderr: $(cat "$tmpdir/vramd.log")"
[ ! -s "$tmpdir/entries" ] || fail "entries sent though stderr is not the journal: $(cat "$tmpdir/entries")"
stop_vramd
pass "another stream in JOURNAL_STREAM: lines on stderr with level words, nothing to the journal"
