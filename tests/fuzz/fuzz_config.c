/* fuzz_config.c: libFuzzer target for vramd.conf (read through a memfd,
 * the same path the daemon reads a file by).
 * fuzz-sources: daemon/config.c common/setting.c common/spec.c common/spec-text.c common/spec-json.c common/size.c common/name.c common/log.c daemon/volume/volume.c daemon/volume/registry.c daemon/map/volmap.c daemon/pool/pool.c daemon/pool/driver-copy.c daemon/pool/extent.c daemon/pool/devstate.c daemon/pool/stock.c daemon/engine/placement.c daemon/engine/engine.c daemon/engine/small.c daemon/engine/kernels.c daemon/engine/mirror.c daemon/engine/heal.c daemon/engine/sums.c daemon/engine/sum-kernels.c daemon/engine/parity.c daemon/engine/parity-kernels.c daemon/engine/scrubber.c common/crc32c.c common/spec-export.c common/nqn.c daemon/pool/fault.c daemon/pool/nvml.c daemon/pool/clerr.c daemon/pool/health.c daemon/pool/watch.c common/clock.c common/thread.c
 * fuzz-libs: jansson OpenCL
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "settings.h"
/* The NBD keys, parsed by the NBD frontend's own code as in vramd. */
#include "../../frontends/nbd/settings.c"

static const struct vd_frontend nbd_settings_only = {
  .kind = VD_FRONTEND_NBD,
  .name = "nbd",
  .settings = &nbd_settings,
};
static const struct vd_frontend *const frontends[] = { &nbd_settings_only, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Load the bytes as a config file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct vramd_config c;
  char path[64], err[512];
  int fd = memfd_create("vramd.conf", MFD_CLOEXEC);
  if (fd < 0)
    return 0;
  if (write(fd, data, size) == (ssize_t)size) {
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    vramd_config_defaults(&c, frontends);
    if (vramd_config_load(&c, path, true, err, sizeof err) == 0 && c.nvolumes > VD_MAX_CLI_VOLUMES)
      __builtin_trap();
  }
  close(fd);
  return 0;
}
