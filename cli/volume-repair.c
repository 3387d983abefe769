/* volume-repair.c: vramctl volume repair NAME: rebuild a mirror's copies
 * that a lost device took, as a job. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "vramctl.h"

/* vramctl volume repair NAME [--device ID] [--no-wait]. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "device", required_argument, NULL, 'd' }, VCTL_NO_WAIT_OPT, VCTL_COMMON_OPTS,
    { NULL, 0, NULL, 0 },
  };
  const char *name, *dev = NULL;
  bool no_wait = false;
  char path[128], *body = NULL;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0) {
    if (c == 'd')
      dev = optarg;
    no_wait |= c == VCTL_OPT_NO_WAIT;
  }
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "volume NAME", true, &name)) >= 0)
    return rc;
  if (dev) {
    json_t *o = json_pack("{s:s}", "device", dev);
    body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body) {
      fprintf(stderr, "vramctl: out of memory\n");
      return VCTL_FAILED;
    }
  }
  snprintf(path, sizeof path, "/v1/volumes/%s/repair", name);
  rc = vctl_start_job_body(g, path, body, no_wait);
  free(body);
  return rc;
}

const struct vctl_cmd vctl_cmd_volume_repair = {
  "volume", "repair", run, "volume repair NAME [--device ID] [--no-wait]",
  "Rebuilds the copies of a mirror that went out of sync (its device was\n"
  "lost, or a write to it failed) from a copy in sync, while clients go\n"
  "on; writes meanwhile land on the copy being rebuilt too. The volume is\n"
  "degraded until it finishes. Runs as a job.\n\n"
  "  --device ID  rebuild on this active device (default: the copy's own\n"
  "               device when in service, else the active device with the\n"
  "               most room); never one that holds another copy\n"
  "  --no-wait    print the job's id and return at once",
  NULL, 0,
};
