/* frontend.c: the table of frontends built into vramd. */
#include "config.h"

#include <stddef.h>

#include "frontend.h"
#include "nbd/nbd.h"
#include "ublk/ublk.h"

/* The daemon starts them in this order and stops them in the other. */
const struct vd_frontend *const vd_frontends[] = {
  &vd_frontend_nbd,
  &vd_frontend_ublk,
  NULL,
};
_Static_assert(sizeof vd_frontends / sizeof vd_frontends[0] <= VD_FRONTENDS_MAX + 1,
               "raise VD_FRONTENDS_MAX");
