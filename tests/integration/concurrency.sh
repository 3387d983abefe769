#!/usr/bin/env bash
# Eight clients creating and deleting at once: no half-made volume, no
# leaked VRAM; pool totals before and after match.
. "$(dirname "$0")/functions.sh"
requires jq
requires curl
start_vramd
requires_frontend nbd
api GET /v1/pool; before=$body

worker() {
  local w=$1 i code
  for i in $(seq 1 12); do
    # Names overlap between workers so creates race for the same name.
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 --unix-socket "$tmpdir/api.sock" \
      -d "{\"name\":\"v$(( (w + i) % 5 ))\",\"size\":$(( (i % 4 + 1) * 1048576 ))}" http://localhost/v1/volumes)
    case $code in 201|409) ;; *) echo "create answered $code" >>"$tmpdir/bad";; esac
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 --unix-socket "$tmpdir/api.sock" \
      -X DELETE "http://localhost/v1/volumes/v$(( (w + i + 2) % 5 ))")
    case $code in 204|404) ;; *) echo "delete answered $code" >>"$tmpdir/bad";; esac
  done
}
pids=()
for w in $(seq 1 8); do worker "$w" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
[ ! -s "$tmpdir/bad" ] || fail "unexpected answers: $(sort "$tmpdir/bad" | uniq -c)"

api GET /v1/volumes
n=$(echo "$body" | jq '.volumes | length')
sum=$(echo "$body" | jq '[.volumes[].size_bytes] | add // 0')
api GET /v1/pool
[ "$(echo "$body" | jq .allocated_bytes)" = "$sum" ] || fail "allocated $(echo "$body" | jq .allocated_bytes) != volumes' $sum"
[ "$(echo "$body" | jq .volumes)" = "$n" ] || fail "registry count differs"
[ "$(jq '.volumes | length' "$tmpdir/state/volumes.json")" = "$n" ] || fail "state file disagrees"
for name in $(curl -s --unix-socket "$tmpdir/api.sock" http://localhost/v1/volumes | jq -r '.volumes[].name'); do
  api DELETE "/v1/volumes/$name"; expect 204 "delete $name"
done
api GET /v1/pool
echo "$before" | jq -S 'del(.volumes)' >"$tmpdir/a"
echo "$body" | jq -S 'del(.volumes)' >"$tmpdir/b"
diff "$tmpdir/a" "$tmpdir/b" >/dev/null || fail "pool totals differ: $(diff "$tmpdir/a" "$tmpdir/b")"
pass "8 concurrent creators/deleters: $n volumes left matched allocation exactly; pool totals equal after cleanup"
