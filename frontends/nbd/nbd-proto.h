/* nbd-proto.h: the NBD wire format (the protocol's numbers, byte order)
 * and the pure code of frontends/nbd (proto.c): request and option
 * decoding and checks, replies, the staging allocator.  It touches no
 * socket, so unit tests and fuzzers include this and call it directly.
 *
 * Fixed newstyle negotiation (GO, INFO, LIST, EXPORT_NAME, ABORT), simple
 * replies, pipelined requests answered out of order.
 */
#ifndef VRAMD_NBD_PROTO_H
#define VRAMD_NBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Magic numbers. */
#define NBD_MAGIC 0x4e42444d41474943ull        /* "NBDMAGIC" */
#define NBD_IHAVEOPT 0x49484156454f5054ull     /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x3e889045565a9ull
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u

/* Handshake and client flags. */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES (1u << 1)

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_SEND_FUA (1u << 3)
#define NBD_FLAG_SEND_TRIM (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)
#define NBD_FLAG_SEND_FAST_ZERO (1u << 11)

/* Options. */
#define NBD_OPT_EXPORT_NAME 1u
#define NBD_OPT_ABORT 2u
#define NBD_OPT_LIST 3u
#define NBD_OPT_STARTTLS 5u
#define NBD_OPT_INFO 6u
#define NBD_OPT_GO 7u
#define NBD_OPT_STRUCTURED_REPLY 8u

/* Option replies. */
#define NBD_REP_ACK 1u
#define NBD_REP_SERVER 2u
#define NBD_REP_INFO 3u
#define NBD_REP_ERR(n) ((1u << 31) | (n))
#define NBD_REP_ERR_UNSUP NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID NBD_REP_ERR(3)
#define NBD_REP_ERR_TLS_REQD NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN NBD_REP_ERR(7)
#define NBD_REP_ERR_TOO_BIG NBD_REP_ERR(9)

/* Info types. */
#define NBD_INFO_EXPORT 0u
#define NBD_INFO_NAME 1u
#define NBD_INFO_DESCRIPTION 2u
#define NBD_INFO_BLOCK_SIZE 3u

/* Commands and command flags. */
#define NBD_CMD_READ 0u
#define NBD_CMD_WRITE 1u
#define NBD_CMD_DISC 2u
#define NBD_CMD_FLUSH 3u
#define NBD_CMD_TRIM 4u
#define NBD_CMD_WRITE_ZEROES 6u
#define NBD_CMD_FLAG_FUA (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE (1u << 1)
#define NBD_CMD_FLAG_FAST_ZERO (1u << 4)

/* Errors on the wire (Linux values, fixed by the protocol). */
#define NBD_EPERM 1u
#define NBD_EIO 5u
#define NBD_ENOMEM 12u
#define NBD_EINVAL 22u
#define NBD_ENOSPC 28u
#define NBD_EOVERFLOW 75u
#define NBD_ENOTSUP 95u
#define NBD_ESHUTDOWN 108u

/* Limits of the wire format and of the pure code below. */
#define NBD_MIN_BLOCK 1u                 /* any byte range is served */
#define NBD_PREF_BLOCK 4096u
#define NBD_MAX_PAYLOAD (32u << 20)      /* largest READ or WRITE, any staging */
#define NBD_CHUNK (128u << 10)           /* staging allocation unit */
#define NBD_MAX_STRING 4096u             /* export names on the wire (the spec's limit) */
/* Option data we read and parse: a GO naming a 4096-byte export, with up
 * to 2045 info requests. */
#define NBD_MAX_OPTION (NBD_MAX_STRING + 4096u)
#define NBD_MAX_OPTION_SKIP (1u << 20)   /* longer options close the socket */
#define NBD_REQUEST_SIZE 28u
#define NBD_REPLY_SIZE 16u

/* Pinned staging per session (nbd-staging): a multiple of NBD_CHUNK.  The
 * default holds one request of NBD_MAX_PAYLOAD, qemu's largest. */
#define NBD_STAGING_DEFAULT NBD_MAX_PAYLOAD
#define NBD_STAGING_MIN (1u << 20)
#define NBD_STAGING_MAX (256u << 20)
#define NBD_CHUNKS_MAX (NBD_STAGING_MAX / NBD_CHUNK)

/* Big-endian loads and stores. */
static inline uint16_t nbd_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t nbd_get32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t nbd_get64(const uint8_t *p) { return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4); }
static inline void nbd_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void nbd_put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void nbd_put64(uint8_t *p, uint64_t v) { nbd_put32(p, (uint32_t)(v >> 32)); nbd_put32(p + 4, (uint32_t)v); }

/* One request as it came off the wire. */
struct nbd_request {
  uint32_t magic;
  uint16_t flags;
  uint16_t type;
  uint64_t cookie;
  uint64_t offset;
  uint32_t length;
};

/* What to do with a request. */
enum nbd_action {
  NBD_ACT_IO,     /* submit op to the engine */
  NBD_ACT_ERROR,  /* reply with error (after skipping payload bytes) */
  NBD_ACT_DISC,   /* soft disconnect: finish in-flight requests, close */
  NBD_ACT_HANGUP, /* stream is not NBD any more: close at once */
};

struct nbd_verdict {
  enum nbd_action action;
  int op;           /* enum vd_op for NBD_ACT_IO */
  uint32_t error;   /* NBD_E* for NBD_ACT_ERROR */
  uint32_t payload; /* bytes that follow the header (WRITE), even on error */
};

/* Decode 28 wire bytes. */
void nbd_request_decode(const uint8_t b[NBD_REQUEST_SIZE], struct nbd_request *r);
/* Decide what a request means for an export of size bytes, on a session
 * that takes READ and WRITE payloads of up to max_payload bytes. */
void nbd_request_check(const struct nbd_request *r, uint64_t size,
                       uint32_t max_payload, struct nbd_verdict *out);
/* The largest READ or WRITE a session with staging bytes of staging
 * takes (and advertises): all of it, up to NBD_MAX_PAYLOAD. */
uint32_t nbd_max_payload(uint64_t staging);
/* Encode a simple reply header. */
void nbd_reply_encode(uint8_t b[NBD_REPLY_SIZE], uint32_t error, uint64_t cookie);
/* Map a -errno from the engine to an NBD error. */
uint32_t nbd_errno(int err);

/* The header of one option. */
struct nbd_option {
  uint64_t magic;
  uint32_t option;
  uint32_t length;
};

/* What the reader must do with an option's data before answering. */
enum nbd_opt_length { NBD_OPTLEN_READ, NBD_OPTLEN_SKIP, NBD_OPTLEN_CLOSE };

/* Decode the 16-byte option header. */
void nbd_option_decode(const uint8_t b[16], struct nbd_option *o);
/* Classify an option's data length: read it, skip it, or give up. */
enum nbd_opt_length nbd_option_length_class(uint32_t length);

/* A parsed NBD_OPT_GO / NBD_OPT_INFO body. */
struct nbd_go {
  char name[NBD_MAX_STRING + 1];
  uint32_t name_len;
  uint16_t ninfo;
  bool want_name, want_description, want_block_size;
};

/* Parse a GO/INFO body; returns 0 or NBD_REP_ERR_INVALID (bad lengths,
 * or a name that nbd_name_check refuses). */
uint32_t nbd_go_parse(const uint8_t *data, uint32_t len, struct nbd_go *g);
/* Check an export name as it came off the wire, for every option that
 * carries one: 0, or NBD_REP_ERR_INVALID when it is longer than
 * NBD_MAX_STRING or holds a NUL byte (the spec forbids both). */
uint32_t nbd_name_check(const uint8_t *name, uint32_t len);
/* Encode an option reply header into b (20 bytes). */
void nbd_option_reply_encode(uint8_t b[20], uint32_t option, uint32_t type,
                             uint32_t length);
/* The transmission flags every export gets. */
uint16_t nbd_transmission_flags(void);

/* Staging: n chunks (at most NBD_CHUNKS_MAX) handed out as contiguous
 * runs; sized for the largest staging so a session allocates nothing. */
struct nbd_chunks {
  unsigned n;
  uint64_t used[(NBD_CHUNKS_MAX + 63) / 64];
};

/* Start with n chunks, all free (n is capped at NBD_CHUNKS_MAX). */
void nbd_chunks_init(struct nbd_chunks *c, unsigned n);
/* First free run of n chunks (marked used), or -1. */
int nbd_chunks_alloc(struct nbd_chunks *c, unsigned n);
/* Give a run back. */
void nbd_chunks_free(struct nbd_chunks *c, unsigned first, unsigned n);
/* Chunks a payload of len bytes needs (at least one). */
unsigned nbd_chunks_for(uint32_t len);

#endif
