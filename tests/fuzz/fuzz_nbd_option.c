/* fuzz_nbd_option.c: libFuzzer target for NBD option parsing: the option
 * header, its length class and the GO/INFO body parser.  An accepted name
 * is exactly name_len bytes long: no NUL inside it survives parsing. */
#include <stdlib.h>
#include <string.h>

#include "../../frontends/nbd/proto.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse the input as one option, as the handshake would. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct nbd_go g;
  uint8_t hdr[16] = { 0 };
  struct nbd_option o;
  uint32_t len, e;

  memcpy(hdr, data, size < sizeof hdr ? size : sizeof hdr);
  nbd_option_decode(hdr, &o);
  if (nbd_option_length_class(o.length) != NBD_OPTLEN_READ)
    return 0;
  /* The handshake reads exactly o.length bytes into a bounded buffer. */
  len = size > sizeof hdr ? (uint32_t)(size - sizeof hdr) : 0;
  if (len > NBD_MAX_OPTION)
    len = NBD_MAX_OPTION;
  e = nbd_go_parse(data + sizeof hdr, len, &g);
  if (e == 0 && (g.name_len > NBD_MAX_STRING || strlen(g.name) != g.name_len ||
                 6ull + g.name_len + 2ull * g.ninfo != len))
    abort();
  if (e != 0 && e != NBD_REP_ERR_INVALID)
    abort();
  return 0;
}
