# nbd-tls-lib.sh: helpers of the NBD-over-TLS tests (sourced after
# functions.sh): a free port, PSK files, nbds:// URIs.

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# A psktool-format file $1 ("identity:hexkey", mode 600), one random
# 256-bit key per identity named after it.
make_psk() {
  local f=$1 id
  shift
  : >"$f"
  chmod 600 "$f"
  for id in "$@"; do
    echo "$id:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$f"
  done
}
# The nbds:// URI of volume $2 on the TCP listener $port as PSK identity
# $1 with key file $3 (default $tmpdir/psk/keys.psk).
psk_uri() {
  echo "nbds://$1@127.0.0.1:$port/$2?tls-psk-file=${3:-$tmpdir/psk/keys.psk}"
}
# An X.509 CA in $1 (ca-cert.pem, ca-key.pem), with P-256 keys: fast.
make_ca() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=vramd test CA $(basename "$1")" -keyout "$1/ca-key.pem" -out "$1/ca-cert.pem" 2>/dev/null
}
# A certificate and key signed by CA dir $1 into dir $2 as $3-cert.pem and
# $3-key.pem ($3: server, for localhost and 127.0.0.1, or client), with
# the CA's certificate beside them: the layout nbdkit, qemu and libnbd read.
make_cert() {
  local ext
  mkdir -p "$2"
  if [ "$3" = server ]; then
    ext="subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
  else
    ext="extendedKeyUsage=clientAuth"
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
    -keyout "$2/$3-key.pem" -out "$2/$3.csr" 2>/dev/null
  openssl x509 -req -in "$2/$3.csr" -CA "$1/ca-cert.pem" -CAkey "$1/ca-key.pem" \
    -CAcreateserial -days 2 -out "$2/$3-cert.pem" -extfile <(echo "$ext") 2>/dev/null
  chmod 600 "$2/$3-key.pem"
  cp "$1/ca-cert.pem" "$2/ca-cert.pem"
}
# Skip (77) when vramd was built without GnuTLS (configure --without-gnutls).
# (Such a vramd refuses nbd-tls = on while parsing its options.)
requires_gnutls() {
  "$VRAMD" --nbd-tls on --version >/dev/null 2>&1 || { echo "SKIP: vramd built without GnuTLS"; exit 77; }
}
