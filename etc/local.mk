# Configuration and systemd units, installed where the system looks.
vramdconfdir = $(sysconfdir)/vramd
dist_vramdconf_DATA = etc/vramd.conf
systemdunitdir = $(prefix)/lib/systemd/system
dist_systemdunit_DATA = etc/systemd/vramd.service etc/systemd/vramd.socket
sysusersdir = $(prefix)/lib/sysusers.d
dist_sysusers_DATA = etc/sysusers.d/vramd.conf
EXTRA_DIST += etc/systemd/dev-ublkb0.swap.example
