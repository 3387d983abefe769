/* server.c: the libmicrohttpd servers and the routes of the control API.
 *
 * One polling thread (epoll) per listener receives requests and sends
 * answers, so a slow or idle client costs a connection's memory, never a
 * thread; guard.c puts a deadline on both and caps connections per peer.
 * Reads are answered on the polling thread; requests that change things
 * run on worker.c's thread with their connection suspended, so a long
 * create holds up neither reads nor the deadlines.  Each connection serves
 * one request (Connection: close), so its deadline is the request's.
 * What the routes answer is made in json.c. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api-internal.h"
#include "api.h"
#include "fault.h"
#include "integrity.h"
#include "guard.h"
#include "elastic.h"
#include "export-volume.h"
#include "job-sleep.h"
#include "jobs.h"
#include "peer.h"
#include "save.h"
#include "state.h"
#include "vramd.h"
#include "worker.h"

struct server {
  struct vramd *d;
  bool metrics_only;
  struct MHD_Daemon *mhd;
  struct vd_guard *guard;
  struct vd_worker *worker; /* API only: runs what changes things */
};

struct vd_api {
  struct server api, metrics;
};

/* Per-request state: the body read so far, the answer once made. */
struct req {
  struct vd_job job;          /* first: a job is its request */
  struct server *s;
  const char *url, *method;   /* in the connection's memory while it lives */
  const char *force;          /* ?force=, looked up before a job runs */
  const char *as_job;         /* ?job= on a create, likewise */
  struct vd_buf body;
  size_t body_len;            /* bytes received (metrics: not kept) */
  bool routed;
  unsigned status;
  struct MHD_Response *resp;
  char said[200];             /* an error's message, a new Location or what changed, for the log */
};

/* Make the request's answer from a body we own; frees body.  It is
 * queued by answer(), on the polling thread. */
static enum MHD_Result send_text(struct req *c, unsigned status,
                                 const char *type, char *body, size_t len,
                                 const char *location)
{
  struct MHD_Response *r;

  r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  /* 204 has no body, so no type; on a 405 the last argument is Allow. */
  if (status != MHD_HTTP_NO_CONTENT)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, location ? location : "GET");
  else if (location) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    snprintf(c->said, sizeof c->said, "%.*s", (int)sizeof c->said - 1, location);
  }
  if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
  if (c->resp)
    MHD_destroy_response(c->resp);
  c->resp = r;
  c->status = status;
  return MHD_YES;
}

/* Send a JSON document (reference stolen). */
static enum MHD_Result send_json(struct req *c, unsigned status,
                                 json_t *doc, const char *location)
{
  char *s;
  if (!doc)
    return MHD_NO;
  s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(doc);
  if (!s)
    return MHD_NO;
  size_t n = strlen(s);
  char *t = realloc(s, n + 2); /* a trailing newline for terminals */
  if (t) {
    t[n++] = '\n';
    t[n] = '\0';
    s = t;
  }
  return send_text(c, status, "application/json", s, n,
                   status == MHD_HTTP_METHOD_NOT_ALLOWED ? NULL : location);
}

/* The error envelope, with optional extra members merged into "error". */
__attribute__((format(printf, 5, 6)))
static enum MHD_Result send_error(struct req *c, unsigned status,
                                  const char *code, json_t *extra,
                                  const char *fmt, ...)
{
  char msg[600];
  json_t *e;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(c->said, sizeof c->said, "%.*s", (int)sizeof c->said - 1, msg);
  e = json_pack("{s:s, s:s}", "code", code, "message", msg);
  if (extra) {
    json_object_update(e, extra);
    json_decref(extra);
  }
  return send_json(c, status, json_pack("{s:o}", "error", e), NULL);
}

/* 405 with the methods the path allows. */
static enum MHD_Result not_allowed(struct req *c, const char *method,
                                   const char *allow)
{
  char msg[128];
  json_t *doc;
  char *s;
  snprintf(msg, sizeof msg, "method %.20s is not allowed here; use %s", method, allow);
  doc = json_pack("{s:{s:s, s:s}}", "error", "code", "method_not_allowed", "message", msg);
  s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(doc);
  if (!s)
    return MHD_NO;
  return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", s, strlen(s), allow);
}

/* Decode %XX escapes of one path segment; false on a NUL, a bad escape or
 * a segment too long for out. */
static bool decode_segment(const char *in, char *out, size_t len)
{
  size_t o = 0;
  for (; *in; in++) {
    unsigned v;
    char hex[3];
    if (o + 1 >= len)
      return false;
    if (*in != '%') {
      out[o++] = *in;
      continue;
    }
    if (!in[1] || !in[2])
      return false;
    memcpy(hex, in + 1, 2);
    hex[2] = '\0';
    if (sscanf(hex, "%2x", &v) != 1 || v == 0)
      return false;
    out[o++] = (char)v;
    in += 2;
  }
  out[o] = '\0';
  return true;
}

/* MHD unescape hook: keep the raw URL so a %00 cannot cut a name short;
 * decode_segment() decodes and checks path segments itself. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *uri)
{
  (void)cls;
  (void)c;
  return strlen(uri);
}

/* GET /v1. */
static enum MHD_Result get_root(struct vramd *d, struct req *c)
{
  return send_json(c, MHD_HTTP_OK, vd_api_root_json(d), NULL);
}

/* GET /v1/devices and /v1/devices/{id}. */
static enum MHD_Result get_devices(struct vramd *d, struct req *c,
                                   const char *id)
{
  json_t *arr;
  if (id) {
    for (unsigned i = 0; i < vd_pool_count(d->pool); i++)
      if (!strcmp(vd_device_info(vd_pool_device(d->pool, i))->id, id))
        return send_json(c, MHD_HTTP_OK, vd_api_device_status_json(d, i), NULL);
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_device", NULL,
                      "no device '%.32s' (GET /v1/devices lists them)", id);
  }
  arr = json_array();
  for (unsigned i = 0; i < vd_pool_count(d->pool); i++)
    json_array_append_new(arr, vd_api_device_status_json(d, i));
  return send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "devices", arr), NULL);
}

static enum MHD_Result job_started(struct vramd *d, struct req *c, int rc, uint32_t id,
                                   const char *err);
static enum MHD_Result elastic_error(struct vramd *d, struct req *c, int rc, const char *err);

/* PATCH /v1/devices/{id}: a new reserve applies to allocations at once
 * (what lies inside it stays, unless "drain" starts a job moving it
 * off: 202 with the job); a yield floor is watched from then on. */
static enum MHD_Result patch_device(struct vramd *d, struct req *c, const char *id)
{
  struct vd_device *dev = vd_pool_find(d->pool, id);
  struct vd_device_patch p;
  struct vd_api_error e;
  uint64_t inside = 0;
  char err[256], r[32], cap[32], in[32], fl[32];
  uint32_t job;
  int rc;

  if (!dev)
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_device", NULL,
                      "no device '%.32s' (GET /v1/devices lists them)", id);
  if (vd_api_parse_device_patch(c->body.s ? c->body.s : "", c->body.len, &p, &e))
    return send_error(c, MHD_HTTP_BAD_REQUEST, e.code,
                      e.field[0] ? json_pack("{s:s}", "field", e.field) : NULL,
                      "%s", e.message);
  if (p.has_reserve && vd_device_set_reserve(dev, p.reserve, &inside, err, sizeof err))
    return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_field",
                      json_pack("{s:s}", "field", "reserve_bytes"), "%s", err);
  if (p.has_yield_floor)
    vd_device_set_yield_floor(dev, p.yield_floor);
  snprintf(c->said, sizeof c->said, "reserve %s, capacity %s, %s allocated inside the reserve, "
           "yield floor %s", vd_format_size(vd_device_info(dev)->reserve_bytes, r, sizeof r),
           vd_format_size(vd_device_info(dev)->capacity_bytes, cap, sizeof cap),
           vd_format_size(inside, in, sizeof in),
           vd_format_size(vd_device_yield_floor(dev), fl, sizeof fl));
  if (p.drain && inside) {
    rc = vramd_device_give_back(d, id, &job, err, sizeof err);
    return rc ? elastic_error(d, c, rc, err) : job_started(d, c, 0, job, err);
  }
  return send_json(c, MHD_HTTP_OK, vd_api_device_status_json(d, vd_device_info(dev)->index),
                   NULL);
}

/* The errno of a drain, undrain or rebalance as its HTTP answer; a job
 * that could not start answers as job_started says. */
static enum MHD_Result elastic_error(struct vramd *d, struct req *c, int rc, const char *err)
{
  switch (rc) {
  case -ENOENT: return send_error(c, MHD_HTTP_NOT_FOUND, "not_found", NULL, "%s", err);
  case -EBUSY: return send_error(c, MHD_HTTP_CONFLICT, "busy_device", NULL, "%s", err);
  case -ENODEV: return send_error(c, MHD_HTTP_CONFLICT, "device_lost", NULL, "%s", err);
  case -ENOSPC: return send_error(c, 507, "no_space", NULL, "%s", err);
  default: return job_started(d, c, rc, 0, err);
  }
}

/* POST /v1/devices/{id}/drain and /undrain. */
static enum MHD_Result device_action(struct vramd *d, struct req *c, const char *id,
                                     const char *action)
{
  char err[400];
  uint32_t job;
  int rc;

  if (!strcmp(action, "drain")) {
    rc = vramd_device_drain(d, id, &job, err, sizeof err);
    snprintf(c->said, sizeof c->said, "drain: %.180s", rc ? err : "started");
    return rc ? elastic_error(d, c, rc, err) : job_started(d, c, 0, job, err);
  }
  rc = vramd_device_undrain(d, id, err, sizeof err);
  snprintf(c->said, sizeof c->said, "undrain: %.180s", rc ? err : "active");
  if (rc)
    return elastic_error(d, c, rc, err);
  return send_json(c, MHD_HTTP_OK,
                   vd_api_device_status_json(d, vd_device_info(vd_pool_find(d->pool, id))->index),
                   NULL);
}

/* POST /v1/volumes/{name}/scrub: 409 no_checksums for a volume
 * without integrity. */
static enum MHD_Result volume_scrub(struct vramd *d, struct req *c, const char *name)
{
  char err[400];
  uint32_t job;
  int rc = vramd_volume_scrub(d, name, &job, err, sizeof err);
  snprintf(c->said, sizeof c->said, "scrub: %.180s", rc ? err : "started");
  if (rc == -EINVAL)
    return send_error(c, MHD_HTTP_CONFLICT, "no_checksums", NULL, "%s", err);
  if (rc == -EBUSY)
    return send_error(c, MHD_HTTP_CONFLICT, "scrub_running", NULL, "%s", err);
  return rc ? elastic_error(d, c, rc, err) : job_started(d, c, 0, job, err);
}

/* POST /v1/volumes/{name}/rebalance. */
static enum MHD_Result volume_rebalance(struct vramd *d, struct req *c, const char *name)
{
  char err[400];
  uint32_t job;
  int rc = vramd_volume_rebalance(d, name, &job, err, sizeof err);
  snprintf(c->said, sizeof c->said, "rebalance: %.180s", rc ? err : "started");
  return rc ? elastic_error(d, c, rc, err) : job_started(d, c, 0, job, err);
}

/* POST /v1/volumes/{name}/repair: a mirror's stale copies rebuilt as a job. */
static enum MHD_Result volume_repair(struct vramd *d, struct req *c, const char *name)
{
  struct vd_api_error e;
  char err[400], dev[VD_DEV_ID_MAX];
  uint32_t job;
  int rc;

  if (vd_api_parse_repair(c->body.s ? c->body.s : "", c->body.len, dev, sizeof dev, &e))
    return send_error(c, MHD_HTTP_BAD_REQUEST, e.code,
                      e.field[0] ? json_pack("{s:s}", "field", e.field) : NULL,
                      "%s", e.message);
  rc = vramd_volume_repair(d, name, dev, &job, err, sizeof err);
  snprintf(c->said, sizeof c->said, "repair: %.180s", rc ? err : "started");
  switch (rc) {
  case 0: return job_started(d, c, 0, job, err);
  case -EINVAL: return send_error(c, MHD_HTTP_BAD_REQUEST, "not_a_mirror", NULL, "%s", err);
  case -EALREADY: return send_error(c, MHD_HTTP_CONFLICT, "nothing_to_repair", NULL, "%s", err);
  case -EIO: return send_error(c, MHD_HTTP_CONFLICT, "volume_failed", NULL, "%s", err);
  default: return elastic_error(d, c, rc, err);
  }
}

static bool force_query(struct req *c, bool *force);

/* The caller of a request (SO_PEERCRED): false after a 403 was queued. */
static bool caller_of(struct req *c, struct vramd_caller *who, enum MHD_Result *ret)
{
  const union MHD_ConnectionInfo *i =
    MHD_get_connection_info(c->job.conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct ucred cr;

  if (!i || vd_peer_cred(i->connect_fd, &cr)) {
    *ret = send_error(c, MHD_HTTP_FORBIDDEN, "forbidden", NULL,
                      "files are read and written as the caller, and this one is unknown");
    return false;
  }
  who->uid = cr.uid;
  who->gid = cr.gid;
  who->pid = cr.pid;
  return true;
}

static enum MHD_Result create_error(struct vramd *d, struct req *c, int rc, const char *err);

/* The answer to a save, restore or load that did not start: the file's
 * errors here, the create's as a create answers them. */
static enum MHD_Result image_error(struct vramd *d, struct req *c, int rc, const char *err)
{
  switch (rc) {
  case -ENOENT: return send_error(c, MHD_HTTP_NOT_FOUND, "not_found", NULL, "%s", err);
  case -EINVAL:
  case -EXDEV: return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_path", NULL, "%s", err);
  case -EFBIG: return send_error(c, MHD_HTTP_BAD_REQUEST, "image_too_large", NULL, "%s", err);
  case -EACCES:
  case -EPERM: return send_error(c, MHD_HTTP_FORBIDDEN, "forbidden", NULL, "%s", err);
  case -EBUSY: return send_error(c, MHD_HTTP_CONFLICT, "busy", NULL, "%s", err);
  case -EAGAIN:
  case -ESHUTDOWN: return job_started(d, c, rc, 0, err);
  default: return create_error(d, c, rc, err);
  }
}

/* POST /v1/volumes/{name}/save and /restore[?force=true]: {"path": ...},
 * 202 with the job. */
static enum MHD_Result volume_image(struct vramd *d, struct req *c, const char *name, bool save)
{
  struct vramd_caller who;
  struct vd_api_error e;
  enum MHD_Result ret;
  char path[PATH_MAX], err[512];
  uint32_t job;
  bool force;
  int rc;

  if (!force_query(c, &force))
    return MHD_YES;
  if (vd_api_parse_image(c->body.s ? c->body.s : "", c->body.len, path, sizeof path, &e))
    return send_error(c, MHD_HTTP_BAD_REQUEST, e.code,
                      e.field[0] ? json_pack("{s:s}", "field", e.field) : NULL, "%s", e.message);
  if (!caller_of(c, &who, &ret))
    return ret;
  rc = save ? vramd_volume_save(d, name, path, &who, &job, err, sizeof err)
            : vramd_volume_restore(d, name, path, force, &who, &job, err, sizeof err);
  snprintf(c->said, sizeof c->said, "%s %.120s: %.60s", save ? "save to" : "restore from",
           path, rc ? err : "started");
  return rc ? image_error(d, c, rc, err) : job_started(d, c, 0, job, err);
}

/* POST /v1/volumes with "from": create unexposed and load, 202 with the job. */
static enum MHD_Result create_from(struct vramd *d, struct req *c,
                                   const struct vd_volume_spec *spec, const char *from,
                                   bool size_from_image)
{
  struct vramd_caller who;
  enum MHD_Result ret;
  char err[512];
  uint32_t job;
  int rc;

  if (!caller_of(c, &who, &ret))
    return ret;
  rc = vramd_volume_create_from(d, spec, size_from_image, from, &who, &job, err, sizeof err);
  snprintf(c->said, sizeof c->said, "create from %.120s: %.60s", from, rc ? err : "started");
  return rc ? image_error(d, c, rc, err) : job_started(d, c, 0, job, err);
}

/* Split "NAME/ACTION" (an action route) into name and action; false when
 * there is no "/". */
static bool split_action(const char *rest, char *name, size_t len, const char **action)
{
  const char *slash = strchr(rest, '/');
  if (!slash || (size_t)(slash - rest) >= len)
    return false;
  memcpy(name, rest, (size_t)(slash - rest));
  name[slash - rest] = '\0';
  *action = slash + 1;
  return true;
}

/* GET /v1/pool. */
static enum MHD_Result get_pool(struct vramd *d, struct req *c)
{
  return send_json(c, MHD_HTTP_OK, vd_api_pool_json(d), NULL);
}

/* GET /v1/volumes. */
static enum MHD_Result list_volumes(struct vramd *d, struct req *c)
{
  struct vd_volume **vols;
  json_t *arr = json_array();
  int n = vd_registry_list(&d->reg, &vols);

  if (n < 0) {
    json_decref(arr);
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    json_array_append_new(arr, vd_api_volume_json(d, vols[i], false));
    vd_volume_put(vols[i]);
  }
  free(vols);
  return send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "volumes", arr), NULL);
}

/* GET /v1/volumes/{name}. */
static enum MHD_Result get_volume(struct vramd *d, struct req *c,
                                  const char *name)
{
  struct vd_volume *v = vd_registry_get(&d->reg, name);
  json_t *o;
  if (!v)
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_volume", NULL, "no volume '%s'", name);
  o = vd_api_volume_json(d, v, true);
  vd_volume_put(v);
  return send_json(c, MHD_HTTP_OK, o, NULL);
}

/* POST /v1/volumes. */
static enum MHD_Result create_volume(struct vramd *d, struct req *c)
{
  struct vd_volume_spec spec;
  struct vd_api_error e;
  struct vd_volume *v = NULL;
  char err[512], loc[128], from[PATH_MAX];
  bool size_from_image;
  int rc;

  if (vd_api_parse_create_from(c->body.s ? c->body.s : "", c->body.len, &spec, from,
                               sizeof from, &size_from_image, &e))
    return send_error(c, MHD_HTTP_BAD_REQUEST, e.code,
                      e.field[0] ? json_pack("{s:s}", "field", e.field) : NULL,
                      "%s", e.message);
  if (vd_spec_check_exposure(&spec, err, sizeof err))
    return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_volume", NULL, "%s", err);
  if (spec.persist[0]) {
    struct vramd_caller who;
    enum MHD_Result ret;
    if (!caller_of(c, &who, &ret))
      return ret;
    if (who.uid != 0)
      return send_error(c, MHD_HTTP_FORBIDDEN, "forbidden", NULL,
                        "only root may set persist: vramd writes the image as root at every "
                        "stop");
  }
  if (from[0])
    return create_from(d, c, &spec, from, size_from_image);
  if (c->as_job && strcmp(c->as_job, "false") && strcmp(c->as_job, "0")) {
    uint32_t job;
    if (strcmp(c->as_job, "true") && strcmp(c->as_job, "1"))
      return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_query", NULL,
                        "job must be true or false");
    /* The name and the room are answered now, the driver in the job. */
    rc = vramd_volume_check(d, &spec, err, sizeof err);
    if (!rc)
      rc = vramd_volume_create_job(d, &spec, &job, err, sizeof err);
    if (!rc || rc == -EAGAIN || rc == -ESHUTDOWN)
      return job_started(d, c, rc, job, err);
    return create_error(d, c, rc, err);
  }
  rc = vramd_volume_create(d, &spec, vramd_state_save, &v, err, sizeof err);
  if (rc)
    return create_error(d, c, rc, err);
  snprintf(loc, sizeof loc, "/v1/volumes/%s", v->spec.name);
  json_t *o = vd_api_volume_json(d, v, true);
  vd_volume_put(v);
  return send_json(c, MHD_HTTP_CREATED, o, loc);
}

/* Why a create failed, as its HTTP answer. */
static enum MHD_Result create_error(struct vramd *d, struct req *c, int rc, const char *err)
{
  switch (rc) {
  case -EEXIST:
    return send_error(c, MHD_HTTP_CONFLICT, "volume_exists", NULL, "%s", err);
  case -ENOSPC:
  case -ENOMEM:
    return send_error(c, MHD_HTTP_INSUFFICIENT_STORAGE, "no_space",
                      json_pack("{s:o}", "devices", vd_api_available_json(d)), "%s", err);
  case -EOPNOTSUPP:
    return send_error(c, MHD_HTTP_NOT_IMPLEMENTED, "frontend_unavailable", NULL, "%s", err);
  case -EINVAL:
    return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_volume", NULL, "%s", err);
  case -VRAMD_E_STATE:
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "state_not_saved", NULL, "%s", err);
  default:
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, "%s", err);
  }
}

/* ?force=true|false|1|0 into *force; false after a 400 was queued. */
static bool force_query(struct req *c, bool *force)
{
  const char *f = c->force;
  *force = f && (!strcmp(f, "true") || !strcmp(f, "1"));
  if (!f || *force || !strcmp(f, "false") || !strcmp(f, "0"))
    return true;
  send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_query", NULL, "force must be true or false");
  return false;
}

/* DELETE /v1/volumes/{name}[?force=true]. */
static enum MHD_Result delete_volume(struct vramd *d, struct req *c,
                                     const char *name)
{
  bool force;
  char err[512];
  int rc;

  if (!force_query(c, &force))
    return MHD_YES;
  rc = vramd_volume_delete(d, name, force, vramd_state_save, err, sizeof err);
  if (rc == -ENOENT)
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_volume", NULL, "%s", err);
  if (rc == -EBUSY)
    return send_error(c, MHD_HTTP_CONFLICT, "volume_in_use", NULL,
                      "%s or delete with force; use ?force=true to disconnect its clients "
                      "and delete it", err);
  if (rc == -VRAMD_E_STATE)
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "state_not_saved", NULL, "%s", err);
  if (rc)
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, "%s", err);
  return send_text(c, MHD_HTTP_NO_CONTENT, "application/json", NULL, 0, NULL);
}

/* The answer to a resize refused, by why. */
static enum MHD_Result resize_error(struct req *c, int rc, const char *err)
{
  switch (rc) {
  case -ENOENT:
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_volume", NULL, "%s", err);
  case -EINVAL:
    return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_field",
                      json_pack("{s:s}", "field", "size"), "%s", err);
  case -ENOSPC:
    return send_error(c, MHD_HTTP_INSUFFICIENT_STORAGE, "no_space", NULL, "%s", err);
  case -EPERM:
    return send_error(c, MHD_HTTP_CONFLICT, "shrink_needs_force", NULL,
                      "%s (?force=true)", err);
  case -EOPNOTSUPP:
    return send_error(c, MHD_HTTP_CONFLICT, "device_cannot_resize", NULL, "%s", err);
  case -EBUSY:
    return send_error(c, MHD_HTTP_CONFLICT, "volume_busy", NULL, "%s", err);
  case -VRAMD_E_STATE:
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "state_not_saved", NULL, "%s", err);
  default:
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "resize_failed", NULL, "%s", err);
  }
}

/* PATCH /v1/volumes/{name}[?force=true]: {"size": N} or {"grow_bytes": N}:
 * grow online, or shrink with force; answers the volume and what changed. */
static enum MHD_Result patch_volume(struct vramd *d, struct req *c, const char *name)
{
  struct vramd_resize rq = { 0 };
  struct vramd_resized out;
  struct vd_api_error e;
  struct vd_volume *v;
  char err[640];
  json_t *o;
  int rc;

  if (!force_query(c, &rq.force))
    return MHD_YES;
  if (vd_api_parse_volume_patch(c->body.s ? c->body.s : "", c->body.len, &rq, &e))
    return send_error(c, MHD_HTTP_BAD_REQUEST, e.code,
                      e.field[0] ? json_pack("{s:s}", "field", e.field) : NULL,
                      "%s", e.message);
  rc = vramd_volume_resize(d, name, &rq, vramd_state_save, &out, err, sizeof err);
  if (rc)
    return resize_error(c, rc, err);
  if (!(v = vd_registry_get(&d->reg, name)))
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_volume", NULL, "volume '%s' was "
                      "deleted meanwhile", name);
  o = vd_api_volume_json(d, v, true);
  json_object_set_new(o, "resized", json_pack("{s:I, s:I, s:I}",
                      "old_size_bytes", (json_int_t)out.old_size,
                      "new_size_bytes", (json_int_t)out.new_size,
                      "cut_bytes", (json_int_t)out.cut_bytes));
  if (out.cut_bytes && v->target.stock)
    json_object_set_new(json_object_get(o, "resized"), "cut_chunks",
                        json_integer((json_int_t)out.cut_chunks));
  vd_volume_put(v);
  snprintf(c->said, sizeof c->said, "size %llu -> %llu, cut %llu bytes",
           (unsigned long long)out.old_size, (unsigned long long)out.new_size,
           (unsigned long long)out.cut_bytes);
  return send_json(c, MHD_HTTP_OK, o, NULL);
}

/* POST /v1/volumes/{name}/attach: expose a volume of frontend none. */
static enum MHD_Result attach_volume(struct vramd *d, struct req *c, const char *name)
{
  struct vd_volume_spec how;
  struct vd_api_error e;
  struct vd_volume *v;
  char err[512];
  json_t *o;
  int rc;

  if (vd_api_parse_attach(c->body.s ? c->body.s : "", c->body.len, &how, &e))
    return send_error(c, MHD_HTTP_BAD_REQUEST, e.code,
                      e.field[0] ? json_pack("{s:s}", "field", e.field) : NULL,
                      "%s", e.message);
  rc = vramd_volume_attach(d, name, &how, vramd_state_save, &v, err, sizeof err);
  switch (rc) {
  case 0:
    break;
  case -ENOENT:
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_volume", NULL, "%s", err);
  case -EALREADY:
    return send_error(c, MHD_HTTP_CONFLICT, "volume_attached", NULL, "%s", err);
  case -EEXIST:
  case -EBUSY:
    return send_error(c, MHD_HTTP_CONFLICT, "device_taken", NULL, "%s", err);
  case -EINVAL:
    return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_field", NULL, "%s", err);
  case -EOPNOTSUPP:
    return send_error(c, MHD_HTTP_NOT_IMPLEMENTED, "frontend_unavailable", NULL, "%s", err);
  case -VRAMD_E_STATE:
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "state_not_saved", NULL, "%s", err);
  default:
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "attach_failed", NULL, "%s", err);
  }
  o = vd_api_volume_json(d, v, true);
  snprintf(c->said, sizeof c->said, "%s",
           json_string_value(json_object_get(o, v->device_path[0] ? "device_path" : "nbd_uri")));
  vd_volume_put(v);
  return send_json(c, MHD_HTTP_OK, o, NULL);
}

/* POST /v1/volumes/{name}/detach[?force=true]: withdraw it, keep it. */
static enum MHD_Result detach_volume(struct vramd *d, struct req *c, const char *name)
{
  bool force;
  char err[512];
  int rc;

  if (!force_query(c, &force))
    return MHD_YES;
  if (c->body_len)
    return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_json", NULL,
                      "detach takes no body; force is ?force=true");
  rc = vramd_volume_detach(d, name, force, vramd_state_save, err, sizeof err);
  if (rc == -ENOENT)
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_volume", NULL, "%s", err);
  if (rc == -ENOTCONN)
    return send_error(c, MHD_HTTP_CONFLICT, "volume_detached", NULL, "%s", err);
  if (rc == -EBUSY)
    return send_error(c, MHD_HTTP_CONFLICT, "volume_in_use", NULL,
                      "%s or detach with force; use ?force=true to disconnect its clients "
                      "and detach it", err);
  if (rc == -VRAMD_E_STATE)
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "state_not_saved", NULL, "%s", err);
  if (rc)
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, "%s", err);
  return send_text(c, MHD_HTTP_NO_CONTENT, "application/json", NULL, 0, NULL);
}

/* The answer to a refused export or unexport. */
static enum MHD_Result export_refused(struct req *c, int rc, const char *err)
{
  switch (rc) {
  case -ENOENT:
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_volume", NULL, "%s", err);
  case -EALREADY:
    return send_error(c, MHD_HTTP_CONFLICT, "volume_exported", NULL, "%s", err);
  case -ENOTCONN:
    return send_error(c, MHD_HTTP_CONFLICT, "volume_not_exported", NULL, "%s", err);
  case -EADDRINUSE:
  case -EEXIST:
  case -EBUSY:
    return send_error(c, MHD_HTTP_CONFLICT, "export_conflict", NULL, "%s", err);
  case -EINVAL:
    return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_field", NULL, "%s", err);
  case -ENODEV:
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "nvmet_unavailable", NULL, "%s", err);
  case -EOPNOTSUPP:
    return send_error(c, MHD_HTTP_NOT_IMPLEMENTED, "not_supported", NULL, "%s", err);
  case -VRAMD_E_STATE:
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "state_not_saved", NULL, "%s", err);
  default:
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "export_failed", NULL, "%s", err);
  }
}

/* POST /v1/volumes/{name}/export: export over NVMe/TCP (the answer is
 * the export as made); DELETE: take the export down. */
static enum MHD_Result export_volume(struct vramd *d, struct req *c, const char *name,
                                     bool post)
{
  struct vd_export_spec x;
  struct vd_spec_error e;
  json_error_t je;
  char err[512];
  json_t *o;
  int rc;

  if (!post) {
    if (c->body_len)
      return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_json", NULL,
                        "DELETE .../export takes no body");
    rc = vramd_volume_unexport(d, name, vramd_state_save, err, sizeof err);
    return rc ? export_refused(c, rc, err)
              : send_text(c, MHD_HTTP_NO_CONTENT, "application/json", NULL, 0, NULL);
  }
  o = json_loadb(c->body.s ? c->body.s : "", c->body.len, JSON_REJECT_DUPLICATES, &je);
  if (!o)
    return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_json", NULL, "body: %s", je.text);
  rc = vd_export_from_json(o, false, &x, &e);
  json_decref(o);
  if (rc)
    return send_error(c, MHD_HTTP_BAD_REQUEST, e.code,
                      e.field[0] ? json_pack("{s:s}", "field", e.field) : NULL,
                      "%s", e.message);
  rc = vramd_volume_export(d, name, &x, vramd_state_save, &x, err, sizeof err);
  if (rc)
    return export_refused(c, rc, err);
  snprintf(c->said, sizeof c->said, "%.100s on %.60s", x.nqn, x.address);
  return send_json(c, MHD_HTTP_OK, vd_export_to_json(&x), NULL);
}

/* GET /metrics. */
static enum MHD_Result get_metrics(struct vramd *d, struct req *c)
{
  struct vd_buf b = { 0 };
  vd_metrics_render(d, &b);
  if (b.failed) {
    vd_buf_free(&b);
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, "out of memory");
  }
  return send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.s, b.len, NULL);
}

/* The answer to a request that started a job: 202 with the job and its
 * Location, or why it could not start. */
static enum MHD_Result job_started(struct vramd *d, struct req *c, int rc, uint32_t id,
                                   const char *err)
{
  struct vramd_job_info j;
  char loc[64];

  if (rc == -EAGAIN)
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_jobs", NULL, "%s", err);
  if (rc == -ESHUTDOWN)
    return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping", NULL, "%s", err);
  if (rc)
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, "%s", err);
  snprintf(loc, sizeof loc, "/v1/jobs/%u", id);
  /* A job that ended and was forgotten at once still has its id. */
  if (vramd_job_get(&d->jobs, id, &j))
    return send_json(c, MHD_HTTP_ACCEPTED, json_pack("{s:I}", "id", (json_int_t)id), loc);
  return send_json(c, MHD_HTTP_ACCEPTED, vd_api_job_json(&j), loc);
}

/* POST /v1/faults' sleep_job: start the test-only sleep job. */
static enum MHD_Result start_sleep_job(struct vramd *d, struct req *c, json_t *o)
{
  struct vramd_sleep_job s;
  struct vd_api_error e;
  char err[256];
  uint32_t id = 0;
  int rc;

  if (vd_api_parse_sleep_job(o, &s, &e))
    return send_error(c, MHD_HTTP_BAD_REQUEST, e.code,
                      json_pack("{s:s}", "field", e.field), "%s", e.message);
  rc = vramd_job_sleep_start(&d->jobs, &s, &id, err, sizeof err);
  return job_started(d, c, rc, id, err);
}

/* POST /v1/faults' bit_flips: {"volume": NAME, "offsets": [N, ...]} or
 * {"volume": NAME, "count": N, "seed": N}, with "copy": N on a mirror
 * (default 0); answers with the offsets. */
static enum MHD_Result flip_bits(struct vramd *d, struct req *c, json_t *o)
{
  json_t *offs = json_object_get(o, "offsets"), *cnt = json_object_get(o, "count"), *x, *out;
  const char *name = json_string_value(json_object_get(o, "volume"));
  json_int_t seed = json_integer_value(json_object_get(o, "seed"));
  json_t *copy = json_object_get(o, "copy");
  size_t n = offs ? json_array_size(offs) : (size_t)json_integer_value(cnt), i;
  uint64_t *off;
  char err[256];
  int rc;

  if (!name || !(json_is_array(offs) || json_is_integer(cnt)) || n > VRAMD_FLIPS_MAX ||
      (copy && (!json_is_integer(copy) || json_integer_value(copy) < 0 ||
                json_integer_value(copy) >= VD_MAX_DEVICES)))
    return send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_field", NULL,
                      "bit_flips: {\"volume\": NAME, \"offsets\": [N, ...]} or {\"volume\": "
                      "NAME, \"count\": N (at most %u), \"seed\": N}, and \"copy\": N on a mirror",
                      VRAMD_FLIPS_MAX);
  off = calloc(n ? n : 1, sizeof *off);
  if (!off)
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, "out of memory");
  json_array_foreach(offs, i, x)
    off[i] = json_is_integer(x) && json_integer_value(x) >= 0 ? (uint64_t)json_integer_value(x)
                                                               : UINT64_MAX;
  rc = vramd_flip_bits(d, name, off, (unsigned)n, !offs, (uint64_t)seed,
                       copy ? (unsigned)json_integer_value(copy) : 0, err, sizeof err);
  out = json_array();
  for (i = 0; !rc && i < n; i++)
    json_array_append_new(out, json_integer((json_int_t)off[i]));
  free(off);
  if (rc) {
    json_decref(out);
    return send_error(c, rc == -ENOENT ? MHD_HTTP_NOT_FOUND : rc == -EINVAL ?
                      MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
                      rc == -ENOENT ? "no_such_volume" : rc == -EINVAL ? "invalid_field" :
                      "internal", NULL, "bit_flips: %s", err);
  }
  return send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "offsets", out), NULL);
}

/* POST /v1/faults, a test-only route that exists only under VRAMD_FAULTS=1:
 * {"alloc_after": N, "io_after": N, "unit_delay_ms": N (each unit of a
 * save or load waits N ms), "direct_refused": true (image files open as
 * if O_DIRECT were refused), "device_lost": "ID", "sleep_job": {...},
 * "memory_taken": {"device": "ID", "bytes": N}, "bit_flips": {...}}, each
 * optional; a sleep_job answers 202 with the job, bit_flips 200 with the
 * offsets it flipped (flip_bits).  memory_taken makes the device's free-memory
 * query answer N bytes less, as another process's allocation would. */
static enum MHD_Result post_faults(struct vramd *d, struct req *c)
{
  struct vd_api_error e = { 0 };
  json_t *doc = vd_api_load_object(c->body.s ? c->body.s : "", c->body.len,
                                   JSON_REJECT_DUPLICATES, &e);
  json_t *val;
  const char *key;
  char err[256];
  enum MHD_Result ret;

  if (!doc)
    return send_error(c, MHD_HTTP_BAD_REQUEST, e.code, NULL, "%s", e.message);
  json_object_foreach(doc, key, val) {
    bool count = !strcmp(key, "alloc_after") || !strcmp(key, "io_after") ||
                 !strcmp(key, "unit_delay_ms");
    bool taken = !strcmp(key, "memory_taken");
    bool flag = !strcmp(key, "direct_refused") && json_is_boolean(val);
    bool flips = !strcmp(key, "bit_flips") && json_is_object(val);
    if ((count && (!json_is_integer(val) || json_integer_value(val) < 0 ||
                   json_integer_value(val) > 1000000)) ||
        (taken && (!json_is_object(val) || !json_is_string(json_object_get(val, "device")) ||
                   !json_is_integer(json_object_get(val, "bytes")) ||
                   json_integer_value(json_object_get(val, "bytes")) < 0 ||
                   json_object_size(val) != 2)) ||
        (!count && !taken && !flag && !flips && strcmp(key, "sleep_job") &&
         (strcmp(key, "device_lost") || !json_is_string(val)))) {
      /* key lives in doc: the answer is made before doc goes. */
      ret = send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_field", NULL,
                       "'%.40s': alloc_after, io_after and unit_delay_ms take a count, "
                       "direct_refused true or false, device_lost an id, "
                       "memory_taken {\"device\": ID, \"bytes\": N}, sleep_job and "
                       "bit_flips an object",
                       key);
      json_decref(doc);
      return ret;
    }
  }
  if ((val = json_object_get(doc, "memory_taken"))) {
    const char *id = json_string_value(json_object_get(val, "device"));
    struct vd_device *dev = vd_pool_find(d->pool, id);
    if (!dev) {
      ret = send_error(c, MHD_HTTP_NOT_FOUND, "no_such_device", NULL,
                       "memory_taken: no device '%.32s'", id);
      json_decref(doc);
      return ret;
    }
    vd_fault_take(vd_device_info(dev)->index,
                  (uint64_t)json_integer_value(json_object_get(val, "bytes")));
  }
  if ((val = json_object_get(doc, "alloc_after")))
    vd_fault_alloc_after((unsigned)json_integer_value(val));
  if ((val = json_object_get(doc, "io_after")))
    vd_fault_io_after((unsigned)json_integer_value(val));
  if ((val = json_object_get(doc, "unit_delay_ms")))
    vd_fault_unit_delay((unsigned)json_integer_value(val));
  if ((val = json_object_get(doc, "direct_refused")))
    vd_fault_refuse_direct(json_is_true(val));
  if ((val = json_object_get(doc, "device_lost")) &&
      vramd_device_fail(d, json_string_value(val), err, sizeof err)) {
    json_decref(doc);
    return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_device", NULL, "%s", err);
  }
  if ((val = json_object_get(doc, "sleep_job"))) {
    ret = start_sleep_job(d, c, val);
    json_decref(doc);
    return ret;
  }
  if ((val = json_object_get(doc, "bit_flips"))) {
    ret = flip_bits(d, c, val);
    json_decref(doc);
    return ret;
  }
  json_decref(doc);
  return send_text(c, MHD_HTTP_NO_CONTENT, "application/json", NULL, 0, NULL);
}

/* GET /v1/jobs. */
static enum MHD_Result list_jobs(struct vramd *d, struct req *c)
{
  struct vramd_job_info *jobs;
  json_t *arr = json_array();
  int n = vramd_jobs_list(&d->jobs, &jobs);

  if (n < 0) {
    json_decref(arr);
    return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL, "out of memory");
  }
  for (int i = 0; i < n; i++)
    json_array_append_new(arr, vd_api_job_json(&jobs[i]));
  free(jobs);
  return send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "jobs", arr), NULL);
}

/* The 404 for a job vramd does not have (or no longer remembers). */
static enum MHD_Result no_such_job(struct req *c, uint32_t id)
{
  return send_error(c, MHD_HTTP_NOT_FOUND, "no_such_job", NULL,
                    "no job %u (GET /v1/jobs lists them; jobs are forgotten when vramd "
                    "restarts and once %u newer ones have ended)", id, VRAMD_JOBS_KEPT);
}

/* GET /v1/jobs/{id}, and DELETE, which asks it to stop at a safe point. */
static enum MHD_Result job(struct vramd *d, struct req *c, uint32_t id, bool cancel)
{
  struct vramd_job_info j;
  int rc = cancel ? vramd_job_cancel(&d->jobs, id, &j) : vramd_job_get(&d->jobs, id, &j);

  if (rc == -ENOENT)
    return no_such_job(c, id);
  if (rc == -EALREADY)
    return send_error(c, MHD_HTTP_CONFLICT, "job_finished",
                      json_pack("{s:s}", "state", vramd_job_state_name(j.state)),
                      "job %u has already ended (%s)", id, vramd_job_state_name(j.state));
  return send_json(c, cancel ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK, vd_api_job_json(&j), NULL);
}

/* The job id in a path: digits only, no sign or leading zero, at most
 * 2^32-1; false after a 400 was queued (*ret holds its result). */
static bool route_job_id(struct req *c, const char *raw, uint32_t *id, enum MHD_Result *ret)
{
  size_t n = strlen(raw);
  unsigned long long v = 0;
  bool ok = n && n <= 10 && !raw[strspn(raw, "0123456789")] && (raw[0] != '0' || n == 1);

  if (ok && (v = strtoull(raw, NULL, 10)) > UINT32_MAX)
    ok = false;
  if (!ok) {
    *ret = send_error(c, MHD_HTTP_BAD_REQUEST, "invalid_id", NULL,
                      "'%.40s' is not a job id: ids are whole numbers (GET /v1/jobs lists "
                      "them)", raw);
    return false;
  }
  *id = (uint32_t)v;
  return true;
}

/* The name after a route prefix, decoded and checked; NULL after an
 * error response has been queued (*ret holds its result). */
static const char *route_name(struct req *c, const char *raw, char *out,
                              size_t len, bool volume, enum MHD_Result *ret)
{
  char msg[200];
  if (!decode_segment(raw, out, len) || strchr(out, '/') ||
      (volume && !vd_name_valid(out, msg, sizeof msg))) {
    *ret = send_error(c, MHD_HTTP_BAD_REQUEST, volume ? "invalid_name" : "invalid_id", NULL,
                      "'%.80s' is not a valid %s", raw, volume ? "volume name" : "device id");
    return NULL;
  }
  return out;
}

/* POST /v1/volumes/{name}/{attach|detach}: rest is "{name}/{verb}". */
static enum MHD_Result volume_action(struct vramd *d, struct req *c, const char *rest,
                                     const char *method)
{
  const char *slash = strchr(rest, '/');
  char raw[VD_NAME_MAX * 3 + 2], name[VD_NAME_MAX + 2];
  enum MHD_Result ret = MHD_NO;
  size_t n = (size_t)(slash - rest);
  bool attach = !strcmp(slash + 1, "attach"), save = !strcmp(slash + 1, "save");
  bool restore = !strcmp(slash + 1, "restore"), export = !strcmp(slash + 1, "export");

  /* Anything else is a name with a slash, refused as before. */
  if (!attach && !save && !restore && !export && strcmp(slash + 1, "detach"))
    return route_name(c, rest, name, sizeof name, true, &ret) ? MHD_NO : ret;
  if (export && strcmp(method, "POST") && strcmp(method, "DELETE"))
    return not_allowed(c, method, "POST, DELETE");
  if (!export && strcmp(method, "POST"))
    return not_allowed(c, method, "POST");
  if (n >= sizeof raw)
    n = sizeof raw - 1; /* too long for a name: route_name refuses it */
  memcpy(raw, rest, n);
  raw[n] = '\0';
  if (!route_name(c, raw, name, sizeof name, true, &ret))
    return ret;
  if (save || restore)
    return volume_image(d, c, name, save);
  if (export)
    return export_volume(d, c, name, !strcmp(method, "POST"));
  return attach ? attach_volume(d, c, name) : detach_volume(d, c, name);
}

/* Dispatch a complete request. */
static enum MHD_Result route(struct server *s, struct req *c, const char *url,
                             const char *method)
{
  struct vramd *d = s->d;
  bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
  char name[VD_NAME_MAX + 2], raw[3 * VD_NAME_MAX + 8];
  const char *action;
  enum MHD_Result ret = MHD_NO;

  if (!strcmp(url, "/metrics"))
    return get ? get_metrics(d, c) : not_allowed(c, method, "GET");
  if (!strcmp(url, "/healthz"))
    return get ? send_json(c, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"), NULL)
               : not_allowed(c, method, "GET");
  if (s->metrics_only)
    return send_error(c, MHD_HTTP_NOT_FOUND, "not_found", NULL,
                      "only /metrics and /healthz are served here");
  if (!strcmp(url, "/v1") || !strcmp(url, "/v1/"))
    return get ? get_root(d, c) : not_allowed(c, method, "GET");
  if (!strcmp(url, "/v1/faults") && vd_faults_enabled())
    return !strcmp(method, "POST") ? post_faults(d, c) : not_allowed(c, method, "POST");
  if (!strcmp(url, "/v1/pool"))
    return get ? get_pool(d, c) : not_allowed(c, method, "GET");
  if (!strcmp(url, "/v1/devices"))
    return get ? get_devices(d, c, NULL) : not_allowed(c, method, "GET");
  if (!strncmp(url, "/v1/devices/", 12) && split_action(url + 12, raw, sizeof raw, &action) &&
      (!strcmp(action, "drain") || !strcmp(action, "undrain"))) {
    if (strcmp(method, "POST"))
      return not_allowed(c, method, "POST");
    if (!route_name(c, raw, name, sizeof name, false, &ret))
      return ret;
    return device_action(d, c, name, action);
  }
  if (!strncmp(url, "/v1/volumes/", 12) && split_action(url + 12, raw, sizeof raw, &action) &&
      (!strcmp(action, "rebalance") || !strcmp(action, "scrub") ||
       !strcmp(action, "repair"))) {
    if (strcmp(method, "POST"))
      return not_allowed(c, method, "POST");
    if (!route_name(c, raw, name, sizeof name, true, &ret))
      return ret;
    if (!strcmp(action, "repair"))
      return volume_repair(d, c, name);
    return !strcmp(action, "scrub") ? volume_scrub(d, c, name) : volume_rebalance(d, c, name);
  }
  if (!strncmp(url, "/v1/devices/", 12)) {
    bool patch = !strcmp(method, "PATCH");
    if (!get && !patch)
      return not_allowed(c, method, "GET, PATCH");
    if (!route_name(c, url + 12, name, sizeof name, false, &ret))
      return ret;
    return patch ? patch_device(d, c, name) : get_devices(d, c, name);
  }
  if (!strcmp(url, "/v1/jobs"))
    return get ? list_jobs(d, c) : not_allowed(c, method, "GET");
  if (!strncmp(url, "/v1/jobs/", 9)) {
    bool del = !strcmp(method, "DELETE");
    uint32_t id;
    if (!get && !del)
      return not_allowed(c, method, "GET, DELETE");
    if (!route_job_id(c, url + 9, &id, &ret))
      return ret;
    return job(d, c, id, del);
  }
  if (!strcmp(url, "/v1/volumes")) {
    if (get)
      return list_volumes(d, c);
    if (!strcmp(method, "POST"))
      return create_volume(d, c);
    return not_allowed(c, method, "GET, POST");
  }
  if (!strncmp(url, "/v1/volumes/", 12) && strchr(url + 12, '/'))
    return volume_action(d, c, url + 12, method);
  if (!strncmp(url, "/v1/volumes/", 12)) {
    bool del = !strcmp(method, "DELETE"), patch = !strcmp(method, "PATCH");
    if (!get && !del && !patch)
      return not_allowed(c, method, "GET, DELETE, PATCH");
    if (!route_name(c, url + 12, name, sizeof name, true, &ret))
      return ret;
    if (patch)
      return patch_volume(d, c, name);
    return del ? delete_volume(d, c, name) : get_volume(d, c, name);
  }
  return send_error(c, MHD_HTTP_NOT_FOUND, "not_found", NULL, "no route %.100s", url);
}

/* Who sent a request on the API socket: "uid U pid P" from SO_PEERCRED. */
static const char *requester(struct MHD_Connection *c, char *buf, size_t len)
{
  const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct ucred cr;

  if (i && vd_peer_cred(i->connect_fd, &cr) == 0)
    snprintf(buf, len, "uid %u pid %d", (unsigned)cr.uid, (int)cr.pid);
  else
    snprintf(buf, len, "an unknown peer");
  return buf;
}

/* What a request that changed things was about, for the journal's
 * fields: the volume, device or job its path names, or the new one its
 * Location names.  Names that are not valid are left out. */
static void request_about(const struct req *r, struct vd_log_fields *f, char *name, size_t len)
{
  const char *p = r->said[0] == '/' ? r->said : r->url;
  char msg[120];
  size_t n;

  if (!strncmp(p, "/v1/jobs/", 9)) {
    f->job = (uint32_t)strtoul(p + 9, NULL, 10);
    return;
  }
  if (strncmp(p, "/v1/volumes/", 12) && strncmp(p, "/v1/devices/", 12))
    return;
  n = strcspn(p + 12, "/?");
  if (!n || n >= len)
    return;
  memcpy(name, p + 12, n);
  name[n] = '\0';
  if (p[4] == 'v' && vd_name_valid(name, msg, sizeof msg))
    f->volume = name;
  else if (p[4] == 'd' && !name[strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789")])
    f->device = name;
}

/* Log a request that changes things, with who asked and what came of it:
 * every change that was made; refusals rate-limited, since any member of
 * the socket's group can send them as fast as it likes. */
static void log_change(const struct req *r)
{
  struct vd_log_fields about = { 0 };
  char who[64], name[VD_NAME_MAX + 2];

  requester(r->job.conn, who, sizeof who);
  request_about(r, &about, name, sizeof name);
  if (r->status < 300)
    vd_log_about(VD_LOG_INFO, &about, "api: %s %s by %s: %u%s%s", r->method, r->url, who,
                 r->status, r->said[0] ? " " : "", r->said);
  else
    vd_info_rl("api: %s %s by %s refused: %u %s", r->method, r->url, who, r->status, r->said);
}

/* Run a request that changes things on the worker, then resume it. */
static void run_job(struct vd_job *job, bool cancelled)
{
  struct req *r = (struct req *)job;
  if (cancelled)
    send_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping", NULL,
               "vramd is stopping; the request was not carried out");
  else
    route(r->s, r, r->url, r->method);
  log_change(r);
}

/* Queue the answer made for r; no answer closes the connection. */
static enum MHD_Result answer(struct MHD_Connection *c, struct req *r)
{
  enum MHD_Result ret;
  if (!r->resp)
    return MHD_NO;
  ret = MHD_queue_response(c, r->status, r->resp);
  MHD_destroy_response(r->resp);
  r->resp = NULL;
  vd_guard_sending(c);
  return ret;
}

/* The 413 for a body past VD_API_MAX_BODY. */
static void too_large(struct req *r)
{
  send_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large", NULL,
             "request bodies are limited to %u bytes", VD_API_MAX_BODY);
}

/* A new request: refuse it when busy or far too large, else read on. */
static enum MHD_Result begin(struct server *s, struct MHD_Connection *c, struct req *r)
{
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  const char *busy = vd_guard_refused(c);

  r->s = s;
  if (busy) {
    send_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", NULL, "%s", busy);
    return answer(c, r);
  }
  /* Past the drain limit, answer before the body: the client may see its
   * send fail instead of the 413, but nobody streams megabytes here. */
  if (cl && strtoull(cl, NULL, 10) > VD_API_DRAIN_BODY) {
    too_large(r);
    return answer(c, r);
  }
  return MHD_YES;
}

/* MHD's access handler: collect the body within the cap, then route:
 * reads here, anything else on the worker with the connection suspended. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload, size_t *upload_size, void **con_cls)
{
  struct server *s = cls;
  struct req *r = *con_cls;
  (void)version;

  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r)
      return MHD_NO;
    *con_cls = r;
    return begin(s, c, r);
  }
  if (*upload_size) {
    /* A body past the cap is read and dropped up to the drain limit, so
     * that the client is not cut off mid-send and sees the 413; past
     * that (chunked, so undeclared) the connection is closed. */
    r->body_len += *upload_size;
    if (r->body_len > VD_API_DRAIN_BODY)
      return MHD_NO;
    /* Taken with its length: a NUL byte stays in and is refused later. */
    if (!s->metrics_only && r->body_len <= VD_API_MAX_BODY)
      vd_buf_append(&r->body, upload, *upload_size);
    if (r->body.failed)
      return MHD_NO;
    *upload_size = 0;
    return MHD_YES;
  }
  if (!r->routed && r->body_len > VD_API_MAX_BODY) {
    r->routed = true;
    too_large(r);
  }
  if (!r->routed) {
    r->routed = true;
    vd_guard_working(c);
    r->force = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "force");
    r->as_job = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "job");
    if (s->worker && strcmp(method, "GET") && strcmp(method, "HEAD")) {
      r->url = url;
      r->method = method;
      r->job.conn = c;
      r->job.run = run_job;
      MHD_suspend_connection(c);
      vd_worker_push(s->worker, &r->job);
      return MHD_YES;
    }
    route(s, r, url, method);
  }
  return answer(c, r);
}

/* Free a request's state when MHD is done with it. */
static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct req *r = *con_cls;
  (void)cls;
  (void)c;
  (void)toe;
  if (r) {
    if (r->resp)
      MHD_destroy_response(r->resp);
    vd_buf_free(&r->body);
    free(r);
    *con_cls = NULL;
  }
}

/* libmicrohttpd's own messages, into our log: a peer can cause them, so
 * they have a budget. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
  static struct vd_ratelimit rl;
  char line[512];
  (void)cls;
  vsnprintf(line, sizeof line, fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  vd_log_rl(&rl, VD_LOG_DEBUG, "http: %s", line);
}

/* Start one MHD server on a listening fd, with its guard (and, for the
 * API, its worker). */
static int serve(struct server *s, int fd, char *err, size_t errlen)
{
  const struct vd_guard_conf gc = {
    .name = s->metrics_only ? "metrics" : "api", .max_conns = VD_API_MAX_CONNS,
    .per_peer = VD_API_PEER_CONNS, .deadline_ms = VD_API_DEADLINE_MS,
    .busy_ms = VD_API_BUSY_MS, .root_exempt = !s->metrics_only,
  };
  int rc;

  if ((rc = vd_guard_start(&gc, &s->guard, err, errlen)))
    goto out_close;
  if (!s->metrics_only && (rc = vd_worker_start(&s->worker, err, errlen)))
    goto out_guard;
  s->mhd = MHD_start_daemon(
    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
    0, NULL, NULL, handle, s,
    MHD_OPTION_LISTEN_SOCKET, fd,
    MHD_OPTION_CONNECTION_LIMIT, (unsigned)(VD_API_MAX_CONNS + VD_API_BUSY_CONNS),
    /* An idle timeout; the deadline in guard.c is the real bound. */
    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((VD_API_DEADLINE_MS + 999) / 1000),
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)VD_API_CONN_MEMORY,
    MHD_OPTION_THREAD_STACK_SIZE, (size_t)VD_API_STACK,
    MHD_OPTION_NOTIFY_CONNECTION, vd_guard_notify, s->guard,
    MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
    MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
    MHD_OPTION_END);
  if (!s->mhd) {
    snprintf(err, errlen, "cannot start the HTTP server on fd %d", fd);
    rc = -EIO;
    goto out_worker;
  }
  return 0;

out_worker:
  vd_worker_stop(s->worker);
  vd_worker_free(s->worker);
  s->worker = NULL;
out_guard:
  vd_guard_stop(s->guard);
  s->guard = NULL;
out_close:
  close(fd);
  return rc;
}

/* Stop one server: the worker first, so no connection stays suspended
 * (requests that come after are cancelled at once); a moment for the
 * answers made to leave; then MHD (which closes every connection), then
 * what MHD's callbacks use. */
static void unserve(struct server *s)
{
  if (!s->mhd)
    return;
  vd_worker_stop(s->worker);
  vd_guard_drain(s->guard, VD_API_BUSY_MS);
  MHD_stop_daemon(s->mhd);
  vd_worker_free(s->worker);
  vd_guard_stop(s->guard);
}

/* Start the control API and the metrics listener. */
int vd_api_start(struct vramd *d, int api_fd, int metrics_fd,
                 struct vd_api **out, char *err, size_t errlen)
{
  struct vd_api *a = calloc(1, sizeof *a);
  if (!a) {
    snprintf(err, errlen, "out of memory");
    goto out_close;
  }
  a->api.d = a->metrics.d = d;
  a->metrics.metrics_only = true;
  if (serve(&a->api, api_fd, err, errlen)) {
    api_fd = -1;
    goto out_free;
  }
  api_fd = -1;
  if (metrics_fd >= 0 && serve(&a->metrics, metrics_fd, err, errlen)) {
    metrics_fd = -1;
    goto out_stop_api;
  }
  *out = a;
  return 0;

out_stop_api:
  unserve(&a->api);
out_free:
  free(a);
out_close:
  if (api_fd >= 0)
    close(api_fd);
  if (metrics_fd >= 0)
    close(metrics_fd);
  return -EIO;
}

/* Stop both servers (MHD closes the listening sockets). */
void vd_api_stop(struct vd_api *a)
{
  if (!a)
    return;
  unserve(&a->metrics);
  unserve(&a->api);
  free(a);
}
