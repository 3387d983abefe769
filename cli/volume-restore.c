/* volume-restore.c: vramctl volume restore NAME FILE: load a raw image
 * into an existing volume, as a job. */
#include "vramctl.h"

/* vramctl volume restore NAME FILE [--force] [--no-wait]. */
static int run(struct vctl *g, int argc, char **argv)
{
  return vctl_image_job(g, argc, argv, "restore", true);
}

const struct vctl_cmd vctl_cmd_volume_restore = {
  "volume", "restore", run, "volume restore NAME FILE [--force] [--no-wait]",
  "Loads the raw image FILE (a regular file or a block device, no larger\n"
  "than the volume) into the volume, which then holds the image's bytes and\n"
  "zeros past them; holes in FILE are not read. Refused while clients have\n"
  "the volume open, since what they read would change under them. A restore\n"
  "that fails or is cancelled leaves part of the image in the volume.\n"
  "vramd opens FILE as the user who runs vramctl. Runs as a job.\n\n"
  "  -f, --force  restore even while clients have the volume open\n"
  "  --no-wait    print the job's id and return at once",
  NULL, 0,
};
