/* queue.c: the data plane of a ublk queue.  Each queue has a thread and
 * an io_uring; every tag owns a slice of pinned staging memory, so the
 * kernel copies request data straight into memory the GPU can DMA from.
 * Requests go to the engine asynchronously; engine threads push finished
 * tags on a lock-free list and kick an eventfd the queue ring polls.
 * Nothing on the I/O path allocates. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ublk-internal.h"

#define EFD_DATA UINT64_MAX        /* user_data of the eventfd poll */
#define QUEUE_STACK (256u << 10)   /* queue threads need little stack */

/* A free SQE of a queue's ring, submitting what is queued if full. */
static struct io_uring_sqe *queue_sqe(struct ublk_queue *q)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
  if (!sqe) {
    io_uring_submit(&q->ring);
    sqe = io_uring_get_sqe(&q->ring);
  }
  return sqe;
}

/* Queue an I/O command (FETCH or COMMIT_AND_FETCH) for a tag. */
static int queue_io_cmd(struct ublk_queue *q, struct ublk_tag *t, bool commit)
{
  struct ublksrv_io_cmd c = {
    .q_id = (uint16_t)q->id, .tag = t->tag, .result = t->result,
    .addr = (uintptr_t)(q->bufs + (size_t)t->tag * VD_UBLK_IO_BYTES),
  };
  struct io_uring_sqe *sqe = queue_sqe(q);

  if (!sqe)
    return -EBUSY;
  memset(sqe, 0, 2 * sizeof *sqe);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = q->dev->cdev_fd;
  if (q->dev->fe->ctrl.encoded)
    sqe->cmd_op = commit ? UBLK_U_IO_COMMIT_AND_FETCH_REQ : UBLK_U_IO_FETCH_REQ;
  else
    sqe->cmd_op = commit ? UBLK_IO_COMMIT_AND_FETCH_REQ : UBLK_IO_FETCH_REQ;
  ublk_sqe_set_cmd(sqe, &c, sizeof c);
  io_uring_sqe_set_data64(sqe, t->tag);
  t->live = true;
  return 0;
}

/* Arm a one-shot poll on the completion eventfd. */
static int queue_efd_poll(struct ublk_queue *q)
{
  struct io_uring_sqe *sqe = queue_sqe(q);
  if (!sqe)
    return -EBUSY;
  io_uring_prep_poll_add(sqe, q->efd, POLLIN);
  io_uring_sqe_set_data64(sqe, EFD_DATA);
  return 0;
}

/* Engine completion (an engine thread): hand the tag back to its queue. */
static void tag_done(struct vd_io *io, int err)
{
  struct ublk_tag *t = io->priv;
  struct ublk_queue *q = t->q;
  struct ublk_tag *old = atomic_load_explicit(&q->done_head, memory_order_relaxed);
  uint64_t one = 1;

  t->result = err ? err : (int)io->len;
  do
    t->next_done = old;
  while (!atomic_compare_exchange_weak_explicit(&q->done_head, &old, t,
                                                memory_order_release,
                                                memory_order_relaxed));
  if (write(q->efd, &one, sizeof one) < 0)
    vd_err("ublk: cannot wake queue %u: %s", q->id, strerror(errno));
}

/* Map a ublk op onto the engine; false when the op is not supported. */
static bool map_op(uint8_t uop, enum vd_op *op)
{
  switch (uop) {
  case UBLK_IO_OP_READ: *op = VD_OP_READ; return true;
  case UBLK_IO_OP_WRITE: *op = VD_OP_WRITE; return true;
  case UBLK_IO_OP_FLUSH: *op = VD_OP_FLUSH; return true;
  case UBLK_IO_OP_DISCARD:
  case UBLK_IO_OP_WRITE_ZEROES: *op = VD_OP_ZERO; return true;
  default: return false;
  }
}

/* A request arrived for tag t: start it on the engine.  last: no other
 * completion is waiting in the ring, so with no tag in the engine this
 * thread has nothing else to do and the engine may move it inline. */
static void handle_request(struct ublk_queue *q, struct ublk_tag *t, bool last)
{
  const struct ublksrv_io_desc *iod = &q->iods[t->tag];
  struct vd_volume *v = q->dev->v;
  uint8_t uop = (uint8_t)(iod->op_flags & 0xff);
  enum vd_op op;

  t->t0_ns = vd_now_ns();
  if (!map_op(uop, &op)) {
    t->result = -EOPNOTSUPP;
    queue_io_cmd(q, t, true);
    return;
  }
  t->io.target = &v->target;
  t->io.op = op;
  t->io.off = iod->start_sector << 9;
  t->io.len = op == VD_OP_FLUSH ? 0 : (uint64_t)iod->nr_sectors << 9;
  t->io.buf = q->bufs + (size_t)t->tag * VD_UBLK_IO_BYTES;
  if ((op == VD_OP_READ || op == VD_OP_WRITE) && t->io.len > VD_UBLK_IO_BYTES) {
    t->result = -EINVAL;
    queue_io_cmd(q, t, true);
    return;
  }
  t->io.inline_ok = last && q->in_engine == 0;
  q->in_engine++;
  vd_engine_submit(q->dev->eng, &t->io);
}

/* Commit every tag the engine finished since the last look. */
static void drain_done(struct ublk_queue *q)
{
  uint64_t end = vd_now_ns(), junk;
  struct ublk_tag *t;

  /* Reset the eventfd before taking the list: a tag pushed after the
   * exchange then always leaves the eventfd readable for the next poll. */
  if (read(q->efd, &junk, sizeof junk) < 0 && errno != EAGAIN)
    vd_err("ublk: queue %u eventfd: %s", q->id, strerror(errno));
  t = atomic_exchange_explicit(&q->done_head, NULL, memory_order_acquire);
  for (; t; t = t->next_done) {
    q->in_engine--;
    vd_volume_account(q->dev->v, t->io.op, t->io.len, end - t->t0_ns,
                      t->result < 0 ? t->result : 0);
    if (atomic_load(&q->stopping)) {
      t->live = false;
      continue;
    }
    queue_io_cmd(q, t, true);
  }
}

/* Tell the adding thread whether the queue's fetches are in. */
static void queue_ready(struct ublk_queue *q, int err)
{
  pthread_mutex_lock(&q->lock);
  q->ready = true;
  q->ready_err = err;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->lock);
}

/* Count tags whose commands are still with the kernel. */
static unsigned live_tags(const struct ublk_queue *q)
{
  unsigned n = 0;
  for (unsigned i = 0; i < VD_UBLK_QUEUE_DEPTH; i++)
    n += q->tags[i].live;
  return n;
}

/* Queue thread: fetch requests, run them, commit results, until the
 * kernel aborts every tag (STOP_DEV) or the device is torn down. */
static void *queue_main(void *arg)
{
  struct ublk_queue *q = arg;
  int rc = 0;

  vd_thread_name("ublk-q%u", q->id);

  for (unsigned i = 0; i < VD_UBLK_QUEUE_DEPTH && !rc; i++)
    rc = queue_io_cmd(q, &q->tags[i], false);
  if (!rc)
    rc = queue_efd_poll(q);
  if (!rc) {
    rc = io_uring_submit(&q->ring);
    rc = rc < 0 ? rc : 0;
  }
  queue_ready(q, rc);
  if (rc)
    return NULL;

  for (;;) {
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0, ready;

    if (q->in_engine == 0 && (atomic_load(&q->stopping) || live_tags(q) == 0))
      break;
    rc = io_uring_submit_and_wait(&q->ring, 1);
    if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
      vd_err("ublk: queue %u of /dev/ublkb%d: %s", q->id, q->dev->id, strerror(-rc));
      atomic_store(&q->stopping, true);
      continue;
    }
    ready = io_uring_cq_ready(&q->ring);
    io_uring_for_each_cqe(&q->ring, head, cqe) {
      uint64_t ud = io_uring_cqe_get_data64(cqe);
      seen++;
      if (ud == EFD_DATA) {
        drain_done(q);
        queue_efd_poll(q);
        continue;
      }
      if (ud >= VD_UBLK_QUEUE_DEPTH)
        continue;
      struct ublk_tag *t = &q->tags[ud];
      t->live = false;
      if (cqe->res == UBLK_IO_RES_OK && !atomic_load(&q->stopping))
        handle_request(q, t, seen == ready);
      else if (cqe->res != UBLK_IO_RES_ABORT && cqe->res != UBLK_IO_RES_OK)
        vd_debug("ublk: queue %u tag %u: %s", q->id, t->tag, strerror(-cqe->res));
    }
    io_uring_cq_advance(&q->ring, seen);
  }
  return NULL;
}

/* Tear a queue down after its thread ended. */
void ublk_queue_free(struct ublk_queue *q)
{
  if (q->ring_ok)
    io_uring_queue_exit(&q->ring);
  q->ring_ok = false;
  if (q->iods)
    munmap((void *)q->iods, q->iods_len);
  q->iods = NULL;
  if (q->efd >= 0)
    close(q->efd);
  q->efd = -1;
  if (q->bufs) {
    vd_engine_pinned_free(q->dev->eng, q->bufs);
    atomic_fetch_sub(&q->dev->fe->queues_staged, 1);
  }
  q->bufs = NULL;
  free(q->tags);
  q->tags = NULL;
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->lock);
}

/* Wait for a queue thread to end; after wait_s seconds (at once when 0)
 * tell it to stop without waiting for the kernel's aborts. */
void ublk_queue_join(struct ublk_queue *q, unsigned wait_s)
{
  uint64_t one = 1;
  struct timespec until;

  if (!q->started)
    return;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += wait_s;
  if (!wait_s || pthread_timedjoin_np(q->thread, NULL, &until) != 0) {
    if (wait_s)
      vd_warn("ublk: queue %u of /dev/ublkb%d did not end: stopping it", q->id,
              q->dev->id);
    atomic_store(&q->stopping, true);
    if (write(q->efd, &one, sizeof one) < 0)
      vd_err("ublk: cannot wake queue %u: %s", q->id, strerror(errno));
    pthread_join(q->thread, NULL);
  }
  q->started = false;
}

/* Prepare one queue: staging memory, descriptors, ring, eventfd, thread. */
int ublk_queue_setup(struct ublk_dev *u, unsigned id, char *err, size_t errlen)
{
  struct ublk_queue *q = &u->q[id];
  long page = sysconf(_SC_PAGESIZE);
  size_t iod_bytes = VD_UBLK_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc);
  size_t stride = (UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc) + page - 1) / page * page;
  void *map;
  int rc;

  q->dev = u;
  q->id = id;
  q->efd = -1;
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->cv, NULL);
  q->tags = calloc(VD_UBLK_QUEUE_DEPTH, sizeof *q->tags);
  q->bufs = vd_engine_pinned_alloc(u->eng, (size_t)VD_UBLK_QUEUE_DEPTH * VD_UBLK_IO_BYTES);
  if (q->bufs)
    atomic_fetch_add(&u->fe->queues_staged, 1);
  if (!q->tags || !q->bufs) {
    snprintf(err, errlen, "ublk: cannot allocate %u MiB of pinned staging memory "
             "for queue %u", VD_UBLK_QUEUE_DEPTH * VD_UBLK_IO_BYTES >> 20, id);
    return -ENOMEM;
  }
  for (unsigned i = 0; i < VD_UBLK_QUEUE_DEPTH; i++) {
    q->tags[i].q = q;
    q->tags[i].tag = (uint16_t)i;
    q->tags[i].io.done = tag_done;
    q->tags[i].io.priv = &q->tags[i];
  }
  q->iods_len = (iod_bytes + page - 1) / page * page;
  map = mmap(NULL, q->iods_len, PROT_READ, MAP_SHARED | MAP_POPULATE, u->cdev_fd,
             UBLKSRV_CMD_BUF_OFFSET + (off_t)id * (off_t)stride);
  if (map == MAP_FAILED) {
    snprintf(err, errlen, "ublk: cannot map the descriptors of queue %u: %s", id,
             strerror(errno));
    return -errno;
  }
  q->iods = map;
  rc = io_uring_queue_init(VD_UBLK_QUEUE_DEPTH + 4, &q->ring, IORING_SETUP_SQE128);
  if (rc) {
    snprintf(err, errlen, "ublk: io_uring for queue %u: %s", id, strerror(-rc));
    return rc;
  }
  q->ring_ok = true;
  q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (q->efd < 0) {
    snprintf(err, errlen, "ublk: eventfd: %s", strerror(errno));
    return -errno;
  }
  rc = vd_thread_start(&q->thread, QUEUE_STACK, queue_main, q);
  if (rc) {
    snprintf(err, errlen, "ublk: cannot start the thread of queue %u: %s", id, strerror(rc));
    return -rc;
  }
  q->started = true;
  pthread_mutex_lock(&q->lock);
  while (!q->ready)
    pthread_cond_wait(&q->cv, &q->lock);
  rc = q->ready_err;
  pthread_mutex_unlock(&q->lock);
  if (rc) {
    snprintf(err, errlen, "ublk: queue %u could not fetch requests: %s", id, strerror(-rc));
    pthread_join(q->thread, NULL);
    q->started = false;
  }
  return rc;
}
