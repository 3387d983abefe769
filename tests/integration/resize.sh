#!/usr/bin/env bash
# Online resize: grows keep every byte and add zeros that can be written,
# NBD clients see the new size on reconnect, shrinks need --force and say
# what they cut, thin grows take no VRAM, bad sizes are refused with the
# reason (507 with what fits), the state file keeps the new size, and
# writes verified by fio while a grow runs lose nothing.
. "$(dirname "$0")/functions.sh"
requires jq
requires qemu-io
requires nbdinfo
export VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576

# Capacity of about 96 MiB per device, so "no room" is quick to reach.
# 96 MiB of capacity per device: the reserve set once vramd runs, against
# the free memory it saw at start (host memory moves while tests run).
start_vramd --extent-size 8M --thin-chunk 4M --thin-stock 1
for d in cpu0 cpu1; do
  free=$(curl -s --unix-socket "$tmpdir/api.sock" "http://localhost/v1/devices/$d" | jq .free_bytes)
  "$VRAMCTL" --socket "$tmpdir/api.sock" device set $d --reserve $(( free - 96 * M )) >/dev/null ||
    fail "reserve $d"
done
requires_frontend nbd
qio() { timeout 60 qemu-io -f raw "$@" >"$tmpdir/qio" 2>&1; }
size_of() { nbdinfo --size "$(nbd_uri "$1")"; }
dev_alloc() { api GET /v1/pool; echo "$body" | jq .allocated_bytes; }
resize() { "$VRAMCTL" volume resize "$@" >"$tmpdir/out" 2>&1; }
# The devices' allocation once the keeper's stock is full again (unchanged for 0.5 s).
settled_alloc() {
  local a b=-1
  for _ in $(seq 1 40); do
    a=$(dev_alloc); [ "$a" = "$b" ] && { echo "$a"; return; }; b=$a; sleep 0.5
  done
  echo "$a"
}

# Striped over both devices (unit 64K) and concatenated, each with a
# partial last extent (20M: 10M per device, extents of 8M), so a grow
# reshapes the last extent and adds new ones.
for layout in stripe concat; do
  v=$layout
  if [ $layout = stripe ]; then opt="--stripe-unit 64K"; else opt="--concat all"; fi
  "$VRAMCTL" volume create $v --size 20M $opt >/dev/null || fail "create $v"
  qio -c "write -P 0x5a 0 20M" "$(nbd_uri $v)" || fail "$v write: $(cat "$tmpdir/qio")"
  resize $v --size +12M || fail "$v grow: $(cat "$tmpdir/out")"
  grep -q "resized $v: 20.0 MiB -> 32.0 MiB" "$tmpdir/out" || fail "$v grow says: $(cat "$tmpdir/out")"
  [ "$(size_of $v)" = $(( 32 * M )) ] || fail "$v: nbdinfo sees $(size_of $v) after the grow"
  qio -c "read -P 0x5a 0 20M" -c "read -P 0 20M 12M" "$(nbd_uri $v)" ||
    fail "$v after the grow: old data or new zeros wrong: $(cat "$tmpdir/qio")"
  qio -c "write -P 0xc3 20M 12M" -c "read -P 0xc3 20M 12M" -c "read -P 0x5a 0 20M" "$(nbd_uri $v)" ||
    fail "$v: the new range is not writable: $(cat "$tmpdir/qio")"
  # An absolute size grows too.
  resize $v --size 40M || fail "$v grow to 40M: $(cat "$tmpdir/out")"
  qio -c "read -P 0x5a 0 20M" -c "read -P 0xc3 20M 12M" -c "read -P 0 32M 8M" "$(nbd_uri $v)" ||
    fail "$v after the second grow: $(cat "$tmpdir/qio")"
  pass "$layout: +12M then 40M: nbdinfo sees the new size, old bytes stay, new ones read zeros and take writes"
done

# Shrink: refused without --force, naming what it would cut; nothing changes.
resize stripe --size 24M && fail "a shrink without --force was accepted"
grep -q "cuts its last 16.0 MiB (16777216 bytes)" "$tmpdir/out" &&
  grep -q "resize with --force to cut them" "$tmpdir/out" || fail "shrink refusal says: $(cat "$tmpdir/out")"
[ "$(size_of stripe)" = $(( 40 * M )) ] || fail "a refused shrink changed the size"
api PATCH /v1/volumes/stripe -d '{"size": 25165824}'
expect 409 "shrink without force" shrink_needs_force
a0=$(dev_alloc)
resize stripe --size 24M --force || fail "forced shrink: $(cat "$tmpdir/out")"
grep -q "resized stripe: 40.0 MiB -> 24.0 MiB, cut 16777216 bytes" "$tmpdir/out" ||
  fail "forced shrink says: $(cat "$tmpdir/out")"
grep -q "volume stripe: resized from 40.0 MiB to 24.0 MiB; cut 16777216 bytes (forced)" "$tmpdir/vramd.log" ||
  fail "the log does not say what the shrink cut"
grep -q "api: PATCH /v1/volumes/stripe by uid $(id -u) pid [0-9]*: 200 size 41943040 -> 25165824, cut 16777216 bytes" \
  "$tmpdir/vramd.log" || fail "the change log lacks who resized: $(grep PATCH "$tmpdir/vramd.log")"
[ "$(dev_alloc)" = $(( a0 - 16 * M )) ] || fail "the shrink gave back $(( a0 - $(dev_alloc) )) bytes, not 16M"
qio -c "read -P 0x5a 0 20M" -c "read -P 0xc3 20M 4M" "$(nbd_uri stripe)" || fail "after the shrink: $(cat "$tmpdir/qio")"
# Grown again, the cut range reads zeros: nothing old comes back.
resize stripe --size 40M || fail "regrow: $(cat "$tmpdir/out")"
qio -c "read -P 0x5a 0 20M" -c "read -P 0xc3 20M 4M" -c "read -P 0 24M 16M" "$(nbd_uri stripe)" ||
  fail "grown after a shrink, old data shows: $(cat "$tmpdir/qio")"
pass "shrink: refused without --force, cuts and says so with --force, gives the VRAM back; a regrow reads zeros"

# Thin: a grow takes no VRAM; a shrink says how many chunks it cuts.  Striped
# 1M over two devices, each 4M written takes a 4M chunk on both.
"$VRAMCTL" volume create thin --size 64M --thin >/dev/null || fail "create thin"
qio -c "write -P 0x77 0 4M" -c "write -P 0x78 60M 4M" "$(nbd_uri thin)" || fail "thin write: $(cat "$tmpdir/qio")"
a0=$(settled_alloc)
resize thin --size +1G || fail "thin grow: $(cat "$tmpdir/out")"
[ "$(settled_alloc)" = "$a0" ] || fail "a thin grow took $(( $(dev_alloc) - a0 )) bytes of VRAM"
api GET /v1/volumes/thin
[ "$(echo "$body" | jq .allocated_bytes)" = $(( 16 * M )) ] || fail "thin after the grow: $body"
qio -c "read -P 0x77 0 4M" -c "read -P 0x78 60M 4M" -c "read -P 0 64M 1024M" "$(nbd_uri thin)" ||
  fail "thin after the grow: $(cat "$tmpdir/qio")"
# A cut at 34M leaves 17M per device: the chunk at 16M of each is cut in
# part (it holds 0x79 from 32M), the one at 28M whole (0x78 from 60M).
qio -c "write -P 0x79 32M 4M" "$(nbd_uri thin)" || fail "thin write: $(cat "$tmpdir/qio")"
resize thin --size 34M && fail "thin shrink without --force accepted"
grep -q "4 chunks holding written data lie in it, wholly or in part" "$tmpdir/out" || fail "thin refusal: $(cat "$tmpdir/out")"
api PATCH '/v1/volumes/thin?force=true' -d "{\"size\": $(( 34 * M ))}"
expect 200 "thin forced shrink"
[ "$(echo "$body" | jq .resized.cut_chunks)" = 4 ] || fail "thin shrink answer: $body"
[ "$(echo "$body" | jq .resized.cut_bytes)" = $(( 1054 * M )) ] || fail "thin shrink answer: $body"
resize thin --size 64M || fail "thin regrow: $(cat "$tmpdir/out")"
qio -c "read -P 0x77 0 4M" -c "read -P 0 4M 28M" -c "read -P 0x79 32M 2M" -c "read -P 0 34M 30M" \
  "$(nbd_uri thin)" || fail "thin regrow shows old data: $(cat "$tmpdir/qio")"
pass "thin: a 1G grow takes no VRAM; a shrink names the chunks it cuts; a regrow reads zeros, also in a chunk cut in part"

# Bad sizes.
for bad in 0 abc -5M 1.5Q; do
  resize stripe --size "$bad" && fail "size '$bad' accepted"
  grep -q "^vramctl: " "$tmpdir/out" || fail "size '$bad': $(cat "$tmpdir/out")"
done
api PATCH /v1/volumes/stripe -d '{"size": 0}'; expect 400 "size 0" invalid_field
api PATCH /v1/volumes/stripe -d '{"size": "20G"}'; expect 400 "size as a string" invalid_field
api PATCH /v1/volumes/stripe -d '{"size": 1, "grow_bytes": 1}'; expect 400 "both" invalid_field
api PATCH /v1/volumes/stripe -d '{}'; expect 400 "neither" missing_field
api PATCH /v1/volumes/stripe -d '{"grow_bytes": 18446744073709551615}'; expect 400 "past 2^64"
api PATCH /v1/volumes/nosuch -d '{"size": 4096}'; expect 404 "no such volume" no_such_volume
api PATCH /v1/volumes/thin -d "{\"size\": $(( 1 << 62 ))}"; expect 400 "thin over-commit" invalid_field
echo "$body" | grep -q "at most 16 times" || fail "over-commit refusal: $body"
resize concat --size 10G && fail "a thick grow past the devices was accepted"
grep -q "cannot grow that far.*at most .* fits" "$tmpdir/out" || fail "no-room refusal: $(cat "$tmpdir/out")"
api PATCH /v1/volumes/concat -d "{\"size\": $(( 10 << 30 ))}"; expect 507 "no room" no_space
qio -c "read -P 0x5a 0 20M" "$(nbd_uri concat)" || fail "a refused grow changed data"
pass "bad sizes: 0, junk, both fields, past 2^64, past thin over-commit, no room (507 with what fits)"

# The state file keeps the new size across a restart.
# (No tight reserve now: host memory, which PoCL's devices are, moves.)
stop_vramd
start_vramd --extent-size 8M --thin-chunk 4M --thin-stock 1
api GET /v1/volumes/stripe
[ "$(echo "$body" | jq .size_bytes)" = $(( 40 * M )) ] || fail "after a restart: $body $(grep "not recreated" "$tmpdir/vramd.log")"
api GET /v1/volumes/thin
[ "$(echo "$body" | jq .size_bytes)" = $(( 64 * M )) ] || fail "after a restart: $body"
pass "the state file keeps the new sizes across a restart"

# Writes verified by fio on the old range while the volume grows.
if command -v fio >/dev/null && fio --enghelp 2>/dev/null | grep -q nbd; then
  fio --name=v --verify_state_save=0 --ioengine=nbd --uri="$(nbd_uri stripe)" --rw=randwrite --bs=16k \
    --size=40M --iodepth=8 --time_based --runtime=4 --verify=crc32c --verify_fatal=1 \
    --do_verify=1 --output="$tmpdir/fio" >/dev/null 2>&1 &
  fio_pid=$!
  sleep 1
  for s in +8M +8M +8M; do resize stripe --size $s || fail "grow under I/O: $(cat "$tmpdir/out")"; sleep 0.3; done
  wait $fio_pid || fail "fio with verify failed while the volume grew: $(tail -20 "$tmpdir/fio")"
  grep -q "WRITE: bw=" "$tmpdir/fio" && grep -q "READ: bw=" "$tmpdir/fio" ||
    fail "fio did not write and verify: $(cat "$tmpdir/fio")"
  [ "$(size_of stripe)" = $(( 64 * M )) ] || fail "after grows under I/O: $(size_of stripe)"
  pass "fio randwrite with verify on the old range while it grew 3 times: nothing lost"
else
  echo "SKIP: fio with the nbd engine: no I/O under grow check"
fi
