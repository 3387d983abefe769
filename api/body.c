/* body.c: request bodies: a JSON object taken with its length, and
 * POST /v1/volumes read by the spec codec (common/spec-json.c). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

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

/* Parse a create body into a spec, by the spec codec's table. */
int vd_api_parse_create(const char *body, size_t len,
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
  rc = vd_spec_from_json(root, VD_SPEC_BODY, spec, e);
  json_decref(root);
  return rc;
}

/* Parse a PATCH /v1/devices/{id} body: {"reserve_bytes": N}, integer
 * bytes as sizes are everywhere in JSON; nothing else is taken. */
int vd_api_parse_device_patch(const char *body, size_t len, uint64_t *reserve,
                              struct vd_api_error *e)
{
  json_t *root, *v;
  const char *key;
  int rc = 0;

  memset(e, 0, sizeof *e);
  root = vd_api_load_object(body, len, JSON_REJECT_DUPLICATES, e);
  if (!root)
    return -EINVAL;
  json_object_foreach(root, key, v) {
    if (strcmp(key, "reserve_bytes")) {
      rc = vd_spec_fail(e, "unknown_field", NULL, "unknown field '%.40s'; known fields: "
                        "reserve_bytes", key);
      break;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
      rc = vd_spec_fail(e, "invalid_field", key,
                        "field 'reserve_bytes' must be an integer number of bytes, 0 or more");
      break;
    }
    *reserve = (uint64_t)json_integer_value(v);
  }
  if (!rc && !json_object_get(root, "reserve_bytes"))
    rc = vd_spec_fail(e, "missing_field", "reserve_bytes", "field 'reserve_bytes' is required");
  json_decref(root);
  return rc;
}
