#!/bin/sh
# build-deb.sh TARBALL [OUTDIR]: unpack a `make dist` tarball, put
# packaging/debian in as debian/, and build the binary .deb with
# dpkg-buildpackage -us -uc -b.  The .deb and .buildinfo land in OUTDIR
# (default: the current folder).  DEB_BUILD_OPTIONS passes through (CI
# sets nocheck: it already ran the tests).
set -eu
[ $# -ge 1 ] || { echo "usage: build-deb.sh vramd-VERSION.tar.gz [OUTDIR]" >&2; exit 2; }
tarball=$(readlink -f "$1")
out=$(readlink -f "${2:-.}")
work=$(mktemp -d "${TMPDIR:-/tmp}/vramd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

base=$(basename "$tarball" .tar.gz)          # vramd-0.1.0
version=${base#vramd-}
tar -xzf "$tarball" -C "$work"
src="$work/$base"
cp -R "$src/packaging/debian" "$src/debian"
# The group comes from the same sysusers.d file that make install ships.
cp "$src/etc/sysusers.d/vramd.conf" "$src/debian/vramd.sysusers"
deb_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[ "${deb_version%-*}" = "$version" ] ||
  { echo "build-deb.sh: debian/changelog says $deb_version, the tarball is $version" >&2; exit 1; }
# 3.0 (quilt) wants the upstream tarball beside the tree (lintian reads it too).
cp "$tarball" "$work/vramd_$version.orig.tar.gz"
(cd "$src" && timeout 900 dpkg-buildpackage -us -uc -b)
mkdir -p "$out"
cp "$work"/vramd_*.deb "$work"/vramd_*.buildinfo "$work"/vramd_*.changes "$out"/
ls "$out"/vramd_*.deb
