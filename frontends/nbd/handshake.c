/* handshake.c: fixed newstyle negotiation as a state machine that never
 * blocks.  The loop (loop.c) calls nbd_neg_step whenever the socket is
 * ready; a step reads what has arrived, answers whole options and sends
 * what it can.  The replies to one option go out before the next option
 * is read, so a client that never reads holds one option's replies. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd-internal.h"
#include "tls.h"
#include "util.h"
#include "volume.h"

enum { ST_FLAGS, ST_OPT_HDR, ST_OPT_DATA, ST_OPT_SKIP, ST_TLS, ST_START, ST_CLOSE };

/* Options answered per step before the loop serves other connections. */
#define STEP_BUDGET 64

/* Option data being dropped lands here: only the loop's thread steps. */
static uint8_t skip_scratch[16 << 10];

/* Queue bytes for the client. */
static int out_add(struct nbd_neg *n, const void *p, size_t len)
{
  if (n->out_len + len > n->out_cap) {
    size_t cap = n->out_cap ? n->out_cap : 256;
    uint8_t *o;
    while (cap < n->out_len + len)
      cap *= 2;
    o = realloc(n->out, cap);
    if (!o)
      return -ENOMEM;
    n->out = o;
    n->out_cap = cap;
  }
  memcpy(n->out + n->out_len, p, len);
  n->out_len += len;
  return 0;
}

/* Queue an option reply header and its payload. */
static int reply(struct nbd_neg *n, uint32_t type, const void *data, uint32_t len)
{
  uint8_t hdr[20];
  int rc;
  nbd_option_reply_encode(hdr, n->o.option, type, len);
  rc = out_add(n, hdr, sizeof hdr);
  return rc || !len ? rc : out_add(n, data, len);
}

/* Queue an error reply with a message for humans. */
static int reply_err(struct nbd_neg *n, uint32_t type, const char *msg)
{
  return reply(n, type, msg, (uint32_t)strlen(msg));
}

/* One send that never waits, through TLS after STARTTLS: the bytes
 * sent (> 0), 0 when the socket is full, or -errno. */
static ssize_t tx(struct nbd_neg *n, const void *buf, size_t len)
{
  if (n->tls)
    return nbd_tls_send_some(n->tls, buf, len);
  for (;;) {
    ssize_t k = send(n->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k >= 0)
      return k;
    if (errno != EINTR)
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
  }
}

/* Send what is queued: 0 when all went out (the buffer is freed, so an
 * idle negotiation holds none), 1 when the socket is full, or -errno. */
static int flush(struct nbd_neg *n)
{
  while (n->out_off < n->out_len) {
    ssize_t k = tx(n, n->out + n->out_off, n->out_len - n->out_off);
    if (k <= 0)
      return k ? (int)k : 1;
    n->out_off += (size_t)k;
  }
  free(n->out);
  n->out = NULL;
  n->out_len = n->out_off = n->out_cap = 0;
  return 0;
}

/* One read that never waits, through TLS after STARTTLS: the bytes
 * read (> 0), 0 when nothing has arrived, -EPIPE at end of stream, or
 * -errno. */
static ssize_t rx(struct nbd_neg *n, void *buf, size_t len)
{
  if (n->tls)
    return nbd_tls_recv_some(n->tls, buf, len);
  for (;;) {
    ssize_t k = recv(n->fd, buf, len, MSG_DONTWAIT);
    if (k > 0)
      return k;
    if (k == 0)
      return -EPIPE;
    if (errno != EINTR)
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
  }
}

/* Read toward need bytes of buf (n->have already there): 0 when complete,
 * 1 when nothing more has arrived, or -errno. */
static int fill(struct nbd_neg *n, uint8_t *buf, uint32_t need)
{
  while (n->have < need) {
    ssize_t k = rx(n, buf + n->have, need - n->have);
    if (k <= 0)
      return k ? (int)k : 1;
    n->have += (uint32_t)k;
  }
  n->have = 0;
  return 0;
}

/* Look up an export by its name as sent, checked the same way for every
 * option (nbd_name_check): nbd volumes only, never one being deleted,
 * nor one the client's PSK identity is not given (as if it did not
 * exist: the client learns no names it may not use). */
static struct vd_volume *find_export(const struct nbd_neg *n, const uint8_t *name,
                                     uint32_t len)
{
  char s[VD_NAME_MAX + 1];
  struct vd_volume *v;

  if (nbd_name_check(name, len) || len == 0 || len > VD_NAME_MAX)
    return NULL;
  memcpy(s, name, len);
  s[len] = '\0';
  if (!nbd_tls_allows(n->tls, s))
    return NULL;
  v = vd_registry_get(n->env->host->reg, s);
  if (v && (v->spec.frontend != VD_FRONTEND_NBD || atomic_load(&v->deleting))) {
    vd_volume_put(v);
    v = NULL;
  }
  return v;
}

/* NBD_OPT_LIST: one NBD_REP_SERVER per nbd volume the client may use,
 * then ACK. */
static int opt_list(struct nbd_neg *n)
{
  struct vd_volume **vols;
  int k, rc = 0;

  if (n->o.length)
    return reply_err(n, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
  k = vd_registry_list(n->env->host->reg, &vols);
  if (k < 0)
    return reply_err(n, NBD_REP_ERR_SHUTDOWN, "out of memory");
  for (int i = 0; i < k; i++) {
    uint8_t buf[4 + VD_NAME_MAX + 1];
    uint32_t len = (uint32_t)strlen(vols[i]->spec.name);
    nbd_put32(buf, len);
    memcpy(buf + 4, vols[i]->spec.name, len);
    if (!rc && vols[i]->spec.frontend == VD_FRONTEND_NBD &&
        nbd_tls_allows(n->tls, vols[i]->spec.name))
      rc = reply(n, NBD_REP_SERVER, buf, 4 + len);
    vd_volume_put(vols[i]);
  }
  free(vols);
  return rc ? rc : reply(n, NBD_REP_ACK, NULL, 0);
}

/* Queue the NBD_REP_INFO replies a GO or INFO asked for (EXPORT and
 * BLOCK_SIZE always: min 1 means any client's I/O is acceptable). */
static int send_infos(struct nbd_neg *n, const struct nbd_go *go, struct vd_volume *v)
{
  uint8_t b[2 + 256];
  int rc;

  nbd_put16(b, NBD_INFO_EXPORT);
  nbd_put64(b + 2, v->size);
  nbd_put16(b + 10, nbd_transmission_flags());
  rc = reply(n, NBD_REP_INFO, b, 12);
  nbd_put16(b, NBD_INFO_BLOCK_SIZE);
  nbd_put32(b + 2, NBD_MIN_BLOCK);
  nbd_put32(b + 6, NBD_PREF_BLOCK);
  nbd_put32(b + 10, nbd_max_payload(n->env->set.staging));
  rc = rc ? rc : reply(n, NBD_REP_INFO, b, 14);
  if (!rc && go->want_name) {
    size_t len = strlen(v->spec.name);
    nbd_put16(b, NBD_INFO_NAME);
    memcpy(b + 2, v->spec.name, len);
    rc = reply(n, NBD_REP_INFO, b, (uint32_t)(2 + len));
  }
  if (!rc && go->want_description) {
    int len = snprintf((char *)b + 2, sizeof b - 2, "vramd %s volume over %u device%s",
                       vd_layout_name(v->spec.layout), v->spec.ndev,
                       v->spec.ndev == 1 ? "" : "s");
    nbd_put16(b, NBD_INFO_DESCRIPTION);
    rc = reply(n, NBD_REP_INFO, b, (uint32_t)(2 + len));
  }
  return rc;
}

/* Explain why an export cannot be used; the name is shown cut to 64
 * bytes with anything unprintable as '?'. */
static int reply_unknown(struct nbd_neg *n, const struct nbd_go *go)
{
  char msg[160], shown[68];
  uint32_t i, k = go->name_len < 64 ? go->name_len : 64;

  if (go->name_len == 0) {
    return reply_err(n, NBD_REP_ERR_UNKNOWN,
                     "vramd has no default export: name a volume (NBD_OPT_LIST lists them)");
  }
  for (i = 0; i < k; i++)
    shown[i] = go->name[i] >= 0x20 && go->name[i] < 0x7f ? go->name[i] : '?';
  strcpy(shown + i, go->name_len > k ? "..." : "");
  snprintf(msg, sizeof msg, "no volume '%s' is exported over NBD", shown);
  return reply_err(n, NBD_REP_ERR_UNKNOWN, msg);
}

/* Tell the client why its session cannot start; a remote peer can ask
 * again and again, so the log line is rate-limited. */
static int reply_no_session(struct nbd_neg *n, int rc)
{
  char msg[160], sz[32];
  if (rc == -EUSERS) {
    snprintf(msg, sizeof msg, "vramd serves at most %u NBD sessions at a time "
             "(nbd-max-sessions); try again when one ends", n->env->set.max_sessions);
    vd_warn_rl("nbd: %u sessions already (nbd-max-sessions); refusing another",
               n->env->set.max_sessions);
  } else if (rc == -ENOMEM) {
    snprintf(msg, sizeof msg, "vramd cannot pin %s of staging for another NBD session "
             "(out of memory)", vd_format_size(n->env->set.staging, sz, sizeof sz));
  } else if (rc == -EAGAIN) {
    snprintf(msg, sizeof msg, "vramd cannot start a thread for another NBD session; "
             "try again");
  } else {
    snprintf(msg, sizeof msg, "the volume or the server is going away");
  }
  return reply_err(n, NBD_REP_ERR_SHUTDOWN, msg);
}

/* Every session slot is taken: refuse here, without a thread (the exact
 * check is nbd_xfer_new's, in the session thread). */
static bool sessions_full(const struct nbd_neg *n)
{
  return nbd_sessions_staged() >= n->env->set.max_sessions;
}

/* NBD_OPT_GO / NBD_OPT_INFO: a GO that names an export ends negotiation. */
static int opt_go(struct nbd_neg *n)
{
  struct nbd_go go;
  struct vd_volume *v;
  uint32_t e = nbd_go_parse(n->data, n->o.length, &go);
  int rc;

  if (e)
    return reply_err(n, e, "malformed NBD_OPT_GO/NBD_OPT_INFO data (lengths that do not "
                     "add up, or a name over 4096 bytes or holding a NUL byte)");
  v = find_export(n, (const uint8_t *)go.name, go.name_len);
  if (!v)
    return reply_unknown(n, &go);
  rc = send_infos(n, &go, v);
  if (rc || n->o.option == NBD_OPT_INFO) {
    vd_volume_put(v);
    return rc ? rc : reply(n, NBD_REP_ACK, NULL, 0);
  }
  if (sessions_full(n)) {
    vd_volume_put(v);
    return reply_no_session(n, -EUSERS);
  }
  n->v = v;
  n->state = ST_START;
  return 0;
}

/* NBD_OPT_EXPORT_NAME: no way to report errors, so failures close. */
static int opt_export_name(struct nbd_neg *n)
{
  struct vd_volume *v = find_export(n, n->data, n->o.length);

  if (!v)
    return -ENOENT;
  if (sessions_full(n)) {
    vd_volume_put(v);
    vd_warn_rl("nbd: %u sessions already (nbd-max-sessions); closing an "
               "NBD_OPT_EXPORT_NAME client", n->env->set.max_sessions);
    return -EUSERS;
  }
  n->v = v;
  n->state = ST_START;
  return 0;
}

/* NBD_OPT_STARTTLS: ACK in the clear, then the handshake (ST_TLS). */
static int opt_starttls(struct nbd_neg *n)
{
  if (n->env->set.tls == NBD_TLS_OFF)
    return reply_err(n, NBD_REP_ERR_UNSUP, "vramd does not do TLS here (nbd-tls = off); "
                     "use the Unix socket or a trusted network");
  if (n->tls)
    return reply_err(n, NBD_REP_ERR_INVALID, "TLS is already on");
  if (n->o.length)
    return reply_err(n, NBD_REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
  n->state = ST_TLS;
  return reply(n, NBD_REP_ACK, NULL, 0);
}

/* Before TLS where nbd-tls = require (TCP clients): only STARTTLS and
 * ABORT are answered; EXPORT_NAME, which cannot be refused, closes. */
static bool tls_required(const struct nbd_neg *n)
{
  return !n->tls && n->env->set.tls == NBD_TLS_REQUIRE && n->peer.kind != VD_PEER_UID;
}

/* The protocol's answer to an option sent before a required STARTTLS. */
static int refuse_before_tls(struct nbd_neg *n)
{
  char who[64];
  if (n->o.option == NBD_OPT_EXPORT_NAME) {
    vd_info_rl("nbd: %s sent NBD_OPT_EXPORT_NAME before STARTTLS (nbd-tls = require); "
               "closing", vd_peer_name(&n->peer, who, sizeof who));
    return -EACCES;
  }
  return reply_err(n, NBD_REP_ERR_TLS_REQD, "vramd requires TLS here (nbd-tls = require): "
                   "send NBD_OPT_STARTTLS first");
}

/* Answer the option whose data is in n->data; 0 or -errno to close. */
static int one_option(struct nbd_neg *n)
{
  n->state = ST_OPT_HDR;
  if (tls_required(n) && n->o.option != NBD_OPT_STARTTLS && n->o.option != NBD_OPT_ABORT)
    return refuse_before_tls(n);
  switch (n->o.option) {
  case NBD_OPT_EXPORT_NAME: return opt_export_name(n);
  case NBD_OPT_GO:
  case NBD_OPT_INFO: return opt_go(n);
  case NBD_OPT_LIST: return opt_list(n);
  case NBD_OPT_ABORT:
    n->state = ST_CLOSE;
    return reply(n, NBD_REP_ACK, NULL, 0);
  case NBD_OPT_STARTTLS:
    return opt_starttls(n);
  case NBD_OPT_STRUCTURED_REPLY:
    return reply_err(n, NBD_REP_ERR_UNSUP, "vramd sends simple replies only");
  default:
    return reply_err(n, NBD_REP_ERR_UNSUP, "option not supported");
  }
}

/* The client flags: the spec requires dropping clients that set unknown ones. */
static int client_flags(struct nbd_neg *n)
{
  uint32_t cflags = nbd_get32(n->hdr);
  if (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES) ||
      !(cflags & NBD_FLAG_C_FIXED_NEWSTYLE))
    return -EPROTO;
  n->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
  n->state = ST_OPT_HDR;
  return 0;
}

/* An option header: read its data, skip it, or give up on the client. */
static int option_header(struct nbd_neg *n)
{
  nbd_option_decode(n->hdr, &n->o);
  if (n->o.magic != NBD_IHAVEOPT)
    return -EPROTO;
  switch (nbd_option_length_class(n->o.length)) {
  case NBD_OPTLEN_READ:
    if (!n->o.length)
      return one_option(n);
    n->data = malloc(n->o.length);
    if (!n->data)
      return -ENOMEM;
    n->state = ST_OPT_DATA;
    return 0;
  case NBD_OPTLEN_SKIP:
    n->skip = n->o.length;
    n->state = ST_OPT_SKIP;
    return 0;
  default:
    n->state = ST_CLOSE;
    return reply_err(n, NBD_REP_ERR_TOO_BIG, "option data is too long; closing");
  }
}

/* Drop an over-long option's data as it arrives, then refuse it. */
static int skip_data(struct nbd_neg *n)
{
  while (n->skip) {
    size_t want = n->skip < sizeof skip_scratch ? n->skip : sizeof skip_scratch;
    ssize_t k = rx(n, skip_scratch, want);
    if (k <= 0)
      return k ? (int)k : 1;
    n->skip -= (uint32_t)k;
  }
  if (n->o.option == NBD_OPT_EXPORT_NAME)
    return -EINVAL;
  n->state = ST_OPT_HDR;
  if (tls_required(n) && n->o.option != NBD_OPT_STARTTLS && n->o.option != NBD_OPT_ABORT)
    return refuse_before_tls(n);
  return reply_err(n, NBD_REP_ERR_TOO_BIG, "option data is too long");
}

/* A step of the TLS handshake, the session made at its first: 0 when
 * done, 1 or 2 when waiting to read or write, or -errno. */
static int tls_step(struct nbd_neg *n)
{
  char who[64];
  int rc = n->tls ? 0 : nbd_tls_new(n->fd, &n->tls);

  if (rc)
    return rc;
  rc = nbd_tls_handshake(n->tls, vd_peer_name(&n->peer, who, sizeof who));
  if (rc == NBD_TLS_DONE)
    n->state = ST_OPT_HDR;
  return rc;
}

/* One move of the state machine: 0 after progress, 1 when waiting for
 * the client to send, 2 when waiting for it to read, or -errno. */
static int advance(struct nbd_neg *n)
{
  int rc;

  switch (n->state) {
  case ST_TLS:
    return tls_step(n);
  case ST_FLAGS:
    rc = fill(n, n->hdr, 4);
    return rc ? rc : client_flags(n);
  case ST_OPT_HDR:
    rc = fill(n, n->hdr, 16);
    return rc ? rc : option_header(n);
  case ST_OPT_DATA:
    rc = fill(n, n->data, n->o.length);
    if (rc)
      return rc;
    rc = one_option(n);
    free(n->data);
    n->data = NULL;
    return rc;
  default:
    return skip_data(n);
  }
}

/* Flush, then read and answer until the client must say more, the socket
 * is full, or this step's budget is spent (epoll is level-triggered, so
 * the rest waits for the next turn and no client holds the loop).  Bytes
 * TLS already decrypted do not wake epoll: with some left, the step
 * waits for the socket to take writes, which it does at once. */
int nbd_neg_step(struct nbd_neg *n)
{
  for (int budget = STEP_BUDGET;; budget--) {
    int rc = flush(n);
    if (rc)
      return rc < 0 ? rc : NBD_NEG_WRITE;
    if (n->state == ST_CLOSE)
      return -ECONNABORTED;
    if (n->state == ST_START)
      return NBD_NEG_START;
    if (!budget)
      return n->tls && nbd_tls_pending(n->tls) ? NBD_NEG_WRITE : NBD_NEG_READ;
    rc = advance(n);
    if (rc)
      return rc < 0 ? rc : rc == NBD_TLS_WANT_WRITE ? NBD_NEG_WRITE : NBD_NEG_READ;
  }
}

/* Greet: a fixed newstyle server that can leave out the zeroes. */
struct nbd_neg *nbd_neg_new(const struct nbd_env *env, int fd)
{
  struct nbd_neg *n = calloc(1, sizeof *n);
  uint8_t b[18];

  if (!n)
    return NULL;
  n->env = env;
  n->fd = fd;
  n->state = ST_FLAGS;
  nbd_put64(b, NBD_MAGIC);
  nbd_put64(b + 8, NBD_IHAVEOPT);
  nbd_put16(b + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  if (out_add(n, b, sizeof b)) {
    free(n);
    return NULL;
  }
  return n;
}

/* Runs on the session thread, the loop's hands off n meanwhile. */
int nbd_neg_enter(struct nbd_neg *n, struct nbd_conn *c, struct nbd_xfer **x,
                  uint8_t fin[NBD_NEG_FINAL_MAX], size_t *flen)
{
  struct vd_volume *v = n->v;
  int rc;

  n->v = NULL;
  rc = nbd_xfer_new(n->env, n->fd, n->tls, x);
  if (rc) {
    vd_volume_put(v);
    return rc;
  }
  c->fd = n->fd;
  rc = nbd_conn_attach(c, v); /* drops v on failure */
  if (rc) {
    nbd_xfer_free(*x);
    *x = NULL;
    return rc;
  }
  c->tls = n->tls;
  n->tls = NULL;
  n->fd = -1;
  if (n->o.option == NBD_OPT_EXPORT_NAME) {
    memset(fin, 0, NBD_NEG_FINAL_MAX);
    nbd_put64(fin, v->size);
    nbd_put16(fin + 8, nbd_transmission_flags());
    *flen = n->no_zeroes ? 10 : NBD_NEG_FINAL_MAX;
  } else {
    nbd_option_reply_encode(fin, n->o.option, NBD_REP_ACK, 0);
    *flen = 20;
  }
  return 0;
}

/* Back from a session thread that could not start a session. */
void nbd_neg_refused(struct nbd_neg *n, int rc)
{
  if (n->v) {
    vd_volume_put(n->v);
    n->v = NULL;
  }
  if (n->o.option == NBD_OPT_EXPORT_NAME) {
    n->state = ST_CLOSE;
    return;
  }
  n->state = ST_OPT_HDR;
  if (reply_no_session(n, rc))
    n->state = ST_CLOSE;
}

/* Free a negotiation and whatever it still holds. */
void nbd_neg_free(struct nbd_neg *n)
{
  if (!n)
    return;
  if (n->fd >= 0)
    close(n->fd);
  nbd_tls_free(n->tls);
  if (n->v)
    vd_volume_put(n->v);
  free(n->data);
  free(n->out);
  free(n);
}
