/* small.c: batch a worker's small segments through pinned staging and one
 * gather/scatter kernel launch (see small.h for the whole picture).
 *
 * Layout of one slot (the same offsets in staging and in scratch):
 *   [write data | descriptors] [write data | descriptors] ...  (chunks, growing up)
 *   ...                                     [read data]        (growing down)
 * A chunk is what one clEnqueueWriteBuffer uploads; normally a batch is one
 * chunk.  A chunk holds one or more launches: records that must not run in
 * parallel (overlapping, not both reads) or that need a 17th extent start a
 * new launch, so the result is the same as the transfers in queue order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parity.h"
#include "small.h"
#include "sums.h"
#include "util.h"

#define DESC_BYTES 32u   /* one ulong4 */
#define WG_MAX 256u      /* work-items per descriptor: 4 KiB moves in one pass of uint4s */

/* Round up to a multiple of a power of two. */
static uint64_t align_up(uint64_t x, uint64_t a)
{
  return (x + a - 1) & ~(a - 1);
}

/* Build the engine's program (batch and checksum kernels) for one device. */
cl_program vd_small_program(struct vd_device *dev)
{
  const char *src[3] = { vd_kernel_source, vd_sum_kernel_source(), vd_parity_kernel_source };
  const char *id = vd_device_info(dev)->id;
  cl_device_id d = vd_device_cl(dev);
  cl_uint align_bits = 0;
  cl_program prog;
  cl_int rc;

  /* The kernel moves uint4s at offsets it computes from buffer starts. */
  if (clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits, NULL)
      != CL_SUCCESS || align_bits < 128) {
    vd_warn("%s: buffers are not 16-byte aligned: small requests take the direct path", id);
    return NULL;
  }
  prog = clCreateProgramWithSource(vd_device_context(dev), 3, src, NULL, &rc);
  if (rc != CL_SUCCESS) {
    vd_warn("%s: cannot create the batch kernel (%s): small requests take the direct path",
            id, vd_cl_strerror(rc));
    return NULL;
  }
  rc = clBuildProgram(prog, 1, &d, "", NULL, NULL);
  if (rc != CL_SUCCESS) {
    size_t n = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, d, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) == CL_SUCCESS && n &&
        (log = calloc(1, n + 1)) != NULL &&
        clGetProgramBuildInfo(prog, d, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS)
      log[0] = '\0';
    vd_warn("%s: the batch kernel does not build (%s, %d): small requests take the direct "
            "path; build log: %.2000s", id, vd_cl_strerror(rc), (int)rc, log ? log : "");
    free(log);
    clReleaseProgram(prog);
    return NULL;
  }
  return prog;
}

/* Store one descriptor at p (unaligned-safe). */
static void put_desc(unsigned char *p, uint64_t x, uint64_t ext_off, uint64_t scr, uint64_t len)
{
  uint64_t d[4] = { x, ext_off, scr, len };
  memcpy(p, d, sizeof d);
}

/* The extent each argument slot of records r[0..n) stands for. */
static void wanted(const struct vd_small_rec *r, unsigned n, cl_mem *want)
{
  memset(want, 0, VD_KERNEL_EXTENTS * sizeof *want);
  for (unsigned i = 0; i < n; i++)
    want[r[i].arg] = r[i].mem;
}

/* Set the kernel's extent arguments for records r[0..n) and launch it over
 * their descriptors, which start at desc_off in scratch; ev (may be NULL)
 * gets the launch's event. */
static cl_int launch(struct vd_small *sm, const struct vd_small_rec *r, unsigned n,
                     cl_ulong desc_off, cl_event *ev)
{
  cl_mem want[VD_KERNEL_EXTENTS];
  size_t global = n * sm->wg, local = sm->wg;
  cl_int rc;

  wanted(r, n, want);
  /* Extents are set on every launch that uses them: a handle cached from an
   * earlier launch may have been freed and reused since.  Unused arguments
   * point at scratch, which lives as long as the kernel. */
  for (unsigned a = 0; a < VD_KERNEL_EXTENTS; a++) {
    if (!want[a] && (sm->arg_scratch & (1u << a)))
      continue;
    rc = clSetKernelArg(sm->k, 2 + a, sizeof(cl_mem), want[a] ? &want[a] : &sm->scratch);
    if (rc != CL_SUCCESS)
      return rc;
    if (want[a])
      sm->arg_scratch &= ~(1u << a);
    else
      sm->arg_scratch |= 1u << a;
  }
  rc = clSetKernelArg(sm->k, 1, sizeof desc_off, &desc_off);
  if (rc != CL_SUCCESS)
    return rc;
  atomic_fetch_add_explicit(&sm->launches, 1, memory_order_relaxed);
  return clEnqueueNDRangeKernel(sm->q, sm->k, 1, NULL, &global, &local, 0, NULL, ev);
}

/* Behind a launch of records r[0..n), once all of it ran (in order): the
 * checksum kernel over the same descriptors, for those with sums. */
static cl_int launch_sums(struct vd_small *sm, const struct vd_small_rec *r, unsigned n,
                          cl_ulong desc_off)
{
  struct vd_sums *ss = sm->sums;
  cl_mem want[VD_KERNEL_EXTENTS];
  size_t global = n * ss->wg_b, local = ss->wg_b;
  cl_uint base = vd_sums_base(ss);
  cl_int rc;

  wanted(r, n, want);
  rc = clSetKernelArg(ss->kb, 0, sizeof(cl_mem), &sm->scratch);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ss->kb, 1, sizeof desc_off, &desc_off);
  for (unsigned a = 0; rc == CL_SUCCESS && a < VD_KERNEL_EXTENTS; a++)
    rc = clSetKernelArg(ss->kb, 2 + a, sizeof(cl_mem), want[a] ? &want[a] : &sm->scratch);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ss->kb, 18, sizeof(cl_mem), &ss->res);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(ss->kb, 19, sizeof base, &base);
  if (rc == CL_SUCCESS)
    rc = clEnqueueNDRangeKernel(sm->q, ss->kb, 1, NULL, &global, &local, 0, NULL, NULL);
  return rc;
}

/* Around a launch of records r[0..n): vd_par_batch's CHECK phase (with
 * check) for the records of extents with parity, then its XOR phase
 * (with xor) for the WRITEs and ZEROs. */
static cl_int launch_parity(struct vd_small *sm, const struct vd_small_rec *r, unsigned n,
                            cl_ulong desc_off, bool check, bool xor)
{
  cl_mem want[VD_KERNEL_EXTENTS];
  cl_int rc = CL_SUCCESS;

  wanted(r, n, want);
  if (check)
    rc = vd_parity_batch(sm->par, sm->scratch, desc_off, want, n, VD_PAR_PHASE_CHECK);
  if (rc == CL_SUCCESS && xor)
    rc = vd_parity_batch(sm->par, sm->scratch, desc_off, want, n, VD_PAR_PHASE_XOR);
  return rc;
}

/* Forget the bounds and extents of the current launch. */
static void launch_reset(struct vd_small *sm)
{
  sm->launch = sm->cur->nrec;
  sm->next = 0;
  sm->llo = UINT64_MAX;
  sm->lhi = 0;
}

/* Enqueue the chunk built so far: one upload of its write data and
 * descriptors, then one launch per run of records that may run together;
 * last (may be NULL) gets the event of the last launch, if any. */
static void flush(struct vd_small *sm, cl_event *last)
{
  struct vd_small_slot *sl = sm->cur;
  unsigned n = sl->nrec - sm->chunk;
  uint32_t dofs = (uint32_t)align_up(sm->up_hi, DESC_BYTES);
  unsigned char *st = sm->stage + sm->base;
  cl_int rc;

  if (!n)
    return;
  for (unsigned i = 0; i < n; i++) {
    const struct vd_small_rec *r = &sl->rec[sm->chunk + i];
    put_desc(st + dofs + i * DESC_BYTES, r->arg | (uint64_t)r->kop << 8 |
             (uint64_t)r->ri << 16 | (r->par ? VD_KDESC_PARITY : 0) |
             (uint64_t)r->sum_blk << 32, r->ext_off, sm->base + r->scr, r->len);
  }
  rc = clEnqueueWriteBuffer(sm->q, sm->scratch, CL_FALSE, sm->base + sm->up_lo,
                            dofs + n * DESC_BYTES - sm->up_lo, st + sm->up_lo, 0, NULL, NULL);
  for (unsigned i = sm->chunk, j; rc == CL_SUCCESS && i < sl->nrec; i = j) {
    cl_ulong at = sm->base + dofs + (i - sm->chunk) * DESC_BYTES;
    bool sums = false, pr = false, pw = false;
    for (j = i; j < sl->nrec && (j == i || !sl->rec[j].launch_start); j++) {
      const struct vd_small_rec *r = &sl->rec[j];
      bool rd = r->kop == VD_KOP_READ;
      sums |= r->sum_blk != 0 && !(r->par && rd);
      pr |= r->par && rd;
      pw |= r->par && !rd;
    }
    /* Parity: every block checked while it is still that of the old
     * data, the writes' old blocks out before they land, new ones in
     * after. */
    if (pr || pw)
      rc = launch_parity(sm, &sl->rec[i], j - i, at, true, pw);
    /* The last launch's event stands for the batch, unless checksums follow it. */
    if (rc == CL_SUCCESS)
      rc = launch(sm, &sl->rec[i], j - i, at, j == sl->nrec && !sums && !pw ? last : NULL);
    if (rc == CL_SUCCESS && sums)
      rc = launch_sums(sm, &sl->rec[i], j - i, at);
    if (rc == CL_SUCCESS && pw)
      rc = launch_parity(sm, &sl->rec[i], j - i, at, false, true);
  }
  if (rc != CL_SUCCESS) {
    /* Only this chunk's requests fail; what was enqueued before stands. */
    vd_err_rl("%s: batched transfer failed: %s", sm->id, vd_cl_strerror(rc));
    for (unsigned i = sm->chunk; i < sl->nrec; i++)
      sl->rec[i].p->err = -EIO;
  }
  sm->up_lo = sm->up_hi = dofs + n * DESC_BYTES;
  sm->chunk = sl->nrec;
  sm->lo = UINT64_MAX;
  sm->hi = 0;
  launch_reset(sm);
}

/* True if records [from, nrec) hold a range of mem that [off, off+len)
 * overlaps and the two are not both reads. */
static bool conflicts(const struct vd_small_slot *sl, unsigned from, cl_mem mem,
                      uint64_t off, uint64_t len, bool read)
{
  for (unsigned i = from; i < sl->nrec; i++) {
    const struct vd_small_rec *r = &sl->rec[i];
    if (r->mem == mem && off < r->c_hi && r->c_lo < off + len &&
        !(read && r->kop == VD_KOP_READ))
      return true;
  }
  return false;
}

/* Start building the batch that uses slot. */
void vd_small_begin(struct vd_small *sm, unsigned slot)
{
  if (!sm->on)
    return;
  sm->cur = &sm->slot[slot];
  sm->cur->nrec = 0;
  sm->cur->rd_lo = sm->slot_bytes;
  sm->base = (uint64_t)slot * sm->slot_bytes;
  sm->up_lo = sm->up_hi = 0;
  sm->chunk = 0;
  sm->lo = UINT64_MAX;
  sm->hi = 0;
  launch_reset(sm);
}

/* Take a segment into the batch if it is small and there is room. */
bool vd_small_add(struct vd_small *sm, struct vd_io_part *p, cl_mem mem,
                  const struct vd_segment *s, uint64_t sum_off, bool par, int ri)
{
  struct vd_small_slot *sl = sm->cur;
  struct vd_small_rec *r;
  unsigned kop;
  uint32_t len = (uint32_t)s->len, mis = (uint32_t)(s->ext_offset & 15);
  uint64_t at = 0, up_hi, rd_lo, desc_end, c_lo = s->ext_offset, c_len = s->len;
  unsigned a;

  if (!sm->on || s->rows != 1 || s->len > sm->max_seg || sl->nrec == VD_SMALL_RECS ||
      (sum_off && (!sm->sums || !sm->sums->on || (p->io->op == VD_OP_READ && ri < 0))) ||
      (par && (!sm->par || !sm->par->on)))
    return false;
  /* Checksums cover whole blocks: so does what a record may race with. */
  if (sum_off)
    vd_sums_widen(&c_lo, &c_len);
  up_hi = sm->up_hi;
  rd_lo = sl->rd_lo;
  switch (p->io->op) {
  case VD_OP_READ: kop = VD_KOP_READ; break;
  case VD_OP_WRITE: kop = VD_KOP_WRITE; break;
  case VD_OP_ZERO: kop = VD_KOP_ZERO; break;
  default: return false;
  }
  /* Data sits at the extent offset's residue mod 16, so the kernel can move
   * uint4s on both sides. */
  if (kop == VD_KOP_WRITE) {
    at = align_up(up_hi, 16) + mis;
    up_hi = at + len;
  } else if (kop == VD_KOP_READ) {
    if (rd_lo < (uint64_t)len + 16)
      return false;
    at = ((rd_lo - len - mis) & ~(uint64_t)15) + mis;
    rd_lo = at;
  }
  desc_end = align_up(up_hi, DESC_BYTES) + (uint64_t)(sl->nrec - sm->chunk + 1) * DESC_BYTES;
  if (desc_end > rd_lo)
    return false;
  /* Records of one launch run in parallel: start another launch when this
   * one would race with it or needs one extent argument too many. */
  for (a = 0; a < sm->next && sm->ext[a] != mem; a++)
    ;
  /* A READ with parity: its check's results need the area zeroed. */
  if (par && kop == VD_KOP_READ && !vd_parity_area(sm->par))
    return false;
  if (sm->launch < sl->nrec &&
      ((a == sm->next && a == VD_KERNEL_EXTENTS) ||
       (c_lo < sm->lhi && sm->llo < c_lo + c_len &&
        conflicts(sl, sm->launch, mem, c_lo, c_len, kop == VD_KOP_READ)))) {
    launch_reset(sm);
    a = 0;
  }
  if (a == sm->next)
    sm->ext[sm->next++] = mem;
  r = &sl->rec[sl->nrec++];
  r->p = p;
  r->mem = mem;
  r->dst = NULL;
  r->ext_off = s->ext_offset;
  r->c_lo = c_lo;
  r->c_hi = c_lo + c_len;
  r->sum_blk = (uint32_t)(sum_off / VD_SUM_KBLOCK);
  r->ri = ri >= 0 ? (uint16_t)ri : 0;
  r->scr = (uint32_t)at;
  r->len = len;
  r->kop = (uint8_t)kop;
  r->arg = (uint8_t)a;
  r->par = par;
  r->launch_start = sm->launch == sl->nrec - 1;
  if (kop == VD_KOP_WRITE) {
    memcpy(sm->stage + sm->base + at, (const unsigned char *)p->io->buf + s->buf_offset, len);
    sm->up_hi = (uint32_t)up_hi;
  } else if (kop == VD_KOP_READ) {
    r->dst = (unsigned char *)p->io->buf + s->buf_offset;
    sl->rd_lo = (uint32_t)rd_lo;
  }
  if (c_lo < sm->lo) sm->lo = c_lo;
  if (c_lo + c_len > sm->hi) sm->hi = c_lo + c_len;
  if (c_lo < sm->llo) sm->llo = c_lo;
  if (c_lo + c_len > sm->lhi) sm->lhi = c_lo + c_len;
  atomic_fetch_add_explicit(&sm->segments, 1, memory_order_relaxed);
  return true;
}

/* Keep a direct transfer behind the batched records it must follow. */
void vd_small_order(struct vd_small *sm, cl_mem mem, uint64_t off, uint64_t len, bool read)
{
  if (sm->on && sm->chunk < sm->cur->nrec && off < sm->hi && sm->lo < off + len &&
      conflicts(sm->cur, sm->chunk, mem, off, len, read))
    flush(sm, NULL);
}

/* Enqueue what is left of the batch and the read-back of its read data;
 * last gets the event of the last command this enqueued, or stays NULL
 * when it enqueued none (or that command failed). */
void vd_small_end(struct vd_small *sm, cl_event *last)
{
  struct vd_small_slot *sl = sm->cur;
  bool back;
  cl_int rc;

  if (!sm->on)
    return;
  back = sl->rd_lo != sm->slot_bytes;
  flush(sm, back ? NULL : last);
  if (!back)
    return;
  rc = clEnqueueReadBuffer(sm->q, sm->scratch, CL_FALSE, sm->base + sl->rd_lo,
                           sm->slot_bytes - sl->rd_lo, sm->stage + sm->base + sl->rd_lo,
                           0, NULL, last);
  if (rc != CL_SUCCESS) {
    vd_err_rl("%s: batched read-back failed: %s", sm->id, vd_cl_strerror(rc));
    for (unsigned i = 0; i < sl->nrec; i++)
      if (sl->rec[i].kop == VD_KOP_READ)
        sl->rec[i].p->err = -EIO;
  }
}

/* Copy a completed batch's read data out to its requests. */
void vd_small_complete(struct vd_small *sm, unsigned slot, bool failed)
{
  struct vd_small_slot *sl = &sm->slot[slot];
  const unsigned char *st = sm->stage + (uint64_t)slot * sm->slot_bytes;

  if (!sm->on || failed)
    return;
  for (unsigned i = 0; i < sl->nrec; i++) {
    const struct vd_small_rec *r = &sl->rec[i];
    if (r->dst && !r->p->err)
      memcpy(r->dst, st + r->scr, r->len);
  }
}

/* Run the kernel once on known data and check it: proves the build works on
 * this device and makes lazy compilers (PoCL) specialise it now, not on
 * the first request. */
static int self_test(struct vd_small *sm)
{
  enum { SRC = 128, DST = 1024, LEN = 300 };
  unsigned char want[2 * LEN], *st = sm->stage;
  struct vd_small_rec r[3] = { { .arg = 0 }, { .arg = 0 }, { .arg = 0 } };
  cl_int rc;

  for (unsigned i = 0; i < LEN; i++)
    st[SRC + i] = (unsigned char)(i * 7 + 1);
  /* Congruent sides (uint4 body), sides 5 bytes apart (bytes only), zeros. */
  put_desc(st, VD_KOP_WRITE << 8, DST + 3, SRC + 3, LEN - 3);
  put_desc(st + DESC_BYTES, VD_KOP_WRITE << 8, DST + LEN + 5, SRC, LEN - 5);
  put_desc(st + 2 * DESC_BYTES, VD_KOP_ZERO << 8, DST + LEN + 1, 0, 3);
  memset(st + DST, 0xee, 2 * LEN);
  memset(want, 0xee, sizeof want);
  memcpy(want + 3, st + SRC + 3, LEN - 3);
  memcpy(want + LEN + 5, st + SRC, LEN - 5);
  memset(want + LEN + 1, 0, 3);
  r[0].mem = r[1].mem = r[2].mem = sm->scratch;
  rc = clEnqueueWriteBuffer(sm->q, sm->scratch, CL_FALSE, 0, DST + 2 * LEN, st, 0, NULL, NULL);
  if (rc == CL_SUCCESS)
    rc = launch(sm, r, 3, 0, NULL);
  if (rc == CL_SUCCESS)
    rc = clEnqueueReadBuffer(sm->q, sm->scratch, CL_TRUE, DST, 2 * LEN, st + DST, 0, NULL, NULL);
  if (rc != CL_SUCCESS)
    return -EIO;
  atomic_store(&sm->launches, 0);
  return memcmp(st + DST, want, 2 * LEN) ? -EILSEQ : 0;
}

/* Set a worker's path up, or leave it off with a warning. */
void vd_small_init(struct vd_small *sm, cl_program prog, struct vd_device *dev,
                   cl_command_queue q, unsigned nslots, uint64_t stage_bytes,
                   uint64_t max_seg)
{
  const char *id = vd_device_info(dev)->id;
  cl_context ctx = vd_device_context(dev);
  size_t kwg = 0;
  cl_int rc;

  memset(sm, 0, sizeof *sm);
  sm->q = q;
  snprintf(sm->id, sizeof sm->id, "%s", id);
  if (!prog || nslots == 0 || nslots > VD_SMALL_SLOTS || stage_bytes / nslots < 8192)
    return;
  sm->slot_bytes = (uint32_t)(stage_bytes / nslots) & ~4095u;
  sm->bytes = (uint64_t)sm->slot_bytes * nslots;
  sm->max_seg = max_seg;
  sm->k = clCreateKernel(prog, VD_KERNEL_NAME, &rc);
  if (rc != CL_SUCCESS)
    goto out_warn;
  rc = clGetKernelWorkGroupInfo(sm->k, vd_device_cl(dev), CL_KERNEL_WORK_GROUP_SIZE,
                                sizeof kwg, &kwg, NULL);
  if (rc != CL_SUCCESS)
    goto out_warn;
  sm->wg = kwg && kwg < WG_MAX ? kwg : WG_MAX;
  sm->stage_mem = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, sm->bytes,
                                 NULL, &rc);
  if (rc != CL_SUCCESS)
    goto out_warn;
  sm->scratch = clCreateBuffer(ctx, CL_MEM_READ_WRITE, sm->bytes, NULL, &rc);
  if (rc != CL_SUCCESS)
    goto out_warn;
  sm->stage = clEnqueueMapBuffer(q, sm->stage_mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0,
                                 sm->bytes, 0, NULL, NULL, &rc);
  if (rc != CL_SUCCESS) {
    sm->stage = NULL;
    goto out_warn;
  }
  sm->recs = calloc((size_t)nslots * VD_SMALL_RECS, sizeof *sm->recs);
  if (!sm->recs) {
    rc = CL_OUT_OF_HOST_MEMORY;
    goto out_warn;
  }
  for (unsigned i = 0; i < nslots; i++)
    sm->slot[i].rec = sm->recs + (size_t)i * VD_SMALL_RECS;
  rc = clSetKernelArg(sm->k, 0, sizeof(cl_mem), &sm->scratch);
  if (rc != CL_SUCCESS)
    goto out_warn;
  if (self_test(sm)) {
    vd_warn("%s: the batch kernel gives wrong results: small requests take the direct path", id);
    vd_small_fini(sm);
    return;
  }
  sm->on = true;
  return;

out_warn:
  vd_warn("%s: cannot set up batched small requests (%s): they take the direct path",
          id, vd_cl_strerror(rc));
  vd_small_fini(sm);
}

/* Unmap and release staging, scratch and the kernel. */
void vd_small_fini(struct vd_small *sm)
{
  if (sm->stage) {
    clEnqueueUnmapMemObject(sm->q, sm->stage_mem, sm->stage, 0, NULL, NULL);
    clFinish(sm->q);
  }
  if (sm->scratch)
    clReleaseMemObject(sm->scratch);
  if (sm->stage_mem)
    clReleaseMemObject(sm->stage_mem);
  if (sm->k)
    clReleaseKernel(sm->k);
  free(sm->recs);
  sm->stage = NULL;
  sm->scratch = sm->stage_mem = NULL;
  sm->k = NULL;
  sm->recs = NULL;
  sm->on = false;
}
