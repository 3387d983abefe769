#!/usr/bin/env bash
# Bad input on the control API, each refused clearly; vramd keeps serving
# after every one (checked with GET /healthz).
. "$(dirname "$0")/functions.sh"
requires jq
requires curl
requires python3
start_vramd

# The daemon still answers.
alive() { api GET /healthz; [ "$status" = 200 ] || fail "vramd stopped serving after: $1"; }

# POST a create body and expect 400 with an error code (and field).
bad_body() {
  local what=$1 data=$2 code=$3 field=${4:-}
  api POST /v1/volumes --data-binary "$data"
  expect 400 "$what" "$code"
  if [ -n "$field" ]; then
    [ "$(echo "$body" | jq -r .error.field)" = "$field" ] || fail "$what: field not named: $body"
    echo "$body" | jq -e --arg f "$field" '.error.message | contains($f)' >/dev/null ||
      fail "$what: message does not name $field: $body"
  fi
  alive "$what"
}

bad_body "malformed JSON" '{"name": "a", "size": 4096' invalid_json
bad_body "not an object" '[1,2]' invalid_json
bad_body "empty body" '' invalid_json
bad_body "trailing junk" '{"name":"a","size":4096} x' invalid_json
bad_body "duplicate key" '{"name":"a","name":"b","size":4096}' invalid_json
pass "malformed JSON answers 400 invalid_json"

bad_body "size as string" '{"name":"a","size":"12G"}' invalid_field size
bad_body "size as float" '{"name":"a","size":4096.5}' invalid_field size
bad_body "negative size" '{"name":"a","size":-4096}' invalid_field size
bad_body "zero size" '{"name":"a","size":0}' invalid_field size
bad_body "name as number" '{"name":7,"size":4096}' invalid_field name
bad_body "attach as string" '{"name":"a","size":4096,"attach":"yes"}' invalid_field attach
bad_body "devices as number" '{"name":"a","size":4096,"devices":3}' invalid_field devices
bad_body "devices with a number" '{"name":"a","size":4096,"devices":["cpu0",1]}' invalid_field devices
bad_body "layout unknown" '{"name":"a","size":4096,"layout":"raid5"}' invalid_field layout
bad_body "frontend unknown" '{"name":"a","size":4096,"frontend":"iscsi"}' invalid_field frontend
bad_body "missing size" '{"name":"a"}' missing_field size
bad_body "missing name" '{"size":4096}' missing_field name
pass "wrong types and values answer 400 naming the field"

bad_body "unknown field" '{"name":"a","size":4096,"sise":1}' unknown_field sise
bad_body "unknown field, nested" '{"name":"a","size":4096,"extra":{"x":1}}' unknown_field extra
pass "unknown fields answer 400 naming the field"

bad_body "size above 2^63" '{"name":"a","size":18446744073709551616}' invalid_json
bad_body "size far above" '{"name":"a","size":1e400}' invalid_json
pass "sizes that overflow answer 400"

for n in 'a/b' '..' '.hidden' 'a b' 'A' '' "$(printf 'x%.0s' $(seq 64))"; do
  bad_body "name '$n'" "{\"name\":\"$n\",\"size\":4096}" invalid_name name
done
bad_body "name with NUL" '{"name":"ab\u0000cd","size":4096}' invalid_field name
pass "names with '/', '..', spaces, NUL, capitals or too long answer 400"

# A raw NUL byte in the body, in one upload chunk and split across two
# ({"name":"ab\0zzz + c",...} once made volume abc): invalid_json, nothing made.
for split in 0 1; do
  python3 - "$tmpdir/api.sock" "$split" >"$tmpdir/raw" <<'PY'
import socket, sys, time
body = [b'{"name":"ab\0zzz', b'c","size":4096}']
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % sum(map(len, body)))
if sys.argv[2] == "1":
    s.sendall(body[0]); time.sleep(0.3); s.sendall(body[1])
else:
    s.sendall(b"".join(body))
reply = b""
while True:
    more = s.recv(65536)
    if not more:
        break
    reply += more
sys.stdout.write(reply.decode(errors="replace"))
PY
  head -1 "$tmpdir/raw" | grep -q " 400 " || fail "NUL in body (split $split): $(cat "$tmpdir/raw")"
  grep -q '"invalid_json"' "$tmpdir/raw" || fail "NUL in body (split $split): $(cat "$tmpdir/raw")"
  api GET /v1/volumes
  [ "$(echo "$body" | jq '.volumes | length')" = 0 ] || fail "NUL in body made a volume: $body"
done
pass "a NUL byte in a body, whole or split across chunks, is invalid_json and makes nothing"

bad_body "stripe_unit with concat" '{"name":"a","size":4096,"layout":"concat","stripe_unit":65536}' \
  invalid_field stripe_unit
pass "stripe_unit with layout concat answers 400, as vramctl refuses it"

for p in '/v1/volumes/a%2Fb' '/v1/volumes/..' '/v1/volumes/a%00b' '/v1/volumes/a%20b' \
         '/v1/volumes/a/b' '/v1/volumes/%zz' '/v1/devices/a%00'; do
  api GET "$p"
  [ "$status" = 400 ] || fail "GET $p: expected 400, got $status: $body"
  alive "GET $p"
  api DELETE "$p"
  [ "$status" = 400 ] || [ "$status" = 405 ] || fail "DELETE $p: expected 400, got $status"
  alive "DELETE $p"
done
pass "names in URLs with '/', '..', %00 or spaces answer 400"

head -c 100000 /dev/zero | tr '\0' ' ' >"$tmpdir/big"
api POST /v1/volumes --data-binary @"$tmpdir/big"
expect 413 "body over the cap" body_too_large
alive "body over the cap"
api POST /v1/volumes -H 'Transfer-Encoding: chunked' --data-binary @"$tmpdir/big"
[ "$status" = 413 ] || [ "$status" = 000 ] || fail "chunked body over the cap: got $status"
alive "chunked body over the cap"
pass "bodies over 64 KiB are refused (413, or the connection closed when chunked)"

long=$(head -c 100000 /dev/zero | tr '\0' a)
api GET "/v1/volumes/$long"
[ "$status" = 414 ] || [ "$status" = 431 ] || [ "$status" = 400 ] || fail "long URL: got $status"
alive "very long URL"
api GET /v1 -H "X-Big: $long"
[ "$status" -ge 400 ] || [ "$status" = 000 ] || fail "huge header: got $status"
alive "huge header"
pass "very long URLs and headers are refused"

# Half a request, then silence: others are still served at once.
python3 - "$tmpdir/api.sock" <<'PY' &
import socket, sys, time
socks = []
for _ in range(8):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    s.sendall(b"POST /v1/volumes HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na")
    socks.append(s)
h = socket.socket(socket.AF_UNIX); h.connect(sys.argv[1]); h.sendall(b"GET /v1 HTT")
socks.append(h)
time.sleep(4)
PY
stall=$!
on_exit "kill $stall 2>/dev/null || true"
sleep 0.5
start=$(date +%s%N)
api GET /v1/pool; expect 200 "GET while 9 clients stall"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 2000 ] || fail "a stalled client delayed others by ${ms} ms"
wait $stall || true
alive "stalled clients"
pass "clients that send half a request and stall do not block others (${ms} ms)"

requires_frontend nbd
api POST /v1/volumes -d '{"name":"big","size":9223372036854775807}'
[ "$status" = 507 ] || [ "$status" = 400 ] || fail "size near 2^63: got $status: $body"
alive "size near 2^63"
api POST /v1/volumes -d '{"name":"big","size":4096,"devices":["cpu0","cpu0"]}'
expect 400 "device twice" invalid_volume
api POST /v1/volumes -d '{"name":"big","size":4096,"devices":["gpu7"]}'
expect 400 "unknown device" invalid_volume
api POST /v1/volumes -d '{"name":"big","size":4096,"stripe_unit":3000}'
expect 400 "bad stripe unit" invalid_volume
api GET /v1/pool
echo "$body" | jq -e '.allocated_bytes == 0 and .volumes == 0' >/dev/null || fail "refusals left VRAM behind: $body"
pass "sizes that overflow when rounded, bad devices and units answer 400 or 507, nothing allocated"
