/* spec.c: the table of a volume spec's fields and what both codecs share:
 * defaults, enum names, and the rules between fields. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec-field.h"

/* ENUM fields are read and written as int. */
static_assert(sizeof(enum vd_layout) == sizeof(int), "enum vd_layout is an int");
static_assert(sizeof(enum vd_frontend_kind) == sizeof(int), "enum vd_frontend_kind is an int");
static_assert(sizeof(enum vd_provisioning) == sizeof(int), "enum vd_provisioning is an int");
static_assert(sizeof(enum vd_integrity) == sizeof(int), "enum vd_integrity is an int");

static const char *const layout_names[] = { "stripe", "concat", "mirror", NULL };
static const char *const frontend_names[] = { "nbd", "ublk", "none", NULL };
static const char *const provisioning_names[] = { "thick", "thin", NULL };
static const char *const integrity_names[] = { "none", "crc32c", "crc32c+parity", NULL };

/* A unit in vramd.conf must be one the volume map takes. */
static int check_unit(const char *text, uint64_t n, char *err, size_t errlen)
{
  if (vd_is_pow2(n) && n >= VD_MIN_STRIPE_UNIT && n <= VD_MAX_STRIPE_UNIT)
    return 0;
  snprintf(err, errlen, "unit '%s' is not a power of two from 4K to 1M", text);
  return -EINVAL;
}

#define ALL (VD_SPEC_BODY | VD_SPEC_SAVED | VD_SPEC_TEXT)
#define AT(m) offsetof(struct vd_volume_spec, m)

/* Every field, in the order JSON is written and errors are listed.  The
 * state file takes what version 1 wrote, and needs what it needed. */
const struct vd_spec_field vd_spec_fields[] = {
  { .key = "name", .text_key = "name", .type = VD_FIELD_NAME, .off = AT(name),
    .forms = ALL, .required = ALL },
  { .key = "size", .text_key = "size", .type = VD_FIELD_SIZE, .off = AT(size),
    .forms = ALL, .required = ALL, .free_ok = true },
  { .key = "layout", .text_key = "layout", .type = VD_FIELD_ENUM, .off = AT(layout),
    .forms = ALL, .required = VD_SPEC_SAVED, .names = layout_names },
  { .key = "devices", .text_key = "devices", .type = VD_FIELD_DEVICES, .off = AT(ndev),
    .forms = ALL },
  { .key = "stripe_unit", .text_key = "unit", .type = VD_FIELD_SIZE, .off = AT(stripe_unit),
    .forms = ALL, .layouts = 1u << VD_LAYOUT_STRIPE | 1u << VD_LAYOUT_MIRROR,
    .text_check = check_unit },
  /* Left out while not given, so that definitions without it read and
   * write as before. */
  { .key = "copies", .text_key = "copies", .type = VD_FIELD_UINT, .off = AT(copies),
    .forms = ALL, .max = VD_MAX_DEVICES / 2, .omit_default = true,
    .layouts = 1u << VD_LAYOUT_MIRROR },
  { .key = "frontend", .text_key = "frontend", .type = VD_FIELD_ENUM, .off = AT(frontend),
    .forms = ALL | VD_SPEC_EXPOSE, .required = VD_SPEC_SAVED | VD_SPEC_EXPOSE,
    .names = frontend_names },
  { .key = "provisioning", .text_key = "provisioning", .type = VD_FIELD_ENUM,
    .off = AT(provisioning), .forms = ALL, .names = provisioning_names, .omit_default = true },
  { .key = "attach", .text_key = "attach", .type = VD_FIELD_BOOL, .off = AT(attach),
    .forms = ALL | VD_SPEC_EXPOSE },
  /* Saved only when given, so a volume that let the kernel pick still
   * does after a restart. */
  { .key = "index", .text_key = "index", .type = VD_FIELD_UINT, .off = AT(index),
    .forms = ALL | VD_SPEC_EXPOSE, .max = 1u << 20, .omit_default = true },
  { .key = "persist", .text_key = "persist", .type = VD_FIELD_PATH, .off = AT(persist),
    .forms = ALL, .omit_default = true },
  { .key = "integrity", .text_key = "integrity", .type = VD_FIELD_ENUM, .off = AT(integrity),
    .forms = ALL, .names = integrity_names, .omit_default = true },
  /* Set by POST .../export alone; saved so that a restart exports again. */
  { .key = "export", .text_key = "export", .type = VD_FIELD_EXPORT, .off = AT(export),
    .forms = VD_SPEC_SAVED, .omit_default = true },
};
const unsigned vd_spec_nfields = sizeof vd_spec_fields / sizeof vd_spec_fields[0];

static_assert(sizeof vd_spec_fields / sizeof vd_spec_fields[0] <= 32,
              "given fields are a 32-bit mask");

/* An empty spec. */
void vd_spec_init(struct vd_volume_spec *s)
{
  memset(s, 0, sizeof *s);
  s->index = -1;
  s->copies = -1;
}

/* Find a row by its key in form. */
const struct vd_spec_field *vd_spec_field_find(const char *key, enum vd_spec_form form)
{
  for (unsigned i = 0; i < vd_spec_nfields; i++) {
    const struct vd_spec_field *f = &vd_spec_fields[i];
    if ((f->forms & form) && !strcmp(form == VD_SPEC_TEXT ? f->text_key : f->key, key))
      return f;
  }
  return NULL;
}

/* Index of a row. */
unsigned vd_spec_field_index(const struct vd_spec_field *f)
{
  return (unsigned)(f - vd_spec_fields);
}

/* The first required field not given. */
const struct vd_spec_field *vd_spec_missing(enum vd_spec_form form, uint32_t given)
{
  for (unsigned i = 0; i < vd_spec_nfields; i++)
    if ((vd_spec_fields[i].required & form) && !(given & (1u << i)))
      return &vd_spec_fields[i];
  return NULL;
}

/* The first field set where the layout says it means nothing. */
const struct vd_spec_field *vd_spec_misplaced(const struct vd_volume_spec *s)
{
  for (unsigned i = 0; i < vd_spec_nfields; i++) {
    const struct vd_spec_field *f = &vd_spec_fields[i];
    if (f->layouts && !(f->layouts & (1u << s->layout)) && vd_spec_field_given(f, s))
      return f;
  }
  return NULL;
}

/* The layouts a field is for, as a sentence. */
const char *vd_spec_field_layouts(const struct vd_spec_field *f, bool quote, char *buf,
                                  size_t len)
{
  const char *q = quote ? "\"" : "";
  size_t off = 0;
  unsigned n = 0;

  buf[0] = '\0';
  for (int i = 0; layout_names[i] && off < len; i++) {
    int w;
    if (!(f->layouts & (1u << i)))
      continue;
    w = snprintf(buf + off, len - off, "%s%s%s%s", n++ ? " or " : "", q, layout_names[i], q);
    off += w > 0 ? (size_t)w : 0;
  }
  return buf;
}

/* attach and index mean something only for a kernel device. */
int vd_spec_check_exposure(const struct vd_volume_spec *s, char *err, size_t errlen)
{
  if (s->attach && s->frontend != VD_FRONTEND_NBD) {
    snprintf(err, errlen, "attach applies to frontend nbd only (a kernel /dev/nbdN); "
             "frontend %s has no such attachment", vd_frontend_name(s->frontend));
    return -EINVAL;
  }
  if (s->index >= 0 && !s->attach && s->frontend != VD_FRONTEND_UBLK) {
    snprintf(err, errlen, "index applies to frontend ublk (/dev/ublkbN) or to nbd with "
             "attach (/dev/nbdN), not to %s%s", vd_frontend_name(s->frontend),
             s->frontend == VD_FRONTEND_NBD ? " without attach" : "");
    return -EINVAL;
  }
  return 0;
}

/* "all", "N%FREE" or "N%": a share of the free VRAM, as LVM's -l 100%FREE. */
int vd_spec_parse_free(const char *text, unsigned *pct, char *err, size_t errlen)
{
  char *end;
  unsigned long n;

  if (!strcmp(text, "all")) {
    *pct = 100;
    return 1;
  }
  if (!isdigit((unsigned char)text[0]))
    return 0;
  errno = 0;
  n = strtoul(text, &end, 10);
  if (*end != '%' || (strcmp(end, "%") && strcasecmp(end, "%FREE")))
    return 0;
  if (errno || n < 1 || n > 100) {
    snprintf(err, errlen, "size '%s': the share of free VRAM must be from 1%% to 100%%", text);
    return -EINVAL;
  }
  *pct = (unsigned)n;
  return 1;
}

/* An absolute path of n bytes, without ',' (text form) or NUL. */
int vd_spec_set_path(const struct vd_spec_field *f, struct vd_volume_spec *s, const char *v,
                     size_t n, char *err, size_t errlen)
{
  if (n == 0 || v[0] != '/' || n >= VD_PERSIST_MAX || memchr(v, ',', n) || memchr(v, 0, n)) {
    snprintf(err, errlen, "%s must be an absolute path of fewer than %d bytes, without ','",
             f->text_key, VD_PERSIST_MAX);
    return -EINVAL;
  }
  memcpy(VD_SPEC_AT(char, f, s), v, n);
  VD_SPEC_AT(char, f, s)[n] = '\0';
  return 0;
}

/* Whether a field holds a value. */
bool vd_spec_field_given(const struct vd_spec_field *f, const struct vd_volume_spec *s)
{
  switch (f->type) {
  case VD_FIELD_SIZE:
    return *VD_SPEC_CAT(uint64_t, f, s) != 0 || (f->free_ok && s->size_free_pct);
  case VD_FIELD_UINT: return vd_spec_get_int(f, s) >= 0;
  case VD_FIELD_ENUM: return !f->omit_default || vd_spec_get_int(f, s) != 0;
  case VD_FIELD_PATH: return VD_SPEC_CAT(char, f, s)[0] != '\0';
  case VD_FIELD_EXPORT: return s->export.nqn[0] != '\0';
  default: return true;
  }
}

/* Read an int-sized field. */
int vd_spec_get_int(const struct vd_spec_field *f, const struct vd_volume_spec *s)
{
  int v;
  memcpy(&v, (const char *)s + f->off, sizeof v);
  return v;
}

/* Write an int-sized field. */
void vd_spec_put_int(const struct vd_spec_field *f, struct vd_volume_spec *s, int v)
{
  memcpy((char *)s + f->off, &v, sizeof v);
}

/* An ENUM value by name. */
int vd_spec_enum_parse(const struct vd_spec_field *f, const char *name)
{
  for (int i = 0; f->names[i]; i++)
    if (!strcmp(f->names[i], name))
      return i;
  return -1;
}

/* The names an ENUM takes, as a sentence. */
const char *vd_spec_enum_choices(const struct vd_spec_field *f, bool quote, char *buf,
                                 size_t len)
{
  const char *q = quote ? "\"" : "";
  size_t off = 0;

  buf[0] = '\0';
  for (int i = 0; f->names[i] && off < len; i++) {
    const char *sep = i == 0 ? "" : f->names[i + 1] ? ", " : " or ";
    int n = snprintf(buf + off, len - off, "%s%s%s%s", sep, q, f->names[i], q);
    off += n > 0 ? (size_t)n : 0;
  }
  return buf;
}

/* Parse a name of the ENUM row at key, -EINVAL when unknown. */
static int enum_parse(const char *key, const char *name, int *out)
{
  int v = vd_spec_enum_parse(vd_spec_field_find(key, VD_SPEC_BODY), name);
  if (v < 0)
    return -EINVAL;
  *out = v;
  return 0;
}

/* The name of an ENUM value; the first name for one out of range. */
const char *vd_spec_enum_name(const struct vd_spec_field *f, int v)
{
  for (int i = 0; f->names[i]; i++)
    if (i == v)
      return f->names[i];
  return f->names[0];
}

/* The name of value v of the ENUM row at key. */
static const char *enum_name(const char *key, int v)
{
  return vd_spec_enum_name(vd_spec_field_find(key, VD_SPEC_BODY), v);
}

/* Layout name to enum. */
int vd_layout_parse(const char *s, enum vd_layout *out)
{
  int v;
  if (enum_parse("layout", s, &v))
    return -EINVAL;
  *out = (enum vd_layout)v;
  return 0;
}

/* Layout enum to name. */
const char *vd_layout_name(enum vd_layout l) { return enum_name("layout", (int)l); }

/* Frontend name to enum. */
int vd_frontend_parse(const char *s, enum vd_frontend_kind *out)
{
  int v;
  if (enum_parse("frontend", s, &v))
    return -EINVAL;
  *out = (enum vd_frontend_kind)v;
  return 0;
}

/* Frontend enum to name. */
const char *vd_frontend_name(enum vd_frontend_kind k) { return enum_name("frontend", (int)k); }
const char *vd_provisioning_name(enum vd_provisioning p) { return enum_name("provisioning", (int)p); }
const char *vd_integrity_name(enum vd_integrity i) { return enum_name("integrity", (int)i); }
