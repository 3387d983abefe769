/* volume-scrub.c: vramctl volume scrub NAME: check every block of a
 * volume with checksums against them on its GPUs, as a job. */
#include "vramctl.h"

/* vramctl volume scrub NAME [--no-wait]. */
static int run(struct vctl *g, int argc, char **argv)
{
  return vctl_job_verb(g, argc, argv, "volume NAME", true, "/v1/volumes/%s/scrub");
}

const struct vctl_cmd vctl_cmd_volume_scrub = {
  "volume", "scrub", run, "volume scrub NAME [--no-wait]",
  "Checks every block of a volume created with --integrity crc32c against\n"
  "its checksum, on the GPUs that hold it, while clients go on. A bad block\n"
  "is counted ('vramctl volume show NAME' says what the last scrub found)\n"
  "and logged; reading it fails with EIO until it is written again, unless\n"
  "a copy of a mirror or the parity (--integrity crc32c+parity) rebuilt\n"
  "it: then it counts as repaired. A degraded mirror's copies out of sync\n"
  "are skipped (and counted); one with some range on no copy in sync fails\n"
  "its scrub. Runs as a job.\n\n"
  "  --no-wait  print the job's id and return at once",
  NULL, 0,
};
