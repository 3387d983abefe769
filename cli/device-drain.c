/* device-drain.c: vramctl device drain ID: move everything off a device
 * while clients go on, as a job; the device then takes nothing new. */
#include <stdio.h>

#include "vramctl.h"

/* vramctl device drain ID [--no-wait]. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_NO_WAIT_OPT, VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  bool no_wait = false;
  const char *id;
  char path[128];
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0)
    no_wait |= c == VCTL_OPT_NO_WAIT;
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "device ID", false, &id)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/devices/%s/drain", id);
  return vctl_start_job(g, path, no_wait);
}

const struct vctl_cmd vctl_cmd_device_drain = {
  "device", "drain", run, "device drain ID [--no-wait]",
  "Moves every volume's data off the device to the other active devices\n"
  "while clients keep reading and writing, then leaves it drained: it\n"
  "takes nothing new and its memory is back with the driver. Refused, with\n"
  "nothing moved, when the other devices have no room; the message says how\n"
  "much is missing. Runs as a job: a progress bar on a terminal, Ctrl-C\n"
  "cancels it (what moved stays moved, the device is active again).\n\n"
  "  --no-wait  print the job's id and return at once",
  NULL, 0,
};
