/* nbd.h: vramd's NBD server, as the table of frontends sees it: the
 * frontend and nothing else.  Its parts share nbd-internal.h; the wire
 * format and the pure code are in nbd-proto.h. */
#ifndef VRAMD_NBD_H
#define VRAMD_NBD_H

#include "frontend.h"

/* The frontend for frontend.c's table. */
extern const struct vd_frontend vd_frontend_nbd;

#endif
