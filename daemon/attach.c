/* attach.c: change how an existing volume is exposed, as rbd map and
 * unmap do: attach a volume of frontend none to a frontend, or detach it
 * back to none, keeping its VRAM and contents.  The exposure (frontend,
 * attach, index) is part of the spec, so the state file keeps it. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include "frontends.h"
#include "vramd.h"

/* The part of a spec that says how a volume is exposed. */
struct exposure {
  enum vd_frontend_kind frontend;
  bool attach;
  int index;
};

/* Read a spec's exposure. */
static struct exposure exposure_of(const struct vd_volume_spec *s)
{
  return (struct exposure){ s->frontend, s->attach, s->index };
}

/* Set a spec's exposure; under admin_lock. */
static void set_exposure(struct vd_volume_spec *s, struct exposure e)
{
  s->frontend = e.frontend;
  s->attach = e.attach;
  s->index = e.index;
}

/* Where an exposed volume is, for the 409 of a second attach. */
static const char *exposed_as(const struct vd_volume *v, char *buf, size_t len)
{
  if (v->device_path[0])
    snprintf(buf, len, "%s", v->device_path);
  else
    snprintf(buf, len, "an %s export", vd_frontend_name(v->spec.frontend));
  return buf;
}

/* Find a volume with admin_lock held: a reference, or NULL with err. */
static struct vd_volume *find(struct vramd *d, const char *name, char *err, size_t errlen)
{
  struct vd_volume *v = vd_registry_get(&d->reg, name);
  if (!v)
    snprintf(err, errlen, "no volume '%s'", name);
  return v;
}

/* Check, commit, then expose; on failure the volume is left as it was:
 * frontend none, nothing recorded. */
int vramd_volume_attach(struct vramd *d, const char *name, const struct vd_volume_spec *how,
                        vramd_commit_fn *commit, struct vd_volume **out, char *err,
                        size_t errlen)
{
  const struct vd_frontend *fe = vramd_frontend(d, how->frontend);
  struct exposure was;
  struct vd_volume *v;
  char where[80];
  int rc;

  if (how->frontend == VD_FRONTEND_NONE) {
    snprintf(err, errlen, "frontend none is what detach leaves; attach to nbd or ublk");
    return -EINVAL;
  }
  if ((rc = vd_spec_check_exposure(how, err, errlen)))
    return rc;
  if (!fe) {
    snprintf(err, errlen, "frontend '%s' is not available in this build",
             vd_frontend_name(how->frontend));
    return -EOPNOTSUPP;
  }
  pthread_mutex_lock(&d->admin_lock);
  if (!(v = find(d, name, err, errlen))) {
    rc = -ENOENT;
    goto out_unlock;
  }
  if (v->spec.frontend != VD_FRONTEND_NONE) {
    snprintf(err, errlen, "volume '%s' is already attached (%s); detach it first",
             name, exposed_as(v, where, sizeof where));
    rc = -EALREADY;
    goto out_put;
  }
  was = exposure_of(&v->spec);
  /* NBD clients see it once the frontend says nbd and it is not being
   * withdrawn: keep them out until it is recorded. */
  atomic_store(&v->deleting, true);
  set_exposure(&v->spec, exposure_of(how));
  rc = commit ? commit(d, NULL, NULL, err, errlen) : 0;
  if (rc)
    goto out_restore;
  atomic_store(&v->deleting, false);
  rc = fe->add(&d->host, v, err, errlen);
  if (rc)
    goto out_remove;
  if (out) {
    vd_volume_get(v);
    *out = v;
  }
  goto out_put;

out_remove:
  /* Ends any NBD session that came in meanwhile, and marks it withdrawn. */
  fe->remove(&d->host, v, true, where, sizeof where);
  set_exposure(&v->spec, was);
  vramd_uncommit(d, commit);
  goto out_put;
out_restore:
  set_exposure(&v->spec, was);
out_put:
  vd_volume_put(v);
out_unlock:
  pthread_mutex_unlock(&d->admin_lock);
  return rc;
}

/* Commit frontend none first (a detach that would come back after a
 * restart is refused), then withdraw; a refusal puts it back. */
int vramd_volume_detach(struct vramd *d, const char *name, bool force,
                        vramd_commit_fn *commit, char *err, size_t errlen)
{
  const struct vd_frontend *fe;
  struct exposure was;
  struct vd_volume *v;
  int rc;

  pthread_mutex_lock(&d->admin_lock);
  if (!(v = find(d, name, err, errlen))) {
    rc = -ENOENT;
    goto out_unlock;
  }
  if (v->spec.frontend == VD_FRONTEND_NONE) {
    snprintf(err, errlen, "volume '%s' is not attached", name);
    rc = -ENOTCONN;
    goto out_put;
  }
  if (v->spec.export.nqn[0]) {
    snprintf(err, errlen, "volume '%s' is exported over NVMe/TCP as %s; unexport it first",
             name, v->spec.export.nqn);
    rc = -EBUSY;
    goto out_put;
  }
  fe = vramd_frontend(d, v->spec.frontend);
  was = exposure_of(&v->spec);
  set_exposure(&v->spec, (struct exposure){ VD_FRONTEND_NONE, false, -1 });
  rc = commit ? commit(d, NULL, NULL, err, errlen) : 0;
  if (rc)
    goto out_restore;
  rc = fe ? fe->remove(&d->host, v, force, err, errlen) : 0;
  if (rc) {
    set_exposure(&v->spec, was);
    vramd_uncommit(d, commit);
    goto out_put;
  }
  vd_log_about(VD_LOG_INFO, VD_FIELDS(.volume = name),
               "volume %s: detached from %s%s; it keeps its VRAM and contents", name,
               vd_frontend_name(was.frontend), force ? " (forced)" : "");
  goto out_put;

out_restore:
  set_exposure(&v->spec, was);
out_put:
  vd_volume_put(v);
out_unlock:
  pthread_mutex_unlock(&d->admin_lock);
  return rc;
}
