/* frontends.c: the daemon's table of frontends (cfg.frontends): which
 * one serves a volume, and starting and stopping them all. */
#include "frontend.h"
#include "frontends.h"
#include "vramd.h"

/* Look a frontend up by the kind a volume spec names. */
const struct vd_frontend *vramd_frontend(const struct vramd *d, enum vd_frontend_kind kind)
{
  for (const struct vd_frontend *const *f = d->cfg.frontends; f && *f; f++)
    if ((*f)->kind == kind)
      return *f;
  return NULL;
}

/* Start each frontend with the settings it parsed. */
int vramd_frontends_start(struct vramd *d, char *err, size_t errlen)
{
  for (unsigned i = 0; d->cfg.frontends[i]; i++)
    if (d->cfg.frontends[i]->start(&d->host, &d->cfg.fe[i], err, errlen))
      return -1;
  return 0;
}

/* Stop in the reverse of start order. */
void vramd_frontends_stop(struct vramd *d)
{
  unsigned n = 0;
  while (d->cfg.frontends[n])
    n++;
  while (n--)
    d->cfg.frontends[n]->stop(&d->host);
}
