noinst_PROGRAMS += bench/engine-bench
bench_engine_bench_SOURCES = bench/engine-bench.c bench/engine-lat.h bench/engine-lat.c
bench_engine_bench_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS)
bench_engine_bench_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)

noinst_PROGRAMS += bench/sock-bench
bench_sock_bench_SOURCES = bench/sock-bench.c
bench_sock_bench_LDADD = common/libvdcommon.a $(LIBS)
EXTRA_DIST += bench/README.md bench/RESULTS.md bench/run.sh bench/nbd-bench.sh \
	bench/make-bundle.sh bench/gpu-env.sh bench/guest-qd1.sh bench/mem-bench.sh \
	bench/mem-breakdown.awk bench/elastic.sh bench/save-bench.sh bench/tls-bench.sh \
	bench/mirror-bench.sh

noinst_PROGRAMS += bench/cl-bare
bench_cl_bare_SOURCES = bench/cl-bare.c
bench_cl_bare_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS)
bench_cl_bare_LDADD = daemon/libvdcore.a $(OPENCL_LIBS) $(LIBS)

# The driver alone: small transfers from one thread per device, 1..N devices.
noinst_PROGRAMS += bench/cl-calls
bench_cl_calls_SOURCES = bench/cl-calls.c
bench_cl_calls_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS)
bench_cl_calls_LDADD = $(OPENCL_LIBS) -lpthread $(LIBS)

# Another process that wants VRAM: what a yield makes room for.
noinst_PROGRAMS += bench/vram-hog
bench_vram_hog_SOURCES = bench/vram-hog.c
bench_vram_hog_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS)
bench_vram_hog_LDADD = $(OPENCL_LIBS) $(LIBS)
# vd_extent_copy's rate, device to device and within one, by piece size.
noinst_PROGRAMS += bench/copy-bench
bench_copy_bench_SOURCES = bench/copy-bench.c
bench_copy_bench_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS)
bench_copy_bench_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
