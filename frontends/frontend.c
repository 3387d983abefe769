/* frontend.c: the table of frontends built into vramd. */
#include "config.h"

#include <stddef.h>

#include "frontend.h"
#include "nbd/nbd.h"
#ifdef HAVE_UBLK
#include "ublk/ublk.h"
#endif

/* The daemon starts them in this order and stops them in the other. */
const struct vd_frontend *const vd_frontends[] = {
  &vd_frontend_nbd,
#ifdef HAVE_UBLK
  &vd_frontend_ublk,
#endif
  NULL,
};
_Static_assert(sizeof vd_frontends / sizeof vd_frontends[0] <= VD_FRONTENDS_MAX + 1,
               "raise VD_FRONTENDS_MAX");
