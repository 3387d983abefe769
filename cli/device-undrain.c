/* device-undrain.c: vramctl device undrain ID: a drained device takes new
 * data again. */
#include <stdio.h>

#include "vramctl.h"

/* vramctl device undrain ID. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  const char *id;
  char path[128];
  json_t *doc = NULL;
  long st;
  int rc;

  if (vctl_getopt(g, argc, argv, VCTL_SHORT, opts) == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "device ID", false, &id)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/devices/%s/undrain", id);
  st = vctl_request(g, "POST", path, NULL, &doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 200)
    return vctl_api_error(g, st, doc);
  if (g->json)
    return vctl_print_json(doc);
  printf("%s: %s; 'vramctl volume rebalance NAME' spreads a volume over it again\n", id,
         vctl_str(doc, "state", "?"));
  json_decref(doc);
  return VCTL_OK;
}

const struct vctl_cmd vctl_cmd_device_undrain = {
  "device", "undrain", run, "device undrain ID",
  "Puts a drained device back in service: new volumes and thin chunks may\n"
  "go there again. Data moved off stays where it is until\n"
  "'vramctl volume rebalance NAME' moves it back.",
  NULL, 0,
};
