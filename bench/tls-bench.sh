#!/usr/bin/env bash
# tls-bench.sh: NBD over TLS against plain TCP, over loopback, with the
# same client (nbdcopy, its default connections and requests in flight)
# on the same vramd (nbd-tls = on, a PSK): a sequential write of the whole
# volume and a read of it back, each timed REPEAT times, the median kept.
# Prints MB/s per transport and TLS/plain ratios, and whether GnuTLS put
# the record layer in the kernel (kTLS) for vramd's sessions.  The client
# encrypts too, on the same host: the ratio bounds what TLS costs both
# ends together.
#
# Usage: bench/tls-bench.sh [--size SIZE] [--repeat N] [--pocl]
#          [--device-types TYPES] [--vramd PATH] [--ktls] [--tsv FILE]
#   --pocl: two PoCL CPU devices, 256M unless --size (runs anywhere).
#   --ktls: ask GnuTLS for kTLS (a config file with "ktls = true" through
#           GNUTLS_SYSTEM_PRIORITY_FILE); the kernel needs its tls module.
#   --tsv: also write "transport job MB/s" lines to FILE.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
size= repeat=3 pocl= types= vramd="$top/daemon/vramd" ktls= tsv=
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --pocl) pocl=1; shift ;;
    --device-types) types=$2; shift 2 ;;
    --vramd) vramd=$2; shift 2 ;;
    --ktls) ktls=1; shift ;;
    --tsv) tsv=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "tls-bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -n "$pocl" ]; then
  export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
  size=${size:-256M} types=${types:-cpu}
fi
size=${size:-4G}
[ -x "$vramd" ] || { echo "tls-bench.sh: build vramd first ($vramd)" >&2; exit 2; }
for t in nbdcopy python3 od; do
  command -v $t >/dev/null || { echo "tls-bench.sh: $t is missing (bench/make-bundle.sh --clients packs nbdcopy)" >&2; exit 2; }
done
tmp=$(mktemp -d)
pid=
# Stop vramd and remove the scratch directory.
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ -n "$ktls" ]; then
  printf '[global]\nktls = true\n' >"$tmp/gnutls.conf"
  export GNUTLS_SYSTEM_PRIORITY_FILE="$tmp/gnutls.conf"
  grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null || modprobe tls 2>/dev/null ||
    echo "tls-bench.sh: the kernel has no tls module loaded (modprobe tls): kTLS will be off" >&2
fi
echo "bench:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$tmp/keys.psk"
chmod 600 "$tmp/keys.psk"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$vramd" --api-socket "$tmp/api.sock" --nbd-socket "$tmp/nbd.sock" --metrics-listen off \
  --state-dir "$tmp/state" ${pocl:+--reserve 0} ${types:+--device-types "$types"} --verbose \
  --nbd-listen "127.0.0.1:$port" --nbd-tls on --nbd-tls-psk "$tmp/keys.psk" \
  --volume "name=bench,size=$size,layout=stripe,devices=all" >"$tmp/vramd.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q "ready:" "$tmp/vramd.log" && break; sleep 0.1; done
grep -q "volume bench created" "$tmp/vramd.log" || { cat "$tmp/vramd.log" >&2; exit 1; }
bytes=$(python3 -c "import sys; s='$size'; m={'K':1<<10,'M':1<<20,'G':1<<30,'T':1<<40}; print(int(s[:-1])*m[s[-1]] if s[-1] in m else int(s))")
# The source of the writes: random bytes, so nothing is skipped as zero.
head -c "$bytes" /dev/urandom >"$tmp/data"

declare -A uri=(
  [plain]="nbd://127.0.0.1:$port/bench"
  [tls]="nbds://bench@127.0.0.1:$port/bench?tls-psk-file=$tmp/keys.psk"
)
# MB/s of one nbdcopy from $1 to $2.
copy_rate() {
  local t0 t1
  t0=$(date +%s%N)
  nbdcopy "$1" "$2" >/dev/null
  t1=$(date +%s%N)
  echo "$bytes $t0 $t1" | awk '{ printf "%.1f\n", $1 / 1e6 / (($3 - $2) / 1e9) }'
}
# The median of REPEAT runs of copy_rate $1 $2.
median_rate() {
  for _ in $(seq 1 "$repeat"); do copy_rate "$1" "$2"; done | sort -n |
    awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
declare -A rate
for tr in plain tls; do
  rate[$tr-write]=$(median_rate "$tmp/data" "${uri[$tr]}")
  rate[$tr-read]=$(median_rate "${uri[$tr]}" null:)
done
nbdcopy "${uri[tls]}" "$tmp/back"
cmp -s "$tmp/data" "$tmp/back" || { echo "tls-bench.sh: data read back over TLS differs" >&2; exit 1; }

ktls_on=$(grep -c "kTLS on" "$tmp/vramd.log" || true)
ktls_off=$(grep -c "kTLS off" "$tmp/vramd.log" || true)
printf '%-6s %10s %10s\n' job plain tls
for job in write read; do
  printf '%-6s %10s %10s   TLS/plain %s\n' "$job" "${rate[plain-$job]} MB/s" "${rate[tls-$job]} MB/s" \
    "$(awk -v a="${rate[tls-$job]}" -v b="${rate[plain-$job]}" 'BEGIN { printf "%.2f", a / b }')"
done
echo "size $size, median of $repeat; nbdcopy $(nbdcopy --version | head -1 | awk '{print $2}'); vramd's TLS sessions with kTLS: $ktls_on on, $ktls_off off; cipher: $(grep -o "TLS ([^,]*" "$tmp/vramd.log" | head -1)"
if [ -n "$tsv" ]; then
  for tr in plain tls; do for job in write read; do
    printf '%s\t%s\t%s\n' "$tr" "$job" "${rate[$tr-$job]}"
  done; done >"$tsv"
fi
