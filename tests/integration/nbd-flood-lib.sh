# nbd-flood-lib.sh: helpers for the NBD negotiation flood tests (sourced
# after functions.sh).  Bounds are those of docs/limits.md.
NEG_DEADLINE=10      # NBD_NEG_DEADLINE_S
SERVED_MS=${SERVED_MS:-2000}
FLOOD="$top_srcdir/tests/integration/nbd-flood.py"

# Room for thousands of sockets in the flood and in vramd (root may raise
# the hard limit; vramd raises its soft limit to the hard one).
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

# One field of vramd's /proc status (a count, or KiB).
status_of() { awk -v k="$1:" '$1 == k { print $2 }' /proc/"$vramd_pid"/status; }

# Record vramd's Threads, VmLck and VmRSS every 0.1 s until usage_max.
usage_watch() {
  (while kill -0 "$vramd_pid" 2>/dev/null; do
     echo "$(status_of Threads) $(status_of VmLck) $(status_of VmRSS)"; sleep 0.1
   done) >"$tmpdir/usage" &
  usage_pid=$!
  on_exit "kill $usage_pid 2>/dev/null"
}
# Stop recording; print the largest "threads vmlck vmrss" seen.
usage_max() {
  kill "$usage_pid" 2>/dev/null; wait "$usage_pid" 2>/dev/null || true
  awk '{ for (i = 1; i <= 3; i++) if ($i > m[i] + 0) m[i] = $i } END { print m[1] + 0, m[2] + 0, m[3] + 0 }' "$tmpdir/usage"
}
# Fail unless the largest usage stayed within $1 threads and $2 KiB of
# locked memory and of RSS above the baseline "threads vmlck vmrss" $3
# (memory is unchecked under ASan, which locks nothing and keeps freed
# memory in quarantine).
check_usage_max() {
  local bt bl br mt ml mr
  read -r bt bl br <<<"$3"
  read -r mt ml mr <<<"$(usage_max)"
  echo "usage: threads/VmLck KiB/VmRSS KiB at the start $3, largest $mt $ml $mr"
  [ "$mt" -le $((bt + $1)) ] || fail "vramd grew to $mt threads (from $bt)"
  vramd_asan && return 0
  [ "$ml" -le $((bl + $2)) ] || fail "locked memory grew to $ml KiB (from $bl)"
  [ "$mr" -le $((br + $2)) ] || fail "RSS grew to $mr KiB (from $br)"
}
# The baseline for check_usage_max.
usage_now() { echo "$(status_of Threads) $(status_of VmLck) $(status_of VmRSS)"; }

# Start a flood in the background: flood_start NAME ADDR COUNT SECONDS
# [nbd-flood.py options] (a prefix such as setpriv goes in $FLOOD_AS; the
# system python3 then, as root's may be in a private folder); returns once
# its connections are open.
flood_start() {
  local name=$1
  shift
  ${FLOOD_AS:-} ${FLOOD_AS:+/usr/bin/}python3 "$FLOOD" "$@" >"$tmpdir/$name.out" 2>&1 &
  eval "${name}_pid=$!"
  on_exit "kill $! 2>/dev/null"
  for _ in $(seq 1 600); do
    grep -q '^ready' "$tmpdir/$name.out" && { echo "$name: $(cat "$tmpdir/$name.out")"; return 0; }
    kill -0 $! 2>/dev/null || { cat "$tmpdir/$name.out" >&2; fail "$name: the flood failed"; }
    sleep 0.1
  done
  fail "$name: the flood did not get its connections open"
}
# Wait for a flood to end; its stats (JSON) in $stats.
flood_wait() {
  local pid
  pid=$(eval echo "\$${1}_pid")
  wait "$pid" || { cat "$tmpdir/$1.out" >&2; fail "$1: the flood failed"; }
  stats=$(tail -1 "$tmpdir/$1.out")
  echo "$1: $stats"
}
# Fail unless nbdinfo (run with the prefix in $AS, if any) reads the
# size of URI $1 within SERVED_MS.
served() {
  local t0 ms
  t0=$(date +%s%N)
  ${AS:-} timeout 30 nbdinfo --size "$1" >/dev/null || fail "nbdinfo ${AS:+as $AS }on $1 failed"
  ms=$((($(date +%s%N) - t0) / 1000000))
  echo "served ${AS:+as $AS }in $ms ms: $1"
  [ "$ms" -le "$SERVED_MS" ] || fail "nbdinfo took $ms ms (at most $SERVED_MS)"
}
# Fail unless the trickling flood's connections were all closed by the
# deadline (and none lived much past it).
check_deadline() {
  echo "$stats" | jq -e --argjson d "$NEG_DEADLINE" \
    '.open == 0 and .closed == .opened and .max_life <= $d + 2' >/dev/null ||
    fail "flood connections outlived the ${NEG_DEADLINE} s deadline: $stats"
}
