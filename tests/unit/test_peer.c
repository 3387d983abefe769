/* test_peer.c: common/peer.c: who a connection's peer is, for the
 * per-peer caps of the API and NBD listeners, and how it is named. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"
#include "runner.h"

/* A sockaddr_storage holding an IPv4 address. */
static struct sockaddr_storage v4(const char *a)
{
  struct sockaddr_storage ss = { .ss_family = AF_INET };
  inet_pton(AF_INET, a, &((struct sockaddr_in *)&ss)->sin_addr);
  return ss;
}

/* A sockaddr_storage holding an IPv6 address. */
static struct sockaddr_storage v6(const char *a)
{
  struct sockaddr_storage ss = { .ss_family = AF_INET6 };
  inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)&ss)->sin6_addr);
  return ss;
}

/* A Unix socket's peer is its uid, from SO_PEERCRED. */
static void test_unix_uid(void)
{
  int sv[2];
  struct vd_peer p;
  char name[VD_PEER_NAME_MAX], want[32];

  CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  CU_ASSERT_EQUAL(vd_peer_of(sv[0], &p), 0);
  CU_ASSERT_EQUAL(p.kind, VD_PEER_UID);
  snprintf(want, sizeof want, "uid %u", (unsigned)getuid());
  CU_ASSERT_STRING_EQUAL(vd_peer_name(&p, name, sizeof name), want);
  CU_ASSERT_EQUAL(vd_peer_is_root(&p), getuid() == 0);
  close(sv[0]);
  close(sv[1]);
}

/* IPv4 by address; an IPv4-mapped IPv6 address is the IPv4 peer. */
static void test_ipv4(void)
{
  struct sockaddr_storage a = v4("192.0.2.7"), b = v6("::ffff:192.0.2.7"), c = v4("192.0.2.8");
  struct vd_peer pa, pb, pc;
  char name[VD_PEER_NAME_MAX];

  CU_ASSERT_EQUAL(vd_peer_from(-1, &a, &pa), 0);
  CU_ASSERT_EQUAL(vd_peer_from(-1, &b, &pb), 0);
  CU_ASSERT_EQUAL(vd_peer_from(-1, &c, &pc), 0);
  CU_ASSERT_EQUAL(pa.kind, VD_PEER_IPV4);
  CU_ASSERT(vd_peer_eq(&pa, &pb));
  CU_ASSERT(!vd_peer_eq(&pa, &pc));
  CU_ASSERT(!vd_peer_is_root(&pa));
  CU_ASSERT_STRING_EQUAL(vd_peer_name(&pb, name, sizeof name), "192.0.2.7");
}

/* IPv6 by /64: addresses in one /64 are one peer, the next /64 another. */
static void test_ipv6_prefix(void)
{
  struct sockaddr_storage a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff:ffff:ffff:ffff"),
                          c = v6("2001:db8:1:3::1"),
                          w = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  struct vd_peer pa, pb, pc, pw;
  char name[VD_PEER_NAME_MAX];

  CU_ASSERT_EQUAL(vd_peer_from(-1, &a, &pa), 0);
  CU_ASSERT_EQUAL(vd_peer_from(-1, &b, &pb), 0);
  CU_ASSERT_EQUAL(vd_peer_from(-1, &c, &pc), 0);
  CU_ASSERT_EQUAL(vd_peer_from(-1, &w, &pw), 0);
  CU_ASSERT_EQUAL(pa.kind, VD_PEER_IPV6);
  CU_ASSERT(vd_peer_eq(&pa, &pb));
  CU_ASSERT(!vd_peer_eq(&pa, &pc));
  CU_ASSERT_STRING_EQUAL(vd_peer_name(&pa, name, sizeof name), "2001:db8:1:2::/64");
  /* The longest name fits. */
  CU_ASSERT_STRING_EQUAL(vd_peer_name(&pw, name, sizeof name), "ffff:ffff:ffff:ffff::/64");
}

/* Other families are refused; an unknown peer is named as such. */
static void test_refusals(void)
{
  struct sockaddr_storage ss = { .ss_family = AF_PACKET };
  struct vd_peer p = { 0 };
  char name[VD_PEER_NAME_MAX];

  CU_ASSERT_EQUAL(vd_peer_from(-1, &ss, &p), -EAFNOSUPPORT);
  CU_ASSERT_EQUAL(vd_peer_of(-1, &p), -EBADF);
  CU_ASSERT_STRING_EQUAL(vd_peer_name(&p, name, sizeof name), "an unknown peer");
}

static const struct vd_test tests[] = {
  { "unix socket: the uid", test_unix_uid },
  { "IPv4, and IPv4-mapped IPv6", test_ipv4 },
  { "IPv6 by /64", test_ipv6_prefix },
  { "other families", test_refusals },
  { NULL, NULL },
};

VD_TEST_ONE_SUITE("peer", tests);
