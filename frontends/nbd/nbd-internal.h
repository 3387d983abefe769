/* nbd-internal.h: what the files of frontends/nbd share with each other
 * (settings, socket helpers, sessions, negotiation, kernel attach);
 * nothing outside frontends/nbd includes it but its tests. */
#ifndef VRAMD_NBD_INTERNAL_H
#define VRAMD_NBD_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend.h"
#include "nbd-proto.h"
#include "peer.h"

struct vd_volume;
struct nbd_xfer;
struct nbd_tls;

/* Server limits. */
#define NBD_SLOTS 128                    /* requests in flight per connection */
#define NBD_SEND_IOV 128                 /* iovec entries per reply sendmsg */
/* Negotiation: connections that have not reached transmission yet. */
#define NBD_NEG_MAX 512                  /* negotiating at once, per daemon */
#define NBD_NEG_PER_PEER 64              /* of them from one uid (Unix) or address (TCP) */
#define NBD_NEG_DEADLINE_S 10            /* whole negotiation, accept to transmission */
#define NBD_NEG_STARTS 8                 /* sessions being set up at once (threads) */
/* Connections of a kernel-attached device (nbd-attach-connections), each
 * a session; the default is one per online CPU up to the _AUTO cap. */
#define NBD_ATTACH_CONNS_MAX 16
#define NBD_ATTACH_CONNS_AUTO 4
/* A request the kernel waits for longer than this drops its connection
 * (with several, the kernel requeues it on another): vramd answers every
 * request, so only a wedged daemon gets there. */
#define NBD_ATTACH_TIMEOUT_S 3600
/* Sessions in transmission, each with its staging (nbd-max-sessions). */
#define NBD_SESSIONS_DEFAULT 256
#define NBD_SESSIONS_MAX 4096

/* nbd-tls: TLS offered, or required of TCP clients. */
enum nbd_tls_mode { NBD_TLS_OFF, NBD_TLS_ON, NBD_TLS_REQUIRE };

/* settings.c: the NBD keys (nbd-socket, nbd-listen, nbd-staging,
 * nbd-max-sessions, nbd-attach-connections, nbd-tls and its files), in
 * a struct vd_frontend_config's bytes. */
struct nbd_settings {
  char socket[108];
  char listen[128];              /* "" = no TCP */
  uint64_t staging;              /* pinned per session */
  unsigned max_sessions;         /* sessions in transmission */
  unsigned attach_connections;   /* per kernel-attached device */
  int tls;                       /* enum nbd_tls_mode */
  char tls_psk[256];             /* "": no PSK */
  char tls_certs[256];           /* "": no X.509 */
  char tls_psk_volumes[256];     /* "": every identity may use every volume */
};
/* "off", "on" or "require". */
const char *nbd_tls_mode_name(int mode);
extern const struct vd_frontend_settings nbd_settings;
/* The settings in a frontend config's bytes. */
const struct nbd_settings *nbd_settings_of(const struct vd_frontend_config *c);

/* What every part of the server reads: the daemon's engine and registry
 * and the settings it started with; server.c's, from start to stop. */
struct nbd_env {
  const struct vd_frontend_host *host;
  struct nbd_settings set;
};

/* One session: a connection past negotiation, from its first request to
 * close; on the server list (for kicks) while a volume is attached. */
struct nbd_conn {
  struct nbd_conn *prev, *next;  /* server list, under the server lock */
  int fd;
  struct nbd_tls *tls;           /* NULL: plain; freed with the socket */
  struct vd_volume *v;           /* set once attached, under the server lock */
  bool kernel;                   /* one of a kernel /dev/nbdN's socketpairs */
};

/* io.c: whole-buffer socket I/O, through tls's record layer when tls is
 * not NULL; 0, -EPIPE at end of stream, or -errno. */
int nbd_recv_full(int fd, struct nbd_tls *tls, void *buf, size_t len);
int nbd_send_full(int fd, struct nbd_tls *tls, const void *buf, size_t len);
/* Read and drop len bytes through a scratch buffer. */
int nbd_skip(int fd, struct nbd_tls *tls, uint64_t len, void *scratch, size_t scratch_len);

/* conn.c: per-connection transmission state with pinned staging of
 * nbd-staging bytes, on fd (through tls unless NULL).  Returns 0 with
 * *xfer set, -EUSERS when nbd-max-sessions sessions are running, or
 * -ENOMEM. */
int nbd_xfer_new(const struct nbd_env *env, int fd, struct nbd_tls *tls,
                 struct nbd_xfer **xfer);
/* Serve requests on the attached volume until the session ends; frees x. */
void nbd_xfer_run(struct nbd_xfer *x, struct vd_volume *v);
/* Free a transmission state that never ran. */
void nbd_xfer_free(struct nbd_xfer *x);
/* Sessions holding pinned staging now. */
unsigned nbd_sessions_staged(void);

/* Who a connection comes from, for the per-peer cap: common/peer.h. */
struct nbd_peer;

/* guard.c's record of one negotiating connection. */
struct nbd_gent {
  struct nbd_gent *prev, *next;  /* every entry, oldest (first deadline) first */
  struct nbd_gent *pprev, *pnext; /* its peer's entries, oldest first */
  struct nbd_peer *peer;
  uint64_t deadline_ns;
  bool busy;                     /* a session thread holds it: never dropped */
};

/* One peer with connections negotiating. */
struct nbd_peer {
  struct vd_peer key;
  unsigned n;                    /* 0: the slot is free */
  struct nbd_gent *oldest, *newest;
};

/* Connections negotiating, capped in all and per peer. */
struct nbd_guard {
  unsigned max, per_peer;
  unsigned n;
  struct nbd_gent *oldest, *newest;
  struct nbd_peer *peers;        /* max of them: each entry has a peer */
};

/* What nbd_guard_room found. */
enum nbd_room {
  NBD_ROOM_FREE,                 /* room: add the newcomer */
  NBD_ROOM_PEER,                 /* its peer is at per_peer: drop *victim first */
  NBD_ROOM_ALL,                  /* all max are taken: drop *victim first */
  NBD_ROOM_NONE,                 /* nothing can be dropped: refuse the newcomer */
};

/* guard.c: 0 or -ENOMEM. */
int nbd_guard_init(struct nbd_guard *g, unsigned max, unsigned per_peer);
void nbd_guard_fini(struct nbd_guard *g);
/* Room for a newcomer from k: the victim is the oldest droppable entry of
 * k itself when k is at its cap, else, when all are taken, of the peer
 * with the most entries; so a newcomer is never refused for another
 * peer's flood. */
enum nbd_room nbd_guard_room(struct nbd_guard *g, const struct vd_peer *k,
                             struct nbd_gent **victim);
/* The oldest droppable entry of the peer with the most entries, or NULL. */
struct nbd_gent *nbd_guard_largest(struct nbd_guard *g);
/* Add e for peer k; the caller made room.  -ENOSPC when there is none. */
int nbd_guard_add(struct nbd_guard *g, struct nbd_gent *e, const struct vd_peer *k,
                  uint64_t deadline_ns);
void nbd_guard_del(struct nbd_guard *g, struct nbd_gent *e);
/* The oldest entry (not busy) whose deadline is at or before now, or NULL. */
struct nbd_gent *nbd_guard_expired(struct nbd_guard *g, uint64_t now_ns);
/* The earliest deadline of an entry that is not busy; 0 when none. */
uint64_t nbd_guard_next_deadline(const struct nbd_guard *g);

/* One connection in negotiation: the loop (loop.c) owns it, except while
 * a session thread sets up its session (g.busy). */
struct nbd_neg {
  struct nbd_gent g;             /* first: loop.c gets back from &n->g */
  struct nbd_neg *wnext;         /* loop: waiting for a start slot */
  struct nbd_neg *bnext;         /* loop: handed back by a session thread */
  struct vd_peer peer;
  const struct nbd_env *env;
  int fd;
  struct nbd_tls *tls;           /* after STARTTLS; the session's once it starts */
  uint32_t events;               /* loop: what epoll watches; 0 when not added */
  bool dead;                     /* loop: dropped, freed at the end of the turn */
  int start_rc;                  /* session thread's verdict */
  int state;                     /* handshake.c's */
  bool no_zeroes;
  uint32_t have;                 /* bytes of the current read so far */
  uint8_t hdr[16];               /* client flags, then each option header */
  struct nbd_option o;
  uint8_t *data;                 /* the option's data: o.length bytes */
  uint32_t skip;                 /* option bytes still to drop */
  uint8_t *out;                  /* replies not sent yet */
  size_t out_len, out_off, out_cap;
  struct vd_volume *v;           /* the export GO or EXPORT_NAME picked */
  /* Session thread: where it hands n back to the loop (loop.c's). */
  void (*back)(struct nbd_neg *n, int rc);
};

/* What the loop does next with a negotiating connection. */
enum { NBD_NEG_READ = 1, NBD_NEG_WRITE, NBD_NEG_START };
/* The largest last reply of a negotiation (EXPORT_NAME's, with zeroes). */
#define NBD_NEG_FINAL_MAX 134

/* handshake.c: a negotiation on non-blocking socket fd, greeting queued.
 * NULL when out of memory (fd is then the caller's to close). */
struct nbd_neg *nbd_neg_new(const struct nbd_env *env, int fd);
/* Read what has arrived, answer whole options, send what is queued:
 * NBD_NEG_READ or _WRITE (what to wait for), NBD_NEG_START (an export
 * was picked: set up the session), or -errno to close. */
int nbd_neg_step(struct nbd_neg *n);
/* Session thread: admit, stage and attach n's export on c, and build the
 * final reply (*flen bytes of fin).  0, after which c owns the socket, or
 * -EUSERS, -ENOMEM, -ESHUTDOWN (the export is dropped either way). */
int nbd_neg_enter(struct nbd_neg *n, struct nbd_conn *c, struct nbd_xfer **x,
                  uint8_t fin[NBD_NEG_FINAL_MAX], size_t *flen);
/* The session could not start (rc from nbd_neg_enter, or -EAGAIN): tell
 * the client and go on negotiating, or close after EXPORT_NAME. */
void nbd_neg_refused(struct nbd_neg *n, int rc);
/* Close the socket (unless a session took it) and free. */
void nbd_neg_free(struct nbd_neg *n);

/* loop.c: accept on lfd[0..nlfd) and negotiate; 0 or -errno with err. */
int nbd_loop_start(const struct nbd_env *env, const int *lfd, unsigned nlfd, char *err, size_t errlen);
/* Close every negotiation, wait for session set-ups, end the thread. */
void nbd_loop_stop(void);

/* session.c: a thread that sets up n's session and serves it, calling
 * back(n, rc) once the set-up ended (0: a session has its socket; the
 * loop passes its own, so session.c calls nothing of loop.c); -errno
 * when none starts (n is then still the loop's). */
int nbd_session_spawn(struct nbd_neg *n, void (*back)(struct nbd_neg *n, int rc));

/* list.c: attach a volume to a session and put it on the list, unless
 * the volume or the server is going away; takes over the caller's
 * reference and counts a client.  -ESHUTDOWN when refused. */
int nbd_conn_attach(struct nbd_conn *c, struct vd_volume *v);
/* Take a session off the list, close its socket, drop its volume. */
void nbd_conn_detach(struct nbd_conn *c);
/* Start and stop: let sessions attach, or no longer. */
void nbd_conns_open(void);
void nbd_conns_close(void);
/* End every session and wait until they are gone. */
void nbd_conns_end_all(void);
/* -EBUSY (err says why) while NBD clients other than v's kernel device
 * are connected, else 0. */
int nbd_conns_idle(struct vd_volume *v, char *err, size_t errlen);
/* Withdraw v: -EBUSY (err says why) while it has clients unless force;
 * else end its sessions and wait for them. */
int nbd_conns_withdraw(struct vd_volume *v, bool force, char *err, size_t errlen);
/* Call fn for each session of v: the peer's pid and uid (Unix), its
 * address (TCP), or the kernel device for an attached one. */
void nbd_conns_list(struct vd_volume *v, vd_client_fn *fn, void *arg);

/* Serve the transmission phase (no handshake) on a connected socket for
 * volume v, e.g. one end of a socketpair handed to the kernel driver.
 * Blocks until the peer disconnects or the volume is removed; fd is closed
 * on return.  Returns 0 or -errno when the connection could not start. */
int vd_nbd_serve_transmission(const struct nbd_env *env, struct vd_volume *v, int fd);

/* attach.c: connect v to a kernel /dev/nbdN through nbd-attach-connections
 * socketpairs, each served by vd_nbd_serve_transmission (spec.index picks
 * the device, else the kernel's first free one); over netlink where the
 * kernel has it, else the ioctls.  Fills v->device_path and device_conns.  Returns 0 or -errno, err says
 * why (module not loaded, device taken). */
int vd_nbd_attach(const struct nbd_env *env, struct vd_volume *v, char *err, size_t errlen);
/* Tell v's kernel /dev/nbdN (if attached) its new size, in place; 0 when
 * it has none, or -errno with err filled. */
int vd_nbd_attach_resize(struct vd_volume *v, uint64_t bytes, char *err, size_t errlen);
/* Disconnect v's kernel device, if any: -EBUSY while it is mounted or
 * used for swap unless force.  0 when v was not attached. */
int vd_nbd_detach(struct vd_volume *v, bool force, char *err, size_t errlen);
/* Disconnect every kernel device (shutdown). */
void vd_nbd_detach_all(void);

/* netlink.c: what NBD_CMD_CONNECT sets up. */
struct nbd_nl_connect {
  int index;             /* /dev/nbd<index>, or -1: the kernel picks */
  uint64_t size, block_size, server_flags;
  uint64_t timeout_s;    /* per request, before the kernel drops a socket */
  const int *fds;        /* the kernel's ends of the connections */
  unsigned nfds;
};

/* True when the kernel has the "nbd" netlink family; asking may load the
 * module, as opening /dev/nbdN would. */
bool nbd_nl_available(void);
/* Connect a device with req's sockets, destroyed on disconnect: 0 with
 * *index set, or the kernel's -errno (-EBUSY: the index is in use). */
int nbd_nl_connect(const struct nbd_nl_connect *req, int *index);
/* Disconnect /dev/nbd<index>: 0 or -errno. */
int nbd_nl_disconnect(int index);
/* Give /dev/nbd<index> a new size in place: 0 or -errno. */
int nbd_nl_resize(int index, uint64_t bytes);

#endif
