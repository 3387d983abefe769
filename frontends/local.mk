noinst_LIBRARIES += frontends/libvdfrontends.a
frontends_libvdfrontends_a_SOURCES = frontends/frontend.h frontends/frontend.c
# NBD server: one header is the interface; proto.c is pure (unit tests, fuzzers).
frontends_libvdfrontends_a_SOURCES += frontends/nbd/nbd.h frontends/nbd/nbd-internal.h \
	frontends/nbd/proto.c frontends/nbd/io.c frontends/nbd/handshake.c \
	frontends/nbd/conn.c frontends/nbd/server.c
