/* parity.c: parity on a worker's path: kernels around transfers, repair
 * results, and what a rebuilt block counts for (see parity.h). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "parity.h"
#include "pool.h"
#include "util.h"

#define WG_XOR 256u  /* work-items per group of the XOR: 4 words each */

static_assert(VD_PAR_KGROUP == VD_PAR_GROUP, "the kernels' group is pool.h's");
static_assert(VD_SUM_KBLOCK == VD_SUM_BLOCK, "the kernels' block is pool.h's");

/* Start a batch in an area. */
void vd_parity_begin(struct vd_parity *ps, unsigned slot)
{
  ps->slot = slot;
  ps->zeroed[slot] = false;
}

/* Zero the current area once per batch, before the first check. */
bool vd_parity_area(struct vd_parity *ps)
{
  static const cl_uint zero;
  size_t at = (size_t)ps->slot * VD_SUMS_RES * 8;

  if (!ps->on)
    return false;
  if (!ps->zeroed[ps->slot] &&
      clEnqueueFillBuffer(ps->q, ps->rep, &zero, sizeof zero, at, VD_SUMS_RES * 8, 0, NULL,
                          NULL) != CL_SUCCESS)
    return false;
  ps->zeroed[ps->slot] = true;
  return true;
}

/* Launch kernel k over global work-items in groups of local. */
static cl_int run(struct vd_parity *ps, cl_kernel k, size_t global, size_t local)
{
  return clEnqueueNDRangeKernel(ps->q, k, 1, NULL, &global, &local, 0, NULL, NULL);
}

/* Set the arguments both range kernels share: the extent of nblk
 * blocks, and the blocks of [off, off + len); *n gets how many. */
static cl_int range_args(cl_kernel k, cl_mem mem, cl_ulong nblk, uint64_t off, uint64_t len,
                         cl_ulong *first, cl_ulong *n)
{
  cl_int rc;

  vd_sums_widen(&off, &len);
  *first = off / VD_SUM_BLOCK;
  *n = len / VD_SUM_BLOCK;
  rc = clSetKernelArg(k, 0, sizeof mem, &mem);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 1, sizeof nblk, &nblk);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 2, sizeof *first, first);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 3, sizeof *n, n);
  return rc;
}

/* XOR the blocks of [off, off + len) of mem into their parity. */
static cl_int xor_blocks(struct vd_parity *ps, cl_mem mem, cl_ulong nblk, uint64_t off,
                         uint64_t len)
{
  cl_ulong first, n;
  cl_int rc = range_args(ps->kx, mem, nblk, off, len, &first, &n);
  size_t groups = (size_t)((first + n - 1) / VD_PAR_GROUP - first / VD_PAR_GROUP + 1);

  return rc == CL_SUCCESS ? run(ps, ps->kx, groups * ps->wg_x, ps->wg_x) : rc;
}

/* The sink of a write's check results: past every area. */
static cl_uint sink(const struct vd_parity *ps)
{
  return (ps->nslots + 1) * VD_SUMS_RES * 2;
}

/* Check (and repair) the blocks of [off, off + len) of mem, results in
 * entry ri of the current area (ri < 0: a write's, into the sink). */
static cl_int check_blocks(struct vd_parity *ps, cl_mem mem, cl_ulong nblk, uint64_t off,
                           uint64_t len, int ri)
{
  cl_mem rb = ri < 0 ? ps->rep : ps->sums->res;
  cl_uint res = ri < 0 ? sink(ps) : vd_sums_base(ps->sums) + (cl_uint)ri;
  cl_uint rep = ri < 0 ? sink(ps) + 2 : 2 * res;
  cl_ulong first, n;
  cl_int rc = range_args(ps->kc, mem, nblk, off, len, &first, &n);
  size_t bpg = ps->wg_c / VD_SUM_LANES, global = (size_t)((n + bpg - 1) / bpg * ps->wg_c);

  if (rc == CL_SUCCESS) rc = clSetKernelArg(ps->kc, 4, sizeof rb, &rb);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ps->kc, 5, sizeof res, &res);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ps->kc, 6, sizeof ps->rep, &ps->rep);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ps->kc, 7, sizeof rep, &rep);
  if (rc == CL_SUCCESS) {
    cl_uint fix = ri < 0;
    rc = clSetKernelArg(ps->kc, 8, sizeof fix, &fix);
  }
  return rc == CL_SUCCESS ? run(ps, ps->kc, global, ps->wg_c) : rc;
}

/* Before a direct transfer: a READ's check; a write's old blocks
 * checked (a bad one rebuilt), then out of the parity. */
cl_int vd_parity_before(struct vd_parity *ps, cl_mem mem, uint64_t sum_off,
                        const struct vd_segment *s, enum vd_op op, int ri)
{
  cl_ulong nblk = sum_off / VD_SUM_BLOCK;
  cl_int rc;

  if (!ps->on || !ps->sums->on)
    return CL_INVALID_OPERATION;
  if (op != VD_OP_READ) {
    rc = check_blocks(ps, mem, nblk, s->ext_offset, s->len * s->rows, -1);
    return rc == CL_SUCCESS ? xor_blocks(ps, mem, nblk, s->ext_offset, s->len * s->rows) : rc;
  }
  if (ri < 0 || !vd_parity_area(ps))
    return CL_INVALID_OPERATION;
  return check_blocks(ps, mem, nblk, s->ext_offset, s->len * s->rows, ri);
}

/* After it: a write's checksums and new blocks in; a READ was checked. */
cl_int vd_parity_after(struct vd_parity *ps, cl_mem mem, uint64_t sum_off,
                       const struct vd_segment *s, enum vd_op op, int ri)
{
  cl_int rc;

  if (op == VD_OP_READ)
    return ps->on ? CL_SUCCESS : CL_INVALID_OPERATION;
  rc = vd_sums_segment(ps->sums, mem, sum_off, s, op, ri);
  return rc == CL_SUCCESS ? xor_blocks(ps, mem, sum_off / VD_SUM_BLOCK, s->ext_offset,
                                       s->len * s->rows) : rc;
}

/* One vd_par_batch launch over a launch's descriptors. */
cl_int vd_parity_batch(struct vd_parity *ps, cl_mem scratch, cl_ulong desc_off,
                       const cl_mem *ext, unsigned n, cl_uint phase)
{
  cl_uint base = vd_sums_base(ps->sums);
  cl_int rc = clSetKernelArg(ps->kb, 0, sizeof(cl_mem), &scratch);

  if (rc == CL_SUCCESS) rc = clSetKernelArg(ps->kb, 1, sizeof desc_off, &desc_off);
  for (unsigned a = 0; rc == CL_SUCCESS && a < VD_KERNEL_EXTENTS; a++)
    rc = clSetKernelArg(ps->kb, 2 + a, sizeof(cl_mem), ext[a] ? &ext[a] : &scratch);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ps->kb, 18, sizeof phase, &phase);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ps->kb, 19, sizeof ps->sums->res, &ps->sums->res);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ps->kb, 20, sizeof base, &base);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ps->kb, 21, sizeof ps->rep, &ps->rep);
  if (rc == CL_SUCCESS) {
    cl_uint k = sink(ps);
    rc = clSetKernelArg(ps->kb, 22, sizeof k, &k);
  }
  return rc == CL_SUCCESS ? run(ps, ps->kb, n * ps->wg_c, ps->wg_c) : rc;
}

/* Bring the repair results back with the batch's data. */
cl_int vd_parity_end(struct vd_parity *ps)
{
  unsigned n = ps->sums->nres[ps->slot];
  size_t at = (size_t)ps->slot * VD_SUMS_RES * 8;

  if (!ps->on || !ps->zeroed[ps->slot] || !n)
    return CL_SUCCESS;
  return clEnqueueReadBuffer(ps->q, ps->rep, CL_FALSE, at, n * 8u,
                             (unsigned char *)ps->host + at, 0, NULL, NULL);
}

/* Count and log the blocks the batch's reads rebuilt. */
void vd_parity_complete(struct vd_parity *ps, unsigned slot, bool failed)
{
  const struct vd_sums_entry *e = ps->sums->ent + (size_t)slot * VD_SUMS_RES;
  const uint32_t *rep = ps->host + (size_t)slot * VD_SUMS_RES * 2;

  if (!ps->on || failed || !ps->zeroed[slot])
    return;
  for (unsigned i = 0; i < ps->sums->nres[slot]; i++) {
    struct vd_target *t = e[i].p->io->target;
    uint32_t n = rep[2 * i];
    if (!n)
      continue;
    atomic_fetch_add_explicit(&t->par_repaired, n, memory_order_relaxed);
    atomic_fetch_add_explicit(ps->dev_repaired, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&e[i].p->io->repaired, n, memory_order_relaxed);
    if (e[i].whole)
      vd_info_rl("volume %s: %u bad block(s) in the read of %llu bytes at offset %llu on %s "
                 "rebuilt from parity and rewritten", t->label, n,
                 (unsigned long long)e[i].p->io->len, (unsigned long long)e[i].p->io->off,
                 ps->id);
    else
      vd_info_rl("volume %s: checksum mismatch in the block at offset %llu on %s: rebuilt "
                 "from parity and rewritten (%u in the read of %llu bytes at %llu)", t->label,
                 (unsigned long long)vd_sums_offset(&e[i], rep[2 * i + 1] - 1), ps->id, n,
                 (unsigned long long)e[i].p->io->len, (unsigned long long)e[i].p->io->off);
  }
}

/* A kernel of prog and its work-group size, at most cap. */
static cl_int make_kernel(cl_program prog, cl_device_id dev, const char *name, size_t cap,
                     cl_kernel *k, size_t *wg)
{
  size_t kwg = 0;
  cl_int rc;

  *k = clCreateKernel(prog, name, &rc);
  if (rc != CL_SUCCESS) {
    *k = NULL;
    return rc;
  }
  rc = clGetKernelWorkGroupInfo(*k, dev, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg, NULL);
  *wg = kwg && kwg < cap ? kwg : cap;
  return rc;
}

/* Set the kernels and the result buffer and its pinned mirror up. */
void vd_parity_init(struct vd_parity *ps, cl_program prog, struct vd_device *dev,
                    cl_command_queue q, unsigned nslots, struct vd_sums *sums,
                    _Atomic uint64_t *dev_repaired)
{
  cl_context ctx = vd_device_context(dev);
  cl_device_id d = vd_device_cl(dev);
  size_t bytes = (size_t)(nslots + 1) * VD_SUMS_RES * 8 + 16, wg_b = 0; /* and the sink */
  cl_int rc = CL_INVALID_PROGRAM;

  memset(ps, 0, sizeof *ps);
  ps->q = q;
  ps->nslots = nslots;
  ps->sums = sums;
  ps->dev_repaired = dev_repaired;
  snprintf(ps->id, sizeof ps->id, "%s", vd_device_info(dev)->id);
  if (!prog || !sums->on)
    goto out_warn;
  rc = make_kernel(prog, d, VD_PAR_XOR_NAME, WG_XOR, &ps->kx, &ps->wg_x);
  if (rc == CL_SUCCESS)
    rc = make_kernel(prog, d, VD_PAR_CHECK_NAME, VD_PAR_CHECK_WG, &ps->kc, &ps->wg_c);
  if (rc == CL_SUCCESS)
    rc = make_kernel(prog, d, VD_PAR_BATCH_NAME, VD_PAR_CHECK_WG, &ps->kb, &wg_b);
  /* One work-group size for both checks: the batch's is the smaller;
   * vd_par_check gives LANES work-items to a block. */
  if (rc == CL_SUCCESS && wg_b < ps->wg_c)
    ps->wg_c = wg_b;
  ps->wg_c -= ps->wg_c % VD_SUM_LANES;
  if (rc == CL_SUCCESS && !ps->wg_c)
    rc = CL_INVALID_WORK_GROUP_SIZE;
  if (rc != CL_SUCCESS)
    goto out_warn;
  ps->rep = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &rc);
  if (rc == CL_SUCCESS)
    ps->host_mem = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, NULL,
                                  &rc);
  if (rc == CL_SUCCESS)
    ps->host = clEnqueueMapBuffer(q, ps->host_mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0,
                                  bytes, 0, NULL, NULL, &rc);
  if (rc != CL_SUCCESS) {
    ps->host = NULL;
    goto out_warn;
  }
  ps->on = true;
  return;

out_warn:
  vd_warn("%s: cannot set up parity (%s): volumes with integrity crc32c+parity fail their "
          "I/O here", ps->id, vd_cl_strerror(rc));
  vd_parity_fini(ps);
}

/* Release what vd_parity_init took; the queue must still exist. */
void vd_parity_fini(struct vd_parity *ps)
{
  if (ps->host) {
    clEnqueueUnmapMemObject(ps->q, ps->host_mem, ps->host, 0, NULL, NULL);
    clFinish(ps->q);
  }
  if (ps->host_mem)
    clReleaseMemObject(ps->host_mem);
  if (ps->rep)
    clReleaseMemObject(ps->rep);
  if (ps->kx)
    clReleaseKernel(ps->kx);
  if (ps->kc)
    clReleaseKernel(ps->kc);
  if (ps->kb)
    clReleaseKernel(ps->kb);
  memset(ps, 0, sizeof *ps);
}

/* Group g's parity from its blocks, on the scrubber's queue. */
int vd_scrubber_parity_fix(struct vd_scrubber *sc, struct vd_extent *ext, uint64_t g)
{
  cl_mem mem = vd_extent_mem(ext);
  cl_ulong nblk = vd_extent_bytes(ext) / VD_SUM_BLOCK, grp = g;
  size_t wg = WG_XOR;
  cl_kernel k = NULL;
  cl_int rc;

  if (!vd_extent_parity(ext) || g >= (nblk + VD_PAR_GROUP - 1) / VD_PAR_GROUP)
    return -EINVAL;
  pthread_mutex_lock(&sc->lock);
  rc = vd_scrubber_ready(sc);
  if (rc == CL_SUCCESS)
    rc = make_kernel(sc->prog, vd_device_cl(sc->dev), VD_PAR_FIX_NAME, WG_XOR, &k, &wg);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 0, sizeof mem, &mem);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 1, sizeof nblk, &nblk);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(k, 2, sizeof grp, &grp);
  if (rc == CL_SUCCESS)
    rc = clEnqueueNDRangeKernel(sc->q, k, 1, NULL, &wg, &wg, 0, NULL, NULL);
  if (rc == CL_SUCCESS)
    rc = clFinish(sc->q);
  if (k)
    clReleaseKernel(k);
  pthread_mutex_unlock(&sc->lock);
  if (rc != CL_SUCCESS) {
    vd_err_rl("%s: computing a parity group failed: %s", vd_device_info(sc->dev)->id,
              vd_cl_strerror(rc));
    return -EIO;
  }
  return 0;
}
