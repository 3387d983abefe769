/* test_nbd_handshake.c: frontends/nbd/handshake.c, the fixed newstyle
 * negotiation, driven the way loop.c drives it (nbd_neg_step whenever the
 * socket is ready) with a client on the other end of a socketpair.  Every
 * reply is checked byte by byte against the NBD protocol (doc/proto.md of
 * the reference implementation); the numbers the server sends are written
 * here as the spec gives them, not taken from nbd.h.  The registry is the
 * real one; session set-up (conn.c, server.c) and the pool are stubs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../daemon/volume/registry.c"
#include "../../frontends/nbd/handshake.c"
#include "../../frontends/nbd/proto.c"
#ifdef HAVE_GNUTLS
#include "../../frontends/nbd/tls-creds.c"
#include "../../frontends/nbd/tls.c"
#endif
#include "runner.h"

/* Reply types as the spec numbers them. */
#define REP_ACK 1u
#define REP_SERVER 2u
#define REP_INFO 3u
#define REP_ERR_UNSUP 0x80000001u
#define REP_ERR_INVALID 0x80000003u
#define REP_ERR_UNKNOWN 0x80000006u
#define REP_ERR_SHUTDOWN 0x80000007u
#define REP_ERR_TOO_BIG 0x80000009u
#define REP_ERR_TLS_REQD 0x80000005u
/* HAS_FLAGS, SEND_FLUSH, SEND_FUA, SEND_TRIM, SEND_WRITE_ZEROES,
 * CAN_MULTI_CONN and SEND_FAST_ZERO: bits 0, 2, 3, 5, 6, 8 and 11. */
#define TX_FLAGS 0x096du
#define VOL_SIZE (64ull << 20)

static struct vd_registry reg;
static struct vd_frontend_host host = { .reg = &reg };
static struct nbd_env env = { .host = &host };
static struct vd_volume *vol;   /* "vol": an nbd volume, the export */
static struct nbd_neg *n;       /* the server's end */
static int cfd = -1;            /* the client's end */
static unsigned staged;         /* what nbd_sessions_staged says */
static int xfer_rc, attach_rc;  /* what the session stubs return */
static int xfers_freed;
static struct nbd_xfer *fake_xfer = (struct nbd_xfer *)&xfers_freed;

/* Stub pool: the test's volumes are bare structs. */
void vd_volume_free(struct vd_volume *v)
{
  free(v);
}

/* Stub: volume.c's layout names, without the pool it brings. */
const char *vd_layout_name(enum vd_layout l)
{
  return l == VD_LAYOUT_CONCAT ? "concat" : "stripe";
}

/* Stub settings.c: an nbd-tls mode's name (tls-creds.c's messages). */
const char *nbd_tls_mode_name(int mode)
{
  return mode == NBD_TLS_REQUIRE ? "require" : mode == NBD_TLS_ON ? "on" : "off";
}

/* Stub conn.c: sessions holding staging now. */
unsigned nbd_sessions_staged(void)
{
  return staged;
}

/* Stub conn.c: admission and staging succeed or fail as told. */
int nbd_xfer_new(const struct nbd_env *e, int fd, struct nbd_tls *tls, struct nbd_xfer **x)
{
  (void)e, (void)fd, (void)tls;
  *x = xfer_rc ? NULL : fake_xfer;
  return xfer_rc;
}

/* Stub conn.c: count the transmission states given back. */
void nbd_xfer_free(struct nbd_xfer *x)
{
  CU_ASSERT_PTR_EQUAL(x, fake_xfer);
  xfers_freed++;
}

/* Stub server.c: attach takes the reference, or drops it when refused. */
int nbd_conn_attach(struct nbd_conn *c, struct vd_volume *v)
{
  if (attach_rc) {
    vd_volume_put(v);
    return attach_rc;
  }
  c->v = v;
  return 0;
}

/* A bare volume in the registry, or NULL. */
static struct vd_volume *add_volume(const char *name, enum vd_frontend_kind fe, bool deleting)
{
  struct vd_volume *v = calloc(1, sizeof *v);
  if (!v)
    return NULL;
  snprintf(v->spec.name, sizeof v->spec.name, "%s", name);
  v->spec.frontend = fe;
  v->spec.layout = VD_LAYOUT_STRIPE;
  v->spec.ndev = 2;
  v->size = VOL_SIZE;
  atomic_init(&v->refs, 1);
  atomic_init(&v->deleting, deleting);
  if (vd_registry_add(&reg, v)) {
    free(v);
    return NULL;
  }
  return v;
}

/* Suite set-up: a daemon with default NBD settings and three volumes, of
 * which only "vol" may be opened over NBD. */
static int suite_init(void)
{
  env.set.staging = NBD_STAGING_DEFAULT;
  env.set.max_sessions = 4;
  vd_registry_init(&reg);
  vol = add_volume("vol", VD_FRONTEND_NBD, false);
  return vol && add_volume("blk", VD_FRONTEND_UBLK, false) &&
         add_volume("old", VD_FRONTEND_NBD, true) ? 0 : -1;
}

/* Suite tear-down: empty the registry. */
static int suite_fini(void)
{
  const char *names[] = { "vol", "blk", "old" };
  for (size_t i = 0; i < 3; i++)
    vd_volume_put(vd_registry_remove(&reg, names[i]));
  return 0;
}

/* Send all of len bytes as the client. */
static void put(const void *p, size_t len)
{
  CU_ASSERT_FATAL(send(cfd, p, len, MSG_NOSIGNAL) == (ssize_t)len);
}

/* Send an option header: IHAVEOPT, option, length. */
static void opt_hdr(uint32_t option, uint32_t len)
{
  uint8_t h[16];
  nbd_put64(h, NBD_IHAVEOPT);
  nbd_put32(h + 8, option);
  nbd_put32(h + 12, len);
  put(h, sizeof h);
}

/* Send an option with its data. */
static void opt(uint32_t option, const void *data, uint32_t len)
{
  opt_hdr(option, len);
  if (len)
    put(data, len);
}

/* The client flags, 32 bits. */
static void client_flags_send(uint32_t f)
{
  uint8_t b[4];
  nbd_put32(b, f);
  put(b, 4);
}

/* One turn of the loop for this connection: the server reads what the
 * client sent and answers; what it asks the loop for. */
static int step(void)
{
  return nbd_neg_step(n);
}

/* Read exactly len bytes that the server has already sent. */
static bool get(void *buf, size_t len)
{
  size_t got = 0;
  while (got < len) {
    ssize_t k = recv(cfd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  if (got != len)
    fprintf(stderr, "\n  wanted %zu bytes from the server, got %zu\n", len, got);
  return got == len;
}

/* The next len bytes from the server are exactly want. */
static void expect(const void *want, size_t len)
{
  uint8_t *b = malloc(len);
  CU_ASSERT_FATAL(b != NULL);
  if (get(b, len)) {
    size_t i = 0;
    while (i < len && b[i] == ((const uint8_t *)want)[i])
      i++;
    if (i < len)
      fprintf(stderr, "\n  byte %zu: got 0x%02x, want 0x%02x\n", i, b[i],
              ((const uint8_t *)want)[i]);
    CU_ASSERT(i == len);
  } else {
    CU_FAIL("the server sent too little");
  }
  free(b);
}

/* The 20-byte option reply header the spec gives. */
static void reply_hdr(uint8_t h[20], uint32_t option, uint32_t type, uint32_t len)
{
  static const uint8_t magic[8] = { 0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9 };
  memcpy(h, magic, 8);
  nbd_put32(h + 8, option);
  nbd_put32(h + 12, type);
  nbd_put32(h + 16, len);
}

/* The next reply is option's, of type, with exactly len bytes of data. */
static void expect_reply(uint32_t option, uint32_t type, const void *data, uint32_t len)
{
  uint8_t h[20];
  reply_hdr(h, option, type, len);
  expect(h, sizeof h);
  if (len)
    expect(data, len);
}

/* The next reply is an error of type for option, with a message for
 * humans (a spec string: no NUL, at most 4096 bytes) that mentions what. */
static void expect_error(uint32_t option, uint32_t type, const char *what)
{
  uint8_t h[20], want[20];
  char msg[4097];
  uint32_t len;

  reply_hdr(want, option, type, 0);
  CU_ASSERT_FATAL(get(h, sizeof h));
  CU_ASSERT(memcmp(h, want, 16) == 0);
  len = nbd_get32(h + 16);
  CU_ASSERT_FATAL(len > 0 && len <= 4096);
  CU_ASSERT_FATAL(get(msg, len));
  msg[len] = '\0';
  CU_ASSERT(strlen(msg) == len);
  if (!strstr(msg, what))
    fprintf(stderr, "\n  message \"%s\" does not mention \"%s\"\n", msg, what);
  CU_ASSERT(strstr(msg, what) != NULL);
}

/* Send k LISTs at once, as a pipelining client would. */
static void lists(unsigned k)
{
  uint8_t *b = calloc(k, 16);
  CU_ASSERT_FATAL(b != NULL);
  for (unsigned i = 0; i < k; i++) {
    nbd_put64(b + 16 * i, NBD_IHAVEOPT);
    nbd_put32(b + 16 * i + 8, NBD_OPT_LIST);
  }
  put(b, 16 * (size_t)k);
  free(b);
}

/* Append whatever the server has sent to buf (cap bytes); the new length. */
static size_t slurp(uint8_t *buf, size_t len, size_t cap)
{
  ssize_t k;
  while (len < cap && (k = recv(cfd, buf + len, cap - len, MSG_DONTWAIT)) > 0)
    len += (size_t)k;
  return len;
}

/* The replies to k LISTs, back to back. */
static size_t list_replies(uint8_t *buf, unsigned k)
{
  static const char *names[] = { "old", "vol" };
  uint8_t *p = buf;
  for (unsigned i = 0; i < k; i++) {
    for (int j = 0; j < 2; j++) {
      reply_hdr(p, 3, REP_SERVER, 7);
      nbd_put32(p + 20, 3);
      memcpy(p + 24, names[j], 3);
      p += 27;
    }
    reply_hdr(p, 3, REP_ACK, 0);
    p += 20;
  }
  return (size_t)(p - buf);
}

/* The server has sent nothing more. */
static void expect_quiet(void)
{
  uint8_t b;
  CU_ASSERT(recv(cfd, &b, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN);
}

/* A new connection: socketpair, greeting read and checked. */
static void connect_only(void)
{
  static const uint8_t greeting[18] = {
    'N', 'B', 'D', 'M', 'A', 'G', 'I', 'C', 'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',
    0x00, 0x03, /* FIXED_NEWSTYLE | NO_ZEROES */
  };
  const struct timeval give_up = { .tv_sec = 10 };
  int sv[2];

  CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  CU_ASSERT_FATAL(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0); /* as accept4 gives it */
  /* A server that stops reading fails the test instead of hanging it. */
  CU_ASSERT_FATAL(setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &give_up, sizeof give_up) == 0);
  n = nbd_neg_new(&env, sv[0]);
  CU_ASSERT_FATAL(n != NULL);
  cfd = sv[1];
  staged = 0;
  xfer_rc = attach_rc = 0;
  xfers_freed = 0;
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect(greeting, sizeof greeting);
  expect_quiet();
}

/* A new connection past the client flags. */
static void connect_flags(uint32_t flags)
{
  connect_only();
  client_flags_send(flags);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_quiet();
}

/* A fixed newstyle client that wants no zeroes, as qemu and nbd-client. */
static void connect_client(void)
{
  connect_flags(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
}

/* The loop drops the connection: the client sees the end of the stream
 * (a reset when the server left client bytes unread), and the
 * negotiation held no reference to a volume. */
static void hang_up(void)
{
  uint8_t b;
  ssize_t k;
  nbd_neg_free(n);
  n = NULL;
  k = recv(cfd, &b, 1, MSG_DONTWAIT);
  CU_ASSERT(k == 0 || (k < 0 && errno == ECONNRESET));
  close(cfd);
  cfd = -1;
  CU_ASSERT_EQUAL(atomic_load(&vol->refs), 1);
}

/* A GO/INFO body: name, then info requests. */
static uint32_t go_body(uint8_t *b, const void *name, uint32_t nlen, const uint16_t *info,
                        uint16_t ninfo)
{
  nbd_put32(b, nlen);
  memcpy(b + 4, name, nlen);
  nbd_put16(b + 4 + nlen, ninfo);
  for (uint16_t i = 0; i < ninfo; i++)
    nbd_put16(b + 6 + nlen + 2 * i, info[i]);
  return 6 + nlen + 2u * ninfo;
}

/* Send a GO or INFO for name with no info requests. */
static void go(uint32_t option, const char *name)
{
  uint8_t b[6 + 64];
  opt(option, b, go_body(b, name, (uint32_t)strlen(name), NULL, 0));
}

/* NBD_INFO_EXPORT then NBD_INFO_BLOCK_SIZE, as every GO and INFO gets. */
static void expect_infos(uint32_t option)
{
  uint8_t e[12], bs[14];
  nbd_put16(e, 0);                      /* NBD_INFO_EXPORT */
  nbd_put64(e + 2, VOL_SIZE);
  nbd_put16(e + 10, TX_FLAGS);
  expect_reply(option, REP_INFO, e, sizeof e);
  nbd_put16(bs, 3);                     /* NBD_INFO_BLOCK_SIZE */
  nbd_put32(bs + 2, 1);                 /* any byte range */
  nbd_put32(bs + 6, 4096);
  nbd_put32(bs + 10, 32u << 20);        /* the default staging's payload */
  expect_reply(option, REP_INFO, bs, sizeof bs);
}

/* The session thread's part of a GO or EXPORT_NAME that picked "vol":
 * fin must be want; then the session ends. */
static void enter_expect(const void *want, size_t wlen)
{
  struct nbd_conn c = { .fd = -1 };
  struct nbd_xfer *x = NULL;
  uint8_t fin[NBD_NEG_FINAL_MAX];
  size_t flen = 0;

  CU_ASSERT_EQUAL_FATAL(nbd_neg_enter(n, &c, &x, fin, &flen), 0);
  CU_ASSERT_PTR_EQUAL(x, fake_xfer);
  CU_ASSERT_PTR_EQUAL(c.v, vol);
  CU_ASSERT_EQUAL(n->fd, -1); /* the session has the socket */
  CU_ASSERT_EQUAL(flen, wlen);
  CU_ASSERT(flen == wlen && memcmp(fin, want, wlen) == 0);
  close(c.fd);
  vd_volume_put(c.v);
}

/* The greeting, then flags the spec allows: with and without NO_ZEROES. */
static void test_greeting_flags(void)
{
  connect_flags(NBD_FLAG_C_FIXED_NEWSTYLE);
  CU_ASSERT_FALSE(n->no_zeroes);
  hang_up();
  connect_flags(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
  CU_ASSERT_TRUE(n->no_zeroes);
  hang_up();
}

/* Client flags the server does not know, or a client that is not fixed
 * newstyle: the spec says close, with nothing sent. */
static void test_bad_flags(void)
{
  const uint32_t bad[] = { 0, NBD_FLAG_C_NO_ZEROES, 1u << 2 | 1, 1u << 31 | 3 };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    connect_only();
    client_flags_send(bad[i]);
    CU_ASSERT_EQUAL(step(), -EPROTO);
    expect_quiet();
    hang_up();
  }
}

/* LIST: one SERVER per volume exported over NBD (not a ublk one), then
 * ACK; LIST with data is invalid, and negotiation goes on. */
static void test_list(void)
{
  uint8_t s[7] = { 0, 0, 0, 3, 'v', 'o', 'l' };
  uint8_t old[7] = { 0, 0, 0, 3, 'o', 'l', 'd' };

  connect_client();
  opt(NBD_OPT_LIST, NULL, 0);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_reply(3, REP_SERVER, old, sizeof old);
  expect_reply(3, REP_SERVER, s, sizeof s);
  expect_reply(3, REP_ACK, NULL, 0);
  expect_quiet();
  opt(NBD_OPT_LIST, "x", 1);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(3, REP_ERR_INVALID, "NBD_OPT_LIST");
  expect_quiet();
  hang_up();
}

/* INFO: EXPORT and BLOCK_SIZE, then NAME and DESCRIPTION when asked, then
 * ACK; negotiation goes on and a GO follows on the same connection. */
static void test_info_then_go(void)
{
  const uint16_t want[] = { 1, 2, 3 }; /* NAME, DESCRIPTION, BLOCK_SIZE */
  const char desc[] = "vramd stripe volume over 2 devices";
  uint8_t b[64], nm[5] = { 0, 1, 'v', 'o', 'l' }, ds[2 + sizeof desc - 1];
  uint8_t ack[20];

  connect_client();
  opt(NBD_OPT_INFO, b, go_body(b, "vol", 3, want, 3));
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_infos(6);
  expect_reply(6, REP_INFO, nm, sizeof nm);
  nbd_put16(ds, 2);
  memcpy(ds + 2, desc, sizeof desc - 1);
  expect_reply(6, REP_INFO, ds, sizeof ds);
  expect_reply(6, REP_ACK, NULL, 0);
  expect_quiet();
  go(NBD_OPT_GO, "vol");
  CU_ASSERT_EQUAL(step(), NBD_NEG_START);
  expect_infos(7);
  expect_quiet();
  reply_hdr(ack, 7, REP_ACK, 0); /* sent by the session thread */
  enter_expect(ack, sizeof ack);
  hang_up();
}

/* GO and INFO on exports that cannot be opened: no such volume, a ublk
 * volume, one being deleted, the empty (default) name. */
static void test_unknown(void)
{
  const char *names[] = { "nosuch", "blk", "old", "" };
  const char *says[] = { "'nosuch'", "'blk'", "'old'", "no default export" };

  connect_client();
  for (size_t i = 0; i < 4; i++) {
    go(NBD_OPT_INFO, names[i]);
    CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
    expect_error(6, REP_ERR_UNKNOWN, says[i]);
    go(NBD_OPT_GO, names[i]);
    CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
    expect_error(7, REP_ERR_UNKNOWN, says[i]);
  }
  expect_quiet();
  hang_up();
}

/* Names at the spec's limits: a NUL is invalid; 4096 bytes is a valid
 * string (no volume has such a name: unknown, shown cut); 4097 is not;
 * lengths that do not add up are invalid. */
static void test_names(void)
{
  static uint8_t b[6 + 4097];
  char *name = malloc(4097), shown[2 + 64 + 4];
  uint32_t len;

  CU_ASSERT_FATAL(name != NULL);
  memset(name, 'a', 4097);
  snprintf(shown, sizeof shown, "'%.64s...'", name); /* cut to 64 bytes */
  connect_client();
  opt(NBD_OPT_GO, b, go_body(b, "v\0l", 3, NULL, 0));
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(7, REP_ERR_INVALID, "NUL");
  opt(NBD_OPT_GO, b, go_body(b, name, 4096, NULL, 0));
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(7, REP_ERR_UNKNOWN, shown);
  opt(NBD_OPT_INFO, b, go_body(b, name, 4097, NULL, 0));
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(6, REP_ERR_INVALID, "4096");
  len = go_body(b, "vol", 3, NULL, 0);
  nbd_put32(b, 4);                      /* name runs into the info count */
  opt(NBD_OPT_GO, b, len);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(7, REP_ERR_INVALID, "lengths");
  opt(NBD_OPT_GO, b, 5);                /* shorter than any body */
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(7, REP_ERR_INVALID, "lengths");
  expect_quiet();
  hang_up();
  free(name);
}

/* EXPORT_NAME: no reply from the loop; the session thread sends size,
 * flags and 124 zeroes, or no zeroes when the client asked. */
static void test_export_name(void)
{
  uint8_t want[134] = { 0 };

  nbd_put64(want, VOL_SIZE);
  nbd_put16(want + 8, TX_FLAGS);
  for (int nz = 0; nz < 2; nz++) {
    connect_flags(NBD_FLAG_C_FIXED_NEWSTYLE | (nz ? NBD_FLAG_C_NO_ZEROES : 0));
    opt(NBD_OPT_EXPORT_NAME, "vol", 3);
    CU_ASSERT_EQUAL(step(), NBD_NEG_START);
    expect_quiet();
    enter_expect(want, nz ? 10 : 134);
    hang_up();
  }
}

/* EXPORT_NAME cannot report errors: an unknown name, a NUL in it, or no
 * session to be had closes the connection with nothing sent. */
static void test_export_name_refused(void)
{
  const char *bad[] = { "nosuch", "blk", "" };

  for (size_t i = 0; i < 3; i++) {
    connect_client();
    opt(NBD_OPT_EXPORT_NAME, bad[i], (uint32_t)strlen(bad[i]));
    CU_ASSERT_EQUAL(step(), -ENOENT);
    expect_quiet();
    hang_up();
  }
  connect_client();
  opt(NBD_OPT_EXPORT_NAME, "vol\0", 4);
  CU_ASSERT_EQUAL(step(), -ENOENT);
  hang_up();
  connect_client();
  staged = env.set.max_sessions;
  opt(NBD_OPT_EXPORT_NAME, "vol", 3);
  CU_ASSERT_EQUAL(step(), -EUSERS);
  expect_quiet();
  hang_up();
}

/* Options vramd does not do get UNSUP, data and all, and the connection
 * stays usable: STARTTLS, STRUCTURED_REPLY (so simple replies only), and
 * numbers it has never heard of; then a good GO. */
static void test_unsupported(void)
{
  const uint32_t opts[] = { NBD_OPT_STARTTLS, NBD_OPT_STRUCTURED_REPLY, 10, 0x1234, 0 };

  connect_client();
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
    opt(opts[i], "data", i % 2 ? 4 : 0);
    CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
    expect_error(opts[i], REP_ERR_UNSUP, "");
  }
  expect_quiet();
  go(NBD_OPT_GO, "vol");
  CU_ASSERT_EQUAL(step(), NBD_NEG_START);
  expect_infos(7);
  expect_quiet();
  hang_up();
}

/* nbd-tls = require, a TCP peer: every option but STARTTLS and ABORT is
 * refused with TLS_REQD before TLS (over-long ones too), STARTTLS with
 * data is INVALID, and EXPORT_NAME closes; a Unix-socket peer is served. */
static void test_tls_required(void)
{
  static uint8_t junk[NBD_MAX_OPTION + 1];
  const uint32_t opts[] = { NBD_OPT_LIST, NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_STRUCTURED_REPLY, 99 };

  env.set.tls = NBD_TLS_REQUIRE;
  connect_client();
  n->peer.kind = VD_PEER_IPV4;
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
    opt(opts[i], "\0\0\0\3vol\0\0", i % 2 ? 9 : 0);
    CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
    expect_error(opts[i], REP_ERR_TLS_REQD, "NBD_OPT_STARTTLS first");
  }
  opt(NBD_OPT_GO, junk, sizeof junk);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(NBD_OPT_GO, REP_ERR_TLS_REQD, "NBD_OPT_STARTTLS first");
  opt(NBD_OPT_STARTTLS, "x", 1);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(NBD_OPT_STARTTLS, REP_ERR_INVALID, "takes no data");
  expect_quiet();
  opt(NBD_OPT_EXPORT_NAME, "vol", 3);
  CU_ASSERT_EQUAL(step(), -EACCES);
  expect_quiet();
  hang_up();

  connect_client();
  n->peer.kind = VD_PEER_UID;
  go(NBD_OPT_GO, "vol");
  CU_ASSERT_EQUAL(step(), NBD_NEG_START);
  expect_infos(7);
  hang_up();
  env.set.tls = NBD_TLS_OFF;
}

/* Option data past what the server reads: up to 1 MiB is skipped and
 * refused with TOO_BIG, and the connection goes on; more is refused and
 * closed at once, its data never read. */
static void test_too_long(void)
{
  static uint8_t junk[NBD_MAX_OPTION + 1];
  int avail = 0;

  connect_client();
  opt(NBD_OPT_GO, junk, sizeof junk);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(7, REP_ERR_TOO_BIG, "too long");
  go(NBD_OPT_GO, "vol");
  CU_ASSERT_EQUAL(step(), NBD_NEG_START);
  expect_infos(7);
  hang_up();

  connect_client();
  opt(NBD_OPT_LIST, junk, 0);
  opt_hdr(NBD_OPT_GO, (1u << 20) + 1);
  put(junk, 100);
  CU_ASSERT_EQUAL(step(), -ECONNABORTED);
  expect_reply(3, REP_SERVER, "\0\0\0\3old", 7);
  expect_reply(3, REP_SERVER, "\0\0\0\3vol", 7);
  expect_reply(3, REP_ACK, NULL, 0);
  expect_error(7, REP_ERR_TOO_BIG, "closing");
  CU_ASSERT(ioctl(n->fd, FIONREAD, &avail) == 0 && avail == 100);
  hang_up();

  connect_client();
  opt(NBD_OPT_EXPORT_NAME, junk, sizeof junk); /* no way to refuse: close */
  CU_ASSERT_EQUAL(step(), -EINVAL);
  expect_quiet();
  hang_up();
}

/* ABORT: ACK, then the server closes; the data it may carry is ignored. */
static void test_abort(void)
{
  for (int with_data = 0; with_data < 2; with_data++) {
    connect_client();
    opt(NBD_OPT_ABORT, "xyz", with_data ? 3 : 0);
    CU_ASSERT_EQUAL(step(), -ECONNABORTED);
    expect_reply(2, REP_ACK, NULL, 0);
    hang_up();
  }
}

/* A client that goes away at any point of an option: -EPIPE, whatever
 * was half read is freed (ASan checks). */
static void test_close_midway(void)
{
  uint8_t b[64];
  uint32_t len = go_body(b + 16, "vol", 3, NULL, 0);
  size_t cut[] = { 2, 16 + 2, 16 + 5 };

  nbd_put64(b, NBD_IHAVEOPT);
  nbd_put32(b + 8, NBD_OPT_GO);
  nbd_put32(b + 12, len);
  for (size_t i = 0; i < 3; i++) {
    connect_client();
    put(b, cut[i]);
    CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
    shutdown(cfd, SHUT_WR);
    CU_ASSERT_EQUAL(step(), -EPIPE);
    expect_quiet();
    hang_up();
  }
  connect_only();
  put("\0\0", 2);                       /* half the client flags */
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  shutdown(cfd, SHUT_WR);
  CU_ASSERT_EQUAL(step(), -EPIPE);
  hang_up();
  connect_client();
  opt_hdr(NBD_OPT_GO, NBD_MAX_OPTION + 1); /* dies while being skipped */
  put(b, 10);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  shutdown(cfd, SHUT_WR);
  CU_ASSERT_EQUAL(step(), -EPIPE);
  hang_up();
}

/* A byte at a time: the server waits (READ) without replying until the
 * option is whole, then answers it once. */
static void test_trickle(void)
{
  uint8_t b[64];
  uint32_t len = go_body(b + 16, "vol", 3, NULL, 0);

  nbd_put64(b, NBD_IHAVEOPT);
  nbd_put32(b + 8, NBD_OPT_INFO);
  nbd_put32(b + 12, len);
  connect_client();
  for (uint32_t i = 0; i + 1 < 16 + len; i++) {
    put(b + i, 1);
    CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  }
  expect_quiet();
  put(b + 16 + len - 1, 1);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_infos(6);
  expect_reply(6, REP_ACK, NULL, 0);
  expect_quiet();
  hang_up();
}

/* A bad option magic is not NBD: close with nothing sent. */
static void test_bad_magic(void)
{
  connect_client();
  put("IHAVEOPX\0\0\0\3\0\0\0\0", 16);
  CU_ASSERT_EQUAL(step(), -EPROTO);
  expect_quiet();
  hang_up();
}

/* Options that arrive together are answered STEP_BUDGET per turn, so
 * one client cannot hold the loop. */
static void test_budget(void)
{
  static uint8_t got[(STEP_BUDGET + 6) * 74], want[sizeof got];
  size_t len;

  connect_client();
  lists(STEP_BUDGET + 6);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  len = slurp(got, 0, sizeof got);
  CU_ASSERT_EQUAL(len, list_replies(want, STEP_BUDGET));
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  len = slurp(got, len, sizeof got);
  CU_ASSERT_EQUAL(len, list_replies(want, STEP_BUDGET + 6));
  CU_ASSERT(memcmp(got, want, sizeof want) == 0);
  expect_quiet();
  hang_up();
}

/* A client that sends but never reads: once the socket is full the server
 * asks to wait for WRITE and reads no further option, holding one
 * option's replies at most; as the client reads, all are answered. */
static void test_never_reads(void)
{
  static uint8_t got[200 * 74], want[sizeof got];
  int small = 1, unread = 0, rc, turns = 0;
  size_t len = 0;

  connect_client();
  CU_ASSERT(setsockopt(n->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
  lists(200);
  rc = step();
  CU_ASSERT_EQUAL(rc, NBD_NEG_WRITE);
  CU_ASSERT(n->out_len - n->out_off <= 74);
  CU_ASSERT(ioctl(n->fd, FIONREAD, &unread) == 0 && unread > 0);
  while (rc == NBD_NEG_WRITE || unread) {
    CU_ASSERT_FATAL(++turns < 10000 && (rc == NBD_NEG_READ || rc == NBD_NEG_WRITE));
    len = slurp(got, len, sizeof got);
    rc = step();
    CU_ASSERT_FATAL(ioctl(n->fd, FIONREAD, &unread) == 0);
  }
  CU_ASSERT_EQUAL(rc, NBD_NEG_READ);
  len = slurp(got, len, sizeof got);
  CU_ASSERT_EQUAL(len, list_replies(want, 200));
  CU_ASSERT(memcmp(got, want, sizeof want) == 0);
  expect_quiet();
  hang_up();
}

/* A GO whose session cannot start: every slot taken (refused before a
 * thread), or the session thread's set-up failing; the client gets
 * SHUTDOWN with the reason and may go on negotiating. */
static void test_no_session(void)
{
  connect_client();
  staged = env.set.max_sessions;
  go(NBD_OPT_GO, "vol");
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_infos(7);
  expect_error(7, REP_ERR_SHUTDOWN, "nbd-max-sessions");
  expect_quiet();
  staged = 0;
  go(NBD_OPT_GO, "vol");
  CU_ASSERT_EQUAL(step(), NBD_NEG_START);
  expect_infos(7);
  xfer_rc = -ENOMEM;
  CU_ASSERT_EQUAL(nbd_neg_enter(n, &(struct nbd_conn){ .fd = -1 }, &(struct nbd_xfer *){ NULL },
                                (uint8_t[NBD_NEG_FINAL_MAX]){ 0 }, &(size_t){ 0 }), -ENOMEM);
  nbd_neg_refused(n, -ENOMEM);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(7, REP_ERR_SHUTDOWN, "out of memory");
  go(NBD_OPT_GO, "vol");
  CU_ASSERT_EQUAL(step(), NBD_NEG_START);
  expect_infos(7);
  xfer_rc = 0;
  attach_rc = -ESHUTDOWN;
  CU_ASSERT_EQUAL(nbd_neg_enter(n, &(struct nbd_conn){ .fd = -1 }, &(struct nbd_xfer *){ NULL },
                                (uint8_t[NBD_NEG_FINAL_MAX]){ 0 }, &(size_t){ 0 }), -ESHUTDOWN);
  CU_ASSERT_EQUAL(xfers_freed, 1);
  nbd_neg_refused(n, -ESHUTDOWN);
  CU_ASSERT_EQUAL(step(), NBD_NEG_READ);
  expect_error(7, REP_ERR_SHUTDOWN, "going away");
  expect_quiet();
  hang_up();
}

static const struct vd_test tests[] = {
  { "greeting and client flags", test_greeting_flags },
  { "unknown client flags close", test_bad_flags },
  { "LIST", test_list },
  { "INFO, then GO", test_info_then_go },
  { "unknown exports", test_unknown },
  { "names at the spec's limits", test_names },
  { "EXPORT_NAME", test_export_name },
  { "EXPORT_NAME refused closes", test_export_name_refused },
  { "unsupported options, then GO", test_unsupported },
  { "TLS required: options before STARTTLS", test_tls_required },
  { "options over the length limits", test_too_long },
  { "ABORT", test_abort },
  { "client closes mid-option", test_close_midway },
  { "an option a byte at a time", test_trickle },
  { "bad option magic", test_bad_magic },
  { "options per turn are bounded", test_budget },
  { "a client that never reads", test_never_reads },
  { "no session to be had", test_no_session },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "nbd handshake", .tests = { tests }, .init = suite_init, .fini = suite_fini },
  { .name = NULL },
};

VD_TEST_PROGRAM(suites, NULL, NULL);
