/* server.c: the NBD frontend's life cycle: listeners, session threads
 * and the list of sessions, and exporting and withdrawing volumes.
 * Negotiation is loop.c's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nbd-internal.h"
#include "util.h"
#include "volume.h"

/* One per daemon. */
static struct {
  struct nbd_env env;       /* what start was given */
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
  pthread_attr_t a;
  pthread_t t;
  int rc;

  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, 256 << 10);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  rc = pthread_create(&t, &a, session_main, n);
  pthread_attr_destroy(&a);
  return -rc;
}

/* mkdir -p for the socket's parent directory. */
static int make_parent(const char *path)
{
  char dir[sizeof srv.unix_path];
  snprintf(dir, sizeof dir, "%s", path);
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(dir, 0755) && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  return 0;
}

/* A socket file nobody answers on is stale; a live one is an error. */
static int clear_stale(const struct sockaddr_un *sa, char *err, size_t errlen)
{
  struct stat st;
  int fd, rc;

  if (lstat(sa->sun_path, &st))
    return 0;
  if (!S_ISSOCK(st.st_mode)) {
    snprintf(err, errlen, "nbd socket %s exists and is not a socket", sa->sun_path);
    return -EEXIST;
  }
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
  close(fd);
  if (rc == 0) {
    snprintf(err, errlen, "nbd socket %s is in use by another server; stop it or "
             "pick another --nbd-socket", sa->sun_path);
    return -EADDRINUSE;
  }
  unlink(sa->sun_path);
  return 0;
}

/* Listen on the Unix socket path. */
static int listen_unix(const char *path, char *err, size_t errlen)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd, rc;

  if (strlen(path) >= sizeof sa.sun_path) {
    snprintf(err, errlen, "nbd socket path %s is too long", path);
    return -ENAMETOOLONG;
  }
  strcpy(sa.sun_path, path);
  rc = make_parent(path);
  if (rc) {
    snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(-rc));
    return rc;
  }
  rc = clear_stale(&sa, err, errlen);
  if (rc)
    return rc;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || chmod(path, 0660) ||
      listen(fd, SOMAXCONN)) {
    rc = -errno;
    snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return rc;
  }
  snprintf(srv.unix_path, sizeof srv.unix_path, "%s", path);
  srv.lfd[srv.nlfd++] = fd;
  return 0;
}

/* Split HOST:PORT ([v6]:PORT too); "" or "*" host means every address. */
static int split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
  const char *colon = strrchr(s, ':');
  size_t n;

  if (!colon || !colon[1] || strlen(colon + 1) >= plen)
    return -EINVAL;
  n = (size_t)(colon - s);
  if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
    s++;
    n -= 2;
  }
  if (n >= hlen)
    return -EINVAL;
  memcpy(host, s, n);
  host[n] = '\0';
  if (!strcmp(host, "*"))
    host[0] = '\0';
  strcpy(port, colon + 1);
  return 0;
}

/* Listen on TCP HOST:PORT (the first address that binds). */
static int listen_tcp(const char *hostport, char *err, size_t errlen)
{
  struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM };
  struct addrinfo *res, *ai;
  char host[128], port[16];
  int fd = -1, one = 1, rc;

  if (split_hostport(hostport, host, sizeof host, port, sizeof port)) {
    snprintf(err, errlen, "nbd-listen '%s' is not HOST:PORT", hostport);
    return -EINVAL;
  }
  rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
  if (rc) {
    snprintf(err, errlen, "nbd-listen %s: %s", hostport, gai_strerror(rc));
    return -EINVAL;
  }
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, SOMAXCONN))
      break;
    rc = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    snprintf(err, errlen, "cannot listen on %s: %s", hostport, strerror(rc));
    return -(rc ? rc : EADDRNOTAVAIL);
  }
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
static void raise_nofile(const struct nbd_settings *s)
{
  rlim_t need = NBD_NEG_MAX + (rlim_t)s->max_sessions + 256;
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
static int nbd_start(const struct vd_frontend_host *d, const struct vd_frontend_config *cfg,
                     char *err, size_t errlen)
{
  const struct nbd_settings *s = &srv.env.set;
  char a[32], b[32], c[32];
  int rc;

  srv.env.host = d;
  srv.env.set = *nbd_settings_of(cfg);
  srv.stopping = false;
  raise_nofile(s);
  rc = listen_unix(s->socket, err, errlen);
  if (!rc && s->listen[0])
    rc = listen_tcp(s->listen, err, errlen);
  if (!rc)
    rc = nbd_loop_start(&srv.env, srv.lfd, srv.nlfd, err, errlen);
  if (rc)
    goto out_close;
  srv.listening = true;
  vd_info("nbd: listening on %s%s%s; %s of pinned staging per session, at most "
          "%u sessions (%s), requests up to %s; at most %u connections negotiating, "
          "%u per peer, %d s each", s->socket, s->listen[0] ? " and " : "", s->listen,
          vd_format_size(s->staging, a, sizeof a), s->max_sessions,
          vd_format_size(s->staging * s->max_sessions, b, sizeof b),
          vd_format_size(nbd_max_payload(s->staging), c, sizeof c),
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
static void nbd_stop(const struct vd_frontend_host *d)
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
static int nbd_add(const struct vd_frontend_host *d, struct vd_volume *v, char *err,
                   size_t errlen)
{
  (void)d;
  v->device_path[0] = '\0';
  return v->spec.attach ? vd_nbd_attach(&srv.env, v, err, errlen) : 0;
}

/* Frontend remove: refuse while clients are connected unless forced. */
static int nbd_remove(const struct vd_frontend_host *d, struct vd_volume *v, bool force,
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
int vd_nbd_serve_transmission(const struct nbd_env *env, struct vd_volume *v, int fd)
{
  struct nbd_conn *c = calloc(1, sizeof *c);
  struct nbd_xfer *x;
  int rc;

  if (!c) {
    close(fd);
    return -ENOMEM;
  }
  c->fd = fd;
  rc = nbd_xfer_new(env, fd, &x);
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
static void nbd_pinned(const struct vd_frontend_host *d, struct vd_frontend_pinned *out)
{
  const struct nbd_settings *s = &srv.env.set;
  (void)d;
  *out = (struct vd_frontend_pinned){
    .unit = "session",
    .unit_bytes = s->staging,
    .max_units = s->max_sessions,
    .units = nbd_sessions_staged(),
    .max_request = nbd_max_payload(s->staging),
  };
}

const struct vd_frontend vd_frontend_nbd = {
  .kind = VD_FRONTEND_NBD,
  .name = "nbd",
  .settings = &nbd_settings,
  .start = nbd_start,
  .stop = nbd_stop,
  .add = nbd_add,
  .remove = nbd_remove,
  .pinned = nbd_pinned,
};
