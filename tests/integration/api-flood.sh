#!/usr/bin/env bash
# Slow-client floods (trickle.py: dozens of connections, each sending one
# header byte every 2 s and never a whole request) on the API socket and
# the TCP metrics listener.  Each connection is closed at its deadline
# (VD_API_DEADLINE_MS, 5 s, though it is never idle that long), a real
# vramctl or curl is served (or told "busy") within 2 s meanwhile, vramd's
# threads and locked memory stay put, and its log stays bounded; a long
# create is never cut by a deadline nor holds up reads.
. "$(dirname "$0")/functions.sh"
requires python3
requires curl
requires jq
trickle="$top_srcdir/tests/integration/trickle.py"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(free_port)
start_vramd --metrics-listen "127.0.0.1:$mport"
export VRAMCTL_SOCKET="$tmpdir/api.sock"
log="$tmpdir/vramd.log"

# A field of /proc/PID/status (Threads, VmLck in KiB).
proc_status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$vramd_pid/status"; }
# Run a command; sets rc and ms.
timed() {
  local t0
  t0=$(date +%s%N)
  set +e; "$@" >"$tmpdir/out" 2>"$tmpdir/err"; rc=$?; set -e
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}
# Check a trickle.py report: at least $2 connections closed by vramd, none
# served past the deadline (5 s, plus the 2 s between bytes, plus slack).
check_report() {
  local f=$1 min=$2
  jq -e --argjson min "$min" '.closed >= $min and .longest_served_s <= 8' "$f" >/dev/null ||
    fail "$f: $(cat "$f")"
}
threads0=$(proc_status Threads)
lck0=$(proc_status VmLck)

# 1. 48 trickling on the API socket (root, so no per-peer cap applies) and
#    48 on the metrics listener from another address, at once.
lines0=$(wc -l <"$log")
python3 "$trickle" "$tmpdir/api.sock" --count 48 --seconds 9 --interval 2 >"$tmpdir/api.json" &
t1=$!
python3 "$trickle" "127.0.0.1:$mport" --source 127.0.0.2 --count 48 --seconds 9 \
  --interval 2 >"$tmpdir/metrics.json" &
t2=$!
on_exit "kill $t1 $t2 2>/dev/null || true"
sleep 2
timed timeout 30 "$VRAMCTL" status
[ "$rc" = 0 ] || fail "vramctl status during the flood: exit $rc: $(cat "$tmpdir/err")"
[ "$ms" -lt 2000 ] || fail "vramctl status during the flood took $ms ms"
api_ms=$ms
timed curl -s -f --max-time 10 "http://127.0.0.1:$mport/metrics"
[ "$rc" = 0 ] && grep -q "^vramd_" "$tmpdir/out" || fail "curl /metrics during the flood: $rc"
[ "$ms" -lt 2000 ] || fail "curl /metrics during the flood took $ms ms"
metrics_ms=$ms
threads1=$(proc_status Threads)
lck1=$(proc_status VmLck)
wait $t1 $t2
check_report "$tmpdir/api.json" 48
check_report "$tmpdir/metrics.json" 48
[ "$threads1" -le "$threads0" ] || fail "threads: $threads0 before the flood, $threads1 during it"
[ $((lck1 - lck0)) -le 16384 ] || fail "VmLck: $lck0 KiB before, $lck1 KiB during the flood"
lines=$(( $(wc -l <"$log") - lines0 ))
[ "$lines" -le 100 ] || fail "the flood logged $lines lines"
grep -q "similar messages suppressed" "$log" || fail "no log line was rate-limited"
pass "96 trickling connections: vramctl status in $api_ms ms, /metrics in $metrics_ms ms;" \
  "threads $threads0 -> $threads1, VmLck $lck0 -> $lck1 KiB; $lines log lines;" \
  "api $(cat "$tmpdir/api.json"); metrics $(cat "$tmpdir/metrics.json")"

# 2. The same peer as the real client: past 16 connections from one
#    address, it is answered 503 busy at once.
python3 "$trickle" "127.0.0.1:$mport" --count 48 --seconds 5 --interval 2 >"$tmpdir/same.json" &
t3=$!
on_exit "kill $t3 2>/dev/null || true"
sleep 1.5
timed curl -s --max-time 10 -w '%{http_code}' -o "$tmpdir/body" "http://127.0.0.1:$mport/metrics"
code=$(cat "$tmpdir/out")
[ "$ms" -lt 2000 ] || fail "curl /metrics from the flooding address took $ms ms"
[ "$code" = 503 ] || fail "curl /metrics from the flooding address: HTTP $code"
jq -e '.error.code == "busy" and (.error.message | contains("16 connections"))' "$tmpdir/body" \
  >/dev/null || fail "busy answer: $(cat "$tmpdir/body")"
wait $t3
pass "from the flooding address itself: 503 busy in $ms ms: $(jq -r .error.message "$tmpdir/body")"

# 3. A flood from another uid on the API socket: it gets 16 connections,
#    root is still served, and vramctl as that uid is told vramd is busy.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ -x /usr/bin/python3 ]; then
  chmod 0711 "$tmpdir"
  chmod 0666 "$tmpdir/api.sock"
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  # The system python: a per-user one (pyenv) may be out of its reach.
  as_nobody /usr/bin/python3 "$trickle" "$tmpdir/api.sock" --count 48 --seconds 5 --interval 2 \
    >"$tmpdir/uid.json" &
  t4=$!
  on_exit "kill $t4 2>/dev/null || true"
  sleep 1.5
  timed timeout 30 "$VRAMCTL" volume list
  [ "$rc" = 0 ] && [ "$ms" -lt 2000 ] || fail "root during a uid 65534 flood: exit $rc, $ms ms"
  root_ms=$ms
  timed timeout 30 setpriv --reuid=65534 --regid=65534 --clear-groups "$VRAMCTL" volume list
  [ "$rc" = 1 ] && [ "$ms" -lt 2000 ] || fail "uid 65534's own vramctl: exit $rc, $ms ms"
  grep -q "vramd is busy: uid 65534 already has 16 connections open" "$tmpdir/err" ||
    fail "uid 65534's vramctl: $(cat "$tmpdir/err")"
  wait $t4
  pass "uid 65534 floods: root served in $root_ms ms; its own vramctl in $ms ms: $(cat "$tmpdir/err")"
else
  echo "SKIP: part 3 needs root, setpriv and /usr/bin/python3"
fi

# 4. Past 64 connections at once, vramctl is told vramd is busy (or, when a
#    slot has just come free, served), never "not running".
python3 "$trickle" "$tmpdir/api.sock" --count 72 --seconds 4 --interval 2 >"$tmpdir/full.json" &
t5=$!
on_exit "kill $t5 2>/dev/null || true"
sleep 1.5
timed timeout 30 "$VRAMCTL" volume list
[ "$ms" -lt 2000 ] || fail "vramctl with 72 connections open took $ms ms"
[ "$rc" = 0 ] || grep -q "vramd is busy: it serves 64 connections at once" "$tmpdir/err" ||
  fail "vramctl with 72 connections open: exit $rc: $(cat "$tmpdir/err")"
wait $t5
grep -q "refusing a connection from uid 0 .*serves 64 connections" "$log" ||
  fail "the 64-connection cap was not reached"
pass "72 connections: vramctl exit $rc in $ms ms: $(cat "$tmpdir/err" "$tmpdir/out" | head -1)"

# 5. A create that zero-fills 2 GiB (seconds on CPU devices) runs on the
#    worker: reads are answered meanwhile, and no deadline cuts it off.
t0=$(date +%s%N)
curl -s -o "$tmpdir/create" -w '%{http_code}' --max-time 120 --unix-socket "$tmpdir/api.sock" \
  -d '{"name":"big","size":2147483648}' http://localhost/v1/volumes >"$tmpdir/create.code" &
cpid=$!
sleep 0.3
worst=0
for _ in 1 2 3; do
  timed timeout 30 "$VRAMCTL" volume list
  [ "$rc" = 0 ] || fail "volume list during a create: exit $rc: $(cat "$tmpdir/err")"
  [ "$ms" -le "$worst" ] || worst=$ms
  sleep 0.2
done
wait $cpid
create_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(cat "$tmpdir/create.code")" = 201 ] || fail "2 GiB create: HTTP $(cat "$tmpdir/create.code")"
[ "$worst" -lt 1000 ] || fail "a read during the create took $worst ms"
api GET /v1/volumes/big; expect 200 "the 2 GiB volume"
pass "a 2 GiB create took $create_ms ms (deadline 5000 ms); reads meanwhile in at most $worst ms"

# After the floods, vramd is back to its threads and serves at once.
timed timeout 30 "$VRAMCTL" status
[ "$rc" = 0 ] && [ "$ms" -lt 2000 ] || fail "after the floods: exit $rc, $ms ms"
[ "$(proc_status Threads)" -le "$threads0" ] || fail "threads after the floods: $(proc_status Threads)"
pass "after the floods: served in $ms ms, $(proc_status Threads) threads"

# 6. SIGTERM with creates queued on the worker: the one running finishes,
#    the rest are answered 503 "stopping", and vramd exits 0.
for n in q1 q2 q3; do
  curl -s -o "$tmpdir/$n" -w '%{http_code}' --max-time 60 --unix-socket "$tmpdir/api.sock" \
    -d "{\"name\":\"$n\",\"size\":1073741824}" http://localhost/v1/volumes >"$tmpdir/$n.code" &
done
sleep 0.3
stop_vramd
wait
[ -z "${vramd_bad_exit:-}" ] || fail "vramd did not exit 0 with creates queued"
codes="$(cat "$tmpdir/q1.code") $(cat "$tmpdir/q2.code") $(cat "$tmpdir/q3.code")"
for n in q1 q2 q3; do
  case $(cat "$tmpdir/$n.code") in
    201) ;;
    503) jq -e '.error.code == "stopping"' "$tmpdir/$n" >/dev/null || fail "$n: $(cat "$tmpdir/$n")" ;;
    *) fail "$n during stop: HTTP $(cat "$tmpdir/$n.code")" ;;
  esac
done
echo "$codes" | grep -q 503 || echo "note: every create finished before the stop ($codes)"
pass "SIGTERM with creates queued: exit 0; answers $codes"
