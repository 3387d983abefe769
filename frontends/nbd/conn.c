/* conn.c: the transmission phase of one connection.
 *
 * The reader (the connection's own thread) parses requests, receives WRITE
 * payloads straight into pinned staging and submits them to the engine.
 * Completions run on engine threads and only queue the reply; the
 * connection's writer thread sends everything queued in one sendmsg.  So
 * an engine thread never waits on a socket, replies go out of order and in
 * batches, and the I/O path allocates nothing: slots and staging are set
 * up once per connection.  When the engine completes a request on the
 * reader itself (an idle device: the queue-depth-1 case) and no other
 * reply is queued or going out, the reader sends the reply at once,
 * without blocking; what does not fit in the socket goes to the writer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "nbd-internal.h"
#include "tls.h"
#include "util.h"
#include "volume.h"

struct nbd_slot {
  struct vd_io io;          /* io.priv points back here */
  struct nbd_xfer *x;
  struct nbd_slot *next;    /* free list or send queue */
  uint64_t t0;
  uint64_t bytes;           /* counted in the volume's stats */
  int chunk;                /* first staging chunk, -1 for none */
  unsigned nchunks;
  int op;                   /* enum vd_op, -1 when not accounted */
  uint8_t hdr[NBD_REPLY_SIZE];
  void *data;               /* reply payload (successful READ) */
  size_t data_len;
  size_t sent;              /* bytes of the reply already sent */
  bool alone;               /* no other request of the session in flight */
  bool acked;               /* answered before it landed (io_acked) */
};

struct nbd_xfer {
  const struct nbd_env *env;
  struct vd_volume *v;
  int fd;
  struct nbd_tls *tls;      /* NULL: plain socket calls, as before TLS */
  uint8_t *staging;         /* pinned, nbd-staging bytes */
  uint32_t max_payload;     /* largest READ or WRITE: fits in staging */
  pthread_t reader;         /* the thread in nbd_xfer_run */
  pthread_t writer;

  pthread_mutex_t lock;     /* slots and staging */
  pthread_cond_t slot_cv;
  struct nbd_slot *free;
  struct nbd_chunks chunks;
  unsigned inflight;

  pthread_mutex_t send_lock; /* send queue and the socket's write side */
  pthread_cond_t send_cv;
  struct nbd_slot *sq_head, *sq_tail;
  bool writer_waiting;
  bool sending;             /* a thread is writing to the socket */
  bool dead;                /* socket broken: replies are dropped */
  bool stop;

  struct nbd_slot slots[NBD_SLOTS];
  uint8_t scratch[64 << 10]; /* skipped payloads */
};

/* Sessions admitted (staging held or being allocated): bounds pinned
 * memory to nbd-max-sessions times nbd-staging, whatever clients do. */
static atomic_uint sessions;
/* Sessions whose staging is allocated: what is pinned now. */
static atomic_uint staged;

/* Take a slot with nchunks of staging (0: none), waiting for room. */
static struct nbd_slot *slot_get(struct nbd_xfer *x, unsigned nchunks)
{
  struct nbd_slot *s;
  int chunk = -1;

  pthread_mutex_lock(&x->lock);
  while (!x->free || (nchunks && (chunk = nbd_chunks_alloc(&x->chunks, nchunks)) < 0))
    pthread_cond_wait(&x->slot_cv, &x->lock);
  s = x->free;
  x->free = s->next;
  s->alone = ++x->inflight == 1;
  pthread_mutex_unlock(&x->lock);
  s->chunk = chunk;
  s->nchunks = nchunks;
  s->data = NULL;
  s->data_len = 0;
  s->sent = 0;
  s->next = NULL;
  return s;
}

/* Return a list of slots (linked by next) with one lock round. */
static void slots_release(struct nbd_xfer *x, struct nbd_slot *list)
{
  pthread_mutex_lock(&x->lock);
  while (list) {
    struct nbd_slot *s = list;
    list = s->next;
    if (s->chunk >= 0)
      nbd_chunks_free(&x->chunks, (unsigned)s->chunk, s->nchunks);
    s->chunk = -1;
    s->next = x->free;
    x->free = s;
    x->inflight--;
  }
  pthread_cond_broadcast(&x->slot_cv);
  pthread_mutex_unlock(&x->lock);
}

/* The TLS way: every reply of the list gathered into full records
 * (only the writer sends on a TLS session, so none was sent in part). */
static int send_replies_tls(struct nbd_xfer *x, struct nbd_slot *list)
{
  struct iovec iov[NBD_SEND_IOV];
  unsigned k = 0;
  int rc = 0;

  for (struct nbd_slot *t = list; !rc && t; t = t->next) {
    iov[k].iov_base = t->hdr;
    iov[k++].iov_len = NBD_REPLY_SIZE;
    if (t->data_len) {
      iov[k].iov_base = t->data;
      iov[k++].iov_len = t->data_len;
    }
    if (k + 2 > NBD_SEND_IOV || !t->next) {
      rc = nbd_tls_sendv(x->tls, iov, k);
      k = 0;
    }
  }
  return rc;
}

/* Send a list of replies with as few sendmsg calls as the iovec limit
 * allows: many small replies cost one system call.  The first may have
 * been sent in part already (its sent field).  Returns 0 or -errno. */
static int send_replies(struct nbd_xfer *x, struct nbd_slot *list)
{
  struct iovec iov[NBD_SEND_IOV];
  struct nbd_slot *s = list;
  size_t skip = list->sent; /* bytes of s already sent */

  while (s) {
    struct msghdr m = { .msg_iov = iov };
    struct nbd_slot *t = s;
    size_t off = skip;
    ssize_t n;
    unsigned k = 0;

    /* Fill the iovec from s onwards, starting skip bytes into s. */
    for (; t && k + 2 <= NBD_SEND_IOV; t = t->next, off = 0) {
      if (off < NBD_REPLY_SIZE) {
        iov[k].iov_base = t->hdr + off;
        iov[k++].iov_len = NBD_REPLY_SIZE - off;
        off = NBD_REPLY_SIZE;
      }
      if (t->data_len > off - NBD_REPLY_SIZE) {
        iov[k].iov_base = (uint8_t *)t->data + (off - NBD_REPLY_SIZE);
        iov[k++].iov_len = t->data_len - (off - NBD_REPLY_SIZE);
      }
    }
    m.msg_iovlen = k;
    n = sendmsg(x->fd, &m, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    /* Advance over what went out. */
    while (s && n > 0) {
      size_t left = NBD_REPLY_SIZE + s->data_len - skip;
      if ((size_t)n < left) {
        skip += (size_t)n;
        n = 0;
      } else {
        n -= (ssize_t)left;
        skip = 0;
        s = s->next;
      }
    }
  }
  return 0;
}

/* Return one slot and its staging; wakes a reader waiting for room. */
static void slot_release(struct nbd_slot *s)
{
  s->next = NULL;
  slots_release(s->x, s);
}

/* Queue a reply for the writer; wake it only if it sleeps, so a busy
 * writer costs the engine thread no system call. */
static void queue_reply(struct nbd_xfer *x, struct nbd_slot *s)
{
  s->next = NULL;
  pthread_mutex_lock(&x->send_lock);
  if (x->sq_tail)
    x->sq_tail->next = s;
  else
    x->sq_head = s;
  x->sq_tail = s;
  if (x->writer_waiting)
    pthread_cond_signal(&x->send_cv);
  pthread_mutex_unlock(&x->send_lock);
}

/* Writer thread: take every queued reply at once and send them together.
 * Engine threads never touch the socket, so a slow client or a large
 * READ reply never holds up a device's queue. */
static void *writer_main(void *arg)
{
  struct nbd_xfer *x = arg;

  vd_thread_name("nbd-tx");
  pthread_mutex_lock(&x->send_lock);
  for (;;) {
    struct nbd_slot *list;
    bool dead;
    /* The reader may be sending its own reply: never interleave. */
    while ((!x->sq_head || x->sending) && !x->stop) {
      x->writer_waiting = true;
      pthread_cond_wait(&x->send_cv, &x->send_lock);
      x->writer_waiting = false;
    }
    if (!x->sq_head)
      break;
    list = x->sq_head;
    x->sq_head = x->sq_tail = NULL;
    x->sending = true;
    dead = x->dead;
    pthread_mutex_unlock(&x->send_lock);
    if (!dead && (x->tls ? send_replies_tls(x, list) : send_replies(x, list))) {
      pthread_mutex_lock(&x->send_lock);
      x->dead = true; /* peer gone: later replies are dropped */
      pthread_mutex_unlock(&x->send_lock);
    }
    slots_release(x, list);
    pthread_mutex_lock(&x->send_lock);
    x->sending = false;
  }
  pthread_mutex_unlock(&x->send_lock);
  return NULL;
}

/* Send what the socket takes now of one reply, from its sent field on:
 * 0 when all of it is out, -EAGAIN when the socket is full, or -errno. */
static int send_now(struct nbd_xfer *x, struct nbd_slot *s)
{
  for (;;) {
    struct iovec iov[2];
    struct msghdr m = { .msg_iov = iov };
    size_t total = NBD_REPLY_SIZE + s->data_len;
    ssize_t n;

    if (s->sent == total)
      return 0;
    if (s->sent < NBD_REPLY_SIZE) {
      iov[m.msg_iovlen].iov_base = s->hdr + s->sent;
      iov[m.msg_iovlen++].iov_len = NBD_REPLY_SIZE - s->sent;
    }
    if (s->data_len) {
      size_t d = s->sent > NBD_REPLY_SIZE ? s->sent - NBD_REPLY_SIZE : 0;
      iov[m.msg_iovlen].iov_base = (uint8_t *)s->data + d;
      iov[m.msg_iovlen++].iov_len = s->data_len - d;
    }
    n = sendmsg(x->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    s->sent += (size_t)n;
  }
}

/* The reader's own reply: send it now if no other reply is queued or
 * going out (replies never interleave), without blocking; the rest, if
 * the socket is full, goes first in the writer's queue.  False when the
 * writer must take it. */
static bool reply_direct(struct nbd_xfer *x, struct nbd_slot *s)
{
  int rc;

  pthread_mutex_lock(&x->send_lock);
  if (x->sq_head || x->sending || x->dead) {
    pthread_mutex_unlock(&x->send_lock);
    return false;
  }
  x->sending = true;
  pthread_mutex_unlock(&x->send_lock);
  rc = send_now(x, s);
  pthread_mutex_lock(&x->send_lock);
  x->sending = false;
  if (rc && rc != -EAGAIN)
    x->dead = true; /* peer gone: later replies are dropped */
  if (rc == -EAGAIN) {
    s->next = x->sq_head;
    x->sq_head = s;
    if (!x->sq_tail)
      x->sq_tail = s;
  }
  if (x->sq_head && x->writer_waiting)
    pthread_cond_signal(&x->send_cv);
  pthread_mutex_unlock(&x->send_lock);
  if (rc != -EAGAIN)
    slot_release(s);
  return true;
}

/* Hand a finished reply on: sent by the reader when it finished the
 * request itself and may, else queued for the writer (always over TLS,
 * whose records cannot be sent in part without waiting). */
static void reply(struct nbd_xfer *x, struct nbd_slot *s)
{
  if (!x->tls && pthread_equal(pthread_self(), x->reader) && reply_direct(x, s))
    return;
  queue_reply(x, s);
}

/* A WRITE queued on its device (write-ack = queued): answer it now.
 * The reply releases the slot, but its staging stays untouched until
 * the write lands: only this thread, the reader, takes slots, and it is
 * inside the engine until then. */
static void io_acked(struct vd_io *io)
{
  struct nbd_slot *s = io->priv;
  struct nbd_xfer *x = s->x;

  s->acked = true;
  vd_volume_account(x->v, io->op, s->bytes, vd_now_ns() - s->t0, 0);
  reply(x, s);
}

/* Engine completion: account, build the reply, send it. */
static void io_done(struct vd_io *io, int err)
{
  struct nbd_slot *s = io->priv;
  struct nbd_xfer *x = s->x;

  if (s->acked) {
    /* Answered already; a failure failed the volume (engine.c). */
    s->acked = false;
    return;
  }
  vd_volume_account(x->v, io->op, s->bytes, vd_now_ns() - s->t0, err);
  nbd_put32(s->hdr + 4, nbd_errno(err));
  if (!err && io->op == VD_OP_READ) {
    s->data = io->buf;
    s->data_len = io->len;
  }
  reply(x, s);
}

/* Reply with an error to a request that never reaches the engine. */
static void reply_error(struct nbd_xfer *x, const struct nbd_request *r,
                        const struct nbd_verdict *vd, uint64_t t0)
{
  struct nbd_slot *s = slot_get(x, 0);
  bool known = r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE ||
               r->type == NBD_CMD_FLUSH || r->type == NBD_CMD_TRIM ||
               r->type == NBD_CMD_WRITE_ZEROES;
  if (known)
    vd_volume_account(x->v, (enum vd_op)vd->op, 0, vd_now_ns() - t0, 1);
  nbd_reply_encode(s->hdr, vd->error, r->cookie);
  reply(x, s);
}

/* True when the client waits for this request before sending another:
 * nothing else of the session is in flight and no further request is
 * waiting in the socket (nor decrypted by TLS).  Then the engine may
 * move it on this thread. */
static bool client_waits(const struct nbd_xfer *x, const struct nbd_slot *s)
{
  uint8_t c;
  return s->alone && (!x->tls || !nbd_tls_pending(x->tls)) &&
         recv(x->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

/* Receive a WRITE payload (if any) and submit one request. */
static int submit(struct nbd_xfer *x, const struct nbd_request *r,
                  const struct nbd_verdict *vd, uint64_t t0)
{
  bool data = vd->op == VD_OP_READ || vd->op == VD_OP_WRITE;
  struct nbd_slot *s = slot_get(x, data ? nbd_chunks_for(r->length) : 0);
  struct vd_io *io = &s->io;

  io->target = &x->v->target;
  io->op = (enum vd_op)vd->op;
  io->off = vd->op == VD_OP_FLUSH ? 0 : r->offset;
  io->len = vd->op == VD_OP_FLUSH ? 0 : r->length;
  io->buf = data ? x->staging + (size_t)s->chunk * NBD_CHUNK : NULL;
  io->done = io_done;
  io->priv = s;
  s->t0 = t0;
  s->bytes = io->len;
  nbd_reply_encode(s->hdr, 0, r->cookie);
  if (vd->op == VD_OP_WRITE) {
    int rc = nbd_recv_full(x->fd, x->tls, io->buf, r->length);
    if (rc) {
      slot_release(s);
      return rc;
    }
  }
  io->inline_ok = client_waits(x, s);
  io->acked = vd->op == VD_OP_WRITE && !(r->flags & NBD_CMD_FLAG_FUA) ? io_acked : NULL;
  s->acked = false;
  vd_engine_submit(x->env->host->eng, io);
  return 0;
}

/* Handle one request header; <0 ends the session. */
static int one_request(struct nbd_xfer *x)
{
  uint8_t b[NBD_REQUEST_SIZE];
  struct nbd_request r;
  struct nbd_verdict vd;
  uint64_t t0;
  int rc = nbd_recv_full(x->fd, x->tls, b, sizeof b);

  if (rc)
    return rc;
  t0 = vd_now_ns();
  nbd_request_decode(b, &r);
  nbd_request_check(&r, x->v->size, x->max_payload, &vd);
  switch (vd.action) {
  case NBD_ACT_IO:
    return submit(x, &r, &vd, t0);
  case NBD_ACT_ERROR:
    /* Skipping keeps the stream in step; a payload is at most 4 GiB. */
    rc = nbd_skip(x->fd, x->tls, vd.payload, x->scratch, sizeof x->scratch);
    if (rc)
      return rc;
    reply_error(x, &r, &vd, t0);
    return 0;
  case NBD_ACT_DISC:
    return -ECONNRESET;
  default:
    vd_warn_rl("nbd %s: bad request magic 0x%08x, closing", x->v->spec.name, r.magic);
    return -EPROTO;
  }
}

/* Allocate the per-connection state and pinned staging: 0, -EUSERS at
 * nbd-max-sessions, or -ENOMEM. */
int nbd_xfer_new(const struct nbd_env *env, int fd, struct nbd_tls *tls,
                 struct nbd_xfer **out)
{
  uint64_t staging = env->set.staging;
  struct nbd_xfer *x;
  char sz[32];
  int rc = -ENOMEM;

  *out = NULL;
  if (atomic_fetch_add(&sessions, 1) >= env->set.max_sessions) {
    vd_warn_rl("nbd: %u sessions already (nbd-max-sessions); refusing another",
               env->set.max_sessions);
    rc = -EUSERS;
    goto out_count;
  }
  x = calloc(1, sizeof *x);
  if (!x)
    goto out_count;
  x->env = env;
  x->fd = fd;
  x->tls = tls;
  x->staging = vd_engine_pinned_alloc(env->host->eng, staging);
  if (!x->staging) {
    static struct vd_ratelimit rl; /* clients can ask again and again */
    vd_log_rl(&rl, VD_LOG_ERR, "nbd: cannot allocate %s of pinned staging",
              vd_format_size(staging, sz, sizeof sz));
    goto out_free;
  }
  atomic_fetch_add(&staged, 1);
  x->max_payload = nbd_max_payload(staging);
  nbd_chunks_init(&x->chunks, (unsigned)(staging / NBD_CHUNK));
  pthread_mutex_init(&x->lock, NULL);
  pthread_cond_init(&x->slot_cv, NULL);
  pthread_mutex_init(&x->send_lock, NULL);
  pthread_cond_init(&x->send_cv, NULL);
  for (int i = NBD_SLOTS - 1; i >= 0; i--) {
    x->slots[i].x = x;
    x->slots[i].chunk = -1;
    x->slots[i].next = x->free;
    x->free = &x->slots[i];
  }
  *out = x;
  return 0;

out_free:
  free(x);
out_count:
  atomic_fetch_sub(&sessions, 1);
  return rc;
}

/* Release what nbd_xfer_new set up. */
void nbd_xfer_free(struct nbd_xfer *x)
{
  if (!x)
    return;
  pthread_cond_destroy(&x->send_cv);
  pthread_mutex_destroy(&x->send_lock);
  pthread_cond_destroy(&x->slot_cv);
  pthread_mutex_destroy(&x->lock);
  vd_engine_pinned_free(x->env->host->eng, x->staging);
  free(x);
  atomic_fetch_sub(&staged, 1);
  atomic_fetch_sub(&sessions, 1);
}

/* Sessions holding staging now. */
unsigned nbd_sessions_staged(void)
{
  return atomic_load(&staged);
}

/* Start the writer with a small stack: connections can be many. */
static int start_writer(struct nbd_xfer *x)
{
  return -vd_thread_start(&x->writer, 256 << 10, writer_main, x);
}

/* Serve until the client leaves, then drain in-flight requests. */
void nbd_xfer_run(struct nbd_xfer *x, struct vd_volume *v)
{
  int rc;

  x->v = v;
  x->reader = pthread_self();
  if (start_writer(x)) {
    vd_warn_rl("nbd %s: cannot start a writer thread", v->spec.name);
    goto out_free;
  }
  while ((rc = one_request(x)) == 0)
    ;
  /* A soft disconnect (or EOF) lets in-flight replies go out; anything
   * else means the peer is gone or broken: stop sending at once. */
  if (rc != -ECONNRESET && rc != -EPIPE)
    shutdown(x->fd, SHUT_RDWR);
  vd_debug("nbd %s: connection ends (%s)", v->spec.name, strerror(-rc));
  pthread_mutex_lock(&x->lock);
  while (x->inflight)
    pthread_cond_wait(&x->slot_cv, &x->lock);
  pthread_mutex_unlock(&x->lock);
  pthread_mutex_lock(&x->send_lock);
  x->stop = true;
  pthread_cond_signal(&x->send_cv);
  pthread_mutex_unlock(&x->send_lock);
  pthread_join(x->writer, NULL);
  if (x->tls && rc == -ECONNRESET)
    nbd_tls_bye(x->tls); /* NBD_CMD_DISC, and every reply is out */
out_free:
  nbd_xfer_free(x);
}
