#!/usr/bin/env bash
# NBD over TLS with PSK (nbd-tls = require): nbdinfo, nbdcopy and qemu-img
# over nbds:// with the key; a wrong key, an unknown identity and a plain
# TCP client are refused; options before STARTTLS get TLS_REQD and
# EXPORT_NAME closes; an identity limited to one volume (nbd-tls-psk-volumes)
# neither lists nor opens another; the Unix socket still serves plain clients.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-tls-lib.sh"
requires_gnutls
requires nbdinfo
requires jq
requires python3
port=$(free_port)
mkdir -p "$tmpdir/psk" "$tmpdir/wrong"
make_psk "$tmpdir/psk/keys.psk" alice bob
make_psk "$tmpdir/wrong/keys.psk" alice carol
printf '# bob sees vc only\nbob: vc\n' >"$tmpdir/volumes"
start_nbd_vramd --nbd-listen "127.0.0.1:$port" --nbd-tls require \
  --nbd-tls-psk "$tmpdir/psk/keys.psk" --nbd-tls-psk-volumes "$tmpdir/volumes"
grep -q "nbd: TLS require.*PSK (2 identities, 1 limited" "$tmpdir/vramd.log" ||
  fail "no TLS line at start: $(grep nbd: "$tmpdir/vramd.log")"
grep -q "without TLS" "$tmpdir/vramd.log" && fail "warned of a TCP listener without TLS"

list=$(timeout 30 nbdinfo --list --json "$(psk_uri alice "")")
[ "$(echo "$list" | jq -r '[.exports[]."export-name"] | sort | join(",")')" = "guard,vc,vs" ] ||
  fail "nbdinfo --list over TLS: $list"
echo "$list" | jq -e '.TLS == true' >/dev/null || fail "nbdinfo says no TLS: $list"
pass "nbdinfo --list over nbds:// with a PSK lists guard, vc and vs"

head -c 64M /dev/urandom >"$tmpdir/data"
timeout 60 nbdcopy "$tmpdir/data" "$(psk_uri alice vs)" || fail "nbdcopy to vs over TLS"
timeout 60 nbdcopy "$(nbd_uri vs)" "$tmpdir/back.unix"
cmp -s "$tmpdir/data" "$tmpdir/back.unix" || fail "what went in over TLS reads back otherwise"
timeout 60 nbdcopy "$(psk_uri alice vs)" "$tmpdir/back.tls"
cmp -s "$tmpdir/data" "$tmpdir/back.tls" || fail "a read over TLS returned other data"
pass "64 MiB in and out over TLS with nbdcopy, the same over the Unix socket"

timeout 30 nbdinfo "nbd://127.0.0.1:$port/vs" >/dev/null 2>&1 && fail "a plain TCP client was served"
timeout 30 nbdinfo "$(psk_uri alice vs "$tmpdir/wrong/keys.psk")" >/dev/null 2>&1 &&
  fail "a wrong key was accepted"
timeout 30 nbdinfo "$(psk_uri carol vs "$tmpdir/wrong/keys.psk")" >/dev/null 2>&1 &&
  fail "an unknown identity was accepted"
grep -q "TLS handshake with 127.0.0.1 failed" "$tmpdir/vramd.log" || fail "no handshake failure logged"
pass "a plain TCP client, a wrong key and an unknown identity are refused"

timeout 60 python3 "$top_srcdir/tests/integration/nbd-raw.py" "127.0.0.1:$port" vs tls-required ||
  fail "options before STARTTLS"
pass "options before STARTTLS get NBD_REP_ERR_TLS_REQD, EXPORT_NAME closes, bad TLS closes"

list=$(timeout 30 nbdinfo --list --json "$(psk_uri bob "")")
[ "$(echo "$list" | jq -r '[.exports[]."export-name"] | join(",")')" = "vc" ] ||
  fail "bob lists more than vc: $list"
timeout 30 nbdinfo "$(psk_uri bob vs)" >/dev/null 2>&1 && fail "bob opened vs"
timeout 60 nbdcopy "$tmpdir/data" "$(psk_uri bob vc)" || fail "bob cannot write vc"
timeout 60 nbdcopy "$(psk_uri alice vc)" "$tmpdir/back.vc"
cmp -s "$tmpdir/data" "$tmpdir/back.vc" || fail "vc as bob wrote it reads back otherwise"
pass "bob (limited to vc) lists and opens vc only; alice opens every volume"

timeout 30 nbdinfo "$(nbd_uri vs)" >/dev/null || fail "the Unix socket refuses plain clients"
timeout 30 nbdinfo "nbds+unix://alice@/vs?socket=$tmpdir/nbd.sock&tls-psk-file=$tmpdir/psk/keys.psk" \
  >/dev/null || fail "nbds+unix with a PSK"
pass "the Unix socket serves plain clients and TLS ones"

if grep -q -- --object <<<"$(qemu-img --help 2>/dev/null)"; then
  obj="tls-creds-psk,id=tls0,endpoint=client,dir=$tmpdir/psk,username=alice"
  img="driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=$port,export=vs,tls-creds=tls0"
  timeout 30 qemu-img info --object "$obj" --image-opts "$img" | grep -q "virtual size: 64 MiB" ||
    fail "qemu-img info over TLS"
  timeout 60 qemu-img convert --object "$obj" --image-opts "$img" -O raw "$tmpdir/back.qemu"
  cmp -s "$tmpdir/data" "$tmpdir/back.qemu" || fail "qemu-img read other data over TLS"
  bad="tls-creds-psk,id=tls0,endpoint=client,dir=$tmpdir/wrong,username=alice"
  timeout 30 qemu-img info --object "$bad" --image-opts "$img" >/dev/null 2>&1 &&
    fail "qemu-img with a wrong key was served"
  pass "qemu-img with --object tls-creds-psk reads vs; with a wrong key it is refused"
fi

VRAMCTL_SOCKET="$tmpdir/api.sock" "$VRAMCTL" status >"$tmpdir/status"
grep -q "^nbd: .* and TCP 127.0.0.1:$port, TLS require" "$tmpdir/status" ||
  fail "vramctl status: $(cat "$tmpdir/status")"
grep -q "NBD over TCP" "$tmpdir/status" && fail "vramctl status warns with TLS required"
pass "vramctl status shows TCP with TLS required and no exposure warning"
check_guard
pass "the guard volume is unchanged"
