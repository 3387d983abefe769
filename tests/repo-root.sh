#!/bin/sh
# repo-root.sh: the repository root holds only what belongs there.  Every
# tracked top-level entry must be on the list below, and nothing untracked
# and not ignored may sit at the root (fio's verify-state files once did).
# Needs a git checkout; ci.sh runs it before anything is built.
set -eu
cd "$(dirname "$0")/.."
allowed=".ci .clang-format .gitignore Makefile.am README.md configure.ac demo.sh
api bench cli common daemon docs etc frontends m4 man packaging tests"
bad=0
for e in $(git ls-files | cut -d/ -f1 | sort -u); do
  case " $(echo $allowed) " in
    *" $e "*) ;;
    *) echo "repo-root: '$e' is tracked at the root but is not one of: $(echo $allowed)" >&2
       bad=1 ;;
  esac
done
stray=$(git status --porcelain --untracked-files=normal . | awk '$1 == "??" && $2 !~ /\// { print $2 }')
if [ -n "$stray" ]; then
  echo "repo-root: untracked files at the root (remove them or ignore them):" $stray >&2
  bad=1
fi
[ $bad = 0 ] && echo "repo-root: ok ($(git ls-files | cut -d/ -f1 | sort -u | wc -l) top-level entries)"
exit $bad
