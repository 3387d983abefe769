/* volume-delete.c: vramctl volume delete. */
#include <stdio.h>

#include "vramctl.h"

/* vramctl volume delete NAME. */
static int run(struct vctl *g, int argc, char **argv)
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
  snprintf(path, sizeof path, "/v1/volumes/%s%s", name, force ? "?force=true" : "");
  st = vctl_request(g, "DELETE", path, NULL, &doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 204)
    return vctl_api_error(g, st, doc);
  json_decref(doc);
  if (g->json)
    return vctl_print_json(json_pack("{s:s, s:b}", "deleted", name, "forced", force));
  printf("deleted %s\n", name);
  return VCTL_OK;
}

const struct vctl_cmd vctl_cmd_volume_delete = {
  "volume", "delete", run, "volume delete NAME [-f|--force]",
  "Frees the volume's VRAM. A volume with clients or an attached device is\n"
  "refused unless --force, which disconnects them first.",
  NULL, 0,
};
