/* small.h: the batched small-request path of one engine worker.
 *
 * Small one-row segments of a batch do not get a transfer each.  WRITE
 * data is copied into a pinned staging slot next to a descriptor table,
 * uploaded with one clEnqueueWriteBuffer into a device scratch buffer, and
 * one kernel launch scatters it into the extents; READs are gathered by the
 * same launch into scratch and come back with one clEnqueueReadBuffer, to
 * be copied out to the requests once the batch's marker has passed.  Small
 * ZEROs are a descriptor without data.  Engine-private. */
#ifndef VRAMD_SMALL_H
#define VRAMD_SMALL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "kernels.h"
#include "pool-cl.h"

struct vd_sums;
struct vd_parity;

#define VD_SMALL_RECS 512   /* segments one batch can send through the kernel */
#define VD_SMALL_SLOTS 16   /* batches in flight per worker, at most */

/* One batched segment, kept until its batch completes. */
struct vd_small_rec {
  struct vd_io_part *p;
  cl_mem mem;           /* the extent */
  unsigned char *dst;   /* READ: where the bytes go after the marker */
  uint64_t ext_off;
  uint64_t c_lo, c_hi;  /* what it touches: whole blocks when the extent keeps sums */
  uint32_t scr;         /* its data in the slot (slot-relative) */
  uint32_t len;
  uint32_t sum_blk;     /* the extent's sums, in blocks from its start; 0: none */
  uint16_t ri;          /* READ with sums: its result entry (sums.h) */
  uint8_t kop;          /* VD_KOP_* */
  uint8_t arg;          /* extent argument slot in its launch */
  bool par;             /* the extent keeps parity (parity.h) */
  bool launch_start;    /* first record of a kernel launch */
};

/* One batch's share of staging and scratch, and its records. */
struct vd_small_slot {
  struct vd_small_rec *rec;
  unsigned nrec;
  uint32_t rd_lo;       /* read data occupies [rd_lo, slot end) */
};

/* A worker's path: staging mapped once, scratch of the same size, one slot
 * per batch in flight, and a kernel only this worker sets arguments on. */
struct vd_small {
  bool on;
  char id[16];                /* the device, for logs */
  cl_command_queue q;
  cl_kernel k;
  size_t wg;                  /* work-items per descriptor */
  cl_mem stage_mem, scratch;
  unsigned char *stage;       /* the mapping of stage_mem */
  uint64_t bytes;             /* of staging, and of scratch */
  uint32_t slot_bytes;
  uint64_t max_seg;
  struct vd_small_rec *recs;  /* nslots * VD_SMALL_RECS */
  struct vd_small_slot slot[VD_SMALL_SLOTS];
  uint32_t arg_scratch;       /* bit s: extent argument s is the scratch buffer */
  /* The batch being built (one at a time per worker). */
  struct vd_small_slot *cur;
  uint64_t base;              /* cur's offset in staging and scratch */
  uint32_t up_lo, up_hi;      /* not yet uploaded: write data from up_lo to up_hi */
  unsigned chunk;             /* first record not yet uploaded */
  unsigned launch;            /* first record of the current launch */
  unsigned next;              /* extent arguments the current launch uses */
  cl_mem ext[VD_KERNEL_EXTENTS];
  uint64_t lo, hi;            /* extent-offset bounds of records not yet uploaded */
  uint64_t llo, lhi;          /* and of the current launch */
  _Atomic uint64_t segments, launches;
  struct vd_sums *sums;       /* the worker's checksums (vd_sum_batch) */
  struct vd_parity *par;      /* and parity (vd_par_batch) */
};

/* Build the kernel for one device; NULL (with a warning) if it fails. */
cl_program vd_small_program(struct vd_device *dev);

/* Set a worker's path up: on success sm->on is true; on failure a warning
 * says why and the worker keeps the direct path.  nslots <= VD_SMALL_SLOTS. */
void vd_small_init(struct vd_small *sm, cl_program prog, struct vd_device *dev,
                   cl_command_queue q, unsigned nslots, uint64_t stage_bytes,
                   uint64_t max_seg);
/* Release what vd_small_init took; the queue must still exist. */
void vd_small_fini(struct vd_small *sm);

/* Start building the batch that uses slot. */
void vd_small_begin(struct vd_small *sm, unsigned slot);
/* Take one segment of part p into the batch; false when it must go direct.
 * sum_off: where the extent keeps its sums (0: none); par: it keeps
 * parity too; ri: a READ's result entry then. */
bool vd_small_add(struct vd_small *sm, struct vd_io_part *p, cl_mem mem,
                  const struct vd_segment *s, uint64_t sum_off, bool par, int ri);
/* Before a direct transfer of [off, off+len) of mem: enqueue what is
 * batched so far if the two must not be reordered. */
void vd_small_order(struct vd_small *sm, cl_mem mem, uint64_t off, uint64_t len,
                    bool read);
/* Enqueue the rest of the batch: upload, kernel launches, read-back. */
void vd_small_end(struct vd_small *sm, cl_event *last);
/* After the batch's marker: copy READ data out to the requests (skipped
 * when failed or for parts with an error). */
void vd_small_complete(struct vd_small *sm, unsigned slot, bool failed);

#endif
