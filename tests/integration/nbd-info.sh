#!/usr/bin/env bash
# nbdinfo: exports listed; size, block sizes and flags of stripe and concat volumes.
. "$(dirname "$0")/functions.sh"
requires nbdinfo
requires jq
start_nbd_vramd

list=$(timeout 30 nbdinfo --list --json "$(nbd_uri "")")
[ "$(echo "$list" | jq -r '[.exports[]."export-name"] | sort | join(",")')" = "guard,vc,vs" ] ||
  fail "nbdinfo --list: $list"
pass "nbdinfo --list shows guard, vc and vs"

for vol in vs vc; do
  json=$(timeout 30 nbdinfo --json "$(nbd_uri $vol)")
  echo "$json" | jq -e '.exports[0] | ."export-size" == 67108864 and
    .block_size_minimum == 1 and .block_size_preferred == 4096 and
    .block_size_maximum == 33554432 and .can_multi_conn and .can_flush and
    .can_fua and .can_trim and .can_zero and .can_fast_zero and
    (.is_read_only | not)' >/dev/null || fail "nbdinfo $vol: $json"
  pass "nbdinfo --json $vol: size, block sizes and flags"
done
timeout 30 nbdinfo "$(nbd_uri nope)" >/dev/null 2>&1 && fail "unknown export accepted"
pass "an unknown export is refused"
check_guard
pass "the guard volume is unchanged"
