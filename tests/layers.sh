#!/bin/sh
# layers.sh: every #include "..." in a library's sources resolves in the
# folders its layer may use (docs/architecture.md, "Who may include
# whom").  The include paths in Makefile.am give each library only those
# folders; this also catches what they cannot: a path such as
# "nbd/nbd-internal.h" or "daemon/vramd.h" that reaches into another
# layer through a folder it may see.  A path with a slash must lie below
# the including file's own folder.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"

# The folders a source folder's files may include from (their own is
# always allowed); keep in step with the VD_INC_* lists in Makefile.am.
allowed() {
  map="common daemon/map"
  engine="$map daemon/pool daemon/engine"
  volume="$engine daemon/volume"
  case $1 in
  common) echo common ;;
  daemon/map) echo "$map" ;;
  daemon/pool | daemon/engine) echo "$engine" ;;
  daemon/volume) echo "$volume" ;;
  daemon/export) echo common ;;
  frontends | frontends/*) echo "$volume frontends" ;;
  daemon) echo "$volume frontends daemon" ;;
  api) echo "$volume frontends daemon api" ;;
  cli) echo "common cli" ;;
  esac
}

bad=0
for f in common/*.[ch] daemon/*.[ch] daemon/*/*.[ch] frontends/*.[ch] frontends/*/*.[ch] \
         api/*.[ch] cli/*.[ch]; do
  dir=$(dirname "$f")
  # main.c links everything and may see everything.
  [ "$f" = daemon/main.c ] && continue
  for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
    [ "$inc" = config.h ] && continue
    [ -e "$dir/$inc" ] && continue
    ok=
    case $inc in
    */*) ;;
    *) for d in $(allowed "$dir"); do [ -e "$d/$inc" ] && ok=1; done ;;
    esac
    if [ -z "$ok" ]; then
      echo "layers.sh: $f includes \"$inc\", which its layer may not use" >&2
      bad=1
    fi
  done
done
[ "$bad" = 0 ] || exit 1
echo "layers.sh: every include stays within its layer"
