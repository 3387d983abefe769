#!/usr/bin/env bash
# Thin volumes: no VRAM until written, zeros where never written, chunks
# given back by discard (whole chunks only), ENOSPC when no device has
# room, with the volume still serving.  Real clients: qemu-io over NBD.
. "$(dirname "$0")/functions.sh"
requires jq
requires qemu-io
export VRAMCTL_SOCKET="$tmpdir/api.sock"
M=1048576

# Capacity of 40 MiB per device: the reserve set once vramd runs, against
# the free memory it saw at start (host memory moves while tests run).
start_vramd --thin-chunk 4M --thin-stock 2
for d in cpu0 cpu1; do
  api GET /v1/devices/$d; free=$(echo "$body" | jq .free_bytes)
  "$VRAMCTL" device set $d --reserve $(( free - 40 * M )) >/dev/null || fail "reserve $d"
done
requires_frontend nbd
uri=$(nbd_uri t0)
qio() { timeout 60 qemu-io -f raw "$@" "$uri" >"$tmpdir/qio" 2>&1; }
alloc() { api GET /v1/volumes/t0; echo "$body" | jq .allocated_bytes; }
dev_alloc() { api GET /v1/pool; echo "$body" | jq .allocated_bytes; }
# Wait up to 2 s for the devices to hold exactly want bytes.
wait_dev_alloc() {
  for _ in $(seq 1 20); do [ "$(dev_alloc)" = "$1" ] && return 0; sleep 0.1; done
  fail "$2: devices hold $(dev_alloc) bytes, want $1"
}

"$VRAMCTL" volume create t0 --size 256M --thin >"$tmpdir/out" || fail "create: $(cat "$tmpdir/out")"
grep -q "256.0 MiB thin" "$tmpdir/out" || fail "create says: $(cat "$tmpdir/out")"
[ "$(alloc)" = 0 ] || fail "a new thin volume holds $(alloc) bytes"
api GET /v1/volumes/t0
[ "$(echo "$body" | jq -r .provisioning)" = thin ] || fail "provisioning: $body"
# The stock: 2 chunks of 4 MiB on each of the 2 devices, made ahead.
wait_dev_alloc $(( 16 * M )) "stock"
qio -c "read -P 0 0 256M" || fail "a new thin volume does not read as zeros: $(cat "$tmpdir/qio")"
pass "a 256M thin volume holds nothing, reads as zeros; the stock holds 2 chunks per device"

# 8 MiB from 0, striped 1M over 2 devices: one 4M chunk on each.
qio -c "write -P 0xab 0 8M" || fail "write: $(cat "$tmpdir/qio")"
[ "$(alloc)" = $(( 8 * M )) ] || fail "after 8M written: $(alloc) bytes"
qio -c "read -P 0xab 0 8M" -c "read -P 0 8M 248M" || fail "read back: $(cat "$tmpdir/qio")"
api GET /v1/pool
[ "$(echo "$body" | jq .virtual_bytes)" = $(( 256 * M )) ] || fail "pool: $body"
"$VRAMCTL" status | grep -q "of 256.0 MiB virtual (over-commit [0-9.]*)" ||
  fail "status shows no over-commit: $("$VRAMCTL" status | grep pool)"
"$VRAMCTL" volume list -o name,alloc,prov -H | grep -q "^t0.*8.0 MiB.*thin" ||
  fail "volume list: $("$VRAMCTL" volume list -o name,alloc,prov)"
pass "8M written takes two 4M chunks; data reads back, the rest reads zeros; status and list show it"

# A discard inside a chunk zeroes it and keeps the chunk; a whole one gives it back.
qio -c "discard 1M 2M" || fail "partial discard: $(cat "$tmpdir/qio")"
[ "$(alloc)" = $(( 8 * M )) ] || fail "after a partial discard: $(alloc)"
qio -c "read -P 0xab 0 1M" -c "read -P 0 1M 2M" -c "read -P 0xab 3M 5M" ||
  fail "after a partial discard: $(cat "$tmpdir/qio")"
qio -c "discard 0 8M" || fail "discard: $(cat "$tmpdir/qio")"
[ "$(alloc)" = 0 ] || fail "after discarding everything written: $(alloc)"
qio -c "read -P 0 0 8M" || fail "a discarded range does not read as zeros: $(cat "$tmpdir/qio")"
wait_dev_alloc $(( 16 * M )) "after discard, back to the stock alone"
qio -c "write -z 0 8M" && qio -c "write -P 0x11 4M 4M" || fail "rewrite: $(cat "$tmpdir/qio")"
qio -c "read -P 0 0 4M" -c "read -P 0x11 4M 4M" || fail "rewrite read: $(cat "$tmpdir/qio")"
pass "partial discard keeps the chunk; whole chunks go back within 2 s; reuse reads right"

# Discards in pieces (as swap and filesystems send them) add up to a whole
# chunk; a write between them takes its piece back out.  16M-24M is one
# chunk on each device.
a0=$(alloc)
qio -c "write -P 0x44 16M 8M" -c "discard 16M 4M" -c "write -P 0x55 18M 4k" -c "discard 20M 4M" ||
  fail "pieces: $(cat "$tmpdir/qio")"
[ "$(alloc)" = $(( a0 + 4 * M )) ] || fail "after discards in pieces around a write: $(alloc), want $a0 + 4M"
qio -c "read -P 0 16M 2M" -c "read -P 0x55 18M 4k" -c "read -P 0 18878464 6287360" ||
  fail "pieces read back: $(cat "$tmpdir/qio")"
qio -c "discard 18M 1M" || fail "last piece: $(cat "$tmpdir/qio")"
[ "$(alloc)" = "$a0" ] || fail "the last piece discarded: $(alloc), want $a0"
pass "discards in 4M pieces free a chunk once all of it is discarded; a write in between keeps it"

# Out of room: about 40M per device; writing 128M must stop with ENOSPC.
qio -c "write -P 0xcd 64M 128M" && fail "128M written into 80M of VRAM"
grep -qi "No space left" "$tmpdir/qio" || fail "not ENOSPC: $(cat "$tmpdir/qio")"
[ "$(metric 'vramd_volume_enospc_total{volume="t0"}')" -gt 0 ] || fail "enospc not counted"
grep -q "no device has room: ENOSPC" "$tmpdir/vramd.log" || fail "ENOSPC not logged"
qio -c "read -P 0x11 4M 4M" -c "write -P 0x22 4M 1M" -c "read -P 0x22 4M 1M" ||
  fail "after ENOSPC, the volume no longer serves: $(cat "$tmpdir/qio")"
pass "a write past the pool gets ENOSPC, counted and logged; reads and rewrites go on"

# Giving back makes room again.
qio -c "discard 0 256M" || fail "discard all: $(cat "$tmpdir/qio")"
[ "$(alloc)" = 0 ] || fail "after discarding all: $(alloc)"
qio -c "write -P 0x33 64M 16M" -c "read -P 0x33 64M 16M" || fail "after room came back: $(cat "$tmpdir/qio")"
pass "after a discard of everything, writes work again"

# Bad input: absurd size, free share, delete gives everything back.
api POST /v1/volumes -d '{"name":"huge","size":1125899906842624,"provisioning":"thin"}'
expect 400 "1 PiB thin" invalid_volume
api POST /v1/volumes -d '{"name":"share","size":"50%FREE","provisioning":"thin"}'
expect 400 "thin 50%FREE"
"$VRAMCTL" volume delete t0 --force >/dev/null || fail "delete"
wait_dev_alloc 0 "no thin volume left: the stock goes back too"
pass "1 PiB and a share of free VRAM are refused for thin; delete gives all back"
