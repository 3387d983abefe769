#!/usr/bin/env bash
# nbd-tls modes: off with a TCP listener warns at start, in GET /v1 and in
# vramctl status; on serves plain and TLS clients over TCP alike (and
# status says plain ones still get in); settings that cannot work stop
# vramd at start with a message naming the file and what to do.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-tls-lib.sh"
requires_gnutls
requires nbdinfo
requires nbdcopy
requires jq
requires python3
port=$(free_port)
mkdir -p "$tmpdir/psk"
make_psk "$tmpdir/psk/keys.psk" alice
export VRAMCTL_SOCKET="$tmpdir/api.sock"

start_vramd --nbd-listen "127.0.0.1:$port" --volume name=v,size=16M
grep -q "warning: nbd: nbd-listen 127.0.0.1:$port serves clients without TLS" "$tmpdir/vramd.log" ||
  fail "no warning at start: $(grep nbd: "$tmpdir/vramd.log")"
api GET /v1
echo "$body" | jq -e --arg l "127.0.0.1:$port" '.nbd_listen == $l and .nbd_tls == "off"' >/dev/null ||
  fail "GET /v1: $body"
"$VRAMCTL" status >"$tmpdir/status"
grep -q "NBD over TCP (127.0.0.1:$port) without TLS" "$tmpdir/status" ||
  fail "vramctl status: $(cat "$tmpdir/status")"
timeout 30 nbdinfo "$(psk_uri alice v)" >/dev/null 2>&1 && fail "TLS served with nbd-tls = off"
pass "nbd-tls = off with TCP: warned at start, in GET /v1 and in vramctl status"
stop_vramd

start_vramd --nbd-listen "127.0.0.1:$port" --nbd-tls on --nbd-tls-psk "$tmpdir/psk/keys.psk" \
  --volume name=v,size=16M
head -c 16M /dev/urandom >"$tmpdir/data"
timeout 60 nbdcopy "$tmpdir/data" "$(psk_uri alice v)" || fail "nbdcopy over TLS"
timeout 60 nbdcopy "nbd://127.0.0.1:$port/v" "$tmpdir/back"
cmp -s "$tmpdir/data" "$tmpdir/back" || fail "a plain TCP client read other data"
timeout 30 nbdinfo --json "nbd://127.0.0.1:$port/v" | jq -e '.TLS == false' >/dev/null ||
  fail "a plain TCP client was refused with nbd-tls = on"
timeout 30 nbdinfo --json "$(psk_uri alice v)" | jq -e '.TLS == true' >/dev/null ||
  fail "a TLS client was refused with nbd-tls = on"
api GET /v1
echo "$body" | jq -e '.nbd_tls == "on"' >/dev/null || fail "GET /v1: $body"
"$VRAMCTL" status >"$tmpdir/status"
grep -q "also serves clients that skip TLS" "$tmpdir/status" ||
  fail "vramctl status: $(cat "$tmpdir/status")"
pass "nbd-tls = on: plain and TLS clients over TCP; status says plain ones get in"
stop_vramd

# Expect vramd with args "$@" to exit at start with message $msg.
refused() {
  local rc=0
  timeout 20 "$VRAMD" --api-socket "$tmpdir/api.sock" --nbd-socket "$tmpdir/nbd.sock" \
    --metrics-listen off --state-dir "$tmpdir/state" --device-types cpu "$@" >"$tmpdir/out" 2>&1 || rc=$?
  [ $rc != 0 ] || fail "started with $*"
  grep -qF "$msg" "$tmpdir/out" || fail "expected '$msg', got: $(cat "$tmpdir/out")"
}
msg="nbd-tls = require needs nbd-tls-psk FILE, nbd-tls-certificates DIR or both"
refused --nbd-tls require
msg="use off, on (TLS offered) or require"
refused --nbd-tls maybe
printf 'alice:00112233\nbob=0011\n' >"$tmpdir/bad.psk"
msg="nbd-tls-psk $tmpdir/bad.psk line 2: expected IDENTITY:HEXKEY"
refused --nbd-tls on --nbd-tls-psk "$tmpdir/bad.psk"
printf 'alice:0011223\n' >"$tmpdir/bad.psk"
msg="line 1: the key of 'alice' is not 1 to 64 bytes in hex digits"
refused --nbd-tls on --nbd-tls-psk "$tmpdir/bad.psk"
printf 'carol:v\n' >"$tmpdir/vols"
msg="nbd-tls-psk-volumes $tmpdir/vols line 1: identity 'carol' is not in nbd-tls-psk"
refused --nbd-tls on --nbd-tls-psk "$tmpdir/psk/keys.psk" --nbd-tls-psk-volumes "$tmpdir/vols"
printf 'alice:v,no/pe\n' >"$tmpdir/vols"
msg="'no/pe' is no volume name"
refused --nbd-tls on --nbd-tls-psk "$tmpdir/psk/keys.psk" --nbd-tls-psk-volumes "$tmpdir/vols"
msg="nbd-tls-certificates $tmpdir: server-cert.pem and server-key.pem"
refused --nbd-tls require --nbd-tls-certificates "$tmpdir"
pass "TLS settings that cannot work stop vramd at start with their message"
