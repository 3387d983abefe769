/* sock-bench.c: how fast one Unix stream socket moves large messages on
 * this host, with no NBD server and no storage behind it.  This is the
 * ceiling of any NBD server that a single-connection client (fio's nbd
 * engine, one libnbd handle) can observe, so bench/run.sh prints it next to
 * the single-connection NBD figures.
 *
 * Each connection is a socketpair: a sender thread writes bs-sized messages
 * from a fixed set of buffers (send(2), or vmsplice(2)+splice(2) so the
 * sender does not copy), a receiver process reads them into one buffer, as
 * a client reading replies does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MAX_CONNS 64
#define SEND_BUFS 32 /* distinct source buffers, so the sender is not all cache hits */

struct conn {
  int fd;            /* sender's end */
  bool splice;
  size_t bs;
  double seconds;
  unsigned long long sent;
  int err;
};

/* Seconds on the monotonic clock. */
static double now(void)
{
  return (double)vd_now_ns() / 1e9;
}

/* Write all of buf with send(2); 0 or errno. */
static int send_all(int fd, const char *buf, size_t len)
{
  while (len) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Hand buf's pages to the socket through a pipe, without copying them. */
static int splice_all(int fd, int pipe_r, int pipe_w, const char *buf, size_t len)
{
  while (len) {
    struct iovec iov = { (void *)buf, len };
    ssize_t n = vmsplice(pipe_w, &iov, 1, 0);
    if (n < 0) return errno;
    for (ssize_t moved = 0; moved < n;) {
      ssize_t k = splice(pipe_r, NULL, fd, NULL, (size_t)(n - moved), SPLICE_F_MOVE);
      if (k < 0) return errno;
      moved += k;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Sender thread: messages for c->seconds, then close the socket. */
static void *sender(void *arg)
{
  struct conn *c = arg;
  int p[2] = { -1, -1 };
  char *bufs = aligned_alloc(4096, c->bs * SEND_BUFS);
  if (!bufs) {
    c->err = ENOMEM;
    goto close_fd;
  }
  memset(bufs, 0x5a, c->bs * SEND_BUFS);
  if (c->splice) {
    if (pipe(p)) {
      c->err = errno;
      goto free_bufs;
    }
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20); /* best effort: fewer round trips */
  }
  double end = now() + c->seconds;
  for (unsigned i = 0; now() < end; i++) {
    const char *src = bufs + (i % SEND_BUFS) * c->bs;
    c->err = c->splice ? splice_all(c->fd, p[0], p[1], src, c->bs) : send_all(c->fd, src, c->bs);
    if (c->err) break;
    c->sent += c->bs;
  }
  if (c->splice) {
    close(p[0]);
    close(p[1]);
  }
free_bufs:
  free(bufs);
close_fd:
  close(c->fd);
  return NULL;
}

/* Receiver process: read messages until EOF into a ring of `ring`
 * bs-sized buffers.  One buffer stays in cache; a ring the size of a
 * server's staging does not, which is what a server receiving payloads
 * into staging pays. */
static void receiver(int fd, size_t bs, unsigned ring)
{
  char *buf = aligned_alloc(4096, bs * ring);
  if (!buf) _exit(1);
  memset(buf, 0, bs * ring);
  for (unsigned i = 0;; i = (i + 1) % ring) {
    ssize_t n = recv(fd, buf + (size_t)i * bs, bs, MSG_WAITALL);
    if (n == 0) _exit(0);
    if (n < 0 && errno != EINTR) _exit(1);
  }
}

int main(int argc, char **argv)
{
  static const struct option lo[] = {
    { "bs", required_argument, NULL, 'b' },
    { "seconds", required_argument, NULL, 's' },
    { "conns", required_argument, NULL, 'c' },
    { "splice", no_argument, NULL, 'p' },
    { "ring", required_argument, NULL, 'r' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  uint64_t bs = 1 << 20;
  double seconds = 3;
  unsigned conns = 1, ring = 1;
  bool use_splice = false;
  char err[256];
  int o;
  while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (o) {
    case 'b':
      if (vd_parse_size(optarg, &bs, err, sizeof err) || bs == 0 || bs > (256u << 20)) {
        fprintf(stderr, "sock-bench: --bs: 1 byte to 256M\n");
        return 2;
      }
      break;
    case 's': seconds = atof(optarg); break;
    case 'c': conns = (unsigned)atoi(optarg); break;
    case 'p': use_splice = true; break;
    case 'r': ring = (unsigned)atoi(optarg); break;
    default:
      fprintf(stderr, "Usage: sock-bench [--bs SIZE] [--seconds S] [--conns N] [--splice]"
                      " [--ring N]\n");
      return o == 'h' ? 0 : 2;
    }
  }
  if (conns < 1 || conns > MAX_CONNS || !(seconds > 0) || ring < 1 || ring > 1024) {
    fprintf(stderr, "sock-bench: --conns 1..%d, --ring 1..1024 and --seconds > 0\n", MAX_CONNS);
    return 2;
  }

  struct conn c[MAX_CONNS];
  pid_t pid[MAX_CONNS];
  pthread_t th[MAX_CONNS];
  for (unsigned i = 0; i < conns; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
      perror("sock-bench: socketpair");
      return 1;
    }
    pid[i] = fork();
    if (pid[i] < 0) {
      perror("sock-bench: fork");
      return 1;
    }
    if (pid[i] == 0) {
      close(sv[0]);
      receiver(sv[1], bs, ring);
    }
    close(sv[1]);
    c[i] = (struct conn){ .fd = sv[0], .splice = use_splice, .bs = bs, .seconds = seconds };
  }
  double t0 = now();
  for (unsigned i = 0; i < conns; i++) pthread_create(&th[i], NULL, sender, &c[i]);
  unsigned long long total = 0;
  int failed = 0;
  for (unsigned i = 0; i < conns; i++) {
    pthread_join(th[i], NULL);
    total += c[i].sent;
    if (c[i].err) {
      fprintf(stderr, "sock-bench: connection %u: %s\n", i, strerror(c[i].err));
      failed = 1;
    }
  }
  for (unsigned i = 0; i < conns; i++) {
    int st;
    if (waitpid(pid[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) failed = 1;
  }
  double t = now() - t0;
  char bss[32];
  vd_format_size(bs, bss, sizeof bss);
  printf("sock-bench: %s %s x%u conn, ring %u: %.2f GB/s\n", use_splice ? "splice" : "send", bss,
         conns, ring, (double)total / t / 1e9);
  return failed;
}
