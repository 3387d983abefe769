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
