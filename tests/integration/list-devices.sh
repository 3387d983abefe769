#!/usr/bin/env bash
# vramd --list-devices: two PoCL devices, CPU fallback warning, JSON fields.
. "$(dirname "$0")/functions.sh"
requires jq

out=$("$VRAMD" --list-devices 2>"$tmpdir/err")
grep -q "falling back to CPU" "$tmpdir/err" || fail "no CPU fallback warning"
echo "$out" | grep -q '^cpu0 ' || fail "no cpu0 in table: $out"
echo "$out" | grep -q '^cpu1 ' || fail "no cpu1 in table: $out"
pass "table lists cpu0 and cpu1 with a fallback warning"
echo "$out" | awk 'NR == 1 && $3 != "STATE" { exit 1 } NR > 1 && $3 != "active" { exit 1 }' ||
  fail "no STATE column saying active: $out"
pass "table shows every device active"

json=$("$VRAMD" --list-devices --json --device-types cpu 2>"$tmpdir/err")
[ ! -s "$tmpdir/err" ] || fail "asking for cpu explicitly should not warn: $(cat "$tmpdir/err")"
[ "$(echo "$json" | jq '.devices | length')" -ge 2 ] || fail "expected two devices"
echo "$json" | jq -e 'all(.devices[]; .id and .vendor and .name and .driver and
  (.total_bytes > 0) and (.capacity_bytes > 0) and (.capacity_bytes <= .free_bytes) and
  (.max_alloc_bytes > 0) and .free_source and .state == "active" and
  .inside_reserve_bytes == 0)' >/dev/null || fail "missing fields: $json"
pass "JSON has ids, vendor, name, driver and sizes"

json=$("$VRAMD" --list-devices --json --device-types cpu --reserve 1G)
echo "$json" | jq -e 'all(.devices[]; .reserve_bytes == 1073741824 and
  .capacity_bytes == ((.free_bytes - .reserve_bytes) / 4096 | floor) * 4096)' >/dev/null ||
  fail "capacity is not free minus reserve: $json"
pass "--reserve lowers capacity"

for bad in "--device-types gpu,tpu" "--reserve 12X" "--reserve -1" "--bogus"; do
  # shellcheck disable=SC2086
  if "$VRAMD" --list-devices $bad >/dev/null 2>"$tmpdir/err"; then fail "accepted $bad"; fi
  [ -s "$tmpdir/err" ] || fail "no message for $bad"
done
pass "bad options are refused with a message"

POCL_DEVICES=pthread "$VRAMD" --list-devices --device-types gpu >"$tmpdir/out" 2>&1 && fail "gpu-only found devices on a CPU host"
grep -q "no OpenCL device" "$tmpdir/out" || fail "no clear message: $(cat "$tmpdir/out")"
pass "asking for GPUs only on a CPU host fails clearly"

rc=0
timeout 10 "$VRAMD" --json --device-types cpu --api-socket "$tmpdir/j.sock" >"$tmpdir/out" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "vramd: --json goes with --list-devices" "$tmpdir/out" ||
  fail "--json alone: exit $rc, $(cat "$tmpdir/out")"
[ ! -e "$tmpdir/j.sock" ] || fail "--json alone started a daemon"
pass "--json without --list-devices is refused (exit 2), no daemon started"

# Log lines: a <N> priority prefix for files, pipes and the journal; a word
# on a terminal (script(1) gives vramd one).
if command -v script >/dev/null; then
  POCL_DEVICES=pthread script -qec "'$VRAMD' --device-types gpu --api-socket '$tmpdir/t.sock' \
    --state-dir '$tmpdir/ts' --metrics-listen off" /dev/null | tr -d '\r' >"$tmpdir/tty" || true
  grep -q "^vramd: error: no OpenCL device" "$tmpdir/tty" || fail "terminal: $(cat "$tmpdir/tty")"
  ! grep -q "<[0-9]>" "$tmpdir/tty" || fail "a <N> prefix on a terminal: $(cat "$tmpdir/tty")"
  POCL_DEVICES=pthread "$VRAMD" --device-types gpu --api-socket "$tmpdir/t.sock" \
    --state-dir "$tmpdir/ts" --metrics-listen off >"$tmpdir/file" 2>&1 || true
  grep -q "^vramd: error: no OpenCL device" "$tmpdir/file" || fail "file: $(cat "$tmpdir/file")"
  pass "log lines: level words on a terminal, <N> prefixes in a file"
fi

# --list-devices --json has GET /v1/devices' shape, field for field.
"$VRAMD" --list-devices --json --device-types cpu | jq -S '[.devices[] | keys]' >"$tmpdir/list-keys"
start_vramd
api GET /v1/devices; expect 200 "GET /v1/devices"
echo "$body" | jq -S '[.devices[] | keys]' >"$tmpdir/api-keys"
diff "$tmpdir/list-keys" "$tmpdir/api-keys" || fail "--list-devices --json and GET /v1/devices differ in shape"
pass "vramd --list-devices --json and GET /v1/devices have the same shape"
