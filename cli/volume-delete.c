/* volume-delete.c: vramctl volume delete. */
#include <getopt.h>
#include <stdio.h>

#include "vramctl.h"

static const char usage[] =
  "volume delete NAME [--force] [--json]\n\n"
  "Frees the volume's VRAM. A volume with clients or an attached device is\n"
  "refused unless --force, which disconnects them first.";

/* vramctl volume delete NAME. */
int vctl_volume_delete(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "force", no_argument, NULL, 'f' }, VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 },
  };
  char path[128];
  bool force = false;
  json_t *doc;
  long st;
  const char *name;
  int c, rc;

  while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
    if (c == 'f')
      force = true;
    else if ((rc = vctl_common_opt(g, c, usage)) >= 0)
      return rc;
  }
  if ((rc = vctl_volume_name_arg(argc, argv, usage, &name)) >= 0)
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
