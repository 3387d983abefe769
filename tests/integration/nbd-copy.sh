#!/usr/bin/env bash
# nbdcopy in and out (1 and 4 connections), qemu-img compare, and qemu-io
# write-zeroes and discard reading back as zeros, on stripe and concat.
. "$(dirname "$0")/functions.sh"
requires qemu-img
requires qemu-io
start_nbd_vramd

head -c 64M /dev/urandom >"$tmpdir/in"
for vol in vs vc; do
  uri=$(nbd_uri $vol)
  for conns in 1 4; do
    timeout 120 nbdcopy --connections=$conns "$tmpdir/in" "$uri"
    timeout 120 nbdcopy --connections=$conns "$uri" "$tmpdir/out"
    cmp "$tmpdir/in" "$tmpdir/out" || fail "$vol: nbdcopy --connections=$conns data differs"
    rm -f "$tmpdir/out"
  done
  pass "$vol: nbdcopy round trip with 1 and 4 connections"

  timeout 120 qemu-img compare -f raw -F raw "$tmpdir/in" "$uri" >/dev/null ||
    fail "$vol: qemu-img compare differs"
  pass "$vol: qemu-img compare matches the file"

  timeout 60 qemu-io -f raw -c "write -z 1M 3M" -c "discard 8M 2M" \
    -c "write -z -u 12M 64k" "$uri" >"$tmpdir/qio" || fail "$vol: qemu-io: $(cat "$tmpdir/qio")"
  timeout 60 qemu-io -f raw -c "read -P 0 1M 3M" -c "read -P 0 8M 2M" \
    -c "read -P 0 12M 64k" "$uri" >"$tmpdir/qio" || fail "$vol: zeros: $(cat "$tmpdir/qio")"
  grep -q "Pattern verification failed" "$tmpdir/qio" && fail "$vol: not zeros: $(cat "$tmpdir/qio")"
  # Bytes next to the zeroed ranges are untouched.
  timeout 60 nbdcopy "$uri" "$tmpdir/out"
  cmp -n 1M "$tmpdir/in" "$tmpdir/out" || fail "$vol: data before the zeroed range changed"
  cmp -i 4M:4M -n 4M "$tmpdir/in" "$tmpdir/out" || fail "$vol: data between ranges changed"
  rm -f "$tmpdir/out"
  pass "$vol: qemu-io write -z and discard read back as zeros"
done
check_guard
pass "the guard volume is unchanged"
