/* volume-delete.c: vramctl volume delete. */
#include "vramctl.h"

/* vramctl volume delete NAME. */
static int run(struct vctl *g, int argc, char **argv)
{
  return vctl_volume_forced(g, argc, argv, "DELETE", "", "deleted");
}

const struct vctl_cmd vctl_cmd_volume_delete = {
  "volume", "delete", run, "volume delete NAME [-f|--force]",
  "Frees the volume's VRAM. A volume with clients or an attached device is\n"
  "refused unless --force, which disconnects them first.",
  NULL, 0,
};
