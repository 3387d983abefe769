/* repair.c: rebuild a mirror's stale copies while requests run.
 *
 * Each extent of a stale leg is copied from a leg of its column that is
 * in sync, by move.c's tracked copy, and placed as the leg's: from then
 * on writes land on it too (mirror.c sends writes to stale legs on live
 * devices).  Once every extent is placed, the leg is fresh again, with
 * requests parked so that none sees it half-way, unless it broke
 * meanwhile (a write to it failed) or an extent of it is on a lost
 * device (its new one was lost): then it stays stale and the repair
 * fails. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "volume.h"

/* Bit of leg l. */
static inline uint64_t bit(uint32_t l)
{
  return UINT64_C(1) << l;
}

/* True when dev holds an extent of a leg of leg's column other than leg. */
static bool holds_sibling(const struct vd_volume *v, uint32_t leg, const struct vd_device *dev)
{
  for (uint32_t i = 0; i < vd_map_extent_count(&v->target.map, leg); i++)
    if (vd_volume_copy_on(v, leg, i, dev))
      return true;
  return false;
}

/* Where stale leg l goes: to when given, else its own device when in
 * service, else the active device with the most room; it must hold no
 * other copy of the column and have room for the leg.  NULL with err. */
static struct vd_device *target(struct vd_volume *v, uint32_t l, struct vd_device *to,
                                struct vd_pool *pool, char *err, size_t errlen)
{
  uint64_t need = v->target.map.dev_bytes[l];
  struct vd_device *best = NULL, *home = v->target.dev[l];
  char a[32], b[32];

  if (to) {
    if (vd_device_state(to) != VD_DEV_ACTIVE)
      snprintf(err, errlen, "%s is %s: a copy is rebuilt on an active device only",
               vd_device_info(to)->id, vd_dev_state_name(vd_device_state(to)));
    else if (holds_sibling(v, l, to))
      snprintf(err, errlen, "%s holds another copy of the same data: copies live on distinct "
               "devices; name another one, or none", vd_device_info(to)->id);
    else if (vd_device_available(to) < need)
      snprintf(err, errlen, "%s has room for %s of the %s the copy needs",
               vd_device_info(to)->id, vd_format_size(vd_device_available(to), a, sizeof a),
               vd_format_size(need, b, sizeof b));
    else
      return to;
    return NULL;
  }
  if (vd_device_state(home) == VD_DEV_ACTIVE && !holds_sibling(v, l, home) &&
      vd_device_available(home) >= need)
    return home;
  for (unsigned k = 0; k < vd_pool_count(pool); k++) {
    struct vd_device *dev = vd_pool_device(pool, k);
    if (vd_device_state(dev) == VD_DEV_ACTIVE && vd_device_available(dev) >= need &&
        !holds_sibling(v, l, dev) &&
        (!best || vd_device_available(dev) > vd_device_available(best)))
      best = dev;
  }
  if (!best)
    snprintf(err, errlen, "no active device has room for a copy of %s that holds no other "
             "copy of the same data; free some, or add a device", vd_format_size(need, a, sizeof a));
  return best;
}

/* A leg of l's column in sync to copy from, or -1. */
static int source(struct vd_target *t, uint32_t l)
{
  uint32_t k = t->map.copies;
  uint64_t stale = atomic_load(&t->stale);
  for (uint32_t s = l / k * k; s < l / k * k + k; s++)
    if (s != l && !(stale & bit(s)))
      return (int)s;
  return -1;
}

/* Make leg l fresh with requests parked, unless it broke meanwhile; its
 * home is to from now on.  False when it broke. */
static bool settle(struct vd_move_ctl *c, struct vd_volume *v, uint32_t l, struct vd_device *to)
{
  struct vd_target *t = &v->target;
  bool ok;

  vd_target_pause(t);
  ok = !(atomic_load(&t->broke) & bit(l)) && !(vd_mirror_legs_on(t, NULL) & bit(l));
  if (ok) {
    atomic_fetch_and(&t->stale, ~bit(l));
    /* A mark between the check and the clear set broke first. */
    if (atomic_load(&t->broke) & bit(l)) {
      atomic_fetch_or(&t->stale, bit(l));
      ok = false;
    }
  }
  if (ok) {
    t->dev[l] = to;
    snprintf(v->spec.dev_ids[l], VD_DEV_ID_MAX, "%s", vd_device_info(to)->id);
  }
  vd_target_resume(c->eng, t);
  return ok;
}

/* Rebuild stale leg l on to, extent by extent. */
static int repair_leg(struct vd_move_ctl *c, struct vd_volume *v, uint32_t l,
                      struct vd_device *to, char *err, size_t errlen)
{
  struct vd_target *t = &v->target;

  atomic_fetch_and(&t->broke, ~bit(l));
  for (uint32_t i = 0; i < vd_map_extent_count(&t->map, l); i++) {
    int from = source(t, l), rc;
    if (c->cancelled && c->cancelled(c->arg)) {
      snprintf(err, errlen, "cancelled; the copy stays stale (what was copied is kept "
               "up to date and copied again by the next repair)");
      return -ECANCELED;
    }
    if (from < 0) {
      snprintf(err, errlen, "volume %s: no copy in sync is left to copy from", v->spec.name);
      return -EIO;
    }
    rc = vd_volume_rebuild(c, v, (uint32_t)from, l, i, to, err, errlen);
    if (rc)
      return rc;
    if (c->progress)
      c->progress(c->arg, vd_map_extent_bytes(&t->map, l, i));
  }
  if (!settle(c, v, l, to)) {
    snprintf(err, errlen, "volume %s: the copy on %s went out of sync again while it was "
             "rebuilt (see the log); it stays stale", v->spec.name, vd_device_info(to)->id);
    return -EIO;
  }
  vd_log_about(VD_LOG_INFO, VD_FIELDS(.volume = v->spec.name, .device = vd_device_info(to)->id),
               "volume %s: copy %u of %u rebuilt on %s", v->spec.name, l % t->map.copies + 1,
               t->map.copies, vd_device_info(to)->id);
  return 0;
}

/* Bytes of the stale legs. */
uint64_t vd_volume_repair_bytes(struct vd_volume *v)
{
  struct vd_target *t = &v->target;
  uint64_t stale, sum = 0;

  if (t->map.copies <= 1)
    return 0;
  vd_mirror_healthy(t); /* legs on lost devices are stale from here */
  stale = atomic_load(&t->stale);
  for (uint32_t l = 0; l < t->map.ndev; l++)
    if (stale & bit(l))
      sum += t->map.dev_bytes[l];
  return sum;
}

/* Rebuild every stale leg. */
int vd_volume_repair(struct vd_move_ctl *c, struct vd_volume *v, struct vd_device *to,
                     struct vd_pool *pool, char *err, size_t errlen)
{
  struct vd_target *t = &v->target;
  uint64_t stale;

  if (t->map.copies <= 1) {
    snprintf(err, errlen, "volume %s is not a mirror: it keeps one copy of each byte",
             v->spec.name);
    return -EINVAL;
  }
  if (!vd_volume_repair_bytes(v)) {
    snprintf(err, errlen, "volume %s: every copy is in sync; nothing to repair", v->spec.name);
    return -EALREADY;
  }
  stale = atomic_load(&t->stale);
  for (uint32_t l = 0; l < t->map.ndev; l++) {
    struct vd_device *dev;
    int rc;
    if (!(stale & bit(l)))
      continue;
    dev = target(v, l, to, pool, err, errlen);
    if (!dev)
      return -ENOSPC;
    rc = repair_leg(c, v, l, dev, err, errlen);
    if (rc)
      return rc;
  }
  return 0;
}
