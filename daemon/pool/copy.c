/* copy.c: copy a byte range from one extent into another, on the same
 * device or another, for moving data off a device.  Devices have their
 * own OpenCL contexts, so across devices the bytes go through pinned host
 * memory: the bounce buffer, in two halves that device-to-host reads and
 * host-to-device writes take turns on, so both directions run at once.
 * The piece size: docs/design-decisions.md, "Copies between extents". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool-internal.h"
#include "util.h"

struct vd_copier {
  struct vd_pool *pool;
  cl_command_queue q[VD_POOL_MAX]; /* one in-order queue per device */
  unsigned char *bounce;            /* two halves of piece bytes */
  size_t piece;
  cl_mem own_mem;                   /* the bounce, when the copier pinned it */
  cl_command_queue own_q;           /* the queue that mapped it */
  struct vd_pin_share *share;       /* pinned in the other driver copies too */
  pthread_mutex_t lock;             /* one copy at a time on the bounce */
  char err[256];
};

/* Pin bytes of host memory in dev's context and map it once, as the
 * engine pins its staging. */
static int pin_bounce(struct vd_copier *c, struct vd_device *dev, size_t bytes,
                      char *err, size_t errlen)
{
  cl_int rc;
  c->own_mem = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes,
                              NULL, &rc);
  if (rc == CL_SUCCESS) {
    c->bounce = clEnqueueMapBuffer(c->q[dev->info.index], c->own_mem, CL_TRUE,
                                   CL_MAP_READ | CL_MAP_WRITE, 0, bytes, 0, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) {
      clReleaseMemObject(c->own_mem);
      c->own_mem = NULL;
      c->bounce = NULL;
    }
  }
  if (rc == CL_SUCCESS) {
    c->own_q = c->q[dev->info.index];
    c->share = vd_pool_share_pinned(c->pool, dev, c->bounce, bytes);
    return 0;
  }
  snprintf(err, errlen, "%s: cannot pin %zu bytes of host memory for copies: %s",
           dev->info.id, bytes, vd_cl_strerror(rc));
  return rc == CL_OUT_OF_HOST_MEMORY || rc == CL_MEM_OBJECT_ALLOCATION_FAILURE ? -ENOMEM : -EIO;
}

/* Queues for every device that is not lost, and the bounce buffer. */
int vd_copier_open(struct vd_pool *pool, void *bounce, size_t bounce_bytes,
                   struct vd_copier **out, char *err, size_t errlen)
{
  struct vd_copier *c;
  int rc = -EIO;

  if (bounce_bytes < 2 * VD_POOL_ALIGN || bounce_bytes / 2 % VD_POOL_ALIGN) {
    snprintf(err, errlen, "a copy bounce buffer of %zu bytes is not two pieces of a whole "
             "number of 4 KiB pages", bounce_bytes);
    return -EINVAL;
  }
  if (!(c = calloc(1, sizeof *c))) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  c->pool = pool;
  c->piece = bounce_bytes / 2;
  pthread_mutex_init(&c->lock, NULL);
  for (unsigned i = 0; i < pool->ndev; i++) {
    struct vd_device *dev = pool->dev[i];
    cl_int cr;
    if (vd_device_is_lost(dev))
      continue; /* copies touching it fail with EIO */
    c->q[i] = clCreateCommandQueueWithProperties(dev->ctx, dev->cl, NULL, &cr);
    if (cr != CL_SUCCESS) {
      snprintf(err, errlen, "%s: cannot create a command queue for copies: %s",
               dev->info.id, vd_cl_strerror(cr));
      rc = -EIO;
      goto out_close;
    }
    if (!bounce && !c->bounce && (rc = pin_bounce(c, dev, bounce_bytes, err, errlen)))
      goto out_close;
  }
  if (bounce)
    c->bounce = bounce;
  if (!c->bounce) {
    snprintf(err, errlen, "no device to pin a copy bounce buffer on: every one is lost");
    rc = -ENODEV;
    goto out_close;
  }
  *out = c;
  return 0;

out_close:
  vd_copier_close(c);
  return rc;
}

/* Unmap an own bounce, release the queues. */
void vd_copier_close(struct vd_copier *c)
{
  if (!c)
    return;
  vd_pool_unshare_pinned(c->share);
  if (c->own_mem) {
    clEnqueueUnmapMemObject(c->own_q, c->own_mem, c->bounce, 0, NULL, NULL);
    clFinish(c->own_q);
    clReleaseMemObject(c->own_mem);
  }
  for (unsigned i = 0; i < c->pool->ndev; i++)
    if (c->q[i])
      clReleaseCommandQueue(c->q[i]);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

const char *vd_copier_error(const struct vd_copier *c) { return c->err; }
size_t vd_copier_piece(const struct vd_copier *c) { return c->piece; }

/* Record why a copy failed; returns ret. */
__attribute__((format(printf, 3, 4)))
static int fail(struct vd_copier *c, int ret, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, sizeof c->err, fmt, ap);
  va_end(ap);
  return ret;
}

/* A transfer on dev failed with rc: probe the device as the engine does,
 * and say which device and how. */
static int transfer_failed(struct vd_copier *c, struct vd_device *dev, const char *what,
                           cl_int rc)
{
  char w[64];
  snprintf(w, sizeof w, "a copy's %s", what);
  if (vd_device_check(dev, w))
    return fail(c, -EIO, "%s: the device is lost: %s failed (%s)", dev->info.id, w,
                vd_cl_strerror(rc));
  return fail(c, -EIO, "%s: %s failed (%s)", dev->info.id, w, vd_cl_strerror(rc));
}

/* Wait for ev and release it; on failure, whose device it was is the
 * caller's to report. */
static cl_int wait_release(cl_event *ev)
{
  cl_int rc;
  if (!*ev)
    return CL_SUCCESS;
  rc = vd_cl_event_wait(*ev);
  clReleaseEvent(*ev);
  *ev = NULL;
  return rc;
}

/* One direction of a copy across devices: its extent, queue and the
 * events of the pieces in flight on each half of the bounce. */
struct leg {
  struct vd_extent *ext;
  uint64_t off;
  cl_command_queue q;
  bool write;       /* host to device */
  const char *what; /* for messages */
  cl_event ev[2];
};

/* Move piece k between the leg's extent and half k % 2 of the bounce,
 * once the other leg's last use of that half (the piece before last) is
 * done.  NULL, or the leg that failed with *rc. */
static struct leg *step(struct vd_copier *c, struct leg *l, struct leg *other, uint64_t k,
                        uint64_t len, cl_int *rc)
{
  uint64_t off = k * c->piece, sz = len - off < c->piece ? len - off : c->piece;
  unsigned char *half = c->bounce + (k % 2) * c->piece;

  if ((*rc = wait_release(&other->ev[k % 2])) != CL_SUCCESS)
    return other;
  if (l->write)
    *rc = clEnqueueWriteBuffer(l->q, l->ext->mem, CL_FALSE, l->off + off, sz, half, 0, NULL,
                               &l->ev[k % 2]);
  else
    *rc = clEnqueueReadBuffer(l->q, l->ext->mem, CL_FALSE, l->off + off, sz, half, 0, NULL,
                              &l->ev[k % 2]);
  if (*rc == CL_SUCCESS)
    *rc = clFlush(l->q);
  return *rc == CL_SUCCESS ? NULL : l;
}

/* Across devices: piece k is read into half k % 2 on the source's queue
 * and written from it on the destination's; the read of k + 1 runs while
 * k is written.  Events of two contexts cannot wait on each other, so the
 * waits are the host's. */
static int bounce_copy(struct vd_copier *c, struct vd_extent *src, uint64_t src_off,
                       struct vd_extent *dst, uint64_t dst_off, uint64_t len)
{
  struct leg rd = { src, src_off, c->q[src->dev->info.index], false,
                    "read from the device", { NULL, NULL } };
  struct leg wr = { dst, dst_off, c->q[dst->dev->info.index], true,
                    "write to the device", { NULL, NULL } };
  uint64_t n = (len + c->piece - 1) / c->piece;
  struct leg *bad = NULL;
  cl_int rc = CL_SUCCESS;
  int ret = 0;

  for (uint64_t k = 0; k <= n && !bad; k++) {
    if (k < n)
      bad = step(c, &rd, &wr, k, len, &rc);
    if (!bad && k > 0)
      bad = step(c, &wr, &rd, k - 1, len, &rc);
  }
  if (bad)
    ret = transfer_failed(c, bad->ext->dev, bad->what, rc);
  /* Nothing may still use the bounce when this returns. */
  for (int h = 0; h < 2; h++) {
    cl_int r = wait_release(&rd.ev[h]), w = wait_release(&wr.ev[h]);
    if (!ret && r != CL_SUCCESS)
      ret = transfer_failed(c, src->dev, rd.what, r);
    if (!ret && w != CL_SUCCESS)
      ret = transfer_failed(c, dst->dev, wr.what, w);
  }
  return ret;
}

/* Within one device: the device copies, no host memory involved. */
static int device_copy(struct vd_copier *c, struct vd_extent *src, uint64_t src_off,
                       struct vd_extent *dst, uint64_t dst_off, uint64_t len)
{
  cl_command_queue q = c->q[src->dev->info.index];
  cl_event ev;
  cl_int rc = clEnqueueCopyBuffer(q, src->mem, dst->mem, src_off, dst_off, len, 0, NULL, &ev);
  if (rc == CL_SUCCESS) {
    clFlush(q);
    rc = wait_release(&ev);
  }
  return rc == CL_SUCCESS ? 0 : transfer_failed(c, src->dev, "copy within the device", rc);
}

/* A device a copy touches must be there and have its queue. */
static bool usable(struct vd_copier *c, const struct vd_device *dev)
{
  return !vd_device_is_lost(dev) && c->q[dev->info.index];
}

/* Check the ranges, then copy within a device or through the bounce. */
int vd_extent_copy(struct vd_copier *c, struct vd_extent *src, uint64_t src_off,
                   struct vd_extent *dst, uint64_t dst_off, uint64_t len)
{
  int ret = 0;

  pthread_mutex_lock(&c->lock);
  c->err[0] = '\0';
  if (src_off > src->bytes || len > src->bytes - src_off || dst_off > dst->bytes ||
      len > dst->bytes - dst_off)
    ret = fail(c, -EINVAL, "a copy of %llu bytes from %llu of %llu to %llu of %llu runs "
               "past an extent's end", (unsigned long long)len,
               (unsigned long long)src_off, (unsigned long long)src->bytes,
               (unsigned long long)dst_off, (unsigned long long)dst->bytes);
  else if (src == dst && src_off < dst_off + len && dst_off < src_off + len)
    ret = fail(c, -EINVAL, "a copy within one extent with overlapping ranges");
  else if (!usable(c, src->dev) || !usable(c, dst->dev))
    ret = fail(c, -EIO, "%s: the device is lost; nothing can be copied %s it",
               (usable(c, src->dev) ? dst : src)->dev->info.id,
               usable(c, src->dev) ? "to" : "from");
  else if (len && src->dev == dst->dev)
    ret = device_copy(c, src, src_off, dst, dst_off, len);
  else if (len)
    ret = bounce_copy(c, src, src_off, dst, dst_off, len);
  pthread_mutex_unlock(&c->lock);
  return ret;
}

/* The checksum tails: the same paths, at the tails' offsets. */
int vd_extent_copy_sums(struct vd_copier *c, struct vd_extent *src, struct vd_extent *dst,
                        uint64_t nblocks)
{
  uint64_t len = nblocks * 4;
  int ret = 0;

  pthread_mutex_lock(&c->lock);
  c->err[0] = '\0';
  if (nblocks > src->sums / 4 || nblocks > dst->sums / 4 || src == dst)
    ret = fail(c, -EINVAL, "checksums of %llu blocks do not fit both extents' tails",
               (unsigned long long)nblocks);
  else if (!usable(c, src->dev) || !usable(c, dst->dev))
    ret = fail(c, -EIO, "%s: the device is lost; no checksum can be copied %s it",
               (usable(c, src->dev) ? dst : src)->dev->info.id,
               usable(c, src->dev) ? "to" : "from");
  else if (len && src->dev == dst->dev)
    ret = device_copy(c, src, src->bytes, dst, dst->bytes, len);
  else if (len)
    ret = bounce_copy(c, src, src->bytes, dst, dst->bytes, len);
  /* Parity: every group the blocks begin, as far as both hold it. */
  len = (nblocks + VD_PAR_GROUP - 1) / VD_PAR_GROUP * VD_SUM_BLOCK;
  len = len < src->parity ? len : src->parity;
  len = len < dst->parity ? len : dst->parity;
  if (!ret && len && src->dev == dst->dev)
    ret = device_copy(c, src, src->bytes + src->sums, dst, dst->bytes + dst->sums, len);
  else if (!ret && len)
    ret = bounce_copy(c, src, src->bytes + src->sums, dst, dst->bytes + dst->sums, len);
  pthread_mutex_unlock(&c->lock);
  return ret;
}
