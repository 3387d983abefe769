/* mirror.c: route and settle a mirror's requests over its copies.
 *
 * A mirror's legs hold every byte of their column (volmap.h); leg l's
 * extent i is ext[l][i], placed and moved like any other extent.  The
 * rule:
 *  - A READ goes to one leg per column that is not stale, the one whose
 *    device has the fewest bytes queued, equal ones taken in turn.  If a
 *    part fails, the legs it read are not tried again by this request
 *    (and go stale when their device is lost), and the request is
 *    submitted again; it fails with EIO only once no copy is left.
 *  - A WRITE or ZERO goes to every leg whose extent is on a live device,
 *    stale ones too (a leg being rebuilt keeps the ranges already
 *    copied).  A part that fails makes its legs stale; the request
 *    succeeds when each column it touched reached a leg in sync.
 *  - A leg on a lost device is stale from the moment a request or a
 *    status query meets it (a repair under way checks its new extents
 *    itself).  Only a repair (repair.c) makes a leg fresh
 *    again, with every request parked, and not when it broke meanwhile.
 * A column with no leg in sync fails the volume, as a lost device fails
 * any other. */
#include <errno.h>
#include <string.h>

#include "engine.h"
#include "engine-internal.h"
#include "util.h"

/* Bit of leg l. */
static inline uint64_t bit(uint32_t l)
{
  return UINT64_C(1) << l;
}

/* The legs of column c. */
static uint64_t column_legs(const struct vd_map *m, uint32_t c)
{
  uint64_t all = m->copies >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << m->copies) - 1;
  return all << (c * m->copies);
}

/* Mark legs stale (and broken, for a repair under way to see). */
void vd_mirror_mark(struct vd_target *t, uint64_t legs)
{
  uint64_t was;
  if (!legs)
    return;
  atomic_fetch_or(&t->broke, legs);
  was = atomic_fetch_or(&t->stale, legs);
  if (legs & ~was)
    vd_warn_rl("volume %s: a copy went out of sync (legs 0x%llx): degraded, it serves from "
               "the others until 'vramctl volume repair %s'", t->label ? t->label : "?",
               (unsigned long long)(legs & ~was), t->label ? t->label : "NAME");
}

/* The legs with an extent on dev: read under the move lock, so that no
 * move frees an extent under the reader. */
uint64_t vd_mirror_legs_on(struct vd_target *t, const struct vd_device *dev)
{
  uint64_t legs = 0;
  if (t->map.copies <= 1)
    return 0;
  pthread_mutex_lock(&t->move_lock);
  for (uint32_t l = 0; l < t->map.ndev; l++)
    for (uint32_t i = 0; i < vd_map_extent_count(&t->map, l) && !(legs & bit(l)); i++) {
      struct vd_extent *e = atomic_load(&t->ext[l][i]);
      if (e && (vd_extent_device(e) == dev || (!dev && vd_device_is_lost(vd_extent_device(e)))))
        legs |= bit(l);
    }
  pthread_mutex_unlock(&t->move_lock);
  return legs;
}

/* Copies in sync of the worst column; legs on lost devices go stale. */
unsigned vd_mirror_healthy(struct vd_target *t)
{
  unsigned least = UINT32_MAX;
  uint64_t fresh;

  if (t->map.copies <= 1)
    return 1;
  vd_mirror_mark(t, vd_mirror_legs_on(t, NULL) & ~atomic_load(&t->stale));
  fresh = ~atomic_load(&t->stale);
  for (uint32_t c = 0; c < vd_map_columns(&t->map); c++) {
    unsigned n = (unsigned)__builtin_popcountll(fresh & column_legs(&t->map, c));
    least = n < least ? n : least;
  }
  return least == UINT32_MAX ? 0 : least;
}

/* The leg of column c a READ uses: not in skip, on the least busy
 * device, equal ones taken from turn r on; -1 when none is left. */
static int choose(struct vd_engine *eng, const struct vd_target *t, uint32_t c, uint64_t skip,
                  unsigned r)
{
  const uint32_t k = t->map.copies;
  uint64_t best_load = UINT64_MAX;
  int best = -1;

  for (uint32_t n = 0; n < k; n++) {
    uint32_t leg = c * k + (r + n) % k;
    uint64_t load;
    if (skip & bit(leg))
      continue;
    load = vd_engine_load(eng, vd_device_info(t->dev[leg])->index);
    if (best < 0 || load < best_load) {
      best = (int)leg;
      best_load = load;
    }
  }
  return best;
}

/* No copy of column c left to use: EIO for this request, and the volume
 * fails when none of the column's legs is in sync. */
static uint64_t no_copy(struct vd_target *t, uint32_t c, int *err)
{
  if (!(~atomic_load(&t->stale) & column_legs(&t->map, c)) && !atomic_exchange(&t->failed, 1))
    vd_err_rl("volume %s: every copy of a range is lost: the mirror failed",
              t->label ? t->label : "?");
  *err = -EIO;
  return 0;
}

/* Route a mirror's request: see the rule above. */
uint64_t vd_mirror_route(struct vd_engine *eng, struct vd_io *io, uint64_t *lmask, int *err)
{
  struct vd_target *t = io->target;
  const uint32_t k = t->map.copies;
  const bool read = io->op == VD_OP_READ;
  unsigned r = read ? atomic_fetch_add_explicit(&t->rr, 1, memory_order_relaxed) : 0;
  int pick[VD_MAX_DEVICES];
  struct vd_map_iter it;
  struct vd_segment s;
  uint64_t mask, skip;

again:
  mask = 0;
  skip = atomic_load(&t->stale) | (read ? io->avoid : 0);
  for (uint32_t c = 0; c < vd_map_columns(&t->map); c++)
    pick[c] = -1;
  vd_map_iter_init(&it, &t->map, io->off, io->len);
  while (vd_map_next(&it, &s)) {
    uint32_t c = s.dev / k;
    bool synced = false;
    for (uint32_t j = 0; j < k; j++) {
      uint32_t leg = s.dev + j;
      struct vd_extent *ext;
      unsigned pd;
      if (read) {
        if (pick[c] < 0 && (pick[c] = choose(eng, t, c, skip, r)) < 0)
          return no_copy(t, c, err);
        leg = (uint32_t)pick[c];
      }
      if (!read && io->only && !(io->only & bit(leg)))
        continue; /* a heal writes the legs it rewrites, no other */
      ext = atomic_load_explicit(&t->ext[leg][s.extent], memory_order_acquire);
      if (!ext || vd_device_is_lost(vd_extent_device(ext))) {
        /* A stale leg's old extent stays on its lost device until
         * repaired: not news (a repair checks its new ones itself). */
        if (!(atomic_load(&t->stale) & bit(leg)))
          vd_mirror_mark(t, bit(leg));
        if (read)
          goto again; /* the leg is skipped now: at most once per leg */
        continue;
      }
      pd = vd_device_info(vd_extent_device(ext))->index;
      if (!(mask & bit(pd)))
        lmask[pd] = 0;
      mask |= bit(pd);
      lmask[pd] |= bit(leg);
      synced |= !(skip & bit(leg));
      if (read)
        break;
    }
    if (!synced)
      return no_copy(t, c, err);
  }
  return mask;
}

/* Settle a mirror's request one of whose parts failed: see the rule. */
bool vd_mirror_settle(struct vd_engine *eng, struct vd_io *io, int *err)
{
  struct vd_target *t = io->target;
  uint64_t ok = 0, bad = 0, lost = 0, stale;

  for (uint64_t m = io->pmask; m; m &= m - 1) {
    unsigned pd = (unsigned)__builtin_ctzll(m);
    const struct vd_io_part *p = &io->part[pd];
    if (!p->err) {
      ok |= p->lmask;
      continue;
    }
    bad |= p->lmask;
    if (vd_device_is_lost(vd_engine_device(eng, pd)))
      lost |= p->lmask;
    else if (p->sum_bad && p->bad_off != UINT64_MAX)
      vd_mirror_heal_note(t, p->lmask, p->bad_off, VD_SECTOR);
    else if (p->sum_bad)
      vd_mirror_heal_note(t, p->lmask, io->off, io->len);
  }
  if (io->op == VD_OP_READ) {
    /* A read changed nothing: its legs stay in sync unless lost; a copy
     * with a bad block was noted above, to be rewritten from one in sync
     * (heal.c).  The read goes on from the other copies; bad blocks at
     * different places on every copy fail it once, until healed. */
    vd_mirror_mark(t, lost);
    io->avoid |= bad;
    return true;
  }
  vd_mirror_mark(t, bad);
  stale = atomic_load(&t->stale);
  ok &= ~bad & ~stale;
  for (uint32_t c = 0; c < vd_map_columns(&t->map); c++) {
    uint64_t legs = column_legs(&t->map, c);
    if ((bad & legs) && !(ok & legs)) {
      no_copy(t, c, err);
      return false;
    }
  }
  *err = 0;
  return false;
}
