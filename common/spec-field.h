/* spec-field.h: the table of a volume spec's fields, shared by the JSON
 * codec (spec-json.c) and the text codec (spec-text.c).  A new field is a
 * member of struct vd_volume_spec and a row here. */
#ifndef VRAMD_SPEC_FIELD_H
#define VRAMD_SPEC_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec.h"

enum vd_field_type {
  VD_FIELD_NAME,     /* char[VD_NAME_MAX + 1], a valid volume name */
  VD_FIELD_SIZE,     /* uint64_t bytes; JSON an integer, text "12G" */
  VD_FIELD_ENUM,     /* an enum, by the names of the row */
  VD_FIELD_DEVICES,  /* ndev and dev_ids: "all" or a list of device ids */
  VD_FIELD_BOOL,     /* bool; text on/off */
  VD_FIELD_UINT,     /* int from 0 to max; -1 when not given */
  VD_FIELD_PATH,     /* char[VD_PERSIST_MAX], absolute, no ','; "" when not given */
  VD_FIELD_EXPORT,   /* struct vd_export_spec, JSON only; not given while nqn is "" */
};

struct vd_spec_field {
  const char *key;            /* in JSON */
  const char *text_key;       /* in key=value text */
  enum vd_field_type type;
  size_t off;                 /* of the value in struct vd_volume_spec */
  unsigned forms;             /* the VD_SPEC_* forms that take it */
  unsigned required;          /* the forms that need it */
  const char *const *names;   /* ENUM: names by value, NULL-ended */
  unsigned max;               /* UINT: the largest value */
  bool free_ok;               /* SIZE: may be a share of free VRAM (size_free_pct) */
  bool omit_default;          /* ENUM, UINT: left out of every form while 0 (ENUM)
                               * or not given (UINT), so that definitions
                               * without it read and write as before */
  /* Set only with these layouts: a bit per enum vd_layout (0: any). */
  unsigned layouts;
  /* Text is typed by hand and read at start, so it is also held at once
   * to what vd_volume_alloc would refuse later (NULL: nothing more);
   * err without a prefix. */
  int (*text_check)(const char *text, uint64_t n, char *err, size_t errlen);
};

extern const struct vd_spec_field vd_spec_fields[];
extern const unsigned vd_spec_nfields;

/* The row of key (JSON key, or text key when text) taken in form, or NULL. */
const struct vd_spec_field *vd_spec_field_find(const char *key, enum vd_spec_form form);
/* Index of a row, for the bit masks of given fields. */
unsigned vd_spec_field_index(const struct vd_spec_field *f);
/* The first field form requires that given (a bit per row) lacks, or NULL. */
const struct vd_spec_field *vd_spec_missing(enum vd_spec_form form, uint32_t given);
/* The layouts a field applies to, as "a or b" (quote: "\"a\" or \"b\""). */
const char *vd_spec_field_layouts(const struct vd_spec_field *f, bool quote, char *buf,
                                  size_t len);
/* The first field set with a layout it does not apply to, or NULL. */
const struct vd_spec_field *vd_spec_misplaced(const struct vd_volume_spec *s);
/* True when a field holds a value other than "not given" (a size of 0,
 * an index of -1); such fields are left out of BODY and TEXT. */
bool vd_spec_field_given(const struct vd_spec_field *f, const struct vd_volume_spec *s);

/* A size given as a share of free VRAM: "all", "N%FREE" or "N%" (N from
 * 1 to 100).  1 with *pct set; 0 when text is no such form; -EINVAL with
 * err filled for a share out of range. */
int vd_spec_parse_free(const char *text, unsigned *pct, char *err, size_t errlen);
/* Check and copy a PATH field's text: 0, or -EINVAL with err filled. */
int vd_spec_set_path(const struct vd_spec_field *f, struct vd_volume_spec *s, const char *v,
                     size_t n, char *err, size_t errlen);

/* The value of an ENUM, UINT field, and setting it. */
int vd_spec_get_int(const struct vd_spec_field *f, const struct vd_volume_spec *s);
void vd_spec_put_int(const struct vd_spec_field *f, struct vd_volume_spec *s, int v);
/* Where a NAME, SIZE or BOOL field's value is. */
#define VD_SPEC_AT(type, f, s) ((type *)(void *)((char *)(s) + (f)->off))
#define VD_SPEC_CAT(type, f, s) ((const type *)(const void *)((const char *)(s) + (f)->off))

/* An ENUM value by name: its value, or -1. */
int vd_spec_enum_parse(const struct vd_spec_field *f, const char *name);
/* The name of an ENUM value (the first name for one out of range). */
const char *vd_spec_enum_name(const struct vd_spec_field *f, int v);
/* "a or b" (quote: "\"a\" or \"b\""), the names an ENUM takes. */
const char *vd_spec_enum_choices(const struct vd_spec_field *f, bool quote, char *buf,
                                 size_t len);

#endif
