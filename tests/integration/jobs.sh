#!/usr/bin/env bash
# Jobs end to end: GET and DELETE /v1/jobs and vramctl's job commands,
# driven by the test-only sleep job of POST /v1/faults (VRAMD_FAULTS=1),
# which counts bytes over time with a safe point every step_ms.
. "$(dirname "$0")/functions.sh"
requires jq
export VRAMD_FAULTS=1 VRAMCTL_SOCKET="$tmpdir/api.sock"
start_vramd

# sleep_job JSON: start a sleep job, set $id.
sleep_job() {
  api POST /v1/faults -D "$tmpdir/hdr" -d "{\"sleep_job\": $1}"; expect 202 "start a sleep job $1"
  id=$(echo "$body" | jq -r .id)
  grep -qi "^location: /v1/jobs/$id"$'\r'"\?$" "$tmpdir/hdr" || fail "no Location for job $id"
}
# job_field ID FIELD: one field of GET /v1/jobs/ID.
job_field() { api GET "/v1/jobs/$1"; expect 200 "GET job $1"; echo "$body" | jq -r ".$2"; }
# wait_job ID STATE: until the job is in STATE (10 s at most).
wait_job() {
  for _ in $(seq 1 100); do [ "$(job_field "$1" state)" = "$2" ] && return 0; sleep 0.1; done
  fail "job $1 is $(job_field "$1" state), not $2, after 10 s"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# 1. No jobs yet: an empty list, and vramctl's table is its header alone.
api GET /v1/jobs; expect 200 "GET /v1/jobs"
[ "$(echo "$body" | jq -c .jobs)" = "[]" ] || fail "jobs at start: $body"
[ "$("$VRAMCTL" job list)" = "ID KIND TARGET STATE PROGRESS TOTAL RATE ETA" ] ||
  fail "vramctl job list with no jobs: $("$VRAMCTL" job list)"
[ -z "$("$VRAMCTL" job list -H)" ] || fail "job list -H with no jobs printed rows"
pass "no jobs: GET /v1/jobs is [], vramctl job list its header"

# 2. A running job's progress grows, seen with curl and vramctl; it has
# its own thread, job-N.
sleep_job '{"seconds": 8, "bytes": 8589934592, "target": "gpu1"}'
[ "$id" = 1 ] || fail "the first job's id is $id"
sleep 0.5
api GET /v1/jobs/1; expect 200 "GET job 1"; a=$body
sleep 0.6
api GET /v1/jobs/1; b=$body
for f in kind target state total_bytes; do echo "$a" | jq -e ".$f != null" >/dev/null || fail "no $f: $a"; done
[ "$(echo "$b" | jq -r '.kind + " " + .target + " " + .state')" = "sleep gpu1 running" ] ||
  fail "job 1 is not a running sleep on gpu1: $b"
da=$(echo "$a" | jq .done_bytes); db=$(echo "$b" | jq .done_bytes)
[ "$da" -gt 0 ] && [ "$db" -gt "$da" ] || fail "done_bytes did not grow: $da then $db"
[ "$db" -lt 8589934592 ] || fail "done_bytes reached the total early: $db"
echo "$b" | jq -e '.rate_bytes_per_second > 0 and .eta_seconds > 0 and .eta_seconds <= 8
  and .started != null and .finished == null and .error == null and (.cancel_requested | not)' \
  >/dev/null || fail "rate, ETA or times wrong while running: $b"
grep -qx 'job-1' /proc/"$vramd_pid"/task/*/comm || fail "no thread named job-1"
s1=$("$VRAMCTL" job show 1); sleep 0.5; s2=$("$VRAMCTL" job show 1)
echo "$s1" | grep -q '^state: *running$' || fail "vramctl job show: $s1"
p1=$(echo "$s1" | sed -n 's/^progress: *\([0-9]*\)%.*/\1/p'); p2=$(echo "$s2" | sed -n 's/^progress: *\([0-9]*\)%.*/\1/p')
[ -n "$p1" ] && [ -n "$p2" ] && [ "$p2" -gt "$p1" ] || fail "job show's progress did not grow: '$p1' then '$p2'"
echo "$s2" | grep -qE '^eta: *[0-9]+s$' || fail "job show has no ETA: $s2"
"$VRAMCTL" job list -H -p | awk -F'\t' '$1 == 1 && $4 == "running" && $6 == 8589934592 { ok = 1 } END { exit !ok }' ||
  fail "job list -H -p: $("$VRAMCTL" job list -H -p)"
pass "running job: done_bytes $da -> $db, rate and ETA given; job show $p1% -> $p2%; thread job-1"

# 3. vramctl job cancel: the job stops at its safe point, state cancelled.
out=$("$VRAMCTL" job cancel 1) || fail "vramctl job cancel 1 failed: $out"
[ "$out" = "cancelled job 1" ] || fail "job cancel said: $out"
api GET /v1/jobs/1
echo "$body" | jq -e '.state == "cancelled" and .cancel_requested and .finished != null
  and .eta_seconds == null and .done_bytes < .total_bytes' >/dev/null || fail "after cancel: $body"
"$VRAMCTL" job show 1 | grep -q '^state: *cancelled$' || fail "job show after cancel"
sleep 0.2
! grep -qx 'job-1' /proc/"$vramd_pid"/task/*/comm 2>/dev/null || fail "thread job-1 is still there"
api DELETE /v1/jobs/1; expect 409 "cancel an ended job" job_finished
[ "$(echo "$body" | jq -r .error.state)" = cancelled ] || fail "409 does not say the state: $body"
"$VRAMCTL" job cancel 1 2>"$tmpdir/err" && fail "vramctl job cancel of an ended job succeeded"
grep -q "already ended (cancelled)" "$tmpdir/err" || fail "job cancel of an ended job said: $(cat "$tmpdir/err")"
pass "vramctl job cancel: cancelled at a safe point, thread gone; a second cancel is 409"

# 4. A job that runs to its end shows done; vramctl job wait exits 0 and
# prints nothing when stderr is not a terminal.
sleep_job '{"seconds": 0.5, "bytes": 1048576}'
"$VRAMCTL" job wait "$id" >"$tmpdir/out" 2>"$tmpdir/err" || fail "job wait of a job that ends done: $(cat "$tmpdir/err")"
[ ! -s "$tmpdir/out" ] && [ ! -s "$tmpdir/err" ] || fail "job wait printed without a terminal: $(cat "$tmpdir/out" "$tmpdir/err")"
api GET "/v1/jobs/$id"
echo "$body" | jq -e '.state == "done" and .done_bytes == 1048576 and .eta_seconds == 0
  and .finished >= .started' >/dev/null || fail "done job: $body"
"$VRAMCTL" job show "$id" | grep -q '^progress: *100% ' || fail "job show of a done job"
# A job that fails: job wait exits 1 with its error.
sleep_job '{"seconds": 0.3, "bytes": 4096, "error": "device gpu1 fell off the bus"}'
"$VRAMCTL" job wait "$id" 2>"$tmpdir/err" && fail "job wait of a failed job exited 0"
grep -q "job $id (sleep test) failed: device gpu1 fell off the bus" "$tmpdir/err" ||
  fail "job wait's message: $(cat "$tmpdir/err")"
[ "$(job_field "$id" error)" = "device gpu1 fell off the bus" ] || fail "error not in the job"
pass "a finished job shows done (ETA 0, all bytes); a failed one its error, job wait exits 0 and 1"

# 5. Ids: not a number 400, unknown 404; other methods 405.
for bad in abc 01 -1 1x +1 %31 99999999999 ""; do
  api GET "/v1/jobs/$bad"; expect 400 "GET /v1/jobs/$bad" invalid_id
  api DELETE "/v1/jobs/$bad"; expect 400 "DELETE /v1/jobs/$bad" invalid_id
done
for unknown in 0 999 4294967295; do
  api GET "/v1/jobs/$unknown"; expect 404 "GET /v1/jobs/$unknown" no_such_job
  api DELETE "/v1/jobs/$unknown"; expect 404 "DELETE /v1/jobs/$unknown" no_such_job
done
api POST /v1/jobs/1; expect 405 "POST a job"
api PUT /v1/jobs; expect 405 "PUT /v1/jobs"
api POST /v1/faults -d '{"sleep_job": {"seconds": 1, "bytes": 1, "speed": 2}}'; expect 400 "unknown sleep field" unknown_field
api POST /v1/faults -d '{"sleep_job": {"seconds": -1, "bytes": 1}}'; expect 400 "negative seconds" invalid_field
rc=0; "$VRAMCTL" job show abc 2>/dev/null || rc=$?
[ $rc = 2 ] || fail "vramctl job show abc exited $rc, not 2 (usage)"
"$VRAMCTL" job show 999 2>"$tmpdir/err" && fail "vramctl job show 999 succeeded"
grep -q "no job 999 ('vramctl job list' lists them" "$tmpdir/err" || fail "job show 999 said: $(cat "$tmpdir/err")"
pass "job ids: 400 for 8 kinds of non-number, 404 for unknown ones, 405 for other methods"

# 6. --no-wait returns at once, while the job goes on to its next safe
# point (every 3 s here); a plain job wait then waits for it.
sleep_job '{"seconds": 30, "bytes": 1073741824, "step_ms": 3000}'
sleep 0.2
t0=$(now_ms)
out=$("$VRAMCTL" job cancel --no-wait "$id") || fail "job cancel --no-wait failed"
t1=$(now_ms)
echo "$out" | grep -q "^cancelling job $id" || fail "job cancel --no-wait said: $out"
[ $((t1 - t0)) -lt 1500 ] || fail "job cancel --no-wait took $((t1 - t0)) ms"
api GET "/v1/jobs/$id"
echo "$body" | jq -e '.state == "running" and .cancel_requested' >/dev/null ||
  fail "right after --no-wait the job is not running with cancel requested: $body"
"$VRAMCTL" job wait "$id" 2>"$tmpdir/err" && fail "job wait of a cancelled job exited 0"
t2=$(now_ms)
grep -q "job $id (sleep test) was cancelled" "$tmpdir/err" || fail "job wait said: $(cat "$tmpdir/err")"
[ $((t2 - t0)) -lt 4500 ] || fail "the cancel took $((t2 - t0)) ms with a safe point every 3 s"
pass "job cancel --no-wait returned in $((t1 - t0)) ms; the job stopped at its safe point $((t2 - t0)) ms after"

# 7. Ctrl-C while vramctl waits cancels the job, and vramctl waits for it
# to stop; on a terminal it draws a progress bar.
sleep_job '{"seconds": 30, "bytes": 1073741824}'
"$VRAMCTL" job wait "$id" 2>"$tmpdir/err" & w=$!
sleep 0.5
kill -INT $w
rc=0; wait $w || rc=$?
[ $rc = 1 ] || fail "job wait after Ctrl-C exited $rc"
[ "$(job_field "$id" state)" = cancelled ] || fail "Ctrl-C did not cancel job $id"
if command -v script >/dev/null; then
  sleep_job '{"seconds": 1.5, "bytes": 1073741824}'
  script -qec "$VRAMCTL job wait $id" /dev/null >"$tmpdir/tty" || fail "job wait on a terminal failed"
  tr '\r' '\n' <"$tmpdir/tty" | grep -cE "^.*job $id \[#*-*\] +[0-9]+% .* ETA " >"$tmpdir/bars" || true
  [ "$(cat "$tmpdir/bars")" -ge 3 ] || fail "fewer than 3 progress bars drawn in 1.5 s: $(cat -v "$tmpdir/tty" | head -c 400)"
  pass "Ctrl-C cancels the job waited on; a terminal gets $(cat "$tmpdir/bars") progress bars in 1.5 s"
else
  pass "Ctrl-C cancels the job waited on (no script(1): the terminal's bar is not checked)"
fi

# 8. SIGTERM with a job running: it is cancelled at its safe point and
# joined, and vramd exits 0 at once.
sleep_job '{"seconds": 60, "bytes": 1073741824}'
sleep 0.2
t0=$(now_ms)
stop_vramd
t1=$(now_ms)
[ -z "${vramd_bad_exit:-}" ] || fail "vramd did not exit 0 with a job running"
[ $((t1 - t0)) -lt 5000 ] || fail "vramd took $((t1 - t0)) ms to stop with a job running"
grep -q "cancelling 1 running jobs" "$tmpdir/vramd.log" || fail "stop did not cancel the running job"
grep -q "job $id (sleep test): cancelled after" "$tmpdir/vramd.log" || fail "the job did not end cancelled"
pass "SIGTERM with a job running: cancelled, joined, exit 0 in $((t1 - t0)) ms"
