/* engine-internal.h: what engine.c and placement.c share. */
#ifndef VRAMD_ENGINE_INTERNAL_H
#define VRAMD_ENGINE_INTERNAL_H

#include <stdbool.h>

#include "engine.h"

/* Enter a target for io (false: parked while the target is paused). */
bool vd_target_enter(struct vd_target *t, struct vd_io *io);
/* io has completed every part. */
void vd_target_leave(struct vd_target *t, struct vd_io *io);
/* Park an entered io until chunks are made (vd_target_unstarve). */
void vd_target_starve(struct vd_target *t, struct vd_io *io);
/* Thin: chunks for every range a write touches; -EAGAIN if none. */
int vd_target_thin_write(struct vd_target *t, const struct vd_io *io, unsigned ndev,
                         struct vd_device *const *devs);
/* Thin: retire the chunks a ZERO covers whole; true if any. */
bool vd_target_thin_discard(struct vd_target *t, const struct vd_io *io);

/* A WRITE or ZERO completed: record its pieces if a move tracks them. */
void vd_target_written(struct vd_target *t, const struct vd_io *io);

/* Submit a request again (a parked one, or a mirror's retry): as
 * vd_engine_submit, keeping what it learnt, never on the idle path. */
void vd_engine_resubmit(struct vd_engine *eng, struct vd_io *io);
/* Bytes queued for pool device pd and not yet taken by a worker. */
uint64_t vd_engine_load(const struct vd_engine *eng, unsigned pd);
/* Which pool devices a mirror's request goes to (lmask as route's): a
 * READ to one leg in sync per column, the least busy; a WRITE or ZERO to
 * every leg on a live device.  0 with *err -EIO when some range has no
 * copy left to use. */
uint64_t vd_mirror_route(struct vd_engine *eng, struct vd_io *io, uint64_t *lmask, int *err);
/* Every part of a mirror's request finished and one failed (*err): true
 * when it is to be submitted again (a READ, on the other copies); else
 * *err is the request's result. */
bool vd_mirror_settle(struct vd_engine *eng, struct vd_io *io, int *err);
/* The pool device behind index pd. */
struct vd_device *vd_engine_device(const struct vd_engine *eng, unsigned pd);

#endif
