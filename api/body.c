/* body.c: request bodies: a JSON object taken with its length, and
 * POST /v1/volumes and .../attach read by the spec codec (common/spec-json.c). */
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

/* An attach body: how to expose it. */
int vd_api_parse_attach(const char *body, size_t len, struct vd_volume_spec *how,
                        struct vd_api_error *e)
{
  return parse_spec(body, len, VD_SPEC_EXPOSE, how, e);
}
