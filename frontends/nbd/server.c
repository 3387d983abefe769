/* server.c: the NBD frontend's life cycle: listeners, the list of live
 * connections, and exporting and withdrawing volumes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nbd-internal.h"
#include "util.h"
#include "volume.h"
#include "vramd.h"

/* One per daemon: the frontend interface passes only struct vramd. */
static struct {
  struct vramd *d;
  pthread_mutex_t lock;
  pthread_cond_t cv;        /* a connection ended or detached */
  struct nbd_conn *conns;
  unsigned nconns;
  bool stopping;
  int lfd[2];
  unsigned nlfd;
  int wake[2];
  pthread_t listener;
  bool listening;
  char unix_path[108];
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
          .lfd = { -1, -1 }, .wake = { -1, -1 } };

/* Put a connection on the list; -ESHUTDOWN or -EMFILE when refused. */
static int conn_register(struct nbd_conn *c)
{
  int rc = 0;
  pthread_mutex_lock(&srv.lock);
  if (srv.stopping)
    rc = -ESHUTDOWN;
  else if (srv.nconns >= NBD_MAX_CONNS)
    rc = -EMFILE;
  if (!rc) {
    c->prev = NULL;
    c->next = srv.conns;
    if (srv.conns)
      srv.conns->prev = c;
    srv.conns = c;
    srv.nconns++;
  }
  pthread_mutex_unlock(&srv.lock);
  return rc;
}

/* Attach a volume, unless it or the server is going away. */
int nbd_conn_attach(struct nbd_conn *c, struct vd_volume *v)
{
  int rc = 0;
  pthread_mutex_lock(&srv.lock);
  if (srv.stopping || atomic_load(&v->deleting))
    rc = -ESHUTDOWN;
  else {
    c->v = v;
    atomic_fetch_add(&v->clients, 1);
  }
  pthread_mutex_unlock(&srv.lock);
  if (rc)
    vd_volume_put(v);
  return rc;
}

/* Detach, unlink and close a connection; wakes remove() and stop(). */
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
  srv.nconns--;
  close(c->fd);
  pthread_cond_broadcast(&srv.cv);
  pthread_mutex_unlock(&srv.lock);
  vd_volume_put(v);
}

/* Connection thread: negotiate, then serve. */
static void *conn_main(void *arg)
{
  struct nbd_conn *c = arg;
  struct nbd_xfer *x = NULL;

  vd_thread_name("nbd-rx");

  nbd_set_timeouts(c->fd, NBD_HANDSHAKE_TIMEOUT_S);
  (void)nbd_handshake(srv.d, c, &x);
  if (x)
    nbd_xfer_run(x, c->v);
  conn_unregister(c);
  free(c);
  return NULL;
}

/* Start a detached thread for a new socket, or close it. */
static void conn_spawn(int fd)
{
  struct nbd_conn *c = calloc(1, sizeof *c);
  pthread_attr_t a;
  pthread_t t;
  int one = 1;

  if (!c) {
    close(fd);
    return;
  }
  c->fd = fd;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (conn_register(c)) {
    vd_warn("nbd: too many connections (%d), refusing one", NBD_MAX_CONNS);
    goto out_free;
  }
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, 256 << 10);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &a, conn_main, c)) {
    pthread_attr_destroy(&a);
    vd_warn("nbd: cannot start a connection thread");
    conn_unregister(c);
    free(c);
    return;
  }
  pthread_attr_destroy(&a);
  return;

out_free:
  close(fd);
  free(c);
}

/* Accept on every listener until stop() writes to the wake pipe. */
static void *listener_main(void *arg)
{
  struct pollfd p[3];
  (void)arg;

  vd_thread_name("nbd-listen");

  for (;;) {
    unsigned n = 0;
    for (; n < srv.nlfd; n++)
      p[n] = (struct pollfd){ .fd = srv.lfd[n], .events = POLLIN };
    p[n] = (struct pollfd){ .fd = srv.wake[0], .events = POLLIN };
    if (poll(p, n + 1, -1) < 0) {
      if (errno == EINTR)
        continue;
      vd_err("nbd: poll: %s", strerror(errno));
      return NULL;
    }
    if (p[n].revents)
      return NULL;
    for (unsigned i = 0; i < n; i++) {
      int fd;
      if (!(p[i].revents & POLLIN))
        continue;
      fd = accept4(srv.lfd[i], NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0)
        conn_spawn(fd);
      else if (errno == EMFILE || errno == ENFILE)
        usleep(10000); /* out of descriptors: let connections end */
    }
  }
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
  for (int i = 0; i < 2; i++)
    if (srv.wake[i] >= 0) {
      close(srv.wake[i]);
      srv.wake[i] = -1;
    }
}

/* Frontend start: listeners and their thread. */
static int nbd_start(struct vramd *d, char *err, size_t errlen)
{
  char a[32], b[32], c[32];
  int rc;

  srv.d = d;
  srv.stopping = false;
  rc = listen_unix(d->cfg.nbd_socket, err, errlen);
  if (!rc && d->cfg.nbd_listen[0])
    rc = listen_tcp(d->cfg.nbd_listen, err, errlen);
  if (!rc && pipe2(srv.wake, O_CLOEXEC)) {
    rc = -errno;
    snprintf(err, errlen, "nbd: pipe: %s", strerror(errno));
  }
  if (!rc && pthread_create(&srv.listener, NULL, listener_main, NULL)) {
    rc = -EAGAIN;
    snprintf(err, errlen, "nbd: cannot start the listener thread");
  }
  if (rc)
    goto out_close;
  srv.listening = true;
  vd_info("nbd: listening on %s%s%s; %s of pinned staging per session, at most "
          "%u sessions (%s), requests up to %s", d->cfg.nbd_socket,
          d->cfg.nbd_listen[0] ? " and " : "", d->cfg.nbd_listen,
          vd_format_size(d->cfg.nbd_staging, a, sizeof a), d->cfg.nbd_max_sessions,
          vd_format_size(d->cfg.nbd_staging * d->cfg.nbd_max_sessions, b, sizeof b),
          vd_format_size(nbd_max_payload(d->cfg.nbd_staging), c, sizeof c));
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
  if (write(srv.wake[1], "x", 1) != 1)
    vd_err("nbd: cannot wake the listener");
  pthread_join(srv.listener, NULL);
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
  rc = conn_register(c);
  if (rc) {
    close(fd);
    free(c);
    return rc;
  }
  rc = nbd_xfer_new(d, fd, &x);
  if (!rc) {
    vd_volume_get(v);
    rc = nbd_conn_attach(c, v); /* drops the reference on failure */
  }
  if (rc)
    nbd_xfer_free(x);
  else
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
