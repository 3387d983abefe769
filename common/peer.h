/* peer.h: who is on the other end of a connection, for the per-peer caps
 * of every listener (API, metrics, NBD) and their log lines: the uid on a
 * Unix socket (SO_PEERCRED), the address on TCP, an IPv6 address's /64
 * (one host gets a whole /64, so single addresses would be free to an
 * attacker), and an IPv4-mapped IPv6 address as the IPv4 one. */
#ifndef VRAMD_PEER_H
#define VRAMD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum vd_peer_kind { VD_PEER_UID = 1, VD_PEER_IPV4, VD_PEER_IPV6 };

struct vd_peer {
  uint8_t kind;     /* enum vd_peer_kind */
  uint8_t b[8];     /* uid, IPv4 address or IPv6 /64 prefix */
};

/* Longest vd_peer_name, with its NUL. */
#define VD_PEER_NAME_MAX 56

/* The peer of fd, whose address (from accept or getpeername) is ss;
 * -errno when SO_PEERCRED fails, -EAFNOSUPPORT for another family. */
int vd_peer_from(int fd, const struct sockaddr_storage *ss, struct vd_peer *p);
/* The same, asking the socket for its peer's address. */
int vd_peer_of(int fd, struct vd_peer *p);
/* Same peer? */
bool vd_peer_eq(const struct vd_peer *a, const struct vd_peer *b);
/* True for uid 0 on a Unix socket. */
bool vd_peer_is_root(const struct vd_peer *p);
/* "uid 1000", "192.0.2.7" or "2001:db8:1:2::/64", in buf. */
const char *vd_peer_name(const struct vd_peer *p, char *buf, size_t len);

/* The pid and uid of a Unix socket's peer (SO_PEERCRED): 0 or -errno. */
struct ucred;
int vd_peer_cred(int fd, struct ucred *cr);
/* A TCP peer's address and port, "192.0.2.7:40000" or "[2001:db8::1]:40000",
 * in buf: 0, or -EAFNOSUPPORT for a Unix socket, or -errno. */
int vd_peer_address(int fd, char *buf, size_t len);

#endif
