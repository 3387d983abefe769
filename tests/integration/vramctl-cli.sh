#!/usr/bin/env bash
# vramctl as a command line: global options anywhere, help for every noun,
# usage errors of one line with a hint, errors in vramctl's words (not the
# API's), tables for scripts (-H, -p, -o; an empty list is its header;
# long names keep the columns aligned; one device separator), device
# show, and --json the API's document unchanged.
. "$(dirname "$0")/functions.sh"
requires jq
requires curl
unset VRAMCTL_SOCKET VRAMCTL_TIMEOUT
s="$tmpdir/api.sock"
get() { curl -sS --unix-socket "$s" "http://localhost$1"; }

# 1. Help: vramctl help [NOUN [VERB]], NOUN --help, NOUN help.
for h in "help" "--help" "-h" "help volume" "volume --help" "volume -h" "volume help" \
         "help device" "device --help" "help volume create" "device show --help" \
         "volume list --help" "help status"; do
  # shellcheck disable=SC2086
  "$VRAMCTL" $h >"$tmpdir/out" 2>"$tmpdir/err" || fail "'vramctl $h' exit $?"
  head -1 "$tmpdir/out" | grep -q "^Usage: vramctl" && [ ! -s "$tmpdir/err" ] ||
    fail "'vramctl $h': $(cat "$tmpdir/out" "$tmpdir/err")"
done
"$VRAMCTL" volume --help | grep -q "vramctl volume delete NAME" || fail "volume --help lacks delete"
"$VRAMCTL" device --help | grep -q "vramctl device show ID" || fail "device --help lacks show"
! "$VRAMCTL" device --help | grep -q "volume create" || fail "device --help lists volume commands"
"$VRAMCTL" volume list --help | grep -q "^  STATE " || fail "volume list --help lacks its columns"
pass "help: 'help', 'help NOUN [VERB]', 'NOUN --help', 'NOUN help', 'CMD --help'"

# 2. Usage errors: exit 2, nothing on stdout, one line on stderr that
#    starts with "vramctl:" and ends with the hint.
usage_line() {
  local want=$1; shift
  set +e; "$VRAMCTL" "$@" >"$tmpdir/out" 2>"$tmpdir/err"; local rc=$?; set -e
  [ $rc = 2 ] || fail "'vramctl $*': exit $rc, want 2"
  [ ! -s "$tmpdir/out" ] || fail "'vramctl $*' printed on stdout: $(cat "$tmpdir/out")"
  [ "$(wc -l <"$tmpdir/err")" = 1 ] || fail "'vramctl $*': not one line: $(cat "$tmpdir/err")"
  grep -q "^vramctl: .* (see 'vramctl [a-z ]*--help')$" "$tmpdir/err" ||
    fail "'vramctl $*': no prefix or hint: $(cat "$tmpdir/err")"
  grep -qF -- "$want" "$tmpdir/err" || fail "'vramctl $*': want '$want': $(cat "$tmpdir/err")"
}
usage_line "vramctl: volume create: --size is required (or --from, which takes the image's) (see 'vramctl volume create --help')" \
  volume create x
usage_line "give a command (see 'vramctl --help')"
usage_line "unknown command 'frobnicate'" frobnicate
usage_line "volume: give a command: create, list, show, delete" volume
usage_line "volume: unknown command 'grow'" volume grow
usage_line "volume list: unknown option '--bogus'" volume list --bogus
usage_line "volume list: -o needs a value" volume list -o
usage_line "volume list: --socket needs a value" volume list --socket
usage_line "volume list: --json takes no value" volume list --json=yes
usage_line "volume list: unknown option '-z'" volume list --json -zH
usage_line "volume list: -o: no column 'nope'" volume list -o name,nope
usage_line "give one or the other" volume list -j -H
usage_line "-o: at most 32 columns" volume list -o "$(printf 'name,%.0s' $(seq 32))size"
usage_line "device show: give exactly one device ID" device show
usage_line "is not a device ID" device show a/b
usage_line "volume show: give exactly one volume NAME" volume show a b
usage_line "--timeout 'x' is not a number" volume list --timeout x
usage_line "no command 'nope'" help nope
usage_line "--stripe-unit" volume create x --size 1M --stripe-unit 3K
VRAMCTL_TIMEOUT=bad usage_line "VRAMCTL_TIMEOUT 'bad'" status
pass "usage errors: exit 2, one line 'vramctl: CMD: ... (see ...)', nothing on stdout"

# 3. Errors that are not usage errors start with "vramctl:" as well.
set +e; "$VRAMCTL" --socket "$s" volume list 2>"$tmpdir/err"; rc=$?; set -e
[ $rc = 1 ] && head -1 "$tmpdir/err" | grep -q "^vramctl: vramd is not running" ||
  fail "not running: exit $rc: $(cat "$tmpdir/err")"
pass "not running: exit 1, $(head -1 "$tmpdir/err" | cut -c1-40)..."

start_vramd
# 4. Global options before the noun, between noun and verb, after the
#    verb and its arguments; a bad VRAMCTL_TIMEOUT yields to --timeout.
"$VRAMCTL" volume list --socket "$s" >/dev/null || fail "volume list --socket"
"$VRAMCTL" volume --socket="$s" list >/dev/null || fail "volume --socket= list"
"$VRAMCTL" --socket "$s" -j volume list | jq -e '.volumes == []' >/dev/null || fail "-j volume list"
"$VRAMCTL" volume list --socket "$s" -j | jq -e '.volumes == []' >/dev/null || fail "list -j last"
"$VRAMCTL" status --timeout 5 --socket "$s" -j | jq -e '.pool.devices == 2' >/dev/null ||
  fail "status --timeout --socket -j"
VRAMCTL_TIMEOUT=bad "$VRAMCTL" device list --socket "$s" --timeout 5 >/dev/null ||
  fail "--timeout after the command does not override a bad VRAMCTL_TIMEOUT"
pass "global options anywhere: before the noun, after it, after the verb"
export VRAMCTL_SOCKET="$s"

# 5. An empty list is its header (-H: nothing), not prose.
[ "$("$VRAMCTL" volume list)" = "NAME SIZE LAYOUT DEVICES FRONTEND CLIENTS WHERE ALLOC" ] ||
  fail "empty volume list: $("$VRAMCTL" volume list)"
[ -z "$("$VRAMCTL" volume list -H)" ] || fail "empty volume list -H printed something"
[ "$("$VRAMCTL" volume list -o name,state)" = "NAME STATE" ] || fail "empty -o name,state"
pass "an empty list prints its header alone; with -H nothing"

# 6. Tables: long names widen their column, -H is tab-separated with
#    spaces kept, -p gives bytes, -o picks and orders columns.
requires_frontend nbd
long=a-very-long-volume-name-that-is-wider-than-any-column-default
"$VRAMCTL" volume create "$long" --size 1M --concat cpu1 >/dev/null
"$VRAMCTL" volume create s0 --size 12M >/dev/null
"$VRAMCTL" volume list >"$tmpdir/out"
for col in LAYOUT FRONTEND; do
  n=$(awk -v c=$col 'NR == 1 { h = index($0, c) } END { print h }' "$tmpdir/out")
  # a left-aligned value starts where its header does, on each line
  bad=$(awk -v h="$n" 'NR > 1 && (substr($0, h - 1, 1) != " " || substr($0, h, 1) == " ")' \
    "$tmpdir/out")
  [ -z "$bad" ] || fail "column $col not aligned: $(cat "$tmpdir/out")"
done
[ "$(awk '{ print index($0, " nbd ") }' "$tmpdir/out" | sed 1d | sort -u | wc -l)" = 1 ] ||
  fail "FRONTEND values start at different places: $(cat "$tmpdir/out")"
grep -q "^s0 .* cpu0,cpu1 " "$tmpdir/out" || fail "DEVICES not cpu0,cpu1: $(cat "$tmpdir/out")"
printf '%s\t%s\t%s\n' "$long" 1048576 cpu1 s0 12582912 cpu0,cpu1 >"$tmpdir/want"
"$VRAMCTL" volume list -H -p -o NAME,size,Devices | cmp - "$tmpdir/want" ||
  fail "-H -p -o: $("$VRAMCTL" volume list -H -p -o NAME,size,Devices | cat -A)"
"$VRAMCTL" volume list -o +STATE,UNIT -p | grep -q "^s0 .* ok  *1048576$" ||
  fail "-o +STATE,UNIT: $("$VRAMCTL" volume list -o +STATE,UNIT -p)"
"$VRAMCTL" -j device list >"$tmpdir/devs.json"
"$VRAMCTL" device list -H -p >"$tmpdir/devs"
[ "$(awk -F'\t' '{ print NF }' "$tmpdir/devs" | sort -u)" = 8 ] || fail "device list -H: $(cat -A "$tmpdir/devs")"
[ "$(cut -f3 "$tmpdir/devs" | sort -u)" = active ] || fail "device list -H state: $(cat "$tmpdir/devs")"
[ "$(cut -f4 "$tmpdir/devs" | head -1)" = "$(jq -r '.devices[0].name' "$tmpdir/devs.json")" ] ||
  fail "device list -H changed the name: $(head -1 "$tmpdir/devs")"
[ "$(cut -f6 "$tmpdir/devs" | head -1)" = "$(jq '.devices[0].capacity_bytes' "$tmpdir/devs.json")" ] ||
  fail "device list -H -p capacity: $(head -1 "$tmpdir/devs")"
"$VRAMCTL" device list -o id,lost,pci | grep -q "^cpu1 no   -$" ||
  fail "device list -o id,lost,pci: $("$VRAMCTL" device list -o id,lost,pci)"
"$VRAMCTL" volume show s0 | grep -q "^devices: *cpu0,cpu1$" || fail "volume show devices"
pass "tables: aligned with a ${#long}-character name, -H tab-separated, -p bytes, -o columns, ',' between devices"

# 7. device show ID: the device's fields and the volumes on it.
"$VRAMCTL" device show cpu1 >"$tmpdir/out"
grep -q "^id: *cpu1$" "$tmpdir/out" && grep -q "^state: *active$" "$tmpdir/out" &&
  grep -q "^capacity: .*($(jq '.devices[1].capacity_bytes' "$tmpdir/devs.json") bytes)$" "$tmpdir/out" &&
  grep -q "^volumes: *$long,s0$" "$tmpdir/out" || fail "device show cpu1: $(cat "$tmpdir/out")"
"$VRAMCTL" device show cpu1 --json | jq -S . >"$tmpdir/a"
get /v1/devices/cpu1 | jq -S 'del(.read_bytes, .written_bytes, .driver_free_bytes)' >"$tmpdir/b"
jq -S 'del(.read_bytes, .written_bytes, .driver_free_bytes)' "$tmpdir/a" | cmp -s - "$tmpdir/b" ||
  fail "device show --json is not GET /v1/devices/cpu1"
set +e; "$VRAMCTL" device show gpu7 2>"$tmpdir/err"; rc=$?; set -e
[ $rc = 1 ] && grep -q "^vramctl: no device 'gpu7' ('vramctl device list' lists them)$" "$tmpdir/err" ||
  fail "device show gpu7: exit $rc: $(cat "$tmpdir/err")"
pass "device show: fields, bytes, volumes on it; --json is the API's; unknown id in vramctl's words"

# 8. --json is the API's document, unchanged.
for p in volumes devices; do
  noun=${p%s}
  "$VRAMCTL" "$noun" list --json | jq -S 'del(.devices[]?.read_bytes, .devices[]?.written_bytes, .devices[]?.driver_free_bytes)' >"$tmpdir/a"
  get "/v1/$p" | jq -S 'del(.devices[]?.read_bytes, .devices[]?.written_bytes, .devices[]?.driver_free_bytes)' >"$tmpdir/b"
  cmp -s "$tmpdir/a" "$tmpdir/b" || fail "$noun list --json differs from GET /v1/$p"
done
"$VRAMCTL" volume show s0 -j | jq -S 'del(.io)' >"$tmpdir/a"
get /v1/volumes/s0 | jq -S 'del(.io)' >"$tmpdir/b"
cmp -s "$tmpdir/a" "$tmpdir/b" || fail "volume show --json differs from GET /v1/volumes/s0"
pass "--json prints the API's documents unchanged"

# 9. A refused delete names --force, never the query string.
if command -v nbdsh >/dev/null && PATH="/usr/bin:$PATH" nbdsh -c pass >/dev/null 2>&1; then
  PATH="/usr/bin:$PATH" nbdsh -u "nbd+unix:///s0?socket=$tmpdir/nbd.sock" -c 'import time; time.sleep(30)' &
  holder=$!
  on_exit "kill $holder 2>/dev/null || true"
  for _ in $(seq 50); do
    [ "$("$VRAMCTL" volume list -H -o clients,name | grep -c $'^1\ts0$')" = 1 ] && break; sleep 0.1
  done
  set +e; "$VRAMCTL" volume delete s0 2>"$tmpdir/err"; rc=$?; set -e
  [ $rc = 1 ] && [ "$(wc -l <"$tmpdir/err")" = 1 ] &&
    grep -q "^vramctl: volume 's0' has 1 NBD client connected; .*--force" "$tmpdir/err" &&
    ! grep -q "?force\|force=" "$tmpdir/err" || fail "delete in use: exit $rc: $(cat "$tmpdir/err")"
  "$VRAMCTL" volume delete -f s0 >/dev/null || fail "delete -f"
  kill "$holder" 2>/dev/null || true
  pass "a delete refused for a client says: $(cat "$tmpdir/err")"
else
  echo "SKIP: nbdsh not installed, the in-use delete's wording is not tested"
  "$VRAMCTL" volume delete s0 >/dev/null
fi
"$VRAMCTL" volume delete "$long" >/dev/null
