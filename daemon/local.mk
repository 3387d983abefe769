# The volume map is pure code; the pool and engine talk OpenCL.
noinst_LIBRARIES += daemon/libvdmap.a daemon/libvdcore.a
daemon_libvdmap_a_SOURCES = daemon/map/volmap.h daemon/map/volmap.c
daemon_libvdmap_a_CPPFLAGS = $(VD_INC_MAP) $(VD_DEFS)

daemon_libvdcore_a_SOURCES = \
	daemon/pool/pool.h daemon/pool/pool-cl.h daemon/pool/pool-internal.h \
	daemon/pool/pool.c daemon/pool/driver-copy.c daemon/pool/extent.c daemon/pool/nvml.c daemon/pool/clerr.c \
	daemon/pool/health.c daemon/pool/watch.c daemon/pool/fault.h daemon/pool/fault.c \
	daemon/pool/stock.c daemon/pool/devstate.c daemon/pool/copy.c \
	daemon/engine/engine.h daemon/engine/engine-internal.h daemon/engine/engine.c \
	daemon/engine/placement.c daemon/engine/mirror.c daemon/engine/heal.c \
	daemon/engine/small.h daemon/engine/small.c \
	daemon/engine/kernels.h daemon/engine/kernels.c \
	daemon/engine/sums.h daemon/engine/sums.c daemon/engine/sum-kernels.c \
	daemon/engine/parity.h daemon/engine/parity.c daemon/engine/parity-kernels.c \
	daemon/engine/scrubber.c \
	daemon/volume/volume.h daemon/volume/volume.c daemon/volume/registry.c \
	daemon/volume/keeper.c daemon/volume/move.c daemon/volume/resize.c \
	daemon/volume/scrub.c \
	daemon/volume/repair.c \
	daemon/vramd.h daemon/core.c daemon/attach.c daemon/resize-volume.c daemon/settings.h \
	daemon/config.c \
	daemon/safety.h daemon/safety.c daemon/frontends.h daemon/frontends.c \
	daemon/pinned.h daemon/pinned.c daemon/state.h daemon/state.c \
	daemon/service.h daemon/service.c daemon/journal.c daemon/signals.h daemon/signals.c \
	daemon/list.h daemon/list.c \
	daemon/elastic.h daemon/elastic.c \
	daemon/jobs.h daemon/jobs.c daemon/job-sleep.h daemon/job-sleep.c \
	daemon/caller.h daemon/caller.c daemon/imgfile.h daemon/imgfile.c \
	daemon/imgio.h daemon/imgio.c daemon/save.h daemon/save.c \
	daemon/persist.h daemon/persist.c \
	daemon/integrity.h daemon/integrity.c \
	daemon/export-volume.h daemon/export-volume.c daemon/export/nvmet.h daemon/export/nvmet.c \
	daemon/export/nvmet-plain.c
daemon_libvdcore_a_CPPFLAGS = $(VD_INC_CORE) $(VD_DEFS)
daemon_libvdcore_a_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS) $(JANSSON_CFLAGS) $(SYSTEMD_CFLAGS) \
	$(LIBURING_CFLAGS)

# Everything vramd links, in the one order the layers allow (each library
# calls only those after it); frontends and the API add to it.
VRAMD_LIBS = frontends/libvdfrontends.a daemon/libvdcore.a daemon/libvdmap.a \
	common/libvdcommon.a $(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)

sbin_PROGRAMS += daemon/vramd
daemon_vramd_SOURCES = daemon/main.c
daemon_vramd_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
daemon_vramd_LDADD = api/libvdapi.a $(VRAMD_LIBS) $(MHD_LIBS) $(SYSTEMD_LIBS)
