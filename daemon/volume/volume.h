/* volume.h: named volumes, their storage and counters, and the registry
 * that holds them.  Knows devices and the engine, not HTTP or NBD. */
#ifndef VRAMD_VOLUME_H
#define VRAMD_VOLUME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "pool.h"
#include "spec.h"
#include "util.h"
#include "volmap.h"

#define VD_DEFAULT_STRIPE_UNIT (1u << 20)
#define VD_THIN_MAX_OVERCOMMIT 16u /* virtual size / what the devices hold */
#define VD_LAT_BUCKETS 16 /* histogram buckets, see vd_lat_bounds */

struct vd_volume_stats {
  atomic_uint_fast64_t ops[4];        /* by enum vd_op */
  atomic_uint_fast64_t bytes[4];
  atomic_uint_fast64_t errors[4];
  atomic_uint_fast64_t lat_count[4][VD_LAT_BUCKETS]; /* not cumulative */
  atomic_uint_fast64_t lat_sum_ns[4];
};

/* What scrubs found (integrity): blocks checked, bad blocks and (on a
 * mirror) bad blocks rewritten from a good copy, since start and by the
 * last scrub that finished, which also says how many blocks of a
 * mirror's stale copies it skipped (scrub.c). */
struct vd_scrub_stats {
  _Atomic uint64_t blocks, bad, repaired;
  _Atomic uint64_t last_blocks, last_bad, last_repaired;
  _Atomic uint64_t last_skipped;      /* mirror: blocks of stale copies not checked */
  _Atomic int64_t last_time;          /* when the last one finished (unix s); 0: none */
  _Atomic int64_t next_time;          /* when a background one is due (unix s); 0: none */
  atomic_bool running;                /* a scrub job holds the volume */
};

struct vd_volume {
  struct vd_volume_spec spec;         /* ndev and dev_ids filled in */
  uint64_t size;                      /* after rounding */
  struct vd_target target;
  struct vd_volume_stats stats;
  struct vd_scrub_stats scrub;
  atomic_int refs;
  atomic_int clients;                 /* open frontend connections */
  atomic_bool deleting;
  char device_path[64];               /* /dev/nbdN, /dev/ublkbN or "" */
  unsigned device_conns;              /* kernel NBD: its connections */
  void *frontend_priv;
  bool persist_refused;               /* its persist image was refused at start:
                                       * not saved over at stop (persist.c) */
  struct vd_volume *next;             /* registry list */
};

/* Upper bounds of the latency buckets in seconds (last is +Inf). */
extern const double vd_lat_bounds[VD_LAT_BUCKETS];

/* Check a spec against the pool and allocate every extent (zeroed); a
 * thin volume gets none yet, and takes chunk-sized ones from stock as it
 * is written (stock NULL: thin refused).  On failure nothing stays
 * allocated; err says why and what would fit.
 * -EINVAL bad spec, -ENOSPC no room, -ENOMEM driver refused. */
int vd_volume_alloc(struct vd_pool *pool, struct vd_stock *stock, uint64_t extent_size,
                    const struct vd_volume_spec *spec, struct vd_volume **out,
                    char *err, size_t errlen);
/* A long allocation's progress (bytes made and zeroed) and a cancel that
 * is polled between extents (-ECANCELED, nothing left allocated). */
struct vd_alloc_ctl {
  bool (*cancelled)(void *arg);
  void (*progress)(void *arg, uint64_t bytes);
  void *arg;
  bool check_only;   /* check the spec and the room, allocate nothing */
};
/* vd_volume_alloc with ctl (may be NULL). */
int vd_volume_alloc_ctl(struct vd_pool *pool, struct vd_stock *stock, uint64_t extent_size,
                        const struct vd_volume_spec *spec, const struct vd_alloc_ctl *ctl,
                        struct vd_volume **out, char *err, size_t errlen);
/* A thin virtual size within VD_THIN_MAX_OVERCOMMIT times what dev can
 * hold: 0, or -EINVAL with err saying so. */
int vd_thin_size_check(struct vd_device *const *dev, unsigned ndev, uint64_t size, char *err,
                       size_t errlen);
/* Free a volume's extents; it must be out of the registry and idle. */
void vd_volume_free(struct vd_volume *v);

/* Where logical extent (d, i) lives now (NULL: a thin range holding no
 * chunk) and, when bytes is not NULL, its buffer's size.  For readers
 * outside the I/O path: it takes the volume's move lock. */
struct vd_device *vd_volume_where(const struct vd_volume *v, uint32_t d, uint32_t i,
                                  uint64_t *bytes);

/* VRAM the volume holds now: its extents (and their checksums), or a
 * thin volume's chunks. */
uint64_t vd_volume_allocated(const struct vd_volume *v);
/* True when its extents keep checksums (integrity crc32c). */
bool vd_volume_sums(const struct vd_volume *v);
/* What its extents keep after their data: checksums, and parity
 * (integrity crc32c+parity). */
enum vd_tail vd_volume_tail(const struct vd_volume *v);

/* True once the volume lost a device (a mirror: every copy of some
 * byte): every I/O gets EIO at once. */
bool vd_volume_failed(const struct vd_volume *v);
/* "failed", "degraded" (a mirror with a copy out of sync) or "ok". */
const char *vd_volume_state(const struct vd_volume *v);
/* Copies of each byte a spec asks for: 1 unless a mirror (default 2). */
unsigned vd_volume_copies(const struct vd_volume_spec *s);

/* Count one finished request. */
void vd_volume_account(struct vd_volume *v, enum vd_op op, uint64_t bytes,
                       uint64_t ns, int err);

/* The registry: every live volume by name. */
struct vd_registry {
  pthread_mutex_t lock;
  struct vd_volume *head;
  unsigned count;
};

void vd_registry_init(struct vd_registry *r);
/* Add a volume; -EEXIST if the name is taken. */
int vd_registry_add(struct vd_registry *r, struct vd_volume *v);
/* Find by name and take a reference, or NULL. */
struct vd_volume *vd_registry_get(struct vd_registry *r, const char *name);
/* Unlink by name; returns the volume (caller's reference) or NULL. */
struct vd_volume *vd_registry_remove(struct vd_registry *r, const char *name);
/* Take a reference on every volume, in name order; the caller puts each
 * and frees the array.  Returns the count, or -ENOMEM. */
int vd_registry_list(struct vd_registry *r, struct vd_volume ***out);
/* Take and drop references. */
void vd_volume_get(struct vd_volume *v);
void vd_volume_put(struct vd_volume *v);

/* Moving extents while requests run (move.c).  A mover is given the
 * engine, a copier, and optional progress and cancel callbacks; it
 * records the longest time it kept requests parked. */
struct vd_move_ctl {
  struct vd_engine *eng;
  struct vd_copier *cp;
  bool (*cancelled)(void *arg);           /* polled between extents */
  void (*progress)(void *arg, uint64_t bytes);
  void *arg;
  uint64_t max_stall_ns;                  /* out: longest pause of requests */
  uint64_t moved_bytes, moved_extents;    /* out */
};
/* Move logical part d's extent i of v to device to (nothing when it is
 * there or a thin range holds no chunk).  0, -ENOSPC when to has no room,
 * -EIO when a copy failed (the extent stays where it was). */
int vd_volume_move(struct vd_move_ctl *c, struct vd_volume *v, uint32_t d, uint32_t i,
                   struct vd_device *to, char *err, size_t errlen);
/* A new buffer of bytes on the device that holds logical part d's extent
 * i now, with its first keep bytes copied while requests run (a resize's
 * partial last extent).  Nothing for a thin range holding no chunk. */
int vd_volume_reshape(struct vd_move_ctl *c, struct vd_volume *v, uint32_t d, uint32_t i,
                      uint64_t bytes, uint64_t keep, char *err, size_t errlen);
/* Rebuild a mirror's leg extent (leg, i) from another copy, leg from:
 * a new buffer on to gets from's extent i copied while requests run,
 * then replaces leg's (whose old buffer is freed).  0, -ENOSPC (no room
 * on to), -EIO (the copy failed; nothing changed). */
int vd_volume_rebuild(struct vd_move_ctl *c, struct vd_volume *v, uint32_t from, uint32_t leg,
                      uint32_t i, struct vd_device *to, char *err, size_t errlen);
/* True when another copy of logical part d's extent i lives on dev. */
bool vd_volume_copy_on(const struct vd_volume *v, uint32_t d, uint32_t i,
                       const struct vd_device *dev);
/* Rebuild every stale leg of mirror v (repair.c) on to, or where each
 * fits (to NULL: its own device if in service, else the active device
 * with the most room that holds no other copy of its column), while
 * requests run; the leg is in sync again once every extent is copied
 * and it broke not meanwhile.  0, -EINVAL (not a mirror), -EALREADY
 * (nothing stale), -ENOSPC (no device fits), -EIO (a copy failed, or no
 * copy in sync is left to copy from). */
int vd_volume_repair(struct vd_move_ctl *c, struct vd_volume *v, struct vd_device *to,
                     struct vd_pool *pool, char *err, size_t errlen);
/* Bytes a repair of v would copy now (its stale legs). */
uint64_t vd_volume_repair_bytes(struct vd_volume *v);

/* Bytes of every volume's extents on dev. */
uint64_t vd_volumes_bytes_on(struct vd_registry *reg, const struct vd_device *dev);
/* Whether everything on from fits on the other active devices: 0, or
 * -ENOSPC with the shortfall named. */
int vd_drain_check(struct vd_registry *reg, struct vd_pool *pool, const struct vd_device *from,
                   char *err, size_t errlen);
/* Move extents off from, thin volumes' chunks first, until goal bytes
 * moved (UINT64_MAX: all); -ENOSPC when some found no room elsewhere. */
int vd_evacuate(struct vd_move_ctl *c, struct vd_registry *reg, struct vd_pool *pool,
                struct vd_device *from, uint64_t goal, char *err, size_t errlen);
/* Move every extent off from (the caller set it draining first). */
int vd_drain(struct vd_move_ctl *c, struct vd_registry *reg, struct vd_pool *pool,
             struct vd_device *from, char *err, size_t errlen);
/* Bytes of v that live off their home devices, and moving them back
 * where the home device is active and has room. */
uint64_t vd_volume_bytes_away(const struct vd_volume *v);
int vd_rebalance(struct vd_move_ctl *c, struct vd_volume *v, char *err, size_t errlen);
/* True when an extent of v lives on dev (or dev is a home of v). */
bool vd_volume_uses(const struct vd_volume *v, const struct vd_device *dev);

/* Resizing a volume while requests run (resize.c).  prepare builds the
 * new map and takes what it needs (a thick grow's new extents, zeroed)
 * and changes nothing the volume shows; apply switches to it (a thick
 * grow's partial last extents are reshaped first, by c); abort gives back
 * what prepare took.  Every byte below the smaller size stays. */
struct vd_resize {
  struct vd_map map;                              /* the new map */
  struct vd_extent *_Atomic *ext[VD_MAX_DEVICES]; /* the new placement */
  _Atomic uint64_t *zmask[VD_MAX_DEVICES];        /* thin */
  uint64_t old_size;
  uint64_t cut_chunks;                            /* out, thin: chunks the cut
                                                   * reached, wholly or in part */
};
/* 0; -EINVAL a size that cannot be mapped (0, too large, past thin
 * over-commit), -ENOSPC no room (err says what fits), -ENOMEM. */
int vd_volume_resize_prepare(struct vd_volume *v, uint64_t size, struct vd_resize *r,
                             char *err, size_t errlen);
int vd_volume_resize_apply(struct vd_move_ctl *c, struct vd_volume *v, struct vd_resize *r,
                           char *err, size_t errlen);
void vd_volume_resize_abort(struct vd_resize *r);
/* Chunks a thin volume holds at or past byte off (what a cut to off
 * would lose); 0 for a thick volume. */
uint64_t vd_volume_chunks_past(struct vd_volume *v, uint64_t off);

/* Integrity (scrub.c).  Flip the bits of mask in the byte at volume
 * offset off, its checksum untouched: the fault route's corruption.  0,
 * -EINVAL (past the end, or no VRAM there), -EIO. */
int vd_volume_flip_copy(struct vd_engine *eng, struct vd_volume *v, uint64_t off,
                        uint32_t copy, uint8_t mask, char *err, size_t errlen);
int vd_volume_flip(struct vd_engine *eng, struct vd_volume *v, uint64_t off, uint8_t mask,
                   char *err, size_t errlen);
/* A scrub: every block of a volume with checksums checked on its GPU
 * against its checksum, extent by extent, while requests go on; a block
 * that mismatches is read back through the engine (whose read verifies
 * in order with the writes) and counted bad only if that read fails.  At
 * most rate bytes a second (0: as fast as the GPUs go). */
struct vd_scrub_ctl {
  struct vd_engine *eng;
  uint64_t rate;
  uint64_t piece;                         /* bytes one kernel run checks; 0: by rate */
  bool (*cancelled)(void *arg);           /* polled between pieces */
  void (*progress)(void *arg, uint64_t bytes);
  void *arg;
  uint64_t blocks, bad;                   /* out: checked, and found bad */
  uint64_t repaired;                      /* out: of those, rewritten (mirror) */
  uint64_t skipped;                       /* out: blocks of stale copies (mirror) */
};
/* 0 (v->scrub updated), -EINVAL when v keeps no checksums, -ECANCELED,
 * -EIO when a device failed the check or a mirror has a range on no copy
 * in sync (the totals counted what was checked); err says which. */
int vd_volume_scrub(struct vd_scrub_ctl *c, struct vd_volume *v, char *err, size_t errlen);

/* The keeper of thin volumes (keeper.c): one thread that fills the
 * stock to level chunks per device while thin volumes exist, gives
 * discarded chunks back, and settles the writes that wait for a chunk. */
struct vd_keeper;
int vd_keeper_start(struct vd_pool *pool, struct vd_stock *stock, struct vd_engine *eng,
                    struct vd_registry *reg, unsigned level, struct vd_keeper **out);
void vd_keeper_stop(struct vd_keeper *k);
void vd_keeper_stats(const struct vd_keeper *k, uint64_t *made, uint64_t *freed,
                     uint64_t *recycled);
/* The keeper also asks each device with a yield floor for its free
 * memory every 500 ms; under the floor, fn hears how much is needed back
 * (from the keeper's thread: start work elsewhere, do not block). */
typedef void vd_keeper_yield_fn(void *arg, struct vd_device *dev, uint64_t need);
void vd_keeper_set_yield(struct vd_keeper *k, vd_keeper_yield_fn *fn, void *arg);
/* And calls fn every tick (at least every 100 ms), from its thread: start
 * work elsewhere, do not block.  Set before volumes exist. */
void vd_keeper_set_tick(struct vd_keeper *k, void (*fn)(void *arg), void *arg);

#endif
