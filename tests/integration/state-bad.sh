#!/usr/bin/env bash
# Definitions are never lost silently: a create or delete whose definition
# cannot be saved is refused (503 state_not_saved) with the pool unchanged,
# and GET /v1, `vramctl status` and vramd_state_saving say saving is off;
# a state file that is not a regular file is set aside; a missing state
# folder is made at start, and --volume never costs the saved volumes.
. "$(dirname "$0")/functions.sh"
requires jq
ctl() { "$VRAMCTL" --socket "$tmpdir/api.sock" "$@"; }
# Expect saving off: GET /v1, the metric and vramctl status say so and a
# create is refused with the pool unchanged; $1 names the case.
expect_not_saving() {
  api GET /v1/pool; local before; before=$(echo "$body" | jq -c '[.volumes, .allocated_bytes]')
  api POST /v1/volumes -d '{"name":"new","size":1048576}'; expect 503 "$1: create" state_not_saved
  echo "$body" | jq -r .error.message | grep -q "cannot be saved, nothing was changed" || fail "$1: $body"
  api GET /v1/pool
  [ "$(echo "$body" | jq -c '[.volumes, .allocated_bytes]')" = "$before" ] || fail "$1: pool changed: $body"
  api GET /v1/volumes/new; expect 404 "$1: the refused volume"
  api GET /v1; echo "$body" | jq -e '.state.saving == false and (.state.error | length > 0)' \
    >/dev/null || fail "$1: GET /v1 state: $(echo "$body" | jq -c .state)"
  [ "$(metric vramd_state_saving)" = 0 ] || fail "$1: vramd_state_saving is $(metric vramd_state_saving)"
  ctl status | grep -q "volume definitions are NOT saved" || fail "$1: vramctl status: $(ctl status)"
}

# 1. The state folder is a regular file.
touch "$tmpdir/file"
start_vramd --state-dir "$tmpdir/file"
grep -q "cannot create state folder $tmpdir/file" "$tmpdir/vramd.log" || fail "not logged at start"
expect_not_saving "state folder is a file"
stop_vramd
pass "state folder is a regular file: reported at start, creates refused (503), pool unchanged"

# 2. A leftover temporary path is a folder: creates and deletes are
# refused until it is gone, then saving comes back by itself.
start_vramd
api POST /v1/volumes -d '{"name":"kept","size":1048576}'; expect 201 "create kept"
mkdir -p "$tmpdir/state/volumes.json.tmp/x"
expect_not_saving "temporary path is a folder"
api DELETE /v1/volumes/kept; expect 503 "delete while unsaved" state_not_saved
api GET /v1/volumes/kept; expect 200 "kept after a refused delete"
rm -rf "$tmpdir/state/volumes.json.tmp"
api POST /v1/volumes -d '{"name":"new","size":1048576}'; expect 201 "create once fixed"
api GET /v1; echo "$body" | jq -e '.state.saving and .state.error == null' >/dev/null ||
  fail "saving not back: $(echo "$body" | jq -c .state)"
jq -e '[.volumes[].name] == ["kept","new"]' "$tmpdir/state/volumes.json" >/dev/null ||
  fail "state file: $(cat "$tmpdir/state/volumes.json")"
stop_vramd
pass "temporary path is a folder: create and delete refused, both kept as they were, fine once removed"

# 3. The disk is full (a 64 KiB tmpfs, filled).
if mkdir -p "$tmpdir/full" && mount -t tmpfs -o size=64k tmpfs "$tmpdir/full" 2>/dev/null; then
  on_exit "umount '$tmpdir/full'"
  start_vramd --state-dir "$tmpdir/full/state"
  api POST /v1/volumes -d '{"name":"before","size":1048576}'; expect 201 "create before full"
  dd if=/dev/zero of="$tmpdir/full/fill" bs=4k 2>/dev/null || true
  expect_not_saving "disk full"
  grep -q "No space left on device" <<<"$body" || fail "disk full: message: $body"
  rm "$tmpdir/full/fill"
  stop_vramd
  jq -e '[.volumes[].name] == ["before"]' "$tmpdir/full/state/volumes.json" >/dev/null ||
    fail "state file after disk full: $(cat "$tmpdir/full/state/volumes.json")"
  pass "disk full: create refused (503, No space left on device), the state file intact"
else
  echo "SKIP part 3: cannot mount a tmpfs here (not root?); disk full not tested"
fi

# 4. The state file is a FIFO: set aside, vramd ready at once.
rm -f "$tmpdir/state/volumes.json"
mkfifo "$tmpdir/state/volumes.json"
start=$(date +%s%N)
start_vramd
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "volumes.json: is not a regular file.*kept as .*volumes.json.not-regular-" "$tmpdir/vramd.log" ||
  fail "FIFO not reported: $(cat "$tmpdir/vramd.log")"
ls "$tmpdir/state"/volumes.json.not-regular-* >/dev/null && [ -p "$tmpdir"/state/volumes.json.not-regular-* ] ||
  fail "FIFO not kept aside"
api POST /v1/volumes -d '{"name":"fresh","size":1048576}'; expect 201 "create after the FIFO"
[ -f "$tmpdir/state/volumes.json" ] || fail "no new state file"
stop_vramd
pass "a FIFO as state file is kept aside; vramd was ready in $ms ms and saves anew"

# 5. A missing state folder is made at start with --volume, and the
# saved volumes survive a start with --volume.
start_vramd --state-dir "$tmpdir/new/deep" --volume name=cli,size=1M
[ "$(stat -c %a "$tmpdir/new/deep")" = 750 ] || fail "state folder not made (0750)"
api POST /v1/volumes -d '{"name":"saved","size":1048576}'; expect 201 "create saved"
stop_vramd
start_vramd --state-dir "$tmpdir/new/deep" --volume name=cli,size=1M
api GET /v1/volumes
[ "$(echo "$body" | jq -c '[.volumes[].name]')" = '["cli","saved"]' ] || fail "after restart: $body"
! grep -q "cannot write" "$tmpdir/vramd.log" || fail "a save failed: $(cat "$tmpdir/vramd.log")"
pass "missing state folder made at start with --volume; saved volumes survive a start with --volume"
