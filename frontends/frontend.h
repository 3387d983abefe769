/* frontend.h: what every block frontend (NBD, ublk) offers the daemon.
 * A frontend knows volumes and the engine, never HTTP or OpenCL. */
#ifndef VRAMD_FRONTEND_H
#define VRAMD_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "volume.h"

struct vramd;

/* A frontend's pinned host staging, for GET /v1 and metrics: buffers of
 * unit_bytes each, one per session (NBD) or per queue (ublk). */
struct vd_frontend_pinned {
  const char *unit;           /* "session" or "queue" */
  uint64_t unit_bytes;        /* pinned per unit */
  unsigned max_units;         /* cap a setting puts on units; 0: none */
  unsigned units_per_volume;  /* at most, per volume; 0: not per volume */
  unsigned units;             /* holding staging now */
  uint64_t max_request;       /* largest READ or WRITE it serves */
};

struct vd_frontend {
  enum vd_frontend_kind kind;
  const char *name;
  /* Start listeners or probe the kernel at daemon start. */
  int (*start)(struct vramd *d, char *err, size_t errlen);
  /* Disconnect every client and detach every device at shutdown. */
  void (*stop)(struct vramd *d);
  /* Expose a new volume; fills v->device_path where there is one. */
  int (*add)(struct vramd *d, struct vd_volume *v, char *err, size_t errlen);
  /* Withdraw a volume: -EBUSY when in use and !force; with force,
   * disconnect its clients first.  Returns once no request is running. */
  int (*remove)(struct vramd *d, struct vd_volume *v, bool force,
                char *err, size_t errlen);
  /* What it pins of host memory, with its settings' bounds. */
  void (*pinned)(const struct vramd *d, struct vd_frontend_pinned *out);
};

/* True when a block device is held exclusively (mounted, active swap,
 * md/dm): what a delete without force refuses. */
bool vd_bdev_busy(const char *path);

/* The frontend for a kind, or NULL when it is not built in. */
const struct vd_frontend *vd_frontend_get(enum vd_frontend_kind kind);

#endif
