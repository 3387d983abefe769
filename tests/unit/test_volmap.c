/* test_volmap.c: CUnit tests of the volume map against a brute-force model. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/map/volmap.c"
#include "runner.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define TIB (UINT64_C(1) << 40)

/* Requests up to this long get every byte checked; longer ones are sampled
 * on both sides of every sector boundary, where all layout breaks lie. */
#define FULL_CHECK_BYTES (8 * KIB)
/* Keeps random volumes small enough for per-sector model scans. */
#define MAX_RANDOM_VOLUME (8 * MIB)

/* ---- deterministic PRNG ---- */

static uint64_t rng_state;

/* splitmix64: tiny, well mixed, reproducible from the seed. */
static uint64_t rnd(void)
{
  uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Uniform-ish value in [lo, hi]. */
static uint64_t rnd_range(uint64_t lo, uint64_t hi)
{
  if (hi - lo == UINT64_MAX)
    return rnd();
  return lo + rnd() % (hi - lo + 1);
}

/* True with probability 1/n. */
static bool one_in(uint64_t n)
{
  return rnd() % n == 0;
}

/* ---- brute-force model ---- */

/* Layout rebuilt from the raw parameters, independent of volmap.c. */
struct model {
  bool concat;
  uint32_t ndev;
  uint64_t unit, ext, size;
  uint64_t bytes[VD_MAX_DEVICES], start[VD_MAX_DEVICES];
};

/* Where one volume byte lives. */
struct loc {
  uint32_t dev;
  uint64_t ext, eo;
};

/* Model of a stripe; false when the rounded size exceeds 64 bits. */
static bool model_stripe(struct model *md, uint32_t ndev, uint64_t unit,
                         uint64_t ext, uint64_t size)
{
  unsigned __int128 row = (unsigned __int128)unit * ndev;
  unsigned __int128 rounded = (size + row - 1) / row * row;

  memset(md, 0, sizeof(*md));
  if (rounded > UINT64_MAX)
    return false;
  md->ndev = ndev;
  md->unit = unit;
  md->ext = ext;
  md->size = (uint64_t)rounded;
  for (uint32_t i = 0; i < ndev; i++)
    md->bytes[i] = md->size / ndev;
  return true;
}

/* Model of a concat; returns 0, -EOVERFLOW or -ENOSPC like the real one. */
static int model_concat(struct model *md, uint32_t ndev, const uint64_t *cap,
                        uint64_t ext, uint64_t size)
{
  unsigned __int128 rounded = ((unsigned __int128)size + 4095) / 4096 * 4096;
  unsigned __int128 pos = 0;

  memset(md, 0, sizeof(*md));
  if (rounded > UINT64_MAX)
    return -EOVERFLOW;
  md->concat = true;
  md->ndev = ndev;
  md->ext = ext;
  md->size = (uint64_t)rounded;
  for (uint32_t i = 0; i < ndev; i++) {
    unsigned __int128 c = cap[i] - cap[i] % 4096;
    unsigned __int128 take = rounded - pos < c ? rounded - pos : c;

    md->start[i] = (uint64_t)pos;
    md->bytes[i] = (uint64_t)take;
    pos += take;
  }
  return pos == rounded ? 0 : -ENOSPC;
}

/* Map one byte straight from the formulas. */
static struct loc model_loc(const struct model *md, uint64_t v)
{
  struct loc l = {0, 0, 0};
  uint64_t doff = 0;

  if (!md->concat) {
    uint64_t u = v / md->unit;

    l.dev = (uint32_t)(u % md->ndev);
    doff = (u / md->ndev) * md->unit + v % md->unit;
  } else {
    for (uint32_t i = 0; i < md->ndev; i++) {
      if (v >= md->start[i] && v - md->start[i] < md->bytes[i]) {
        l.dev = i;
        doff = v - md->start[i];
        break;
      }
    }
  }
  l.ext = doff / md->ext;
  l.eo = doff % md->ext;
  return l;
}

/* Devices of [off, off+len), one byte per sector (no sector spans two). */
static uint64_t model_touched(const struct model *md, uint64_t off,
                              uint64_t len)
{
  uint64_t mask = 0, v = off, end = off + len;

  while (v < end) {
    mask |= UINT64_C(1) << model_loc(md, v).dev;
    v = (v / VD_SECTOR + 1) * VD_SECTOR;
  }
  return mask;
}

/* The map's fields must agree with the model's layout. */
static bool fields_match(const struct model *md, const struct vd_map *m)
{
  if (m->ndev != md->ndev || m->size != md->size || m->extent_size != md->ext)
    return false;
  if (m->layout != (md->concat ? VD_LAYOUT_CONCAT : VD_LAYOUT_STRIPE))
    return false;
  if (!md->concat && m->unit != md->unit)
    return false;
  for (uint32_t i = 0; i < md->ndev; i++) {
    if (m->dev_bytes[i] != md->bytes[i])
      return false;
    if (md->concat && m->dev_start[i] != md->start[i])
      return false;
  }
  return true;
}

/* ---- growable arrays ---- */

/* One row of a segment: len bytes at buf on the device side at (dev,ext,eo). */
struct piece {
  uint64_t buf, len;
  uint32_t dev;
  uint64_t ext, eo;
};

struct segv {
  struct vd_segment *a;
  size_t n, cap;
};

struct piecev {
  struct piece *a;
  size_t n, cap;
};

/* Append, growing geometrically; aborts on OOM since tests cannot go on. */
static void segv_push(struct segv *v, const struct vd_segment *s)
{
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 64;
    v->a = realloc(v->a, v->cap * sizeof(*v->a));
    if (!v->a)
      abort();
  }
  v->a[v->n++] = *s;
}

/* Append, growing geometrically. */
static void piecev_push(struct piecev *v, const struct piece *p)
{
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 64;
    v->a = realloc(v->a, v->cap * sizeof(*v->a));
    if (!v->a)
      abort();
  }
  v->a[v->n++] = *p;
}

static struct segv g_plain, g_dev;
static struct piecev g_pieces;

/* Drain an iterator into v (cleared first). */
static void collect(struct vd_map_iter *it, struct segv *v)
{
  /* A broken iterator could repeat an empty segment forever; the checks
   * flag the one kept. */
  struct vd_segment s;

  v->n = 0;
  while (vd_map_next(it, &s)) {
    segv_push(v, &s);
    if (s.len == 0)
      break;
  }
}

/* ---- checks ---- */

/* Context printed when a random case fails, to reproduce it by hand. */
static char g_ctx[256];

/* Record a failure once with context; the caller bails out. */
#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "\n  %s:%d: %s [%s]\n", __FILE__, __LINE__, #cond,    \
              g_ctx);                                                       \
      CU_FAIL(#cond);                                                       \
      return false;                                                         \
    }                                                                       \
  } while (0)

/* One byte of a piece must sit where the model puts it. */
static bool check_byte(const struct model *md, uint64_t req_off,
                       const struct piece *p, uint64_t i)
{
  struct loc l = model_loc(md, req_off + p->buf + i);

  CHECK(l.dev == p->dev && l.ext == p->ext && l.eo == p->eo + i);
  return true;
}

/* Check a piece's mapping: every byte, or both sides of each sector edge. */
static bool check_piece(const struct model *md, const struct vd_map *m,
                        uint64_t req_off, const struct piece *p, bool full)
{
  uint64_t v = req_off + p->buf;

  CHECK(p->len > 0 && p->dev < m->ndev);
  CHECK(p->ext < vd_map_extent_count(m, p->dev));
  CHECK(p->eo < vd_map_extent_bytes(m, p->dev, (uint32_t)p->ext));
  CHECK(p->len <= vd_map_extent_bytes(m, p->dev, (uint32_t)p->ext) - p->eo);
  if (full) {
    for (uint64_t i = 0; i < p->len; i++)
      if (!check_byte(md, req_off, p, i))
        return false;
    return true;
  }
  if (!check_byte(md, req_off, p, 0) || !check_byte(md, req_off, p, p->len - 1))
    return false;
  for (uint64_t b = (v / VD_SECTOR + 1) * VD_SECTOR; b - v < p->len;
       b += VD_SECTOR) {
    if (!check_byte(md, req_off, p, b - v - 1) ||
        !check_byte(md, req_off, p, b - v))
      return false;
  }
  return check_byte(md, req_off, p, rnd() % p->len);
}

/* Plain iterator: tiles the request in order, maps right, maximal. */
static bool check_plain(const struct model *md, const struct vd_map *m,
                        uint64_t off, uint64_t len)
{
  struct vd_map_iter it;
  uint64_t next = 0;
  bool full = len <= FULL_CHECK_BYTES;

  vd_map_iter_init(&it, m, off, len);
  collect(&it, &g_plain);
  for (size_t i = 0; i < g_plain.n; i++) {
    const struct vd_segment *s = &g_plain.a[i];
    struct piece p = {s->buf_offset, s->len, s->dev, s->extent, s->ext_offset};

    CHECK(s->rows == 1 && s->buf_pitch == s->len);
    CHECK(s->buf_offset == next);
    next += s->len;
    if (!check_piece(md, m, off, &p, full))
      return false;
    if (i > 0) {
      const struct vd_segment *a = &g_plain.a[i - 1];

      CHECK(!(a->dev == s->dev && a->extent == s->extent &&
              a->ext_offset + a->len == s->ext_offset));
    }
  }
  CHECK(next == len);
  return true;
}

/* Order pieces by their place in the request buffer. */
static int piece_cmp(const void *x, const void *y)
{
  const struct piece *a = x, *b = y;

  return (a->buf > b->buf) - (a->buf < b->buf);
}

/* Shape rules of one per-device segment. */
static bool check_dev_shape(const struct vd_map *m, const struct vd_segment *s,
                            uint32_t dev, uint64_t len)
{
  uint64_t eb = vd_map_extent_bytes(m, s->dev, s->extent);

  CHECK(s->dev == dev && s->len > 0 && s->rows > 0);
  CHECK(s->ext_offset < eb && s->rows * s->len <= eb - s->ext_offset);
  if (s->rows == 1) {
    CHECK(s->buf_pitch == s->len);
  } else {
    CHECK(m->layout == VD_LAYOUT_STRIPE && m->ndev > 1);
    CHECK(s->len == m->unit && s->buf_pitch == m->unit * m->ndev);
  }
  /* A partial unit only at the request's ends or at an extent edge. */
  if (m->layout == VD_LAYOUT_STRIPE && m->ndev > 1 && s->len < m->unit)
    CHECK(s->buf_offset == 0 || s->buf_offset + s->len == len ||
          s->ext_offset == 0 || s->ext_offset + s->len == eb);
  return true;
}

/* Two consecutive per-device segments that should have been one. */
static bool dev_mergeable(const struct vd_map *m, const struct vd_segment *a,
                          const struct vd_segment *b)
{
  if (a->extent != b->extent ||
      a->ext_offset + a->rows * a->len != b->ext_offset)
    return false;
  if (a->rows == 1 && b->rows == 1 && a->buf_offset + a->len == b->buf_offset)
    return true;
  return m->layout == VD_LAYOUT_STRIPE && m->ndev > 1 && a->len == m->unit &&
         b->len == m->unit;
}

/* One device's segments: ordered, contiguous, maximal; rows to g_pieces. */
static bool check_one_dev(const struct vd_map *m, uint64_t off, uint64_t len,
                          uint32_t dev)
{
  struct vd_map_iter it;

  vd_map_iter_init_dev(&it, m, off, len, dev);
  collect(&it, &g_dev);
  for (size_t i = 0; i < g_dev.n; i++) {
    const struct vd_segment *s = &g_dev.a[i];

    if (!check_dev_shape(m, s, dev, len))
      return false;
    if (i > 0) {
      const struct vd_segment *a = &g_dev.a[i - 1];
      uint64_t a_end = (uint64_t)a->extent * m->extent_size + a->ext_offset +
                       a->rows * a->len;

      CHECK(a_end == (uint64_t)s->extent * m->extent_size + s->ext_offset);
      CHECK(!dev_mergeable(m, a, s));
    }
    for (uint64_t r = 0; r < s->rows; r++) {
      struct piece p = {s->buf_offset + r * s->buf_pitch, s->len, s->dev,
                        s->extent, s->ext_offset + r * s->len};
      piecev_push(&g_pieces, &p);
    }
  }
  return true;
}

/* Without rectangles, a device's segments are the plain ones on it. */
static bool check_dev_equals_plain(uint32_t dev)
{
  size_t j = 0;

  for (size_t i = 0; i < g_plain.n; i++) {
    if (g_plain.a[i].dev != dev)
      continue;
    CHECK(j < g_dev.n);
    CHECK(memcmp(&g_plain.a[i], &g_dev.a[j], sizeof(g_dev.a[j])) == 0);
    j++;
  }
  CHECK(j == g_dev.n);
  return true;
}

/* Per-device iterators: together they tile the request and map right. */
static bool check_devs(const struct model *md, const struct vd_map *m,
                       uint64_t off, uint64_t len, uint64_t touched)
{
  uint64_t next = 0;
  bool full = len <= FULL_CHECK_BYTES;

  g_pieces.n = 0;
  for (uint32_t d = 0; d < m->ndev; d++) {
    size_t before = g_pieces.n;

    if (!check_one_dev(m, off, len, d))
      return false;
    CHECK((g_pieces.n > before) == ((touched >> d) & 1));
    if ((m->layout == VD_LAYOUT_CONCAT || m->ndev == 1) &&
        !check_dev_equals_plain(d))
      return false;
  }
  qsort(g_pieces.a, g_pieces.n, sizeof(*g_pieces.a), piece_cmp);
  for (size_t i = 0; i < g_pieces.n; i++) {
    CHECK(g_pieces.a[i].buf == next);
    next += g_pieces.a[i].len;
    if (!check_piece(md, m, off, &g_pieces.a[i], full))
      return false;
  }
  CHECK(next == len);
  return true;
}

/* Every property of one request. */
static bool check_request(const struct model *md, const struct vd_map *m,
                          uint64_t off, uint64_t len)
{
  uint64_t touched = model_touched(md, off, len);

  snprintf(g_ctx, sizeof(g_ctx),
           "%s ndev=%u unit=%llu ext=%llu size=%llu off=%llu len=%llu",
           md->concat ? "concat" : "stripe", md->ndev,
           (unsigned long long)md->unit, (unsigned long long)md->ext,
           (unsigned long long)md->size, (unsigned long long)off,
           (unsigned long long)len);
  CHECK(vd_map_in_range(m, off, len));
  CHECK(vd_map_devices_touched(m, off, len) == touched);
  return check_plain(md, m, off, len) && check_devs(md, m, off, len, touched);
}

/* Extent table of every device: counts and sizes sum to the device share. */
static bool check_extents(const struct model *md, const struct vd_map *m)
{
  snprintf(g_ctx, sizeof(g_ctx), "%s ndev=%u unit=%llu ext=%llu size=%llu",
           md->concat ? "concat" : "stripe", md->ndev,
           (unsigned long long)md->unit, (unsigned long long)md->ext,
           (unsigned long long)md->size);
  for (uint32_t d = 0; d < m->ndev; d++) {
    uint64_t n = (md->bytes[d] + md->ext - 1) / md->ext, sum = 0;

    CHECK(vd_map_extent_count(m, d) == n);
    for (uint32_t i = 0; i < n; i++) {
      uint64_t b = vd_map_extent_bytes(m, d, i);

      CHECK(b > 0 && (i + 1 == n ? b <= md->ext : b == md->ext));
      sum += b;
    }
    CHECK(sum == md->bytes[d]);
    CHECK(vd_map_extent_bytes(m, d, (uint32_t)n) == 0);
  }
  CHECK(vd_map_extent_count(m, m->ndev) == 0);
  return true;
}

/* ---- random layouts and requests ---- */

/* Device count: mostly small, sometimes up to the maximum. */
static uint32_t random_ndev(void)
{
  return one_in(8) ? (uint32_t)rnd_range(9, VD_MAX_DEVICES)
                   : (uint32_t)rnd_range(1, 8);
}

/* Extent size: a unit multiple, an odd sector count, or a tiny one. */
static uint64_t random_extent(uint64_t unit)
{
  switch (rnd() % 3) {
  case 0:
    return unit * rnd_range(1, 4);
  case 1:
    return VD_SECTOR * rnd_range(1, 3 * unit / VD_SECTOR + 2);
  default:
    return VD_SECTOR * rnd_range(1, 3);
  }
}

/* A random valid stripe map plus its model. */
static bool random_stripe(struct model *md, struct vd_map *m)
{
  uint32_t ndev = random_ndev();
  unsigned shift = ndev > 8 ? (unsigned)rnd_range(0, 1)
                   : one_in(4) ? (unsigned)rnd_range(0, 8)
                               : (unsigned)rnd_range(0, 2);
  uint64_t unit = VD_MIN_STRIPE_UNIT << shift, row = unit * ndev;
  uint64_t max_rows = MAX_RANDOM_VOLUME / row ? MAX_RANDOM_VOLUME / row : 1;
  uint64_t rows = rnd_range(1, max_rows < 24 ? max_rows : 24);
  uint64_t size = one_in(3) ? rows * row : rnd_range(1, rows * row);
  uint64_t ext = random_extent(unit);

  CHECK(model_stripe(md, ndev, unit, ext, size));
  CHECK(vd_map_init_stripe(m, ndev, unit, ext, size) == 0);
  CHECK(fields_match(md, m));
  return true;
}

/* A random cap: zero, an odd byte count, or unlimited. */
static uint64_t random_cap(void)
{
  if (one_in(4))
    return 0;
  if (one_in(20))
    return UINT64_MAX;
  return one_in(2) ? rnd_range(1, 4 * MIB) : rnd_range(1, 8) * VD_SECTOR;
}

/* A random concat map plus model; also exercises -ENOSPC on the way. */
static bool random_concat(struct model *md, struct vd_map *m)
{
  uint64_t cap[VD_MAX_DEVICES];
  uint32_t ndev = random_ndev();
  uint64_t total = 0, size, ext;
  struct vd_map before;

  for (uint32_t i = 0; i < ndev; i++) {
    cap[i] = random_cap();
    total += cap[i] - cap[i] % VD_SECTOR < MAX_RANDOM_VOLUME
                 ? cap[i] - cap[i] % VD_SECTOR
                 : MAX_RANDOM_VOLUME;
  }
  if (total == 0)
    cap[rnd() % ndev] = total = rnd_range(1, 64) * VD_SECTOR;
  if (total > MAX_RANDOM_VOLUME)
    total = MAX_RANDOM_VOLUME;
  ext = one_in(2) ? VD_SECTOR * rnd_range(1, 4) : VD_SECTOR * rnd_range(1, 300);
  if (total < MAX_RANDOM_VOLUME && one_in(8)) {
    /* Just past what the caps hold. */
    size = total + rnd_range(1, 3 * VD_SECTOR);
    memset(&before, 0xa5, sizeof(before));
    *m = before;
    CHECK(model_concat(md, ndev, cap, ext, size) == -ENOSPC);
    CHECK(vd_map_init_concat(m, ndev, cap, ext, size) == -ENOSPC);
    CHECK(memcmp(m, &before, sizeof(before)) == 0);
  }
  size = one_in(3) ? total : rnd_range(1, total);
  CHECK(model_concat(md, ndev, cap, ext, size) == 0);
  CHECK(vd_map_init_concat(m, ndev, cap, ext, size) == 0);
  CHECK(fields_match(md, m));
  return true;
}

/* An offset near a layout boundary (unit, row, extent, device start). */
static uint64_t near_boundary(const struct model *md)
{
  uint64_t g, b;

  if (md->concat && one_in(2)) {
    b = md->start[rnd() % md->ndev];
  } else {
    if (md->concat)
      g = md->ext;
    else
      g = (uint64_t[]){md->unit, md->unit * md->ndev, md->ext}[rnd() % 3];
    b = g * rnd_range(0, md->size / g);
  }
  if (one_in(2))
    b += rnd_range(0, 3);
  else
    b -= b < 3 ? b : rnd_range(0, 3);
  return b < md->size ? b : md->size;
}

/* A random in-range request of varied shape. */
static void random_request(const struct model *md, uint64_t *off,
                           uint64_t *len)
{
  uint64_t small = md->concat ? 3 * md->ext : 3 * md->unit * md->ndev;

  switch (rnd() % 7) {
  case 0:
    *off = rnd_range(0, md->size);
    *len = rnd_range(0, md->size - *off < small ? md->size - *off : small);
    return;
  case 1:
  case 2:
    *off = near_boundary(md);
    *len = rnd_range(0, md->size - *off < small ? md->size - *off : small);
    if (one_in(2) && *len > 0) {
      /* End just around a boundary too. */
      uint64_t e = near_boundary(md);

      if (e > *off)
        *len = e - *off;
    }
    return;
  case 3:
    *off = rnd_range(0, md->size);
    *len = rnd_range(0, md->size - *off);
    return;
  case 4:
    *off = 0;
    *len = md->size;
    return;
  case 5:
    *off = rnd_range(0, md->size);
    *len = md->size - *off;
    return;
  default:
    *off = rnd_range(0, md->size - 1);
    *len = rnd_range(0, 1);
    return;
  }
}

/* Many requests on one layout, plus the last byte and the empty tail. */
static bool exercise(const struct model *md, const struct vd_map *m,
                     int nreq)
{
  uint64_t off, len;

  if (!check_extents(md, m))
    return false;
  if (!check_request(md, m, md->size - 1, 1) ||
      !check_request(md, m, md->size, 0))
    return false;
  for (int i = 0; i < nreq; i++) {
    random_request(md, &off, &len);
    if (!check_request(md, m, off, len))
      return false;
  }
  return true;
}

/* Random stripe layouts against the model. */
static void test_random_stripe(void)
{
  struct model md;
  struct vd_map m;

  rng_state = 0x5717e;
  for (int i = 0; i < 500; i++)
    if (!random_stripe(&md, &m) || !exercise(&md, &m, 20))
      return;
}

/* Random concat layouts (zero, odd and unlimited caps) against the model. */
static void test_random_concat(void)
{
  struct model md;
  struct vd_map m;

  rng_state = 0xc0ca7;
  for (int i = 0; i < 500; i++)
    if (!random_concat(&md, &m) || !exercise(&md, &m, 20))
      return;
}

/* ---- mirrors: a stripe over the columns, each column held by copies legs ---- */

/* A segment of the column map, as leg l of a mirror reports it. */
static struct vd_segment on_leg(struct vd_segment s, uint32_t l)
{
  s.dev = l;
  return s;
}

/* The mirror m iterates [off, off+len) as the stripe over its columns
 * c does, on copy 0 (plain) and on every leg (device iterator). */
static bool mirror_matches(const struct vd_map *m, const struct vd_map *c, uint64_t off,
                           uint64_t len)
{
  struct vd_map_iter it;
  uint64_t legs = 0, touched = vd_map_devices_touched(c, off, len);

  snprintf(g_ctx, sizeof(g_ctx), "mirror ndev=%u copies=%u unit=%llu ext=%llu size=%llu "
           "off=%llu len=%llu", m->ndev, m->copies, (unsigned long long)m->unit,
           (unsigned long long)m->extent_size, (unsigned long long)m->size,
           (unsigned long long)off, (unsigned long long)len);
  vd_map_iter_init(&it, m, off, len);
  collect(&it, &g_plain);
  vd_map_iter_init(&it, c, off, len);
  collect(&it, &g_dev);
  CHECK(g_plain.n == g_dev.n);
  for (size_t i = 0; i < g_plain.n; i++) {
    struct vd_segment want = on_leg(g_dev.a[i], g_dev.a[i].dev * m->copies);
    CHECK(!memcmp(&g_plain.a[i], &want, sizeof want));
  }
  for (uint32_t col = 0; col < c->ndev; col++)
    if (touched & (UINT64_C(1) << col))
      legs |= UINT64_C(1) << (col * m->copies);
  CHECK(vd_map_devices_touched(m, off, len) == legs);
  for (uint32_t l = 0; l < m->ndev; l++) {
    vd_map_iter_init_dev(&it, c, off, len, l / m->copies);
    collect(&it, &g_dev);
    vd_map_iter_init_dev(&it, m, off, len, l);
    collect(&it, &g_plain);
    CHECK(g_plain.n == g_dev.n);
    for (size_t i = 0; i < g_plain.n; i++) {
      struct vd_segment want = on_leg(g_dev.a[i], l);
      CHECK(!memcmp(&g_plain.a[i], &want, sizeof want));
    }
    CHECK(vd_map_extent_count(m, l) == vd_map_extent_count(c, l / m->copies));
    for (uint32_t e = 0; e <= vd_map_extent_count(m, l); e++)
      CHECK(vd_map_extent_bytes(m, l, e) == vd_map_extent_bytes(c, l / m->copies, e));
  }
  return true;
}

/* Random mirrors (2 to 4 copies of 1 to 16 columns) against the stripe
 * over their columns, itself checked against the model; a resize stays a
 * mirror of the same shape. */
static void test_random_mirror(void)
{
  struct model md;
  struct vd_map c, m, r, want;
  uint64_t off, len;

  rng_state = 0x3177;
  for (int i = 0; i < 300; i++) {
    uint32_t copies = (uint32_t)rnd_range(2, 4);
    uint32_t cols = (uint32_t)rnd_range(1, one_in(4) ? VD_MAX_DEVICES / copies : 4);
    uint64_t unit = VD_MIN_STRIPE_UNIT << rnd_range(0, 3), row = unit * cols;
    uint64_t size = rnd_range(1, 12 * row), ext = random_extent(unit);

    CU_ASSERT_FATAL(model_stripe(&md, cols, unit, ext, size));
    CU_ASSERT_FATAL(vd_map_init_stripe(&c, cols, unit, ext, size) == 0);
    CU_ASSERT_FATAL(vd_map_init_mirror(&m, cols * copies, copies, unit, ext, size) == 0);
    CU_ASSERT(m.layout == VD_LAYOUT_MIRROR && m.copies == copies && m.size == c.size);
    CU_ASSERT(vd_map_columns(&m) == cols && vd_map_columns(&c) == cols);
    if (!exercise(&md, &c, 5) || !mirror_matches(&m, &c, m.size - 1, 1) ||
        !mirror_matches(&m, &c, 0, m.size))
      return;
    for (int k = 0; k < 10; k++) {
      random_request(&md, &off, &len);
      if (!mirror_matches(&m, &c, off, len))
        return;
    }
    size = rnd_range(1, 12 * row);
    CU_ASSERT_FATAL(vd_map_resize(&m, NULL, size, &r) == 0);
    CU_ASSERT_FATAL(vd_map_init_mirror(&want, cols * copies, copies, unit, ext, size) == 0);
    CU_ASSERT(!memcmp(&r, &want, sizeof r));
  }
}

/* What a mirror refuses: one copy, copies that do not divide the legs. */
static void test_mirror_init_errors(void)
{
  struct vd_map m;

  CU_ASSERT(vd_map_init_mirror(&m, 2, 1, 64 * KIB, MIB, MIB) == -EINVAL);
  CU_ASSERT(vd_map_init_mirror(&m, 2, 0, 64 * KIB, MIB, MIB) == -EINVAL);
  CU_ASSERT(vd_map_init_mirror(&m, 3, 2, 64 * KIB, MIB, MIB) == -EINVAL);
  CU_ASSERT(vd_map_init_mirror(&m, 4, 3, 64 * KIB, MIB, MIB) == -EINVAL);
  CU_ASSERT(vd_map_init_mirror(&m, 2, 2, 3 * KIB, MIB, MIB) == -EINVAL);
  CU_ASSERT(vd_map_init_mirror(&m, 0, 2, 64 * KIB, MIB, MIB) == -EINVAL);
  CU_ASSERT(vd_map_init_mirror(&m, 4, 2, 64 * KIB, MIB, 3 * MIB) == 0);
  /* Two columns of two copies: 3 MiB rounds up to whole rows of 128 KiB. */
  CU_ASSERT(m.size == 3 * MIB && m.dev_bytes[3] == 3 * MIB / 2 && m.dev_bytes[0] == m.dev_bytes[3]);
}

/* Every sector below keep maps to the same place in a and b. */
static bool same_place(const struct vd_map *a, const struct vd_map *b, uint64_t keep)
{
  for (uint64_t v = 0; v < keep; v += VD_SECTOR) {
    struct vd_map_iter ia, ib;
    struct vd_segment sa, sb;

    vd_map_iter_init(&ia, a, v, VD_SECTOR);
    vd_map_iter_init(&ib, b, v, VD_SECTOR);
    CHECK(vd_map_next(&ia, &sa) && vd_map_next(&ib, &sb));
    CHECK(sa.dev == sb.dev && sa.extent == sb.extent && sa.ext_offset == sb.ext_offset);
  }
  return true;
}

/* The model of a resized map: its fields, checked by exercise(). */
static bool resized_model(struct model *md, const struct vd_map *old, const struct vd_map *m,
                          const uint64_t *room, uint32_t last)
{
  uint64_t sum = 0;

  if (m->layout == VD_LAYOUT_STRIPE)
    return model_stripe(md, m->ndev, m->unit, m->extent_size, m->size);
  memset(md, 0, sizeof(*md));
  md->concat = true;
  md->ndev = m->ndev;
  md->ext = m->extent_size;
  md->size = m->size;
  for (uint32_t i = 0; i < m->ndev; i++) {
    md->start[i] = m->dev_start[i];
    md->bytes[i] = m->dev_bytes[i];
    CHECK(m->dev_start[i] == sum);
    sum += m->dev_bytes[i];
    if (m->size > old->size) {
      /* Growth only from the last device that held bytes, within room. */
      CHECK(i >= last || m->dev_bytes[i] == old->dev_bytes[i]);
      CHECK(m->dev_bytes[i] - old->dev_bytes[i] <= room[i]);
    }
  }
  CHECK(sum == m->size);
  return true;
}

/* Random resizes, growing and shrinking, of random layouts: bytes below
 * the smaller size stay put and the new map agrees with its model. */
static void test_random_resize(void)
{
  struct model md, md2;
  struct vd_map m, r, before;

  rng_state = 0x4e512e;
  for (int i = 0; i < 400; i++) {
    bool stripe = one_in(2);
    uint64_t room[VD_MAX_DEVICES], size, keep;
    uint32_t last = 0;
    int rc;

    if (!(stripe ? random_stripe(&md, &m) : random_concat(&md, &m)))
      return;
    for (uint32_t d = 0; d < m.ndev; d++) {
      room[d] = one_in(3) ? 0 : rnd_range(0, 2 * MIB);
      if (m.dev_bytes[d])
        last = d;
    }
    size = one_in(2) ? rnd_range(1, m.size) : m.size + rnd_range(1, 4 * MIB);
    memset(&before, 0x5a, sizeof(before));
    r = before;
    rc = vd_map_resize(&m, room, size, &r);
    if (rc == -ENOSPC) {
      uint64_t fit = 0;
      for (uint32_t d = last; d < m.ndev; d++)
        fit += room[d] / VD_SECTOR * VD_SECTOR;
      CU_ASSERT(!stripe && size > m.size + fit);
      CU_ASSERT(memcmp(&r, &before, sizeof(r)) == 0);
      continue;
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT(r.size >= size);
    keep = r.size < m.size ? r.size : m.size;
    if (!same_place(&m, &r, keep) || !resized_model(&md2, &m, &r, room, last) ||
        !exercise(&md2, &r, 10))
      return;
  }
}

/* A concat grow fills the last device's room, then the next device's. */
static void test_concat_resize(void)
{
  uint64_t cap[3] = { 8 * VD_SECTOR, 8 * VD_SECTOR, 0 }, room[3] = { 100 * MIB, 4 * VD_SECTOR,
                                                                       MIB };
  struct vd_map m, r;

  CU_ASSERT_EQUAL_FATAL(vd_map_init_concat(&m, 3, cap, 4 * VD_SECTOR, 12 * VD_SECTOR), 0);
  CU_ASSERT_EQUAL(vd_map_resize(&m, room, 20 * VD_SECTOR, &r), 0);
  CU_ASSERT_EQUAL(r.dev_bytes[0], 8 * VD_SECTOR); /* room before the last is unusable */
  CU_ASSERT_EQUAL(r.dev_bytes[1], 8 * VD_SECTOR);
  CU_ASSERT_EQUAL(r.dev_bytes[2], 4 * VD_SECTOR);
  CU_ASSERT_EQUAL(r.dev_start[2], 16 * VD_SECTOR);
  CU_ASSERT_EQUAL(vd_map_resize(&m, room, 12 * VD_SECTOR + 5 * MIB, &r), -ENOSPC);
  CU_ASSERT_EQUAL(vd_map_resize(&m, room, 5 * VD_SECTOR, &r), 0);
  CU_ASSERT_EQUAL(r.dev_bytes[0], 5 * VD_SECTOR);
  CU_ASSERT_EQUAL(r.dev_bytes[1], 0);
  CU_ASSERT_EQUAL(r.dev_start[1], 5 * VD_SECTOR);
  CU_ASSERT_EQUAL(vd_map_resize(&m, room, 0, &r), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_resize(&m, NULL, VD_SECTOR, &r), -EINVAL);
}

/* ---- explicit cases ---- */

/* Expected segment, compared field by field. */
static void expect_seg(const struct vd_segment *s, uint32_t dev, uint32_t ext,
                       uint64_t eo, uint64_t buf, uint64_t len, uint64_t rows,
                       uint64_t pitch)
{
  CU_ASSERT_EQUAL(s->dev, dev);
  CU_ASSERT_EQUAL(s->extent, ext);
  CU_ASSERT_EQUAL(s->ext_offset, eo);
  CU_ASSERT_EQUAL(s->buf_offset, buf);
  CU_ASSERT_EQUAL(s->len, len);
  CU_ASSERT_EQUAL(s->rows, rows);
  CU_ASSERT_EQUAL(s->buf_pitch, pitch);
}

/* Drain the plain iterator into g_plain. */
static size_t plain_segs(const struct vd_map *m, uint64_t off, uint64_t len)
{
  struct vd_map_iter it;

  vd_map_iter_init(&it, m, off, len);
  collect(&it, &g_plain);
  return g_plain.n;
}

/* Drain one device's iterator into g_dev. */
static size_t dev_segs(const struct vd_map *m, uint64_t off, uint64_t len,
                       uint32_t dev)
{
  struct vd_map_iter it;

  vd_map_iter_init_dev(&it, m, off, len, dev);
  collect(&it, &g_dev);
  return g_dev.n;
}

/* Every way a stripe init can be refused. */
static void test_stripe_init_errors(void)
{
  struct vd_map m, before;
  const uint64_t E = 64 * KIB;

  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 0, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 2048, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 4095, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 12288, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 4096 + 4096 * 2, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 2 * MIB, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, MIB + 4096, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, UINT64_MAX, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, UINT64_C(1) << 63, E, MIB),
                  -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 0, 4096, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 65, 4096, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, UINT32_MAX, 4096, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 4096, 0, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 4096, 4095, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 4096, 6000, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 4096, 4096 + 512, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 4096, E, 0), -EINVAL);
  /* Rounding up to a whole row would pass 2^64. */
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 1, 4096, TIB, UINT64_MAX), -EOVERFLOW);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 4096, TIB, UINT64_MAX - 8191 + 1),
                  -EOVERFLOW);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 64, MIB, TIB, UINT64_MAX - 100),
                  -EOVERFLOW);
  /* More extents per device than a 32-bit index can name. */
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 1, 4096, 4096, UINT64_C(1) << 45),
                  -EOVERFLOW);
  /* Boundaries that are allowed. */
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 64, MIB, 4096, 1), 0);
  CU_ASSERT_EQUAL(m.size, 64 * MIB);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 1, 4096, 4096, 1), 0);
  CU_ASSERT_EQUAL(m.size, 4096);
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 2, 4096, TIB, UINT64_MAX - 8191), 0);
  CU_ASSERT_EQUAL(m.size, UINT64_MAX - 8191);
  /* A refused init leaves the map alone. */
  memset(&before, 0x5a, sizeof(before));
  m = before;
  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 1, 4096, TIB, UINT64_MAX), -EOVERFLOW);
  CU_ASSERT_EQUAL(memcmp(&m, &before, sizeof(m)), 0);
}

/* Every way a concat init can be refused. */
static void test_concat_init_errors(void)
{
  struct vd_map m;
  uint64_t cap[VD_MAX_DEVICES + 1];
  const uint64_t E = 64 * KIB;

  for (int i = 0; i <= VD_MAX_DEVICES; i++)
    cap[i] = MIB;
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 0, cap, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 65, cap, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, NULL, E, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, 0, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, 4097, MIB), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, E, 0), -EINVAL);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, E, UINT64_MAX), -EOVERFLOW);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, E, UINT64_MAX - 4094),
                  -EOVERFLOW);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, E, 2 * MIB + 1), -ENOSPC);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, E, 2 * MIB), 0);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 64, cap, E, 64 * MIB), 0);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 64, cap, E, 64 * MIB + 1), -ENOSPC);
  /* Caps count only whole sectors. */
  cap[0] = 4095;
  cap[1] = 8191;
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, E, 4097), -ENOSPC);
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, E, 4096), 0);
  CU_ASSERT_EQUAL(m.dev_bytes[0], 0);
  CU_ASSERT_EQUAL(m.dev_bytes[1], 4096);
  cap[0] = cap[1] = 0;
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, E, 1), -ENOSPC);
  /* Caps whose sum passes 2^64 are fine. */
  cap[0] = cap[1] = UINT64_MAX;
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, TIB, UINT64_MAX - 4095), 0);
  CU_ASSERT_EQUAL(m.dev_bytes[0], UINT64_MAX - 4095);
  CU_ASSERT_EQUAL(m.dev_bytes[1], 0);
  /* Too many extents for a 32-bit index. */
  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 2, cap, 4096, UINT64_C(1) << 50),
                  -EOVERFLOW);
}

/* Fields after init: rounding, per-device shares and starts. */
static void test_init_fields(void)
{
  struct vd_map m;
  uint64_t cap[5] = {8192, 0, 12288 + 100, 4096, 0};

  CU_ASSERT_EQUAL(vd_map_init_stripe(&m, 3, 8192, 12288, 50000), 0);
  CU_ASSERT_EQUAL(m.layout, VD_LAYOUT_STRIPE);
  CU_ASSERT_EQUAL(m.size, 73728); /* three rows of 24 KiB */
  for (int i = 0; i < 3; i++)
    CU_ASSERT_EQUAL(m.dev_bytes[i], 24576);
  CU_ASSERT_EQUAL(vd_map_extent_count(&m, 0), 2);
  CU_ASSERT_EQUAL(vd_map_extent_bytes(&m, 0, 0), 12288);
  CU_ASSERT_EQUAL(vd_map_extent_bytes(&m, 0, 1), 12288);
  CU_ASSERT_EQUAL(vd_map_extent_bytes(&m, 0, 2), 0);

  CU_ASSERT_EQUAL(vd_map_init_concat(&m, 5, cap, 8192, 20000), 0);
  CU_ASSERT_EQUAL(m.layout, VD_LAYOUT_CONCAT);
  CU_ASSERT_EQUAL(m.size, 20480);
  CU_ASSERT_EQUAL(m.dev_bytes[0], 8192);
  CU_ASSERT_EQUAL(m.dev_bytes[1], 0);
  CU_ASSERT_EQUAL(m.dev_bytes[2], 12288);
  CU_ASSERT_EQUAL(m.dev_bytes[3], 0);
  CU_ASSERT_EQUAL(m.dev_bytes[4], 0);
  CU_ASSERT_EQUAL(m.dev_start[0], 0);
  CU_ASSERT_EQUAL(m.dev_start[1], 8192);
  CU_ASSERT_EQUAL(m.dev_start[2], 8192);
  CU_ASSERT_EQUAL(m.dev_start[3], 20480);
  CU_ASSERT_EQUAL(vd_map_extent_count(&m, 1), 0);
  CU_ASSERT_EQUAL(vd_map_extent_count(&m, 2), 2);
  CU_ASSERT_EQUAL(vd_map_extent_bytes(&m, 2, 1), 4096);
  CU_ASSERT_EQUAL(vd_map_extent_bytes(&m, 1, 0), 0);
  CU_ASSERT_EQUAL(vd_map_extent_count(&m, 5), 0);
  CU_ASSERT_EQUAL(vd_map_extent_bytes(&m, 5, 0), 0);
}

/* in_range at the edges and where off + len would wrap. */
static void test_in_range(void)
{
  struct vd_map m;
  uint64_t s;

  CU_ASSERT_EQUAL_FATAL(vd_map_init_stripe(&m, 2, 4096, 8192, 65536), 0);
  s = m.size;
  CU_ASSERT_TRUE(vd_map_in_range(&m, 0, 0));
  CU_ASSERT_TRUE(vd_map_in_range(&m, 0, s));
  CU_ASSERT_TRUE(vd_map_in_range(&m, s, 0));
  CU_ASSERT_TRUE(vd_map_in_range(&m, s - 1, 1));
  CU_ASSERT_FALSE(vd_map_in_range(&m, s - 1, 2));
  CU_ASSERT_FALSE(vd_map_in_range(&m, s, 1));
  CU_ASSERT_FALSE(vd_map_in_range(&m, s + 1, 0));
  CU_ASSERT_FALSE(vd_map_in_range(&m, 0, s + 1));
  CU_ASSERT_FALSE(vd_map_in_range(&m, 1, UINT64_MAX));
  CU_ASSERT_FALSE(vd_map_in_range(&m, UINT64_MAX, 1));
  CU_ASSERT_FALSE(vd_map_in_range(&m, UINT64_MAX, 0));
  CU_ASSERT_FALSE(vd_map_in_range(&m, UINT64_MAX, UINT64_MAX));
  CU_ASSERT_FALSE(vd_map_in_range(&m, 2, UINT64_MAX - 1));
  /* Same on a volume reaching almost to 2^64. */
  CU_ASSERT_EQUAL_FATAL(vd_map_init_stripe(&m, 1, 4096, TIB, UINT64_MAX - 4095),
                        0);
  s = m.size;
  CU_ASSERT_TRUE(vd_map_in_range(&m, s, 0));
  CU_ASSERT_TRUE(vd_map_in_range(&m, 0, s));
  CU_ASSERT_TRUE(vd_map_in_range(&m, 4095, s - 4095));
  CU_ASSERT_FALSE(vd_map_in_range(&m, 4096, s));
  CU_ASSERT_FALSE(vd_map_in_range(&m, s, UINT64_MAX));
  CU_ASSERT_FALSE(vd_map_in_range(&m, UINT64_MAX, 1));
}

/* Empty requests and requests that are out of range yield nothing. */
static void test_zero_length(void)
{
  struct vd_map m;
  uint64_t cap[3] = {8192, 0, 8192};

  CU_ASSERT_EQUAL_FATAL(vd_map_init_stripe(&m, 3, 4096, 8192, 65536), 0);
  for (uint64_t off = 0; off <= m.size; off += 1365) {
    CU_ASSERT_EQUAL(plain_segs(&m, off, 0), 0);
    for (uint32_t d = 0; d < 3; d++)
      CU_ASSERT_EQUAL(dev_segs(&m, off, 0, d), 0);
    CU_ASSERT_EQUAL(vd_map_devices_touched(&m, off, 0), 0);
  }
  CU_ASSERT_EQUAL(plain_segs(&m, m.size, 0), 0);
  CU_ASSERT_EQUAL(dev_segs(&m, m.size, 0, 2), 0);
  CU_ASSERT_EQUAL(dev_segs(&m, 0, 4096, 3), 0); /* no such device */
  CU_ASSERT_EQUAL(plain_segs(&m, m.size - 1, 2), 0);
  CU_ASSERT_EQUAL(plain_segs(&m, 1, UINT64_MAX), 0);
  CU_ASSERT_EQUAL(dev_segs(&m, 1, UINT64_MAX, 0), 0);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, m.size, 5), 0);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, m.size - 1, 2), 0);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 1, UINT64_MAX), 0);

  CU_ASSERT_EQUAL_FATAL(vd_map_init_concat(&m, 3, cap, 8192, 16384), 0);
  CU_ASSERT_EQUAL(plain_segs(&m, 8192, 0), 0);
  for (uint32_t d = 0; d < 3; d++)
    CU_ASSERT_EQUAL(dev_segs(&m, 8192, 0, d), 0);
  CU_ASSERT_EQUAL(dev_segs(&m, 0, m.size, 1), 0); /* zero-cap device */
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 8192, 0), 0);
}

/* Unit, row and extent crossings; the extent is not a multiple of the unit. */
static void test_stripe_boundaries(void)
{
  struct vd_map m;

  /* ndev 2, unit 8 KiB, extent 12 KiB: units 0,2,4.. on dev 0. */
  CU_ASSERT_EQUAL_FATAL(vd_map_init_stripe(&m, 2, 8192, 12288, 65536), 0);
  CU_ASSERT_EQUAL_FATAL(plain_segs(&m, 4096, 16384), 3);
  expect_seg(&g_plain.a[0], 0, 0, 4096, 0, 4096, 1, 4096);
  expect_seg(&g_plain.a[1], 1, 0, 0, 4096, 8192, 1, 8192);
  expect_seg(&g_plain.a[2], 0, 0, 8192, 12288, 4096, 1, 4096);
  /* Unit 2 (row 1 of dev 0) is split by the extent edge at 12 KiB. */
  CU_ASSERT_EQUAL_FATAL(plain_segs(&m, 16384 + 1000, 8192), 3);
  expect_seg(&g_plain.a[0], 0, 0, 9192, 0, 3096, 1, 3096);
  expect_seg(&g_plain.a[1], 0, 1, 0, 3096, 4096, 1, 4096);
  expect_seg(&g_plain.a[2], 1, 0, 8192, 7192, 1000, 1, 1000);
  /* The same through the device iterator: no rectangle across extents. */
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, 0, m.size, 0), 5);
  expect_seg(&g_dev.a[0], 0, 0, 0, 0, 8192, 1, 8192);
  expect_seg(&g_dev.a[1], 0, 0, 8192, 16384, 4096, 1, 4096);
  expect_seg(&g_dev.a[2], 0, 1, 0, 20480, 4096, 1, 4096);
  expect_seg(&g_dev.a[3], 0, 1, 4096, 32768, 8192, 1, 8192);
  expect_seg(&g_dev.a[4], 0, 2, 0, 49152, 8192, 1, 8192);
  /* Last byte of the volume: dev 1, its last extent, last byte. */
  CU_ASSERT_EQUAL_FATAL(plain_segs(&m, m.size - 1, 1), 1);
  expect_seg(&g_plain.a[0], 1, 2, 8191, 0, 1, 1, 1);
  CU_ASSERT_EQUAL(vd_map_extent_bytes(&m, 1, 2), 8192);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, m.size - 1, 1), 2);
  CU_ASSERT_EQUAL(dev_segs(&m, m.size - 1, 1, 0), 0);
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, m.size - 1, 1, 1), 1);
  expect_seg(&g_dev.a[0], 1, 2, 8191, 0, 1, 1, 1);
}

/* Rectangles of whole units, partial units at both ends, extent splits. */
static void test_stripe_rects(void)
{
  struct vd_map m;
  const uint64_t U = 4096, P = 4 * U;
  const uint64_t off = 2048, len = 20 * P;

  /* Four devices, 16 units per extent, 40 rows. */
  CU_ASSERT_EQUAL_FATAL(vd_map_init_stripe(&m, 4, U, 16 * U, 40 * P), 0);
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, off, len, 0), 4);
  expect_seg(&g_dev.a[0], 0, 0, 2048, 0, 2048, 1, 2048);
  expect_seg(&g_dev.a[1], 0, 0, U, P - off, U, 15, P);
  expect_seg(&g_dev.a[2], 0, 1, 0, 16 * P - off, U, 4, P);
  expect_seg(&g_dev.a[3], 0, 1, 4 * U, 20 * P - off, 2048, 1, 2048);
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, off, len, 1), 2);
  expect_seg(&g_dev.a[0], 1, 0, 0, U - off, U, 16, P);
  expect_seg(&g_dev.a[1], 1, 1, 0, 16 * P + U - off, U, 4, P);
  /* A single whole unit is a plain one-row segment. */
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, 3 * U, U, 3), 1);
  expect_seg(&g_dev.a[0], 3, 0, 0, 0, U, 1, U);
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, 3 * U, U, 2), 0);
  /* Whole volume: one rectangle per extent per device. */
  for (uint32_t d = 0; d < 4; d++) {
    CU_ASSERT_EQUAL_FATAL(dev_segs(&m, 0, m.size, d), 3);
    expect_seg(&g_dev.a[0], d, 0, 0, d * U, U, 16, P);
    expect_seg(&g_dev.a[1], d, 1, 0, 16 * P + d * U, U, 16, P);
    expect_seg(&g_dev.a[2], d, 2, 0, 32 * P + d * U, U, 8, P);
  }
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 0, m.size), 0xf);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 3 * U - 1, 2), 0xc);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 3 * U, 2 * U), 0x9);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 3 * U + 5, 2 * U), 0xb);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 3 * U + 5, 3 * U), 0xf);
}

/* With one device consecutive units merge up to extent edges. */
static void test_single_device(void)
{
  struct vd_map m;
  const uint64_t E = 5 * 4096;

  CU_ASSERT_EQUAL_FATAL(vd_map_init_stripe(&m, 1, 4096, E, 12 * 4096), 0);
  CU_ASSERT_EQUAL_FATAL(plain_segs(&m, 0, m.size), 3);
  expect_seg(&g_plain.a[0], 0, 0, 0, 0, E, 1, E);
  expect_seg(&g_plain.a[1], 0, 1, 0, E, E, 1, E);
  expect_seg(&g_plain.a[2], 0, 2, 0, 2 * E, 2 * 4096, 1, 2 * 4096);
  CU_ASSERT_EQUAL(vd_map_extent_bytes(&m, 0, 2), 2 * 4096);
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, 100, m.size - 200, 0), 3);
  expect_seg(&g_dev.a[0], 0, 0, 100, 0, E - 100, 1, E - 100);
  expect_seg(&g_dev.a[2], 0, 2, 0, 2 * E - 100, 2 * 4096 - 100, 1,
             2 * 4096 - 100);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 7, 1), 1);
}

/* Concat: device edges, zero-cap devices, a short last extent. */
static void test_concat_boundaries(void)
{
  struct vd_map m;
  uint64_t cap[5] = {8192, 0, 12288 + 100, 4096, 0};

  CU_ASSERT_EQUAL_FATAL(vd_map_init_concat(&m, 5, cap, 8192, 20000), 0);
  CU_ASSERT_EQUAL_FATAL(plain_segs(&m, 0, m.size), 3);
  expect_seg(&g_plain.a[0], 0, 0, 0, 0, 8192, 1, 8192);
  expect_seg(&g_plain.a[1], 2, 0, 0, 8192, 8192, 1, 8192);
  expect_seg(&g_plain.a[2], 2, 1, 0, 16384, 4096, 1, 4096);
  CU_ASSERT_EQUAL_FATAL(plain_segs(&m, 8191, 2), 2);
  expect_seg(&g_plain.a[0], 0, 0, 8191, 0, 1, 1, 1);
  expect_seg(&g_plain.a[1], 2, 0, 0, 1, 1, 1, 1);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 0, m.size), 0x5);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 8192, 1), 0x4);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 8191, 1), 0x1);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 8191, 2), 0x5);
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, 4096, 10000, 2), 1);
  expect_seg(&g_dev.a[0], 2, 0, 0, 4096, 10000 - 4096, 1, 10000 - 4096);
  CU_ASSERT_EQUAL(dev_segs(&m, 0, m.size, 1), 0);
  CU_ASSERT_EQUAL(dev_segs(&m, 0, m.size, 3), 0);
  CU_ASSERT_EQUAL(dev_segs(&m, 0, m.size, 4), 0);
  CU_ASSERT_EQUAL_FATAL(plain_segs(&m, m.size - 1, 1), 1);
  expect_seg(&g_plain.a[0], 2, 1, 4095, 0, 1, 1, 1);
}

/* Huge ranges: one rectangle of 2^20 units per device, found directly. */
static void test_huge_stripe(void)
{
  struct vd_map m;
  const uint64_t size = UINT64_C(1) << 46;

  CU_ASSERT_EQUAL_FATAL(vd_map_init_stripe(&m, 64, MIB, TIB, size), 0);
  for (uint32_t d = 0; d < 64; d++) {
    CU_ASSERT_EQUAL_FATAL(dev_segs(&m, 0, size, d), 1);
    expect_seg(&g_dev.a[0], d, 0, 0, d * MIB, MIB, UINT64_C(1) << 20, 64 * MIB);
  }
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, 1, size - 2, 0), 2);
  expect_seg(&g_dev.a[0], 0, 0, 1, 0, MIB - 1, 1, MIB - 1);
  expect_seg(&g_dev.a[1], 0, 0, MIB, 64 * MIB - 1, MIB, (UINT64_C(1) << 20) - 1,
             64 * MIB);
  CU_ASSERT_EQUAL_FATAL(dev_segs(&m, 1, size - 2, 63), 2);
  expect_seg(&g_dev.a[0], 63, 0, 0, 63 * MIB - 1, MIB, (UINT64_C(1) << 20) - 1,
             64 * MIB);
  expect_seg(&g_dev.a[1], 63, 0, TIB - MIB, size - MIB - 1, MIB - 1, 1,
             MIB - 1);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 0, size), UINT64_MAX);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 1, size - 1), UINT64_MAX);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 63 * MIB, 2 * MIB),
                  UINT64_C(0x8000000000000001));
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 63 * MIB + 1, 64 * MIB - 1),
                  UINT64_MAX);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 63 * MIB + 1, 63 * MIB - 1),
                  UINT64_MAX & ~(UINT64_C(1) << 62));
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 62 * MIB + 1, 63 * MIB - 1),
                  UINT64_MAX & ~(UINT64_C(1) << 61));
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, 62 * MIB + 1, 63 * MIB),
                  UINT64_MAX);
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, size - 1, 1),
                  UINT64_C(1) << 63);
}

/* Volumes ending just below 2^64: checked against the model at the tail. */
static void test_near_max(void)
{
  struct model md;
  struct vd_map m;
  uint64_t cap[3] = {UINT64_C(1) << 63, 0, UINT64_MAX};
  const uint64_t size = UINT64_MAX - 8 * MIB + 1; /* whole 8 MiB rows */

  rng_state = 0x7a11;
  CU_ASSERT_FATAL(model_stripe(&md, 8, MIB, TIB, size));
  CU_ASSERT_EQUAL_FATAL(vd_map_init_stripe(&m, 8, MIB, TIB, size), 0);
  CU_ASSERT_EQUAL(m.size, size);
  CU_ASSERT_FATAL(fields_match(&md, &m));
  CU_ASSERT_EQUAL(vd_map_extent_count(&m, 7), 1u << 21);
  CU_ASSERT_EQUAL(vd_map_extent_bytes(&m, 7, (1u << 21) - 1), TIB - MIB);
  CU_ASSERT(check_request(&md, &m, size - 1, 1));
  CU_ASSERT(check_request(&md, &m, size, 0));
  CU_ASSERT(check_request(&md, &m, size - 3 * MIB - 5, 3 * MIB + 5));
  CU_ASSERT(check_request(&md, &m, size - 20 * MIB - 7, 13 * MIB));
  CU_ASSERT(check_request(&md, &m, size - TIB - 3, 40 * MIB));
  for (int i = 0; i < 50; i++) {
    uint64_t len = rnd_range(0, 24 * MIB);
    uint64_t off = size - len - rnd_range(0, 30 * MIB);

    CU_ASSERT(check_request(&md, &m, off, len));
  }

  CU_ASSERT_EQUAL_FATAL(model_concat(&md, 3, cap, TIB, UINT64_MAX - 4095), 0);
  CU_ASSERT_EQUAL_FATAL(vd_map_init_concat(&m, 3, cap, TIB, UINT64_MAX - 4095),
                        0);
  CU_ASSERT_FATAL(fields_match(&md, &m));
  CU_ASSERT_EQUAL(m.dev_start[2], UINT64_C(1) << 63);
  CU_ASSERT(check_request(&md, &m, (UINT64_C(1) << 63) - 10, 20));
  CU_ASSERT_EQUAL(vd_map_devices_touched(&m, (UINT64_C(1) << 63) - 10, 20), 5);
  CU_ASSERT(check_request(&md, &m, m.size - 1, 1));
  CU_ASSERT(check_request(&md, &m, m.size - 3 * MIB, 3 * MIB));
  CU_ASSERT(check_request(&md, &m, (UINT64_C(1) << 63) - MIB, 2 * MIB + 1));
}

/* Register the suite and run it; nonzero exit on any failure. */
static const struct vd_test tests[] = {
  { "stripe init errors", test_stripe_init_errors },
  { "concat init errors", test_concat_init_errors },
  { "init fields", test_init_fields },
  { "in_range", test_in_range },
  { "zero length", test_zero_length },
  { "stripe boundaries", test_stripe_boundaries },
  { "stripe rectangles", test_stripe_rects },
  { "single device", test_single_device },
  { "concat boundaries", test_concat_boundaries },
  { "huge stripe", test_huge_stripe },
  { "near 2^64", test_near_max },
  { "random stripe vs model", test_random_stripe },
  { "random concat vs model", test_random_concat },
  { "random resize vs model", test_random_resize },
  { "concat resize", test_concat_resize },
  { "mirror init errors", test_mirror_init_errors },
  { "random mirror vs stripe", test_random_mirror },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "volmap", .tests = { tests } },
  { .name = NULL },
};

/* Free the models' buffers. */
static void teardown(void)
{
  free(g_plain.a);
  free(g_dev.a);
  free(g_pieces.a);
}

VD_TEST_PROGRAM(suites, NULL, teardown);
