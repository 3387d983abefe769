/* server.c: the NBD frontend's life cycle: listeners, session threads
 * and the list of sessions, and exporting and withdrawing volumes.
 * Negotiation is loop.c's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "nbd-internal.h"
#include "util.h"
#include "volume.h"
#include "vramd.h"

/* One per daemon: the frontend interface passes only struct vramd. */
static struct {
  struct vramd *d;
  pthread_mutex_t lock;
  pthread_cond_t cv;        /* a session ended or detached */
  struct nbd_conn *conns;   /* sessions */
  bool stopping;
  int lfd[2];
  unsigned nlfd;
  bool listening;
  char unix_path[108];
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
          .lfd = { -1, -1 } };

/* Attach a volume and list the session, unless it or the server is going away. */
int nbd_conn_attach(struct nbd_conn *c, struct vd_volume *v)
{
  int rc = 0;
  pthread_mutex_lock(&srv.lock);
  if (srv.stopping || atomic_load(&v->deleting))
    rc = -ESHUTDOWN;
  else {
    c->v = v;
    atomic_fetch_add(&v->clients, 1);
    c->prev = NULL;
    c->next = srv.conns;
    if (srv.conns)
      srv.conns->prev = c;
    srv.conns = c;
  }
  pthread_mutex_unlock(&srv.lock);
  if (rc)
    vd_volume_put(v);
  return rc;
}

/* Detach, unlink and close a session; wakes remove() and stop(). */
static void conn_unregister(struct nbd_conn *c)
{
  struct vd_volume *v;
  pthread_mutex_lock(&srv.lock);
  v = c->v;
  c->v = NULL;
  if (v)
    atomic_fetch_sub(&v->clients, 1);
  if (c->prev)
    c->prev->next = c->next;
  else
    srv.conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  close(c->fd);
  pthread_cond_broadcast(&srv.cv);
  pthread_mutex_unlock(&srv.lock);
  vd_volume_put(v);
}

/* Session thread: set the session up (admission, staging, attach) and
 * hand the negotiation back to the loop; then send the last reply and
 * serve.  A session that cannot start goes back to negotiating. */
static void *session_main(void *arg)
{
  struct nbd_neg *n = arg;
  struct nbd_conn *c = calloc(1, sizeof *c);
  struct nbd_xfer *x = NULL;
  uint8_t fin[NBD_NEG_FINAL_MAX];
  size_t flen = 0;
  int rc, fl;

  vd_thread_name("nbd-rx");
  rc = c ? nbd_neg_enter(n, c, &x, fin, &flen) : -ENOMEM;
  nbd_loop_hand_back(n, rc); /* n is the loop's again from here */
  if (rc) {
    free(c);
    return NULL;
  }
  fl = fcntl(c->fd, F_GETFL);
  if (fl < 0 || fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK) || nbd_send_full(c->fd, fin, flen))
    nbd_xfer_free(x);
  else
    nbd_xfer_run(x, c->v);
  conn_unregister(c);
  free(c);
  return NULL;
}

/* A detached thread with a small stack: mlockall locks all of it. */
int nbd_session_spawn(struct nbd_neg *n)
{
  pthread_t t;
  int rc = vd_thread_start(&t, 256 << 10, session_main, n);
  if (!rc)
    pthread_detach(t);
  return -rc;
}

/* The NBD sockets; the Unix one 0660 (README). */
static const struct vd_listen nbd_unix_listen = {
  .what = "nbd-socket", .backlog = SOMAXCONN, .mode = 0660,
};
static const struct vd_listen nbd_tcp_listen = { .what = "nbd-listen", .backlog = SOMAXCONN };

/* Listen on the Unix socket path and remember it for removal. */
static int listen_unix(const char *path, char *err, size_t errlen)
{
  int fd = vd_listen_unix(path, &nbd_unix_listen, err, errlen);
  if (fd < 0)
    return fd;
  snprintf(srv.unix_path, sizeof srv.unix_path, "%s", path);
  srv.lfd[srv.nlfd++] = fd;
  return 0;
}

/* Listen on TCP HOST:PORT. */
static int listen_tcp(const char *hostport, char *err, size_t errlen)
{
  int fd = vd_listen_tcp(hostport, &nbd_tcp_listen, err, errlen);
  if (fd < 0)
    return fd;
  srv.lfd[srv.nlfd++] = fd;
  return 0;
}

/* Close the listening sockets and remove the Unix socket file. */
static void close_listeners(void)
{
  for (unsigned i = 0; i < srv.nlfd; i++)
    close(srv.lfd[i]);
  srv.nlfd = 0;
  if (srv.unix_path[0])
    unlink(srv.unix_path);
  srv.unix_path[0] = '\0';
}

/* Each connection is a descriptor: take the hard limit, as a daemon that
 * never uses select() should, and warn when even that is short. */
static void raise_nofile(const struct vramd *d)
{
  rlim_t need = NBD_NEG_MAX + (rlim_t)d->cfg.nbd_max_sessions + 256;
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl))
    return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    (void)getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
    vd_warn("nbd: the descriptor limit is %llu, under the %llu that %u negotiations, "
            "nbd-max-sessions and the rest can hold; raise LimitNOFILE",
            (unsigned long long)rl.rlim_cur, (unsigned long long)need, NBD_NEG_MAX);
}

/* Frontend start: listeners and the negotiation loop. */
static int nbd_start(struct vramd *d, char *err, size_t errlen)
{
  char a[32], b[32], c[32];
  int rc;

  srv.d = d;
  srv.stopping = false;
  raise_nofile(d);
  rc = listen_unix(d->cfg.nbd_socket, err, errlen);
  if (!rc && d->cfg.nbd_listen[0])
    rc = listen_tcp(d->cfg.nbd_listen, err, errlen);
  if (!rc)
    rc = nbd_loop_start(d, srv.lfd, srv.nlfd, err, errlen);
  if (rc)
    goto out_close;
  srv.listening = true;
  vd_info("nbd: listening on %s%s%s; %s of pinned staging per session, at most "
          "%u sessions (%s), requests up to %s; at most %u connections negotiating, "
          "%u per peer, %d s each", d->cfg.nbd_socket,
          d->cfg.nbd_listen[0] ? " and " : "", d->cfg.nbd_listen,
          vd_format_size(d->cfg.nbd_staging, a, sizeof a), d->cfg.nbd_max_sessions,
          vd_format_size(d->cfg.nbd_staging * d->cfg.nbd_max_sessions, b, sizeof b),
          vd_format_size(nbd_max_payload(d->cfg.nbd_staging), c, sizeof c),
          NBD_NEG_MAX, NBD_NEG_PER_PEER, NBD_NEG_DEADLINE_S);
  return 0;

out_close:
  close_listeners();
  return rc;
}

/* Shut down every connection matching v (all when v is NULL) and wait
 * until they are gone or detached.  Caller holds srv.lock. */
static void kick_and_wait_locked(struct vd_volume *v)
{
  for (;;) {
    bool any = false;
    for (struct nbd_conn *c = srv.conns; c; c = c->next)
      if (!v || c->v == v) {
        shutdown(c->fd, SHUT_RDWR);
        any = true;
      }
    if (!any)
      return;
    pthread_cond_wait(&srv.cv, &srv.lock);
  }
}

/* Frontend stop: no new connections, then end the live ones. */
static void nbd_stop(struct vramd *d)
{
  (void)d;
  vd_nbd_detach_all();
  if (!srv.listening)
    return;
  pthread_mutex_lock(&srv.lock);
  srv.stopping = true;
  pthread_mutex_unlock(&srv.lock);
  nbd_loop_stop();
  srv.listening = false;
  pthread_mutex_lock(&srv.lock);
  kick_and_wait_locked(NULL);
  pthread_mutex_unlock(&srv.lock);
  close_listeners();
}

/* Frontend add: every nbd volume is exported under its name. */
static int nbd_add(struct vramd *d, struct vd_volume *v, char *err, size_t errlen)
{
  v->device_path[0] = '\0';
  return v->spec.attach ? vd_nbd_attach(d, v, err, errlen) : 0;
}

/* Frontend remove: refuse while clients are connected unless forced. */
static int nbd_remove(struct vramd *d, struct vd_volume *v, bool force,
                      char *err, size_t errlen)
{
  int n = vd_nbd_detach(v, force, err, errlen);
  (void)d;
  if (n)
    return n;
  pthread_mutex_lock(&srv.lock);
  n = atomic_load(&v->clients);
  if (n && !force) {
    pthread_mutex_unlock(&srv.lock);
    snprintf(err, errlen, "volume '%s' has %d NBD client%s connected; disconnect "
             "them or delete with force", v->spec.name, n, n == 1 ? "" : "s");
    return -EBUSY;
  }
  atomic_store(&v->deleting, true);
  kick_and_wait_locked(v);
  pthread_mutex_unlock(&srv.lock);
  return 0;
}

/* Serve one already-connected socket for v, without a handshake. */
int vd_nbd_serve_transmission(struct vramd *d, struct vd_volume *v, int fd)
{
  struct nbd_conn *c = calloc(1, sizeof *c);
  struct nbd_xfer *x;
  int rc;

  if (!c) {
    close(fd);
    return -ENOMEM;
  }
  c->fd = fd;
  rc = nbd_xfer_new(d, fd, &x);
  if (!rc) {
    vd_volume_get(v);
    rc = nbd_conn_attach(c, v); /* drops the reference on failure */
    if (rc)
      nbd_xfer_free(x);
  }
  if (rc) {
    close(fd);
    free(c);
    return rc;
  }
  nbd_xfer_run(x, v);
  conn_unregister(c);
  free(c);
  return rc;
}

/* Frontend pinned: nbd-staging per session, nbd-max-sessions of them. */
static void nbd_pinned(const struct vramd *d, struct vd_frontend_pinned *out)
{
  *out = (struct vd_frontend_pinned){
    .unit = "session",
    .unit_bytes = d->cfg.nbd_staging,
    .max_units = d->cfg.nbd_max_sessions,
    .units = nbd_sessions_staged(),
    .max_request = nbd_max_payload(d->cfg.nbd_staging),
  };
}

const struct vd_frontend vd_frontend_nbd = {
  .kind = VD_FRONTEND_NBD,
  .name = "nbd",
  .start = nbd_start,
  .stop = nbd_stop,
  .add = nbd_add,
  .remove = nbd_remove,
  .pinned = nbd_pinned,
};
