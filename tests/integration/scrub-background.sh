#!/usr/bin/env bash
# Background scrubs (scrub-interval, scrub-rate): with an interval of 2 s
# and a rate of 64M/s, a volume with checksums is scrubbed as a job of its
# own, no one asking: it finds the bits flipped in it, takes at least
# size/rate seconds, and reads keep being served meanwhile.  A manual
# scrub while it runs is refused (409 scrub_running); the next one is
# scheduled; volumes without checksums are never scrubbed.
. "$(dirname "$0")/functions.sh"
requires jq
requires nbdcopy
requires_libnbd
export VRAMD_FAULTS=1 VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576
start_vramd --extent-size 4M --scrub-interval 2s --scrub-rate 64M
requires_frontend nbd

"$VRAMCTL" volume create s --size 256M --integrity crc32c >/dev/null || fail "create s"
"$VRAMCTL" volume create p --size 8M >/dev/null || fail "create p"
head -c $((8 * M)) /dev/urandom >"$tmpdir/img"
nbdcopy "$tmpdir/img" "$(nbd_uri s)" || fail "write"
# On a loaded machine a background scrub may already have begun: only
# one that starts after the flips counts.
api GET /v1/jobs
before=$(echo "$body" | jq -c '[.jobs[] | select(.kind == "scrub") | .id]')
api POST /v1/faults -d '{"bit_flips": {"volume": "s", "offsets": [4096, 1048576, 5000000]}}'
expect 200 "flip 3 bits"
api GET /v1/volumes/s
[ "$(echo "$body" | jq .scrub.next_time)" != null ] || fail "no background scrub scheduled: $body"

# The background scrub starts within the interval and a tick (after one
# already running, if any: 4 s at this rate).
for _ in $(seq 1 120); do
  api GET /v1/jobs
  id=$(echo "$body" | jq -r --argjson old "$before" '[.jobs[] | select(.kind == "scrub" and
        .target == "s" and (.id as $i | $old | index($i) | not))][0].id // empty')
  [ -n "$id" ] && break
  sleep 0.1
done
[ -n "$id" ] || fail "no background scrub started within 12 s: $body"
# While it runs: a manual one is refused, and a read is served at once.
api POST /v1/volumes/s/scrub
expect 409 "a manual scrub during the background one" scrub_running
start=$(date +%s%N)
nbdpy "assert h.pread(4096, 8192) == open('$tmpdir/img', 'rb').read()[8192:12288]; h.shutdown()" s ||
  fail "a read during the scrub"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -lt 2000 ] || fail "a read during the background scrub took $ms ms"
"$VRAMCTL" job wait "$id" >/dev/null || fail "the background scrub failed"
api GET /v1/volumes/s
[ "$(echo "$body" | jq .scrub.last_bad_blocks)" = 3 ] || fail "found: $(echo "$body" | jq -c .scrub)"
[ "$(echo "$body" | jq .scrub.last_blocks)" = 65536 ] || fail "checked: $(echo "$body" | jq -c .scrub)"
secs=$(grep -o 'background scrub done: 65536 blocks ([^)]*) checked in [0-9.]* s' "$tmpdir/vramd.log" |
       head -1 | sed 's/.* in \([0-9.]*\) s/\1/')
[ -n "$secs" ] || fail "no log line for the background scrub: $(grep scrub "$tmpdir/vramd.log")"
awk -v s="$secs" 'BEGIN { exit !(s >= 3.9) }' ||
  fail "256M at 64M/s took $secs s: the rate was not held"
pass "a background scrub ran on its own: 3 bad blocks found, 256M in $secs s at 64M/s, a read served in $ms ms meanwhile, a manual one refused"

api GET /v1/volumes/s
next=$(echo "$body" | jq .scrub.next_time)
[ "$next" != null ] && [ "$next" -ge "$(echo "$body" | jq .scrub.last_time)" ] ||
  fail "the next background scrub is not scheduled: $(echo "$body" | jq -c .scrub)"
api GET /v1/jobs
[ "$(echo "$body" | jq '[.jobs[] | select(.target == "p")] | length')" = 0 ] ||
  fail "a volume without checksums was scrubbed: $body"
"$VRAMCTL" volume show s | grep -q "; next " || fail "volume show: $("$VRAMCTL" volume show s)"
pass "the next one is scheduled; a volume without checksums is left alone"
