/* volume-detach.c: vramctl volume detach, as rbd unmap and nbd-client -d:
 * withdraw a volume from its frontend and keep it. */
#include "vramctl.h"

/* vramctl volume detach NAME [--force]. */
static int run(struct vctl *g, int argc, char **argv)
{
  return vctl_volume_forced(g, argc, argv, "POST", "/detach", "detached");
}

const struct vctl_cmd vctl_cmd_volume_detach = {
  "volume", "detach", run, "volume detach NAME [-f|--force]",
  "Withdraws the volume from its frontend (NBD export, /dev/nbdN or\n"
  "/dev/ublkbN), as rbd unmap does; it keeps its VRAM and contents, and\n"
  "'vramctl volume attach' exposes it again. The change is saved. A volume\n"
  "with NBD clients, or a device that is mounted, swapped on or open, is\n"
  "refused unless --force, which disconnects them first.",
  NULL, 0,
};
