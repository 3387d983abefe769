/* listen.h: the listening sockets of vramd (API, metrics, NBD): one Unix
 * and one TCP listener, so every socket behaves alike. */
#ifndef VRAMD_LISTEN_H
#define VRAMD_LISTEN_H

#include <stddef.h>
#include <sys/types.h>

/* How to listen, and the option name that error messages cite. */
struct vd_listen {
  const char *what;   /* "api-socket", "nbd-listen", ... */
  int backlog;
  mode_t mode;        /* Unix only: the socket file's mode */
  const char *group;  /* Unix only: its group when that exists, or NULL */
};

/* Listen on the Unix socket path: its folder made, a stale socket that
 * nothing answers on replaced, anything else in the way refused; mode and
 * group are set before listen(), so no client ever connects under others.
 * Returns the fd, or -errno with err saying what to do. */
int vd_listen_unix(const char *path, const struct vd_listen *o, char *err, size_t errlen);

/* Listen on TCP "HOST:PORT" or "[V6]:PORT"; "*" or "" as HOST means every
 * address (IPv6 and IPv4 on one socket where the host has IPv6).
 * Returns the fd, or -errno with err saying what to do. */
int vd_listen_tcp(const char *hostport, const struct vd_listen *o, char *err, size_t errlen);

/* Split "HOST:PORT" or "[V6]:PORT"; a "*" host becomes "".  0 or -EINVAL. */
int vd_split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen);

#endif
