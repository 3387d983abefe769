/* volmap.c: pure mapping of volume byte ranges onto device extents. */
#include "volmap.h"

#include <errno.h>
#include <string.h>

/* Smaller of two 64-bit values. */
static uint64_t min_u64(uint64_t a, uint64_t b)
{
  return a < b ? a : b;
}

/* Number of extents needed to hold bytes, without overflowing. */
static uint64_t extents_for(uint64_t bytes, uint64_t extent_size)
{
  return bytes / extent_size + (bytes % extent_size != 0);
}

/* Mask with cnt bits set starting at bit lo (cnt may be 64 when lo is 0). */
static uint64_t bit_run(uint32_t lo, uint32_t cnt)
{
  if (cnt == 0)
    return 0;
  if (cnt >= 64)
    return ~UINT64_C(0);
  return ((UINT64_C(1) << cnt) - 1) << lo;
}

/* Columns striped over: a mirror's sets of legs, else every device. */
uint32_t vd_map_columns(const struct vd_map *m)
{
  return m->copies > 1 ? m->ndev / m->copies : m->ndev;
}

/* Common checks shared by every layout. */
static int check_common(uint32_t ndev, uint64_t extent_size, uint64_t size)
{
  if (ndev == 0 || ndev > VD_MAX_DEVICES)
    return -EINVAL;
  if (extent_size == 0 || extent_size % VD_SECTOR != 0)
    return -EINVAL;
  if (size == 0)
    return -EINVAL;
  return 0;
}

/* Extent indices are 32-bit in segments, so every device must fit that. */
static int check_extent_counts(const struct vd_map *m)
{
  for (uint32_t i = 0; i < m->ndev; i++)
    if (extents_for(m->dev_bytes[i], m->extent_size) > UINT32_MAX)
      return -EOVERFLOW;
  return 0;
}

/* Round size up to a multiple of step (nonzero); -EOVERFLOW past 2^64. */
static int round_up(uint64_t size, uint64_t step, uint64_t *out)
{
  uint64_t rem = size % step;

  if (rem == 0) {
    *out = size;
    return 0;
  }
  if (size > UINT64_MAX - (step - rem))
    return -EOVERFLOW;
  *out = size + (step - rem);
  return 0;
}

/* Build a striped map (copies > 1: a mirror's) in a scratch copy so m is
 * untouched on failure. */
static int init_striped(struct vd_map *m, enum vd_layout layout, uint32_t ndev,
                        uint32_t copies, uint64_t unit, uint64_t extent_size, uint64_t size)
{
  struct vd_map t;
  uint32_t cols;
  int rc = check_common(ndev, extent_size, size);

  if (rc)
    return rc;
  if (unit < VD_MIN_STRIPE_UNIT || unit > VD_MAX_STRIPE_UNIT ||
      (unit & (unit - 1)) != 0 || copies == 0 || ndev % copies)
    return -EINVAL;
  memset(&t, 0, sizeof(t));
  t.layout = layout;
  t.ndev = ndev;
  t.copies = copies;
  t.unit = unit;
  t.extent_size = extent_size;
  cols = vd_map_columns(&t);
  /* unit * ndev <= 2^26, so the row itself cannot overflow. */
  rc = round_up(size, unit * cols, &t.size);
  if (rc)
    return rc;
  for (uint32_t i = 0; i < ndev; i++)
    t.dev_bytes[i] = t.size / cols;
  rc = check_extent_counts(&t);
  if (rc)
    return rc;
  *m = t;
  return 0;
}

/* A striped map. */
int vd_map_init_stripe(struct vd_map *m, uint32_t ndev, uint64_t unit,
                       uint64_t extent_size, uint64_t size)
{
  return init_striped(m, VD_LAYOUT_STRIPE, ndev, 1, unit, extent_size, size);
}

/* A mirror's map: at least two copies. */
int vd_map_init_mirror(struct vd_map *m, uint32_t ndev, uint32_t copies, uint64_t unit,
                       uint64_t extent_size, uint64_t size)
{
  if (copies < 2)
    return -EINVAL;
  return init_striped(m, VD_LAYOUT_MIRROR, ndev, copies, unit, extent_size, size);
}

/* Build a concat map greedily; no sum of caps is formed, so none overflows. */
int vd_map_init_concat(struct vd_map *m, uint32_t ndev, const uint64_t *cap,
                       uint64_t extent_size, uint64_t size)
{
  struct vd_map t;
  uint64_t left;
  int rc = check_common(ndev, extent_size, size);

  if (rc)
    return rc;
  if (cap == NULL)
    return -EINVAL;
  memset(&t, 0, sizeof(t));
  t.layout = VD_LAYOUT_CONCAT;
  t.ndev = ndev;
  t.copies = 1;
  t.extent_size = extent_size;
  rc = round_up(size, VD_SECTOR, &t.size);
  if (rc)
    return rc;
  left = t.size;
  for (uint32_t i = 0; i < ndev; i++) {
    uint64_t take = min_u64(cap[i] / VD_SECTOR * VD_SECTOR, left);

    t.dev_start[i] = t.size - left;
    t.dev_bytes[i] = take;
    left -= take;
  }
  if (left != 0)
    return -ENOSPC;
  rc = check_extent_counts(&t);
  if (rc)
    return rc;
  *m = t;
  return 0;
}

/* Concat at another size: bytes below the cut keep their place; growth
 * starts at the last device that holds any. */
static int concat_resize(const struct vd_map *old, const uint64_t *room, uint64_t size,
                         struct vd_map *t)
{
  uint32_t last = 0;
  uint64_t left;

  if (room == NULL)
    return -EINVAL;
  *t = *old;
  if (round_up(size, VD_SECTOR, &t->size))
    return -EOVERFLOW;
  for (uint32_t i = 0; i < old->ndev; i++)
    if (old->dev_bytes[i])
      last = i;
  if (t->size <= old->size) {
    for (uint32_t i = 0; i < old->ndev; i++) {
      uint64_t s = min_u64(old->dev_start[i], t->size);
      t->dev_start[i] = s;
      t->dev_bytes[i] = min_u64(old->dev_bytes[i], t->size - s);
    }
    return 0;
  }
  left = t->size - old->size;
  for (uint32_t i = last; i < old->ndev; i++) {
    uint64_t take = min_u64(room[i] / VD_SECTOR * VD_SECTOR, left);

    if (i > last)
      t->dev_start[i] = t->size - left;
    t->dev_bytes[i] += take;
    left -= take;
  }
  return left ? -ENOSPC : 0;
}

/* A resized copy of old; out is untouched on failure. */
int vd_map_resize(const struct vd_map *old, const uint64_t *room, uint64_t size,
                  struct vd_map *out)
{
  struct vd_map t;
  int rc = check_common(old->ndev, old->extent_size, size);

  if (rc)
    return rc;
  if (old->layout != VD_LAYOUT_CONCAT)
    return init_striped(out, old->layout, old->ndev, old->copies, old->unit,
                        old->extent_size, size);
  rc = concat_resize(old, room, size, &t);
  if (!rc)
    rc = check_extent_counts(&t);
  if (!rc)
    *out = t;
  return rc;
}

/* Extents on dev; init guarantees the count fits 32 bits. */
uint32_t vd_map_extent_count(const struct vd_map *m, uint32_t dev)
{
  if (dev >= m->ndev)
    return 0;
  return (uint32_t)extents_for(m->dev_bytes[dev], m->extent_size);
}

/* Size of extent i on dev: extent_size except a shorter last one; 0 if none. */
uint64_t vd_map_extent_bytes(const struct vd_map *m, uint32_t dev, uint32_t i)
{
  if (i >= vd_map_extent_count(m, dev))
    return 0;
  return min_u64(m->extent_size,
                 m->dev_bytes[dev] - (uint64_t)i * m->extent_size);
}

/* Written as two comparisons so off + len is never formed. */
bool vd_map_in_range(const struct vd_map *m, uint64_t off, uint64_t len)
{
  return len <= m->size && off <= m->size - len;
}

/* Stripe devices touched by nonempty [off, last]: a cyclic run of units. */
static uint64_t stripe_touched(const struct vd_map *m, uint64_t off,
                               uint64_t last)
{
  uint64_t u0 = off / m->unit, units = last / m->unit - u0 + 1;
  uint32_t n = vd_map_columns(m), first = (uint32_t)(u0 % n), cnt;

  if (units >= n)
    return bit_run(0, n);
  cnt = (uint32_t)units;
  if (first + cnt <= n)
    return bit_run(first, cnt);
  return bit_run(first, n - first) | bit_run(0, first + cnt - n);
}

/* Concat devices whose share overlaps nonempty [off, last]. */
static uint64_t concat_touched(const struct vd_map *m, uint64_t off,
                               uint64_t last)
{
  uint64_t mask = 0;

  for (uint32_t i = 0; i < m->ndev; i++) {
    uint64_t s = m->dev_start[i], b = m->dev_bytes[i];

    if (b != 0 && s <= last && off < s + b)
      mask |= UINT64_C(1) << i;
  }
  return mask;
}

/* Like the iterators, an out-of-range request touches nothing. */
uint64_t vd_map_devices_touched(const struct vd_map *m, uint64_t off,
                                uint64_t len)
{
  uint64_t cols, legs = 0;

  if (len == 0 || !vd_map_in_range(m, off, len))
    return 0;
  if (m->layout == VD_LAYOUT_CONCAT)
    return concat_touched(m, off, off + len - 1);
  cols = stripe_touched(m, off, off + len - 1);
  if (m->copies <= 1)
    return cols;
  for (uint32_t c = 0; c < vd_map_columns(m); c++)
    if (cols & (UINT64_C(1) << c))
      legs |= UINT64_C(1) << (c * m->copies);
  return legs;
}

/* Fields shared by both iterators; out-of-range requests yield nothing. */
static void iter_setup(struct vd_map_iter *it, const struct vd_map *m,
                       uint64_t off, uint64_t len, int32_t dev)
{
  it->m = m;
  it->start = off;
  it->off = off;
  it->end = vd_map_in_range(m, off, len) ? off + len : off;
  it->dev = dev;
  it->copy = 0;
}

/* Plain iterator over all devices in volume order. */
void vd_map_iter_init(struct vd_map_iter *it, const struct vd_map *m,
                      uint64_t off, uint64_t len)
{
  iter_setup(it, m, off, len, -1);
}

/* Move it->off to dev's first striped byte at or after it, or to the end. */
static void stripe_seek_dev(struct vd_map_iter *it, uint32_t dev)
{
  const struct vd_map *m = it->m;
  uint64_t u = it->off / m->unit, in = it->off % m->unit;
  uint32_t n = vd_map_columns(m), du = (uint32_t)(u % n);
  uint64_t steps = (dev + n - du) % n;
  /* Compare distances so no address past the request is formed. */
  uint64_t gap = steps == 0 ? 0 : steps * m->unit - in;

  if (gap >= it->end - it->off)
    it->off = it->end;
  else
    it->off += gap;
}

/* Device-only iterator; concat just clips the range to dev's share. */
void vd_map_iter_init_dev(struct vd_map_iter *it, const struct vd_map *m,
                          uint64_t off, uint64_t len, uint32_t dev)
{
  if (dev >= m->ndev) {
    /* No such device: an empty iterator. */
    iter_setup(it, m, off, 0, -1);
    return;
  }
  if (m->copies > 1) {
    /* A leg: its column's segments, reported on the leg. */
    iter_setup(it, m, off, len, (int32_t)(dev / m->copies));
    it->copy = dev % m->copies;
    dev /= m->copies;
  } else {
    iter_setup(it, m, off, len, (int32_t)dev);
  }
  if (m->layout == VD_LAYOUT_CONCAT) {
    uint64_t s = m->dev_start[dev], e = s + m->dev_bytes[dev];

    if (it->off < s)
      it->off = s;
    if (it->end > e)
      it->end = e;
    if (it->off > it->end)
      it->off = it->end;
  } else if (vd_map_columns(m) > 1) {
    stripe_seek_dev(it, dev);
  }
}

/* Concat device holding byte v: the largest i with dev_start[i] <= v. */
static uint32_t concat_find(const struct vd_map *m, uint64_t v)
{
  /* Empty devices share the next one's start, so ties end on a full one. */
  uint32_t lo = 0, hi = m->ndev - 1;

  while (lo < hi) {
    uint32_t mid = lo + (hi - lo + 1) / 2;

    if (m->dev_start[mid] <= v)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* Device, device offset and contiguous bytes left there for volume byte v. */
static void locate(const struct vd_map *m, uint64_t v, uint32_t *dev,
                   uint64_t *dev_off, uint64_t *dev_left)
{
  if (m->layout != VD_LAYOUT_CONCAT) {
    uint64_t u = v / m->unit;
    uint32_t n = vd_map_columns(m);

    *dev = (uint32_t)(u % n);
    *dev_off = u / n * m->unit + v % m->unit;
    /* With several columns the next unit lives elsewhere. */
    *dev_left = n > 1 ? m->unit - v % m->unit : m->size - v;
    return;
  }
  *dev = concat_find(m, v);
  *dev_off = v - m->dev_start[*dev];
  *dev_left = m->dev_bytes[*dev] - *dev_off;
}

/* Fill a one-row segment at device offset dev_off (dev: a mirror's
 * column, reported on the iterator's copy of it). */
static void seg_fill(const struct vd_map_iter *it, struct vd_segment *seg,
                     uint32_t dev, uint64_t dev_off, uint64_t v, uint64_t len)
{
  seg->dev = it->m->copies > 1 ? dev * it->m->copies + it->copy : dev;
  seg->extent = (uint32_t)(dev_off / it->m->extent_size);
  seg->ext_offset = dev_off % it->m->extent_size;
  seg->buf_offset = v - it->start;
  seg->len = len;
  seg->rows = 1;
  seg->buf_pitch = len;
}

/* Next maximal segment in volume order. */
static bool next_plain(struct vd_map_iter *it, struct vd_segment *seg)
{
  uint32_t dev;
  uint64_t v = it->off, dev_off, dev_left, len;

  locate(it->m, v, &dev, &dev_off, &dev_left);
  len = min_u64(it->end - v, dev_left);
  len = min_u64(len, it->m->extent_size - dev_off % it->m->extent_size);
  seg_fill(it, seg, dev, dev_off, v, len);
  it->off = v + len;
  return true;
}

/* From done (end of one of it->dev's units) hop to its next unit, or finish. */
static void stripe_hop(struct vd_map_iter *it, uint64_t done)
{
  uint64_t skip = it->m->unit * (vd_map_columns(it->m) - 1);

  if (it->end - done > skip)
    it->off = done + skip;
  else
    it->off = it->end;
}

/* Next multi-device stripe segment of it->dev: a rectangle or a unit piece. */
static bool next_stripe_dev(struct vd_map_iter *it, struct vd_segment *seg)
{
  const struct vd_map *m = it->m;
  uint64_t v = it->off, unit = m->unit, pitch = unit * vd_map_columns(m);
  uint64_t in = v % unit, left = it->end - v;
  uint64_t dev_off = v / pitch * unit + in;
  uint64_t ext_left = m->extent_size - dev_off % m->extent_size;

  seg_fill(it, seg, (uint32_t)it->dev, dev_off, v, 0);
  if (in == 0 && left >= unit && ext_left >= unit) {
    uint64_t k = min_u64((left - unit) / pitch + 1, ext_left / unit);

    seg->len = unit;
    seg->rows = k;
    seg->buf_pitch = k > 1 ? pitch : unit;
    stripe_hop(it, v + (k - 1) * pitch + unit);
    return true;
  }
  seg->len = min_u64(min_u64(unit - in, left), ext_left);
  seg->buf_pitch = seg->len;
  if ((v + seg->len) % unit == 0)
    stripe_hop(it, v + seg->len);
  else
    it->off = v + seg->len;
  return true;
}

/* Dispatch to the flavour the iterator was set up for. */
bool vd_map_next(struct vd_map_iter *it, struct vd_segment *seg)
{
  if (it->off >= it->end)
    return false;
  if (it->dev >= 0 && it->m->layout != VD_LAYOUT_CONCAT && vd_map_columns(it->m) > 1)
    return next_stripe_dev(it, seg);
  return next_plain(it, seg);
}
