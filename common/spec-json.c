/* spec-json.c: a volume spec as JSON, field by field from the table: the
 * API's create bodies (strict: unknown fields and wrong types are refused
 * by name, so a typo never silently becomes a default) and the state
 * file's definitions. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spec-field.h"

/* Fill e and return -EINVAL. */
int vd_spec_fail(struct vd_spec_error *e, const char *code, const char *field,
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
static int get_str(const char *key, json_t *v, const char **out, struct vd_spec_error *e)
{
  if (!json_is_string(v))
    return vd_spec_fail(e, "invalid_field", key, "field '%s' must be a string", key);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return vd_spec_fail(e, "invalid_field", key, "field '%s' contains a NUL byte", key);
  *out = json_string_value(v);
  return 0;
}

/* A volume name. */
static int get_name(const struct vd_spec_field *f, json_t *v, struct vd_volume_spec *s,
                    struct vd_spec_error *e)
{
  const char *str;
  char msg[200];

  if (get_str(f->key, v, &str, e))
    return -EINVAL;
  if (!vd_name_valid(str, msg, sizeof msg))
    return vd_spec_fail(e, "invalid_name", f->key, "%s", msg);
  snprintf(VD_SPEC_AT(char, f, s), VD_NAME_MAX + 1, "%s", str);
  return 0;
}

/* A positive integer number of bytes; in the state file an optional one
 * may be 0 (not given), as version 1 wrote a concat volume's unit. */
static int get_size(const struct vd_spec_field *f, json_t *v, enum vd_spec_form form,
                    struct vd_volume_spec *s, struct vd_spec_error *e)
{
  bool zero_ok = form == VD_SPEC_SAVED && !(f->required & form);
  char msg[200];

  if (f->free_ok && json_is_string(v)) {
    int free = vd_spec_parse_free(json_string_value(v), &s->size_free_pct, msg, sizeof msg);
    if (free > 0)
      return 0;
    return vd_spec_fail(e, "invalid_field", f->key, "%s", free < 0 ? msg :
                        "field 'size' must be bytes or a share of free VRAM: \"all\", \"N%FREE\"");
  }
  if (!json_is_integer(v))
    return vd_spec_fail(e, "invalid_field", f->key,
                        "field '%s' must be an integer number of bytes", f->key);
  if (json_integer_value(v) < 0 || (json_integer_value(v) == 0 && !zero_ok))
    return vd_spec_fail(e, "invalid_field", f->key, "field '%s' must be greater than zero",
                        f->key);
  *VD_SPEC_AT(uint64_t, f, s) = (uint64_t)json_integer_value(v);
  return 0;
}

/* One of the row's names. */
static int get_enum(const struct vd_spec_field *f, json_t *v, struct vd_volume_spec *s,
                    struct vd_spec_error *e)
{
  const char *str;
  char choices[100];
  int n;

  if (get_str(f->key, v, &str, e))
    return -EINVAL;
  n = vd_spec_enum_parse(f, str);
  if (n < 0)
    return vd_spec_fail(e, "invalid_field", f->key, "%s must be %s", f->key,
                        vd_spec_enum_choices(f, true, choices, sizeof choices));
  vd_spec_put_int(f, s, n);
  return 0;
}

/* "all" or an array of device ids; the state file also takes [] for all. */
static int get_devices(const struct vd_spec_field *f, json_t *v, enum vd_spec_form form,
                       struct vd_volume_spec *s, struct vd_spec_error *e)
{
  size_t i;
  json_t *id;

  s->ndev = 0;
  if (json_is_string(v) && !strcmp(json_string_value(v), "all"))
    return 0;
  if (!json_is_array(v) || (json_array_size(v) == 0 && form != VD_SPEC_SAVED))
    return vd_spec_fail(e, "invalid_field", f->key,
                        "field '%s' must be \"all\" or a non-empty array of device ids", f->key);
  if (json_array_size(v) > VD_MAX_DEVICES)
    return vd_spec_fail(e, "invalid_field", f->key, "at most %d devices per volume",
                        VD_MAX_DEVICES);
  json_array_foreach(v, i, id) {
    const char *str;
    if (!json_is_string(id) || (str = json_string_value(id))[0] == '\0' ||
        json_string_length(id) >= VD_DEV_ID_MAX || strlen(str) != json_string_length(id))
      return vd_spec_fail(e, "invalid_field", f->key,
                          "%s[%zu] must be a device id such as \"gpu0\"", f->key, i);
    memcpy(s->dev_ids[s->ndev++], str, json_string_length(id) + 1);
  }
  return 0;
}

/* true or false. */
static int get_bool(const struct vd_spec_field *f, json_t *v, struct vd_volume_spec *s,
                    struct vd_spec_error *e)
{
  if (!json_is_boolean(v))
    return vd_spec_fail(e, "invalid_field", f->key, "field '%s' must be true or false", f->key);
  *VD_SPEC_AT(bool, f, s) = json_is_true(v);
  return 0;
}

/* An integer from 0 to the row's max. */
static int get_uint(const struct vd_spec_field *f, json_t *v, struct vd_volume_spec *s,
                    struct vd_spec_error *e)
{
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      json_integer_value(v) > (json_int_t)f->max)
    return vd_spec_fail(e, "invalid_field", f->key, "field '%s' must be an integer from 0 to %u",
                        f->key, f->max);
  vd_spec_put_int(f, s, (int)json_integer_value(v));
  return 0;
}

/* An absolute path. */
static int get_path(const struct vd_spec_field *f, json_t *v, struct vd_volume_spec *s,
                    struct vd_spec_error *e)
{
  char msg[200];
  if (!json_is_string(v))
    return vd_spec_fail(e, "invalid_field", f->key, "field '%s' must be a string", f->key);
  if (vd_spec_set_path(f, s, json_string_value(v), json_string_length(v), msg, sizeof msg))
    return vd_spec_fail(e, "invalid_field", f->key, "field %s", msg);
  return 0;
}

/* Apply one member to the spec by its row. */
static int get_field(const struct vd_spec_field *f, json_t *v, enum vd_spec_form form,
                     struct vd_volume_spec *s, struct vd_spec_error *e)
{
  switch (f->type) {
  case VD_FIELD_NAME: return get_name(f, v, s, e);
  case VD_FIELD_SIZE: return get_size(f, v, form, s, e);
  case VD_FIELD_ENUM: return get_enum(f, v, s, e);
  case VD_FIELD_DEVICES: return get_devices(f, v, form, s, e);
  case VD_FIELD_BOOL: return get_bool(f, v, s, e);
  case VD_FIELD_UINT: return get_uint(f, v, s, e);
  case VD_FIELD_PATH: return get_path(f, v, s, e);
  case VD_FIELD_EXPORT: return vd_export_from_json(v, true, &s->export, e);
  }
  return vd_spec_fail(e, "internal", f->key, "field '%s' has no JSON form", f->key);
}

/* Refuse a member the form does not take, listing those it does. */
static int unknown(const char *key, enum vd_spec_form form, struct vd_spec_error *e)
{
  char shown[48], known[200];
  size_t off = 0;

  known[0] = '\0';
  for (unsigned i = 0; i < vd_spec_nfields && off < sizeof known; i++)
    if (vd_spec_fields[i].forms & form) {
      int n = snprintf(known + off, sizeof known - off, "%s%s", off ? ", " : "",
                       vd_spec_fields[i].key);
      off += n > 0 ? (size_t)n : 0;
    }
  snprintf(shown, sizeof shown, "%s", key);
  return vd_spec_fail(e, "unknown_field", shown, "unknown field '%s'; known fields: %s", shown,
                      known);
}

/* Read a JSON object into a spec. */
int vd_spec_from_json(json_t *o, enum vd_spec_form form, struct vd_volume_spec *s,
                      struct vd_spec_error *e)
{
  const struct vd_spec_field *f;
  uint32_t given = 0;
  const char *key;
  char buf[64];
  json_t *v;

  vd_spec_init(s);
  memset(e, 0, sizeof *e);
  if (!json_is_object(o))
    return vd_spec_fail(e, "invalid_json", NULL, "a volume definition must be a JSON object");
  json_object_foreach(o, key, v) {
    f = vd_spec_field_find(key, form);
    if (!f)
      return unknown(key, form, e);
    if (get_field(f, v, form, s, e))
      return -EINVAL;
    given |= 1u << vd_spec_field_index(f);
  }
  f = vd_spec_missing(form, given);
  if (f)
    return vd_spec_fail(e, "missing_field", f->key, "field '%s'%s is required", f->key,
                        f->type == VD_FIELD_SIZE ? " (bytes)" : "");
  f = vd_spec_misplaced(s);
  if (f)
    return vd_spec_fail(e, "invalid_field", f->key,
                        "field '%s' applies to layout %s only; drop it for \"%s\"", f->key,
                        vd_spec_field_layouts(f, true, buf, sizeof buf),
                        vd_layout_name(s->layout));
  return 0;
}

/* One field as JSON. */
static json_t *put_field(const struct vd_spec_field *f, const struct vd_volume_spec *s,
                         enum vd_spec_form form)
{
  json_t *arr;

  switch (f->type) {
  case VD_FIELD_NAME: return json_string(VD_SPEC_CAT(char, f, s));
  case VD_FIELD_SIZE:
    if (f->free_ok && s->size_free_pct)
      return json_sprintf("%u%%FREE", s->size_free_pct);
    return json_integer((json_int_t)*VD_SPEC_CAT(uint64_t, f, s));
  case VD_FIELD_ENUM: return json_string(vd_spec_enum_name(f, vd_spec_get_int(f, s)));
  case VD_FIELD_BOOL: return json_boolean(*VD_SPEC_CAT(bool, f, s));
  case VD_FIELD_UINT: return json_integer(vd_spec_get_int(f, s));
  case VD_FIELD_PATH: return json_string(VD_SPEC_CAT(char, f, s));
  case VD_FIELD_EXPORT: return vd_export_to_json(&s->export);
  case VD_FIELD_DEVICES:
    /* The state file holds the devices a volume got, as an array. */
    if (s->ndev == 0 && form != VD_SPEC_SAVED)
      return json_string("all");
    arr = json_array();
    for (unsigned i = 0; arr && i < s->ndev && i < VD_MAX_DEVICES; i++)
      if (json_array_append_new(arr, json_stringn(s->dev_ids[i],
                                                  strnlen(s->dev_ids[i], VD_DEV_ID_MAX)))) {
        json_decref(arr);
        return NULL;
      }
    return arr;
  }
  return NULL;
}

/* A spec as a JSON object: the state file writes every field it takes,
 * as version 1 did; a body leaves out what was not given. */
json_t *vd_spec_to_json(const struct vd_volume_spec *s, enum vd_spec_form form)
{
  json_t *o = json_object();

  for (unsigned i = 0; o && i < vd_spec_nfields; i++) {
    const struct vd_spec_field *f = &vd_spec_fields[i];
    if (!(f->forms & form) || ((form != VD_SPEC_SAVED || f->omit_default) &&
                                 !vd_spec_field_given(f, s)))
      continue;
    if (json_object_set_new(o, f->key, put_field(f, s, form))) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}
