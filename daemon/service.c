/* service.c: vramd as a system service: the listening sockets (made here
 * or passed by systemd) and sd_notify status, watchdog and stop. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "vramd.h"

/* mkdir -p for the parent of path (mode 0755 for what is created). */
static int make_parent(const char *path)
{
  char dir[256];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir)
    return 0;
  *slash = '\0';
  return vramd_mkdir_p(dir, 0755);
}

/* mkdir that takes an existing folder, but not a file in the way. */
static int make_dir(const char *dir, mode_t mode)
{
  struct stat st;
  if (mkdir(dir, mode) == 0)
    return 0;
  if (errno != EEXIST)
    return -errno;
  if (stat(dir, &st))
    return -errno;
  return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Create every missing folder of dir. */
int vramd_mkdir_p(const char *dir, mode_t mode)
{
  char buf[256];
  int rc;
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof buf)
    return -ENAMETOOLONG;
  memcpy(buf, dir, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if ((rc = make_dir(buf, mode)))
      return rc;
    *p = '/';
  }
  return make_dir(buf, mode);
}

/* Bind the API's Unix socket: mode 0660, group vramd when it exists, and a
 * stale socket of a dead vramd replaced (a live one is left alone). */
static int unix_listen(const char *path, char *err, size_t errlen)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  struct group *g;
  int fd, probe, rc;

  if (strlen(path) >= sizeof sa.sun_path) {
    snprintf(err, errlen, "API socket path '%s' is too long", path);
    return -ENAMETOOLONG;
  }
  memcpy(sa.sun_path, path, strlen(path) + 1);
  if ((rc = make_parent(path))) {
    snprintf(err, errlen, "cannot create the folder of %s: %s", path, strerror(-rc));
    return rc;
  }
  probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
    close(probe);
    snprintf(err, errlen, "another vramd already answers on %s", path);
    return -EADDRINUSE;
  }
  if (probe >= 0)
    close(probe);
  unlink(path);
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    goto out_err;
  /* The umask keeps the socket private between bind and chmod. */
  mode_t old = umask(0177);
  rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  umask(old);
  if (rc || listen(fd, 64))
    goto out_close;
  if ((g = getgrnam("vramd")) && chown(path, (uid_t)-1, g->gr_gid))
    vd_warn("cannot give %s to group vramd: %s", path, strerror(errno));
  if (chmod(path, 0660))
    goto out_close;
  return fd;

out_close:
  close(fd);
out_err:
  snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
  return -errno;
}

/* Listen on "HOST:PORT" or "[V6]:PORT" over TCP. */
static int tcp_listen(const char *spec, char *err, size_t errlen)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
  struct addrinfo *res, *ai;
  char host[128], *port;
  int fd = -1, one = 1, rc;

  snprintf(host, sizeof host, "%s", spec);
  port = strrchr(host, ':');
  if (!port || port == host || !port[1]) {
    snprintf(err, errlen, "metrics-listen '%s' is not HOST:PORT or off", spec);
    return -EINVAL;
  }
  *port++ = '\0';
  char *h = host;
  if (h[0] == '[' && h[strlen(h) - 1] == ']') {
    h[strlen(h) - 1] = '\0';
    h++;
  }
  rc = getaddrinfo(h, port, &hints, &res);
  if (rc) {
    snprintf(err, errlen, "metrics-listen '%s': %s", spec, gai_strerror(rc));
    return -EINVAL;
  }
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0)
      break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    snprintf(err, errlen, "cannot listen on %s for metrics: %s", spec, strerror(errno));
    return -errno;
  }
  return fd;
}

/* The API and metrics sockets: systemd's where it passed them (a Unix one
 * is the API, a TCP one the metrics), made here otherwise. */
int vramd_listen(struct vramd *d, int *api_fd, int *metrics_fd, char *err, size_t errlen)
{
  int n = sd_listen_fds(1);

  *api_fd = *metrics_fd = -1;
  for (int i = 0; i < n; i++) {
    int fd = SD_LISTEN_FDS_START + i;
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0 && *api_fd < 0)
      *api_fd = fd;
    else if (sd_is_socket_inet(fd, 0, SOCK_STREAM, 1, 0) > 0 && *metrics_fd < 0)
      *metrics_fd = fd;
    else {
      vd_warn("ignoring socket fd %d from systemd: not a listening Unix or TCP stream", fd);
      close(fd);
      continue;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (*api_fd >= 0)
    vd_info("API on the socket passed by systemd");
  else if ((*api_fd = unix_listen(d->cfg.api_socket, err, errlen)) < 0)
    goto out_metrics;
  else
    d->api_socket_made = true;
  if (*metrics_fd < 0 && strcmp(d->cfg.metrics_listen, "off") && d->cfg.metrics_listen[0] &&
      (*metrics_fd = tcp_listen(d->cfg.metrics_listen, err, errlen)) < 0)
    goto out_api;
  return 0;

out_api:
  close(*api_fd);
  if (d->api_socket_made)
    unlink(d->cfg.api_socket);
  d->api_socket_made = false;
out_metrics:
  if (*metrics_fd >= 0)
    close(*metrics_fd);
  *api_fd = *metrics_fd = -1;
  return -1;
}

/* Remove the API socket file if vramd made it. */
void vramd_unlisten(struct vramd *d)
{
  if (d->api_socket_made)
    unlink(d->cfg.api_socket);
  d->api_socket_made = false;
}

/* Tell systemd how many volumes there are and how much is free. */
void vramd_notify_status(struct vramd *d, const char *state)
{
  uint64_t avail = 0, cap = 0;
  char a[32], c[32];
  for (unsigned i = 0; i < vd_pool_count(d->pool); i++) {
    avail += vd_device_available(vd_pool_device(d->pool, i));
    cap += vd_device_info(vd_pool_device(d->pool, i))->capacity_bytes;
  }
  sd_notifyf(0, "%sSTATUS=%u volumes, %s free of %s on %u devices", state ? state : "",
             d->reg.count, vd_format_size(avail, a, sizeof a), vd_format_size(cap, c, sizeof c),
             vd_pool_count(d->pool));
}

/* How often the main loop wakes: half the watchdog period, at most 5 s. */
unsigned vramd_tick_ms(void)
{
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec / 2000 < 5000)
    return usec / 2000 ? (unsigned)(usec / 2000) : 1;
  return 5000;
}

/* Keep systemd's watchdog fed (a no-op when it is off). */
void vramd_notify_watchdog(void)
{
  uint64_t usec;
  if (sd_watchdog_enabled(0, &usec) > 0)
    sd_notify(0, "WATCHDOG=1");
}

/* Tell systemd the daemon is stopping. */
void vramd_notify_stopping(void)
{
  sd_notify(0, "STOPPING=1\nSTATUS=stopping: draining I/O, then freeing VRAM");
}
