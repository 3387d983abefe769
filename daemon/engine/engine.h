/* engine.h: move data between host memory and volume extents.
 *
 * Each device gets several worker threads, each with its own in-order
 * OpenCL queue, so several transfers per device are in flight.  A request
 * (struct vd_io) is owned by the caller, carries everything the engine
 * needs, and is completed by a callback from a worker thread, or from the
 * submitting thread when its device was idle and it moved the request
 * itself (no hand-over: what a queue-depth-1 client waits for).  The I/O
 * path allocates nothing.  Host buffers from vd_engine_pinned_alloc() are
 * page-locked, which lets the driver DMA straight from them.  Small
 * segments of a worker's batch share one staging copy and one kernel
 * launch instead of a transfer each (small.h).
 */
#ifndef VRAMD_ENGINE_H
#define VRAMD_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"
#include "volmap.h"

struct vd_engine;

enum vd_small_mode { VD_SMALL_DEFAULT = 0, VD_SMALL_ON = 1, VD_SMALL_OFF = 2 };

/* The idle path: a request marked inline_ok for a device whose workers
 * have nothing queued or in flight is moved by the submitting thread
 * itself, which then waits for it by polling its event (SPIN) or in a
 * blocking call (BLOCK); OFF always hands requests to the worker.  See
 * docs/design-decisions.md. */
enum vd_idle_mode { VD_IDLE_DEFAULT = 0, VD_IDLE_SPIN = 1, VD_IDLE_BLOCK = 2, VD_IDLE_OFF = 3 };

/* When the idle path acknowledges a WRITE whose caller gave an acked()
 * callback: once it LANDED in VRAM (done() only), or once it is QUEUED on
 * the device (acked() first, done() after it landed).  A queued write
 * that then fails takes its device out of service, so what it held is
 * never read back as good; a FLUSH waits for queued writes.  See
 * docs/design-decisions.md, "Write acknowledgement". */
enum vd_write_ack { VD_ACK_DEFAULT = 0, VD_ACK_LANDED = 1, VD_ACK_QUEUED = 2 };

/* Defaults of the batched small-request path (small-max, small-staging),
 * measured on H200: see docs/design-decisions.md and bench/RESULTS.md. */
#define VD_SMALL_MAX_DEFAULT (16u << 10)
#define VD_SMALL_STAGE_DEFAULT (4u << 20)
#ifndef VD_FILL_DEFAULT
#define VD_FILL_DEFAULT 16
#endif
#ifndef VD_SMALL_MIN_DEFAULT
#define VD_SMALL_MIN_DEFAULT 3
#endif
/* Largest request the idle path takes, and how it waits by default on a
 * GPU or accelerator and on a CPU device (PoCL, where the copy runs on a
 * host thread that a spinning waiter would compete with). */
#define VD_IDLE_MAX_DEFAULT (1u << 20)
#ifndef VD_IDLE_GPU_DEFAULT
#define VD_IDLE_GPU_DEFAULT VD_IDLE_SPIN
#endif
#define VD_IDLE_CPU_DEFAULT VD_IDLE_BLOCK

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
  unsigned small_min;          /* fewest parts in a batch for the kernel; 0: default */
  unsigned fill;               /* parts that start a batch while another is in
                                * flight (fewer wait for it); 0: default */
  enum vd_idle_mode idle;      /* default: VD_IDLE_{GPU,CPU}_DEFAULT */
  uint64_t idle_max;           /* largest request it takes, bytes; 0: default */
  enum vd_write_ack write_ack; /* default: VD_ACK_DEFAULT_MODE */
  /* How long a worker polls (its list when it ran dry, its oldest batch
   * and its list while batches are in flight) before it sleeps or blocks,
   * ns; 0: default, VD_POLL_OFF: never. */
  uint64_t poll_ns;
};

/* Polling defaults: on a GPU a worker that sleeps costs the submitter a
 * wake-up; on a CPU device (PoCL) a polling worker takes a core from the
 * threads that do the copies.  See docs/design-decisions.md. */
#define VD_POLL_DEFAULT 0
#define VD_POLL_OFF UINT64_MAX
#ifndef VD_POLL_GPU_DEFAULT_NS
#define VD_POLL_GPU_DEFAULT_NS 0
#endif
#define VD_POLL_CPU_DEFAULT_NS 0
#ifndef VD_ACK_DEFAULT_MODE
#define VD_ACK_DEFAULT_MODE VD_ACK_QUEUED
#endif

/* Where one device's workers spent their time, since start: counters for
 * profiling (engine-bench prints them per job). */
struct vd_engine_profile {
  _Atomic uint64_t batches;     /* batches started */
  _Atomic uint64_t parts;       /* device parts in them */
  _Atomic uint64_t sleeps;      /* times a worker slept on an empty list */
  _Atomic uint64_t sleep_ns;    /* asleep */
  _Atomic uint64_t poll_ns;     /* polling an empty list before sleeping */
  _Atomic uint64_t enqueue_ns;  /* queueing batches (driver calls, staging copies) */
  _Atomic uint64_t wait_ns;     /* waiting for the oldest batch (polling or blocked) */
  _Atomic uint64_t complete_ns; /* completion callbacks */
  _Atomic uint64_t signals;     /* wake-ups submitters sent */
};

/* The small-request path over all devices (vd_engine_small_stats). */
struct vd_engine_small_stats {
  unsigned workers;        /* workers on every device, using it or not */
  unsigned devices;        /* devices whose workers use it */
  uint64_t stage_bytes;    /* pinned host staging held, all workers */
  uint64_t scratch_bytes;  /* device scratch held, all workers */
  uint64_t segments;       /* segments moved through it since start */
  uint64_t launches;       /* kernel launches since start */
  uint64_t idle;           /* requests the idle path moved since start */
};

/* Where a volume's bytes live: the map (the layout, pure) and the
 * placement of each of its extents (the one mutable part, placement.c).
 * ext[d][i] is the extent that holds logical part d's extent i now: on
 * dev[d] unless it was moved; NULL only in a thin volume, for a range
 * never written or discarded since (it reads as zeros).  The rule for
 * changing a placement while I/O runs is in placement.c. */
#define VD_HEAL_MAX 64  /* ranges waiting for a heal; more mark their legs stale */

struct vd_target {
  struct vd_map map;
  struct vd_device *dev[VD_MAX_DEVICES];   /* each logical part's home device */
  struct vd_extent *_Atomic *ext[VD_MAX_DEVICES];
  atomic_int failed;                       /* non-zero: every I/O gets EIO */
  struct vd_stock *stock;                  /* thin: chunks come from here; NULL: thick */
  atomic_bool placed;                      /* some extent lives off its home, or thin */
  _Atomic uint64_t chunks;                 /* thin: chunks held */
  _Atomic uint64_t enospc;                 /* writes refused for want of a chunk */
  struct vd_extent *_Atomic retired;       /* thin: discarded, until no request can use them */
  _Atomic uint64_t *zmask[VD_MAX_DEVICES]; /* thin: per extent, a bit per 64th of it
                                            * discarded since last written */
  /* placement.c: requests in flight by epoch, and those parked */
  _Atomic unsigned epoch;
  _Atomic unsigned inflight[2];
  _Atomic unsigned posted;                 /* writes acknowledged, not landed yet */
  atomic_bool paused;                      /* new requests park until resumed */
  pthread_mutex_t park_lock;
  struct vd_io *parked, *parked_tail;      /* paused, or waiting for a chunk */
  _Atomic unsigned starved;                /* parked requests waiting for a chunk */
  pthread_mutex_t place_lock;              /* one placement change at a time */
  pthread_mutex_t move_lock;               /* held by a move: chunks stay unreclaimed */
  struct vd_track *_Atomic track;          /* a move's record of what writes changed */
  struct vd_track *_Atomic vtrack;         /* a save's record, over the logical range */
  const char *label;                       /* its name, for logs */
  _Atomic uint64_t sum_errors;             /* checksum mismatches reads found */
  _Atomic uint64_t par_repaired;           /* bad blocks reads rebuilt from parity */
  /* mirror.c: a mirror's legs (map.copies > 1), a bit each */
  _Atomic uint64_t stale;                  /* not read from: lost, missed a write, or
                                            * not rebuilt yet */
  _Atomic uint64_t broke;                  /* went stale since their repair began */
  _Atomic unsigned rr;                     /* turns reads between equally busy copies */
  /* heal.c: ranges found bad on some legs of a mirror (a read's checksum
   * mismatch, a scrub), to rewrite from a copy in sync */
  pthread_mutex_t heal_lock;
  struct vd_heal { uint64_t legs, off, len; } heal[VD_HEAL_MAX];
  unsigned nheal;
  _Atomic uint64_t healed;                 /* ranges rewritten from a good copy */
  _Atomic uint64_t heal_failed;            /* ranges no copy in sync could give */
};

/* What writes changed in one extent while it is copied elsewhere: a bit
 * per piece, set when a WRITE or ZERO that touched the piece completes. */
struct vd_track {
  uint32_t d, i;                           /* the logical extent */
  uint64_t piece;                          /* bytes per bit */
  uint32_t npieces;
  _Atomic uint64_t *bits;
};

enum vd_op { VD_OP_READ = 0, VD_OP_WRITE = 1, VD_OP_ZERO = 2, VD_OP_FLUSH = 3 };

struct vd_io;
/* Called once per request, from an engine thread; err is 0 or -errno. */
typedef void (*vd_io_done_fn)(struct vd_io *io, int err);

/* The work of one request on one pool device (engine-private). */
struct vd_io_part {
  struct vd_io_part *next;
  struct vd_io *io;
  uint32_t dev;         /* pool index */
  uint64_t lmask;       /* the logical parts whose extents it moves there */
  int err;
  bool sum_bad;         /* err is a READ's checksum mismatch, not a transfer */
  uint64_t bad_off;     /* then a bad block's volume offset; UINT64_MAX: somewhere
                         * in the request */
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
  /* The caller has nothing else to submit until this one completes (a
   * queue-depth-1 client): the idle path may take it.  Callers with more
   * requests at hand leave it false, so the workers batch them. */
  bool inline_ok;
  /* A WRITE's caller may answer its client early: the idle path calls
   * this on the submitting thread once the write is queued on the device
   * (write-ack = queued), and done() follows once it landed, with its
   * result.  NULL (FUA writes, other ops): done() is the only answer. */
  void (*acked)(struct vd_io *io);
  /* Mirror legs: a READ reads none of exclude (a heal, a scrub's
   * check), a WRITE with only set writes those alone (a heal). */
  uint64_t exclude, only;
  /* Enters a paused target: the reads of a save's last round, made while
   * the target is paused so that nothing changes under them (save.c). */
  bool through;
  /* Set by the engine: blocks its reads found bad and rebuilt from
   * parity (integrity crc32c+parity), returning good data. */
  _Atomic unsigned repaired;
  /* engine-private */
  unsigned epoch;       /* the placement epoch it entered in */
  bool starved;         /* parked for want of a chunk */
  struct vd_io *park_next;
  uint64_t pmask;       /* the pool devices its parts went to */
  uint64_t avoid;       /* mirror: legs a READ failed on, not tried again */

  atomic_int pending;
  atomic_int err;
  struct vd_io_part part[VD_MAX_DEVICES];
};

/* Start worker threads for every device of the pool. */
int vd_engine_start(struct vd_pool *pool, const struct vd_engine_config *cfg,
                    struct vd_engine **out, char *err, size_t errlen);
/* Finish queued work, stop the workers and free the engine. */
void vd_engine_stop(struct vd_engine *eng);

/* Queue a request.  done() may run on the calling thread before this
 * returns: for a request refused at once (-EINVAL out of range, -EIO on a
 * failed volume or device, 0 for FLUSH), and for an inline_ok one that
 * the idle path moved.  A done() that submits again must therefore not
 * recurse without bound. */
void vd_engine_submit(struct vd_engine *eng, struct vd_io *io);

/* Submit io, whose target, op, range, buffer and flags the caller set,
 * and wait: 0 or -errno (done and priv are the engine's). */
int vd_engine_wait_io(struct vd_engine *eng, struct vd_io *io);
/* Submit and wait: returns 0 or -errno. */
int vd_engine_rw(struct vd_engine *eng, struct vd_target *t, enum vd_op op,
                 uint64_t off, uint64_t len, void *buf);

/* Placement (placement.c).  Set up a target's placement state once its
 * map and extents are in place, and tear it down when idle. */
void vd_target_init(struct vd_target *t);
void vd_target_fini(struct vd_target *t);
/* Wait until every request that may have seen a placement from before
 * this call has finished; requests keep flowing meanwhile.  What makes a
 * discarded chunk safe to reuse. */
void vd_target_quiesce(struct vd_target *t);
/* Park new requests and wait for those in flight to finish: no request
 * touches any extent until vd_target_resume, which submits the parked
 * ones.  Bound the time between the two: clients wait meanwhile. */
void vd_target_pause(struct vd_target *t);
void vd_target_resume(struct vd_engine *eng, struct vd_target *t);
/* Submit again (or fail with err when non-zero) the requests parked for
 * want of a chunk: the keeper calls this after it refilled the stock,
 * or with -ENOSPC once no device can give one. */
void vd_target_unstarve(struct vd_engine *eng, struct vd_target *t, int err);
/* Install ext as logical part d's extent i (a move, under pause). */
void vd_target_place(struct vd_target *t, uint32_t d, uint32_t i, struct vd_extent *ext);
/* Start (tr) or stop (NULL) recording which pieces of an extent the
 * writes that complete from now on change. */
void vd_target_track(struct vd_target *t, struct vd_track *tr);
/* The same over the whole volume (a save): bit p stands for the logical
 * bytes [p * piece, (p + 1) * piece); d and i are unused.  A move's
 * record and a save's are kept apart, so both can run at once; one save
 * at a time: false when another save's record is in place. */
bool vd_target_track_volume(struct vd_target *t, struct vd_track *tr);
/* Take the recorded pieces: out gets the bits (npieces of them) and the
 * record is cleared.  Returns how many were set. */
uint32_t vd_track_take(struct vd_track *tr, uint64_t *out);

/* Mirrors (mirror.c).  A leg is stale while its copy may differ from
 * the others: its device was lost, a write to it failed, or a repair has
 * not finished; reads never go to it.  Writes go to every leg on a live
 * device and are acknowledged once each range reached a leg in sync; a
 * request a leg failed is settled on the others (mirror.c says how).
 * Copies in sync of each byte, the least over the columns (0: the
 * volume failed); legs on a lost device are marked stale here first. */
unsigned vd_mirror_healthy(struct vd_target *t);
/* Note that legs of t hold bad data in [off, off + len) (heal.c); when
 * the list is full they are marked stale instead, for a repair. */
void vd_mirror_heal_note(struct vd_target *t, uint64_t legs, uint64_t off, uint64_t len);
/* Rewrite every noted range from a copy in sync, with t paused (requests
 * park for the time: a client write cannot be overtaken by the older
 * data).  Returns the ranges rewritten; each one no copy could give is
 * counted in heal_failed. */
unsigned vd_mirror_heal(struct vd_engine *eng, struct vd_target *t);
/* Mark legs stale (a bit each); logs the ones newly so. */
void vd_mirror_mark(struct vd_target *t, uint64_t legs);
/* The legs with an extent on dev now (none for other layouts). */
uint64_t vd_mirror_legs_on(struct vd_target *t, const struct vd_device *dev);

/* Page-locked host memory the devices can DMA from directly; NULL on
 * failure.  Allocate at setup, never on the I/O path. */
void *vd_engine_pinned_alloc(struct vd_engine *eng, size_t bytes);
void vd_engine_pinned_free(struct vd_engine *eng, void *p);

/* Bytes moved per device since start (host to device, device to host). */
void vd_engine_device_bytes(const struct vd_engine *eng, unsigned dev,
                            uint64_t *h2d, uint64_t *d2h);

/* Check blocks [first, first + n) of an extent that keeps checksums, on
 * its device and beside the I/O: *nbad gets the mismatches, bad[] the
 * first cap of them (block - first, in no order).  A block written
 * meanwhile may mismatch for a moment: confirm by reading it.  0,
 * -EINVAL, -EIO. */
int vd_engine_scrub(struct vd_engine *eng, struct vd_extent *ext, uint64_t first, uint64_t n,
                    uint32_t *bad, unsigned cap, uint64_t *nbad);
/* Flip the bits of mask in byte off of an extent's data, its checksums
 * untouched: the fault route's corruption.  0, -EINVAL, -EIO. */
int vd_engine_flip(struct vd_engine *eng, struct vd_extent *ext, uint64_t off, uint8_t mask);

/* Checksum mismatches reads found on a device since start. */
uint64_t vd_engine_device_sum_errors(const struct vd_engine *eng, unsigned dev);
/* Bad blocks reads rebuilt from parity on a device since start. */
uint64_t vd_engine_device_par_repaired(const struct vd_engine *eng, unsigned dev);
/* Compute parity group `group` of ext anew from its data, on its device
 * beside the I/O (a group a shrink cut short; nothing may write it
 * meanwhile).  0, -EINVAL, -EIO. */
int vd_engine_parity_fix(struct vd_engine *eng, struct vd_extent *ext, uint64_t group);

/* Where a device's workers spent their time (a snapshot). */
void vd_engine_device_profile(const struct vd_engine *eng, unsigned dev,
                              struct vd_engine_profile *p);

/* What the small-request path holds and has done. */
void vd_engine_small_stats(const struct vd_engine *eng,
                           struct vd_engine_small_stats *st);

#endif
