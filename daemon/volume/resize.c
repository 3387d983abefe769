/* resize.c: grow or shrink a volume while requests run.
 *
 * vd_map_resize keeps every byte below the smaller size where it is, so
 * only the ends change: extents past the old end are added (thick: new
 * zeroed extents, taken before anything changes), extents past the new
 * end are cut, and each device's last extent may change size.  A thick
 * extent's buffer is exactly its map size, so one that changes is
 * reshaped by move.c's tracked copy into a buffer of the new size: before
 * the switch on a grow, after it on a shrink.  A thin chunk is always
 * whole; its bytes past the map end must read as zeros when a later grow
 * exposes them, so a shrink reshapes the cut chunk into a zeroed one.
 * The switch itself (map, placement and discard masks) happens with the
 * target paused and the move lock held, so neither requests nor readers
 * outside the I/O path see a half-made change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume.h"

/* Bytes of logical part d's extent i under map m (0: none). */
static uint64_t ext_bytes(const struct vd_map *m, uint32_t d, uint32_t i)
{
  return vd_map_extent_bytes(m, d, i);
}

/* Why a thick grow does not fit, and the largest size that would. */
static int no_room(struct vd_volume *v, const uint64_t *room, char *err, size_t errlen)
{
  const struct vd_map *m = &v->target.map;
  uint64_t fits = v->size;
  char a[32], b[32];

  if (m->layout != VD_LAYOUT_CONCAT) {
    uint64_t least = UINT64_MAX;
    for (uint32_t d = 0; d < m->ndev; d++)
      least = room[d] < least ? room[d] : least;
    fits += (least - least % m->unit) * vd_map_columns(m); /* a mirror's copies add none */
  } else {
    uint32_t last = 0;
    for (uint32_t d = 0; d < m->ndev; d++)
      if (m->dev_bytes[d])
        last = d;
    for (uint32_t d = last; d < m->ndev; d++)
      fits += room[d] / VD_SECTOR * VD_SECTOR;
  }
  snprintf(err, errlen, "volume '%s' cannot grow that far: its devices have room for %s "
           "more, so at most %s fits (%s)", v->spec.name,
           vd_format_size(fits - v->size, a, sizeof a), vd_format_size(fits, b, sizeof b),
           m->layout != VD_LAYOUT_CONCAT ? "striped: the fullest device limits it"
                                         : "concatenated: growth goes on the last devices");
  return -ENOSPC;
}

/* A thick grow's room per device, and whether every device that must
 * take new bytes is active. */
static int check_room(struct vd_volume *v, const struct vd_map *nm, uint64_t *room, char *err,
                      size_t errlen)
{
  struct vd_target *t = &v->target;
  for (uint32_t d = 0; d < t->map.ndev; d++) {
    room[d] = vd_device_available(t->dev[d]);
    if (nm->dev_bytes[d] > t->map.dev_bytes[d] &&
        vd_device_state(t->dev[d]) != VD_DEV_ACTIVE) {
      snprintf(err, errlen, "volume '%s' would grow onto %s, which is %s; undrain it first",
               v->spec.name, vd_device_info(t->dev[d])->id,
               vd_dev_state_name(vd_device_state(t->dev[d])));
      return -ENOSPC;
    }
  }
  return 0;
}

/* The new map: thick concat grows within what the devices have free,
 * thin anywhere (no VRAM is taken). */
static int new_map(struct vd_volume *v, uint64_t size, struct vd_map *nm, char *err,
                   size_t errlen)
{
  struct vd_target *t = &v->target;
  uint64_t room[VD_MAX_DEVICES];
  int rc;

  for (uint32_t d = 0; d < t->map.ndev; d++)
    room[d] = t->stock ? UINT64_MAX : vd_device_available(t->dev[d]);
  rc = vd_map_resize(&t->map, room, size, nm);
  if (rc == -ENOSPC)
    return no_room(v, room, err, errlen);
  if (rc) {
    snprintf(err, errlen, "size %llu cannot be mapped (too large)", (unsigned long long)size);
    return -EINVAL;
  }
  if (t->stock || nm->size <= t->map.size)
    return 0;
  if ((rc = check_room(v, nm, room, err, errlen)))
    return rc;
  for (uint32_t d = 0; d < t->map.ndev; d++)
    if (nm->dev_bytes[d] > t->map.dev_bytes[d] &&
        nm->dev_bytes[d] - t->map.dev_bytes[d] > room[d])
      return no_room(v, room, err, errlen);
  return 0;
}

/* Give back what prepare took: the new placement arrays and any extent
 * in them (before apply, only new ones are there). */
void vd_volume_resize_abort(struct vd_resize *r)
{
  for (uint32_t d = 0; d < VD_MAX_DEVICES; d++) {
    if (r->ext[d])
      for (uint32_t i = 0; i < vd_map_extent_count(&r->map, d); i++)
        vd_extent_free(atomic_load(&r->ext[d][i]));
    free(r->ext[d]);
    free((void *)r->zmask[d]);
    r->ext[d] = NULL;
    r->zmask[d] = NULL;
  }
}

/* Check the size, build the new map and take what it needs. */
int vd_volume_resize_prepare(struct vd_volume *v, uint64_t size, struct vd_resize *r,
                             char *err, size_t errlen)
{
  struct vd_target *t = &v->target;
  int rc;

  memset(r, 0, sizeof *r);
  r->old_size = v->size;
  if (size == 0) {
    snprintf(err, errlen, "size must be greater than zero");
    return -EINVAL;
  }
  if (t->stock && (rc = vd_thin_size_check(t->dev, t->map.ndev, size, err, errlen)))
    return rc;
  if ((rc = new_map(v, size, &r->map, err, errlen)))
    return rc;
  for (uint32_t d = 0; d < r->map.ndev; d++) {
    uint32_t n = vd_map_extent_count(&r->map, d);
    if (n == 0)
      continue;
    r->ext[d] = calloc(n, sizeof *r->ext[d]);
    if (t->stock)
      r->zmask[d] = calloc(n, sizeof *r->zmask[d]);
    if (!r->ext[d] || (t->stock && !r->zmask[d])) {
      snprintf(err, errlen, "out of host memory");
      vd_volume_resize_abort(r);
      return -ENOMEM;
    }
    for (uint32_t i = vd_map_extent_count(&t->map, d); i < n && !t->stock; i++) {
      struct vd_extent *e;
      if ((rc = vd_extent_alloc_sums(t->dev[d], ext_bytes(&r->map, d, i), vd_volume_tail(v), &e,
                                     err, errlen))) {
        vd_volume_resize_abort(r);
        return rc;
      }
      atomic_store(&r->ext[d][i], e);
    }
  }
  return 0;
}

/* Device d's last extent of the smaller map, when the other map gives it
 * another size: a buffer of to's size, keeping the bytes both hold. */
static int reshape_last(struct vd_move_ctl *c, struct vd_volume *v, const struct vd_map *from,
                        const struct vd_map *to, uint32_t d, char *err, size_t errlen)
{
  struct vd_target *t = &v->target;
  uint32_t nf = vd_map_extent_count(from, d), nt = vd_map_extent_count(to, d);
  uint32_t n = nt < nf ? nt : nf;
  uint64_t nb, ob;

  if (n == 0)
    return 0;
  nb = ext_bytes(to, d, n - 1);
  ob = ext_bytes(from, d, n - 1);
  if (nb == ob)
    return 0;
  /* A thin chunk stays whole: only the cut bytes are dropped. */
  return vd_volume_reshape(c, v, d, n - 1, t->stock ? vd_stock_chunk(t->stock) : nb,
                           nb < ob ? nb : ob, err, errlen);
}

/* Move the old placement into the new arrays, cut what is past the new
 * end, and switch; the target is paused and its move lock held.  Thin
 * chunks cut are retired (the keeper reuses them once no request can
 * hold them); r gets the old arrays back. */
static void switch_to(struct vd_volume *v, struct vd_resize *r)
{
  struct vd_target *t = &v->target;
  struct vd_map old = t->map;

  for (uint32_t d = 0; d < t->map.ndev; d++) {
    uint32_t no = vd_map_extent_count(&old, d), nn = vd_map_extent_count(&r->map, d);
    struct vd_extent *_Atomic *x = t->ext[d];
    _Atomic uint64_t *z = t->zmask[d];
    for (uint32_t i = 0; i < no && i < nn; i++) {
      atomic_store(&r->ext[d][i], atomic_load(&x[i]));
      atomic_store(&x[i], NULL);
      /* A discard mask's bits are 64ths of the extent: another size
       * makes them mean other bytes, so start again. */
      if (z && ext_bytes(&old, d, i) == ext_bytes(&r->map, d, i))
        atomic_store(&r->zmask[d][i], atomic_load(&z[i]));
    }
    /* A chunk cut in part counts too: the cut reaches data there. */
    if (t->stock && nn && nn <= no && atomic_load(&r->ext[d][nn - 1]) &&
        ext_bytes(&old, d, nn - 1) != ext_bytes(&r->map, d, nn - 1))
      r->cut_chunks++;
    for (uint32_t i = nn; i < no && t->stock; i++) {
      struct vd_extent *c = atomic_exchange(&x[i], NULL);
      if (c) {
        atomic_fetch_sub(&t->chunks, 1);
        vd_extent_push(&t->retired, c);
        r->cut_chunks++;
      }
    }
    t->ext[d] = r->ext[d];
    t->zmask[d] = r->zmask[d];
    r->ext[d] = x;
    r->zmask[d] = z;
  }
  t->map = r->map;
  r->map = old;
  v->size = t->map.size;
}

/* Switch v to r's map: a grow reshapes first, a shrink after. */
int vd_volume_resize_apply(struct vd_move_ctl *c, struct vd_volume *v, struct vd_resize *r,
                           char *err, size_t errlen)
{
  struct vd_target *t = &v->target;
  bool grow = r->map.size > t->map.size;
  struct vd_map nm = r->map;
  int rc;

  if (grow && !t->stock) {
    struct vd_map old = t->map;
    for (uint32_t d = 0; d < old.ndev; d++) {
      char e2[256];
      if (!(rc = reshape_last(c, v, &old, &nm, d, err, errlen)))
        continue;
      /* Put back the ones done, so the volume is as it was. */
      while (d-- > 0)
        if (reshape_last(c, v, &nm, &old, d, e2, sizeof e2))
          vd_warn("volume %s: a grow failed and an extent kept a larger buffer: %s",
                  v->spec.name, e2);
      return rc;
    }
  }
  pthread_mutex_lock(&t->move_lock);
  vd_target_pause(t);
  switch_to(v, r);
  vd_target_resume(c->eng, t);
  pthread_mutex_unlock(&t->move_lock);
  if (t->stock)
    vd_stock_kick(t->stock);
  /* No request can reach the old arrays now; r->map is the old map. */
  for (uint32_t d = 0; d < r->map.ndev && !t->stock; d++)
    for (uint32_t i = vd_map_extent_count(&nm, d); i < vd_map_extent_count(&r->map, d); i++) {
      vd_extent_free(atomic_load(&r->ext[d][i]));
      atomic_store(&r->ext[d][i], NULL);
    }
  for (uint32_t d = 0; d < VD_MAX_DEVICES; d++) {
    free(r->ext[d]);
    free((void *)r->zmask[d]);
    r->ext[d] = NULL;
    r->zmask[d] = NULL;
  }
  for (uint32_t d = 0; !grow && d < nm.ndev; d++)
    if (reshape_last(c, v, &r->map, &nm, d, err, errlen))
      vd_warn("volume %s: shrunk, but its last extent on %s could not be trimmed (%s); its "
              "cut bytes stay in VRAM%s", v->spec.name, vd_device_info(t->dev[d])->id, err,
              t->stock ? " and a later grow may show them" : "");
  r->map = nm;
  return 0;
}

/* Chunks a thin volume holds in extents that a cut at off reaches. */
uint64_t vd_volume_chunks_past(struct vd_volume *v, uint64_t off)
{
  struct vd_target *t = &v->target;
  uint64_t room[VD_MAX_DEVICES] = { 0 }, n = 0;
  struct vd_map m;

  if (!t->stock)
    return 0;
  pthread_mutex_lock(&t->move_lock);
  if (off && off < t->map.size && !vd_map_resize(&t->map, room, off, &m))
    for (uint32_t d = 0; d < t->map.ndev; d++) {
      uint32_t first = vd_map_extent_count(&m, d);
      if (first && ext_bytes(&m, d, first - 1) != ext_bytes(&t->map, d, first - 1))
        first--; /* partly cut */
      for (uint32_t i = first; i < vd_map_extent_count(&t->map, d); i++)
        n += atomic_load(&t->ext[d][i]) != NULL;
    }
  pthread_mutex_unlock(&t->move_lock);
  return n;
}
