# Configuration, systemd units, sysusers.d/tmpfiles.d and bash completion,
# installed where the system looks (see m4/vd_install_dirs.m4).
vramdconfdir = $(sysconfdir)/vramd
dist_vramdconf_DATA = etc/vramd.conf

# Units that name programs are made from .in files with this build's paths.
systemdsystemunit_DATA = etc/systemd/vramd.service etc/systemd/vramd-swap@.service
dist_systemdsystemunit_DATA = etc/systemd/vramd.socket etc/systemd/vramd-metrics.socket
EXTRA_DIST += etc/systemd/vramd.service.in etc/systemd/vramd-swap@.service.in
CLEANFILES += $(systemdsystemunit_DATA)
vd_subst_paths = $(AM_V_GEN)$(MKDIR_P) etc/systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@bindir[@]|$(bindir)|g'
etc/systemd/vramd.service: $(top_srcdir)/etc/systemd/vramd.service.in Makefile
	$(vd_subst_paths) $(top_srcdir)/etc/systemd/vramd.service.in >$@.tmp && mv $@.tmp $@
etc/systemd/vramd-swap@.service: $(top_srcdir)/etc/systemd/vramd-swap@.service.in Makefile
	$(vd_subst_paths) $(top_srcdir)/etc/systemd/vramd-swap@.service.in >$@.tmp && mv $@.tmp $@

dist_sysusers_DATA = etc/sysusers.d/vramd.conf
dist_tmpfiles_DATA = etc/tmpfiles.d/vramd.conf
dist_bashcompletion_DATA = etc/bash-completion/vramctl
EXTRA_DIST += etc/systemd/dev-ublkb0.swap.example
