/* frontend.c: the table of frontends built into vramd. */
#include <stddef.h>

#include "frontend.h"
#include "nbd/nbd.h"

static const struct vd_frontend *const frontends[] = {
  &vd_frontend_nbd,
  NULL, /* ublk */
};

/* Look a frontend up by kind. */
const struct vd_frontend *vd_frontend_get(enum vd_frontend_kind kind)
{
  if ((unsigned)kind >= sizeof frontends / sizeof frontends[0])
    return NULL;
  return frontends[kind];
}
