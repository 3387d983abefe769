check_PROGRAMS += tests/unit/test_util
tests_unit_test_util_SOURCES = tests/unit/test_util.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_util_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_util_LDADD = $(CUNIT_LIBS)
TESTS += tests/unit/test_util

# common/listen.c: every listening socket of vramd.
check_PROGRAMS += tests/unit/test_listen
tests_unit_test_listen_SOURCES = tests/unit/test_listen.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_listen_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_listen_LDADD = common/libvdcommon.a $(CUNIT_LIBS)
TESTS += tests/unit/test_listen

check_PROGRAMS += tests/unit/test_peer
tests_unit_test_peer_SOURCES = tests/unit/test_peer.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_peer_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_peer_LDADD = common/libvdcommon.a $(CUNIT_LIBS)
TESTS += tests/unit/test_peer

# vramd.conf and options: the pinned-memory settings and their messages.
check_PROGRAMS += tests/unit/test_config
tests_unit_test_config_SOURCES = tests/unit/test_config.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_config_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_config_LDADD = frontends/libvdfrontends.a daemon/libvdcore.a daemon/libvdmap.a \
	common/libvdcommon.a $(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBURING_LIBS) \
	$(LIBNL_LIBS) $(GNUTLS_LIBS) $(LIBS)
TESTS += tests/unit/test_config

# The registry and core.c's rollback, with their neighbours stubbed.
check_PROGRAMS += tests/unit/test_registry tests/unit/test_core
tests_unit_test_registry_SOURCES = tests/unit/test_registry.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_registry_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_unit_test_registry_LDADD = $(CUNIT_LIBS)
tests_unit_test_core_SOURCES = tests/unit/test_core.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_core_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_core_LDADD = common/libvdcommon.a $(CUNIT_LIBS)
TESTS += tests/unit/test_registry tests/unit/test_core
# daemon/jobs.c: real job threads driven step by step from the test.
check_PROGRAMS += tests/unit/test_jobs
tests_unit_test_jobs_SOURCES = tests/unit/test_jobs.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_jobs_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_jobs_LDADD = common/libvdcommon.a $(CUNIT_LIBS)
TESTS += tests/unit/test_jobs tests/integration/jobs.sh
dist_noinst_SCRIPTS += tests/integration/jobs.sh

TESTS += tests/integration/list-devices.sh tests/integration/ublk-unavailable.sh \
	tests/integration/host-memory.sh
dist_noinst_SCRIPTS += tests/integration/list-devices.sh tests/integration/ublk-unavailable.sh \
	tests/integration/host-memory.sh \
	tests/integration/functions.sh

check_PROGRAMS += tests/engine/test_engine
tests_engine_test_engine_SOURCES = tests/engine/test_engine.c tests/unit/runner.c tests/unit/runner.h
tests_engine_test_engine_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_engine_test_engine_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
TESTS += tests/engine/test_engine

# Extents moved between devices while writers and readers run.
check_PROGRAMS += tests/engine/test_move
tests_engine_test_move_SOURCES = tests/engine/test_move.c tests/unit/runner.c tests/unit/runner.h \
	tests/engine/integ-util.c tests/engine/integ-util.h
tests_engine_test_move_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_engine_test_move_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
TESTS += tests/engine/test_move

# Checksums (integrity): the GPU's CRC-32C, and every flipped bit found.
check_PROGRAMS += tests/engine/test_integrity
tests_engine_test_integrity_SOURCES = tests/engine/test_integrity.c tests/unit/runner.c \
	tests/unit/runner.h tests/engine/integ-util.c tests/engine/integ-util.h
tests_engine_test_integrity_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_engine_test_integrity_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
TESTS += tests/engine/test_integrity tests/integration/integrity.sh
dist_noinst_SCRIPTS += tests/integration/integrity.sh

# Parity (integrity crc32c+parity): kept by every write, single flips
# rebuilt by reads and scrubs, doubles failed.
check_PROGRAMS += tests/engine/test_parity
tests_engine_test_parity_SOURCES = tests/engine/test_parity.c tests/unit/runner.c \
	tests/unit/runner.h tests/engine/integ-util.c tests/engine/integ-util.h
tests_engine_test_parity_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_engine_test_parity_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
TESTS += tests/engine/test_parity tests/integration/parity.sh
dist_noinst_SCRIPTS += tests/integration/parity.sh

# Kernel tests (ublk, kernel NBD attach) in a QEMU guest; not part of
# `make check` since they download a kernel and take minutes.  A host where
# qemu cannot run at all skips them with the reason.
EXTRA_DIST += tests/kernel/vmtest.sh tests/kernel/check-kernel.sh \
	tests/kernel/guest-lib.sh tests/kernel/guest-suite.sh tests/kernel/guest-nbd.sh \
	tests/kernel/guest-elastic.sh tests/kernel/guest-mirror.sh \
	tests/kernel/guest-attach.sh tests/kernel/guest-resize.sh tests/kernel/guest-nvmet.sh
# guest-mirror.sh loses devices through the OpenCL failure shim.
check-kernel: all tests/shim/libclfault.so$(EXEEXT)
	@top_builddir='$(abs_top_builddir)' bash $(top_srcdir)/tests/kernel/check-kernel.sh; \
	rc=$$?; if test $$rc = 77; then echo "check-kernel: skipped (see above)"; exit 0; fi; exit $$rc
.PHONY: check-kernel

# The swap soak (docs/swap-soak.md): SWAP_SOAK_SECONDS of swapping through
# a ublk and a kernel-NBD volume in the guest; far beyond CI's time budget,
# so neither `make check` nor tests/ci.sh runs it.
SWAP_SOAK_SECONDS = 600
EXTRA_PROGRAMS = tests/kernel/swap-worker
tests_kernel_swap_worker_SOURCES = tests/kernel/swap-worker.c
CLEANFILES += tests/kernel/swap-worker$(EXEEXT)
EXTRA_DIST += tests/kernel/guest-swap-soak.sh docs/swap-soak.md tests/unit/no-cunit.h
check-swap-soak: all tests/kernel/swap-worker$(EXEEXT)
	@top_builddir='$(abs_top_builddir)' VM_OUT='$(abs_top_builddir)/tests/kernel/out-swap-soak' \
	VM_TIMEOUT=$$(($(SWAP_SOAK_SECONDS) + 1500)) \
	bash $(top_srcdir)/tests/kernel/check-kernel.sh guest-swap-soak.sh $(SWAP_SOAK_SECONDS); \
	rc=$$?; if test $$rc = 77; then echo "check-swap-soak: skipped (see above)"; exit 0; fi; exit $$rc
.PHONY: check-swap-soak

# The volume spec codec: JSON and key=value round trips, bad values, and
# state files as version 1 wrote them.
check_PROGRAMS += tests/unit/test_spec
tests_unit_test_spec_SOURCES = tests/unit/test_spec.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_spec_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_spec_LDADD = common/libvdcommon.a $(CUNIT_LIBS) $(JANSSON_LIBS)
TESTS += tests/unit/test_spec

check_PROGRAMS += tests/unit/test_volmap
tests_unit_test_volmap_SOURCES = tests/unit/test_volmap.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_volmap_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) -I$(top_srcdir)/daemon/map
tests_unit_test_volmap_LDADD = $(CUNIT_LIBS)
TESTS += tests/unit/test_volmap

# NBD server: pure request/option checks, then real clients and bad input.
check_PROGRAMS += tests/unit/test_nbd
tests_unit_test_nbd_SOURCES = tests/unit/test_nbd.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_nbd_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_nbd_LDADD = $(CUNIT_LIBS)
TESTS += tests/unit/test_nbd
check_PROGRAMS += tests/unit/test_nbd_guard
tests_unit_test_nbd_guard_SOURCES = tests/unit/test_nbd_guard.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_nbd_guard_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_nbd_guard_LDADD = common/libvdcommon.a $(CUNIT_LIBS)
TESTS += tests/unit/test_nbd_guard
# handshake.c over a socketpair; the registry is real, sessions are stubs.
check_PROGRAMS += tests/unit/test_nbd_handshake
tests_unit_test_nbd_handshake_SOURCES = tests/unit/test_nbd_handshake.c tests/unit/runner.c \
	tests/unit/runner.h
tests_unit_test_nbd_handshake_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS) \
	$(GNUTLS_CFLAGS)
tests_unit_test_nbd_handshake_LDADD = common/libvdcommon.a $(CUNIT_LIBS) $(GNUTLS_LIBS)
TESTS += tests/unit/test_nbd_handshake
NBD_TESTS = tests/integration/nbd-info.sh tests/integration/nbd-copy.sh \
	tests/integration/nbd-fio.sh tests/integration/nbd-fs.sh \
	tests/integration/nbd-bad-drop.sh tests/integration/nbd-bad-garbage.sh \
	tests/integration/nbd-bad-options.sh tests/integration/nbd-bad-huge.sh \
	tests/integration/nbd-bad-past-end.sh tests/integration/nbd-bad-pipeline.sh \
	tests/integration/nbd-bad-many.sh tests/integration/nbd-staging.sh \
	tests/integration/nbd-bad-stall.sh tests/integration/nbd-bad-names.sh
TESTS += $(NBD_TESTS)
dist_noinst_SCRIPTS += $(NBD_TESTS) tests/integration/nbd-raw.py tests/repo-root.sh
# NBD over TLS (nbd-tls): PSK, X.509, modes, a stalled handshake.
NBD_TLS_TESTS = tests/integration/nbd-tls-psk.sh tests/integration/nbd-tls-modes.sh \
	tests/integration/nbd-tls-stall.sh tests/integration/nbd-tls-x509.sh
TESTS += $(NBD_TLS_TESTS)
dist_noinst_SCRIPTS += $(NBD_TLS_TESTS) tests/integration/nbd-tls-lib.sh

# libFuzzer targets (clang): `make fuzz [FUZZ_SECONDS=30]`; tests/ci.sh runs them.
FUZZ_SECONDS = 30
EXTRA_DIST += tests/fuzz/run.sh tests/fuzz/fuzz_nbd_request.c tests/fuzz/fuzz_nbd_option.c \
	tests/fuzz/corpus
fuzz:
	$(abs_top_srcdir)/tests/fuzz/run.sh $(FUZZ_SECONDS)
.PHONY: fuzz
# The management plane: JSON bodies and metrics text, then the API, vramctl,
# state, metrics and systemd against a running vramd.
check_PROGRAMS += tests/unit/test_api
tests_unit_test_api_SOURCES = tests/unit/test_api.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_api_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_api_LDADD = api/libvdapi.a daemon/libvdcore.a daemon/libvdmap.a \
	common/libvdcommon.a $(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
TESTS += tests/unit/test_api
API_TESTS = tests/integration/api-routes.sh tests/integration/api-bad-input.sh \
	tests/integration/vramctl.sh tests/integration/state.sh \
	tests/integration/concurrency.sh tests/integration/metrics.sh \
	tests/integration/systemd.sh tests/integration/api-flood.sh \
	tests/integration/vramctl-hostile.sh tests/integration/vramctl-cli.sh \
	tests/integration/attach-detach.sh
TESTS += $(API_TESTS)
dist_noinst_SCRIPTS += $(API_TESTS) tests/integration/trickle.py \
	tests/integration/fake-vramd.py
EXTRA_DIST += tests/fuzz/fuzz_api_body.c tests/fuzz/fuzz_config.c
# Reliability and security (docs/reliability.md): faults injected through
# the test-only POST /v1/faults, clients that vanish, signals, data safety,
# access, and a bounded soak.
REL_TESTS = tests/integration/faults.sh tests/integration/nbd-vanish.sh \
	tests/integration/data-safety.sh tests/integration/signals.sh \
	tests/integration/access.sh tests/integration/soak.sh \
	tests/integration/nbd-flood-unix.sh tests/integration/nbd-flood-tcp.sh \
	tests/integration/nbd-log-flood.sh
TESTS += $(REL_TESTS)
dist_noinst_SCRIPTS += $(REL_TESTS) tests/integration/nbd-vanish.py \
	tests/integration/nbd-flood.py tests/integration/nbd-flood-lib.sh
EXTRA_DIST += docs/reliability.md docs/limits.md docs/architecture.md docs/scale-out.md
# Every signal, SIGTERM during start-up, state that cannot be saved or
# read, and config files read as written.
HARDEN_TESTS = tests/integration/signals-all.sh tests/integration/signals-start.sh \
	tests/integration/state-bad.sh tests/integration/config-bad.sh
TESTS += $(HARDEN_TESTS)
dist_noinst_SCRIPTS += $(HARDEN_TESTS)
# bash completion against a running vramd; the systemd units as built.
TESTS += tests/integration/completion.sh tests/integration/units.sh
# The docs against the binaries: vramd(8), vramd.conf(5), the metrics table.
TESTS += tests/integration/docs-drift.sh
dist_noinst_SCRIPTS += tests/integration/docs-drift.sh
# The journal: native entries with VOLUME=, DEVICE=, JOB= when stderr is it.
TESTS += tests/integration/journal.sh
dist_noinst_SCRIPTS += tests/integration/journal.sh
# docs/openapi.json against every answer of the server.
TESTS += tests/integration/openapi.sh
dist_noinst_SCRIPTS += tests/integration/openapi.sh tests/integration/openapi-check.py
EXTRA_DIST += docs/openapi.json
# Listeners first and logged: a metrics port in use stops vramd early.
TESTS += tests/integration/listen-first.sh
dist_noinst_SCRIPTS += tests/integration/listen-first.sh
# Sizes as a share of free VRAM: all, N%FREE.
TESTS += tests/integration/size-free.sh
TESTS += tests/integration/thin.sh tests/integration/elastic.sh tests/integration/create-job.sh
dist_noinst_SCRIPTS += tests/integration/thin.sh tests/integration/elastic.sh \
	tests/integration/create-job.sh
dist_noinst_SCRIPTS += tests/integration/size-free.sh
dist_noinst_SCRIPTS += tests/integration/completion.sh tests/integration/units.sh
# A device that fails for real: tests/shim/libclfault.so, preloaded into
# vramd, makes the OpenCL calls on one device return a lost device's errors.
check_PROGRAMS += tests/shim/libclfault.so
tests_shim_libclfault_so_SOURCES = tests/shim/clfault.c
tests_shim_libclfault_so_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS) -fPIC
tests_shim_libclfault_so_LDFLAGS = $(AM_LDFLAGS) -shared
tests_shim_libclfault_so_LDADD = $(OPENCL_LIBS) $(LIBS)
TESTS += tests/integration/device-loss.sh
dist_noinst_SCRIPTS += tests/integration/device-loss.sh
TESTS += tests/integration/write-ack.sh
dist_noinst_SCRIPTS += tests/integration/write-ack.sh
TESTS += tests/integration/driver-copies.sh
dist_noinst_SCRIPTS += tests/integration/driver-copies.sh
# Mirrors: a device lost under fio with verify, and the copy rebuilt.
TESTS += tests/integration/mirror.sh
dist_noinst_SCRIPTS += tests/integration/mirror.sh
TESTS += tests/integration/mirror-heal.sh
dist_noinst_SCRIPTS += tests/integration/mirror-heal.sh
TESTS += tests/integration/scrub-background.sh
dist_noinst_SCRIPTS += tests/integration/scrub-background.sh
# Which errors mean a device is gone (OpenCL, NVML), and a lost device on
# a real PoCL pool: its volumes fail whole, the other device serves on.
check_PROGRAMS += tests/unit/test_health
tests_unit_test_health_SOURCES = tests/unit/test_health.c tests/unit/runner.c tests/unit/runner.h
tests_unit_test_health_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_unit_test_health_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
TESTS += tests/unit/test_health
# A checksummed mirror's copy rebuilt with its checksums.
TESTS += tests/integration/mirror-sums.sh
dist_noinst_SCRIPTS += tests/integration/mirror-sums.sh
# A degraded mirror scrubbed: stale copies skipped, the others checked.
TESTS += tests/integration/mirror-scrub-lost.sh
dist_noinst_SCRIPTS += tests/integration/mirror-scrub-lost.sh
# The layers of docs/architecture.md: no include reaches past its layer.
TESTS += tests/layers.sh
dist_noinst_SCRIPTS += tests/layers.sh
# Device states, the reserve set at run time, and copies between extents,
# on a real PoCL pool of two devices.
check_PROGRAMS += tests/engine/test_devstate tests/engine/test_copy
tests_engine_test_devstate_SOURCES = tests/engine/test_devstate.c tests/unit/runner.c tests/unit/runner.h
tests_engine_test_devstate_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_engine_test_devstate_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(CUNIT_LIBS) $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
tests_engine_test_copy_SOURCES = tests/engine/test_copy.c tests/unit/runner.c tests/unit/runner.h
tests_engine_test_copy_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(OPENCL_CFLAGS)
tests_engine_test_copy_LDADD = $(tests_engine_test_devstate_LDADD)
TESTS += tests/engine/test_devstate tests/engine/test_copy
# PATCH /v1/devices/{id} and vramctl device set; device states shown.
TESTS += tests/integration/device-set.sh
dist_noinst_SCRIPTS += tests/integration/device-set.sh
# Online resize: grow, forced shrink, thin, bad sizes, restart, I/O while growing.
TESTS += tests/integration/resize.sh
dist_noinst_SCRIPTS += tests/integration/resize.sh

# Save, load and restore: round trips, cancel, a full disk, the caller's
# rights, and saves under writes.
TESTS += tests/integration/save-restore.sh
dist_noinst_SCRIPTS += tests/integration/save-restore.sh

# Volumes with persist: a clean restart, SIGKILL, an interrupted save and
# a corrupt image.
TESTS += tests/integration/persist.sh
dist_noinst_SCRIPTS += tests/integration/persist.sh

# daemon/export/nvmet.c against a folder that mimics nvmet's configfs.
check_PROGRAMS += tests/unit/test_nvmet
tests_unit_test_nvmet_SOURCES = tests/unit/test_nvmet.c tests/unit/runner.c tests/unit/runner.h \
	daemon/export/nvmet.c daemon/export/nvmet-plain.c
tests_unit_test_nvmet_CPPFLAGS = $(VD_INC_COMMON) -I$(top_srcdir)/daemon/export $(VD_DEFS)
tests_unit_test_nvmet_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(JANSSON_CFLAGS)
tests_unit_test_nvmet_LDADD = common/libvdcommon.a $(CUNIT_LIBS) $(JANSSON_LIBS)
TESTS += tests/unit/test_nvmet
