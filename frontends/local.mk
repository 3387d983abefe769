noinst_LIBRARIES += frontends/libvdfrontends.a
frontends_libvdfrontends_a_SOURCES = frontends/frontend.h frontends/frontend.c

# ublk: liburing and <linux/ublk_cmd.h>; the core it calls comes after it.
frontends_libvdfrontends_a_SOURCES += frontends/ublk/ublk.h frontends/ublk/ublk.c
frontends_libvdfrontends_a_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS) $(LIBURING_CFLAGS)
VRAMD_LIBS += $(LIBURING_LIBS)
