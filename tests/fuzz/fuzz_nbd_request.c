/* fuzz_nbd_request.c: libFuzzer target for the NBD request decoder and
 * checker: any 28 bytes against any export size and any nbd-staging, with
 * the verdict's promises checked (what reaches the engine is in range and
 * fits in the session's staging). */
#include <stdlib.h>
#include <string.h>

#include "../../frontends/nbd/proto.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode, check, and assert the verdict's invariants. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t b[NBD_REQUEST_SIZE] = { 0 };
  uint64_t vsize = 64ull << 20, staging = NBD_STAGING_DEFAULT;
  unsigned chunks;
  struct nbd_request r;
  struct nbd_verdict v;

  memcpy(b, data, size < sizeof b ? size : sizeof b);
  if (size >= sizeof b + 8)
    vsize = nbd_get64(data + sizeof b);
  if (size >= sizeof b + 10) /* any valid nbd-staging: 1 MiB and 128 KiB steps */
    staging = NBD_STAGING_MIN + (uint64_t)(nbd_get16(data + sizeof b + 8) %
              ((NBD_STAGING_MAX - NBD_STAGING_MIN) / NBD_CHUNK + 1)) * NBD_CHUNK;
  chunks = (unsigned)(staging / NBD_CHUNK);
  nbd_request_decode(b, &r);
  nbd_request_check(&r, vsize, nbd_max_payload(staging), &v);
  if (v.action == NBD_ACT_IO) {
    if (r.magic != NBD_REQUEST_MAGIC)
      abort();
    if (v.op != VD_OP_FLUSH && (r.length == 0 || r.length > vsize || r.offset > vsize - r.length))
      abort();
    if ((v.op == VD_OP_READ || v.op == VD_OP_WRITE) &&
        (r.length > NBD_MAX_PAYLOAD || r.length > staging))
      abort();
    if ((v.op == VD_OP_READ || v.op == VD_OP_WRITE) && nbd_chunks_for(r.length) > chunks)
      abort();
  }
  if (v.payload && r.type != NBD_CMD_WRITE)
    abort();
  if (v.action == NBD_ACT_ERROR && v.error == 0)
    abort();
  return 0;
}
