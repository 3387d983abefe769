/* volume-unexport.c: vramctl volume unexport: take a volume's NVMe/TCP
 * export down; its kernel device stays. */
#include <stdio.h>

#include "vramctl.h"

/* vramctl volume unexport NAME. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  const char *name;
  char path[128];
  json_t *doc;
  long st;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0)
    ;
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "volume NAME", true, &name)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/volumes/%s/export", name);
  st = vctl_request(g, "DELETE", path, NULL, &doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 204)
    return vctl_api_error(g, st, doc);
  json_decref(doc);
  if (g->json)
    return vctl_print_json(json_pack("{s:s}", "unexported", name));
  printf("unexported %s\n", name);
  return VCTL_OK;
}

const struct vctl_cmd vctl_cmd_volume_unexport = {
  "volume", "unexport", run, "volume unexport NAME",
  "Takes the volume's NVMe/TCP export down: connected hosts lose the path\n"
  "at once (unmount there first). The volume and its kernel device stay.\n"
  "The change is saved.",
  NULL, 0,
};
