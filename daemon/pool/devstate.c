/* devstate.c: what a device may take: its state (active, draining,
 * drained, failed) and its reserve, both changed while vramd runs and
 * both read by allocations under the device's lock. */
#include <errno.h>
#include <stdio.h>

#include "pool-internal.h"
#include "util.h"

static const char *const state_names[VD_DEV_STATES] = {
  [VD_DEV_ACTIVE] = "active", [VD_DEV_DRAINING] = "draining",
  [VD_DEV_DRAINED] = "drained", [VD_DEV_FAILED] = "failed",
};

/* The state's name, as the API, vramctl and the metrics show it. */
const char *vd_dev_state_name(enum vd_dev_state s)
{
  return (unsigned)s < VD_DEV_STATES ? state_names[s] : "?";
}

/* Failed once lost, else what was set last. */
enum vd_dev_state vd_device_state(const struct vd_device *dev)
{
  if (vd_device_is_lost(dev))
    return VD_DEV_FAILED;
  return (enum vd_dev_state)atomic_load(&dev->state);
}

/* Set active, draining or drained under the allocation lock, so that no
 * claim that began before it can land after it returns. */
int vd_device_set_state(struct vd_device *dev, enum vd_dev_state s, char *err, size_t errlen)
{
  enum vd_dev_state was;

  if (s != VD_DEV_ACTIVE && s != VD_DEV_DRAINING && s != VD_DEV_DRAINED) {
    snprintf(err, errlen, "%s: a device can be set active, draining or drained; it fails "
             "only when it stops answering", dev->info.id);
    return -EINVAL;
  }
  pthread_mutex_lock(&dev->lock);
  if (vd_device_is_lost(dev)) {
    pthread_mutex_unlock(&dev->lock);
    snprintf(err, errlen, "%s: the device is lost (failed); restart vramd once it is back",
             dev->info.id);
    return -ENODEV;
  }
  was = (enum vd_dev_state)atomic_exchange(&dev->state, (int)s);
  pthread_mutex_unlock(&dev->lock);
  if (was != s)
    vd_log_about(VD_LOG_INFO, VD_FIELDS(.device = dev->info.id), "%s: %s, was %s",
                 dev->info.id, vd_dev_state_name(s), vd_dev_state_name(was));
  return 0;
}

/* Free less reserve, rounded down to whole pages; 0 when the reserve
 * takes it all. */
uint64_t vd_capacity_of(uint64_t free_bytes, uint64_t reserve)
{
  return free_bytes > reserve ? (free_bytes - reserve) & ~(uint64_t)(VD_POOL_ALIGN - 1) : 0;
}

/* Allocated bytes past the capacity. */
uint64_t vd_device_inside_reserve(const struct vd_device *dev)
{
  uint64_t a = vd_device_allocated(dev), cap = dev->info.capacity_bytes;
  return a > cap ? a - cap : 0;
}

/* A new reserve, and with it a new capacity, under the lock claims take:
 * a create running at the same time sees the old capacity or the new,
 * never a mix, and never claims past the one it saw. */
int vd_device_set_reserve(struct vd_device *dev, uint64_t reserve, uint64_t *inside,
                          char *err, size_t errlen)
{
  char r[32], t[32];

  if (reserve > dev->info.total_bytes) {
    snprintf(err, errlen, "%s: a reserve of %s is more than the device's memory (%s)",
             dev->info.id, vd_format_size(reserve, r, sizeof r),
             vd_format_size(dev->info.total_bytes, t, sizeof t));
    return -EINVAL;
  }
  pthread_mutex_lock(&dev->lock);
  dev->info.reserve_bytes = reserve;
  dev->info.capacity_bytes = vd_capacity_of(dev->info.free_bytes, reserve);
  pthread_mutex_unlock(&dev->lock);
  if (inside)
    *inside = vd_device_inside_reserve(dev);
  return 0;
}
