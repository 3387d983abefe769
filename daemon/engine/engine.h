/* engine.h: move data between host memory and volume extents.
 *
 * Each device gets several worker threads, each with its own in-order
 * OpenCL queue, so several transfers per device are in flight.  A request
 * (struct vd_io) is owned by the caller, carries everything the engine
 * needs, and is completed by a callback from a worker thread: the I/O path
 * allocates nothing.  Host buffers from vd_engine_pinned_alloc() are
 * page-locked, which lets the driver DMA straight from them.  Small
 * segments of a worker's batch share one staging copy and one kernel
 * launch instead of a transfer each (small.h).
 */
#ifndef VRAMD_ENGINE_H
#define VRAMD_ENGINE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "volmap.h"

struct vd_engine;

enum vd_small_mode { VD_SMALL_DEFAULT = 0, VD_SMALL_ON = 1, VD_SMALL_OFF = 2 };

/* Defaults of the batched small-request path (small-max, small-staging),
 * measured on H200: see docs/design-decisions.md and bench/RESULTS.md. */
#define VD_SMALL_MAX_DEFAULT (16u << 10)
#define VD_SMALL_STAGE_DEFAULT (4u << 20)

struct vd_engine_config {
  unsigned workers_per_device; /* 0: default */
  unsigned batch;              /* device parts taken per wake-up; 0: default */
  unsigned depth;              /* batches in flight per worker; 0: default */
  /* Batched small-request path: a worker's small segments go through one
   * pinned staging copy and one gather/scatter kernel launch per batch. */
  enum vd_small_mode small;    /* default: on */
  uint64_t small_max;          /* largest segment it takes, bytes; 0: default */
  uint64_t small_stage;        /* pinned staging (and as much device scratch)
                                * per worker, bytes; 0: default */
};

/* The small-request path over all devices (vd_engine_small_stats). */
struct vd_engine_small_stats {
  unsigned workers;        /* workers on every device, using it or not */
  unsigned devices;        /* devices whose workers use it */
  uint64_t stage_bytes;    /* pinned host staging held, all workers */
  uint64_t scratch_bytes;  /* device scratch held, all workers */
  uint64_t segments;       /* segments moved through it since start */
  uint64_t launches;       /* kernel launches since start */
};

/* Where a volume's bytes live: the map plus each device's extents. */
struct vd_target {
  struct vd_map map;
  struct vd_device *dev[VD_MAX_DEVICES];
  struct vd_extent **ext[VD_MAX_DEVICES]; /* ext[d][i], i < extent count */
  atomic_int failed;                      /* non-zero: every I/O gets EIO */
};

enum vd_op { VD_OP_READ = 0, VD_OP_WRITE = 1, VD_OP_ZERO = 2, VD_OP_FLUSH = 3 };

struct vd_io;
/* Called once per request, from an engine thread; err is 0 or -errno. */
typedef void (*vd_io_done_fn)(struct vd_io *io, int err);

/* The work of one request on one device (engine-private). */
struct vd_io_part {
  struct vd_io_part *next;
  struct vd_io *io;
  uint32_t dev;
  int err;
};

struct vd_io {
  /* set by the caller */
  struct vd_target *target;
  enum vd_op op;
  uint64_t off;
  uint64_t len;
  void *buf;            /* READ: filled, WRITE: source; unused otherwise */
  vd_io_done_fn done;
  void *priv;
  /* engine-private */
  atomic_int pending;
  atomic_int err;
  struct vd_io_part part[VD_MAX_DEVICES];
};

/* Start worker threads for every device of the pool. */
int vd_engine_start(struct vd_pool *pool, const struct vd_engine_config *cfg,
                    struct vd_engine **out, char *err, size_t errlen);
/* Finish queued work, stop the workers and free the engine. */
void vd_engine_stop(struct vd_engine *eng);

/* Queue a request.  Out-of-range requests complete at once with -EINVAL;
 * done() may run before this returns. */
void vd_engine_submit(struct vd_engine *eng, struct vd_io *io);

/* Submit and wait: returns 0 or -errno. */
int vd_engine_rw(struct vd_engine *eng, struct vd_target *t, enum vd_op op,
                 uint64_t off, uint64_t len, void *buf);

/* Test hook: the n-th device part queued from now fails with EIO, as a
 * failed transfer would (0 = off).  Only honoured when vd_faults_enabled(). */
void vd_engine_fault_io_after(unsigned n);

/* Page-locked host memory the devices can DMA from directly; NULL on
 * failure.  Allocate at setup, never on the I/O path. */
void *vd_engine_pinned_alloc(struct vd_engine *eng, size_t bytes);
void vd_engine_pinned_free(struct vd_engine *eng, void *p);

/* Bytes moved per device since start (host to device, device to host). */
void vd_engine_device_bytes(const struct vd_engine *eng, unsigned dev,
                            uint64_t *h2d, uint64_t *d2h);

/* What the small-request path holds and has done. */
void vd_engine_small_stats(const struct vd_engine *eng,
                           struct vd_engine_small_stats *st);

#endif
