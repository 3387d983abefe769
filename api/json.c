/* json.c: the daemon's objects as the control API shows them: the
 * daemon (GET /v1), the pool, devices, volumes and jobs.  server.c's routes
 * send these. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api-internal.h"
#include "config.h"
#include "frontend.h"
#include "export-volume.h"
#include "frontends.h"
#include "jobs.h"
#include "list.h"
#include "pinned.h"
#include "safety.h"
#include "settings.h"
#include "state.h"
#include "vramd.h"

/* The swap-safety steps vramd took at start, with the cause of a miss. */
static json_t *safety_json(const struct vd_safety *s)
{
  return json_pack("{s:b, s:s?, s:b, s:s?, s:b, s:i, s:s?}",
                   "mlocked", s->mlocked, "mlock_error",
                   s->mlocked ? NULL : strerror(s->mlock_err),
                   "io_flusher", s->io_flusher, "io_flusher_error",
                   s->io_flusher ? NULL : strerror(s->io_flusher_err),
                   "oom_protected", s->oom_protected, "oom_score_adj", s->oom_score_adj,
                   "oom_error", s->oom_err ? strerror(s->oom_err) : NULL);
}

/* One frontend's pinned staging: per session or queue, how many. */
static json_t *frontend_pinned_json(const struct vd_frontend_pinned *f)
{
  json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I}", "per", f->unit,
                        "staging_bytes", (json_int_t)f->unit_bytes,
                        "now", (json_int_t)f->units,
                        "held_bytes", (json_int_t)(f->unit_bytes * f->units),
                        "max_request_bytes", (json_int_t)f->max_request);
  if (o && f->max_units)
    json_object_set_new(o, "max", json_integer(f->max_units));
  if (o && f->units_per_volume)
    json_object_set_new(o, "max_per_volume", json_integer(f->units_per_volume));
  return o;
}

/* Pinned host memory: held now, the bound the settings put on it, and
 * each part with its settings. */
static json_t *pinned_json(struct vramd *d)
{
  struct vramd_pinned p;
  json_t *o;

  vramd_pinned(d, &p);
  o = json_pack("{s:I, s:I, s:I, s:{s:b, s:I, s:I, s:i, s:I}}",
                "held_bytes", (json_int_t)p.held, "bound_bytes", (json_int_t)p.bound,
                "host_ram_bytes", (json_int_t)p.host_ram,
                "engine", "small_batch", d->cfg.small_batch,
                "small_max_bytes", (json_int_t)d->cfg.small_max,
                "staging_bytes", (json_int_t)d->cfg.small_staging,
                "workers", (int)p.small.workers,
                "held_bytes", (json_int_t)p.small.stage_bytes);
  if (o)
    json_object_set_new(o, "save", json_pack("{s:I, s:i, s:I}", "staging_bytes",
                                             (json_int_t)d->cfg.save_staging, "jobs",
                                             VRAMD_JOBS_RUNNING, "held_bytes",
                                             (json_int_t)p.save));
  for (unsigned i = 0; o && d->cfg.frontends[i]; i++)
    if (p.have[i])
      json_object_set_new(o, d->cfg.frontends[i]->name, frontend_pinned_json(&p.fe[i]));
  return o;
}

/* GET /v1: version, what this build offers, swap safety, pinned memory
 * and whether the state file is saved. */
json_t *vd_api_root_json(struct vramd *d)
{
  json_t *fe = json_array(), *o;
  for (unsigned i = 0; d->cfg.frontends[i]; i++)
    json_array_append_new(fe, json_string(d->cfg.frontends[i]->name));
  const char *tcp = vramd_config_str(&d->cfg, "nbd-listen");
  o = json_pack("{s:s, s:s, s:s, s:[s,s,s], s:o, s:s?, s:s?, s:s?, s:I, s:b}", "name", "vramd",
                "version", PACKAGE_VERSION, "api", "v1", "layouts",
                "stripe", "concat", "mirror", "frontends", fe, "nbd_socket",
                vramd_config_str(&d->cfg, "nbd-socket"), "nbd_listen",
                tcp && tcp[0] ? tcp : NULL, "nbd_tls", vramd_config_str(&d->cfg, "nbd-tls"),
                "started", (json_int_t)d->started,
                "cpu_fallback", vd_pool_cpu_fallback(d->pool));
  if (o) {
    char err[400];
    bool saving = vramd_state_health(d, err, sizeof err);
    json_object_set_new(o, "safety", safety_json(&d->safety));
    json_object_set_new(o, "pinned_host", pinned_json(d));
    json_object_set_new(o, "state", json_pack("{s:s, s:b, s:s?}", "dir", d->cfg.state_dir,
                                              "saving", saving, "error",
                                              saving ? NULL : err));
  }
  return o;
}

/* Device i as it is now: vd_device_json's description plus the bytes
 * available and moved, and whether it is lost. */
json_t *vd_api_device_status_json(struct vramd *d, unsigned i)
{
  uint64_t h2d = 0, d2h = 0;
  vd_engine_device_bytes(d->eng, i, &h2d, &d2h);
  return vd_device_live_json(vd_pool_device(d->pool, i), h2d, d2h);
}

/* Every device's available bytes, for "how much is free where". */
json_t *vd_api_available_json(struct vramd *d)
{
  json_t *arr = json_array();
  for (unsigned i = 0; i < vd_pool_count(d->pool); i++) {
    struct vd_device *dev = vd_pool_device(d->pool, i);
    json_array_append_new(arr, json_pack("{s:s, s:I}", "id", vd_device_info(dev)->id,
                                         "available_bytes",
                                         (json_int_t)vd_device_available(dev)));
  }
  return arr;
}

/* Every volume's size together, and the part of it thin volumes promise
 * beyond what they hold: what over-commit is made of. */
void vd_api_pool_virtual(struct vramd *d, uint64_t *virt, uint64_t *thin_unbacked)
{
  struct vd_volume **vols = NULL;
  int n = vd_registry_list(&d->reg, &vols);

  *virt = *thin_unbacked = 0;
  for (int i = 0; i < n; i++) {
    uint64_t a = vd_volume_allocated(vols[i]);
    *virt += vols[i]->size;
    if (vols[i]->target.stock && vols[i]->size > a)
      *thin_unbacked += vols[i]->size - a;
    vd_volume_put(vols[i]);
  }
  free(vols);
}

/* Virtual size over capacity: above 1, thin volumes promise more than
 * the devices can hold. */
double vd_api_overcommit(uint64_t virt, uint64_t cap)
{
  return cap ? (double)virt / (double)cap : 0.0;
}

/* GET /v1/pool: totals, and what is available where. */
json_t *vd_api_pool_json(struct vramd *d)
{
  uint64_t total = 0, cap = 0, alloc = 0, avail = 0, virt, unbacked;
  json_t *o;
  for (unsigned i = 0; i < vd_pool_count(d->pool); i++) {
    struct vd_device *dev = vd_pool_device(d->pool, i);
    total += vd_device_info(dev)->total_bytes;
    cap += vd_device_info(dev)->capacity_bytes;
    alloc += vd_device_allocated(dev);
    avail += vd_device_available(dev);
  }
  vd_api_pool_virtual(d, &virt, &unbacked);
  o = json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:o}", "devices",
                (int)vd_pool_count(d->pool), "volumes", (int)d->reg.count,
                "total_bytes", (json_int_t)total, "capacity_bytes",
                (json_int_t)cap, "allocated_bytes", (json_int_t)alloc,
                "available_bytes", (json_int_t)avail, "per_device",
                vd_api_available_json(d));
  json_object_set_new(o, "virtual_bytes", json_integer((json_int_t)virt));
  json_object_set_new(o, "thin_unbacked_bytes", json_integer((json_int_t)unbacked));
  json_object_set_new(o, "overcommit_ratio", json_real(vd_api_overcommit(virt, cap)));
  return o;
}

/* One client as the API shows it; kind unix, tcp or kernel. */
static void add_client(void *arg, const struct vd_frontend_client *c)
{
  static const char *const kinds[] = { "unix", "tcp", "kernel" };
  json_t *o = json_pack("{s:s}", "kind", kinds[c->kind]);

  if (c->kind == VD_CLIENT_UNIX && c->pid >= 0) {
    json_object_set_new(o, "pid", json_integer(c->pid));
    json_object_set_new(o, "uid", json_integer(c->uid));
  }
  if (c->kind == VD_CLIENT_TCP)
    json_object_set_new(o, "address", json_string(c->address));
  if (c->kind == VD_CLIENT_KERNEL)
    json_object_set_new(o, "device", json_string(c->device));
  json_array_append_new(arg, o);
}

/* The volume's clients, as its frontend lists them (none: detached). */
static json_t *connections_json(struct vramd *d, struct vd_volume *v)
{
  const struct vd_frontend *fe = vramd_frontend(d, v->spec.frontend);
  json_t *arr = json_array();
  if (fe && fe->clients)
    fe->clients(&d->host, v, add_client, arr);
  return arr;
}

/* A volume's export: as asked, whether the kernel serves it now and on
 * which nvmet port.  Connected hosts are not listed: the target side of
 * Linux 6.12 shows them only in debugfs (CONFIG_NVME_TARGET_DEBUGFS). */
json_t *vd_api_export_json(struct vramd *d, struct vd_volume *v)
{
  json_t *o = vd_export_to_json(&v->spec.export);
  char port[16] = "";
  bool live = vramd_export_live(d, v, port);

  json_object_set_new(o, "live", json_boolean(live));
  if (live)
    json_object_set_new(o, "nvmet_port", json_string(port));
  return o;
}

/* A volume as JSON; detail adds extents, counters and clients.  Byte
 * counts end in _bytes; requests keep the spec's keys (design-decisions.md). */
json_t *vd_api_volume_json(struct vramd *d, struct vd_volume *v, bool detail)
{
  static const char *const ops[4] = { "read", "write", "write_zeroes", "flush" };
  json_t *devs = json_array(), *o;
  char uri[300];

  for (unsigned i = 0; i < v->spec.ndev; i++)
    json_array_append_new(devs, json_string(v->spec.dev_ids[i]));
  snprintf(uri, sizeof uri, "nbd+unix:///%s?socket=%s", v->spec.name,
           vramd_config_str(&d->cfg, "nbd-socket"));
  o = json_pack("{s:s, s:I, s:I, s:s, s:o, s:s, s:b, s:s?, s:s?, s:i}",
                "name", v->spec.name, "size_bytes", (json_int_t)v->size,
                "requested_size_bytes", (json_int_t)v->spec.size,
                "layout", vd_layout_name(v->spec.layout), "devices", devs,
                "frontend", vd_frontend_name(v->spec.frontend), "attach", v->spec.attach,
                "device_path", v->device_path[0] ? v->device_path : NULL,
                "nbd_uri", v->spec.frontend == VD_FRONTEND_NBD ? uri : NULL,
                "clients", (int)atomic_load(&v->clients));
  json_object_set_new(o, "state", json_string(vd_volume_state(v)));
  if (v->target.map.copies > 1) {
    json_object_set_new(o, "copies", json_integer(v->target.map.copies));
    json_object_set_new(o, "copies_healthy",
                        json_integer(vd_mirror_healthy((struct vd_target *)&v->target)));
  }
  json_object_set_new(o, "provisioning", json_string(vd_provisioning_name(v->spec.provisioning)));
  json_object_set_new(o, "allocated_bytes", json_integer((json_int_t)vd_volume_allocated(v)));
  json_object_set_new(o, "integrity", json_string(vd_integrity_name(v->spec.integrity)));
  if (vd_volume_sums(v)) {
    int64_t last = atomic_load(&v->scrub.last_time);
    json_object_set_new(o, "checksum_errors",
                        json_integer((json_int_t)atomic_load(&v->target.sum_errors)));
    if (v->target.map.copies > 1)
      json_object_set_new(o, "checksum_repaired",
                          json_integer((json_int_t)atomic_load(&v->target.healed)));
    if (vd_volume_tail(v) == VD_TAIL_PARITY)
      json_object_set_new(o, "parity_repaired",
                          json_integer((json_int_t)atomic_load(&v->target.par_repaired)));
    int64_t next = atomic_load(&v->scrub.next_time);
    json_object_set_new(o, "scrub", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
      "blocks_total", (json_int_t)atomic_load(&v->scrub.blocks),
      "bad_blocks_total", (json_int_t)atomic_load(&v->scrub.bad),
      "repaired_blocks_total", (json_int_t)atomic_load(&v->scrub.repaired),
      "last_blocks", (json_int_t)atomic_load(&v->scrub.last_blocks),
      "last_bad_blocks", (json_int_t)atomic_load(&v->scrub.last_bad),
      "last_repaired_blocks", (json_int_t)atomic_load(&v->scrub.last_repaired),
      "last_skipped_blocks", (json_int_t)atomic_load(&v->scrub.last_skipped),
      "last_time", last ? json_integer((json_int_t)last) : json_null(),
      "next_time", next ? json_integer((json_int_t)next) : json_null()));
  }
  if (v->target.stock) {
    json_object_set_new(o, "chunk_bytes", json_integer((json_int_t)vd_stock_chunk(v->target.stock)));
    json_object_set_new(o, "enospc_writes", json_integer((json_int_t)atomic_load(&v->target.enospc)));
  }
  if (v->device_conns)
    json_object_set_new(o, "device_connections", json_integer(v->device_conns));
  if (v->spec.layout != VD_LAYOUT_CONCAT)
    json_object_set_new(o, "stripe_unit_bytes", json_integer((json_int_t)v->spec.stripe_unit));
  if (v->spec.index >= 0)
    json_object_set_new(o, "index", json_integer(v->spec.index));
  if (v->spec.export.nqn[0])
    json_object_set_new(o, "export", vd_api_export_json(d, v));
  if (!detail)
    return o;
  json_object_set_new(o, "connections", connections_json(d, v));
  json_t *ext = json_array(), *st = json_object();
  for (unsigned dv = 0; dv < v->target.map.ndev; dv++)
    for (uint32_t i = 0; i < vd_map_extent_count(&v->target.map, dv); i++) {
      struct vd_device *on = vd_volume_where(v, dv, i, NULL);
      /* "on": where it lives now (a drain moves it); null: a thin range
       * that holds no chunk. */
      json_array_append_new(ext, json_pack("{s:s, s:i, s:I, s:s?}", "device", v->spec.dev_ids[dv],
                                           "index", (int)i, "size_bytes",
                                           (json_int_t)vd_map_extent_bytes(&v->target.map, dv, i),
                                           "on", on ? vd_device_info(on)->id : NULL));
    }
  json_object_set_new(o, "extents", ext);
  for (unsigned op = 0; op < 4; op++)
    json_object_set_new(st, ops[op],
                        json_pack("{s:I, s:I, s:I}",
                                  "requests", (json_int_t)atomic_load(&v->stats.ops[op]),
                                  "done_bytes", (json_int_t)atomic_load(&v->stats.bytes[op]),
                                  "errors", (json_int_t)atomic_load(&v->stats.errors[op])));
  json_object_set_new(o, "io", st);
  return o;
}

/* A time as seconds since the epoch, or null when it has not come. */
static json_t *when(time_t t)
{
  return t ? json_integer((json_int_t)t) : json_null();
}

/* A job: what it does, where it is, how fast and how long it has left. */
json_t *vd_api_job_json(const struct vramd_job_info *j)
{
  json_int_t eta = (json_int_t)j->eta; /* whole seconds, rounded up */
  if ((double)eta < j->eta)
    eta++;
  json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
                        "id", (json_int_t)j->id, "kind", j->kind, "target", j->target,
                        "state", vramd_job_state_name(j->state),
                        "cancel_requested", j->cancel_requested,
                        "done_bytes", (json_int_t)j->done_bytes,
                        "total_bytes", (json_int_t)j->total_bytes,
                        "rate_bytes_per_second", (json_int_t)(j->rate + 0.5),
                        "eta_seconds", j->eta < 0 ? json_null() : json_integer(eta),
                        "created", when(j->created), "started", when(j->started),
                        "finished", when(j->finished));
  if (o)
    json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
  return o;
}
