/* volume-force.c: what delete and detach share: NAME [-f|--force], one
 * request without a body, 204, and a line that says what was done. */
#include <stdio.h>

#include "vramctl.h"

/* Run METHOD /v1/volumes/NAME<suffix>[?force=true]; done is the past
 * tense for the output ("deleted"). */
int vctl_volume_forced(struct vctl *g, int argc, char **argv, const char *method,
                       const char *suffix, const char *done)
{
  static const struct option opts[] = {
    { "force", no_argument, NULL, 'f' }, VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 },
  };
  char path[128];
  bool force = false;
  const char *name;
  json_t *doc;
  long st;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT "f", opts)) > 0)
    force = true;
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "volume NAME", true, &name)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/volumes/%s%s%s", name, suffix, force ? "?force=true" : "");
  st = vctl_request(g, method, path, NULL, &doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 204)
    return vctl_api_error(g, st, doc);
  json_decref(doc);
  if (g->json)
    return vctl_print_json(json_pack("{s:s, s:b}", done, name, "forced", force));
  printf("%s %s\n", done, name);
  return VCTL_OK;
}
