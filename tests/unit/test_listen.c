/* test_listen.c: common/listen.c, the one listener code: what a stale,
 * live or foreign path gets, the socket file's mode and group, and
 * HOST:PORT forms including "*" for every address. */
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "runner.h"

static char dir[64], path[128], err[256];

/* A private folder for the socket files. */
static int make_dir(void)
{
  snprintf(dir, sizeof dir, "/tmp/vd-listen-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(path, sizeof path, "%s/a/b/test.sock", dir);
  return 0;
}

/* Remove the socket file and its folders. */
static int remove_dir(void)
{
  char p[160];
  unlink(path);
  snprintf(p, sizeof p, "%s/a/b", dir);
  rmdir(p);
  snprintf(p, sizeof p, "%s/a", dir);
  rmdir(p);
  return rmdir(dir);
}

/* True when a client can connect to path. */
static bool answers(const char *p)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd = socket(AF_UNIX, SOCK_STREAM, 0), rc;
  if (strlen(p) >= sizeof sa.sun_path)
    return false;
  memcpy(sa.sun_path, p, strlen(p) + 1);
  rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  close(fd);
  return rc == 0;
}

/* The folders are made; mode and group are the ones asked for. */
static void test_unix_fresh(void)
{
  struct group *g = getgrgid(getegid());
  struct vd_listen o = { .what = "test-socket", .backlog = 4, .mode = 0640,
                         .group = g ? g->gr_name : NULL };
  struct stat st;
  int fd = vd_listen_unix(path, &o, err, sizeof err);

  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_FATAL(lstat(path, &st) == 0);
  CU_ASSERT(S_ISSOCK(st.st_mode));
  CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
  CU_ASSERT_EQUAL(st.st_gid, getegid());
  CU_ASSERT(answers(path));
  close(fd);
  unlink(path);
}

/* A live socket is left alone; a stale one is replaced. */
static void test_unix_live_and_stale(void)
{
  struct vd_listen o = { .what = "test-socket", .backlog = 4, .mode = 0600 };
  int fd = vd_listen_unix(path, &o, err, sizeof err), fd2;

  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL(vd_listen_unix(path, &o, err, sizeof err), -EADDRINUSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "another server answers"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "--test-socket"));
  CU_ASSERT(answers(path)); /* still the first one's */
  close(fd);
  CU_ASSERT(!answers(path)); /* stale: the file stays, nobody answers */
  fd2 = vd_listen_unix(path, &o, err, sizeof err);
  CU_ASSERT_FATAL(fd2 >= 0);
  CU_ASSERT(answers(path));
  close(fd2);
  unlink(path);
}

/* Something that is not a socket is never removed. */
static void test_unix_not_a_socket(void)
{
  struct vd_listen o = { .what = "test-socket", .backlog = 4, .mode = 0600 };
  FILE *f = fopen(path, "w");
  struct stat st;

  CU_ASSERT_FATAL(f != NULL);
  fputs("keep me\n", f);
  fclose(f);
  CU_ASSERT_EQUAL(vd_listen_unix(path, &o, err, sizeof err), -EEXIST);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not a socket"));
  CU_ASSERT(lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 8);
  unlink(path);
}

/* A path past sun_path is refused with the limit. */
static void test_unix_too_long(void)
{
  struct vd_listen o = { .what = "test-socket", .backlog = 4, .mode = 0600 };
  char p[200];
  memset(p, 'x', sizeof p - 1);
  p[0] = '/';
  p[sizeof p - 1] = '\0';
  CU_ASSERT_EQUAL(vd_listen_unix(p, &o, err, sizeof err), -ENAMETOOLONG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "at most 107"));
}

/* HOST:PORT forms. */
static void test_split(void)
{
  char h[64], p[16];
  CU_ASSERT(vd_split_hostport("127.0.0.1:80", h, sizeof h, p, sizeof p) == 0 &&
            !strcmp(h, "127.0.0.1") && !strcmp(p, "80"));
  CU_ASSERT(vd_split_hostport("[::1]:9", h, sizeof h, p, sizeof p) == 0 &&
            !strcmp(h, "::1") && !strcmp(p, "9"));
  CU_ASSERT(vd_split_hostport("*:10809", h, sizeof h, p, sizeof p) == 0 && !h[0]);
  CU_ASSERT(vd_split_hostport(":10809", h, sizeof h, p, sizeof p) == 0 && !h[0]);
  CU_ASSERT_EQUAL(vd_split_hostport("localhost", h, sizeof h, p, sizeof p), -EINVAL);
  CU_ASSERT_EQUAL(vd_split_hostport("localhost:", h, sizeof h, p, sizeof p), -EINVAL);
  CU_ASSERT_EQUAL(vd_split_hostport("h:12345678901234567", h, sizeof h, p, sizeof p), -EINVAL);
}

/* The family and port a TCP listener is bound to. */
static int bound(int fd, struct sockaddr_storage *ss)
{
  socklen_t l = sizeof *ss;
  return getsockname(fd, (struct sockaddr *)ss, &l);
}

/* A named address binds there; "*" binds every address. */
static void test_tcp(void)
{
  struct vd_listen o = { .what = "test-listen", .backlog = 4 };
  struct sockaddr_storage ss;
  int fd, v6only = 1;
  socklen_t l = sizeof v6only;

  fd = vd_listen_tcp("127.0.0.1:0", &o, err, sizeof err);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT(bound(fd, &ss) == 0 && ss.ss_family == AF_INET &&
            ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  close(fd);
  fd = vd_listen_tcp("*:0", &o, err, sizeof err);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_FATAL(bound(fd, &ss) == 0);
  if (ss.ss_family == AF_INET6) {
    CU_ASSERT(IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr));
    CU_ASSERT(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &l) == 0 && v6only == 0);
  } else {
    CU_ASSERT(ss.ss_family == AF_INET &&
              ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY));
  }
  close(fd);
  CU_ASSERT_EQUAL(vd_listen_tcp("nocolon", &o, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "test-listen 'nocolon' is not HOST:PORT"));
  CU_ASSERT_EQUAL(vd_listen_tcp("no.such.host.invalid:1", &o, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "test-listen 'no.such.host.invalid:1': "));
}

/* A port that is taken is an error that names it. */
static void test_tcp_taken(void)
{
  struct vd_listen o = { .what = "test-listen", .backlog = 4 };
  struct sockaddr_storage ss;
  char spec[32];
  int fd = vd_listen_tcp("127.0.0.1:0", &o, err, sizeof err);

  CU_ASSERT_FATAL(fd >= 0 && bound(fd, &ss) == 0);
  snprintf(spec, sizeof spec, "127.0.0.1:%u", ntohs(((struct sockaddr_in *)&ss)->sin_port));
  CU_ASSERT_EQUAL(vd_listen_tcp(spec, &o, err, sizeof err), -EADDRINUSE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot listen on 127.0.0.1:"));
  close(fd);
}

static const struct vd_test unix_tests[] = {
  { "a new socket: folders, mode and group", test_unix_fresh },
  { "a live socket is kept, a stale one replaced", test_unix_live_and_stale },
  { "a file that is not a socket is refused and kept", test_unix_not_a_socket },
  { "a path too long", test_unix_too_long },
  { NULL, NULL },
};

static const struct vd_test tcp_tests[] = {
  { "HOST:PORT forms", test_split },
  { "named and every address", test_tcp },
  { "a port in use", test_tcp_taken },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "unix listener", .tests = { unix_tests }, .init = make_dir, .fini = remove_dir },
  { .name = "tcp listener", .tests = { tcp_tests } },
  { .name = NULL },
};

VD_TEST_PROGRAM(suites, NULL, NULL);
