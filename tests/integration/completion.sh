#!/usr/bin/env bash
# bash completion for vramctl: commands, options, and names from a live vramd.
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
expect_words "--socket --timeout --json --help --version device volume status" vramctl ""
expect_words "create list show delete" vramctl volume ""
expect_words "nbd ublk" vramctl volume create x --frontend ""
expect_words "--json --help alpha" vramctl --socket "$s" volume show ""
expect_words "--force --json --help alpha" vramctl --socket="$s" volume delete ""
expect_words "all cpu0 cpu1" vramctl --socket "$s" volume create x --stripe ""
pass "bash completion: commands, options, volume and device names"
