/* move.c: move extents between devices while clients read and write:
 * one extent (vd_volume_move), every extent off a device (drain), and a
 * volume's extents back to its own devices (rebalance).  How a move
 * stays correct while requests run is written once, in placement.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume.h"

#define MOVE_PIECE (64u << 10)  /* bytes per tracked piece: a 4 KiB write dirties 16x */
#define MOVE_ROUNDS 8           /* copies of written pieces while requests run */
#define MOVE_LAST_PIECES 64     /* few enough (4 MiB) to copy with requests parked */

/* Copy the pieces whose bits are set, a run of neighbours in one copy. */
static int copy_pieces(struct vd_copier *cp, struct vd_extent *src, struct vd_extent *dst,
                       const uint64_t *bits, uint32_t npieces, uint64_t bytes)
{
  for (uint32_t p = 0; p < npieces;) {
    uint32_t q = p;
    uint64_t off, end;
    int rc;
    if (!(bits[p / 64] & (1ull << (p % 64)))) {
      p++;
      continue;
    }
    while (q < npieces && (bits[q / 64] & (1ull << (q % 64))))
      q++;
    off = (uint64_t)p * MOVE_PIECE;
    end = (uint64_t)q * MOVE_PIECE < bytes ? (uint64_t)q * MOVE_PIECE : bytes;
    rc = vd_extent_copy(cp, src, off, dst, off, end - off);
    if (rc)
      return rc;
    p = q;
  }
  return 0;
}

/* Put bits back into the record, for the last round to copy. */
static void untake(struct vd_track *tr, const uint64_t *bits)
{
  for (uint32_t w = 0; w < (tr->npieces + 63) / 64; w++)
    atomic_fetch_or(&tr->bits[w], bits[w]);
}

/* Copy the first bytes of cur, logical part d's extent i, into dst while
 * requests go on, then park them for the last written pieces and place
 * dst as part into's extent i (d itself for a move; a mirror's stale leg
 * for a rebuild).  *placed when placed (d's slot still held cur: a thin
 * chunk discarded meanwhile is left alone). */
static int copy_and_place(struct vd_move_ctl *c, struct vd_target *t, uint32_t d, uint32_t i,
                          uint32_t into, struct vd_extent *cur, struct vd_extent *dst,
                          uint64_t bytes, bool *placed)
{
  uint64_t t0, stall;
  struct vd_track tr = { d, i, MOVE_PIECE, (uint32_t)((bytes + MOVE_PIECE - 1) / MOVE_PIECE), NULL };
  uint32_t words = (tr.npieces + 63) / 64;
  uint64_t *snap = calloc(words, sizeof *snap);
  int rc = 0;

  tr.bits = calloc(words, sizeof *tr.bits);
  if (!snap || !tr.bits) {
    free(snap);
    free((void *)tr.bits);
    return -ENOMEM;
  }
  vd_target_track(t, &tr);
  rc = vd_extent_copy(c->cp, cur, 0, dst, 0, bytes);
  /* Rounds while they shrink what is left: writes that outrun the copy
   * gain nothing from more of them. */
  for (uint32_t r = 0, last = UINT32_MAX; !rc && r < MOVE_ROUNDS; r++) {
    uint32_t n = vd_track_take(&tr, snap);
    if (n <= MOVE_LAST_PIECES || n >= last) {
      untake(&tr, snap);
      break;
    }
    last = n;
    rc = copy_pieces(c->cp, cur, dst, snap, tr.npieces, bytes);
  }
  t0 = vd_now_ns();
  vd_target_pause(t);
  if (!rc) {
    vd_track_take(&tr, snap);
    rc = copy_pieces(c->cp, cur, dst, snap, tr.npieces, bytes);
  }
  /* Checksums go with the data, copied while nothing writes: never
   * computed again from the copy, which would bless a bad block. */
  if (!rc && vd_extent_sums(cur))
    rc = vd_extent_copy_sums(c->cp, cur, dst, bytes / VD_SUM_BLOCK);
  /* A shrink that cuts a parity group short: its parity held the cut
   * blocks too. */
  if (!rc && vd_extent_parity(dst) && bytes < vd_extent_bytes(cur) &&
      bytes / VD_SUM_BLOCK % VD_PAR_GROUP)
    rc = vd_engine_parity_fix(c->eng, dst, bytes / VD_SUM_BLOCK / VD_PAR_GROUP);
  *placed = !rc && atomic_load(&t->ext[d][i]) == cur;
  if (*placed)
    vd_target_place(t, into, i, dst);
  vd_target_track(t, NULL);
  vd_target_resume(c->eng, t);
  stall = vd_now_ns() - t0;
  if (stall > c->max_stall_ns)
    c->max_stall_ns = stall;
  free(snap);
  free((void *)tr.bits);
  return rc;
}

/* Put logical part d's extent i of v into a new buffer of size bytes
 * (0: its own size) on to (NULL: where it is), with its first keep bytes
 * (0: all that fit).  A move when only to is given; a resize's reshape
 * otherwise.  Nothing when the slot holds no chunk or is past the map (a
 * shrink came first), or for a move, when it is on to already. */
static int move_extent(struct vd_move_ctl *c, struct vd_volume *v, uint32_t d, uint32_t i,
                       struct vd_device *to, uint64_t bytes, uint64_t keep, char *err,
                       size_t errlen)
{
  struct vd_target *t = &v->target;
  struct vd_extent *cur, *dst;
  bool placed = false;
  int rc;

  pthread_mutex_lock(&t->move_lock);
  cur = i < vd_map_extent_count(&t->map, d) ? atomic_load(&t->ext[d][i]) : NULL;
  if (cur) {
    to = to ? to : vd_extent_device(cur);
    bytes = bytes ? bytes : vd_extent_bytes(cur);
  }
  if (!cur || (vd_extent_device(cur) == to && vd_extent_bytes(cur) == bytes && !keep)) {
    pthread_mutex_unlock(&t->move_lock);
    return 0;
  }
  keep = keep ? keep : bytes;
  if (keep > vd_extent_bytes(cur))
    keep = vd_extent_bytes(cur);
  if (keep > bytes)
    keep = bytes;
  rc = vd_extent_alloc_sums(to, bytes, vd_extent_tail(cur), &dst, err, errlen);
  if (rc)
    goto out_unlock;
  rc = copy_and_place(c, t, d, i, d, cur, dst, keep, &placed);
  if (rc) {
    snprintf(err, errlen, "volume %s: %s", v->spec.name,
             rc == -ENOMEM ? "out of host memory" : vd_copier_error(c->cp));
  } else if (placed) {
    c->moved_bytes += vd_extent_bytes(cur);
    c->moved_extents++;
  }
  /* Parked requests were resubmitted on dst: none can reach cur now. */
  vd_extent_free(placed ? cur : dst);
out_unlock:
  pthread_mutex_unlock(&t->move_lock);
  return rc;
}

/* Move logical part d's extent i of v to device to. */
int vd_volume_move(struct vd_move_ctl *c, struct vd_volume *v, uint32_t d, uint32_t i,
                   struct vd_device *to, char *err, size_t errlen)
{
  if (vd_volume_copy_on(v, d, i, to)) {
    snprintf(err, errlen, "volume %s: %s holds another copy of that data", v->spec.name,
             vd_device_info(to)->id);
    return -ENOSPC;
  }
  return move_extent(c, v, d, i, to, 0, 0, err, errlen);
}

/* A mirror's leg extent rebuilt from another copy, while requests run. */
int vd_volume_rebuild(struct vd_move_ctl *c, struct vd_volume *v, uint32_t from, uint32_t leg,
                      uint32_t i, struct vd_device *to, char *err, size_t errlen)
{
  struct vd_target *t = &v->target;
  struct vd_extent *cur, *old, *dst;
  bool placed = false;
  int rc;

  pthread_mutex_lock(&t->move_lock);
  cur = atomic_load(&t->ext[from][i]);
  old = atomic_load(&t->ext[leg][i]);
  /* With its checksum tail when the volume keeps checksums: the copy
   * takes the source's checksums along, never computes them anew. */
  rc = vd_extent_alloc_sums(to, vd_extent_bytes(cur), vd_extent_tail(cur), &dst, err,
                            errlen);
  if (rc)
    goto out_unlock;
  rc = copy_and_place(c, t, from, i, leg, cur, dst, vd_extent_bytes(cur), &placed);
  if (rc)
    snprintf(err, errlen, "volume %s: %s", v->spec.name,
             rc == -ENOMEM ? "out of host memory" : vd_copier_error(c->cp));
  else if (!placed)
    rc = -EAGAIN; /* the source moved meanwhile: not for a mirror, but never place it */
  if (placed) {
    c->moved_bytes += vd_extent_bytes(dst);
    c->moved_extents++;
  }
  /* Parked requests were resubmitted on dst: none can reach old now. */
  vd_extent_free(placed ? old : dst);
out_unlock:
  pthread_mutex_unlock(&t->move_lock);
  return rc;
}

/* True when another copy of logical part d's extent i (a mirror's
 * sibling leg) lives on dev: copies stay on distinct devices. */
bool vd_volume_copy_on(const struct vd_volume *v, uint32_t d, uint32_t i,
                       const struct vd_device *dev)
{
  uint32_t k = v->target.map.copies;
  if (k <= 1)
    return false;
  for (uint32_t l = d / k * k; l < d / k * k + k; l++)
    if (l != d && vd_volume_where(v, l, i, NULL) == dev)
      return true;
  return false;
}

/* A new buffer of bytes for logical part d's extent i, where it is. */
int vd_volume_reshape(struct vd_move_ctl *c, struct vd_volume *v, uint32_t d, uint32_t i,
                      uint64_t bytes, uint64_t keep, char *err, size_t errlen)
{
  return move_extent(c, v, d, i, NULL, bytes, keep, err, errlen);
}

/* Where logical part d's extent i of v that must leave from should go:
 * the active device with the most room, the volume's own devices first,
 * never one with another copy of it; NULL if none fits. */
static struct vd_device *pick(struct vd_pool *pool, const struct vd_volume *v, uint32_t d,
                              uint32_t i, const struct vd_device *from, uint64_t bytes,
                              const uint64_t *room)
{
  struct vd_device *best = NULL;
  for (int own = 1; own >= 0 && !best; own--)
    for (unsigned k = 0; k < vd_pool_count(pool); k++) {
      struct vd_device *dev = vd_pool_device(pool, k);
      bool is_own = false;
      for (unsigned j = 0; j < v->target.map.ndev; j++)
        is_own |= v->target.dev[j] == dev;
      if (dev == from || is_own != (bool)own || vd_device_state(dev) != VD_DEV_ACTIVE ||
          room[k] < bytes || vd_volume_copy_on(v, d, i, dev))
        continue;
      if (!best || room[k] > room[vd_device_info(best)->index])
        best = dev;
    }
  return best;
}

/* Visit every extent of the volumes that lives on from, thin volumes'
 * chunks first: fn gets it with the device it should go to (room is
 * debited as planned).  Extents with nowhere to go add to *short_bytes.
 * Stops once done reaches goal. */
static int each_on(struct vd_volume **vols, int n, struct vd_pool *pool,
                   const struct vd_device *from, uint64_t *room, uint64_t goal,
                   int (*fn)(void *arg, struct vd_volume *v, uint32_t d, uint32_t i,
                             struct vd_device *to, uint64_t bytes),
                   void *arg, uint64_t *short_bytes)
{
  uint64_t done = 0;
  for (int thin = 1; thin >= 0; thin--)
    for (int k = 0; k < n; k++) {
      struct vd_target *t = &vols[k]->target;
      if ((t->stock != NULL) != (bool)thin)
        continue;
      for (uint32_t d = 0; d < t->map.ndev; d++)
        for (uint32_t i = 0; i < vd_map_extent_count(&t->map, d); i++) {
          uint64_t bytes = 0;
          struct vd_device *to;
          int rc;
          if (done >= goal)
            return 0;
          if (vd_volume_where(vols[k], d, i, &bytes) != from)
            continue;
          to = pick(pool, vols[k], d, i, from, bytes, room);
          if (!to) {
            *short_bytes += bytes;
            continue;
          }
          room[vd_device_info(to)->index] -= bytes;
          rc = fn ? fn(arg, vols[k], d, i, to, bytes) : 0;
          if (rc)
            return rc;
          done += bytes;
        }
    }
  return 0;
}

struct drain_arg {
  struct vd_move_ctl *c;
  char *err;
  size_t errlen;
};

/* each_on's step for a drain: one move, then progress and cancel. */
static int drain_one(void *arg, struct vd_volume *v, uint32_t d, uint32_t i,
                     struct vd_device *to, uint64_t bytes)
{
  struct drain_arg *a = arg;
  int rc;
  if (a->c->cancelled && a->c->cancelled(a->c->arg)) {
    snprintf(a->err, a->errlen, "cancelled");
    return -ECANCELED;
  }
  rc = vd_volume_move(a->c, v, d, i, to, a->err, a->errlen);
  if (!rc && a->c->progress)
    a->c->progress(a->c->arg, bytes);
  return rc;
}

/* Bytes of every volume's extents on dev, and how many of them. */
uint64_t vd_volumes_bytes_on(struct vd_registry *reg, const struct vd_device *dev)
{
  struct vd_volume **vols = NULL;
  int n = vd_registry_list(reg, &vols);
  uint64_t sum = 0;

  for (int k = 0; k < n; k++) {
    struct vd_target *t = &vols[k]->target;
    for (uint32_t d = 0; d < t->map.ndev; d++)
      for (uint32_t i = 0; i < vd_map_extent_count(&t->map, d); i++) {
        uint64_t bytes = 0;
        if (vd_volume_where(vols[k], d, i, &bytes) == dev)
          sum += bytes;
      }
    vd_volume_put(vols[k]);
  }
  free(vols);
  return sum;
}

/* Check that every extent on from fits elsewhere: 0, or -ENOSPC with err
 * naming the shortfall (nothing moved). */
int vd_drain_check(struct vd_registry *reg, struct vd_pool *pool, const struct vd_device *from,
                   char *err, size_t errlen)
{
  struct vd_volume **vols = NULL;
  int n = vd_registry_list(reg, &vols);
  uint64_t room[VD_MAX_DEVICES] = { 0 }, short_bytes = 0;
  char a[32], b[32];

  if (n < 0) {
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  for (unsigned k = 0; k < vd_pool_count(pool); k++)
    room[k] = vd_device_available(vd_pool_device(pool, k));
  each_on(vols, n, pool, from, room, UINT64_MAX, NULL, NULL, &short_bytes);
  for (int k = 0; k < n; k++)
    vd_volume_put(vols[k]);
  free(vols);
  if (!short_bytes)
    return 0;
  snprintf(err, errlen, "%s holds %s that the other active devices have no room for "
           "(%s short); free or shrink volumes, or raise no reserve, and try again",
           vd_device_info(from)->id,
           vd_format_size(vd_volumes_bytes_on(reg, from), a, sizeof a),
           vd_format_size(short_bytes, b, sizeof b));
  return -ENOSPC;
}

/* Move extents off from onto the other active devices, thin chunks
 * first, until goal bytes moved (UINT64_MAX: all of them). */
int vd_evacuate(struct vd_move_ctl *c, struct vd_registry *reg, struct vd_pool *pool,
                struct vd_device *from, uint64_t goal, char *err, size_t errlen)
{
  struct vd_volume **vols = NULL;
  int n = vd_registry_list(reg, &vols), rc;
  uint64_t room[VD_MAX_DEVICES] = { 0 }, short_bytes = 0;
  struct drain_arg a = { c, err, errlen };

  if (n < 0) {
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  for (unsigned k = 0; k < vd_pool_count(pool); k++)
    room[k] = vd_device_available(vd_pool_device(pool, k));
  rc = each_on(vols, n, pool, from, room, goal, drain_one, &a, &short_bytes);
  if (!rc && short_bytes && c->moved_bytes < goal) {
    char b[32];
    snprintf(err, errlen, "%s of %s found no room elsewhere",
             vd_format_size(short_bytes, b, sizeof b), vd_device_info(from)->id);
    rc = -ENOSPC;
  }
  for (int k = 0; k < n; k++)
    vd_volume_put(vols[k]);
  free(vols);
  return rc;
}

/* Move every extent off from. */
int vd_drain(struct vd_move_ctl *c, struct vd_registry *reg, struct vd_pool *pool,
             struct vd_device *from, char *err, size_t errlen)
{
  return vd_evacuate(c, reg, pool, from, UINT64_MAX, err, errlen);
}

/* Bytes of v's extents that live off their home device. */
uint64_t vd_volume_bytes_away(const struct vd_volume *v)
{
  const struct vd_target *t = &v->target;
  uint64_t sum = 0;
  for (uint32_t d = 0; d < t->map.ndev; d++)
    for (uint32_t i = 0; i < vd_map_extent_count(&t->map, d); i++) {
      uint64_t bytes = 0;
      struct vd_device *on = vd_volume_where(v, d, i, &bytes);
      if (on && on != t->dev[d])
        sum += bytes;
    }
  return sum;
}

/* Move v's extents back to their home devices where those are active. */
int vd_rebalance(struct vd_move_ctl *c, struct vd_volume *v, char *err, size_t errlen)
{
  struct vd_target *t = &v->target;
  for (uint32_t d = 0; d < t->map.ndev; d++) {
    if (vd_device_state(t->dev[d]) != VD_DEV_ACTIVE)
      continue;
    for (uint32_t i = 0; i < vd_map_extent_count(&t->map, d); i++) {
      uint64_t bytes = 0;
      struct vd_device *on = vd_volume_where(v, d, i, &bytes);
      int rc;
      if (!on || on == t->dev[d] || vd_volume_copy_on(v, d, i, t->dev[d]))
        continue;
      if (c->cancelled && c->cancelled(c->arg)) {
        snprintf(err, errlen, "cancelled");
        return -ECANCELED;
      }
      rc = vd_volume_move(c, v, d, i, t->dev[d], err, errlen);
      if (rc == -ENOSPC)
        continue; /* home has no room for this one now: it stays away */
      if (rc)
        return rc;
      if (c->progress)
        c->progress(c->arg, bytes);
    }
  }
  return 0;
}
