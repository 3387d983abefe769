#!/usr/bin/env bash
# NBD over TLS with X.509 (nbd-tls-certificates, nbdkit's layout) and a
# CA: nbdinfo, nbdcopy and qemu-img with a client certificate the CA
# signed are served; no client certificate, or one of another CA, is
# refused.  Without ca-cert.pem any client is served, encrypted, and the
# start-up log says so.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/nbd-tls-lib.sh"
requires_gnutls
requires nbdinfo
requires openssl
requires python3
port=$(free_port)
x=$tmpdir/x509
make_ca "$x/ca"
make_ca "$x/other-ca"
make_cert "$x/ca" "$x/server" server
make_cert "$x/ca" "$x/client" client
make_cert "$x/other-ca" "$x/stranger" client
mkdir -p "$x/anon" && cp "$x/ca/ca-cert.pem" "$x/anon/"
uri() { echo "nbds://localhost:$port/$1?tls-certificates=$x/$2"; }

start_nbd_vramd --nbd-listen "127.0.0.1:$port" --nbd-tls require --nbd-tls-certificates "$x/server"
grep -q "nbd: TLS require.*X.509 (client certificates required)" "$tmpdir/vramd.log" ||
  fail "no TLS line at start: $(grep nbd: "$tmpdir/vramd.log")"
timeout 30 nbdinfo "$(uri vs client)" | grep -q "export-size: 67108864" || fail "nbdinfo over X.509"
head -c 32M /dev/urandom >"$tmpdir/data"
timeout 60 nbdcopy "$tmpdir/data" "$(uri vs client)" || fail "nbdcopy over X.509"
timeout 60 nbdcopy "$(nbd_uri vs)" "$tmpdir/back"
cmp -s "$tmpdir/data" <(head -c 32M "$tmpdir/back") || fail "data written over X.509 reads back otherwise"
pass "nbdinfo and nbdcopy with a client certificate of the CA"

timeout 30 nbdinfo "$(uri vs anon)" >/dev/null 2>&1 && fail "a client without a certificate was served"
timeout 30 nbdinfo "$(uri vs stranger)" >/dev/null 2>&1 && fail "another CA's client was served"
[ "$(grep -c "TLS handshake with 127.0.0.1 failed" "$tmpdir/vramd.log")" -ge 2 ] ||
  fail "the refused handshakes were not logged"
pass "no client certificate, or one of another CA, is refused"

if grep -q -- --object <<<"$(qemu-img --help 2>/dev/null)"; then
  img="driver=nbd,server.type=inet,server.host=localhost,server.port=$port,export=vs,tls-creds=tls0"
  timeout 60 qemu-img convert --object "tls-creds-x509,id=tls0,endpoint=client,dir=$x/client" \
    --image-opts "$img" -O raw "$tmpdir/back.qemu" || fail "qemu-img over X.509"
  cmp -s "$tmpdir/data" <(head -c 32M "$tmpdir/back.qemu") || fail "qemu-img read other data"
  timeout 30 qemu-img info --object "tls-creds-x509,id=tls0,endpoint=client,dir=$x/stranger" \
    --image-opts "$img" >/dev/null 2>&1 && fail "qemu-img with another CA's certificate was served"
  pass "qemu-img with --object tls-creds-x509 reads vs; another CA's certificate is refused"
fi
check_guard
stop_vramd

rm "$x/server/ca-cert.pem"
start_vramd --nbd-listen "127.0.0.1:$port" --nbd-tls require --nbd-tls-certificates "$x/server" \
  --volume name=v,size=4M
grep -q "X.509 (no ca-cert.pem: any client is accepted" "$tmpdir/vramd.log" ||
  fail "no word at start that any client gets in: $(grep nbd: "$tmpdir/vramd.log")"
timeout 30 nbdinfo "$(uri v anon)" >/dev/null || fail "without ca-cert.pem, an anonymous client"
pass "without ca-cert.pem any client is served (encrypted), as the log says"
