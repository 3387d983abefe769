/* fuzz_api_body.c: libFuzzer target for POST /v1/volumes bodies.
 * fuzz-sources: api/body.c common/spec.c common/spec-json.c common/size.c common/name.c common/log.c daemon/volume/volume.c daemon/volume/registry.c daemon/map/volmap.c daemon/pool/pool.c daemon/pool/driver-copy.c daemon/pool/extent.c daemon/pool/devstate.c daemon/pool/stock.c daemon/engine/placement.c daemon/engine/engine.c daemon/engine/small.c daemon/engine/kernels.c daemon/engine/mirror.c daemon/engine/heal.c daemon/engine/sums.c daemon/engine/sum-kernels.c daemon/engine/parity.c daemon/engine/parity-kernels.c daemon/engine/scrubber.c common/crc32c.c common/spec-export.c common/nqn.c daemon/pool/fault.c daemon/pool/nvml.c daemon/pool/clerr.c daemon/pool/health.c daemon/pool/watch.c common/clock.c common/thread.c
 * fuzz-libs: jansson OpenCL
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Any bytes: parse, and check what a success promises. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct vd_volume_spec spec;
  struct vd_api_error e;
  char msg[200];
  if (vd_api_parse_create((const char *)data, size, &spec, &e) == 0) {
    /* A size is bytes, or a share of free VRAM (1-100%) fixed at create. */
    if (!vd_name_valid(spec.name, msg, sizeof msg) || spec.ndev > VD_MAX_DEVICES ||
        (spec.size == 0) == (spec.size_free_pct == 0) || spec.size_free_pct > 100)
      __builtin_trap();
    /* Bodies are taken with their length: a NUL byte is never accepted. */
    if (memchr(data, 0, size))
      __builtin_trap();
    /* A stripe unit comes only with a striped layout: a stripe, or a
     * mirror (striped over its sets of copies). */
    if (spec.stripe_unit && spec.layout == VD_LAYOUT_CONCAT)
      __builtin_trap();
  } else if (!e.code || !e.message[0]) {
    __builtin_trap();
  }
  return 0;
}
