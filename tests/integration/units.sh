#!/usr/bin/env bash
# The systemd units as built (ExecStart from sbindir/bindir) pass
# systemd-analyze verify, with program paths pointed at this build.
. "$(dirname "$0")/functions.sh"
requires systemd-analyze
u="$tmpdir/units"
mkdir -p "$u"
for f in vramd.service vramd-swap@.service; do
  [ -f "$top_builddir/etc/systemd/$f" ] || (cd "$top_builddir" && make -s "etc/systemd/$f")
  sed -E -e "s|=(-?)[^ =]*/sbin/vramd|=\\1$VRAMD|" -e "s|[^ =\$']*/bin/vramctl|$VRAMCTL|g" \
    "$top_builddir/etc/systemd/$f" >"$u/$f"
done
grep -q "^ExecStart=$VRAMD\$" "$u/vramd.service" || fail "ExecStart not from sbindir: $(grep ExecStart= "$u/vramd.service")"
cp "$top_srcdir"/etc/systemd/*.socket "$u/"
mv "$u/vramd-swap@.service" "$u/vramd-swap@swap0.service"
(cd "$u" && systemd-analyze verify --man=no vramd.service vramd.socket vramd-metrics.socket \
  vramd-swap@swap0.service) >"$tmpdir/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$tmpdir/verify.log")"
[ ! -s "$tmpdir/verify.log" ] || fail "systemd-analyze verify warned: $(cat "$tmpdir/verify.log")"
pass "systemd-analyze verify: vramd.service, vramd.socket, vramd-metrics.socket, vramd-swap@"
