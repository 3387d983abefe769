/* scrubber.c: a device's scrubber: whole extents checked against their
 * checksums by a kernel on a queue of its own, so the check runs at VRAM
 * speed beside the I/O, and the bit flips of the fault route. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "sums.h"
#include "util.h"

#define SCRUB_CAP 1024u   /* bad blocks one run reports by index */
#define WG_SCRUB 256u     /* work-items per group: 8 blocks at a time */
/* Scrub work-groups per compute unit: 4 of 256 work-items fill half of
 * an NVIDIA SM (2048), so the I/O's kernels find room beside a scrub
 * instead of waiting for its whole launch to drain. */
#define SCRUB_GROUPS_PER_CU 4u
/* A piece is waited for asleep, looking every 20 us (vd_cl_event_nap). */
#define SCRUB_NAP_NS 20000u

/* Nothing made yet: the queue, kernels and buffer come on first use. */
void vd_scrubber_init(struct vd_scrubber *sc, cl_program prog, struct vd_device *dev)
{
  memset(sc, 0, sizeof *sc);
  pthread_mutex_init(&sc->lock, NULL);
  sc->prog = prog;
  sc->dev = dev;
}

/* Release what first use made. */
void vd_scrubber_fini(struct vd_scrubber *sc)
{
  if (sc->res)
    clReleaseMemObject(sc->res);
  if (sc->kr)
    clReleaseKernel(sc->kr);
  if (sc->kf)
    clReleaseKernel(sc->kf);
  if (sc->q)
    clReleaseCommandQueue(sc->q);
  pthread_mutex_destroy(&sc->lock);
}

/* Make the queue, kernels and result buffer once; under sc->lock. */
cl_int vd_scrubber_ready(struct vd_scrubber *sc)
{
  cl_context ctx = vd_device_context(sc->dev);
  cl_int rc = CL_SUCCESS;

  if (sc->res)
    return CL_SUCCESS;
  if (!sc->prog)
    return CL_INVALID_PROGRAM;
  if (!sc->q)
    sc->q = clCreateCommandQueueWithProperties(ctx, vd_device_cl(sc->dev), NULL, &rc);
  if (rc == CL_SUCCESS && !sc->kr)
    sc->kr = clCreateKernel(sc->prog, VD_SUM_RANGE_NAME, &rc);
  if (rc == CL_SUCCESS && !sc->kf)
    sc->kf = clCreateKernel(sc->prog, VD_FLIP_NAME, &rc);
  if (rc == CL_SUCCESS) {
    cl_uint cus = 0;
    sc->wg = vd_sums_wg(sc->kr, vd_device_cl(sc->dev), WG_SCRUB);
    if (!sc->wg)
      rc = CL_INVALID_WORK_GROUP_SIZE;
    else if (clGetDeviceInfo(vd_device_cl(sc->dev), CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus,
                             &cus, NULL) == CL_SUCCESS)
      sc->max_groups = (size_t)cus * SCRUB_GROUPS_PER_CU;
  }
  if (rc == CL_SUCCESS) {
    sc->res = clCreateBuffer(ctx, CL_MEM_READ_WRITE, (2 + SCRUB_CAP) * 4, NULL, &rc);
    if (rc != CL_SUCCESS)
      sc->res = NULL;
  }
  return rc;
}

/* One run of the SCRUB kernel over [first, first + n). */
int vd_scrubber_run(struct vd_scrubber *sc, struct vd_extent *ext, uint64_t first, uint64_t n,
                    uint32_t *bad, unsigned cap, uint64_t *nbad)
{
  uint64_t blocks = vd_extent_bytes(ext) / VD_SUM_BLOCK;
  cl_mem mem = vd_extent_mem(ext);
  cl_ulong so = vd_extent_bytes(ext), f = first, cnt = n;
  cl_uint mode = VD_SUM_SCRUB, ri = 0, head[2] = { 0, cap < SCRUB_CAP ? cap : SCRUB_CAP };
  size_t global, local;
  cl_int rc;

  *nbad = 0;
  if (!vd_extent_sums(ext) || first > blocks || n > blocks - first)
    return -EINVAL;
  if (!n)
    return 0;
  pthread_mutex_lock(&sc->lock);
  rc = vd_scrubber_ready(sc);
  local = sc->wg;
  global = vd_sums_global(n, local, sc->max_groups);
  if (rc == CL_SUCCESS)
    rc = clEnqueueWriteBuffer(sc->q, sc->res, CL_FALSE, 0, sizeof head, head, 0, NULL, NULL);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kr, 0, sizeof mem, &mem);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kr, 1, sizeof so, &so);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kr, 2, sizeof f, &f);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kr, 3, sizeof cnt, &cnt);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kr, 4, sizeof mode, &mode);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kr, 5, sizeof sc->res, &sc->res);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kr, 6, sizeof ri, &ri);
  if (rc == CL_SUCCESS)
    rc = clEnqueueNDRangeKernel(sc->q, sc->kr, 1, NULL, &global, &local, 0, NULL, NULL);
  if (rc == CL_SUCCESS) {
    cl_event ev;
    rc = clEnqueueReadBuffer(sc->q, sc->res, CL_FALSE, 0, sizeof head, head, 0, NULL, &ev);
    if (rc == CL_SUCCESS) {
      rc = clFlush(sc->q);
      if (rc == CL_SUCCESS)
        rc = vd_cl_event_nap(ev, SCRUB_NAP_NS);
      clReleaseEvent(ev);
    }
  }
  if (rc == CL_SUCCESS && head[0] && cap)
    rc = clEnqueueReadBuffer(sc->q, sc->res, CL_TRUE, 8,
                             (head[0] < head[1] ? head[0] : head[1]) * 4, bad, 0, NULL, NULL);
  pthread_mutex_unlock(&sc->lock);
  if (rc != CL_SUCCESS) {
    vd_err_rl("%s: scrub failed: %s", vd_device_info(sc->dev)->id, vd_cl_strerror(rc));
    return -EIO;
  }
  *nbad = head[0];
  return 0;
}

/* Flip bits of one byte with the flip kernel, and wait. */
int vd_scrubber_flip(struct vd_scrubber *sc, struct vd_extent *ext, uint64_t off, uint8_t mask)
{
  cl_mem mem = vd_extent_mem(ext);
  cl_ulong o = off;
  cl_uchar m = mask;
  size_t one = 1;
  cl_int rc;

  if (off >= vd_extent_bytes(ext))
    return -EINVAL;
  pthread_mutex_lock(&sc->lock);
  rc = vd_scrubber_ready(sc);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kf, 0, sizeof mem, &mem);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kf, 1, sizeof o, &o);
  if (rc == CL_SUCCESS) rc = clSetKernelArg(sc->kf, 2, sizeof m, &m);
  if (rc == CL_SUCCESS)
    rc = clEnqueueNDRangeKernel(sc->q, sc->kf, 1, NULL, &one, &one, 0, NULL, NULL);
  if (rc == CL_SUCCESS)
    rc = clFinish(sc->q);
  pthread_mutex_unlock(&sc->lock);
  return rc == CL_SUCCESS ? 0 : -EIO;
}
