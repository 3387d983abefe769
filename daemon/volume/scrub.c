/* scrub.c: a volume's checksums checked whole on the GPU (scrub), and
 * the fault route's bit flips.  A scrub runs the check kernel over each
 * extent in pieces, beside the I/O; a block it finds bad is read back
 * through the engine, whose verified read is ordered with the writes,
 * so a block caught between a write and its new checksum is not
 * reported.  A mirror's stale copies are skipped (a lost device's, one
 * that missed a write, one being rebuilt): the copies in sync are what
 * reads and heals use, and a degraded mirror is when they matter most. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "volume.h"

/* Flip bits of the byte at volume offset off, where it lives now. */
int vd_volume_flip(struct vd_engine *eng, struct vd_volume *v, uint64_t off, uint8_t mask,
                   char *err, size_t errlen)
{
  return vd_volume_flip_copy(eng, v, off, 0, mask, err, errlen);
}

/* The same in copy `copy` of a mirror (0 for other layouts). */
int vd_volume_flip_copy(struct vd_engine *eng, struct vd_volume *v, uint64_t off,
                        uint32_t copy, uint8_t mask, char *err, size_t errlen)
{
  struct vd_target *t = &v->target;
  struct vd_map_iter it;
  struct vd_segment s;
  struct vd_extent *e = NULL;
  int rc;

  if (copy >= t->map.copies) {
    snprintf(err, errlen, "volume %s has %u cop%s: no copy %u", v->spec.name, t->map.copies,
             t->map.copies == 1 ? "y" : "ies", copy);
    return -EINVAL;
  }
  pthread_mutex_lock(&t->move_lock);
  if (vd_map_in_range(&t->map, off, 1)) {
    vd_map_iter_init(&it, &t->map, off, 1);
    if (vd_map_next(&it, &s))
      e = atomic_load(&t->ext[s.dev + copy][s.extent]);
  }
  rc = e ? vd_engine_flip(eng, e, s.ext_offset, mask) : -EINVAL;
  pthread_mutex_unlock(&t->move_lock);
  if (rc == -EINVAL)
    snprintf(err, errlen, "volume %s: offset %llu is past its end or holds no VRAM",
             v->spec.name, (unsigned long long)off);
  else if (rc)
    snprintf(err, errlen, "volume %s: the flip at offset %llu failed on the device",
             v->spec.name, (unsigned long long)off);
  return rc;
}

/* How much one kernel run checks.  A run holds the GPU from the I/O's
 * kernels (on an H200 the two share its time, and the driver has no
 * queue priorities), so the piece sets the trade: on an H200 under 4 KiB I/O
 * at QD32, 256 MiB scrubs at 560 GB/s with a quarter of the I/O going
 * on, 64 MiB at 290 GB/s with half (bench/RESULTS.md).  A paced scrub
 * takes a 64th of its rate per piece, at least 4 MiB, so each stall of
 * the I/O stays in the tens of microseconds. */
#define PIECE_MAX (256ull << 20)
#define PIECE_MIN (4ull << 20)

/* The bytes of one piece for c. */
static uint64_t piece_bytes(const struct vd_scrub_ctl *c)
{
  uint64_t b = c->piece ? c->piece : c->rate ? c->rate / 64 : PIECE_MAX;

  if (!c->piece && b > PIECE_MAX)
    b = PIECE_MAX; /* a caller's own piece may be larger */
  return b < PIECE_MIN ? PIECE_MIN : b;
}
#define SCRUB_CAP 1024u        /* bad blocks one run names */

/* The volume offset of byte ext_off of logical part d's extent i; false
 * for a layout this does not know. */
static bool volume_offset(const struct vd_map *m, uint32_t d, uint32_t i, uint64_t ext_off,
                          uint64_t *off)
{
  uint64_t x = (uint64_t)i * m->extent_size + ext_off; /* on the device's share */

  if (m->layout == VD_LAYOUT_STRIPE) {
    *off = x / m->unit * m->unit * m->ndev + (uint64_t)d * m->unit + x % m->unit;
    return true;
  }
  if (m->layout == VD_LAYOUT_CONCAT) {
    *off = m->dev_start[d] + x;
    return true;
  }
  if (m->layout == VD_LAYOUT_MIRROR) { /* leg d: a copy of column d / copies */
    *off = x / m->unit * m->unit * vd_map_columns(m) + (uint64_t)(d / m->copies) * m->unit +
           x % m->unit;
    return true;
  }
  return false;
}

#define SCRUB_HEAL_BATCH 32u    /* a mirror's bad blocks healed at a time */

/* Whether a block the kernel found bad is: read it through the engine,
 * whose read is ordered with the writes.  On a mirror the read goes to
 * that leg alone (the others avoided): a mismatch there notes the block
 * for a heal, and the read fails once no other leg is allowed.  With
 * parity the read rebuilds it, and it counts as repaired. */
static bool confirmed(struct vd_scrub_ctl *c, struct vd_volume *v, uint32_t d, uint32_t i,
                      uint64_t block, unsigned char *buf)
{
  const struct vd_map *m = &v->target.map;
  struct vd_io io;
  uint64_t off;

  if (!volume_offset(m, d, i, block * VD_SUM_BLOCK, &off))
    return true;
  if (off + VD_SUM_BLOCK > v->size)
    return false;
  io = (struct vd_io){ .target = &v->target, .op = VD_OP_READ, .off = off,
                       .len = VD_SUM_BLOCK, .buf = buf };
  if (m->copies > 1)
    io.exclude = (((UINT64_C(1) << m->copies) - 1) << (d / m->copies * m->copies)) &
               ~(UINT64_C(1) << d);
  if (vd_engine_wait_io(c->eng, &io) == -EIO)
    return true;
  c->repaired += atomic_load(&io.repaired) != 0;
  return atomic_load(&io.repaired) != 0;
}

/* Hold the pace: sleep until done bytes took at least done / rate s. */
static void pace(const struct vd_scrub_ctl *c, uint64_t t0, uint64_t done)
{
  uint64_t due, now = vd_now_ns();
  struct timespec ts;

  if (!c->rate)
    return;
  due = t0 + (uint64_t)((double)done / (double)c->rate * 1e9);
  if (due <= now)
    return;
  ts.tv_sec = (time_t)((due - now) / 1000000000u);
  ts.tv_nsec = (long)((due - now) % 1000000000u);
  nanosleep(&ts, NULL);
}

/* Whether leg d of a mirror, whose extent e is, is out of sync and so
 * skipped: stale, or on a lost device (marked stale here, as a request
 * that met it would).  Under the move lock. */
static bool stale_leg(struct vd_target *t, uint32_t d, const struct vd_extent *e)
{
  const uint64_t leg = UINT64_C(1) << d;

  if (t->map.copies <= 1)
    return false;
  if (!(atomic_load(&t->stale) & leg) && vd_device_is_lost(vd_extent_device(e)))
    vd_mirror_mark(t, leg);
  return (atomic_load(&t->stale) & leg) != 0;
}

/* One piece of extent (d, i): the kernel, then each candidate confirmed;
 * a stale leg's piece is counted skipped instead.  The move lock keeps
 * the extent in place while the kernel reads it. */
static int scrub_piece(struct vd_scrub_ctl *c, struct vd_volume *v, uint32_t d, uint32_t i,
                       uint64_t first, uint64_t *n, uint32_t *bad, unsigned char *buf)
{
  struct vd_target *t = &v->target;
  struct vd_extent *e = NULL;
  uint64_t nbad = 0, blocks;
  uint64_t piece = piece_bytes(c) / VD_SUM_BLOCK;
  bool skip;
  int rc = 0;

  pthread_mutex_lock(&t->move_lock);
  if (i < vd_map_extent_count(&t->map, d))
    e = atomic_load(&t->ext[d][i]);
  blocks = e ? vd_extent_bytes(e) / VD_SUM_BLOCK : 0;
  *n = first < blocks ? (blocks - first < piece ? blocks - first : piece) : 0;
  skip = *n && stale_leg(t, d, e);
  if (*n && !skip && vd_extent_sums(e))
    rc = vd_engine_scrub(c->eng, e, first, *n, bad, SCRUB_CAP, &nbad);
  if (rc == -EIO && stale_leg(t, d, e))
    skip = true; /* its device was lost under the kernel */
  pthread_mutex_unlock(&t->move_lock);
  if (skip) {
    c->skipped += *n;
    return 0;
  }
  c->blocks += *n;
  for (uint64_t k = 0; !rc && k < nbad; k++) {
    c->bad += k >= SCRUB_CAP || confirmed(c, v, d, i, first + bad[k], buf);
    /* A mirror's confirmed blocks are noted for a heal (mirror.c): heal
     * them a batch at a time, each heal pausing the volume once. */
    if (t->map.copies > 1 && (k + 1) % SCRUB_HEAL_BATCH == 0)
      c->repaired += vd_mirror_heal(c->eng, t);
  }
  if (t->map.copies > 1 && nbad)
    c->repaired += vd_mirror_heal(c->eng, t);
  return rc;
}

/* After the walk: a mirror with a range on no copy in sync failed, and
 * its scrub with it, since nothing could check that range. */
static int no_copy(const struct vd_scrub_ctl *c, struct vd_volume *v, char *err, size_t errlen)
{
  if (v->target.map.copies <= 1 || !vd_volume_failed(v))
    return 0;
  snprintf(err, errlen, "volume %s failed: some of its data has no copy in sync (each copy was "
           "on a lost device or missed a write), so no scrub can check it; %llu blocks of "
           "copies in sync were checked (%llu bad, %llu repaired), %llu of stale ones skipped",
           v->spec.name, (unsigned long long)c->blocks, (unsigned long long)c->bad,
           (unsigned long long)c->repaired, (unsigned long long)c->skipped);
  return -EIO;
}

/* Every extent, piece by piece. */
int vd_volume_scrub(struct vd_scrub_ctl *c, struct vd_volume *v, char *err, size_t errlen)
{
  const struct vd_map *m = &v->target.map;
  uint32_t *bad = malloc(SCRUB_CAP * sizeof *bad);
  unsigned char *buf = malloc(VD_SUM_BLOCK);
  uint64_t t0 = vd_now_ns();
  int rc = 0;

  c->blocks = c->bad = c->repaired = c->skipped = 0;
  if (!vd_volume_sums(v)) {
    snprintf(err, errlen, "volume %s keeps no checksums: only a volume created with "
             "--integrity crc32c can be scrubbed", v->spec.name);
    rc = -EINVAL;
  } else if (!bad || !buf) {
    snprintf(err, errlen, "out of host memory");
    rc = -ENOMEM;
  }
  for (uint32_t d = 0; !rc && d < m->ndev; d++)
    for (uint32_t i = 0; !rc && i < vd_map_extent_count(m, d); i++)
      for (uint64_t first = 0, n = 1; !rc && n; first += n) {
        if (c->cancelled && c->cancelled(c->arg)) {
          snprintf(err, errlen, "cancelled");
          rc = -ECANCELED;
          break;
        }
        rc = scrub_piece(c, v, d, i, first, &n, bad, buf);
        if (rc)
          snprintf(err, errlen, "volume %s: the check failed on the device of part %u's "
                   "extent %u", v->spec.name, d, i);
        if (c->progress && n)
          c->progress(c->arg, n * VD_SUM_BLOCK);
        pace(c, t0, c->blocks * VD_SUM_BLOCK); /* a skipped piece took no time */
      }
  free(bad);
  free(buf);
  if (!rc)
    rc = no_copy(c, v, err, errlen);
  /* What was checked counts, even in a scrub that stopped. */
  atomic_fetch_add(&v->scrub.blocks, c->blocks);
  atomic_fetch_add(&v->scrub.bad, c->bad);
  atomic_fetch_add(&v->scrub.repaired, c->repaired);
  if (!rc) {
    atomic_store(&v->scrub.last_blocks, c->blocks);
    atomic_store(&v->scrub.last_bad, c->bad);
    atomic_store(&v->scrub.last_repaired, c->repaired);
    atomic_store(&v->scrub.last_skipped, c->skipped);
    atomic_store(&v->scrub.last_time, (int64_t)time(NULL));
  }
  return rc;
}
