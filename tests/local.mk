check_PROGRAMS += tests/unit/test_util
tests_unit_test_util_SOURCES = tests/unit/test_util.c
tests_unit_test_util_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_util_LDADD = $(CUNIT_LIBS)
TESTS += tests/unit/test_util

TESTS += tests/integration/list-devices.sh
dist_noinst_SCRIPTS += tests/integration/list-devices.sh \
	tests/integration/functions.sh

check_PROGRAMS += tests/engine/test_engine
tests_engine_test_engine_SOURCES = tests/engine/test_engine.c
tests_engine_test_engine_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_engine_test_engine_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
TESTS += tests/engine/test_engine

# The management plane: JSON bodies and metrics text, then the API, vramctl,
# state, metrics and systemd against a running vramd.
check_PROGRAMS += tests/unit/test_api
tests_unit_test_api_SOURCES = tests/unit/test_api.c
tests_unit_test_api_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_api_LDADD = api/libvdapi.a daemon/libvdcore.a daemon/libvdmap.a \
	common/libvdcommon.a $(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
TESTS += tests/unit/test_api
API_TESTS = tests/integration/api-routes.sh tests/integration/api-bad-input.sh \
	tests/integration/vramctl.sh tests/integration/state.sh \
	tests/integration/concurrency.sh tests/integration/metrics.sh \
	tests/integration/systemd.sh
TESTS += $(API_TESTS)
dist_noinst_SCRIPTS += $(API_TESTS) tests/fuzz/run-api-fuzz.sh
EXTRA_DIST += tests/fuzz/fuzz_api_body.c tests/fuzz/fuzz_config.c
