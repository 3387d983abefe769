noinst_LIBRARIES += frontends/libvdfrontends.a
frontends_libvdfrontends_a_SOURCES = frontends/frontend.h frontends/frontend.c frontends/bdev.c

# ublk: liburing and <linux/ublk_cmd.h>; the core it calls comes after it.
if WITH_UBLK
frontends_libvdfrontends_a_SOURCES += frontends/ublk/ublk.h frontends/ublk/ublk-internal.h \
	frontends/ublk/ctrl.c frontends/ublk/queue.c frontends/ublk/ublk.c
endif
frontends_libvdfrontends_a_CPPFLAGS = $(VD_INC_FRONTENDS) $(VD_DEFS)
frontends_libvdfrontends_a_CFLAGS = $(AM_CFLAGS) $(OPENCL_CFLAGS) $(LIBURING_CFLAGS) $(LIBNL_CFLAGS) \
	$(GNUTLS_CFLAGS)
VRAMD_LIBS += $(LIBURING_LIBS) $(LIBNL_LIBS) $(GNUTLS_LIBS)

# NBD server: nbd.h exports only the frontend; nbd-proto.h is the wire
# format and proto.c's pure code (unit tests, fuzzers); nbd-internal.h the rest.
frontends_libvdfrontends_a_SOURCES += frontends/nbd/nbd.h frontends/nbd/nbd-proto.h frontends/nbd/nbd-internal.h \
	frontends/nbd/proto.c frontends/nbd/settings.c frontends/nbd/io.c frontends/nbd/guard.c \
	frontends/nbd/handshake.c frontends/nbd/loop.c \
	frontends/nbd/conn.c frontends/nbd/list.c frontends/nbd/session.c frontends/nbd/server.c frontends/nbd/attach.c \
	frontends/nbd/netlink.c frontends/nbd/tls.h
# NBD over TLS: GnuTLS sessions and credentials (tls.h says what a build
# without GnuTLS does instead).
if HAVE_GNUTLS
frontends_libvdfrontends_a_SOURCES += frontends/nbd/tls.c frontends/nbd/tls-creds.c
endif
