/* volume.c: turn a volume spec into extents on devices. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume.h"

const double vd_lat_bounds[VD_LAT_BUCKETS] = {
  10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3,
  10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1.0, 1e300,
};

/* Resolve spec device ids into pool devices; fills ids when ndev == 0. */
static int resolve_devices(struct vd_pool *pool, struct vd_volume_spec *s,
                           struct vd_device **dev, char *err, size_t errlen)
{
  if (s->ndev == 0) {
    s->ndev = vd_pool_count(pool);
    if (s->ndev > VD_MAX_DEVICES)
      s->ndev = VD_MAX_DEVICES;
    for (unsigned i = 0; i < s->ndev; i++)
      snprintf(s->dev_ids[i], VD_DEV_ID_MAX, "%s", vd_device_info(vd_pool_device(pool, i))->id);
  }
  if (s->ndev > VD_MAX_DEVICES) {
    snprintf(err, errlen, "at most %d devices per volume", VD_MAX_DEVICES);
    return -EINVAL;
  }
  for (unsigned i = 0; i < s->ndev; i++) {
    dev[i] = vd_pool_find(pool, s->dev_ids[i]);
    if (!dev[i]) {
      snprintf(err, errlen, "no device '%.*s' (see 'vramctl device list')",
               VD_DEV_ID_MAX, s->dev_ids[i]);
      return -EINVAL;
    }
    for (unsigned j = 0; j < i; j++)
      if (dev[j] == dev[i]) {
        snprintf(err, errlen, "device '%s' is listed twice", s->dev_ids[i]);
        return -EINVAL;
      }
    if (vd_device_state(dev[i]) == VD_DEV_DRAINING || vd_device_state(dev[i]) == VD_DEV_DRAINED) {
      snprintf(err, errlen, "device '%s' is %s: it takes no new volumes until 'vramctl device "
               "undrain %s'", s->dev_ids[i], vd_dev_state_name(vd_device_state(dev[i])),
               s->dev_ids[i]);
      return -ENOSPC;
    }
  }
  return 0;
}

/* Explain why a striped volume does not fit and what would. */
static int stripe_no_room(struct vd_volume *v, struct vd_device **dev,
                          char *err, size_t errlen)
{
  uint64_t per_dev = v->target.map.dev_bytes[0], least = UINT64_MAX;
  unsigned worst = 0;
  char a[32], b[32], c[32];

  for (unsigned i = 0; i < v->spec.ndev; i++)
    if (vd_device_available(dev[i]) < least) {
      least = vd_device_available(dev[i]);
      worst = i;
    }
  least -= least % v->target.map.unit;
  snprintf(err, errlen, "volume '%s' needs %s on each of %u devices but %s has "
           "only %s available; at most %s fits striped over these devices",
           v->spec.name, vd_format_size(per_dev, a, sizeof a), v->spec.ndev,
           vd_device_info(dev[worst])->id, vd_format_size(least + 0, b, sizeof b),
           vd_format_size(least * v->spec.ndev, c, sizeof c));
  return -ENOSPC;
}

/* A size given as a share of free VRAM becomes bytes now, from what the
 * chosen devices have free: striped, the least of them times their count
 * (in whole rows of units); concatenated, their sum (in whole sectors). */
static int resolve_free_size(struct vd_volume_spec *s, struct vd_device **dev,
                             char *err, size_t errlen)
{
  uint64_t least = UINT64_MAX, sum = 0, unit, row;
  unsigned __int128 want;

  if (!s->size_free_pct)
    return 0;
  for (unsigned i = 0; i < s->ndev; i++) {
    uint64_t a = vd_device_available(dev[i]);
    least = a < least ? a : least;
    sum += a;
  }
  if (s->layout != VD_LAYOUT_CONCAT) {
    /* A mirror's columns hold the volume once: its copies add nothing. */
    unsigned cols = s->ndev / vd_volume_copies(s);
    unit = s->stripe_unit ? s->stripe_unit : VD_DEFAULT_STRIPE_UNIT;
    row = unit * (cols ? cols : 1);
    want = (unsigned __int128)least * cols * s->size_free_pct / 100;
    s->size = (uint64_t)(want - want % row);
  } else {
    want = (unsigned __int128)sum * s->size_free_pct / 100;
    s->size = (uint64_t)(want - want % VD_SECTOR);
  }
  if (s->size == 0) {
    snprintf(err, errlen, "%u%% of the free VRAM on %s is less than one %s", s->size_free_pct,
             s->ndev == 1 ? "this device" : "these devices",
             s->layout != VD_LAYOUT_CONCAT ? "stripe row" : "sector");
    return -ENOSPC;
  }
  return 0;
}

/* A thin volume's virtual size against VD_THIN_MAX_OVERCOMMIT times what
 * its devices can hold: 0, or -EINVAL saying so. */
int vd_thin_size_check(struct vd_device *const *dev, unsigned ndev, uint64_t size, char *err,
                       size_t errlen)
{
  uint64_t total = 0;
  char a[32], b[32];

  for (unsigned i = 0; i < ndev; i++)
    total += vd_device_info(dev[i])->capacity_bytes;
  if (total == 0 || size / VD_THIN_MAX_OVERCOMMIT > total) {
    snprintf(err, errlen, "a thin volume may be at most %u times what its devices can hold: "
             "%s is more than %u x %s", VD_THIN_MAX_OVERCOMMIT,
             vd_format_size(size, a, sizeof a), VD_THIN_MAX_OVERCOMMIT,
             vd_format_size(total, b, sizeof b));
    return -EINVAL;
  }
  return 0;
}

/* A thin volume's map: no VRAM is checked, since none is taken yet, but
 * the virtual size is held to VD_THIN_MAX_OVERCOMMIT times what the
 * devices could hold (the placement table costs host memory per chunk).
 * Concat shares the size between devices in proportion to capacity. */
static int build_thin_map(struct vd_volume *v, struct vd_device **dev,
                          uint64_t chunk, char *err, size_t errlen)
{
  struct vd_volume_spec *s = &v->spec;
  uint64_t cap[VD_MAX_DEVICES], total = 0, unit = 0;
  int rc;

  for (unsigned i = 0; i < s->ndev; i++)
    total += cap[i] = vd_device_info(dev[i])->capacity_bytes;
  if ((rc = vd_thin_size_check(dev, s->ndev, s->size, err, errlen)))
    return rc;
  if (s->layout == VD_LAYOUT_STRIPE) {
    unit = s->stripe_unit ? s->stripe_unit : VD_DEFAULT_STRIPE_UNIT;
    if (!vd_is_pow2(unit) || unit < VD_MIN_STRIPE_UNIT || unit > VD_MAX_STRIPE_UNIT ||
        chunk % unit) {
      snprintf(err, errlen, "stripe unit %llu is not a power of two from 4 KiB to 1 MiB",
               (unsigned long long)unit);
      return -EINVAL;
    }
    s->stripe_unit = unit;
    rc = vd_map_init_stripe(&v->target.map, s->ndev, unit, chunk, s->size);
  } else {
    for (unsigned i = 0; i < s->ndev; i++) {
      unsigned __int128 share = (unsigned __int128)cap[i] * s->size / total;
      cap[i] = (uint64_t)share + chunk;
    }
    rc = vd_map_init_concat(&v->target.map, s->ndev, cap, chunk, s->size);
  }
  if (rc) {
    snprintf(err, errlen, "size %llu cannot be mapped (too large)", (unsigned long long)s->size);
    return -EINVAL;
  }
  v->size = v->target.map.size;
  return 0;
}

/* A mirror's map: copies that divide the device count, each device
 * holding a column's whole share. */
static int build_mirror_map(struct vd_volume *v, struct vd_device **dev, uint64_t unit,
                            uint64_t extent_size, char *err, size_t errlen)
{
  struct vd_volume_spec *s = &v->spec;
  unsigned copies = vd_volume_copies(s), cols, worst = 0;
  uint64_t least = UINT64_MAX;
  char a[32], b[32], c[32];
  int rc;

  if (copies < 2) {
    snprintf(err, errlen, "a mirror keeps 2 or more copies of each byte, not %u", copies);
    return -EINVAL;
  }
  if (s->ndev % copies) {
    snprintf(err, errlen, "a mirror of %u copies needs a multiple of %u devices, not %u: each "
             "set of %u consecutive devices holds one copy each", copies, copies, s->ndev,
             copies);
    return -EINVAL;
  }
  if (s->provisioning == VD_PROV_THIN) {
    snprintf(err, errlen, "a mirror is thick: thin provisioning takes no mirror layout");
    return -EINVAL;
  }
  s->copies = (int)copies;
  cols = s->ndev / copies;
  rc = vd_map_init_mirror(&v->target.map, s->ndev, copies, unit, extent_size, s->size);
  if (rc) {
    snprintf(err, errlen, "size %llu cannot be mirrored (too large)", (unsigned long long)s->size);
    return -EINVAL;
  }
  for (unsigned i = 0; i < s->ndev; i++)
    if (vd_device_available(dev[i]) < least) {
      least = vd_device_available(dev[i]);
      worst = i;
    }
  if (least >= v->target.map.dev_bytes[0])
    return 0;
  least -= least % unit;
  snprintf(err, errlen, "volume '%s' needs %s on each of %u devices (%u copies) but %s has "
           "only %s available; at most %s fits mirrored over these devices", s->name,
           vd_format_size(v->target.map.dev_bytes[0], a, sizeof a), s->ndev, copies,
           vd_device_info(dev[worst])->id, vd_format_size(least, b, sizeof b),
           vd_format_size(least * cols, c, sizeof c));
  return -ENOSPC;
}

/* The spec's stripe unit, or the default, checked and set: 0 or -EINVAL. */
static int take_unit(struct vd_volume_spec *s, char *err, size_t errlen)
{
  uint64_t unit = s->stripe_unit ? s->stripe_unit : VD_DEFAULT_STRIPE_UNIT;
  if (!vd_is_pow2(unit) || unit < VD_MIN_STRIPE_UNIT || unit > VD_MAX_STRIPE_UNIT) {
    snprintf(err, errlen, "stripe unit %llu is not a power of two from 4 KiB to 1 MiB",
             (unsigned long long)unit);
    return -EINVAL;
  }
  s->stripe_unit = unit;
  return 0;
}

/* Build the map for the spec, checking capacity first. */
static int build_map(struct vd_volume *v, struct vd_device **dev,
                     uint64_t extent_size, char *err, size_t errlen)
{
  struct vd_volume_spec *s = &v->spec;
  int rc;

  if (s->layout == VD_LAYOUT_MIRROR) {
    rc = take_unit(s, err, errlen);
    if (!rc)
      rc = build_mirror_map(v, dev, s->stripe_unit, extent_size, err, errlen);
    v->size = v->target.map.size;
    return rc;
  }
  if (s->provisioning == VD_PROV_THIN)
    return build_thin_map(v, dev, extent_size, err, errlen);
  if (s->layout == VD_LAYOUT_STRIPE) {
    uint64_t unit;
    if ((rc = take_unit(s, err, errlen)))
      return rc;
    unit = s->stripe_unit;
    if (s->size / s->ndev > vd_device_available(dev[0]) + unit) {
      /* Too big to even map: report it as the capacity problem it is. */
      v->target.map.unit = unit;
      v->target.map.dev_bytes[0] = s->size / s->ndev;
      return stripe_no_room(v, dev, err, errlen);
    }
    rc = vd_map_init_stripe(&v->target.map, s->ndev, unit, extent_size, s->size);
    if (rc) {
      snprintf(err, errlen, "size %llu cannot be striped (too large)",
               (unsigned long long)s->size);
      return -EINVAL;
    }
    for (unsigned i = 0; i < s->ndev; i++)
      if (vd_device_available(dev[i]) < v->target.map.dev_bytes[i])
        return stripe_no_room(v, dev, err, errlen);
  } else {
    uint64_t cap[VD_MAX_DEVICES], total = 0;
    char a[32], b[32];
    for (unsigned i = 0; i < s->ndev; i++)
      total += cap[i] = vd_device_available(dev[i]);
    rc = vd_map_init_concat(&v->target.map, s->ndev, cap, extent_size, s->size);
    if (rc == -ENOSPC || (rc && s->size > total)) {
      snprintf(err, errlen, "volume '%s' needs %s but the %u devices have %s "
               "available together; at most that fits", s->name,
               vd_format_size(s->size, a, sizeof a), s->ndev,
               vd_format_size(total, b, sizeof b));
      return -ENOSPC;
    }
    if (rc) {
      snprintf(err, errlen, "size %llu cannot be concatenated (too large)",
               (unsigned long long)s->size);
      return -EINVAL;
    }
  }
  v->size = v->target.map.size;
  return 0;
}

/* Free the extents allocated so far, and a thin volume's retired chunks. */
static void free_extents(struct vd_volume *v)
{
  struct vd_extent *e = vd_extent_take_all(&v->target.retired), *next;

  for (; e; e = next) {
    next = vd_extent_next(e);
    vd_extent_free(e);
  }
  for (unsigned d = 0; d < v->target.map.ndev; d++) {
    struct vd_extent *_Atomic *x = v->target.ext[d];
    if (!x)
      continue;
    for (uint32_t i = 0; i < vd_map_extent_count(&v->target.map, d); i++)
      vd_extent_free(atomic_load(&x[i]));
    free(x);
    free((void *)v->target.zmask[d]);
    v->target.ext[d] = NULL;
    v->target.zmask[d] = NULL;
  }
}

/* Make the placement table; a thick volume also gets every extent now,
 * reporting each to ctl and stopping between extents when it cancels. */
static int alloc_extents(struct vd_volume *v, const struct vd_alloc_ctl *ctl, char *err,
                         size_t errlen)
{
  const struct vd_map *m = &v->target.map;

  for (unsigned d = 0; d < m->ndev; d++) {
    uint32_t n = vd_map_extent_count(m, d);
    if (n == 0)
      continue;
    v->target.ext[d] = calloc(n, sizeof *v->target.ext[d]);
    if (v->target.stock)
      v->target.zmask[d] = calloc(n, sizeof *v->target.zmask[d]);
    if (!v->target.ext[d] || (v->target.stock && !v->target.zmask[d])) {
      snprintf(err, errlen, "out of host memory");
      return -ENOMEM;
    }
    for (uint32_t i = 0; i < n && !v->target.stock; i++) {
      struct vd_extent *e;
      int rc;
      if (ctl && ctl->cancelled && ctl->cancelled(ctl->arg)) {
        snprintf(err, errlen, "cancelled; nothing was kept");
        return -ECANCELED;
      }
      rc = vd_extent_alloc_sums(v->target.dev[d], vd_map_extent_bytes(m, d, i),
                                vd_volume_tail(v), &e, err, errlen);
      if (rc)
        return rc;
      atomic_store(&v->target.ext[d][i], e);
      if (ctl && ctl->progress)
        ctl->progress(ctl->arg, vd_map_extent_bytes(m, d, i));
    }
  }
  return 0;
}

/* Validate a spec and allocate the volume it describes. */
int vd_volume_alloc(struct vd_pool *pool, struct vd_stock *stock, uint64_t extent_size,
                    const struct vd_volume_spec *spec, struct vd_volume **out,
                    char *err, size_t errlen)
{
  return vd_volume_alloc_ctl(pool, stock, extent_size, spec, NULL, out, err, errlen);
}

/* The same, with progress and cancel. */
int vd_volume_alloc_ctl(struct vd_pool *pool, struct vd_stock *stock, uint64_t extent_size,
                        const struct vd_volume_spec *spec, const struct vd_alloc_ctl *ctl,
                        struct vd_volume **out, char *err, size_t errlen)
{
  struct vd_volume *v;
  int rc;

  if (!vd_name_valid(spec->name, err, errlen))
    return -EINVAL;
  if (spec->size == 0 && !spec->size_free_pct) {
    snprintf(err, errlen, "size must be greater than zero");
    return -EINVAL;
  }
  if (extent_size == 0 || extent_size % VD_SECTOR) {
    snprintf(err, errlen, "extent size must be a multiple of 4 KiB");
    return -EINVAL;
  }
  v = calloc(1, sizeof *v);
  if (!v) {
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  v->spec = *spec;
  v->target.label = v->spec.name;
  if (spec->provisioning == VD_PROV_THIN && spec->integrity != VD_INTEGRITY_NONE) {
    /* See docs/design-decisions.md, "Integrity": a chunk from the stock
     * has no checksum tail, and the keeper's zeroing would need one. */
    snprintf(err, errlen, "integrity %s is for thick volumes: a thin volume keeps no "
             "checksums; create it without --thin, or without --integrity",
             vd_integrity_name(spec->integrity));
    rc = -EINVAL;
    goto out_free;
  }
  if (spec->provisioning == VD_PROV_THIN) {
    /* A chunk is a thin volume's extent: the unit it takes and gives back. */
    if (!stock) {
      snprintf(err, errlen, "thin volumes are not available here");
      rc = -EINVAL;
      goto out_free;
    }
    v->target.stock = stock;
    extent_size = vd_stock_chunk(stock);
    if (spec->size_free_pct) {
      snprintf(err, errlen, "a thin volume takes a size in bytes, not a share of free VRAM");
      rc = -EINVAL;
      goto out_free;
    }
  }
  rc = resolve_devices(pool, &v->spec, v->target.dev, err, errlen);
  if (!rc)
    rc = resolve_free_size(&v->spec, v->target.dev, err, errlen);
  if (rc)
    goto out_free;
  /* Extents never exceed what any of the volume's devices can allocate,
   * checksum tails included. */
  for (unsigned i = 0; i < v->spec.ndev && !v->target.stock; i++) {
    uint64_t max = vd_device_info(v->target.dev[i])->max_alloc_bytes;
    if (vd_volume_sums(v))
      max = max / (VD_SUM_BLOCK + 4) * VD_SUM_BLOCK;
    if (max < extent_size)
      extent_size = max - max % VD_SECTOR;
  }
  if (v->spec.layout != VD_LAYOUT_CONCAT && v->spec.stripe_unit && !v->target.stock &&
      extent_size > v->spec.stripe_unit)
    extent_size -= extent_size % v->spec.stripe_unit;
  rc = build_map(v, v->target.dev, extent_size, err, errlen);
  if (rc || (ctl && ctl->check_only))
    goto out_free;
  rc = alloc_extents(v, ctl, err, errlen);
  if (rc)
    goto out_free_extents;
  vd_target_init(&v->target);
  atomic_store(&v->refs, 1);
  *out = v;
  return 0;

out_free_extents:
  free_extents(v);
out_free:
  free(v);
  return rc;
}

/* Release a volume's VRAM and memory. */
void vd_volume_free(struct vd_volume *v)
{
  if (!v)
    return;
  free_extents(v);
  vd_target_fini(&v->target);
  free(v);
}

/* Bytes of VRAM behind the volume now, checksums included. */
uint64_t vd_volume_allocated(const struct vd_volume *v)
{
  uint64_t sum = 0;
  if (v->target.stock)
    return atomic_load(&v->target.chunks) * vd_stock_chunk(v->target.stock);
  for (unsigned d = 0; d < v->target.map.ndev; d++)
    for (uint32_t i = 0; i < vd_map_extent_count(&v->target.map, d); i++) {
      uint64_t b = vd_map_extent_bytes(&v->target.map, d, i);
      sum += b + vd_tail_bytes(b, vd_volume_tail(v));
    }
  return sum;
}

/* Whether the volume's extents keep checksums. */
bool vd_volume_sums(const struct vd_volume *v)
{
  return v->spec.integrity != VD_INTEGRITY_NONE;
}

/* What its extents keep after their data. */
enum vd_tail vd_volume_tail(const struct vd_volume *v)
{
  return v->spec.integrity == VD_INTEGRITY_PARITY ? VD_TAIL_PARITY :
         v->spec.integrity == VD_INTEGRITY_CRC32C ? VD_TAIL_SUMS : VD_TAIL_NONE;
}

/* Where logical extent (d, i) lives now, and its buffer's size: read
 * under the move lock, so that neither a move nor the keeper frees the
 * buffer under the reader.  NULL for a thin range that holds no chunk. */
struct vd_device *vd_volume_where(const struct vd_volume *v, uint32_t d, uint32_t i,
                                  uint64_t *bytes)
{
  struct vd_target *t = (struct vd_target *)&v->target;
  struct vd_device *dev = NULL;
  struct vd_extent *e;

  pthread_mutex_lock(&t->move_lock);
  /* A shrink may have cut (d, i) since the caller read the map. */
  e = i < vd_map_extent_count(&t->map, d) ? atomic_load(&t->ext[d][i]) : NULL;
  if (e) {
    dev = vd_extent_device(e);
    if (bytes)
      *bytes = vd_extent_bytes(e);
  }
  pthread_mutex_unlock(&t->move_lock);
  return dev;
}

/* A home of v, or the device of any extent it holds now. */
bool vd_volume_uses(const struct vd_volume *v, const struct vd_device *dev)
{
  const struct vd_target *t = &v->target;
  if (!atomic_load(&t->placed)) {
    for (unsigned d = 0; d < t->map.ndev; d++)
      if (t->dev[d] == dev)
        return true;
    return false;
  }
  for (uint32_t d = 0; d < t->map.ndev; d++)
    for (uint32_t i = 0; i < vd_map_extent_count(&t->map, d); i++)
      if (vd_volume_where(v, d, i, NULL) == dev)
        return true;
  return false;
}

/* Copies of each byte a spec asks for: 1 unless a mirror. */
unsigned vd_volume_copies(const struct vd_volume_spec *s)
{
  if (s->layout != VD_LAYOUT_MIRROR)
    return 1;
  return s->copies < 0 ? VD_MIRROR_COPIES_DEFAULT : (unsigned)s->copies;
}

/* Failed by vramd_device_fail, or a device gone under it since; a
 * mirror only once some byte has no copy left. */
bool vd_volume_failed(const struct vd_volume *v)
{
  const struct vd_target *t = &v->target;
  if (atomic_load(&t->failed))
    return true;
  if (t->map.copies > 1)
    return vd_mirror_healthy((struct vd_target *)t) == 0;
  if (!atomic_load(&t->placed)) {
    for (unsigned d = 0; d < t->map.ndev; d++)
      if (vd_device_is_lost(t->dev[d]))
        return true;
    return false;
  }
  for (uint32_t d = 0; d < t->map.ndev; d++)
    for (uint32_t i = 0; i < vd_map_extent_count(&t->map, d); i++) {
      struct vd_device *on = vd_volume_where(v, d, i, NULL);
      if (on && vd_device_is_lost(on))
        return true;
    }
  return false;
}

/* "failed", "degraded" (a mirror short of a copy somewhere) or "ok". */
const char *vd_volume_state(const struct vd_volume *v)
{
  if (vd_volume_failed(v))
    return "failed";
  if (v->target.map.copies > 1 &&
      vd_mirror_healthy((struct vd_target *)&v->target) < v->target.map.copies)
    return "degraded";
  return "ok";
}

/* Add one request's outcome to the volume's counters. */
void vd_volume_account(struct vd_volume *v, enum vd_op op, uint64_t bytes,
                       uint64_t ns, int err)
{
  struct vd_volume_stats *s = &v->stats;
  double sec = (double)ns / 1e9;
  unsigned b = 0;

  if ((unsigned)op > VD_OP_FLUSH)
    return;
  atomic_fetch_add_explicit(&s->ops[op], 1, memory_order_relaxed);
  if (err) {
    atomic_fetch_add_explicit(&s->errors[op], 1, memory_order_relaxed);
    return;
  }
  atomic_fetch_add_explicit(&s->bytes[op], bytes, memory_order_relaxed);
  while (b + 1 < VD_LAT_BUCKETS && sec > vd_lat_bounds[b])
    b++;
  atomic_fetch_add_explicit(&s->lat_count[op][b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->lat_sum_ns[op], ns, memory_order_relaxed);
}

