/* io.c: blocking whole-buffer socket reads and writes for the NBD server. */
#include <errno.h>
#include <sys/socket.h>

#include "nbd-internal.h"
#include "tls.h"

/* Move exactly len bytes in one direction; a peer that closes early on a
 * read gives -EPIPE, and writes never raise SIGPIPE. */
static int full(int fd, char *p, size_t len, bool rx)
{
  while (len) {
    ssize_t n = rx ? recv(fd, p, len, MSG_WAITALL) : send(fd, p, len, MSG_NOSIGNAL);
    if (n == 0 && rx)
      return -EPIPE;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Read exactly len bytes. */
int nbd_recv_full(int fd, struct nbd_tls *tls, void *buf, size_t len)
{
  return tls ? nbd_tls_recv_full(tls, buf, len) : full(fd, buf, len, true);
}

/* Write exactly len bytes. */
int nbd_send_full(int fd, struct nbd_tls *tls, const void *buf, size_t len)
{
  return tls ? nbd_tls_send_full(tls, buf, len) : full(fd, (char *)buf, len, false);
}

/* Consume bytes we will not use, keeping the stream in step. */
int nbd_skip(int fd, struct nbd_tls *tls, uint64_t len, void *scratch, size_t scratch_len)
{
  while (len) {
    size_t n = len < scratch_len ? (size_t)len : scratch_len;
    int rc = nbd_recv_full(fd, tls, scratch, n);
    if (rc)
      return rc;
    len -= n;
  }
  return 0;
}
