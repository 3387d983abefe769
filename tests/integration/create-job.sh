#!/usr/bin/env bash
# Large creates run as jobs: progress, a cancel (job cancel, Ctrl-C) that
# leaves nothing behind, and the same result as a plain create when done.
. "$(dirname "$0")/functions.sh"
requires jq
export VRAMCTL_SOCKET="$tmpdir/api.sock"
start_vramd --extent-size 16M
requires_frontend nbd
pool_alloc() { api GET /v1/pool; echo "$body" | jq .allocated_bytes; }

# 1. --no-wait: the job's id at once; cancelled, nothing is left.
id=$("$VRAMCTL" volume create big --size 3G --no-wait) || fail "create --no-wait: $id"
[[ $id =~ ^[0-9]+$ ]] || fail "create --no-wait printed '$id', not a job id"
"$VRAMCTL" job cancel "$id" >/dev/null 2>&1
"$VRAMCTL" job show "$id" --json | jq -e '.state == "cancelled" or .state == "done"' >/dev/null ||
  fail "job $id: $("$VRAMCTL" job show "$id")"
if [ "$("$VRAMCTL" job show "$id" --json | jq -r .state)" = cancelled ]; then
  api GET /v1/volumes/big; expect 404 "a cancelled create left a volume"
  [ "$(pool_alloc)" = 0 ] || fail "a cancelled create left $(pool_alloc) bytes allocated"
  grep -q '"big"' "$tmpdir/state/volumes.json" 2>/dev/null && fail "a cancelled create was saved"
  pass "create --no-wait prints job $id; cancelled, it left no volume, no VRAM, no definition"
else
  echo "NOTE: the create finished before the cancel; the Ctrl-C case below still checks one"
  "$VRAMCTL" volume delete big >/dev/null
fi

# 2. Ctrl-C while vramctl waits: it cancels the job, and nothing is left.
# (timeout says 124 once it sent the signal, whatever vramctl then did.)
set +e
timeout -s INT -k 20 0.3 "$VRAMCTL" volume create big2 --size 6G >"$tmpdir/out" 2>"$tmpdir/err"; rc=$?
set -e
if [ $rc = 0 ]; then
  echo "NOTE: 6G was made in under 0.3 s here"; "$VRAMCTL" volume delete big2 >/dev/null
else
  for _ in $(seq 1 50); do
    "$VRAMCTL" job list -H -o kind,target,state | grep -q "create.*big2.*running" || break; sleep 0.1
  done
  "$VRAMCTL" job list -H -o kind,target,state | grep -q "create.*big2.*cancelled" ||
    fail "Ctrl-C: no cancelled create job: $("$VRAMCTL" job list) $(cat "$tmpdir/err")"
  api GET /v1/volumes/big2; expect 404 "Ctrl-C left a volume"
  [ "$(pool_alloc)" = 0 ] || fail "Ctrl-C left $(pool_alloc) bytes allocated"
  pass "Ctrl-C during a large create cancels it: no volume, no VRAM ($(tr '\r' '\n' <"$tmpdir/err" | tail -1))"
fi

# 3. Waited for: the same answer as a plain create, and saved.
"$VRAMCTL" volume create big3 --size 1G >"$tmpdir/out" || fail "create big3: $(cat "$tmpdir/out")"
grep -q "^created big3: 1.0 GiB" "$tmpdir/out" && grep -q "^nbd+unix:///big3" "$tmpdir/out" ||
  fail "create big3 printed: $(cat "$tmpdir/out")"
"$VRAMCTL" job list -H -o kind,target,state | grep -q "create.*big3.*done" || fail "no create job for big3"
grep -q '"big3"' "$tmpdir/state/volumes.json" || fail "big3 not saved"
"$VRAMCTL" volume create small --size 64M --json | jq -e '.name == "small"' >/dev/null ||
  fail "a small create"
"$VRAMCTL" volume create big4 --size 1G --json | jq -e '.name == "big4" and .size_bytes == 1073741824' >/dev/null ||
  fail "a large create with --json does not print the volume"
pass "a large create waited for prints what a plain one does (and --json the volume); saved"

# 4. Errors: a name taken and no room are answered at once, before any job.
set +e
"$VRAMCTL" volume create big3 --size 2G >/dev/null 2>"$tmpdir/err"; rc=$?
[ $rc = 1 ] && grep -q "already exists" "$tmpdir/err" || fail "taken name: $rc $(cat "$tmpdir/err")"
"$VRAMCTL" volume create huge --size 64T >/dev/null 2>"$tmpdir/err"; rc=$?
set -e
[ $rc = 1 ] && grep -qi "available\|room\|needs" "$tmpdir/err" || fail "64T: $rc $(cat "$tmpdir/err")"
api GET /v1/volumes/huge; expect 404 "a failed create left a volume"
api POST '/v1/volumes?job=maybe' -d '{"name":"q","size":1073741824}'; expect 400 "job=maybe" invalid_query
pass "a taken name and no room are refused at once, with the reason; bad ?job= is 400"
