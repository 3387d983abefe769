/* parity.h: parity on a worker's path (integrity crc32c+parity,
 * engine-private).
 *
 * An extent that keeps parity gets, on the same in-order queue as its
 * transfers: for a WRITE or ZERO, the old contents of every block it
 * touches checked (a bad one rebuilt first, so that it leaves the parity
 * as it was written) and XORed into their groups' parity before it lands,
 * and the new ones after it (with the checksums), so the parity never
 * crosses PCIe;
 * for a READ, a check before the transfer that rebuilds a bad block from
 * its group and writes it back when the rebuilt block matches its
 * checksum, so the read returns good data.  What the check could not
 * rebuild goes into the batch's checksum result entries (sums.h), and
 * the read fails with EIO as on a volume without parity; what it
 * rebuilt comes back in entries of its own, counted once the batch's
 * marker passed.  Batched small segments get the same from vd_par_batch
 * launches around each batch kernel launch (small.c). */
#ifndef VRAMD_PARITY_H
#define VRAMD_PARITY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "kernels.h"
#include "pool-cl.h"
#include "small.h"
#include "sums.h"

/* A worker's parity kernels and repair results: one area per batch slot
 * and one for the idle path, two words per checksum result entry. */
struct vd_parity {
  bool on;
  char id[16];                /* the device, for logs */
  cl_command_queue q;
  cl_kernel kx, kc, kb;       /* vd_par_xor, vd_par_check, vd_par_batch */
  size_t wg_x, wg_c;          /* work-items: XOR, check (<= VD_PAR_CHECK_WG) */
  cl_mem rep, host_mem;
  uint32_t *host;             /* the mapping of host_mem */
  unsigned nslots;
  unsigned slot;              /* the batch being built */
  bool zeroed[VD_SMALL_SLOTS + 1]; /* the area holds results of this batch */
  struct vd_sums *sums;       /* the worker's: entries and their buffer */
  _Atomic uint64_t *dev_repaired; /* the device's count of blocks rebuilt */
};

/* Set a worker's parity up beside its checksums (sums, set up first);
 * on failure ps->on stays false with a warning, and extents that keep
 * parity get EIO on this worker. */
void vd_parity_init(struct vd_parity *ps, cl_program prog, struct vd_device *dev,
                    cl_command_queue q, unsigned nslots, struct vd_sums *sums,
                    _Atomic uint64_t *dev_repaired);
void vd_parity_fini(struct vd_parity *ps);

/* Start a batch in area slot (nslots: the idle path's). */
void vd_parity_begin(struct vd_parity *ps, unsigned slot);
/* The current area zeroed for the results of READ checks: false when
 * that cannot be queued. */
bool vd_parity_area(struct vd_parity *ps);
/* Around a direct transfer of segment s of mem, whose extent keeps
 * checksums (at sum_off) and parity: before it, a READ's check (result
 * entry ri) or a WRITE's or ZERO's old blocks out of the parity; after
 * it, a WRITE's or ZERO's checksums and new blocks into the parity. */
cl_int vd_parity_before(struct vd_parity *ps, cl_mem mem, uint64_t sum_off,
                        const struct vd_segment *s, enum vd_op op, int ri);
cl_int vd_parity_after(struct vd_parity *ps, cl_mem mem, uint64_t sum_off,
                       const struct vd_segment *s, enum vd_op op, int ri);
/* A launch of vd_par_batch in phase over n descriptors at desc_off of
 * scratch, whose extents are ext[] (NULL: unused, scratch set). */
cl_int vd_parity_batch(struct vd_parity *ps, cl_mem scratch, cl_ulong desc_off,
                       const cl_mem *ext, unsigned n, cl_uint phase);
/* Queue the read-back of the batch's repair results, if it has any. */
cl_int vd_parity_end(struct vd_parity *ps);
/* After the batch's marker: count and log each block rebuilt (skipped
 * when the batch failed). */
void vd_parity_complete(struct vd_parity *ps, unsigned slot, bool failed);

/* Compute group g's parity of ext anew from its blocks, on the device's
 * scrubber queue, and wait (a group a shrink cut short).  0, -EINVAL
 * (no parity, no such group), -EIO. */
int vd_scrubber_parity_fix(struct vd_scrubber *sc, struct vd_extent *ext, uint64_t g);

#endif
