noinst_LIBRARIES += common/libvdcommon.a
common_libvdcommon_a_SOURCES = common/util.h common/size.c common/name.c common/log.c common/thread.c \
	common/clock.c common/setting.c
common_libvdcommon_a_CPPFLAGS = $(VD_INC_COMMON) $(VD_DEFS)
