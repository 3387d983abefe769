/* proto.c: the NBD wire format as pure functions: decoding requests and
 * options, deciding what a request means, encoding replies.  No sockets,
 * so unit tests and the fuzzer drive these directly. */
#include <errno.h>
#include <string.h>

#include "engine.h"
#include "nbd-proto.h"

/* Decode a request header; the magic is checked by nbd_request_check. */
void nbd_request_decode(const uint8_t b[NBD_REQUEST_SIZE], struct nbd_request *r)
{
  r->magic = nbd_get32(b);
  r->flags = nbd_get16(b + 4);
  r->type = nbd_get16(b + 6);
  r->cookie = nbd_get64(b + 8);
  r->offset = nbd_get64(b + 16);
  r->length = nbd_get32(b + 24);
}

/* Flags each command accepts; FUA is valid on every command. */
static uint16_t allowed_flags(uint16_t type)
{
  if (type == NBD_CMD_WRITE_ZEROES)
    return NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
  return NBD_CMD_FLAG_FUA;
}

/* Fill an error verdict. */
static void verdict_error(struct nbd_verdict *v, uint32_t error)
{
  v->action = NBD_ACT_ERROR;
  v->error = error;
}

/* Decide what to do with a request.  Order: magic, command, flags, length,
 * range, so a bad request always gets the first error that applies. */
void nbd_request_check(const struct nbd_request *r, uint64_t size,
                       uint32_t max_payload, struct nbd_verdict *v)
{
  uint64_t len = r->length;
  bool in_range = len <= size && r->offset <= size - len;

  memset(v, 0, sizeof *v);
  if (r->magic != NBD_REQUEST_MAGIC) {
    v->action = NBD_ACT_HANGUP;
    return;
  }
  /* A WRITE's payload follows whatever we answer: skip it on error. */
  if (r->type == NBD_CMD_WRITE)
    v->payload = r->length;
  switch (r->type) {
  case NBD_CMD_READ: v->op = VD_OP_READ; break;
  case NBD_CMD_WRITE: v->op = VD_OP_WRITE; break;
  case NBD_CMD_TRIM:
  case NBD_CMD_WRITE_ZEROES: v->op = VD_OP_ZERO; break;
  case NBD_CMD_FLUSH: v->op = VD_OP_FLUSH; break;
  case NBD_CMD_DISC:
    v->action = NBD_ACT_DISC;
    return;
  default:
    verdict_error(v, NBD_EINVAL);
    return;
  }
  if (r->flags & ~allowed_flags(r->type)) {
    verdict_error(v, NBD_EINVAL);
    return;
  }
  if (r->type == NBD_CMD_FLUSH) {
    if (r->offset || r->length)
      verdict_error(v, NBD_EINVAL);
    else
      v->action = NBD_ACT_IO;
    return;
  }
  if (len == 0) {
    verdict_error(v, NBD_EINVAL);
    return;
  }
  if ((r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE) && len > max_payload) {
    verdict_error(v, NBD_EOVERFLOW);
    return;
  }
  if (!in_range) {
    verdict_error(v, r->type == NBD_CMD_READ ? NBD_EINVAL : NBD_ENOSPC);
    return;
  }
  v->action = NBD_ACT_IO;
}

/* A request must fit in staging, so smaller staging means smaller
 * requests; larger staging only lets more of them be in flight. */
uint32_t nbd_max_payload(uint64_t staging)
{
  return staging < NBD_MAX_PAYLOAD ? (uint32_t)staging : NBD_MAX_PAYLOAD;
}

/* Encode a simple reply header. */
void nbd_reply_encode(uint8_t b[NBD_REPLY_SIZE], uint32_t error, uint64_t cookie)
{
  nbd_put32(b, NBD_SIMPLE_REPLY_MAGIC);
  nbd_put32(b + 4, error);
  nbd_put64(b + 8, cookie);
}

/* Engine errors to the protocol's small set. */
uint32_t nbd_errno(int err)
{
  switch (err) {
  case 0: return 0;
  case -EINVAL: return NBD_EINVAL;
  case -ENOSPC: return NBD_ENOSPC;
  case -ENOMEM: return NBD_ENOMEM;
  case -EOVERFLOW: return NBD_EOVERFLOW;
  case -ENOTSUP: return NBD_ENOTSUP;
  case -ESHUTDOWN: return NBD_ESHUTDOWN;
  case -EPERM: return NBD_EPERM;
  default: return NBD_EIO;
  }
}

/* Decode an option header. */
void nbd_option_decode(const uint8_t b[16], struct nbd_option *o)
{
  o->magic = nbd_get64(b);
  o->option = nbd_get32(b + 8);
  o->length = nbd_get32(b + 12);
}

/* Short options are read, moderate ones skipped, huge ones end the session
 * (skipping gigabytes would let one client hold a thread for minutes). */
enum nbd_opt_length nbd_option_length_class(uint32_t length)
{
  if (length <= NBD_MAX_OPTION)
    return NBD_OPTLEN_READ;
  if (length <= NBD_MAX_OPTION_SKIP)
    return NBD_OPTLEN_SKIP;
  return NBD_OPTLEN_CLOSE;
}

/* Parse "u32 name length, name, u16 count, count x u16 info type". */
uint32_t nbd_go_parse(const uint8_t *data, uint32_t len, struct nbd_go *g)
{
  uint32_t nlen;

  memset(g, 0, sizeof *g);
  if (len < 6)
    return NBD_REP_ERR_INVALID;
  nlen = nbd_get32(data);
  if (nlen > NBD_MAX_STRING || nlen > len - 6)
    return NBD_REP_ERR_INVALID;
  g->ninfo = nbd_get16(data + 4 + nlen);
  if ((uint64_t)len != 6ull + nlen + 2ull * g->ninfo || nbd_name_check(data + 4, nlen))
    return NBD_REP_ERR_INVALID;
  memcpy(g->name, data + 4, nlen);
  g->name[nlen] = '\0';
  g->name_len = nlen;
  for (unsigned i = 0; i < g->ninfo; i++) {
    uint16_t t = nbd_get16(data + 6 + nlen + 2 * i);
    if (t == NBD_INFO_NAME) g->want_name = true;
    else if (t == NBD_INFO_DESCRIPTION) g->want_description = true;
    else if (t == NBD_INFO_BLOCK_SIZE) g->want_block_size = true;
  }
  return 0;
}

/* The spec's rules for a string, applied the same way to every name. */
uint32_t nbd_name_check(const uint8_t *name, uint32_t len)
{
  if (len > NBD_MAX_STRING || (len && memchr(name, 0, len)))
    return NBD_REP_ERR_INVALID;
  return 0;
}

/* Encode "magic, option, reply type, length". */
void nbd_option_reply_encode(uint8_t b[20], uint32_t option, uint32_t type,
                             uint32_t length)
{
  nbd_put64(b, NBD_REP_MAGIC);
  nbd_put32(b + 8, option);
  nbd_put32(b + 12, type);
  nbd_put32(b + 16, length);
}

/* Everything vramd serves; CAN_MULTI_CONN holds because there is no cache
 * and writes are acknowledged only once on the device. */
uint16_t nbd_transmission_flags(void)
{
  return NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
         NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
         NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_CAN_MULTI_CONN;
}

/* Chunks a payload needs; zero-length requests still hold one. */
unsigned nbd_chunks_for(uint32_t len)
{
  unsigned n = (unsigned)((len + (uint64_t)NBD_CHUNK - 1) / NBD_CHUNK);
  return n ? n : 1;
}

/* Is chunk i in use? */
static bool chunk_used(const struct nbd_chunks *c, unsigned i)
{
  return c->used[i / 64] >> (i % 64) & 1;
}

/* All chunks free. */
void nbd_chunks_init(struct nbd_chunks *c, unsigned n)
{
  memset(c, 0, sizeof *c);
  c->n = n < NBD_CHUNKS_MAX ? n : NBD_CHUNKS_MAX;
}

/* First fit over the bitmap: O(c->n), no allocation. */
int nbd_chunks_alloc(struct nbd_chunks *c, unsigned n)
{
  unsigned run = 0;

  if (n == 0 || n > c->n)
    return -1;
  for (unsigned i = 0; i < c->n; i++) {
    run = chunk_used(c, i) ? 0 : run + 1;
    if (run == n) {
      unsigned first = i + 1 - n;
      for (unsigned j = first; j <= i; j++)
        c->used[j / 64] |= 1ull << (j % 64);
      return (int)first;
    }
  }
  return -1;
}

/* Clear a run's bits. */
void nbd_chunks_free(struct nbd_chunks *c, unsigned first, unsigned n)
{
  for (unsigned j = first; j < first + n && j < c->n; j++)
    c->used[j / 64] &= ~(1ull << (j % 64));
}
