/* volume-rebalance.c: vramctl volume rebalance NAME: move a volume's data
 * back to its own devices after a drain, as a job. */
#include <stdio.h>

#include "vramctl.h"

/* vramctl volume rebalance NAME [--no-wait]. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_NO_WAIT_OPT, VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  bool no_wait = false;
  const char *name;
  char path[128];
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0)
    no_wait |= c == VCTL_OPT_NO_WAIT;
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "volume NAME", true, &name)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/volumes/%s/rebalance", name);
  return vctl_start_job(g, path, no_wait);
}

const struct vctl_cmd vctl_cmd_volume_rebalance = {
  "volume", "rebalance", run, "volume rebalance NAME [--no-wait]",
  "Moves the volume's data that a drain or a yield put on other devices\n"
  "back to its own devices, where they are active and have room, while\n"
  "clients go on, so a striped volume runs on all its devices again.\n"
  "'vramctl volume show NAME' says where each part lives. Runs as a job.\n\n"
  "  --no-wait  print the job's id and return at once",
  NULL, 0,
};
