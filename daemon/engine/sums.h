/* sums.h: checksums on a worker's path (integrity, engine-private).
 *
 * A segment of an extent that keeps checksums gets a kernel launch on the
 * same in-order queue, right behind its transfer: a WRITE or ZERO stores
 * the sums of every block it touched (the whole block, read back from
 * VRAM, so a 512-byte write keeps them right); a READ verifies them and
 * writes a result entry of its batch, non-zero for a bad block.  A batch
 * with such reads zeroes its entries first and reads them back before its
 * marker, with the data.  Once the marker passed, a non-zero entry fails
 * its part with EIO before any data is handed out.  Batched small
 * segments get their sums from one vd_sum_batch launch behind each batch
 * kernel launch (small.c); the results are the same entries. */
#ifndef VRAMD_SUMS_H
#define VRAMD_SUMS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "kernels.h"
#include "pool-cl.h"
#include "small.h"

#define VD_SUMS_RES 512       /* result entries per batch */
#define VD_SUMS_PARTS 256     /* parts a batch may hold (engine.c's largest batch) */

/* What a result entry verifies: the part and one segment's geometry, to
 * name the volume offset of a bad block. */
struct vd_sums_entry {
  struct vd_io_part *p;
  uint64_t ext_offset, buf_offset, len, pitch;
  bool whole;                 /* shared by several segments: name the request */
};

/* A worker's kernels and result buffer: one area per batch slot, and one
 * more for the idle path. */
struct vd_sums {
  bool on;
  char id[16];                /* the device, for logs */
  cl_command_queue q;
  cl_kernel kr, kb;           /* vd_sum_range, vd_sum_batch */
  size_t wg, wg_b;            /* their work-group sizes */
  cl_mem res, host_mem;
  uint32_t *host;             /* the mapping of host_mem */
  struct vd_sums_entry *ent;  /* nslots + 1 areas of VD_SUMS_RES */
  unsigned nslots;
  unsigned nres[VD_SMALL_SLOTS + 1];
  bool zeroed;                /* the current area's zeroing is queued */
  unsigned slot;              /* the batch being built */
  _Atomic uint64_t *dev_errors; /* the device's count of mismatches */
};

/* Set a worker's checksums up with the device's program (NULL: none);
 * on failure sm->on stays false with a warning, and extents that keep
 * checksums get EIO on this worker.  nslots <= VD_SMALL_SLOTS. */
void vd_sums_init(struct vd_sums *ss, cl_program prog, struct vd_device *dev,
                  cl_command_queue q, unsigned nslots, _Atomic uint64_t *dev_errors);
void vd_sums_fini(struct vd_sums *ss);

/* Start a batch in area slot (nslots: the idle path's). */
void vd_sums_begin(struct vd_sums *ss, unsigned slot);
/* A result entry for a READ segment of part p, its area zeroed first;
 * -1 when the worker has no checksums. */
int vd_sums_entry(struct vd_sums *ss, struct vd_io_part *p, const struct vd_segment *s);
/* Behind a direct transfer of segment s of mem (sums at sum_off): store
 * or verify (into entry ri) the blocks it touched. */
cl_int vd_sums_segment(struct vd_sums *ss, cl_mem mem, uint64_t sum_off,
                       const struct vd_segment *s, enum vd_op op, int ri);
/* Queue the read-back of the batch's entries, if it has any. */
cl_int vd_sums_end(struct vd_sums *ss);
/* After the batch's marker: fail with EIO the parts whose entries say a
 * block was bad, count and log each (skipped when the batch failed). */
void vd_sums_complete(struct vd_sums *ss, unsigned slot, bool failed);

/* [*off, *off + *len) widened to whole blocks: what a segment of an
 * extent with checksums reads and writes. */
void vd_sums_widen(uint64_t *off, uint64_t *len);

/* The volume offset where block k (from the entry's first) starts. */
uint64_t vd_sums_offset(const struct vd_sums_entry *e, uint32_t k);

/* Absolute index of entry ri of the current area, for vd_sum_batch. */
uint32_t vd_sums_base(const struct vd_sums *ss);

/* A checksum kernel's work-group size: at most cap, a multiple of
 * VD_SUM_LANES; 0 when the device cannot run LANES work-items of it. */
size_t vd_sums_wg(cl_kernel k, cl_device_id dev, size_t cap);
/* Work-items for vd_sum_range over n blocks in work-groups of wg, at
 * most max_groups of them (0: as many as a GPU runs at once). */
size_t vd_sums_global(uint64_t n, size_t wg, size_t max_groups);

/* A device's scrubber: its own queue beside the workers', made on first
 * use, for whole-extent checks and the fault route's bit flips. */
struct vd_scrubber {
  pthread_mutex_t lock;       /* one scrub or flip at a time per device */
  struct vd_device *dev;
  cl_program prog;            /* the device's, not owned */
  cl_command_queue q;
  cl_kernel kr, kf;           /* vd_sum_range (SCRUB), vd_flip */
  cl_mem res;
  size_t wg;
  size_t max_groups;          /* half of what the device runs at once */
};
void vd_scrubber_init(struct vd_scrubber *sc, cl_program prog, struct vd_device *dev);
void vd_scrubber_fini(struct vd_scrubber *sc);
/* Make the queue, kernels and result buffer on first use; under sc->lock. */
cl_int vd_scrubber_ready(struct vd_scrubber *sc);
/* Check blocks [first, first + n) of ext against its sums: *nbad gets
 * how many mismatch, bad[] the first cap of them (block - first, in no
 * order).  Blocks written meanwhile may mismatch for a moment: callers
 * confirm by reading.  0, -EINVAL (ext keeps no sums, range), -EIO. */
int vd_scrubber_run(struct vd_scrubber *sc, struct vd_extent *ext, uint64_t first, uint64_t n,
                    uint32_t *bad, unsigned cap, uint64_t *nbad);
/* Flip the bits of mask in byte off of ext's data, sums untouched (a
 * test's fault).  0, -EINVAL past the data, -EIO. */
int vd_scrubber_flip(struct vd_scrubber *sc, struct vd_extent *ext, uint64_t off, uint8_t mask);

#endif
