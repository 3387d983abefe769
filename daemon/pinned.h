/* pinned.h: pinned host memory, held and bounded (pinned.c). */
#ifndef VRAMD_PINNED_H
#define VRAMD_PINNED_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "frontend.h"

struct vramd;

/* Pinned host memory: what each part holds now and the bound the
 * settings put on it (nbd-staging x nbd-max-sessions, small-staging x
 * engine workers, save-staging x the jobs that run at once, plus what
 * ublk volumes hold).  fe[i] is frontend i's
 * of cfg.frontends. */
struct vramd_pinned {
  struct vd_frontend_pinned fe[VD_FRONTENDS_MAX];
  bool have[VD_FRONTENDS_MAX];       /* the frontend reports pinned memory */
  struct vd_engine_small_stats small;
  uint64_t save;                     /* save, load and restore jobs' staging */
  uint64_t held, bound;
  uint64_t host_ram;                 /* physical memory of the host */
};
void vramd_pinned(struct vramd *d, struct vramd_pinned *p);

#endif
