/* tls.h: NBD over TLS (NBD_OPT_STARTTLS) through GnuTLS: the daemon's
 * credentials (tls-creds.c: PSK file, X.509 directory, the volumes a PSK
 * identity may use) and one connection's session (tls.c).  A build
 * without GnuTLS refuses nbd-tls = on|require in settings.c, so nothing
 * below is ever called there: the inline versions only say so. */
#ifndef VRAMD_NBD_TLS_H
#define VRAMD_NBD_TLS_H

#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct nbd_settings;
/* One connection's TLS session, from STARTTLS to close. */
struct nbd_tls;

/* Limits: what one hostile file or client can make vramd hold. */
#define NBD_TLS_PSK_MAX 1024        /* identities in nbd-tls-psk */
#define NBD_TLS_IDENTITY_MAX 128    /* bytes of a PSK identity */
#define NBD_TLS_KEY_MAX 64          /* bytes of a PSK key (128 hex digits) */
#define NBD_TLS_VOLUMES_MAX 256     /* volumes one identity may be limited to */
#define NBD_TLS_HANDSHAKE_MAX (48u << 10) /* largest handshake message taken */
#define NBD_TLS_RECORD 16384        /* plaintext bytes in a full TLS record */

/* What a step of the non-blocking handshake waits for. */
enum { NBD_TLS_DONE = 0, NBD_TLS_WANT_READ = 1, NBD_TLS_WANT_WRITE = 2 };

#ifdef HAVE_GNUTLS
#include <gnutls/gnutls.h>

/* tls-creds.c: load the credentials that s names (nbd-tls on or require);
 * 0, or -errno with err saying which file and what is wrong. */
int nbd_tls_creds_load(const struct nbd_settings *s, char *err, size_t errlen);
/* Free them (stop). */
void nbd_tls_creds_free(void);
/* A line for the start-up log: what clients authenticate with. */
const char *nbd_tls_creds_describe(char *buf, size_t len);
/* Give a new session the credentials, priorities and, with a CA, the
 * demand for a client certificate: 0 or -errno. */
int nbd_tls_creds_apply(gnutls_session_t s);
/* The volumes a PSK identity may use, NULL-terminated; NULL when it may
 * use every one. */
const char *const *nbd_tls_creds_volumes(const char *identity);

/* tls.c: a server session on socket fd (non-blocking for the handshake):
 * 0 with *out, or -ENOMEM. */
int nbd_tls_new(int fd, struct nbd_tls **out);
/* One step of the handshake: NBD_TLS_DONE, _WANT_READ, _WANT_WRITE, or
 * -EPROTO (logged, rate-limited, naming who). */
int nbd_tls_handshake(struct nbd_tls *t, const char *who);
/* One read that never waits: bytes (> 0), 0 when nothing has arrived,
 * -EPIPE at the end of the stream, or -errno. */
ssize_t nbd_tls_recv_some(struct nbd_tls *t, void *buf, size_t len);
/* One write that never waits: bytes (> 0), 0 when the socket is full
 * (call again with the same bytes), or -errno. */
ssize_t nbd_tls_send_some(struct nbd_tls *t, const void *buf, size_t len);
/* Blocking: exactly len bytes; 0, -EPIPE at end of stream, or -errno. */
int nbd_tls_recv_full(struct nbd_tls *t, void *buf, size_t len);
int nbd_tls_send_full(struct nbd_tls *t, const void *buf, size_t len);
/* Blocking: every byte of iov[0..n) as few full records as they fill. */
int nbd_tls_sendv(struct nbd_tls *t, const struct iovec *iov, unsigned n);
/* Decrypted bytes held that the socket no longer shows. */
size_t nbd_tls_pending(struct nbd_tls *t);
/* False when the client's PSK identity is limited to other volumes. */
bool nbd_tls_allows(const struct nbd_tls *t, const char *volume);
/* The PSK identity (NULL for X.509) and whether the kernel does the
 * record layer (kTLS), for logs. */
const char *nbd_tls_identity(const struct nbd_tls *t);
bool nbd_tls_ktls(const struct nbd_tls *t);
/* Tell the client the session ends (close_notify) if the socket takes
 * it now: never waits on a client that does not read. */
void nbd_tls_bye(struct nbd_tls *t);
/* Free a session (the socket stays the caller's). */
void nbd_tls_free(struct nbd_tls *t);
#else
static inline int nbd_tls_creds_load(const struct nbd_settings *s, char *e, size_t l)
{ (void)s; (void)e; (void)l; return -ENOTSUP; }
static inline void nbd_tls_creds_free(void) {}
static inline const char *nbd_tls_creds_describe(char *b, size_t l)
{ (void)l; b[0] = '\0'; return b; }
static inline int nbd_tls_new(int fd, struct nbd_tls **o) { (void)fd; (void)o; return -ENOTSUP; }
static inline int nbd_tls_handshake(struct nbd_tls *t, const char *w)
{ (void)t; (void)w; return -ENOTSUP; }
static inline ssize_t nbd_tls_recv_some(struct nbd_tls *t, void *b, size_t l)
{ (void)t; (void)b; (void)l; return -ENOTSUP; }
static inline ssize_t nbd_tls_send_some(struct nbd_tls *t, const void *b, size_t l)
{ (void)t; (void)b; (void)l; return -ENOTSUP; }
static inline int nbd_tls_recv_full(struct nbd_tls *t, void *b, size_t l)
{ (void)t; (void)b; (void)l; return -ENOTSUP; }
static inline int nbd_tls_send_full(struct nbd_tls *t, const void *b, size_t l)
{ (void)t; (void)b; (void)l; return -ENOTSUP; }
static inline int nbd_tls_sendv(struct nbd_tls *t, const struct iovec *v, unsigned n)
{ (void)t; (void)v; (void)n; return -ENOTSUP; }
static inline size_t nbd_tls_pending(struct nbd_tls *t) { (void)t; return 0; }
static inline bool nbd_tls_allows(const struct nbd_tls *t, const char *v)
{ (void)t; (void)v; return true; }
static inline const char *nbd_tls_identity(const struct nbd_tls *t) { (void)t; return NULL; }
static inline bool nbd_tls_ktls(const struct nbd_tls *t) { (void)t; return false; }
static inline void nbd_tls_bye(struct nbd_tls *t) { (void)t; }
static inline void nbd_tls_free(struct nbd_tls *t) { (void)t; }
#endif

#endif
