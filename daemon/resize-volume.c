/* resize-volume.c: grow or shrink a volume online, as lvresize does.  The new
 * size is recorded in the state file before it takes effect; the kernel
 * device (if any) is told after a grow and before a shrink, so it never
 * addresses bytes the volume lacks.  Any failure puts back the size, the
 * record and the device.  Growth and moves share the copier, so a resize
 * waits for no job: it is refused while one moves extents. */
#include <errno.h>
#include <stdio.h>

#include "export-volume.h"
#include "frontends.h"
#include "vramd.h"

/* The size asked for: absolute, or grown by rq->size; -EINVAL past 2^64. */
static int target_size(const struct vd_volume *v, const struct vramd_resize *rq, uint64_t *out,
                       char *err, size_t errlen)
{
  if (rq->relative && rq->size > UINT64_MAX - v->size) {
    snprintf(err, errlen, "volume '%s' cannot grow by %llu bytes: the size would pass 2^64",
             v->spec.name, (unsigned long long)rq->size);
    return -EINVAL;
  }
  *out = rq->relative ? v->size + rq->size : rq->size;
  return 0;
}

/* The refusal of a shrink without force: what it would cut. */
static int shrink_refused(struct vd_volume *v, uint64_t size, char *err, size_t errlen)
{
  char a[32], b[32], c[32], held[96] = "";
  uint64_t chunks = vd_volume_chunks_past(v, size);

  if (v->target.stock)
    snprintf(held, sizeof held, "; %llu chunk%s holding written data lie%s in it, wholly or "
             "in part", (unsigned long long)chunks, chunks == 1 ? "" : "s",
             chunks == 1 ? "s" : "");
  snprintf(err, errlen, "shrinking volume '%s' from %s to %s cuts its last %s (%llu bytes)%s; "
           "resize with force to cut them", v->spec.name, vd_format_size(v->size, a, sizeof a),
           vd_format_size(size, b, sizeof b), vd_format_size(v->size - size, c, sizeof c),
           (unsigned long long)(v->size - size), held);
  return -EPERM;
}

/* Switch the volume and its device to r's size, in the safe order; on
 * failure both are as they were. */
static int switch_size(struct vramd *d, struct vd_volume *v, const struct vd_frontend *fe,
                       struct vd_resize *r, char *err, size_t errlen)
{
  struct vd_move_ctl c = { .eng = d->eng, .cp = d->copier };
  uint64_t old = v->size, size = r->map.size;
  bool grow = size > old;
  struct vd_resize back;
  char e2[256];
  int rc;

  if (!grow && fe && fe->resize && (rc = fe->resize(&d->host, v, size, false, err, errlen)))
    return rc;
  rc = vd_volume_resize_apply(&c, v, r, err, errlen);
  if (rc) {
    if (!grow && fe && fe->resize)
      fe->resize(&d->host, v, old, false, e2, sizeof e2);
    return rc;
  }
  if (!grow || !fe || !fe->resize || !(rc = fe->resize(&d->host, v, size, false, err, errlen)))
    return 0;
  /* The device did not take the growth: nothing could write past the
   * old end through it, so shrinking back loses nothing. */
  if (vd_volume_resize_prepare(v, old, &back, e2, sizeof e2) ||
      vd_volume_resize_apply(&c, v, &back, e2, sizeof e2))
    vd_err("volume %s: could not go back to %llu bytes after the device refused: %s",
           v->spec.name, (unsigned long long)old, e2);
  vd_volume_resize_abort(&back);
  return rc;
}

/* Check, record, and switch; under admin_lock and the move lock. */
static int resize_locked(struct vramd *d, struct vd_volume *v, uint64_t size, bool force,
                         vramd_commit_fn *commit, struct vramd_resized *out, char *err,
                         size_t errlen)
{
  const struct vd_frontend *fe = vramd_frontend(d, v->spec.frontend);
  struct vd_volume_spec was = v->spec;
  struct vd_resize r;
  int rc;

  if (size < v->size && !force)
    return shrink_refused(v, size, err, errlen);
  if ((rc = vd_volume_resize_prepare(v, size, &r, err, errlen)))
    return rc;
  out->new_size = r.map.size;
  if (r.map.size == v->size)
    goto out_abort; /* already that size once rounded */
  if (fe && fe->resize && (rc = fe->resize(&d->host, v, r.map.size, true, err, errlen)))
    goto out_abort;
  /* Recorded before it takes effect: a restart never finds the volume
   * larger than the file says, nor the file larger than it was made. */
  v->spec.size = r.map.size;
  v->spec.size_free_pct = 0;
  rc = commit ? commit(d, NULL, NULL, err, errlen) : 0;
  if (rc) {
    v->spec = was;
    goto out_abort;
  }
  rc = switch_size(d, v, fe, &r, err, errlen);
  if (rc) {
    v->spec = was;
    vramd_uncommit(d, commit);
    out->new_size = v->size;
  }
  out->cut_chunks = r.cut_chunks;
out_abort:
  vd_volume_resize_abort(&r);
  return rc;
}

/* Resize a volume online. */
int vramd_volume_resize(struct vramd *d, const char *name, const struct vramd_resize *rq,
                        vramd_commit_fn *commit, struct vramd_resized *out, char *err,
                        size_t errlen)
{
  struct vd_volume *v;
  uint64_t size;
  char a[32], b[32], cut[96] = "";
  int rc;

  *out = (struct vramd_resized){ 0 };
  pthread_mutex_lock(&d->admin_lock);
  if (!(v = vd_registry_get(&d->reg, name))) {
    snprintf(err, errlen, "no volume '%s'", name);
    rc = -ENOENT;
    goto out_unlock;
  }
  out->old_size = out->new_size = v->size;
  if ((rc = target_size(v, rq, &size, err, errlen)))
    goto out_put;
  if (pthread_mutex_trylock(&d->move_lock)) {
    snprintf(err, errlen, "a job is moving extents now ('vramctl job list'); resize volume "
             "'%s' once it has ended", name);
    rc = -EBUSY;
    goto out_put;
  }
  rc = resize_locked(d, v, size, rq->force, commit, out, err, errlen);
  pthread_mutex_unlock(&d->move_lock);
  if (rc || out->new_size == out->old_size)
    goto out_put;
  if (out->new_size < out->old_size) {
    out->cut_bytes = out->old_size - out->new_size;
    snprintf(cut, sizeof cut, "; cut %llu bytes%s", (unsigned long long)out->cut_bytes,
             v->target.stock ? "" : " (forced)");
    if (v->target.stock)
      snprintf(cut, sizeof cut, "; cut %llu bytes holding %llu chunk%s (forced)",
               (unsigned long long)out->cut_bytes, (unsigned long long)out->cut_chunks,
               out->cut_chunks == 1 ? "" : "s");
  }
  vd_info("volume %s: resized from %s to %s%s", name, vd_format_size(out->old_size, a, sizeof a),
          vd_format_size(out->new_size, b, sizeof b), cut);
  vramd_export_resized(d, v);
out_put:
  vd_volume_put(v);
out_unlock:
  pthread_mutex_unlock(&d->admin_lock);
  return rc;
}
