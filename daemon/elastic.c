/* elastic.c: VRAM handed back to the GPUs' other users.  Drain moves
 * everything off a device and leaves it taking nothing; undrain puts it
 * back in service; rebalance moves a volume's extents back to its own
 * devices; repair rebuilds a mirror's lost copies.  The long ones run as
 * jobs (jobs.h) and move extents with move.c, one job at a time: the
 * copier serves one caller. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "elastic.h"
#include "state.h"
#include "util.h"

struct move_job {
  struct vramd *d;
  struct vd_device *dev;   /* drain, yield; repair: where to (NULL: where each fits) */
  struct vd_volume *v;     /* rebalance, repair: a reference */
  uint64_t need;           /* yield: bytes wanted back */
  const char *kind;        /* yield: "yield" or "reserve" */
  bool lower_capacity;     /* yield: take no more than what is left */
};

/* The mover's callbacks, on the job. */
static bool job_cancelled(void *arg) { return vramd_job_cancelled(arg); }
static void job_progress(void *arg, uint64_t bytes) { vramd_job_advance(arg, bytes); }

/* A mover for one job. */
static struct vd_move_ctl mover(struct vramd *d, struct vramd_job *job)
{
  return (struct vd_move_ctl){ .eng = d->eng, .cp = d->copier, .cancelled = job_cancelled,
                               .progress = job_progress, .arg = job };
}

/* Log what a mover did: how much, how fast, and the longest wait. */
static void log_moved(const struct vd_log_fields *f, const char *what,
                      const struct vd_move_ctl *c, uint64_t ns)
{
  char a[32];
  vd_log_about(VD_LOG_INFO, f, "%s: moved %s in %llu extents in %.2f s (%.2f GB/s); requests waited at most %.2f ms",
          what, vd_format_size(c->moved_bytes, a, sizeof a), (unsigned long long)c->moved_extents,
          (double)ns / 1e9, ns ? (double)c->moved_bytes / (double)ns : 0.0,
          (double)c->max_stall_ns / 1e6);
}

/* Free a job's argument. */
static void drop_move_job(void *arg)
{
  struct move_job *m = arg;
  if (m->v)
    vd_volume_put(m->v);
  free(m);
}

/* The drain job: every extent off the device, then drained; on failure
 * or cancel the device is active again with what moved staying moved. */
static int run_drain(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct move_job *m = arg;
  struct vramd *d = m->d;
  const char *id = vd_device_info(m->dev)->id;
  struct vd_move_ctl c = mover(d, job);
  uint64_t t0 = vd_now_ns();
  char e[128];
  int rc;

  pthread_mutex_lock(&d->move_lock);
  rc = vd_drain(&c, &d->reg, d->pool, m->dev, err, errlen);
  pthread_mutex_unlock(&d->move_lock);
  log_moved(VD_FIELDS(.device = id), id, &c, vd_now_ns() - t0);
  if (!rc && vd_device_set_state(m->dev, VD_DEV_DRAINED, e, sizeof e) == 0) {
    vd_log_about(VD_LOG_INFO, VD_FIELDS(.device = id),
                 "%s: drained; it takes no new data until 'vramctl device undrain %s'", id, id);
  } else {
    vd_device_set_state(m->dev, VD_DEV_ACTIVE, e, sizeof e);
    vd_log_about(VD_LOG_WARNING, VD_FIELDS(.device = id),
                 "%s: drain ended (%s); the device is active again", id, rc ? err : e);
  }
  return rc;
}

/* The rebalance job: a volume's extents back to their home devices. */
static int run_rebalance(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct move_job *m = arg;
  struct vd_move_ctl c = mover(m->d, job);
  uint64_t t0 = vd_now_ns();
  char what[VD_NAME_MAX + 32];
  int rc;

  pthread_mutex_lock(&m->d->move_lock);
  rc = vd_rebalance(&c, m->v, err, errlen);
  pthread_mutex_unlock(&m->d->move_lock);
  snprintf(what, sizeof what, "volume %s: rebalance", m->v->spec.name);
  log_moved(VD_FIELDS(.volume = m->v->spec.name), what, &c, vd_now_ns() - t0);
  return rc;
}

/* The repair job: a mirror's stale copies rebuilt, then its definition
 * saved, since a copy may live on another device now. */
static int run_repair(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct move_job *m = arg;
  struct vramd *d = m->d;
  struct vd_volume *v = m->v;
  struct vd_move_ctl c = mover(d, job);
  uint64_t t0 = vd_now_ns();
  char what[VD_NAME_MAX + 32], e[256];
  int rc;

  pthread_mutex_lock(&d->move_lock);
  rc = vd_volume_repair(&c, v, m->dev, d->pool, err, errlen);
  pthread_mutex_unlock(&d->move_lock);
  snprintf(what, sizeof what, "volume %s: repair", v->spec.name);
  log_moved(VD_FIELDS(.volume = v->spec.name), what, &c, vd_now_ns() - t0);
  pthread_mutex_lock(&d->admin_lock);
  for (uint32_t l = 0; l < v->target.map.ndev; l++)
    snprintf(v->spec.dev_ids[l], VD_DEV_ID_MAX, "%s", vd_device_info(v->target.dev[l])->id);
  if (vramd_state_save(d, NULL, NULL, e, sizeof e))
    vd_log_about(VD_LOG_WARNING, VD_FIELDS(.volume = v->spec.name),
                 "volume %s: its new devices are not saved: %s", v->spec.name, e);
  pthread_mutex_unlock(&d->admin_lock);
  return rc;
}

/* Check and start a job rebuilding a mirror's stale copies. */
int vramd_volume_repair(struct vramd *d, const char *name, const char *device, uint32_t *job,
                        char *err, size_t errlen)
{
  struct vramd_job_desc desc = { .kind = "repair", .target = name, .run = run_repair,
                                 .drop = drop_move_job };
  struct vd_volume *v = vd_registry_get(&d->reg, name);
  struct vd_device *to = NULL;
  struct move_job *m = NULL;
  int rc = 0;

  if (!v) {
    snprintf(err, errlen, "no volume '%s'", name);
    return -ENOENT;
  }
  if (device && device[0] && !(to = vd_pool_find(d->pool, device))) {
    snprintf(err, errlen, "no device '%s' (see 'vramctl device list')", device);
    rc = -ENOENT;
  } else if (v->target.map.copies <= 1) {
    snprintf(err, errlen, "volume %s is not a mirror: it keeps one copy of each byte", name);
    rc = -EINVAL;
  } else if (vd_volume_failed(v)) {
    snprintf(err, errlen, "volume %s failed: some of its data has no copy left to rebuild "
             "from; delete it", name);
    rc = -EIO;
  } else if (to && vd_device_is_lost(to)) {
    snprintf(err, errlen, "%s is lost: name an active device, or none", device);
    rc = -ENODEV;
  } else if (!(desc.total_bytes = vd_volume_repair_bytes(v))) {
    snprintf(err, errlen, "volume %s: every copy is in sync; nothing to repair", name);
    rc = -EALREADY;
  } else if (!(m = calloc(1, sizeof *m))) {
    snprintf(err, errlen, "out of host memory");
    rc = -ENOMEM;
  }
  if (rc) {
    vd_volume_put(v);
    return rc;
  }
  m->d = d;
  m->v = v;
  m->dev = to;
  desc.arg = m;
  return vramd_job_start(&d->jobs, &desc, job, err, errlen);
}

/* Check, mark the device draining and start its job. */
int vramd_device_drain(struct vramd *d, const char *id, uint32_t *job, char *err, size_t errlen)
{
  struct vd_device *dev = vd_pool_find(d->pool, id);
  struct vramd_job_desc desc = { .kind = "drain", .target = id, .run = run_drain,
                                 .drop = drop_move_job };
  struct move_job *m;
  enum vd_dev_state st;
  char e[128];
  int rc;

  if (!dev) {
    snprintf(err, errlen, "no device '%s' (see 'vramctl device list')", id);
    return -ENOENT;
  }
  pthread_mutex_lock(&d->admin_lock);
  st = vd_device_state(dev);
  if (st != VD_DEV_ACTIVE) {
    snprintf(err, errlen, "%s is %s%s", id, vd_dev_state_name(st),
             st == VD_DEV_FAILED ? "; nothing on it can be moved" :
             st == VD_DEV_DRAINING ? "; see 'vramctl job list'" : " already");
    rc = st == VD_DEV_FAILED ? -ENODEV : -EBUSY;
    goto out_unlock;
  }
  rc = vd_drain_check(&d->reg, d->pool, dev, err, errlen);
  if (rc)
    goto out_unlock;
  m = calloc(1, sizeof *m);
  if (!m) {
    snprintf(err, errlen, "out of host memory");
    rc = -ENOMEM;
    goto out_unlock;
  }
  m->d = d;
  m->dev = dev;
  desc.arg = m;
  desc.total_bytes = vd_volumes_bytes_on(&d->reg, dev);
  /* Draining before the job starts: nothing new lands there meanwhile. */
  rc = vd_device_set_state(dev, VD_DEV_DRAINING, err, errlen);
  if (rc) {
    free(m);
    goto out_unlock;
  }
  vd_stock_kick(d->stock); /* its ready chunks go back to the driver */
  rc = vramd_job_start(&d->jobs, &desc, job, err, errlen);
  if (rc)
    vd_device_set_state(dev, VD_DEV_ACTIVE, e, sizeof e);
out_unlock:
  pthread_mutex_unlock(&d->admin_lock);
  return rc;
}

/* Put a drained device back in service. */
int vramd_device_undrain(struct vramd *d, const char *id, char *err, size_t errlen)
{
  struct vd_device *dev = vd_pool_find(d->pool, id);
  enum vd_dev_state st;
  int rc = 0;

  if (!dev) {
    snprintf(err, errlen, "no device '%s' (see 'vramctl device list')", id);
    return -ENOENT;
  }
  pthread_mutex_lock(&d->admin_lock);
  st = vd_device_state(dev);
  if (st == VD_DEV_DRAINING) {
    snprintf(err, errlen, "%s is being drained: cancel its job first (vramctl job list)", id);
    rc = -EBUSY;
  } else if (st == VD_DEV_FAILED) {
    snprintf(err, errlen, "%s is lost; restart vramd once it is back", id);
    rc = -ENODEV;
  } else if (st == VD_DEV_DRAINED) {
    rc = vd_device_set_state(dev, VD_DEV_ACTIVE, err, errlen);
    if (!rc)
      vd_log_about(VD_LOG_INFO, VD_FIELDS(.device = id),
                   "%s: back in service ('vramctl volume rebalance' spreads volumes again)", id);
  }
  pthread_mutex_unlock(&d->admin_lock);
  return rc;
}

/* Start a job moving a volume's extents back home. */
int vramd_volume_rebalance(struct vramd *d, const char *name, uint32_t *job, char *err,
                           size_t errlen)
{
  struct vramd_job_desc desc = { .kind = "rebalance", .target = name, .run = run_rebalance,
                                 .drop = drop_move_job };
  struct move_job *m;
  struct vd_volume *v = vd_registry_get(&d->reg, name);

  if (!v) {
    snprintf(err, errlen, "no volume '%s'", name);
    return -ENOENT;
  }
  m = calloc(1, sizeof *m);
  if (!m) {
    vd_volume_put(v);
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  m->d = d;
  m->v = v;
  desc.arg = m;
  desc.total_bytes = vd_volume_bytes_away(v);
  return vramd_job_start(&d->jobs, &desc, job, err, errlen);
}

/* The yield job: stop taking more of the device than is left once need
 * is given back, free its ready chunks, then move extents away, thin
 * chunks first.  What finds no room elsewhere is reported, and vramd
 * keeps serving it. */
static int run_yield(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct move_job *m = arg;
  struct vramd *d = m->d;
  struct vd_device *dev = m->dev;
  const struct vd_device_info *in = vd_device_info(dev);
  struct vd_move_ctl c = mover(d, job);
  uint64_t alloc = vd_device_allocated(dev), give = m->need < alloc ? m->need : alloc;
  uint64_t cap = alloc - give, freed = 0, t0 = vd_now_ns(), left;
  struct vd_extent *e;
  char a[32], b[32], what[VD_DEV_ID_MAX + 16];
  int rc = 0;

  if (m->lower_capacity)
    vd_device_set_reserve(dev, in->free_bytes > cap ? in->free_bytes - cap : in->free_bytes,
                          NULL, err, errlen);
  while (freed < give && (e = vd_stock_take(d->stock, in->index))) {
    freed += vd_extent_bytes(e);
    vramd_job_advance(job, vd_extent_bytes(e));
    vd_extent_free(e);
  }
  if (freed < give) {
    pthread_mutex_lock(&d->move_lock);
    rc = vd_evacuate(&c, &d->reg, d->pool, dev, give - freed, err, errlen);
    pthread_mutex_unlock(&d->move_lock);
  }
  left = give > freed + c.moved_bytes ? give - freed - c.moved_bytes : 0;
  vd_device_set_yield_short(dev, left);
  snprintf(what, sizeof what, "%s: %s", in->id, m->kind);
  log_moved(VD_FIELDS(.device = in->id), what, &c, vd_now_ns() - t0);
  if (left)
    vd_log_about(VD_LOG_WARNING, VD_FIELDS(.device = in->id),
                 "%s: %s more is wanted back but no other device has room for it; vramd "
                 "keeps serving it there", in->id, vd_format_size(left, a, sizeof a));
  else
    vd_log_about(VD_LOG_INFO, VD_FIELDS(.device = in->id),
                 "%s: gave back %s (%s of ready chunks)", in->id,
                 vd_format_size(give, a, sizeof a), vd_format_size(freed, b, sizeof b));
  return rc == -ENOSPC ? 0 : rc;
}

/* Start a job giving need bytes of dev back; kind says why. */
static int start_give_back(struct vramd *d, struct vd_device *dev, uint64_t need,
                           const char *kind, bool lower_capacity, uint32_t *job,
                           char *err, size_t errlen)
{
  struct vramd_job_desc desc = { .kind = kind, .target = vd_device_info(dev)->id,
                                 .run = run_yield, .drop = drop_move_job };
  struct move_job *m = calloc(1, sizeof *m);
  uint64_t alloc = vd_device_allocated(dev);

  if (!m) {
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  m->d = d;
  m->dev = dev;
  m->need = need;
  m->kind = kind;
  m->lower_capacity = lower_capacity;
  desc.arg = m;
  desc.total_bytes = need < alloc ? need : alloc;
  return vramd_job_start(&d->jobs, &desc, job, err, errlen);
}

/* The keeper says dev is short of its floor by need: give it back. */
void vramd_yield(void *arg, struct vd_device *dev, uint64_t need)
{
  struct vramd *d = arg;
  char err[256], a[32];
  uint32_t job;

  vd_log_about(VD_LOG_INFO, VD_FIELDS(.device = vd_device_info(dev)->id),
               "%s: free memory is %s under its yield floor: another process wants it",
               vd_device_info(dev)->id, vd_format_size(need, a, sizeof a));
  if (start_give_back(d, dev, need, "yield", true, &job, err, sizeof err))
    vd_warn_rl("%s: cannot start a yield: %s", vd_device_info(dev)->id, err);
}

/* Move what lies inside a device's reserve now (after it was raised). */
int vramd_device_give_back(struct vramd *d, const char *id, uint32_t *job, char *err,
                           size_t errlen)
{
  struct vd_device *dev = vd_pool_find(d->pool, id);
  if (!dev) {
    snprintf(err, errlen, "no device '%s' (see 'vramctl device list')", id);
    return -ENOENT;
  }
  return start_give_back(d, dev, vd_device_inside_reserve(dev), "reserve", false, job, err,
                         errlen);
}

struct create_job {
  struct vramd *d;
  struct vd_volume_spec spec;
};

/* The allocator's callbacks, on the job. */
static bool create_cancelled(void *arg) { return vramd_job_cancelled(arg); }
static void create_progress(void *arg, uint64_t bytes) { vramd_job_advance(arg, bytes); }

/* The create job: make and zero the VRAM with progress, stopping between
 * extents when cancelled (nothing is left: the volume was never seen). */
static int run_create(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct create_job *c = arg;
  struct vd_alloc_ctl ctl = { .cancelled = create_cancelled, .progress = create_progress,
                              .arg = job };
  return vramd_volume_create_ctl(c->d, &c->spec, vramd_state_save, &ctl, NULL, err, errlen);
}

/* Start a job that creates a volume. */
int vramd_volume_create_job(struct vramd *d, const struct vd_volume_spec *spec, uint32_t *job,
                            char *err, size_t errlen)
{
  struct vramd_job_desc desc = { .kind = "create", .target = spec->name, .run = run_create,
                                 .drop = free };
  struct create_job *c = calloc(1, sizeof *c);

  if (!c) {
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  c->d = d;
  c->spec = *spec;
  desc.arg = c;
  desc.total_bytes = spec->provisioning == VD_PROV_THIN ? 0 : spec->size;
  return vramd_job_start(&d->jobs, &desc, job, err, errlen);
}
