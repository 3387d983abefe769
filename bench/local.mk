noinst_PROGRAMS += bench/engine-bench
bench_engine_bench_SOURCES = bench/engine-bench.c
bench_engine_bench_LDADD = daemon/libvdcore.a daemon/libvdmap.a common/libvdcommon.a \
	$(OPENCL_LIBS) $(JANSSON_LIBS) $(LIBS)
