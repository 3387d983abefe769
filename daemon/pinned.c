/* pinned.c: the pinned host memory vramd holds, and the most its settings
 * let it hold: staging of the frontends, of the engine's batched
 * small-request path and of save jobs (docs/limits.md). */
#include <string.h>
#include <unistd.h>

#include "frontend.h"
#include "pinned.h"
#include "vramd.h"

/* Sum every part.  ublk's staging counts in the bound as held: a ublk
 * volume pins all of it at create, so it grows only with ublk volumes. */
void vramd_pinned(struct vramd *d, struct vramd_pinned *p)
{
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

  memset(p, 0, sizeof *p);
  if (pages > 0 && page > 0)
    p->host_ram = (uint64_t)pages * (uint64_t)page;
  vd_engine_small_stats(d->eng, &p->small);
  p->held = p->small.stage_bytes;
  p->bound = d->cfg.small_batch ? d->cfg.small_staging * p->small.workers : 0;
  /* Save, load and restore jobs: staging each, as many as run at once. */
  p->save = atomic_load(&d->save_pinned);
  p->held += p->save;
  p->bound += d->cfg.save_staging * VRAMD_JOBS_RUNNING;
  for (unsigned i = 0; d->cfg.frontends[i]; i++) {
    const struct vd_frontend *fe = d->cfg.frontends[i];
    struct vd_frontend_pinned *f = &p->fe[i];
    uint64_t held;
    if (!fe->pinned)
      continue;
    fe->pinned(&d->host, f);
    p->have[i] = true;
    held = f->unit_bytes * f->units;
    p->held += held;
    p->bound += f->max_units ? f->unit_bytes * f->max_units : held;
  }
}
