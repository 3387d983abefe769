#!/usr/bin/env bash
# Soak: SOAK_SECONDS (default 120) of mixed random I/O with verify over
# three volumes and six connections (fio's nbd engine, crc32c, verified
# while running), with volumes created and deleted through the API all the
# while.  At the end: zero verify errors, vramd's threads and fds back to
# their baseline and RSS within 32 MiB of it (volume churn maps and unmaps
# extents); the worst p99 completion latency is reported.
. "$(dirname "$0")/functions.sh"
requires jq
requires fio
fio --enghelp 2>/dev/null | grep -qx '[[:space:]]*nbd' || { echo "SKIP: fio has no nbd engine"; exit 77; }
secs=${SOAK_SECONDS:-120}
start_vramd --extent-size 4M \
  --volume name=s1,size=64M,layout=stripe,devices=all,unit=64K \
  --volume name=s2,size=64M,layout=stripe,devices=all,unit=4K \
  --volume name=c1,size=64M,layout=concat,devices=all
requires_frontend nbd

# Two jobs per volume, each on its own half, so verify owns its blocks.
jobfile() {
  local rt=$1 v
  printf '[global]\nioengine=nbd\nrw=randwrite\nbsrange=512-256k\nbs_unaligned=0\n'
  printf 'iodepth=16\nsize=32M\nverify=crc32c\nverify_backlog=32\nverify_fatal=1\nverify_state_save=0\n'
  printf 'time_based=1\nruntime=%s\ngroup_reporting=0\n' "$rt"
  for v in s1 s2 c1; do
    printf '[%s-lo]\nuri=nbd+unix:///%s?socket=%s\noffset=0\n' "$v" "$v" "$tmpdir/nbd.sock"
    printf '[%s-hi]\nuri=nbd+unix:///%s?socket=%s\noffset=32M\nrw=randrw\nrwmixread=50\nbsrange=4k-64k\n' \
      "$v" "$v" "$tmpdir/nbd.sock"
  done
}
# A short run first, so the baseline has every thread and buffer warm.
jobfile 3 >"$tmpdir/warm.fio"
timeout 120 fio --output-format=json --output="$tmpdir/warm.json" "$tmpdir/warm.fio" ||
  fail "warm-up: $(tail -20 "$tmpdir/warm.json")"
wait_threads "$vramd_idle_threads"
base=$(vramd_usage)

# Churn: create, check, delete volumes of assorted shapes until told to stop.
churn() {
  local i=0 l
  while [ ! -e "$tmpdir/stop" ]; do
    l=$([ $((i % 2)) = 0 ] && echo stripe || echo concat)
    api POST /v1/volumes -d "{\"name\":\"churn$i\",\"size\":$(( (i % 7 + 1) * 1048576 )),\"layout\":\"$l\"}"
    [ "$status" = 201 ] || { echo "create churn$i: $status $body" >"$tmpdir/churn.err"; return 1; }
    api GET "/v1/volumes/churn$i"; [ "$status" = 200 ] || { echo "get churn$i: $status" >"$tmpdir/churn.err"; return 1; }
    api DELETE "/v1/volumes/churn$i"; [ "$status" = 204 ] || { echo "delete churn$i: $status" >"$tmpdir/churn.err"; return 1; }
    i=$((i + 1))
  done
  echo $i >"$tmpdir/churned"
}
churn &
churner=$!
jobfile "$secs" >"$tmpdir/soak.fio"
rc=0
timeout $((secs + 300)) fio --output-format=json --output="$tmpdir/soak.json" "$tmpdir/soak.fio" || rc=$?
touch "$tmpdir/stop"
wait $churner || fail "churn: $(cat "$tmpdir/churn.err")"
[ $rc = 0 ] || fail "fio exited $rc: $(grep -i -m5 'verify\|error' "$tmpdir/soak.json")"
errs=$(jq '[.jobs[].error] | add' "$tmpdir/soak.json")
[ "$errs" = 0 ] || fail "fio reported $errs errors"
ios=$(jq '[.jobs[] | .read.total_ios + .write.total_ios] | add' "$tmpdir/soak.json")
[ "$ios" -gt 0 ] || fail "no I/O done"
p99=$(jq '[.jobs[] | (.read, .write) | select(.total_ios > 0) | .clat_ns.percentile."99.000000"] | max / 1000 | floor' \
  "$tmpdir/soak.json")
check_usage "$base" 32768
pass "soak ${secs}s: $ios I/Os verified (crc32c), 0 errors, $(cat "$tmpdir/churned") volumes created and deleted, worst p99 completion latency ${p99} us"
