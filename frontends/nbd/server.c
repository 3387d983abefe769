/* server.c: the NBD frontend's life cycle: listeners, start and stop,
 * and exporting and withdrawing volumes.  Negotiation is loop.c's, the
 * session threads session.c's, the list of sessions list.c's. */
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
  int lfd[2];
  unsigned nlfd;
  bool listening;
  char unix_path[108];
} srv = { .lfd = { -1, -1 } };

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
  nbd_conns_open();
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

/* Frontend stop: no new connections, then end the live ones. */
static void nbd_stop(const struct vd_frontend_host *d)
{
  (void)d;
  vd_nbd_detach_all();
  if (!srv.listening)
    return;
  nbd_conns_close();
  nbd_loop_stop();
  srv.listening = false;
  nbd_conns_end_all();
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
  int rc = vd_nbd_detach(v, force, err, errlen);
  (void)d;
  return rc ? rc : nbd_conns_withdraw(v, force, err, errlen);
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
