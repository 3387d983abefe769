#!/usr/bin/env bash
# docs-drift: the docs say what the binaries and the server really do.
# - every long option of `vramd --help` is in vramd(8), and back;
# - every vramd.conf(5) key is a long option (config keys are the long
#   option names), and every option but the command-only ones is a key;
# - every metric /metrics emits is in docs/api.md's table with its
#   labels, and back;
# - docs/api.md's default stripe unit is what the server gives;
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
d=$(differ "$tmpdir/labels" "$tmpdir/doc-labels" "/metrics" "docs/api.md")
[ -z "$d" ] || fail "/metrics and docs/api.md's metrics table disagree on labels:"$'\n'"$d"
pass "docs/api.md's table gives the $(wc -l <"$tmpdir/labels") labels /metrics puts on those metrics"

want=$(awk -F'|' '$2 ~ /`stripe_unit`/ { gsub(/ /, "", $4); print $4 }' "$top/docs/api.md")
api GET /v1/volumes/dd; expect 200 "show dd"
got=$(echo "$body" | jq -r .stripe_unit_bytes)
[ -n "$want" ] && [ "$want" = "$got" ] || fail "docs/api.md gives stripe_unit default '$want', the server $got"
pass "docs/api.md's default stripe unit ($got) is the server's"
