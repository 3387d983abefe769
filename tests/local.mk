check_PROGRAMS += tests/unit/test_util
tests_unit_test_util_SOURCES = tests/unit/test_util.c
tests_unit_test_util_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_util_LDADD = $(CUNIT_LIBS)
TESTS += tests/unit/test_util

TESTS += tests/integration/list-devices.sh tests/integration/ublk-unavailable.sh
dist_noinst_SCRIPTS += tests/integration/list-devices.sh tests/integration/ublk-unavailable.sh \
	tests/integration/functions.sh

check_PROGRAMS += tests/engine/test_engine
tests_engine_test_engine_SOURCES = tests/engine/test_engine.c
tests_engine_test_engine_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_engine_test_engine_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
TESTS += tests/engine/test_engine

# Kernel tests (ublk, kernel NBD attach) in a QEMU guest; not part of
# `make check` since they download a kernel and take minutes.  A host where
# qemu cannot run at all skips them with the reason.
EXTRA_DIST += tests/kernel/vmtest.sh tests/kernel/check-kernel.sh \
	tests/kernel/guest-lib.sh tests/kernel/guest-suite.sh
check-kernel: all
	@top_builddir='$(abs_top_builddir)' bash $(top_srcdir)/tests/kernel/check-kernel.sh; \
	rc=$$?; if test $$rc = 77; then echo "check-kernel: skipped (see above)"; exit 0; fi; exit $$rc
.PHONY: check-kernel
