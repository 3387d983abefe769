/* tls.c: one NBD connection's TLS session.  The handshake runs on the
 * negotiation loop's non-blocking socket one step at a time (so a slow
 * client holds no thread and meets the negotiation deadline), then the
 * session thread's blocking reads and the writer's batched sends go
 * through the record layer: GnuTLS lets one thread receive while another
 * sends on the same session. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/socket.h>

#include "nbd-internal.h"
#include "tls.h"
#include "util.h"

struct nbd_tls {
  gnutls_session_t s;
  int fd;
  bool done;                     /* handshake finished */
  const char *const *vols;       /* the identity's volumes; NULL: all */
  char identity[NBD_TLS_IDENTITY_MAX + 1]; /* "" for X.509 */
  uint8_t *obuf;                 /* writer: small replies gathered into a record */
  size_t oused;
};

/* A server session on fd, with the daemon's credentials.  No session
 * tickets: vramd resumes nothing, so it keeps no ticket keys.  No
 * GnuTLS timeout either: with one, GnuTLS polls the socket for it inside
 * a step, which would hold the loop; the negotiation deadline applies. */
int nbd_tls_new(int fd, struct nbd_tls **out)
{
  struct nbd_tls *t = calloc(1, sizeof *t);

  *out = NULL;
  if (!t)
    return -ENOMEM;
  if (gnutls_init(&t->s, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL |
                           GNUTLS_NO_TICKETS)) {
    free(t);
    return -ENOMEM;
  }
  if (nbd_tls_creds_apply(t->s)) {
    nbd_tls_free(t);
    return -ENOMEM;
  }
  gnutls_transport_set_int(t->s, fd);
  gnutls_handshake_set_timeout(t->s, 0);
  gnutls_handshake_set_max_packet_length(t->s, NBD_TLS_HANDSHAKE_MAX);
  t->fd = fd;
  *out = t;
  return 0;
}

/* After the handshake: who the client is and what it may open. */
static void handshake_done(struct nbd_tls *t, const char *who)
{
  const char *id = NULL;
  char *desc;

  if (gnutls_auth_get_type(t->s) == GNUTLS_CRD_PSK)
    id = gnutls_psk_server_get_username(t->s);
  snprintf(t->identity, sizeof t->identity, "%s", id ? id : "");
  t->vols = nbd_tls_creds_volumes(id);
  t->done = true;
  desc = gnutls_session_get_desc(t->s);
  vd_debug("nbd: %s: TLS %s, key exchange %s%s%s, kTLS %s", who, desc ? desc : "?",
           gnutls_kx_get_name(gnutls_kx_get(t->s)), id ? ", identity " : "", id ? id : "",
           nbd_tls_ktls(t) ? "on" : "off");
  gnutls_free(desc);
}

/* A step of the handshake on the non-blocking socket. */
int nbd_tls_handshake(struct nbd_tls *t, const char *who)
{
  int rc;

  do
    rc = gnutls_handshake(t->s);
  while (rc < 0 && rc != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(rc));
  if (rc == GNUTLS_E_AGAIN)
    return gnutls_record_get_direction(t->s) ? NBD_TLS_WANT_WRITE : NBD_TLS_WANT_READ;
  if (rc < 0) {
    vd_warn_rl("nbd: TLS handshake with %s failed: %s", who, gnutls_strerror(rc));
    return -EPROTO;
  }
  handshake_done(t, who);
  return NBD_TLS_DONE;
}

/* GnuTLS's codes as the socket helpers' -errno. */
static int tls_errno(ssize_t rc)
{
  switch (rc) {
  case 0:
  case GNUTLS_E_PREMATURE_TERMINATION: return -EPIPE;
  case GNUTLS_E_PUSH_ERROR:
  case GNUTLS_E_PULL_ERROR: return -ECONNRESET;
  case GNUTLS_E_MEMORY_ERROR: return -ENOMEM;
  default: return -EPROTO; /* a bad record, a renegotiation: the session ends */
  }
}

/* One non-blocking read of decrypted bytes. */
ssize_t nbd_tls_recv_some(struct nbd_tls *t, void *buf, size_t len)
{
  for (;;) {
    ssize_t k = gnutls_record_recv(t->s, buf, len);
    if (k > 0)
      return k;
    if (k == GNUTLS_E_AGAIN)
      return 0;
    if (k != GNUTLS_E_INTERRUPTED)
      return tls_errno(k);
  }
}

/* One non-blocking write; after 0 the caller passes the same bytes. */
ssize_t nbd_tls_send_some(struct nbd_tls *t, const void *buf, size_t len)
{
  for (;;) {
    ssize_t k = gnutls_record_send(t->s, buf, len);
    if (k >= 0)
      return k;
    if (k == GNUTLS_E_AGAIN)
      return 0;
    if (k != GNUTLS_E_INTERRUPTED)
      return tls_errno(k);
  }
}

/* Blocking reads until len bytes arrived. */
int nbd_tls_recv_full(struct nbd_tls *t, void *buf, size_t len)
{
  uint8_t *p = buf;
  while (len) {
    ssize_t k = gnutls_record_recv(t->s, p, len);
    if (k < 0 && (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED))
      continue;
    if (k <= 0)
      return tls_errno(k);
    p += k;
    len -= (size_t)k;
  }
  return 0;
}

/* Blocking writes until all of buf went out (a record at a time). */
int nbd_tls_send_full(struct nbd_tls *t, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  while (len) {
    ssize_t k = gnutls_record_send(t->s, p, len);
    if (k < 0 && (k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED))
      continue;
    if (k < 0)
      return tls_errno(k);
    p += k;
    len -= (size_t)k;
  }
  return 0;
}

/* Replies: headers and small payloads are gathered into full records
 * (a write reply alone would cost a record and a system call); a large
 * payload goes straight from staging once the gathered bytes are out. */
int nbd_tls_sendv(struct nbd_tls *t, const struct iovec *iov, unsigned n)
{
  int rc = 0;

  if (!t->obuf && !(t->obuf = malloc(NBD_TLS_RECORD)))
    return -ENOMEM;
  for (unsigned i = 0; !rc && i < n; i++) {
    const uint8_t *p = iov[i].iov_base;
    size_t len = iov[i].iov_len;
    while (!rc && len) {
      size_t c = NBD_TLS_RECORD - t->oused;
      if (!t->oused && len >= NBD_TLS_RECORD) {
        c = len - len % NBD_TLS_RECORD;
        rc = nbd_tls_send_full(t, p, c);
      } else {
        c = len < c ? len : c;
        memcpy(t->obuf + t->oused, p, c);
        t->oused += c;
        if (t->oused == NBD_TLS_RECORD) {
          rc = nbd_tls_send_full(t, t->obuf, t->oused);
          t->oused = 0;
        }
      }
      p += c;
      len -= c;
    }
  }
  if (!rc && t->oused)
    rc = nbd_tls_send_full(t, t->obuf, t->oused);
  t->oused = 0;
  return rc;
}

/* Bytes GnuTLS decrypted that no read took yet. */
size_t nbd_tls_pending(struct nbd_tls *t)
{
  return gnutls_record_check_pending(t->s);
}

/* Whether the client's identity may use volume. */
bool nbd_tls_allows(const struct nbd_tls *t, const char *volume)
{
  if (!t || !t->vols)
    return true;
  for (const char *const *v = t->vols; *v; v++)
    if (!strcmp(*v, volume))
      return true;
  return false;
}

/* The PSK identity, or NULL. */
const char *nbd_tls_identity(const struct nbd_tls *t)
{
  return t && t->identity[0] ? t->identity : NULL;
}

/* True when the kernel encrypts both ways (GnuTLS's ktls, where the
 * library, its configuration and the kernel's tls module allow). */
bool nbd_tls_ktls(const struct nbd_tls *t)
{
  return t && gnutls_transport_is_ktls_enabled(t->s) == GNUTLS_KTLS_DUPLEX;
}

/* close_notify, only if the socket takes it at once. */
void nbd_tls_bye(struct nbd_tls *t)
{
  int fl = fcntl(t->fd, F_GETFL);
  if (t->done && fl >= 0 && !fcntl(t->fd, F_SETFL, fl | O_NONBLOCK))
    (void)gnutls_bye(t->s, GNUTLS_SHUT_WR);
}

/* Free the session and the gathering buffer. */
void nbd_tls_free(struct nbd_tls *t)
{
  if (!t)
    return;
  gnutls_deinit(t->s);
  free(t->obuf);
  free(t);
}
