/* device-drain.c: vramctl device drain ID: move everything off a device
 * while clients go on, as a job; the device then takes nothing new. */
#include "vramctl.h"

/* vramctl device drain ID [--no-wait]. */
static int run(struct vctl *g, int argc, char **argv)
{
  return vctl_job_verb(g, argc, argv, "device ID", false, "/v1/devices/%s/drain");
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
