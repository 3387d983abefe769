# The HTTP side of vramd: routes, bodies, metrics text.
noinst_LIBRARIES += api/libvdapi.a
api_libvdapi_a_SOURCES = api/api.h api/api-internal.h api/server.c api/json.c \
	api/guard.h api/guard.c \
	api/worker.h api/worker.c api/body.c api/prom.c api/metrics.c
api_libvdapi_a_CPPFLAGS = $(VD_INC_API) $(VD_DEFS)
api_libvdapi_a_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
