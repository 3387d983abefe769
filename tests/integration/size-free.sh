#!/usr/bin/env bash
# Sizes as a share of free VRAM ("all", "N%FREE", "N%"), as LVM's -l:
# fixed at create from what the chosen devices have free, kept as given in
# the state file, refused out of range.
. "$(dirname "$0")/functions.sh"
requires jq
export VRAMCTL_SOCKET="$tmpdir/api.sock"

start_vramd --extent-size 64M --volume name=cfg,size=10%FREE,layout=concat,devices=cpu0
requires_frontend nbd
api GET /v1/volumes/cfg; expect 200 "the config's 10%FREE volume"
[ "$(echo "$body" | jq .requested_size_bytes)" -gt 0 ] || fail "cfg: $body"
pass "vramd.conf and --volume take size=10%FREE"

# Half of cpu1's free space, concatenated: exact to the sector.
api GET /v1/devices/cpu1; free=$(echo "$body" | jq .available_bytes)
want=$(( free / 2 / 4096 * 4096 ))
"$VRAMCTL" volume create half --size 50%FREE --concat cpu1 --json >"$tmpdir/out" || fail "create half: $(cat "$tmpdir/out")"
[ "$(jq .requested_size_bytes "$tmpdir/out")" = "$want" ] ||
  fail "50%FREE of $free bytes: got $(jq .requested_size_bytes "$tmpdir/out"), want $want"
grep -q '"size": "50%FREE"' "$tmpdir/state/volumes.json" || fail "state file: $(cat "$tmpdir/state/volumes.json")"
pass "50%FREE is half the free VRAM ($want bytes), and the state file keeps '50%FREE'"

# all, striped: rows as long as the device with least free allows, so
# that device is left with less than a row.
"$VRAMCTL" volume create rest --size all --stripe all --json >"$tmpdir/out" || fail "create all: $(cat "$tmpdir/out")"
api GET /v1/devices
echo "$body" | jq -e '[.devices[].available_bytes] | min < 1048576' >/dev/null ||
  fail "after --size all, the fuller device still has a stripe unit free: $body"
api POST /v1/volumes -d '{"name":"more","size":"all"}'; expect 507 "all of nothing" no_space
pass "--size all takes every whole stripe row left; another 'all' gets 507"

api POST /v1/volumes -d '{"name":"bad","size":"0%FREE"}'; expect 400 "0%FREE" invalid_field
api POST /v1/volumes -d '{"name":"bad","size":"120%"}'; expect 400 "120%" invalid_field
api POST /v1/volumes -d '{"name":"bad","size":"1G"}'; expect 400 "a string size" invalid_field
set +e
"$VRAMCTL" volume create bad --size 101% >/dev/null 2>"$tmpdir/err"; rc=$?
set -e
[ $rc = 2 ] && grep -q "from 1% to 100%" "$tmpdir/err" || fail "vramctl 101%: $rc $(cat "$tmpdir/err")"
pass "shares out of 1-100% are refused by the API (400) and by vramctl (exit 2)"
