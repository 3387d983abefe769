# Manual pages, plain roff.
dist_man_MANS = man/vramd.8 man/vramctl.8 man/vramd.conf.5
