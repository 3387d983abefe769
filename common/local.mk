noinst_LIBRARIES += common/libvdcommon.a
common_libvdcommon_a_SOURCES = common/util.h common/size.c common/name.c common/log.c common/thread.c \
	common/clock.c common/listen.h common/listen.c common/mkdir.c common/setting.c \
	common/peer.h common/peer.c common/crc32c.h common/crc32c.c
# The volume spec and its codec (JSON and key=value), for vramd and vramctl.
common_libvdcommon_a_SOURCES += common/spec.h common/spec-field.h common/spec.c \
	common/spec-json.c common/spec-text.c common/spec-export.c common/nqn.c
common_libvdcommon_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
common_libvdcommon_a_CPPFLAGS = $(VD_INC_COMMON) $(VD_DEFS)
