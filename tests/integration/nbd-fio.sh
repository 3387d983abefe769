#!/usr/bin/env bash
# fio's nbd engine: random 4k and sequential 1M writes with crc32c verify,
# then reads, on stripe and concat volumes.
. "$(dirname "$0")/functions.sh"
requires fio
fio --enghelp=nbd >/dev/null 2>&1 || { echo "SKIP: fio has no nbd engine"; exit 77; }
start_nbd_vramd

for vol in vs vc; do
  common=(--ioengine=nbd "--uri=$(nbd_uri $vol)" --size=32M --iodepth=16
          --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 --output="$tmpdir/fio.out")
  timeout 180 fio --name=rand4k --rw=randwrite --bs=4k "${common[@]}" ||
    fail "$vol: random 4k write+verify: $(cat "$tmpdir/fio.out")"
  timeout 180 fio --name=seq1m --rw=write --bs=1M --numjobs=2 --offset_increment=32M "${common[@]}" ||
    fail "$vol: sequential 1M write+verify: $(cat "$tmpdir/fio.out")"
  timeout 180 fio --name=readback --rw=read --bs=1M --size=64M --ioengine=nbd \
    "--uri=$(nbd_uri $vol)" --iodepth=16 --output="$tmpdir/fio.out" ||
    fail "$vol: sequential read: $(cat "$tmpdir/fio.out")"
  timeout 180 fio --name=randread --rw=randread --bs=4k --size=64M --ioengine=nbd \
    "--uri=$(nbd_uri $vol)" --iodepth=16 --numjobs=2 --output="$tmpdir/fio.out" ||
    fail "$vol: random read: $(cat "$tmpdir/fio.out")"
  pass "$vol: fio nbd engine: 4k random and 1M sequential writes verified, reads"
done
check_guard
pass "the guard volume is unchanged"
