/* listen.c: the only code in vramd that makes listening sockets: the API
 * and NBD Unix sockets, and the metrics and NBD TCP listeners. */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "util.h"

/* mkdir -p for the parent of path (mode 0755 for what is created). */
static int make_parent(const char *path)
{
  char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir)
    return 0;
  *slash = '\0';
  return vd_mkdir_p(dir, 0755);
}

/* Clear the way for a socket at sa: a socket file nobody answers on is
 * stale and goes; a live one, or anything that is not a socket, stays and
 * is an error. */
static int clear_stale(const struct sockaddr_un *sa, const struct vd_listen *o,
                       char *err, size_t errlen)
{
  struct stat st;
  int fd, rc;

  if (lstat(sa->sun_path, &st))
    return 0;
  if (!S_ISSOCK(st.st_mode)) {
    snprintf(err, errlen, "%s %s exists and is not a socket; remove it or pick another "
             "--%s", o->what, sa->sun_path, o->what);
    return -EEXIST;
  }
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    rc = -errno;
    snprintf(err, errlen, "%s: cannot probe %s: %s", o->what, sa->sun_path, strerror(-rc));
    return rc;
  }
  rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
  close(fd);
  if (rc == 0) {
    snprintf(err, errlen, "%s %s is in use: another server answers on it; stop it or "
             "pick another --%s", o->what, sa->sun_path, o->what);
    return -EADDRINUSE;
  }
  unlink(sa->sun_path);
  return 0;
}

/* Give the bound socket file its group (when that group exists) and mode. */
static int set_owner(const char *path, const struct vd_listen *o)
{
  struct group *g = o->group ? getgrnam(o->group) : NULL;
  if (g && chown(path, (uid_t)-1, g->gr_gid))
    vd_warn("%s: cannot give %s to group %s: %s", o->what, path, o->group, strerror(errno));
  return chmod(path, o->mode) ? -errno : 0;
}

/* Listen on a Unix socket; group and mode come before listen(). */
int vd_listen_unix(const char *path, const struct vd_listen *o, char *err, size_t errlen)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd, rc;

  if (strlen(path) >= sizeof sa.sun_path) {
    snprintf(err, errlen, "%s '%s' is too long (at most %zu characters)", o->what, path,
             sizeof sa.sun_path - 1);
    return -ENAMETOOLONG;
  }
  memcpy(sa.sun_path, path, strlen(path) + 1);
  if ((rc = make_parent(path))) {
    snprintf(err, errlen, "%s: cannot create the folder of %s: %s", o->what, path,
             strerror(-rc));
    return rc;
  }
  if ((rc = clear_stale(&sa, o, err, errlen)))
    return rc;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    rc = -errno;
    goto out_err;
  }
  /* Until listen() every connect is refused, whatever the mode says. */
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa)) {
    rc = -errno;
    goto out_close;
  }
  if ((rc = set_owner(path, o)) || (listen(fd, o->backlog) && (rc = -errno)))
    goto out_unlink;
  return fd;

out_unlink:
  unlink(path);
out_close:
  close(fd);
out_err:
  snprintf(err, errlen, "%s: cannot listen on %s: %s", o->what, path, strerror(-rc));
  return rc;
}

/* Split HOST:PORT ([v6]:PORT too); "*" host means every address (""). */
int vd_split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen)
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

/* A listening socket on ai, or -errno. */
static int bind_one(const struct addrinfo *ai, int backlog, int v6only)
{
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  int one = 1, rc;

  if (fd < 0)
    return -errno;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ai->ai_family == AF_INET6 && v6only >= 0)
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, backlog))
    return fd;
  rc = -errno;
  close(fd);
  return rc;
}

/* The first of host's addresses that binds (host "" : every address, "::"
 * with IPv4 mapped where there is IPv6, else 0.0.0.0). */
static int bind_first(const char *host, const char *port, int backlog, int *gai)
{
  struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM };
  struct addrinfo *res, *ai;
  int fd = -EADDRNOTAVAIL;

  if (!host[0]) {
    hints.ai_family = AF_INET6;
    if (!getaddrinfo(NULL, port, &hints, &res)) {
      fd = bind_one(res, backlog, 0);
      freeaddrinfo(res);
      if (fd >= 0)
        return fd;
    }
    hints.ai_family = AF_INET;
  }
  if ((*gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)))
    return -EINVAL;
  for (ai = res; ai; ai = ai->ai_next)
    if ((fd = bind_one(ai, backlog, -1)) >= 0)
      break;
  freeaddrinfo(res);
  return fd;
}

/* Listen on TCP HOST:PORT. */
int vd_listen_tcp(const char *hostport, const struct vd_listen *o, char *err, size_t errlen)
{
  char host[128], port[16];
  int fd, gai = 0;

  if (vd_split_hostport(hostport, host, sizeof host, port, sizeof port)) {
    snprintf(err, errlen, "%s '%s' is not HOST:PORT ([V6]:PORT, *:PORT for every address)",
             o->what, hostport);
    return -EINVAL;
  }
  fd = bind_first(host, port, o->backlog, &gai);
  if (gai)
    snprintf(err, errlen, "%s '%s': %s", o->what, hostport, gai_strerror(gai));
  else if (fd < 0)
    snprintf(err, errlen, "%s: cannot listen on %s: %s", o->what, hostport, strerror(-fd));
  return fd;
}
