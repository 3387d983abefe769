/* volume-save.c: vramctl volume save NAME FILE: the volume's contents
 * into a raw image file, as a job. */
#include "vramctl.h"

/* vramctl volume save NAME FILE [--no-wait]. */
static int run(struct vctl *g, int argc, char **argv)
{
  return vctl_image_job(g, argc, argv, "save", false);
}

const struct vctl_cmd vctl_cmd_volume_save = {
  "volume", "save", run, "volume save NAME FILE [--no-wait]",
  "Writes the volume's contents to FILE as a raw image (byte n of the file\n"
  "is byte n of the volume), which dd, losetup and qemu-img read as it is.\n"
  "Ranges that hold only zeros, and thin ranges never written, become holes.\n"
  "FILE is written as FILE.partial, flushed and renamed once complete, so a\n"
  "save that fails or is cancelled leaves no FILE; FILE may also be a block\n"
  "device as large as the volume, written in place. Clients go on meanwhile:\n"
  "the image holds the volume as it was at one moment after the save\n"
  "started (their requests wait a few milliseconds at the end). vramd opens\n"
  "FILE as the user who runs vramctl. Runs as a job.\n\n"
  "  --no-wait  print the job's id and return at once",
  NULL, 0,
};
