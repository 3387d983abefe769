# Debian and RPM packaging travel in the dist tarball (packaging/build-deb.sh,
# rpmbuild -tb); tests/package.sh builds, installs and removes the .deb.
EXTRA_DIST += packaging/build-deb.sh packaging/rpm/vramd.spec packaging/rpm/vramd.spec.in \
	packaging/debian/control packaging/debian/rules packaging/debian/changelog \
	packaging/debian/copyright packaging/debian/source/format \
	packaging/debian/vramd.docs \
	packaging/debian/vramd.postrm packaging/lintian-known.txt \
	tests/package.sh tests/package-run.sh docs/systemd.md
