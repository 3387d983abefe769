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

#endif
