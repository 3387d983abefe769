#!/usr/bin/env bash
# NBD over TLS under a slow handshake: 60 TCP connections (under the 64 per
# peer) send STARTTLS
# and five bytes of a ClientHello, then nothing.  vramd starts no thread
# for them and holds at most 12 MiB more RSS, serves a real TLS client
# meanwhile within 5 s each time, and closes every one at the 10 s
# negotiation deadline.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-tls-lib.sh"
. "$(dirname "$0")/nbd-flood-lib.sh"
requires_gnutls
requires nbdinfo
requires python3
port=$(free_port)
mkdir -p "$tmpdir/psk"
make_psk "$tmpdir/psk/keys.psk" alice
start_vramd --nbd-listen "127.0.0.1:$port" --nbd-tls require --nbd-tls-psk "$tmpdir/psk/keys.psk" \
  --volume name=v,size=4M --nbd-staging 1M
timeout 30 nbdinfo "$(psk_uri alice v)" >/dev/null || fail "no TLS client served at all"
base=$(vramd_usage)
NBD_STALLS=60 timeout 60 python3 "$top_srcdir/tests/integration/nbd-raw.py" "127.0.0.1:$port" v \
  tls-stall >"$tmpdir/stall" &
stall=$!
for _ in $(seq 1 100); do grep -q held "$tmpdir/stall" && break; sleep 0.1; done
grep -q held "$tmpdir/stall" || fail "the stalling connections were not all taken in"
sleep 1 # the server has read the five bytes by now
held=$(vramd_usage)
for _ in 1 2 3; do
  t0=$(date +%s%N)
  timeout 30 nbdinfo "$(psk_uri alice v)" >/dev/null || fail "a TLS client was refused meanwhile"
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ $ms -lt 5000 ] || fail "a TLS client waited $ms ms behind the stalled handshakes"
  sleep 1
done
read -r t0 _ r0 <<<"$base"
read -r t1 _ r1 <<<"$held"
[ "$t1" -le "$t0" ] || fail "threads: $t0 before, $t1 with 60 stalled handshakes"
vramd_asan || [ "$r1" -le $((r0 + 12288)) ] || fail "RSS: $r0 KiB before, $r1 KiB with 60 stalled handshakes"
echo "usage: threads/fds/RSS KiB $base -> $held with 60 stalled handshakes"
wait $stall || fail "the stalling client: $(cat "$tmpdir/stall")"
read -r first last <<<"$(tail -1 "$tmpdir/stall")"
echo "stalled handshakes closed after $first to $last s"
awk -v f="$first" -v l="$last" -v d="$NEG_DEADLINE" 'BEGIN { exit !(f >= d - 2 && l <= d + 5) }' ||
  fail "stalled handshakes closed after $first to $last s, not at the ${NEG_DEADLINE} s deadline"
grep -q "did not finish negotiating within $NEG_DEADLINE s" "$tmpdir/vramd.log" ||
  fail "the deadline was not logged"
[ "$(grep -c "did not finish negotiating" "$tmpdir/vramd.log")" -le 10 ] ||
  fail "the deadline's log line is not rate-limited"
pass "60 stalled TLS handshakes: no thread, a TLS client served meanwhile, closed at the deadline"
check_usage "$base" 16384
