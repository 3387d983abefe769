/* volume-rebalance.c: vramctl volume rebalance NAME: move a volume's data
 * back to its own devices after a drain, as a job. */
#include "vramctl.h"

/* vramctl volume rebalance NAME [--no-wait]. */
static int run(struct vctl *g, int argc, char **argv)
{
  return vctl_job_verb(g, argc, argv, "volume NAME", true, "/v1/volumes/%s/rebalance");
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
