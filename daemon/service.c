/* service.c: vramd as a system service: the listening sockets (made here
 * or passed by systemd) and sd_notify status, watchdog and stop. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "listen.h"
#include "service.h"
#include "vramd.h"

/* The API socket: 0660 and group vramd (docs/api.md). */
static const struct vd_listen api_listen = {
  .what = "api-socket", .backlog = 64, .mode = 0660, .group = "vramd",
};
static const struct vd_listen metrics_listen = { .what = "metrics-listen", .backlog = 16 };

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
  else if ((*api_fd = vd_listen_unix(d->cfg.api_socket, &api_listen, err, errlen)) < 0)
    goto out_metrics;
  else {
    d->api_socket_made = true;
    vd_info("api: listening on %s", d->cfg.api_socket);
  }
  if (*metrics_fd >= 0)
    vd_info("metrics on the TCP socket passed by systemd");
  else if (!strcmp(d->cfg.metrics_listen, "off") || !d->cfg.metrics_listen[0])
    vd_info("metrics: off on TCP (still at /metrics on the API socket)");
  else if ((*metrics_fd = vd_listen_tcp(d->cfg.metrics_listen, &metrics_listen, err, errlen)) < 0)
    goto out_api;
  else
    vd_info("metrics: listening on %s", d->cfg.metrics_listen);
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
