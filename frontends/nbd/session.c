/* session.c: the thread of each NBD session: set up after negotiation
 * (or straight away for a kernel-attached socket), then serve requests
 * until the peer leaves or the volume goes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "nbd-internal.h"
#include "util.h"
#include "volume.h"

/* Session thread: set the session up (admission, staging, attach) and
 * hand the negotiation back to the loop; then send the last reply and
 * serve.  A session that cannot start goes back to negotiating. */
static void *session_main(void *arg)
{
  struct nbd_neg *n = arg;
  struct nbd_conn *c = calloc(1, sizeof *c);
  struct nbd_xfer *x = NULL;
  uint8_t fin[NBD_NEG_FINAL_MAX];
  size_t flen = 0;
  int rc, fl;

  vd_thread_name("nbd-rx");
  rc = c ? nbd_neg_enter(n, c, &x, fin, &flen) : -ENOMEM;
  n->back(n, rc); /* n is the loop's again from here */
  if (rc) {
    free(c);
    return NULL;
  }
  fl = fcntl(c->fd, F_GETFL);
  if (fl < 0 || fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK) ||
      nbd_send_full(c->fd, c->tls, fin, flen))
    nbd_xfer_free(x);
  else
    nbd_xfer_run(x, c->v);
  nbd_conn_detach(c);
  free(c);
  return NULL;
}

/* A detached thread with a small stack: mlockall locks all of it.  The
 * loop passes its hand-back, so this file calls nothing of loop.c. */
int nbd_session_spawn(struct nbd_neg *n, void (*back)(struct nbd_neg *n, int rc))
{
  pthread_t t;
  int rc;

  n->back = back;
  rc = vd_thread_start(&t, 256 << 10, session_main, n);
  if (!rc)
    pthread_detach(t);
  return -rc;
}

/* Serve one already-connected socket for v, without a handshake. */
int vd_nbd_serve_transmission(const struct nbd_env *env, struct vd_volume *v, int fd)
{
  struct nbd_conn *c = calloc(1, sizeof *c);
  struct nbd_xfer *x;
  int rc;

  if (!c) {
    close(fd);
    return -ENOMEM;
  }
  c->fd = fd;
  c->kernel = true;
  rc = nbd_xfer_new(env, fd, NULL, &x);
  if (!rc) {
    vd_volume_get(v);
    rc = nbd_conn_attach(c, v); /* drops the reference on failure */
    if (rc)
      nbd_xfer_free(x);
  }
  if (rc) {
    close(fd);
    free(c);
    return rc;
  }
  nbd_xfer_run(x, v);
  nbd_conn_detach(c);
  free(c);
  return rc;
}
