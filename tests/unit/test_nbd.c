/* test_nbd.c: the NBD server's pure parts: request checks against the
 * spec's error rules, option parsing, and the staging allocator. */
#include <string.h>

#include "../../frontends/nbd/proto.c"
#include "runner.h"

#define SIZE (64ull << 20)
#define CHUNKS (NBD_STAGING_DEFAULT / NBD_CHUNK)

/* Build a request and check it against a SIZE-byte export on a session
 * with the default staging. */
static struct nbd_verdict check(uint16_t type, uint16_t flags, uint64_t off, uint32_t len)
{
  struct nbd_request r = { NBD_REQUEST_MAGIC, flags, type, 42, off, len };
  struct nbd_verdict v;
  nbd_request_check(&r, SIZE, nbd_max_payload(NBD_STAGING_DEFAULT), &v);
  return v;
}

/* Expect an error verdict with error e. */
static void expect_err(uint16_t type, uint16_t flags, uint64_t off, uint32_t len, uint32_t e)
{
  struct nbd_verdict v = check(type, flags, off, len);
  CU_ASSERT_EQUAL(v.action, NBD_ACT_ERROR);
  CU_ASSERT_EQUAL(v.error, e);
  CU_ASSERT_EQUAL(v.payload, type == NBD_CMD_WRITE ? len : 0);
}

static void test_request_ok(void)
{
  struct nbd_verdict v = check(NBD_CMD_READ, 0, 0, 4096);
  CU_ASSERT(v.action == NBD_ACT_IO && v.op == VD_OP_READ && v.payload == 0);
  v = check(NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, SIZE - 1, 1);
  CU_ASSERT(v.action == NBD_ACT_IO && v.op == VD_OP_WRITE && v.payload == 1);
  v = check(NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_FAST_ZERO | NBD_CMD_FLAG_NO_HOLE, 0, 0xFFFFF000);
  CU_ASSERT_EQUAL(v.action, NBD_ACT_ERROR); /* past the end of 64 MiB */
  v = check(NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_FAST_ZERO | NBD_CMD_FLAG_NO_HOLE, 0, SIZE);
  CU_ASSERT(v.action == NBD_ACT_IO && v.op == VD_OP_ZERO);
  v = check(NBD_CMD_TRIM, 0, 512, 513);
  CU_ASSERT(v.action == NBD_ACT_IO && v.op == VD_OP_ZERO);
  v = check(NBD_CMD_FLUSH, 0, 0, 0);
  CU_ASSERT(v.action == NBD_ACT_IO && v.op == VD_OP_FLUSH);
  v = check(NBD_CMD_READ, 0, 0, NBD_MAX_PAYLOAD);
  CU_ASSERT_EQUAL(v.action, NBD_ACT_IO);
  v = check(NBD_CMD_DISC, 0, 123, 456);
  CU_ASSERT_EQUAL(v.action, NBD_ACT_DISC);
}

static void test_request_errors(void)
{
  struct nbd_request r = { 0x12345678, 0, NBD_CMD_READ, 1, 0, 512 };
  struct nbd_verdict v;
  nbd_request_check(&r, SIZE, NBD_MAX_PAYLOAD, &v);
  CU_ASSERT_EQUAL(v.action, NBD_ACT_HANGUP);

  expect_err(NBD_CMD_READ, 0, SIZE, 1, NBD_EINVAL);
  expect_err(NBD_CMD_READ, 0, SIZE - 1, 2, NBD_EINVAL);
  expect_err(NBD_CMD_READ, 0, UINT64_MAX, 1, NBD_EINVAL);
  expect_err(NBD_CMD_READ, 0, 0, 0, NBD_EINVAL);
  expect_err(NBD_CMD_WRITE, 0, SIZE, 4096, NBD_ENOSPC);
  expect_err(NBD_CMD_WRITE, 0, UINT64_MAX - 10, 4096, NBD_ENOSPC);
  expect_err(NBD_CMD_TRIM, 0, SIZE - 1, 2, NBD_ENOSPC);
  expect_err(NBD_CMD_WRITE_ZEROES, 0, SIZE, 1, NBD_ENOSPC);
  expect_err(NBD_CMD_READ, 0, 0, 0xFFFFFFFF, NBD_EOVERFLOW);
  expect_err(NBD_CMD_WRITE, 0, 0, NBD_MAX_PAYLOAD + 1, NBD_EOVERFLOW);
  expect_err(5, 0, 0, 4096, NBD_EINVAL);     /* CACHE, not offered */
  expect_err(7, 0, 0, 4096, NBD_EINVAL);     /* BLOCK_STATUS */
  expect_err(0xFFFF, 0, 0, 4096, NBD_EINVAL);
  expect_err(NBD_CMD_READ, 1u << 2, 0, 4096, NBD_EINVAL);   /* DF */
  expect_err(NBD_CMD_WRITE, NBD_CMD_FLAG_FAST_ZERO, 0, 4096, NBD_EINVAL);
  expect_err(NBD_CMD_TRIM, NBD_CMD_FLAG_NO_HOLE, 0, 4096, NBD_EINVAL);
  expect_err(NBD_CMD_WRITE, 0x8000, 0, 4096, NBD_EINVAL);
  expect_err(NBD_CMD_FLUSH, 0, 0, 1, NBD_EINVAL);
  expect_err(NBD_CMD_FLUSH, 0, 1, 0, NBD_EINVAL);
}

/* Smaller staging (nbd-staging) means smaller READs and WRITEs; other
 * commands carry no payload and are not limited by it. */
static void test_request_staging(void)
{
  uint32_t maxp = nbd_max_payload(4u << 20);
  struct nbd_request r = { NBD_REQUEST_MAGIC, 0, NBD_CMD_WRITE, 1, 0, 4u << 20 };
  struct nbd_verdict v;

  CU_ASSERT_EQUAL(maxp, 4u << 20);
  CU_ASSERT_EQUAL(nbd_max_payload(NBD_STAGING_MIN), NBD_STAGING_MIN);
  CU_ASSERT_EQUAL(nbd_max_payload(NBD_STAGING_DEFAULT), NBD_MAX_PAYLOAD);
  CU_ASSERT_EQUAL(nbd_max_payload(NBD_STAGING_MAX), NBD_MAX_PAYLOAD);
  nbd_request_check(&r, SIZE, maxp, &v);
  CU_ASSERT(v.action == NBD_ACT_IO && v.payload == 4u << 20);
  r.length++;
  nbd_request_check(&r, SIZE, maxp, &v);
  CU_ASSERT(v.action == NBD_ACT_ERROR && v.error == NBD_EOVERFLOW && v.payload == r.length);
  r.type = NBD_CMD_READ;
  nbd_request_check(&r, SIZE, maxp, &v);
  CU_ASSERT(v.action == NBD_ACT_ERROR && v.error == NBD_EOVERFLOW && v.payload == 0);
  r.type = NBD_CMD_WRITE_ZEROES;
  r.length = 16u << 20;
  nbd_request_check(&r, SIZE, maxp, &v);
  CU_ASSERT_EQUAL(v.action, NBD_ACT_IO);
}

static void test_wire(void)
{
  uint8_t b[NBD_REQUEST_SIZE] = { 0x25, 0x60, 0x95, 0x13, 0, 1, 0, 6,
                                  1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0x10, 0,
                                  0, 0, 0x20, 0 };
  struct nbd_request r;
  uint8_t rep[NBD_REPLY_SIZE], opt[20];
  nbd_request_decode(b, &r);
  CU_ASSERT(r.magic == NBD_REQUEST_MAGIC && r.flags == 1 && r.type == NBD_CMD_WRITE_ZEROES);
  CU_ASSERT(r.cookie == 0x0102030405060708ull && r.offset == 0x1000 && r.length == 0x2000);
  nbd_reply_encode(rep, NBD_ENOSPC, 0x0102030405060708ull);
  CU_ASSERT(nbd_get32(rep) == NBD_SIMPLE_REPLY_MAGIC && nbd_get32(rep + 4) == 28);
  CU_ASSERT(!memcmp(rep + 8, b + 8, 8));
  nbd_option_reply_encode(opt, NBD_OPT_GO, NBD_REP_ERR_UNSUP, 7);
  CU_ASSERT(nbd_get64(opt) == NBD_REP_MAGIC && nbd_get32(opt + 8) == 7 &&
            nbd_get32(opt + 12) == NBD_REP_ERR_UNSUP && nbd_get32(opt + 16) == 7);
  CU_ASSERT_EQUAL(nbd_errno(-ENOSPC), NBD_ENOSPC);
  CU_ASSERT_EQUAL(nbd_errno(-EIO), NBD_EIO);
  CU_ASSERT_EQUAL(nbd_errno(-12345), NBD_EIO);
  CU_ASSERT(nbd_transmission_flags() & NBD_FLAG_CAN_MULTI_CONN);
}

static void test_options(void)
{
  struct nbd_go g;
  uint8_t ok[] = { 0, 0, 0, 3, 'v', 's', '1', 0, 2, 0, 3, 0, 1 };
  uint8_t noinfo[] = { 0, 0, 0, 0, 0, 0 };
  uint8_t longname[] = { 0, 0, 0, 8, 'a', 'b', 0, 0 };
  uint8_t shortinfo[] = { 0, 0, 0, 1, 'x', 0, 2, 0, 3 };
  uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0, 0 };
  CU_ASSERT_EQUAL(nbd_go_parse(ok, sizeof ok, &g), 0);
  CU_ASSERT(!strcmp(g.name, "vs1") && g.ninfo == 2 && g.want_block_size && g.want_name);
  CU_ASSERT(!g.want_description);
  CU_ASSERT_EQUAL(nbd_go_parse(noinfo, sizeof noinfo, &g), 0);
  CU_ASSERT(g.name_len == 0 && g.name[0] == '\0');
  CU_ASSERT_EQUAL(nbd_go_parse(longname, sizeof longname, &g), NBD_REP_ERR_INVALID);
  CU_ASSERT_EQUAL(nbd_go_parse(shortinfo, sizeof shortinfo, &g), NBD_REP_ERR_INVALID);
  CU_ASSERT_EQUAL(nbd_go_parse(huge, sizeof huge, &g), NBD_REP_ERR_INVALID);
  CU_ASSERT_EQUAL(nbd_go_parse(ok, 5, &g), NBD_REP_ERR_INVALID);
  CU_ASSERT_EQUAL(nbd_option_length_class(0), NBD_OPTLEN_READ);
  CU_ASSERT_EQUAL(nbd_option_length_class(NBD_MAX_OPTION), NBD_OPTLEN_READ);
  CU_ASSERT_EQUAL(nbd_option_length_class(NBD_MAX_OPTION + 1), NBD_OPTLEN_SKIP);
  CU_ASSERT_EQUAL(nbd_option_length_class(NBD_MAX_OPTION_SKIP + 1), NBD_OPTLEN_CLOSE);
  CU_ASSERT_EQUAL(nbd_option_length_class(0xFFFFFFFF), NBD_OPTLEN_CLOSE);
}

/* Names: the spec's 4096 bytes are parsed; NUL anywhere or one byte
 * more is invalid, on every path (nbd_go_parse uses nbd_name_check). */
static void test_names(void)
{
  static uint8_t b[4 + NBD_MAX_STRING + 1 + 2];
  static struct nbd_go g;
  const uint8_t nul[] = { 'v', 0, 'x' };

  memset(b + 4, 'x', NBD_MAX_STRING + 1);
  nbd_put32(b, NBD_MAX_STRING);
  nbd_put16(b + 4 + NBD_MAX_STRING, 0);
  CU_ASSERT(nbd_option_length_class(4 + NBD_MAX_STRING + 2 + 2 * 8) == NBD_OPTLEN_READ);
  CU_ASSERT_EQUAL(nbd_go_parse(b, 4 + NBD_MAX_STRING + 2, &g), 0);
  CU_ASSERT(g.name_len == NBD_MAX_STRING && strlen(g.name) == NBD_MAX_STRING);
  nbd_put32(b, NBD_MAX_STRING + 1);
  nbd_put16(b + 4 + NBD_MAX_STRING + 1, 0);
  CU_ASSERT_EQUAL(nbd_go_parse(b, 4 + NBD_MAX_STRING + 3, &g), NBD_REP_ERR_INVALID);
  nbd_put32(b, 3);
  memcpy(b + 4, nul, sizeof nul);
  nbd_put16(b + 7, 0);
  CU_ASSERT_EQUAL(nbd_go_parse(b, 9, &g), NBD_REP_ERR_INVALID);
  CU_ASSERT_EQUAL(nbd_name_check(nul, 1), 0);
  CU_ASSERT_EQUAL(nbd_name_check(nul, 2), NBD_REP_ERR_INVALID);
  CU_ASSERT_EQUAL(nbd_name_check(nul + 1, 1), NBD_REP_ERR_INVALID);
  CU_ASSERT_EQUAL(nbd_name_check(NULL, 0), 0);
  memset(b, 'x', sizeof b);
  CU_ASSERT_EQUAL(nbd_name_check(b, NBD_MAX_STRING), 0);
  CU_ASSERT_EQUAL(nbd_name_check(b, NBD_MAX_STRING + 1), NBD_REP_ERR_INVALID);
}

static void test_chunks(void)
{
  struct nbd_chunks c;
  int a, b, d;
  nbd_chunks_init(&c, CHUNKS);
  CU_ASSERT_EQUAL(nbd_chunks_for(0), 1);
  CU_ASSERT_EQUAL(nbd_chunks_for(1), 1);
  CU_ASSERT_EQUAL(nbd_chunks_for(NBD_CHUNK + 1), 2);
  CU_ASSERT_EQUAL(nbd_chunks_for(NBD_MAX_PAYLOAD), CHUNKS);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, CHUNKS), 0);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 1), -1);
  nbd_chunks_free(&c, 0, CHUNKS);
  a = nbd_chunks_alloc(&c, 3);
  b = nbd_chunks_alloc(&c, 70);   /* crosses a 64-bit word */
  d = nbd_chunks_alloc(&c, 1);
  CU_ASSERT(a == 0 && b == 3 && d == 73);
  nbd_chunks_free(&c, (unsigned)a, 3);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 4), 74);   /* a's hole is too small */
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 3), 0);    /* fits a's hole */
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, CHUNKS - 78 + 1), -1);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, CHUNKS - 78), 78);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 0), -1);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, CHUNKS + 1), -1);
}

/* The chunk count comes from nbd-staging: the smallest and the largest. */
static void test_chunks_sized(void)
{
  struct nbd_chunks c;
  unsigned max = NBD_STAGING_MAX / NBD_CHUNK;

  nbd_chunks_init(&c, NBD_STAGING_MIN / NBD_CHUNK);
  CU_ASSERT_EQUAL(c.n, 8);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 9), -1);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 5), 0);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 4), -1);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 3), 5);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 1), -1);
  nbd_chunks_free(&c, 0, 100);  /* past the end: only the 8 are cleared */
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 8), 0);

  nbd_chunks_init(&c, max + 1); /* capped */
  CU_ASSERT_EQUAL(c.n, max);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, max - 1), 0);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 1), (int)max - 1);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 1), -1);
  nbd_chunks_free(&c, max - 1, 1);
  CU_ASSERT_EQUAL(nbd_chunks_alloc(&c, 1), (int)max - 1);
}

static const struct vd_test tests[] = {
  { "valid requests", test_request_ok },
  { "request errors", test_request_errors },
  { "requests and staging size", test_request_staging },
  { "wire encoding", test_wire },
  { "options", test_options },
  { "export names", test_names },
  { "staging chunks", test_chunks },
  { "staging chunks, smallest and largest", test_chunks_sized },
  { NULL, NULL },
};

VD_TEST_ONE_SUITE("nbd", tests);
