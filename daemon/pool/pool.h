/* pool.h: the OpenCL devices vramd uses, their capacity, and extents (one
 * zero-filled device buffer each).  Callers never see OpenCL types. */
#ifndef VRAMD_POOL_H
#define VRAMD_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vd_dev_type { VD_DEV_GPU = 1, VD_DEV_ACCEL = 2, VD_DEV_CPU = 4 };

struct vd_device_info {
  char id[16];          /* gpu0, acc0, cpu0: type and enumeration order */
  unsigned index;       /* position in the pool */
  unsigned type;        /* one enum vd_dev_type */
  char platform[64];
  char vendor[64];
  char name[128];
  char driver[64];
  char uuid[40];        /* "" when the driver does not say */
  char pci_bus_id[16];  /* "0000:3b:00.0" or "" */
  uint64_t total_bytes;     /* CL_DEVICE_GLOBAL_MEM_SIZE */
  uint64_t free_bytes;      /* free memory when known, else total */
  const char *free_source;  /* "nvml", "amd", "meminfo" or "total" */
  /* Both change at run time (vd_device_set_reserve), hence atomic: read
   * them as plain fields; a reader may see the new reserve a moment
   * before the new capacity. */
  _Atomic uint64_t reserve_bytes;  /* held back for the desktop and driver */
  _Atomic uint64_t capacity_bytes; /* free - reserve, what volumes may use */
  uint64_t max_alloc_bytes; /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
};

/* Which copy of a platform's vendor library drives each device: the one
 * the ICD loader loaded (SHARED, the default), or from the second device
 * of a platform on, a private copy each (PER_DEVICE; driver-copy.c says
 * why, docs/design-decisions.md what it costs). */
enum vd_driver_copies { VD_DRIVER_SHARED = 0, VD_DRIVER_PER_DEVICE = 1 };

struct vd_pool_config {
  unsigned types;        /* mask of enum vd_dev_type; 0 = GPU|ACCEL */
  bool reserve_set;      /* false: default reserve per device type */
  uint64_t reserve;      /* bytes held back on every device */
  bool shared_context;   /* one OpenCL context per platform, not per device */
  enum vd_driver_copies driver_copies;
};

struct vd_pool;
struct vd_device;
struct vd_extent;

/* Host memory pinned in one device's context, made pinned in the
 * contexts of the devices on other copies of the driver too
 * (driver-copy.c); an opaque record to undo it with. */
struct vd_pin_share;

/* Enumerate the devices of every platform.  Falls back to CPU devices (with
 * a warning) when no device of the asked types exists.  -ENODEV if none. */
int vd_pool_open(const struct vd_pool_config *cfg, struct vd_pool **out,
                 char *err, size_t errlen);
/* Pin host memory at ptr (pinned in owner's context already) in every
 * other device's context that a different copy of the driver serves; NULL
 * when there is none, else a record for vd_pool_unshare_pinned.  A
 * device it cannot be pinned in just copies from it more slowly. */
struct vd_pin_share *vd_pool_share_pinned(struct vd_pool *pool, const struct vd_device *owner,
                                          void *ptr, size_t bytes);
void vd_pool_unshare_pinned(struct vd_pin_share *s);
/* Release the pool; every extent must have been freed. */
void vd_pool_close(struct vd_pool *pool);

/* True when the pool fell back to CPU devices. */
bool vd_pool_cpu_fallback(const struct vd_pool *pool);
unsigned vd_pool_count(const struct vd_pool *pool);
struct vd_device *vd_pool_device(struct vd_pool *pool, unsigned i);
/* Device by id ("gpu0"), or NULL. */
struct vd_device *vd_pool_find(struct vd_pool *pool, const char *id);

const struct vd_device_info *vd_device_info(const struct vd_device *dev);
/* Bytes held by extents on the device now. */
uint64_t vd_device_allocated(const struct vd_device *dev);
/* Capacity not yet allocated. */
uint64_t vd_device_available(const struct vd_device *dev);

/* Allocate one buffer of bytes on dev, zero it and wait until done, so
 * the memory is committed and holds nothing of an earlier volume.
 * -ENOSPC past capacity, -ENOMEM when the driver refuses, -EINVAL over the
 * device's maximum allocation; err names the device and what is left. */
int vd_extent_alloc(struct vd_device *dev, uint64_t bytes,
                    struct vd_extent **out, char *err, size_t errlen);
/* Checksums (integrity): a CRC-32C of every 4 KiB block of an extent,
 * kept in a tail of the same buffer, after the data: 4 bytes a block
 * (0.1%), on the same device, so that they move with it. */
#define VD_SUM_BLOCK 4096u
#define VD_SUM_BYTES(data) ((data) / VD_SUM_BLOCK * 4u)
/* Parity (integrity crc32c+parity): the XOR of each group of
 * VD_PAR_GROUP blocks, one block per group (3.1%), after the checksums in
 * the same tail; a short last group counts its missing blocks as zeros.
 * See docs/design-decisions.md, "Parity groups". */
#define VD_PAR_GROUP 32u
#define VD_PAR_BYTES(data) \
  (((data) / VD_SUM_BLOCK + VD_PAR_GROUP - 1) / VD_PAR_GROUP * VD_SUM_BLOCK)
/* What an extent keeps after its data. */
enum vd_tail { VD_TAIL_NONE = 0, VD_TAIL_SUMS = 1, VD_TAIL_PARITY = 3 /* sums too */ };
/* Bytes of the tail of kind tail after data bytes. */
uint64_t vd_tail_bytes(uint64_t data, enum vd_tail tail);
/* vd_extent_alloc, with a tail: checksums hold the sum of a zero block for
 * every block and parity zeros, as the data is zeroed.  The tail is
 * claimed from the device's capacity with the data. */
int vd_extent_alloc_sums(struct vd_device *dev, uint64_t bytes, enum vd_tail tail,
                         struct vd_extent **out, char *err, size_t errlen);
/* Bytes of an extent's checksums; 0 when it keeps none. */
uint64_t vd_extent_sums(const struct vd_extent *ext);
/* Bytes of an extent's parity (at data + checksum bytes); 0 when none. */
uint64_t vd_extent_parity(const struct vd_extent *ext);
/* The kind of tail an extent keeps. */
enum vd_tail vd_extent_tail(const struct vd_extent *ext);
/* The checksum of a 4 KiB block of zeros. */
uint32_t vd_sum_zero_block(void);
/* Return an extent's memory to its device. */
void vd_extent_free(struct vd_extent *ext);
uint64_t vd_extent_bytes(const struct vd_extent *ext);
struct vd_device *vd_extent_device(const struct vd_extent *ext);

/* Zero an extent again and wait, before it is handed to another user.
 * 0 or -EIO. */
int vd_extent_zero(struct vd_extent *ext);

/* Lists of extents linked through the extent itself, so that moving one
 * between lists allocates nothing: push from any thread, take all at once
 * (a lock-free stack, safe because nobody pops one at a time). */
void vd_extent_push(struct vd_extent *_Atomic *head, struct vd_extent *ext);
struct vd_extent *vd_extent_take_all(struct vd_extent *_Atomic *head);
struct vd_extent *vd_extent_next(const struct vd_extent *ext);

/* The stock: zeroed chunks of one size made ahead of time on each device,
 * so that a thin volume's first write to a range takes one without calling
 * the driver (stock.c).  Who fills it and how far is the keeper's business
 * (daemon/volume/keeper.c); the stock only holds them. */
struct vd_stock;
/* A stock of chunk-byte chunks for every device of pool; -ENOMEM. */
int vd_stock_new(struct vd_pool *pool, uint64_t chunk, struct vd_stock **out);
/* Free every chunk held, then the stock. */
void vd_stock_free(struct vd_stock *st);
uint64_t vd_stock_chunk(const struct vd_stock *st);
/* A zeroed chunk on pool device dev, or NULL when none is held there.
 * Never calls the driver: this is what the I/O path may do. */
struct vd_extent *vd_stock_take(struct vd_stock *st, unsigned dev);
/* Hold a zeroed chunk (made by vd_extent_alloc or zeroed again). */
void vd_stock_add(struct vd_stock *st, struct vd_extent *ext);
/* Chunks held on pool device dev now. */
unsigned vd_stock_count(struct vd_stock *st, unsigned dev);
/* Ask the keeper to look at the stock soon (from any thread; cheap). */
void vd_stock_kick(struct vd_stock *st);
/* The keeper's wait: until a kick or ns pass.  True after a kick. */
bool vd_stock_wait(struct vd_stock *st, uint64_t ns);

/* A device's state.  Only an active device takes new extents; draining
 * and drained ones keep serving the extents they hold (a drain moves them
 * off); failed is a lost device (vd_device_mark_lost), one-way until
 * restart. */
enum vd_dev_state {
  VD_DEV_ACTIVE,
  VD_DEV_DRAINING,
  VD_DEV_DRAINED,
  VD_DEV_FAILED,
};
#define VD_DEV_STATES 4
/* "active", "draining", "drained", "failed". */
const char *vd_dev_state_name(enum vd_dev_state s);
enum vd_dev_state vd_device_state(const struct vd_device *dev);
/* Put a device in active, draining or drained, in any order.  Under the
 * lock allocations take, so once it returns no new extent lands on a
 * device that is not active.  -EINVAL for VD_DEV_FAILED (mark it lost
 * instead), -ENODEV when the device is lost; err says so. */
int vd_device_set_state(struct vd_device *dev, enum vd_dev_state s, char *err, size_t errlen);
/* Set the bytes held back on a device from now on: capacity becomes free
 * less reserve; extents already made stay.  *inside (may be NULL) gets the
 * bytes allocated beyond the new capacity, which a drain can move.
 * -EINVAL (err says why) for a reserve above the device's memory. */
int vd_device_set_reserve(struct vd_device *dev, uint64_t reserve, uint64_t *inside,
                          char *err, size_t errlen);
/* Bytes allocated beyond the capacity: what a raised reserve now holds. */
uint64_t vd_device_inside_reserve(const struct vd_device *dev);

/* Copies between extents (copy.c), for moving data off a device: one
 * in-order queue per device, made once, and a pinned host bounce buffer
 * that device-to-host and host-to-device transfers take turns on. */
struct vd_copier;
#define VD_COPY_PIECE_DEFAULT (4u << 20) /* bounce = 2 pieces: see design-decisions.md */
/* Make a copier over the pool's devices.  bounce is pinned host memory of
 * bounce_bytes the caller owns (from vd_engine_pinned_alloc, say); NULL
 * makes the copier pin its own of bounce_bytes now, so no copy allocates.
 * Pieces are half the bounce, a multiple of 4 KiB of at least 4 KiB.
 * -EINVAL for a bounce too small, -ENOMEM or -EIO from the driver. */
int vd_copier_open(struct vd_pool *pool, void *bounce, size_t bounce_bytes,
                   struct vd_copier **out, char *err, size_t errlen);
void vd_copier_close(struct vd_copier *c);
/* Copy len bytes at src_off of src to dst_off of dst (any devices;
 * callers are served one at a time).  Within one device the device copies
 * itself; across devices piece k+1 is read into one half of the bounce
 * while piece k is written from the other.  0; -EINVAL for a range past
 * an extent's end or overlapping ranges of one extent; -EIO when a
 * transfer failed (the device was probed: vd_device_check), or a device
 * is lost.  vd_copier_error() then names the device and why. */
int vd_extent_copy(struct vd_copier *c, struct vd_extent *src, uint64_t src_off,
                   struct vd_extent *dst, uint64_t dst_off, uint64_t len);
/* Copy the checksums of the first nblocks blocks of src to dst (both
 * keep them), and when both keep parity, that of the groups those blocks
 * begin (a group cut short in dst needs its parity computed again);
 * 0, -EINVAL past a tail, -EIO as vd_extent_copy. */
int vd_extent_copy_sums(struct vd_copier *c, struct vd_extent *src, struct vd_extent *dst,
                        uint64_t nblocks);
/* The last failed copy's message ("" after a success). */
const char *vd_copier_error(const struct vd_copier *c);
/* Bytes per piece. */
size_t vd_copier_piece(const struct vd_copier *c);

/* Free memory on the device as the driver says now (NVML, the AMD query,
 * or a CPU device's share of the host's), for yielding to other
 * processes: 0, or -ENOTSUP when nothing says. */
int vd_device_free_now(struct vd_device *dev, uint64_t *free_bytes);

/* Yielding: the free memory vramd leaves to other processes on a device
 * (0: off), and what the last yield could not give back for want of room
 * elsewhere. */
void vd_device_set_yield_floor(struct vd_device *dev, uint64_t bytes);
uint64_t vd_device_yield_floor(const struct vd_device *dev);
void vd_device_set_yield_short(struct vd_device *dev, uint64_t bytes);
uint64_t vd_device_yield_short(const struct vd_device *dev);

/* A device that stopped answering: its extents fail every transfer and
 * no new extent goes there.  Marking is one-way until restart; true when
 * this call marked it. */
bool vd_device_mark_lost(struct vd_device *dev);
/* True once the device is marked lost. */
bool vd_device_is_lost(const struct vd_device *dev);
/* Mark a device lost and log why, once (health.c). */
void vd_device_declare_lost(struct vd_device *dev, const char *why);
/* After a failed transfer (what names it, for the log): probe the device
 * and declare it lost if it is gone, rather than one request failing.
 * True when the device is lost.  Blocks for a probe's round trip. */
bool vd_device_check(struct vd_device *dev, const char *what);

#endif
