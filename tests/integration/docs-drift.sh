#!/usr/bin/env bash
# docs-drift: the docs say what the binaries and the server really do.
# - every long option of `vramd --help` is in vramd(8), and back;
# - every vramd.conf(5) key is a long option (config keys are the long
#   option names), and every option but the command-only ones is a key;
# - every metric /metrics emits is in docs/api.md's table with its
#   labels, and back;
# - docs/api.md's default stripe unit is what the server gives;
# - the columns of vramctl's tables in README.md, vramctl(8) and
#   docs/api.md are the ones the real vramctl prints;
# - every default `vramd --help` prints is the one vramd(8) and
#   etc/vramd.conf give.
. "$(dirname "$0")/functions.sh"
requires jq
top=$(cd "$(dirname "$0")/../.." && pwd)

# Long options of a man page: \-\-name in the roff source.
man_opts() { grep -o '\\-\\-[a-z][a-z\\-]*[a-z]' "$1" | sed 's/\\-/-/g' | sort -u; }
# Keys of vramd.conf(5): the .B line after each .TP.
conf_keys() { awk '/^\.TP/ { getline; if ($1 == ".B") { gsub(/\\-/, "-", $2); print $2 } }' "$1" | sort -u; }
# Differences between two sorted lists, named; empty when they agree.
differ() { comm -3 "$1" "$2" | sed "s#^\t#  only in $4: #; t; s#^#  only in $3: #"; }

"$VRAMD" --help 2>&1 | grep -o -- '--[a-z][a-z-]*[a-z]' | sort -u >"$tmpdir/help"
man_opts "$top/man/vramd.8" >"$tmpdir/man"
d=$(differ "$tmpdir/help" "$tmpdir/man" "vramd --help" "vramd.8")
[ -z "$d" ] || fail "vramd --help and vramd(8) disagree:"$'\n'"$d"
pass "vramd(8) names every option of vramd --help ($(wc -l <"$tmpdir/help")), and no other"

# An option's paragraph in vramd(8) as plain text: the roff of the .TP
# item that names it, macros dropped, a macro's arguments joined as roff
# prints them, escapes undone.
man_item() {
  awk -v opt="$1" '
    function plain(s) { gsub(/\\f[RBIP]/, "", s); gsub(/\\-/, "-", s); gsub(/\\&/, "", s); return s }
    # .IR a b "c d": the arguments joined, a quoted one as it is.
    function joined(s,   out, q, i, ch) {
      sub(/^\.[A-Z]+ */, "", s); out = ""; q = 0
      for (i = 1; i <= length(s); i++) {
        ch = substr(s, i, 1)
        if (ch == "\"") q = !q; else if (ch != " " || q) out = out ch
      }
      return out
    }
    /^\.(TP|SH|SS|PP)/ { if (inside) exit; head = /^\.TP/; next }
    head { head = 0; line = plain(joined($0)); split(line, w, " ")
           if (line == opt || index(line, opt " ") == 1 || index(line, opt "|") == 1) inside = 1 }
    inside && /^\.(B|I|BI|IB|BR|RB|IR|RI) / { printf "%s ", plain(joined($0)); next }
    inside && !/^\./ { printf "%s ", plain($0) }
  ' "$top/man/vramd.8" | tr -s ' '
}
# The comment above "#KEY = ..." in etc/vramd.conf, as one line.
conf_comment() {
  awk -v key="$1" '/^# / { c = c " " substr($0, 3); next }
    $0 ~ "^#" key " = " { print c; exit } { c = "" }' "$top/etc/vramd.conf" | tr -s ' '
}
"$VRAMD" --help | sed -n 's/^  \(--[a-z-]*\).* default: \(.*\)$/\1\t\2/p' >"$tmpdir/defaults"
# Every option but the command-only flags has a default in --help.
cut -f1 "$tmpdir/defaults" | sort >"$tmpdir/with-default"
grep -vxE -- '--(list-devices|json|version|help)' "$tmpdir/help" >"$tmpdir/want-default"
d=$(differ "$tmpdir/want-default" "$tmpdir/with-default" "options" "with a default in --help")
[ -z "$d" ] || fail "vramd --help gives no default for some options:"$'\n'"$d"
while IFS=$'\t' read -r opt def; do
  key=${opt#--} value=${def%%; *} note=
  [ "$value" = "$def" ] || note=${def#*; }
  # The built-in config path starts with configure's sysconfdir.
  [ "$key" != config ] || value=$(echo "$value" | sed 's#^.*/vramd/vramd\.conf$#/etc/vramd/vramd.conf#')
  item=$(man_item "$opt")
  [ -n "$item" ] || fail "vramd(8) has no paragraph for $opt"
  conf_line=$(grep -m1 "^#$key = " "$top/etc/vramd.conf" | sed "s/^#$key = //" || true)
  case $value in
  auto)  # worked out at start: vramd(8) and vramd.conf say how, in the same words.
    echo "$item" | grep -qiF "default: auto, $note" || fail "vramd(8) on $opt does not say 'default: auto, $note': $item"
    conf_comment "$key" | grep -qiF "default: auto, $note" ||
      fail "etc/vramd.conf on $key does not say 'Default: auto, $note'" ;;
  none)
    echo "$item" | grep -qiF "default: none" || fail "vramd(8) on $opt does not say 'default: none': $item"
    [ "$key" = config ] || conf_comment "$key" | grep -qw none || fail "etc/vramd.conf on $key does not say none" ;;
  *)
    found=
    for form in "default $value" "default: $value"; do
      for end in " " "," ";" ")" "."; do
        echo "$item " | grep -qiF -- "$form$end" && found=1
      done
    done
    [ -n "$found" ] || fail "vramd --help gives $opt default $value, vramd(8) does not: $item"
    [ "$key" = config ] || [ "$conf_line" = "$value" ] ||
      fail "vramd --help gives $opt default $value, etc/vramd.conf '#$key = $conf_line'" ;;
  esac
done <"$tmpdir/defaults"
pass "each of the $(wc -l <"$tmpdir/defaults") defaults vramd --help prints is in vramd(8) and etc/vramd.conf"

conf_keys "$top/man/vramd.conf.5" >"$tmpdir/conf"
# Options that act on the command line only, never from a file.
grep -vxE -- '--(config|list-devices|json|version|help)' "$tmpdir/help" | sed 's/^--//' >"$tmpdir/keys"
d=$(differ "$tmpdir/keys" "$tmpdir/conf" "vramd --help" "vramd.conf.5")
[ -z "$d" ] || fail "vramd.conf(5) keys and vramd's options disagree:"$'\n'"$d"
# ...and vramd takes each of them from a file (the parser knows the key).
for k in $(cat "$tmpdir/conf"); do
  printf '%s = ?\n' "$k" >"$tmpdir/one.conf"
  out=$("$VRAMD" --config "$tmpdir/one.conf" --list-devices --device-types cpu 2>&1) || true
  ! echo "$out" | grep -qi "unknown" || fail "vramd.conf(5) documents '$k', which vramd calls unknown: $out"
done
pass "vramd.conf(5) documents $(wc -l <"$tmpdir/conf") keys, each an option vramd reads from a file"

start_vramd
api POST /v1/volumes -d '{"name":"dd","size":16777216}'; expect 201 "create dd"
api GET /metrics; expect 200 "/metrics"
echo "$body" | awk '/^# TYPE / { print $3 }' | sort -u >"$tmpdir/emitted"
sed -n '/^| `\(vramd\|process\)_/p' "$top/docs/api.md" | grep -oE '(vramd|process)_[a-z_]*' | sort -u >"$tmpdir/documented"
d=$(differ "$tmpdir/emitted" "$tmpdir/documented" "/metrics" "docs/api.md")
[ -z "$d" ] || fail "/metrics and docs/api.md's metrics table disagree:"$'\n'"$d"
pass "docs/api.md's table lists the $(wc -l <"$tmpdir/emitted") metrics /metrics emits, and no other"
# ...with the labels each family's samples carry (le aside), "METRIC LABEL".
echo "$body" | awk '/^# TYPE / { fam = $3 } /^#/ { next }
  match($0, /\{[^}]*\}/) { l = substr($0, RSTART + 1, RLENGTH - 2)
    while (match(l, /[a-z_]+="/)) { k = substr(l, RSTART, RLENGTH - 2)
      if (k != "le") print fam, k; l = substr(l, RSTART + RLENGTH) } }' | sort -u >"$tmpdir/labels"
awk -F'|' '$2 ~ /`(vramd|process)_/ { n = split($2, m, "`"); c = split($4, l, "`")
    for (i = 2; i <= n; i += 2) for (j = 2; j <= c; j += 2) if (l[j] ~ /^[a-z_]+$/) print m[i], l[j] }' \
  "$top/docs/api.md" | sort -u >"$tmpdir/doc-labels"
# A family with no sample in this run (vramd_volume_export_info: exports
# need a kernel device) shows no labels: such are checked by name only.
echo "$body" | awk '/^# TYPE / { fam = $3; next } /^#/ { next } fam { print fam }' | sort -u >"$tmpdir/sampled"
awk 'NR == FNR { s[$1] = 1; next } $1 in s' "$tmpdir/sampled" "$tmpdir/doc-labels" >"$tmpdir/doc-labels.s"
mv "$tmpdir/doc-labels.s" "$tmpdir/doc-labels"
d=$(differ "$tmpdir/labels" "$tmpdir/doc-labels" "/metrics" "docs/api.md")
[ -z "$d" ] || fail "/metrics and docs/api.md's metrics table disagree on labels:"$'\n'"$d"
pass "docs/api.md's table gives the $(wc -l <"$tmpdir/labels") labels /metrics puts on those metrics"

want=$(awk -F'|' '$2 ~ /`stripe_unit`/ { gsub(/ /, "", $4); print $4 }' "$top/docs/api.md")
api GET /v1/volumes/dd; expect 200 "show dd"
got=$(echo "$body" | jq -r .stripe_unit_bytes)
[ -n "$want" ] && [ "$want" = "$got" ] || fail "docs/api.md gives stripe_unit default '$want', the server $got"
pass "docs/api.md's default stripe unit ($got) is the server's"

# vramctl's tables, as the real vramctl prints them against this vramd.
export VRAMCTL_SOCKET="$tmpdir/api.sock"
# The first line a command prints (a table's header), one column a line.
header() { "$VRAMCTL" "$@" | sed -n 1p | tr -s ' ' '\n' | grep .; }
# Every column of NOUN list, from its --help.
all_columns() { "$VRAMCTL" "$1" list --help | awk '/^Columns:/ { on = 1; next } on && !NF { exit } on { print $1 }'; }
# vramctl(8)'s NOUN COLUMNS section: the names after "Shown by default:"
# or "Also:" up to the full stop ("A, B and C"), descriptions in
# parentheses dropped.
man_columns() {
  awk -v sect="$1 COLUMNS" '/^\.S[HS] / { inside = (substr($0, 5) == sect); next }
    inside && !/^\./ { gsub(/\\-/, "-"); printf "%s ", $0 }' "$top/man/vramctl.8" |
    sed 's/([^)]*)//g' | grep -o "$2:[^.]*" | sed "s/^$2://; s/ and /,/g" | tr ',' '\n' | awk 'NF { print $1 }'
}
# Fail unless the lists in files $1 and $2 (one name a line) are equal.
same_columns() {
  cmp -s "$1" "$2" || fail "$3: the docs give $(paste -sd' ' "$1"), vramctl prints $(paste -sd' ' "$2")"
}
ntables=0
for noun in device volume job; do
  NOUN=$(echo "$noun" | tr a-z A-Z)
  man_columns "$NOUN" "Shown by default" >"$tmpdir/doc-cols"
  man_columns "$NOUN" "Also" | cat "$tmpdir/doc-cols" - >"$tmpdir/doc-all"
  [ -s "$tmpdir/doc-cols" ] || fail "vramctl(8) has no $NOUN COLUMNS default list"
  header "$noun" list >"$tmpdir/real-cols"
  same_columns "$tmpdir/doc-cols" "$tmpdir/real-cols" "vramctl(8), $noun list's default columns"
  # Every column it names prints under that name...
  header "$noun" list -o "$(paste -sd, "$tmpdir/doc-all")" >"$tmpdir/real-all" ||
    fail "vramctl $noun list refuses the columns vramctl(8) names: $(paste -sd, "$tmpdir/doc-all")"
  same_columns "$tmpdir/doc-all" "$tmpdir/real-all" "vramctl(8), $noun list -o (every column)"
  # ...and it names every column the table has.
  d=$(differ <(sort "$tmpdir/doc-all") <(all_columns "$noun" | sort) "vramctl(8)" "vramctl $noun list --help")
  [ -z "$d" ] || fail "vramctl(8)'s $NOUN COLUMNS and vramctl's columns disagree:"$'\n'"$d"
  ntables=$((ntables + 1))
done
pass "vramctl(8) gives the default and other columns of the $ntables list tables as vramctl prints them"

# README.md's list commands run as written; a "# COLUMNS" comment after one
# is the header it prints.
n=0
while IFS= read -r line; do
  cmd=${line%%#*} cols=${line#*#}
  cmd=${cmd%"${cmd##*[! ]}"}
  read -ra argv <<<"${cmd#vramctl }"
  "$VRAMCTL" "${argv[@]}" >"$tmpdir/out" 2>&1 || fail "README.md's '$cmd' fails: $(cat "$tmpdir/out")"
  if [ "$cols" != "$line" ] && echo "$cols" | grep -qxE ' *[A-Z][A-Z -]*'; then
    echo "$cols" | tr -s ' ' '\n' | grep . >"$tmpdir/doc-cols"
    head -1 "$tmpdir/out" | tr -s ' ' '\n' | grep . >"$tmpdir/real-cols"
    same_columns "$tmpdir/doc-cols" "$tmpdir/real-cols" "README.md's '$cmd'"
    n=$((n + 1))
  fi
done < <(grep -E '^vramctl( -[-a-z]+)* [a-z]+ list( |$)' "$top/README.md")
[ $n -gt 0 ] || fail "README.md shows no vramctl list header to check"
pass "README.md's vramctl list commands run, and the $n headers it shows are vramctl's"

# docs/api.md: job list's columns, and volume show's connections table
# (printed while a client is connected).
text=$(tr '\n' ' ' <"$top/docs/api.md" | tr -s ' ')
jobs=$(echo "$text" | grep -o '`job list` shows the jobs (columns [^)]*)') ||
  fail "docs/api.md no longer says which columns job list shows"
jobs=${jobs#*columns }
echo "${jobs%%;*}" | tr -d ' ' | tr ',' '\n' >"$tmpdir/doc-cols"
header job list >"$tmpdir/real-cols"
same_columns "$tmpdir/doc-cols" "$tmpdir/real-cols" "docs/api.md, job list's columns"
also=${jobs#*also }
echo "${also%)}" | tr -d ' ' | tr ',' '\n' | cat "$tmpdir/doc-cols" - >"$tmpdir/doc-all"
d=$(differ <(sort "$tmpdir/doc-all") <(all_columns job | sort) "docs/api.md" "vramctl job list --help")
[ -z "$d" ] || fail "docs/api.md's job list columns and vramctl's disagree:"$'\n'"$d"
if PATH="/usr/bin:$PATH" nbdsh -c pass >/dev/null 2>&1; then
  PATH="/usr/bin:$PATH" nbdsh -u "nbd+unix:///dd?socket=$tmpdir/nbd.sock" -c 'import time; time.sleep(60)' &
  holder=$!
  on_exit "kill $holder 2>/dev/null || true"
  for _ in $(seq 1 150); do
    "$VRAMCTL" volume show dd >"$tmpdir/out"
    grep -q '^connections:' "$tmpdir/out" && break
    sleep 0.1
  done
  kill $holder 2>/dev/null || true
  wait $holder 2>/dev/null || true
  conns=$(echo "$text" | grep -o '`volume show` lists the connections ([^)]*)') ||
    fail "docs/api.md no longer says which columns volume show's connections have"
  conns=${conns#*(}
  echo "${conns%)}" | tr -d ' ' | tr ',' '\n' >"$tmpdir/doc-cols"
  sed -n '/^connections:/{n;p;q}' "$tmpdir/out" | tr -s ' ' '\n' | grep . >"$tmpdir/real-cols" ||
    fail "volume show printed no connections table with a client connected: $(cat "$tmpdir/out")"
  same_columns "$tmpdir/doc-cols" "$tmpdir/real-cols" "docs/api.md, volume show's connections"
  pass "docs/api.md gives job list's columns and volume show's connection columns as vramctl prints them"
else
  pass "docs/api.md gives job list's columns as vramctl prints them (nbdsh does not run: connections not checked)"
fi
