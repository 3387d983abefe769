/* body.c: POST /v1/volumes bodies.  Strict: unknown fields and wrong types
 * are refused by name, so a typo never silently becomes a default. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

/* Fill e and return -EINVAL. */
__attribute__((format(printf, 4, 5)))
static int fail(struct vd_api_error *e, const char *code, const char *field,
                const char *fmt, ...)
{
  va_list ap;
  e->code = code;
  snprintf(e->field, sizeof e->field, "%s", field ? field : "");
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return -EINVAL;
}

/* A string field, or an error naming it. */
static int get_str(json_t *v, const char *key, const char **out, struct vd_api_error *e)
{
  if (!json_is_string(v))
    return fail(e, "invalid_field", key, "field '%s' must be a string", key);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return fail(e, "invalid_field", key, "field '%s' contains a NUL byte", key);
  *out = json_string_value(v);
  return 0;
}

/* A positive integer number of bytes. */
static int get_bytes(json_t *v, const char *key, uint64_t *out, struct vd_api_error *e)
{
  if (!json_is_integer(v))
    return fail(e, "invalid_field", key,
                "field '%s' must be an integer number of bytes", key);
  if (json_integer_value(v) <= 0)
    return fail(e, "invalid_field", key, "field '%s' must be greater than zero", key);
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

/* "devices": "all" or an array of device ids. */
static int get_devices(json_t *v, struct vd_volume_spec *s, struct vd_api_error *e)
{
  size_t i;
  json_t *id;

  s->ndev = 0;
  if (json_is_string(v) && !strcmp(json_string_value(v), "all"))
    return 0;
  if (!json_is_array(v) || json_array_size(v) == 0)
    return fail(e, "invalid_field", "devices",
                "field 'devices' must be \"all\" or a non-empty array of device ids");
  if (json_array_size(v) > VD_MAX_DEVICES)
    return fail(e, "invalid_field", "devices", "at most %d devices per volume", VD_MAX_DEVICES);
  json_array_foreach(v, i, id) {
    const char *str;
    if (!json_is_string(id) || (str = json_string_value(id))[0] == '\0' ||
        json_string_length(id) >= VD_DEV_ID_MAX || strlen(str) != json_string_length(id))
      return fail(e, "invalid_field", "devices",
                  "devices[%zu] must be a device id such as \"gpu0\"", i);
    memcpy(s->dev_ids[s->ndev++], str, json_string_length(id) + 1);
  }
  return 0;
}

/* Apply one field of the body to the spec. */
static int apply_field(const char *key, json_t *v, struct vd_volume_spec *s,
                       struct vd_api_error *e)
{
  const char *str;
  char msg[200];

  if (!strcmp(key, "name")) {
    if (get_str(v, key, &str, e))
      return -EINVAL;
    if (!vd_name_valid(str, msg, sizeof msg))
      return fail(e, "invalid_name", key, "%s", msg);
    snprintf(s->name, sizeof s->name, "%s", str);
  } else if (!strcmp(key, "size")) {
    return get_bytes(v, key, &s->size, e);
  } else if (!strcmp(key, "stripe_unit")) {
    return get_bytes(v, key, &s->stripe_unit, e);
  } else if (!strcmp(key, "layout")) {
    if (get_str(v, key, &str, e))
      return -EINVAL;
    if (vd_layout_parse(str, &s->layout))
      return fail(e, "invalid_field", key, "layout must be \"stripe\" or \"concat\"");
  } else if (!strcmp(key, "frontend")) {
    if (get_str(v, key, &str, e))
      return -EINVAL;
    if (vd_frontend_parse(str, &s->frontend))
      return fail(e, "invalid_field", key, "frontend must be \"nbd\" or \"ublk\"");
  } else if (!strcmp(key, "devices")) {
    return get_devices(v, s, e);
  } else if (!strcmp(key, "attach")) {
    if (!json_is_boolean(v))
      return fail(e, "invalid_field", key, "field 'attach' must be true or false");
    s->attach = json_is_true(v);
  } else {
    char shown[48];
    snprintf(shown, sizeof shown, "%s", key);
    return fail(e, "unknown_field", shown,
                "unknown field '%s'; known fields: name, size, layout, devices, "
                "stripe_unit, frontend, attach", shown);
  }
  return 0;
}

/* A body as a JSON object, taken with its length: a NUL byte anywhere
 * (which a C string would cut the body at) is refused, never skipped. */
json_t *vd_api_load_object(const char *body, size_t len, size_t flags,
                           struct vd_api_error *e)
{
  json_error_t je;
  json_t *root;

  if (memchr(body, '\0', len)) {
    fail(e, "invalid_json", NULL, "body holds a NUL byte at offset %zu",
         (size_t)((const char *)memchr(body, '\0', len) - body));
    return NULL;
  }
  root = json_loadb(body, len, flags, &je);
  if (!root) {
    fail(e, "invalid_json", NULL, "body is not valid JSON: %s (line %d, column %d)",
         je.text, je.line, je.column);
    return NULL;
  }
  if (!json_is_object(root)) {
    json_decref(root);
    fail(e, "invalid_json", NULL, "body must be a JSON object");
    return NULL;
  }
  return root;
}

/* Parse a create body into a spec. */
int vd_api_parse_create(const char *body, size_t len,
                        struct vd_volume_spec *spec, struct vd_api_error *e)
{
  json_t *root, *v;
  const char *key;
  int rc = 0;

  memset(spec, 0, sizeof *spec);
  memset(e, 0, sizeof *e);
  spec->index = -1;
  /* JSON_ALLOW_NUL lets "\u0000" through to get_str, which names the field. */
  root = vd_api_load_object(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, e);
  if (!root)
    return -EINVAL;
  json_object_foreach(root, key, v) {
    rc = apply_field(key, v, spec, e);
    if (rc)
      goto out_root;
  }
  if (!spec->name[0])
    rc = fail(e, "missing_field", "name", "field 'name' is required");
  else if (!spec->size)
    rc = fail(e, "missing_field", "size", "field 'size' (bytes) is required");
  else if (spec->stripe_unit && spec->layout != VD_LAYOUT_STRIPE)
    rc = fail(e, "invalid_field", "stripe_unit",
              "field 'stripe_unit' applies to layout \"stripe\" only; drop it for \"concat\"");

out_root:
  json_decref(root);
  return rc;
}
