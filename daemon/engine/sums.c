/* sums.c: checksums on a worker's path: kernels behind transfers, result
 * entries, and what a bad block does to its request (see sums.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "sums.h"
#include "util.h"

#define WG_RANGE 256u  /* work-items per group of vd_sum_range: 8 blocks at a time */
#define WG_BATCH 128u  /* and of vd_sum_batch: a small segment's 4 blocks at once */
#define MAX_GROUPS 1024u /* more than a GPU runs at once; each strides over the rest */

/* A checksum kernel's work-group size: at most cap, a multiple of
 * VD_SUM_LANES; 0 when the device cannot run LANES work-items of it. */
size_t vd_sums_wg(cl_kernel k, cl_device_id dev, size_t cap)
{
  size_t kwg = 0;

  if (clGetKernelWorkGroupInfo(k, dev, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL) !=
      CL_SUCCESS)
    return 0;
  kwg = kwg && kwg < cap ? kwg : cap;
  return kwg - kwg % VD_SUM_LANES;
}

/* Work-items for vd_sum_range over n blocks in work-groups of wg, at
 * most max_groups of them (0: MAX_GROUPS). */
size_t vd_sums_global(uint64_t n, size_t wg, size_t max_groups)
{
  uint64_t groups = (n + wg / VD_SUM_LANES - 1) / (wg / VD_SUM_LANES);
  uint64_t cap = max_groups ? max_groups : MAX_GROUPS;
  return (size_t)(groups < cap ? groups : cap) * wg;
}

/* Widen a byte range to whole blocks. */
void vd_sums_widen(uint64_t *off, uint64_t *len)
{
  uint64_t lo = *off / VD_SUM_BLOCK * VD_SUM_BLOCK;
  uint64_t hi = (*off + *len + VD_SUM_BLOCK - 1) / VD_SUM_BLOCK * VD_SUM_BLOCK;
  *off = lo;
  *len = hi - lo;
}

/* Start a batch in an area. */
void vd_sums_begin(struct vd_sums *ss, unsigned slot)
{
  ss->slot = slot;
  ss->nres[slot] = 0;
  ss->zeroed = false;
}

/* The current area's first entry, as an index into the result buffer. */
uint32_t vd_sums_base(const struct vd_sums *ss)
{
  return ss->slot * VD_SUMS_RES;
}

/* A result entry for a READ segment: a new one while there is room for
 * every part still to come, else the part's last one (then the log names
 * the request, not the block). */
int vd_sums_entry(struct vd_sums *ss, struct vd_io_part *p, const struct vd_segment *s)
{
  unsigned n = ss->nres[ss->slot];
  struct vd_sums_entry *e = ss->ent + vd_sums_base(ss);

  if (!ss->on)
    return -1;
  if (!ss->zeroed) {
    static const cl_uint zero;
    if (clEnqueueFillBuffer(ss->q, ss->res, &zero, sizeof zero,
                            (size_t)vd_sums_base(ss) * 4, VD_SUMS_RES * 4, 0, NULL,
                            NULL) != CL_SUCCESS)
      return -1;
    ss->zeroed = true;
  }
  if (n && e[n - 1].p == p && n >= VD_SUMS_RES - VD_SUMS_PARTS) {
    e[n - 1].whole = true;
    return (int)n - 1;
  }
  e[n] = (struct vd_sums_entry){ p, s->ext_offset, s->buf_offset, s->len, s->buf_pitch, false };
  ss->nres[ss->slot] = n + 1;
  return (int)n;
}

/* Launch vd_sum_range over the blocks of [off, off + len) of mem. */
static cl_int range(struct vd_sums *ss, cl_mem mem, uint64_t sum_off, uint64_t off,
                    uint64_t len, cl_uint mode, cl_uint ri)
{
  cl_ulong so = sum_off, first, n;
  size_t global, local = ss->wg;
  cl_int rc;

  vd_sums_widen(&off, &len);
  first = off / VD_SUM_BLOCK;
  n = len / VD_SUM_BLOCK;
  global = vd_sums_global(n, local, 0);
  rc = clSetKernelArg(ss->kr, 0, sizeof mem, &mem);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ss->kr, 1, sizeof so, &so);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ss->kr, 2, sizeof first, &first);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ss->kr, 3, sizeof n, &n);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ss->kr, 4, sizeof mode, &mode);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ss->kr, 6, sizeof ri, &ri);
  if (rc == CL_SUCCESS)
    rc = clEnqueueNDRangeKernel(ss->q, ss->kr, 1, NULL, &global, &local, 0, NULL, NULL);
  return rc;
}

/* The kernel behind a direct transfer. */
cl_int vd_sums_segment(struct vd_sums *ss, cl_mem mem, uint64_t sum_off,
                       const struct vd_segment *s, enum vd_op op, int ri)
{
  if (!ss->on || (op == VD_OP_READ && ri < 0))
    return CL_INVALID_OPERATION;
  return range(ss, mem, sum_off, s->ext_offset, s->len * s->rows,
               op == VD_OP_READ ? VD_SUM_VERIFY : VD_SUM_STORE,
               op == VD_OP_READ ? vd_sums_base(ss) + (cl_uint)ri : 0);
}

/* Bring the entries back with the batch's data. */
cl_int vd_sums_end(struct vd_sums *ss)
{
  unsigned n = ss->nres[ss->slot];
  size_t at = (size_t)vd_sums_base(ss) * 4;

  if (!ss->on || !n)
    return CL_SUCCESS;
  return clEnqueueReadBuffer(ss->q, ss->res, CL_FALSE, at, n * 4u,
                             (unsigned char *)ss->host + at, 0, NULL, NULL);
}

/* The volume offset where block k (from the entry's first) starts: a
 * block lies whole in one stripe unit, so in one row of the segment. */
static uint64_t bad_offset(const struct vd_sums_entry *e, uint32_t k)
{
  uint64_t first = e->ext_offset / VD_SUM_BLOCK * VD_SUM_BLOCK;
  uint64_t at = first + (uint64_t)k * VD_SUM_BLOCK, base = e->p->io->off + e->buf_offset;

  if (at < e->ext_offset)
    return base - (e->ext_offset - at);
  at -= e->ext_offset;
  return base + at / e->len * e->pitch + at % e->len;
}

/* The same for other files' logs (parity.c). */
uint64_t vd_sums_offset(const struct vd_sums_entry *e, uint32_t k)
{
  return bad_offset(e, k);
}

/* What a mismatch means for the read, for the log. */
static const char *outcome(const struct vd_target *t)
{
  return t->map.copies > 1
           ? "is served from another copy in sync, if one is, and this one rewritten"
           : "fails with EIO";
}

/* Fail the parts whose entries found a bad block. */
void vd_sums_complete(struct vd_sums *ss, unsigned slot, bool failed)
{
  const struct vd_sums_entry *e = ss->ent + (size_t)slot * VD_SUMS_RES;
  const uint32_t *res = ss->host + (size_t)slot * VD_SUMS_RES;

  if (!ss->on || failed)
    return;
  for (unsigned i = 0; i < ss->nres[slot]; i++) {
    struct vd_io_part *p = e[i].p;
    struct vd_target *t;
    if (!res[i] || p->err)
      continue;
    t = p->io->target;
    p->err = -EIO;
    p->sum_bad = true;
    p->bad_off = e[i].whole ? UINT64_MAX : bad_offset(&e[i], res[i] - 1);
    atomic_fetch_add_explicit(&t->sum_errors, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(ss->dev_errors, 1, memory_order_relaxed);
    if (e[i].whole)
      vd_warn_rl("volume %s: checksum mismatch in the read of %llu bytes at offset %llu on "
                 "%s: %s (data in VRAM changed since it was written)",
                 t->label, (unsigned long long)p->io->len, (unsigned long long)p->io->off,
                 ss->id, outcome(t));
    else
      vd_warn_rl("volume %s: checksum mismatch in the block at offset %llu on %s: the read "
                 "of %llu bytes at %llu %s (data in VRAM changed since it was written)",
                 t->label, (unsigned long long)bad_offset(&e[i], res[i] - 1), ss->id,
                 (unsigned long long)p->io->len, (unsigned long long)p->io->off, outcome(t));
  }
}

/* Set the kernels, result buffer and its pinned mirror up. */
void vd_sums_init(struct vd_sums *ss, cl_program prog, struct vd_device *dev,
                  cl_command_queue q, unsigned nslots, _Atomic uint64_t *dev_errors)
{
  cl_context ctx = vd_device_context(dev);
  size_t bytes = (size_t)(nslots + 1) * VD_SUMS_RES * 4;
  cl_bool little = CL_FALSE;
  cl_int rc = CL_INVALID_PROGRAM;

  memset(ss, 0, sizeof *ss);
  ss->q = q;
  ss->nslots = nslots;
  ss->dev_errors = dev_errors;
  snprintf(ss->id, sizeof ss->id, "%s", vd_device_info(dev)->id);
  if (!prog || nslots == 0 || nslots > VD_SMALL_SLOTS)
    goto out_warn;
  /* The kernels read blocks as little-endian words. */
  rc = clGetDeviceInfo(vd_device_cl(dev), CL_DEVICE_ENDIAN_LITTLE, sizeof little, &little, NULL);
  if (rc == CL_SUCCESS && !little)
    rc = CL_INVALID_DEVICE;
  if (rc != CL_SUCCESS)
    goto out_warn;
  ss->kr = clCreateKernel(prog, VD_SUM_RANGE_NAME, &rc);
  if (rc == CL_SUCCESS)
    ss->kb = clCreateKernel(prog, VD_SUM_BATCH_NAME, &rc);
  if (rc != CL_SUCCESS)
    goto out_warn;
  ss->wg = vd_sums_wg(ss->kr, vd_device_cl(dev), WG_RANGE);
  ss->wg_b = vd_sums_wg(ss->kb, vd_device_cl(dev), WG_BATCH);
  if (!ss->wg || !ss->wg_b) {
    rc = CL_INVALID_WORK_GROUP_SIZE;
    goto out_warn;
  }
  ss->res = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &rc);
  if (rc == CL_SUCCESS)
    ss->host_mem = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, NULL,
                                  &rc);
  if (rc == CL_SUCCESS)
    ss->host = clEnqueueMapBuffer(q, ss->host_mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0,
                                  bytes, 0, NULL, NULL, &rc);
  if (rc != CL_SUCCESS) {
    ss->host = NULL;
    goto out_warn;
  }
  rc = clSetKernelArg(ss->kr, 5, sizeof ss->res, &ss->res);
  if (rc != CL_SUCCESS)
    goto out_warn;
  ss->ent = calloc((size_t)(nslots + 1) * VD_SUMS_RES, sizeof *ss->ent);
  if (!ss->ent) {
    rc = CL_OUT_OF_HOST_MEMORY;
    goto out_warn;
  }
  ss->on = true;
  return;

out_warn:
  vd_warn("%s: cannot set up checksums (%s): volumes with integrity fail their I/O here",
          ss->id, vd_cl_strerror(rc));
  vd_sums_fini(ss);
}

/* Release what vd_sums_init took; the queue must still exist. */
void vd_sums_fini(struct vd_sums *ss)
{
  if (ss->host) {
    clEnqueueUnmapMemObject(ss->q, ss->host_mem, ss->host, 0, NULL, NULL);
    clFinish(ss->q);
  }
  if (ss->host_mem)
    clReleaseMemObject(ss->host_mem);
  if (ss->res)
    clReleaseMemObject(ss->res);
  if (ss->kr)
    clReleaseKernel(ss->kr);
  if (ss->kb)
    clReleaseKernel(ss->kb);
  free(ss->ent);
  memset(ss, 0, sizeof *ss);
}
