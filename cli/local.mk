# vramctl: one file per subcommand, HTTP over the Unix socket with libcurl.
bin_PROGRAMS += cli/vramctl
cli_vramctl_SOURCES = cli/vramctl.h cli/vramctl.c cli/opts.c cli/http.c cli/words.c \
	cli/table.c cli/list.c cli/device-list.c cli/device-show.c cli/device-set.c \
	cli/volume-create.c cli/volume-list.c cli/volume-show.c cli/volume-delete.c cli/status.c \
	cli/job.c cli/wait.c cli/start-job.c cli/device-drain.c cli/device-undrain.c \
	cli/volume-rebalance.c cli/volume-repair.c cli/volume-scrub.c cli/volume-save.c cli/volume-restore.c cli/image-path.c \
	cli/volume-attach.c cli/volume-detach.c cli/volume-export.c cli/volume-unexport.c cli/volume-force.c cli/volume-resize.c
cli_vramctl_CPPFLAGS = $(VD_INC_CLI) $(VD_DEFS)
cli_vramctl_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(JANSSON_CFLAGS) $(SMARTCOLS_CFLAGS)
cli_vramctl_LDADD = common/libvdcommon.a $(CURL_LIBS) $(JANSSON_LIBS) $(SMARTCOLS_LIBS)
