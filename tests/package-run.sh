#!/bin/sh
# package-run.sh: run the installed /usr/sbin/vramd directly (CI has no
# running systemd) on private sockets, then the installed vramctl: create a
# volume, write and read it through NBD, compare, delete.
set -eu
export POCL_DEVICES="${POCL_DEVICES:-pthread pthread}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/vramd-run.XXXXXX")
export VRAMCTL_SOCKET="$dir/api.sock"
cleanup() {
  [ -z "${pid:-}" ] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

/usr/sbin/vramd --version
timeout 300 /usr/sbin/vramd --api-socket "$dir/api.sock" --nbd-socket "$dir/nbd.sock" \
  --metrics-listen off --state-dir "$dir/state" --device-types cpu --reserve 0 --verbose \
  >"$dir/vramd.log" 2>&1 &
pid=$!
i=0
until /usr/bin/vramctl status >/dev/null 2>&1; do
  i=$((i + 1))
  kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ] || { cat "$dir/vramd.log"; exit 1; }
  sleep 0.1
done
uri=$(/usr/bin/vramctl volume create pkgtest --size 64M --stripe all --stripe-unit 64K | tail -n 1)
head -c 64M /dev/urandom >"$dir/data"
timeout 120 nbdcopy "$dir/data" "$uri"
timeout 120 nbdcopy "$uri" "$dir/back"
cmp "$dir/data" "$dir/back"
/usr/bin/vramctl status
/usr/bin/vramctl volume delete pkgtest
left=$(/usr/bin/vramctl volume list -H) || { echo "FAIL: volume list"; exit 1; }
[ -z "$left" ] || { echo "FAIL: volume not deleted: $left"; exit 1; }
grep -q '^vramd: debug: ' "$dir/vramd.log" || { echo "FAIL: --verbose logged no debug line"; exit 1; }
grep -q '^vramd: ready:' "$dir/vramd.log" || { echo "FAIL: no ready line"; exit 1; }
kill -TERM "$pid"
wait "$pid"
pid=
echo "PASS: installed vramd and vramctl: create, NBD write/read/compare, delete, clean stop"
