#!/bin/sh
# package.sh BUILDDIR: build the .deb from BUILDDIR's `make dist` tarball,
# check it with lintian, install it with apt-get (dependencies resolve),
# verify the installed systemd units, run the installed vramd and vramctl
# (tests/package-run.sh), purge it and check nothing is left.  Then build
# the RPM with rpmbuild -tb.  Needs root and a system where installing
# packages is fine (CI).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(readlink -f "${1:-$top/build-ci}")
[ "$(id -u)" = 0 ] || { echo "package.sh: run as root (it installs the .deb)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
out=$(mktemp -d "${TMPDIR:-/tmp}/vramd-pkg.XXXXXX")
# Leave no package installed, however the script ends.
cleanup() {
  dpkg -s vramd >/dev/null 2>&1 && apt-get purge -y -qq vramd >/dev/null 2>&1
  rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "== make dist"
(cd "$build" && make dist >/dev/null)
tarball=$(ls "$build"/vramd-*.tar.gz | head -n 1)

echo "== dpkg-buildpackage (nocheck: the tests ran already)"
DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" "$top/packaging/build-deb.sh" "$tarball" "$out" \
  >"$out/build.log" 2>&1 || { tail -n 50 "$out/build.log"; exit 1; }
deb=$(ls "$out"/vramd_*.deb)

echo "== lintian (errors fail; warnings left are explained in docs/systemd.md)"
lintian --fail-on error --suppress-tags-from-file "$top/packaging/lintian-known.txt" "$deb"

echo "== apt-get install $(basename "$deb")"
apt-get install -y -qq "$deb" >/dev/null
getent group vramd >/dev/null || { echo "FAIL: no vramd group"; exit 1; }
[ "$(stat -c '%a %U %G' /run/vramd)" = "750 root vramd" ] ||
  { echo "FAIL: /run/vramd is $(stat -c '%a %U %G' /run/vramd)"; exit 1; }
[ -d /var/lib/vramd ] || { echo "FAIL: no /var/lib/vramd"; exit 1; }
dpkg-query -W -f '${Conffiles}\n' vramd | grep -q /etc/vramd/vramd.conf ||
  { echo "FAIL: /etc/vramd/vramd.conf is not a conffile"; exit 1; }

echo "== systemd-analyze verify on the installed units"
cp /lib/systemd/system/vramd-swap@.service "$out/vramd-swap@swap0.service"
(cd /lib/systemd/system && systemd-analyze verify --man=no vramd.service vramd.socket \
  vramd-metrics.socket "$out/vramd-swap@swap0.service")
systemd-analyze security --offline=yes --no-pager /lib/systemd/system/vramd.service |
  tail -n 1

echo "== run the installed vramd and vramctl"
"$top/tests/package-run.sh"

echo "== apt-get purge vramd"
apt-get purge -y -qq vramd >/dev/null
left=$(ls -d /usr/sbin/vramd /usr/bin/vramctl /etc/vramd /var/lib/vramd /run/vramd \
  /lib/systemd/system/vramd* /usr/share/doc/vramd 2>/dev/null || true)
[ -z "$left" ] || { echo "FAIL: left after purge: $left"; exit 1; }
echo "PASS: the package installs, runs and purges cleanly"

echo "== rpmbuild -tb (--nodeps: Fedora's build dependencies are not Debian packages)"
if command -v rpmbuild >/dev/null; then
  timeout 600 rpmbuild -tb --nodeps --define "_topdir $out/rpm" "$tarball" >"$out/rpm.log" 2>&1 ||
    { tail -n 50 "$out/rpm.log"; exit 1; }
  ls "$out"/rpm/RPMS/*/vramd-*.rpm
  rpm -qlp "$out"/rpm/RPMS/*/vramd-[0-9]*.rpm | grep -q '^/usr/sbin/vramd$' ||
    { echo "FAIL: the RPM has no /usr/sbin/vramd"; exit 1; }
else
  echo "SKIP: rpmbuild not installed"
fi
echo "package.sh: all passed"
