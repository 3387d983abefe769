noinst_LIBRARIES += frontends/libvdfrontends.a
frontends_libvdfrontends_a_SOURCES = frontends/frontend.h frontends/frontend.c
