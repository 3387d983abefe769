/* frontends.h: the daemon's table of frontends (frontends.c). */
#ifndef VRAMD_FRONTENDS_H
#define VRAMD_FRONTENDS_H

#include <stddef.h>

#include "frontend.h"

struct vramd;

/* The frontend serving kind, or NULL when none is built in. */
const struct vd_frontend *vramd_frontend(const struct vramd *d, enum vd_frontend_kind kind);
/* Start every frontend with its settings, in table order; -1 with err
 * filled at the first that fails (vramd_frontends_stop then stops all). */
int vramd_frontends_start(struct vramd *d, char *err, size_t errlen);
/* Stop every frontend, the last started first. */
void vramd_frontends_stop(struct vramd *d);

#endif
