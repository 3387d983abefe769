/* core.c: create and delete volumes: allocate, register, expose, and the
 * reverse, with no half-made volume left behind on any failure.  A volume
 * of frontend none is made and kept without being exposed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "export-volume.h"
#include "frontend.h"
#include "frontends.h"
#include "persist.h"
#include "vramd.h"

/* Put what commit recorded back as the registry has it after a create or
 * delete committed and then failed; a failure here is logged (and shows
 * where commit reports its health). */
void vramd_uncommit(struct vramd *d, vramd_commit_fn *commit)
{
  char err[512];
  if (commit && commit(d, NULL, NULL, err, sizeof err))
    vd_err("the state file no longer matches the volumes: %s", err);
}

/* Create, register and expose a volume. */
int vramd_volume_create(struct vramd *d, const struct vd_volume_spec *spec,
                        vramd_commit_fn *commit, struct vd_volume **out,
                        char *err, size_t errlen)
{
  return vramd_volume_create_ctl(d, spec, commit, NULL, out, err, errlen);
}

/* Whether a create would be taken now: the spec, the name, the room.
 * Nothing is allocated; the same errors as vramd_volume_create. */
int vramd_volume_check(struct vramd *d, const struct vd_volume_spec *spec, char *err,
                       size_t errlen)
{
  const struct vd_alloc_ctl check = { .check_only = true };
  struct vd_volume *old = vd_registry_get(&d->reg, spec->name);

  if (old) {
    vd_volume_put(old);
    snprintf(err, errlen, "volume '%s' already exists", spec->name);
    return -EEXIST;
  }
  if (!vramd_frontend(d, spec->frontend) && spec->frontend != VD_FRONTEND_NONE) {
    snprintf(err, errlen, "frontend '%s' is not available in this build",
             vd_frontend_name(spec->frontend));
    return -EOPNOTSUPP;
  }
  return vd_volume_alloc_ctl(d->pool, d->stock, d->cfg.extent_size, spec, &check, NULL, err,
                             errlen);
}

/* The same, with progress and cancel while its VRAM is made. */
int vramd_volume_create_ctl(struct vramd *d, const struct vd_volume_spec *spec,
                            vramd_commit_fn *commit, const struct vd_alloc_ctl *ctl,
                            struct vd_volume **out, char *err, size_t errlen)
{
  const struct vd_frontend *fe = vramd_frontend(d, spec->frontend);
  struct vd_volume *v, *old;
  int rc;

  if (!fe && spec->frontend != VD_FRONTEND_NONE) {
    snprintf(err, errlen, "frontend '%s' is not available in this build",
             vd_frontend_name(spec->frontend));
    return -EOPNOTSUPP;
  }
  pthread_mutex_lock(&d->admin_lock);
  old = vd_registry_get(&d->reg, spec->name);
  if (old) {
    vd_volume_put(old);
    snprintf(err, errlen, "volume '%s' already exists", spec->name);
    rc = -EEXIST;
    goto out_unlock;
  }
  rc = vd_volume_alloc_ctl(d->pool, d->stock, d->cfg.extent_size, spec, ctl, &v, err, errlen);
  if (rc)
    goto out_unlock;
  /* Committed before any client can see it: a volume that would be gone
   * after a restart is refused instead. */
  rc = commit ? commit(d, v, NULL, err, errlen) : 0;
  if (rc)
    goto out_free;
  vramd_persist_load(d, v); /* before any client can see it */
  rc = fe ? fe->add(&d->host, v, err, errlen) : 0;
  if (rc)
    goto out_uncommit;
  rc = vd_registry_add(&d->reg, v);
  if (rc) {
    snprintf(err, errlen, "volume '%s' already exists", spec->name);
    goto out_remove;
  }
  if (out) {
    vd_volume_get(v);
    *out = v;
  }
  pthread_mutex_unlock(&d->admin_lock);
  return 0;

out_remove:
  if (fe)
    fe->remove(&d->host, v, true, err, errlen);
out_uncommit:
  vramd_uncommit(d, commit);
out_free:
  vd_volume_put(v);
out_unlock:
  pthread_mutex_unlock(&d->admin_lock);
  return rc;
}

/* Withdraw a volume from its frontend and free it. */
int vramd_volume_delete(struct vramd *d, const char *name, bool force,
                        vramd_commit_fn *commit, char *err, size_t errlen)
{
  const struct vd_frontend *fe;
  struct vd_volume *v;
  int rc;

  pthread_mutex_lock(&d->admin_lock);
  v = vd_registry_get(&d->reg, name);
  if (!v) {
    snprintf(err, errlen, "no volume '%s'", name);
    rc = -ENOENT;
    goto out_unlock;
  }
  /* An export holds the device open: refused, or forced down first. */
  if ((rc = vramd_export_withdraw(d, v, force, err, errlen)))
    goto out_put;
  /* Committed first: a delete that would come back after a restart is
   * refused instead. */
  rc = commit ? commit(d, NULL, name, err, errlen) : 0;
  if (rc)
    goto out_put;
  fe = vramd_frontend(d, v->spec.frontend);
  rc = fe ? fe->remove(&d->host, v, force, err, errlen) : 0;
  if (rc) {
    vramd_uncommit(d, commit);
    goto out_put;
  }
  vd_volume_put(vd_registry_remove(&d->reg, name));

out_put:
  vd_volume_put(v);
out_unlock:
  pthread_mutex_unlock(&d->admin_lock);
  return rc;
}

/* Mark a device lost and its volumes failed, loudly; a mirror with a
 * copy left elsewhere goes degraded instead. */
int vramd_device_fail(struct vramd *d, const char *id, char *err, size_t errlen)
{
  struct vd_device *dev = vd_pool_find(d->pool, id);
  struct vd_volume **vols;
  int n;

  if (!dev) {
    snprintf(err, errlen, "no device '%s'", id);
    return -ENOENT;
  }
  vd_device_mark_lost(dev);
  vd_log_about(VD_LOG_ERR, VD_FIELDS(.device = id),
               "%s: device lost; its volumes now fail every request", id);
  n = vd_registry_list(&d->reg, &vols);
  for (int i = 0; i < n; i++) {
    struct vd_target *t = &vols[i]->target;
    bool spared; /* a mirror with a copy of every byte elsewhere */
    vd_mirror_mark(t, vd_mirror_legs_on(t, dev));
    spared = t->map.copies > 1 && !vd_volume_failed(vols[i]);
    if (!spared && vd_volume_uses(vols[i], dev) && !atomic_exchange(&t->failed, 1))
      vd_log_about(VD_LOG_ERR, VD_FIELDS(.volume = vols[i]->spec.name, .device = id),
                   "volume %s: failed (device %s lost)", vols[i]->spec.name, id);
    vd_volume_put(vols[i]);
  }
  if (n >= 0)
    free(vols);
  return 0;
}
