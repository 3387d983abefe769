/* nbd-internal.h: what the files of frontends/nbd share with each other
 * (byte order, socket helpers, the connection list); nothing outside
 * frontends/nbd includes it. */
#ifndef VRAMD_NBD_INTERNAL_H
#define VRAMD_NBD_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nbd.h"

struct vramd;
struct vd_volume;
struct nbd_xfer;

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

/* One client connection, from accept to close. */
struct nbd_conn {
  struct nbd_conn *prev, *next;  /* server list, under the server lock */
  int fd;
  struct vd_volume *v;           /* set once attached, under the server lock */
};

/* io.c: whole-buffer socket I/O; 0, -EPIPE at end of stream, or -errno. */
int nbd_recv_full(int fd, void *buf, size_t len);
int nbd_send_full(int fd, const void *buf, size_t len);
/* Read and drop len bytes through a scratch buffer. */
int nbd_skip(int fd, uint64_t len, void *scratch, size_t scratch_len);
/* Set receive and send timeouts (0 clears them). */
void nbd_set_timeouts(int fd, int seconds);

/* handshake.c: negotiate; on success c->v is attached and *xfer is ready
 * to serve.  Returns 0, or -errno when the session is over. */
int nbd_handshake(struct vramd *d, struct nbd_conn *c, struct nbd_xfer **xfer);

/* conn.c: per-connection transmission state with pinned staging of
 * nbd-staging bytes.  Returns 0 with *xfer set, -EUSERS when
 * nbd-max-sessions sessions are running, or -ENOMEM. */
int nbd_xfer_new(struct vramd *d, int fd, struct nbd_xfer **xfer);
/* Serve requests on the attached volume until the session ends; frees x. */
void nbd_xfer_run(struct nbd_xfer *x, struct vd_volume *v);
/* Free a transmission state that never ran. */
void nbd_xfer_free(struct nbd_xfer *x);
/* Sessions holding pinned staging now. */
unsigned nbd_sessions_staged(void);

/* server.c: attach a volume to a connection unless it is being deleted;
 * takes over the caller's reference and counts a client.  -ESHUTDOWN when
 * the volume or the server is going away. */
int nbd_conn_attach(struct nbd_conn *c, struct vd_volume *v);

#endif
