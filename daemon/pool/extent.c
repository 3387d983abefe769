/* extent.c: allocate, commit and free device buffers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "crc32c.h"
#include "fault.h"
#include "pool-internal.h"
#include "util.h"

/* Claim bytes of the device's capacity; false if they are not there. */
static bool claim(struct vd_device *dev, uint64_t bytes)
{
  bool ok;
  uint64_t cap;
  pthread_mutex_lock(&dev->lock);
  cap = dev->info.capacity_bytes;
  ok = vd_device_state(dev) == VD_DEV_ACTIVE && bytes <= cap &&
       atomic_load_explicit(&dev->allocated, memory_order_relaxed) <= cap - bytes;
  if (ok)
    atomic_fetch_add_explicit(&dev->allocated, bytes, memory_order_relaxed);
  pthread_mutex_unlock(&dev->lock);
  return ok;
}

/* Why a device that is not active takes no extent, into err; false when
 * it is active.  -ENOSPC, as for a full device: to whoever places data it
 * has no room, and callers already go on to other devices or answer 507. */
static bool refused(const struct vd_device *dev, char *err, size_t errlen)
{
  enum vd_dev_state s = vd_device_state(dev);
  if (s == VD_DEV_ACTIVE)
    return false;
  snprintf(err, errlen, "%s: the device is %s and takes no new allocations; %s", dev->info.id,
           vd_dev_state_name(s), s == VD_DEV_FAILED ? "restart vramd once it is back"
                                                    : "undrain it to use it again");
  return true;
}

/* Give claimed bytes back. */
static void unclaim(struct vd_device *dev, uint64_t bytes)
{
  atomic_fetch_sub_explicit(&dev->allocated, bytes, memory_order_relaxed);
}

/* The checksum of a zero block, computed once. */
uint32_t vd_sum_zero_block(void)
{
  static _Atomic uint32_t sum;
  uint32_t s = atomic_load_explicit(&sum, memory_order_relaxed);
  if (!s) {
    static const unsigned char zeros[VD_SUM_BLOCK];
    s = vd_crc32c(0, zeros, sizeof zeros);
    atomic_store_explicit(&sum, s, memory_order_relaxed);
  }
  return s;
}

/* Zero the data, and fill a checksum tail with the zero block's sum, then
 * wait: zeroing commits lazily allocated memory now, not at the first
 * write. */
static cl_int fill_new(struct vd_device *dev, struct vd_extent *ext)
{
  const cl_uint zero = 0, sum = vd_sum_zero_block();
  cl_int rc = clEnqueueFillBuffer(dev->admin, ext->mem, &zero, sizeof zero, 0, ext->bytes, 0,
                                  NULL, NULL);
  if (rc == CL_SUCCESS && ext->sums)
    rc = clEnqueueFillBuffer(dev->admin, ext->mem, &sum, sizeof sum, ext->bytes, ext->sums, 0,
                             NULL, NULL);
  if (rc == CL_SUCCESS && ext->parity) /* the XOR of zero blocks */
    rc = clEnqueueFillBuffer(dev->admin, ext->mem, &zero, sizeof zero, ext->bytes + ext->sums,
                             ext->parity, 0, NULL, NULL);
  if (rc == CL_SUCCESS)
    rc = clFinish(dev->admin);
  return rc;
}

/* Allocate, zero and commit one buffer on dev. */
int vd_extent_alloc(struct vd_device *dev, uint64_t bytes,
                    struct vd_extent **out, char *err, size_t errlen)
{
  return vd_extent_alloc_sums(dev, bytes, VD_TAIL_NONE, out, err, errlen);
}

/* Checksums, then parity. */
uint64_t vd_tail_bytes(uint64_t data, enum vd_tail tail)
{
  return (tail & VD_TAIL_SUMS ? VD_SUM_BYTES(data) : 0) +
         (tail == VD_TAIL_PARITY ? VD_PAR_BYTES(data) : 0);
}

/* The same, with a tail of checksums (and parity). */
int vd_extent_alloc_sums(struct vd_device *dev, uint64_t bytes, enum vd_tail kind,
                         struct vd_extent **out, char *err, size_t errlen)
{
  struct vd_extent *ext;
  uint64_t tail = vd_tail_bytes(bytes, kind);
  char have[32], want[32];
  cl_int rc;

  if (bytes == 0 || bytes % VD_POOL_ALIGN || bytes + tail > dev->info.max_alloc_bytes) {
    snprintf(err, errlen, "%s: extent of %llu bytes is not a multiple of 4 KiB "
             "between 4 KiB and the device's maximum allocation (%s)", dev->info.id,
             (unsigned long long)bytes, vd_format_size(dev->info.max_alloc_bytes, have, sizeof have));
    return -EINVAL;
  }
  if (!claim(dev, bytes + tail)) {
    if (refused(dev, err, errlen))
      return -ENOSPC;
    snprintf(err, errlen, "%s: needs %s more but only %s is available", dev->info.id,
             vd_format_size(bytes + tail, want, sizeof want),
             vd_format_size(vd_device_available(dev), have, sizeof have));
    return -ENOSPC;
  }
  ext = calloc(1, sizeof *ext);
  if (!ext) {
    rc = CL_OUT_OF_HOST_MEMORY;
    goto out_unclaim;
  }
  ext->dev = dev;
  ext->bytes = bytes;
  ext->sums = kind & VD_TAIL_SUMS ? VD_SUM_BYTES(bytes) : 0;
  ext->parity = tail - ext->sums;
  if (vd_fault_alloc_now()) {
    rc = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    goto out_free_ext;
  }
  ext->mem = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, bytes + tail, NULL, &rc);
  if (rc != CL_SUCCESS)
    goto out_free_ext;
  rc = fill_new(dev, ext);
  if (rc != CL_SUCCESS)
    goto out_release_mem;
  *out = ext;
  return 0;

out_release_mem:
  clReleaseMemObject(ext->mem);
out_free_ext:
  free(ext);
out_unclaim:
  unclaim(dev, bytes + tail);
  snprintf(err, errlen, "%s: the driver could not allocate %s (%s); %s was available",
           dev->info.id, vd_format_size(bytes + tail, want, sizeof want), vd_cl_strerror(rc),
           vd_format_size(vd_device_available(dev), have, sizeof have));
  return -ENOMEM;
}

/* Release an extent's buffer and its claim on the device. */
void vd_extent_free(struct vd_extent *ext)
{
  if (!ext)
    return;
  clReleaseMemObject(ext->mem);
  unclaim(ext->dev, ext->bytes + ext->sums + ext->parity);
  free(ext);
}

uint64_t vd_extent_bytes(const struct vd_extent *ext) { return ext->bytes; }
uint64_t vd_extent_sums(const struct vd_extent *ext) { return ext->sums; }
uint64_t vd_extent_parity(const struct vd_extent *ext) { return ext->parity; }
enum vd_tail vd_extent_tail(const struct vd_extent *ext)
{
  return ext->parity ? VD_TAIL_PARITY : ext->sums ? VD_TAIL_SUMS : VD_TAIL_NONE;
}
struct vd_device *vd_extent_device(const struct vd_extent *ext) { return ext->dev; }
cl_mem vd_extent_mem(const struct vd_extent *ext) { return ext->mem; }
