/* body.c: request bodies: a JSON object taken with its length, POST
 * /v1/volumes and .../attach read by the spec codec (common/spec-json.c),
 * the image path of a save, restore or create from an image,
 * PATCH /v1/devices/{id}, and the test-only sleep job of POST /v1/faults. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "job-sleep.h"
#include "vramd.h"
#include "volmap.h"

/* A body as a JSON object, taken with its length: a NUL byte anywhere
 * (which a C string would cut the body at) is refused, never skipped. */
json_t *vd_api_load_object(const char *body, size_t len, size_t flags,
                           struct vd_api_error *e)
{
  json_error_t je;
  json_t *root;

  if (memchr(body, '\0', len)) {
    vd_spec_fail(e, "invalid_json", NULL, "body holds a NUL byte at offset %zu",
                 (size_t)((const char *)memchr(body, '\0', len) - body));
    return NULL;
  }
  root = json_loadb(body, len, flags, &je);
  if (!root) {
    vd_spec_fail(e, "invalid_json", NULL, "body is not valid JSON: %s (line %d, column %d)",
                 je.text, je.line, je.column);
    return NULL;
  }
  if (!json_is_object(root)) {
    json_decref(root);
    vd_spec_fail(e, "invalid_json", NULL, "body must be a JSON object");
    return NULL;
  }
  return root;
}

/* Parse a body in form into a spec, by the spec codec's table. */
static int parse_spec(const char *body, size_t len, enum vd_spec_form form,
                      struct vd_volume_spec *spec, struct vd_api_error *e)
{
  json_t *root;
  int rc;

  vd_spec_init(spec);
  memset(e, 0, sizeof *e);
  /* JSON_ALLOW_NUL lets "\u0000" through to the codec, which names the field. */
  root = vd_api_load_object(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, e);
  if (!root)
    return -EINVAL;
  rc = vd_spec_from_json(root, form, spec, e);
  json_decref(root);
  return rc;
}

/* A create body: the whole spec. */
int vd_api_parse_create(const char *body, size_t len,
                        struct vd_volume_spec *spec, struct vd_api_error *e)
{
  return parse_spec(body, len, VD_SPEC_BODY, spec, e);
}

/* The image path of a body: a string, absolute, no NUL. */
static int image_path(json_t *v, const char *key, char *path, size_t len, struct vd_api_error *e)
{
  const char *s = json_string_value(v);
  if (!json_is_string(v) || json_string_length(v) >= len || s[0] != '/' ||
      memchr(s, 0, json_string_length(v)))
    return vd_spec_fail(e, "invalid_field", key, "field '%s' must be an absolute path of "
                        "fewer than %zu bytes", key, len);
  snprintf(path, len, "%s", s);
  return 0;
}

/* A create body, with "from" (an image to load, taken out of the spec)
 * and then "size" optional: *size_from_image says it was left out. */
int vd_api_parse_create_from(const char *body, size_t len, struct vd_volume_spec *spec,
                             char *from, size_t fromlen, bool *size_from_image,
                             struct vd_api_error *e)
{
  json_t *root, *f;
  int rc = 0;

  vd_spec_init(spec);
  memset(e, 0, sizeof *e);
  from[0] = '\0';
  *size_from_image = false;
  root = vd_api_load_object(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, e);
  if (!root)
    return -EINVAL;
  if ((f = json_object_get(root, "from"))) {
    rc = image_path(f, "from", from, fromlen, e);
    json_object_del(root, "from");
    /* A placeholder the codec accepts; the image's size replaces it. */
    if (!rc && !json_object_get(root, "size")) {
      *size_from_image = true;
      json_object_set_new(root, "size", json_integer(VD_SECTOR));
    }
  }
  if (!rc)
    rc = vd_spec_from_json(root, VD_SPEC_BODY, spec, e);
  json_decref(root);
  return rc;
}

/* A save or restore body: {"path": ...}. */
int vd_api_parse_image(const char *body, size_t len, char *path, size_t pathlen,
                       struct vd_api_error *e)
{
  json_t *root, *v;
  const char *key;
  int rc = 0;

  memset(e, 0, sizeof *e);
  root = vd_api_load_object(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, e);
  if (!root)
    return -EINVAL;
  json_object_foreach(root, key, v)
    if (strcmp(key, "path") && !rc)
      rc = vd_spec_fail(e, "unknown_field", NULL, "unknown field '%.40s'; known: path", key);
  if (!rc && !(v = json_object_get(root, "path")))
    rc = vd_spec_fail(e, "missing_field", "path", "field 'path' is required");
  if (!rc)
    rc = image_path(v, "path", path, pathlen, e);
  json_decref(root);
  return rc;
}

/* An attach body: how to expose it. */
int vd_api_parse_attach(const char *body, size_t len, struct vd_volume_spec *how,
                        struct vd_api_error *e)
{
  return parse_spec(body, len, VD_SPEC_EXPOSE, how, e);
}

/* One member of a sleep_job object into s; 0 or -EINVAL with e filled. */
static int sleep_field(const char *key, json_t *v, struct vramd_sleep_job *s,
                       struct vd_api_error *e)
{
  char msg[200];
  double d = json_number_value(v);
  json_int_t i = json_integer_value(v);

  if (!strcmp(key, "seconds")) {
    if (!json_is_number(v) || !(d >= 0 && d <= VRAMD_SLEEP_MAX_SECONDS))
      return vd_spec_fail(e, "invalid_field", key, "sleep_job.seconds must be a number "
                          "from 0 to %d", VRAMD_SLEEP_MAX_SECONDS);
    s->seconds = d;
  } else if (!strcmp(key, "bytes")) {
    if (!json_is_integer(v) || i < 0 || i > (json_int_t)1 << 62)
      return vd_spec_fail(e, "invalid_field", key, "sleep_job.bytes must be an integer "
                          "from 0 to 2^62");
    s->bytes = (uint64_t)i;
  } else if (!strcmp(key, "step_ms")) {
    if (!json_is_integer(v) || i < 1 || i > VRAMD_SLEEP_MAX_STEP_MS)
      return vd_spec_fail(e, "invalid_field", key, "sleep_job.step_ms must be an integer "
                          "from 1 to %d", VRAMD_SLEEP_MAX_STEP_MS);
    s->step_ms = (unsigned)i;
  } else if (!strcmp(key, "target")) {
    if (!json_is_string(v) || !vd_name_valid(json_string_value(v), msg, sizeof msg))
      return vd_spec_fail(e, "invalid_field", key, "sleep_job.target must be a name: "
                          "[a-z0-9][a-z0-9._-]{0,62}");
    snprintf(s->target, sizeof s->target, "%s", json_string_value(v));
  } else if (!strcmp(key, "error")) {
    if (!json_is_string(v) || !json_string_length(v) ||
        json_string_length(v) >= sizeof s->error || memchr(json_string_value(v), 0,
                                                           json_string_length(v)))
      return vd_spec_fail(e, "invalid_field", key, "sleep_job.error must be a message of "
                          "1 to %zu bytes", sizeof s->error - 1);
    snprintf(s->error, sizeof s->error, "%s", json_string_value(v));
  } else {
    return vd_spec_fail(e, "unknown_field", key, "sleep_job has no field '%.40s' (seconds, "
                        "bytes, step_ms, target, error)", key);
  }
  return 0;
}

/* The test-only sleep job's parameters. */
int vd_api_parse_sleep_job(json_t *o, struct vramd_sleep_job *s, struct vd_api_error *e)
{
  const char *key;
  json_t *v;

  memset(s, 0, sizeof *s);
  memset(e, 0, sizeof *e);
  s->step_ms = 50;
  snprintf(s->target, sizeof s->target, "test");
  if (!json_is_object(o))
    return vd_spec_fail(e, "invalid_field", "sleep_job", "sleep_job must be an object");
  json_object_foreach(o, key, v)
    if (sleep_field(key, v, s, e))
      return -EINVAL;
  if (!json_object_get(o, "seconds") || !json_object_get(o, "bytes"))
    return vd_spec_fail(e, "missing_field", json_object_get(o, "seconds") ? "bytes" : "seconds",
                        "sleep_job needs seconds and bytes");
  return 0;
}

/* One byte-count member of a PATCH body. */
static int patch_bytes(const char *key, json_t *v, uint64_t *out, struct vd_api_error *e)
{
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return vd_spec_fail(e, "invalid_field", key,
                        "field '%s' must be an integer number of bytes, 0 or more", key);
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

/* Parse a PATCH /v1/devices/{id} body: "reserve_bytes" and
 * "yield_floor_bytes" (integer bytes, as sizes are everywhere in JSON),
 * and "drain" (true: also move off what lies inside the reserve); at
 * least one of the first two, nothing else. */
int vd_api_parse_device_patch(const char *body, size_t len, struct vd_device_patch *p,
                              struct vd_api_error *e)
{
  json_t *root, *v;
  const char *key;
  int rc = 0;

  memset(e, 0, sizeof *e);
  memset(p, 0, sizeof *p);
  root = vd_api_load_object(body, len, JSON_REJECT_DUPLICATES, e);
  if (!root)
    return -EINVAL;
  json_object_foreach(root, key, v) {
    if (!strcmp(key, "reserve_bytes")) {
      p->has_reserve = true;
      rc = patch_bytes(key, v, &p->reserve, e);
    } else if (!strcmp(key, "yield_floor_bytes")) {
      p->has_yield_floor = true;
      rc = patch_bytes(key, v, &p->yield_floor, e);
    } else if (!strcmp(key, "drain")) {
      if (!json_is_boolean(v))
        rc = vd_spec_fail(e, "invalid_field", key, "field 'drain' must be true or false");
      p->drain = json_is_true(v);
    } else {
      rc = vd_spec_fail(e, "unknown_field", NULL, "unknown field '%.40s'; known fields: "
                        "reserve_bytes, yield_floor_bytes, drain", key);
    }
    if (rc)
      break;
  }
  if (!rc && !p->has_reserve && !p->has_yield_floor)
    rc = vd_spec_fail(e, "missing_field", "reserve_bytes",
                      "give reserve_bytes or yield_floor_bytes (or both)");
  if (!rc && p->drain && !p->has_reserve)
    rc = vd_spec_fail(e, "invalid_field", "drain", "drain moves what lies inside a new "
                      "reserve: give reserve_bytes with it");
  json_decref(root);
  return rc;
}

/* Parse a repair body: nothing, or "device" alone. */
int vd_api_parse_repair(const char *body, size_t len, char *dev, size_t devlen,
                        struct vd_api_error *e)
{
  json_t *root, *v;
  const char *key;
  int rc = 0;

  memset(e, 0, sizeof *e);
  dev[0] = '\0';
  if (len == 0)
    return 0;
  root = vd_api_load_object(body, len, JSON_REJECT_DUPLICATES, e);
  if (!root)
    return -EINVAL;
  json_object_foreach(root, key, v) {
    if (strcmp(key, "device")) {
      rc = vd_spec_fail(e, "unknown_field", NULL, "unknown field '%.40s'; known fields: device",
                        key);
      break;
    }
    if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= devlen) {
      rc = vd_spec_fail(e, "invalid_field", key, "field 'device' must be a device id "
                        "(see GET /v1/devices)");
      break;
    }
    snprintf(dev, devlen, "%s", json_string_value(v));
  }
  json_decref(root);
  return rc;
}

/* Parse a PATCH /v1/volumes/{name} body: "size" or "grow_bytes". */
int vd_api_parse_volume_patch(const char *body, size_t len, struct vramd_resize *rq,
                              struct vd_api_error *e)
{
  json_t *root, *v;
  const char *key;
  int rc = 0, n = 0;

  memset(e, 0, sizeof *e);
  root = vd_api_load_object(body, len, JSON_REJECT_DUPLICATES, e);
  if (!root)
    return -EINVAL;
  json_object_foreach(root, key, v) {
    if (strcmp(key, "size") && strcmp(key, "grow_bytes")) {
      rc = vd_spec_fail(e, "unknown_field", NULL, "unknown field '%.40s'; known fields: size, "
                        "grow_bytes", key);
      break;
    }
    n++;
    rq->relative = !strcmp(key, "grow_bytes");
    if ((rc = patch_bytes(key, v, &rq->size, e)))
      break;
    if (rq->size == 0) {
      rc = vd_spec_fail(e, "invalid_field", key, "field '%s' must be greater than zero", key);
      break;
    }
  }
  if (!rc && n != 1)
    rc = vd_spec_fail(e, n ? "invalid_field" : "missing_field", "size",
                      "give the new size as \"size\" or the growth as \"grow_bytes\"%s",
                      n ? ", not both" : "");
  json_decref(root);
  return rc;
}
