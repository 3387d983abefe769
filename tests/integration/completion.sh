#!/usr/bin/env bash
# bash completion for vramctl: commands, options, columns, and names from a
# live vramd, with global options before or after the command.
. "$(dirname "$0")/functions.sh"
bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || { echo "SKIP: bash-completion not installed"; exit 77; }
set +eu +o pipefail       # bash_completion is not written for -eu
. "$bc"
. "$top_srcdir/etc/bash-completion/vramctl"
set -eu -o pipefail
PATH="$top_builddir/cli:$PATH"

# complete WORDS...: what bash offers for the last word.
complete_words() {
  COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
  set +eu; _vramctl; set -eu
  echo "${COMPREPLY[*]}"
}
expect_words() {
  local want=$1; shift
  local got; got=$(complete_words "$@")
  [ "$got" = "$want" ] || fail "completing '$*': expected '$want', got '$got'"
}

start_vramd --volume name=alpha,size=4M
s="$tmpdir/api.sock"
g="--socket --timeout --json --help"
expect_words "$g --version device volume job status help" vramctl ""
expect_words "list show wait cancel help" vramctl job ""
expect_words "list show wait cancel" vramctl help job ""
expect_words "--no-wait $g" vramctl --socket "$s" job cancel ""
expect_words "PROGRESS" vramctl job list -o PR
expect_words "create list show delete attach detach export unexport resize rebalance scrub repair save restore help" vramctl volume ""
expect_words "list show set drain undrain help" vramctl device ""
expect_words "create list show delete attach detach export unexport resize rebalance scrub repair save restore" vramctl help volume ""
expect_words "nbd ublk none" vramctl volume create x --frontend ""
expect_words "nbd ublk" vramctl volume attach x --frontend ""
expect_words "--frontend --kernel --index $g alpha" vramctl --socket "$s" volume attach ""
expect_words "--force $g alpha" vramctl --socket "$s" volume detach ""
expect_words "--size --force $g alpha" vramctl --socket "$s" volume resize ""
expect_words "+1G +4G" vramctl volume resize alpha --size "+"
expect_words "$g alpha" vramctl --socket "$s" volume show ""
expect_words "--force $g alpha" vramctl --socket="$s" volume delete ""
expect_words "$g alpha" vramctl volume show --socket "$s" ""
expect_words "$g cpu0 cpu1" vramctl -j device show --socket "$s" ""
expect_words "--reserve --yield-floor --drain --no-wait $g cpu0 cpu1" vramctl device set --socket "$s" ""
expect_words "all cpu0 cpu1" vramctl --socket "$s" volume create x --stripe ""
expect_words "all cpu0 cpu1" vramctl --socket "$s" volume create x --mirror ""
expect_words "cpu0 cpu1" vramctl --socket "$s" volume repair x --device ""
expect_words "-H -p -o $g" vramctl volume list ""
expect_words "STATE" vramctl volume list -o ST
expect_words "NAME,STATE" vramctl volume list -o NAME,ST
expect_words "LOST" vramctl device list -H -o LO
expect_words "STATE" vramctl device list -o STA
expect_words "--no-wait $g alpha" vramctl --socket "$s" volume save ""
expect_words "--force --no-wait $g alpha" vramctl --socket "$s" volume restore ""
mkdir "$tmpdir/imgs"; touch "$tmpdir/imgs/one.img"
expect_words "$tmpdir/imgs/one.img" vramctl --socket "$s" volume save alpha "$tmpdir/imgs/o"
expect_words "$tmpdir/imgs/one.img" vramctl volume create x --from "$tmpdir/imgs/o"
pass "bash completion: commands, options, columns, volume and device names, image files"
