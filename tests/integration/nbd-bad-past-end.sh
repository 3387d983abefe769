#!/usr/bin/env bash
# Raw NBD client case 'past-end' (see nbd-raw.py) on stripe and concat volumes;
# afterwards the daemon serves other clients and the guard volume is unchanged.
. "$(dirname "$0")/functions.sh"
requires python3
start_nbd_vramd
threads=$(ls /proc/"$vramd_pid"/task | wc -l)
for vol in vs vc; do
  timeout 120 python3 "$top_srcdir/tests/integration/nbd-raw.py" "$tmpdir/nbd.sock" $vol past-end ||
    fail "$vol: case past-end"
  check_guard
  timeout 60 nbdcopy "$(nbd_uri $vol)" "$tmpdir/out" || fail "$vol: not served after case past-end"
  wait_threads "$threads"
  pass "$vol: past-end; the daemon still serves and the guard volume is unchanged"
done
