/* peer.c: a connection's peer as the listeners count and name it. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "peer.h"

/* Build p from fd and its peer address ss. */
int vd_peer_from(int fd, const struct sockaddr_storage *ss, struct vd_peer *p)
{
  memset(p, 0, sizeof *p);
  if (ss->ss_family == AF_UNIX) {
    struct ucred cr;
    int rc = vd_peer_cred(fd, &cr);
    if (rc)
      return rc;
    p->kind = VD_PEER_UID;
    memcpy(p->b, &cr.uid, sizeof cr.uid);
  } else if (ss->ss_family == AF_INET) {
    p->kind = VD_PEER_IPV4;
    memcpy(p->b, &((const struct sockaddr_in *)ss)->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    bool v4 = IN6_IS_ADDR_V4MAPPED(a);
    p->kind = v4 ? VD_PEER_IPV4 : VD_PEER_IPV6;
    memcpy(p->b, a->s6_addr + (v4 ? 12 : 0), v4 ? 4 : 8);
  } else {
    return -EAFNOSUPPORT;
  }
  return 0;
}

/* Build p from fd, asking it for the peer's address. */
int vd_peer_of(int fd, struct vd_peer *p)
{
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;

  memset(&ss, 0, sizeof ss);
  if (getpeername(fd, (struct sockaddr *)&ss, &sl)) {
    memset(p, 0, sizeof *p);
    return -errno;
  }
  return vd_peer_from(fd, &ss, p);
}

/* Same kind and same bytes. */
bool vd_peer_eq(const struct vd_peer *a, const struct vd_peer *b)
{
  return a->kind == b->kind && !memcmp(a->b, b->b, sizeof a->b);
}

/* Root on a Unix socket. */
bool vd_peer_is_root(const struct vd_peer *p)
{
  uint32_t uid;
  memcpy(&uid, p->b, sizeof uid);
  return p->kind == VD_PEER_UID && uid == 0;
}

/* Name p for a log line or an answer. */
const char *vd_peer_name(const struct vd_peer *p, char *buf, size_t len)
{
  uint8_t a6[16] = { 0 };
  uint32_t uid;

  switch (p->kind) {
  case VD_PEER_UID:
    memcpy(&uid, p->b, sizeof uid);
    snprintf(buf, len, "uid %u", uid);
    break;
  case VD_PEER_IPV4:
    inet_ntop(AF_INET, p->b, buf, (socklen_t)len);
    break;
  case VD_PEER_IPV6:
    memcpy(a6, p->b, 8);
    inet_ntop(AF_INET6, a6, buf, (socklen_t)len);
    strncat(buf, "/64", len - strlen(buf) - 1);
    break;
  default:
    snprintf(buf, len, "an unknown peer");
  }
  return buf;
}

/* SO_PEERCRED: the pid and uid of the process that connected. */
int vd_peer_cred(int fd, struct ucred *cr)
{
  socklen_t l = sizeof *cr;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &l) ? -errno : 0;
}

/* "192.0.2.7:40000" or "[2001:db8::1]:40000" for a TCP peer. */
int vd_peer_address(int fd, char *buf, size_t len)
{
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char a[INET6_ADDRSTRLEN];
  const void *addr;
  unsigned port;

  if (getpeername(fd, (struct sockaddr *)&ss, &sl))
    return -errno;
  if (ss.ss_family == AF_INET) {
    addr = &((const struct sockaddr_in *)&ss)->sin_addr;
    port = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    addr = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
    port = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
  } else {
    return -EAFNOSUPPORT;
  }
  inet_ntop(ss.ss_family, addr, a, sizeof a);
  snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
  return 0;
}
