#!/usr/bin/env bash
# nbd-staging and nbd-max-sessions with real clients: 4 MiB of staging
# limits requests to 4 MiB (and NBD_INFO_BLOCK_SIZE says so), a larger one
# gets EOVERFLOW while the connection goes on, a third session is refused
# with a message while two run; GET /v1, vramctl status and /metrics show
# the settings and the pinned memory; bad values stop vramd with exit 2.
. "$(dirname "$0")/functions.sh"
requires jq
requires curl
requires python3
requires nbdinfo
requires nbdcopy
requires qemu-io
MiB=1048576

# 1. A bad value exits 2 before anything starts, naming the option.
bad() { # OPTION VALUE MESSAGE
  local rc=0
  "$VRAMD" --device-types cpu --list-devices "--$1" "$2" >"$tmpdir/out" 2>&1 || rc=$?
  [ $rc = 2 ] || fail "--$1 $2: exit $rc, expected 2: $(cat "$tmpdir/out")"
  grep -qF -- "vramd: --$1: $3" "$tmpdir/out" || fail "--$1 $2: $(cat "$tmpdir/out")"
}
bad nbd-staging 0 "size '0' must be greater than zero"
bad nbd-staging 3136K "'3136K' is not a multiple of 128K (the staging chunk)"
bad nbd-staging 512K "'512K' is out of range (1M to 256M)"
bad nbd-staging 512M "'512M' is out of range (1M to 256M)"
bad nbd-staging lots "size 'lots' must start with a digit"
bad nbd-max-sessions 0 "'0' is not a number from 1 to 4096"
bad nbd-max-sessions 4097 "'4097' is not a number from 1 to 4096"
bad small-batch maybe "'maybe' is not on or off"
bad small-max 1000 "'1000' is not a multiple of 512 (a sector)"
bad small-max 128K "'128K' is out of range (512 to 64K)"
bad small-staging 100M "'100M' is out of range (1M to 64M)"
printf 'nbd-max-sessions = 2\nnbd-staging = 100K\n' >"$tmpdir/bad.conf"
rc=0; "$VRAMD" --config "$tmpdir/bad.conf" --list-devices >"$tmpdir/out" 2>&1 || rc=$?
[ $rc = 2 ] && grep -qF "bad.conf:2: nbd-staging: '100K' is out of range" "$tmpdir/out" ||
  fail "bad config file: exit $rc: $(cat "$tmpdir/out")"
"$VRAMD" --device-types cpu --list-devices --nbd-staging 3M >"$tmpdir/out" 2>&1 ||
  fail "--nbd-staging 3M (24 chunks of 128K) refused: $(cat "$tmpdir/out")"
pass "bad values exit 2 naming the option (and the file's line); 3M is 24 chunks and fine"

# 2. The command line wins over the file; the file's other keys apply.
printf 'nbd-staging = 8M\nnbd-max-sessions = 3\nsmall-max = 8K\n' >"$tmpdir/vramd.conf"
start_vramd --config "$tmpdir/vramd.conf" --nbd-staging 4M --nbd-max-sessions 2 \
  --volume name=v,size=64M,layout=stripe,devices=all,unit=64K
requires_frontend nbd
api GET /v1; expect 200 "GET /v1"
echo "$body" | jq -e --argjson m $MiB '.pinned_host as $p | $p.nbd.staging_bytes == 4 * $m and
  $p.nbd.max == 2 and $p.nbd.per == "session" and $p.nbd.max_request_bytes == 4 * $m and
  $p.nbd.now == 0 and $p.nbd.held_bytes == 0 and
  $p.engine.small_batch and $p.engine.small_max_bytes == 8192 and
  $p.engine.staging_bytes == 4 * $m and $p.engine.workers >= 2 and
  $p.bound_bytes == 2 * 4 * $m + $p.engine.workers * 4 * $m + $p.ublk.held_bytes +
                    $p.save.jobs * $p.save.staging_bytes and
  $p.held_bytes == $p.engine.held_bytes + $p.ublk.held_bytes + $p.save.held_bytes' >/dev/null ||
  fail "GET /v1 pinned_host: $(echo "$body" | jq -c .pinned_host)"
grep -q "4.0 MiB of pinned staging per session, at most 2 sessions" "$tmpdir/vramd.log" ||
  fail "the start-up log does not state the NBD staging"
pass "GET /v1 shows nbd-staging 4M and nbd-max-sessions 2 (command line over the file), small-max 8K (file)"

# 3. Real clients: the advertised maximum, and 4 MiB requests that work.
uri=$(nbd_uri v)
json=$(timeout 30 nbdinfo --json "$uri")
echo "$json" | jq -e '.exports[0].block_size_maximum == 4194304' >/dev/null ||
  fail "nbdinfo: $json"
timeout 60 qemu-io -f raw -c 'write -P 0x5a 0 4M' -c 'read -P 0x5a 0 4M' \
  -c 'write -P 0xa5 4095K 9M' -c 'read -P 0xa5 4095K 9M' -c 'read -P 0x5a 0 4095K' "$uri" \
  >"$tmpdir/qio" 2>&1 || fail "qemu-io: $(cat "$tmpdir/qio")"
grep -q "Pattern verification failed" "$tmpdir/qio" && fail "qemu-io read other data: $(cat "$tmpdir/qio")"
head -c 16M /dev/urandom >"$tmpdir/data"
timeout 60 nbdcopy "$tmpdir/data" "$uri" || fail "nbdcopy in"
timeout 60 nbdcopy "$uri" "$tmpdir/back" || fail "nbdcopy out"
cmp -s -n $((16 * MiB)) "$tmpdir/data" "$tmpdir/back" || fail "nbdcopy read back other data"
pass "nbdinfo shows block_size_maximum 4194304; 4 MiB (and split 9 MiB) writes read back"

# 4. Past 4 MiB: EOVERFLOW (the payload skipped), the connection goes on.
NBD_MAX_PAYLOAD=$((4 * MiB)) timeout 120 python3 "$top_srcdir/tests/integration/nbd-raw.py" \
  "$tmpdir/nbd.sock" v huge || fail "requests past 4 MiB"
kill -0 "$vramd_pid" || fail "vramd died"
timeout 60 nbdcopy "$uri" "$tmpdir/back" || fail "not served after requests past 4 MiB"
cmp -s -n $((16 * MiB)) "$tmpdir/data" "$tmpdir/back" || fail "data changed by refused requests"
pass "READ and WRITE past 4 MiB get EOVERFLOW on a connection that goes on serving"

# 5. Two sessions hold their staging; a third is refused with a message.
holders=()
stop_holders() {
  for h in "${holders[@]}"; do kill "$h" 2>/dev/null || true; wait "$h" 2>/dev/null || true; done
  holders=()
}
on_exit stop_holders
for _ in 1 2; do
  qemu-io -f raw -r -c 'sleep 120000' "$uri" >/dev/null 2>&1 &
  holders+=($!)
done
# Sessions holding staging (in a subshell: $body is not kept).
sessions() { api GET /v1; echo "$body" | jq .pinned_host.nbd.now; }
for _ in $(seq 1 100); do [ "$(sessions)" = 2 ] && break; sleep 0.1; done
api GET /v1
[ "$(echo "$body" | jq .pinned_host.nbd.now)" = 2 ] ||
  fail "two sessions expected: $(echo "$body" | jq -c .pinned_host)"
held=$(echo "$body" | jq '.pinned_host.held_bytes')
[ "$held" = "$(echo "$body" | jq --argjson m $MiB '.pinned_host.engine.held_bytes + 8 * $m')" ] ||
  fail "held bytes with two sessions: $(echo "$body" | jq -c .pinned_host)"
[ "$(metric vramd_pinned_host_bytes)" = "$held" ] ||
  fail "vramd_pinned_host_bytes $(metric vramd_pinned_host_bytes), GET /v1 says $held"
"$VRAMCTL" --socket "$tmpdir/api.sock" status >"$tmpdir/status" || fail "vramctl status"
bound=$(echo "$body" | jq '.pinned_host.bound_bytes / 1048576')
grep -q "^pinned host memory: .* held, at most $bound.0 MiB with these settings" "$tmpdir/status" &&
  grep -q "^  nbd: 4.0 MiB per session x 2 sessions max (requests up to 4.0 MiB); 2 now, 8.0 MiB held" \
    "$tmpdir/status" && grep -q "^  engine: small-request batching on, segments up to 8.0 KiB" \
    "$tmpdir/status" || fail "vramctl status: $(cat "$tmpdir/status")"
rc=0; timeout 30 qemu-io -f raw -r -c 'read 0 4k' "$uri" >"$tmpdir/third" 2>&1 || rc=$?
[ $rc != 0 ] || fail "a third session was served"
grep -q "at most 2 NBD sessions at a time (nbd-max-sessions)" "$tmpdir/third" ||
  fail "the third session's error does not say why: $(cat "$tmpdir/third")"
pass "with two sessions open a third is refused, naming nbd-max-sessions; metrics and vramctl show 8 MiB held"

# 6. Once they end, the staging is given back and new sessions are served.
stop_holders
for _ in $(seq 1 100); do [ "$(sessions)" = 0 ] && break; sleep 0.1; done
api GET /v1
[ "$(echo "$body" | jq .pinned_host.nbd.now)" = 0 ] ||
  fail "sessions left: $(echo "$body" | jq -c .pinned_host)"
[ "$(metric vramd_pinned_host_bytes)" = "$(echo "$body" | jq .pinned_host.engine.held_bytes)" ] ||
  fail "staging not given back: $(metric vramd_pinned_host_bytes)"
timeout 30 qemu-io -f raw -r -c 'read 0 4M' "$uri" >"$tmpdir/qio" 2>&1 ||
  fail "not served again: $(cat "$tmpdir/qio")"
pass "staging is given back when sessions end, and a new session is served"
