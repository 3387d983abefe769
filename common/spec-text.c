/* spec-text.c: a volume spec as "key=value,key=value" text, field by field
 * from the table: vramd.conf's volume= lines, --volume, and the values
 * of vramctl's options. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "spec-field.h"

#define TEXT_MAX 1024 /* a whole definition, with its NUL */

/* "all" or "gpu0+gpu1": ids, each once. */
static int set_devices(const struct vd_spec_field *f, struct vd_volume_spec *s, char *v,
                       char *err, size_t errlen)
{
  char *save = NULL, *tok;
  s->ndev = 0;
  if (!strcmp(v, "all"))
    return 0;
  for (tok = strtok_r(v, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
    if (s->ndev >= VD_MAX_DEVICES || strlen(tok) >= VD_DEV_ID_MAX) {
      snprintf(err, errlen, "%s: bad device list", f->text_key);
      return -EINVAL;
    }
    for (unsigned i = 0; i < s->ndev; i++)
      if (!strcmp(s->dev_ids[i], tok)) {
        snprintf(err, errlen, "%s: '%s' is listed twice", f->text_key, tok);
        return -EINVAL;
      }
    strcpy(s->dev_ids[s->ndev++], tok);
  }
  if (!s->ndev) {
    snprintf(err, errlen, "%s: empty device list", f->text_key);
    return -EINVAL;
  }
  return 0;
}

/* A size such as "12G"; JSON carries it, so at most INT64_MAX. */
static int set_size(const struct vd_spec_field *f, struct vd_volume_spec *s, const char *v,
                    char *err, size_t errlen)
{
  uint64_t n;
  int free = f->free_ok ? vd_spec_parse_free(v, &s->size_free_pct, err, errlen) : 0;

  if (free)
    return free < 0 ? -EINVAL : 0;
  if (vd_parse_size(v, &n, err, errlen))
    return -EINVAL;
  if (n > (uint64_t)INT64_MAX) {
    snprintf(err, errlen, "size '%s' is too large", v);
    return -EINVAL;
  }
  if (f->text_check && f->text_check(v, n, err, errlen))
    return -EINVAL;
  *VD_SPEC_AT(uint64_t, f, s) = n;
  return 0;
}

/* Set one field from its text; v may be cut up. */
static int set_field(const struct vd_spec_field *f, struct vd_volume_spec *s, char *v,
                     char *err, size_t errlen)
{
  char choices[100];
  unsigned u;
  int n;

  switch (f->type) {
  case VD_FIELD_NAME:
    if (!vd_name_valid(v, err, errlen))
      return -EINVAL;
    snprintf(VD_SPEC_AT(char, f, s), VD_NAME_MAX + 1, "%s", v);
    return 0;
  case VD_FIELD_SIZE:
    return set_size(f, s, v, err, errlen);
  case VD_FIELD_ENUM:
    n = vd_spec_enum_parse(f, v);
    if (n < 0) {
      snprintf(err, errlen, "%s '%s' is not %s", f->text_key, v,
               vd_spec_enum_choices(f, false, choices, sizeof choices));
      return -EINVAL;
    }
    vd_spec_put_int(f, s, n);
    return 0;
  case VD_FIELD_DEVICES:
    return set_devices(f, s, v, err, errlen);
  case VD_FIELD_BOOL:
    return vd_setting_switch(f->text_key, v, VD_SPEC_AT(bool, f, s), err, errlen);
  case VD_FIELD_UINT:
    if (vd_setting_uint(f->text_key, v, 0, f->max, &u, err, errlen))
      return -EINVAL;
    vd_spec_put_int(f, s, (int)u);
    return 0;
  case VD_FIELD_PATH:
    return vd_spec_set_path(f, s, v, strlen(v), err, errlen);
  case VD_FIELD_EXPORT:
    break;
  }
  snprintf(err, errlen, "%s has no text form", f->text_key);
  return -EINVAL;
}

/* Set one field by its text key. */
int vd_spec_set_text(struct vd_volume_spec *s, const char *key, const char *value,
                     char *err, size_t errlen)
{
  const struct vd_spec_field *f = vd_spec_field_find(key, VD_SPEC_TEXT);
  char buf[TEXT_MAX];

  if (!f) {
    snprintf(err, errlen, "unknown key '%s'", key);
    return -EINVAL;
  }
  if (strlen(value) >= sizeof buf) {
    snprintf(err, errlen, "%s: value is too long", key);
    return -EINVAL;
  }
  strcpy(buf, value);
  return set_field(f, s, buf, err, errlen);
}

/* The rules between fields. */
int vd_spec_check_text(const struct vd_volume_spec *s, char *err, size_t errlen)
{
  const struct vd_spec_field *f = vd_spec_misplaced(s);
  char buf[64];
  if (!f)
    return 0;
  snprintf(err, errlen, "%s= applies to layout=%s only, not %s", f->text_key,
           vd_spec_field_layouts(f, false, buf, sizeof buf), vd_layout_name(s->layout));
  return -EINVAL;
}

/* "name= and size= are required": every field text requires. */
static void say_required(char *err, size_t errlen)
{
  unsigned n = 0, k = 0;
  size_t off;

  for (unsigned i = 0; i < vd_spec_nfields; i++)
    n += (vd_spec_fields[i].required & VD_SPEC_TEXT) != 0;
  off = (size_t)snprintf(err, errlen, "volume: ");
  for (unsigned i = 0; i < vd_spec_nfields && off < errlen; i++) {
    if (!(vd_spec_fields[i].required & VD_SPEC_TEXT))
      continue;
    k++;
    int w = snprintf(err + off, errlen - off, "%s%s=", k == 1 ? "" : k == n ? " and " : ", ",
                     vd_spec_fields[i].text_key);
    off += w > 0 ? (size_t)w : 0;
  }
  if (off < errlen)
    snprintf(err + off, errlen - off, " are required");
}

/* Read one comma-separated definition. */
int vd_spec_from_text(const char *str, struct vd_volume_spec *s, char *err, size_t errlen)
{
  char buf[TEXT_MAX], *save = NULL, *tok, e[200];
  uint32_t given = 0;

  vd_spec_init(s);
  if (strlen(str) >= sizeof buf) {
    snprintf(err, errlen, "volume definition is too long");
    return -EINVAL;
  }
  strcpy(buf, str);
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    const struct vd_spec_field *f;
    if (!eq) {
      snprintf(err, errlen, "volume: '%s' is not key=value", tok);
      return -EINVAL;
    }
    *eq = '\0';
    f = vd_spec_field_find(tok, VD_SPEC_TEXT);
    if (!f) {
      snprintf(err, errlen, "volume: unknown key '%s'", tok);
      return -EINVAL;
    }
    if (set_field(f, s, eq + 1, e, sizeof e)) {
      /* A device list's messages name their key already. */
      snprintf(err, errlen, "%s%s", f->type == VD_FIELD_DEVICES ? "" : "volume: ", e);
      return -EINVAL;
    }
    given |= 1u << vd_spec_field_index(f);
  }
  if (vd_spec_missing(VD_SPEC_TEXT, given)) {
    say_required(err, errlen);
    return -EINVAL;
  }
  if (vd_spec_check_text(s, e, sizeof e)) {
    snprintf(err, errlen, "volume: %s", e);
    return -EINVAL;
  }
  return 0;
}

/* Append to a text definition; false once it no longer fits. */
__attribute__((format(printf, 4, 5)))
static bool add(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
  va_list ap;
  int n;
  if (*off >= len)
    return false;
  va_start(ap, fmt);
  n = vsnprintf(buf + *off, len - *off, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= len - *off)
    return false;
  *off += (size_t)n;
  return true;
}

/* Write one field's value. */
static bool put_field(const struct vd_spec_field *f, const struct vd_volume_spec *s,
                      char *buf, size_t len, size_t *off)
{
  bool ok = true;
  switch (f->type) {
  case VD_FIELD_NAME: return add(buf, len, off, "%s", VD_SPEC_CAT(char, f, s));
  case VD_FIELD_SIZE:
    if (f->free_ok && s->size_free_pct)
      return add(buf, len, off, "%u%%FREE", s->size_free_pct);
    return add(buf, len, off, "%llu", (unsigned long long)*VD_SPEC_CAT(uint64_t, f, s));
  case VD_FIELD_ENUM: return add(buf, len, off, "%s", vd_spec_enum_name(f, vd_spec_get_int(f, s)));
  case VD_FIELD_BOOL: return add(buf, len, off, "%s", *VD_SPEC_CAT(bool, f, s) ? "on" : "off");
  case VD_FIELD_UINT: return add(buf, len, off, "%d", vd_spec_get_int(f, s));
  case VD_FIELD_PATH: return add(buf, len, off, "%s", VD_SPEC_CAT(char, f, s));
  case VD_FIELD_DEVICES:
    if (s->ndev == 0)
      return add(buf, len, off, "all");
    for (unsigned i = 0; ok && i < s->ndev && i < VD_MAX_DEVICES; i++)
      ok = add(buf, len, off, "%s%.*s", i ? "+" : "", VD_DEV_ID_MAX, s->dev_ids[i]);
    return ok;
  case VD_FIELD_EXPORT:
    break;
  }
  return false;
}

/* A spec as text: what was given, in table order. */
int vd_spec_to_text(const struct vd_volume_spec *s, char *buf, size_t len)
{
  size_t off = 0;

  if (len)
    buf[0] = '\0';
  for (unsigned i = 0; i < vd_spec_nfields; i++) {
    const struct vd_spec_field *f = &vd_spec_fields[i];
    if (!(f->forms & VD_SPEC_TEXT) || !vd_spec_field_given(f, s))
      continue;
    if (!add(buf, len, &off, "%s%s=", off ? "," : "", f->text_key) ||
        !put_field(f, s, buf, len, &off))
      return -ENOSPC;
  }
  return 0;
}
