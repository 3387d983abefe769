/* ublk.c: volumes as /dev/ublkbN through the kernel's ublk driver.
 *
 * Control commands go to /dev/ublk-control as io_uring URING_CMDs (SQE128).
 * Each device gets one thread and ring per queue; every tag owns a slice of
 * pinned staging memory, so the kernel copies request data straight into
 * memory the GPU can DMA from.  Requests go to the engine asynchronously;
 * engine threads push finished tags on a lock-free list and kick an eventfd
 * the queue ring polls.  Nothing on the I/O path allocates.  There is no
 * recovery mode: the data lives in VRAM and dies with the process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <linux/ublk_cmd.h>

#include "ublk.h"

/* Debian 12's headers predate these; values are the kernel's ABI. */
#ifndef UBLK_F_UNPRIVILEGED_DEV
#define UBLK_F_UNPRIVILEGED_DEV (1ULL << 5)
#endif
#ifndef UBLK_F_CMD_IOCTL_ENCODE
#define UBLK_F_CMD_IOCTL_ENCODE (1ULL << 6)
#endif
#ifndef UBLK_CMD_GET_FEATURES
#define UBLK_CMD_GET_FEATURES 0x13
#endif
#ifndef UBLK_CMD_DEL_DEV_ASYNC
#define UBLK_CMD_DEL_DEV_ASYNC 0x14
#endif
#ifndef UBLK_U_CMD_ADD_DEV
#define UBLK_U_CMD_GET_DEV_INFO _IOR('u', UBLK_CMD_GET_DEV_INFO, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_ADD_DEV _IOWR('u', UBLK_CMD_ADD_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_DEL_DEV _IOWR('u', UBLK_CMD_DEL_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_START_DEV _IOWR('u', UBLK_CMD_START_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_STOP_DEV _IOWR('u', UBLK_CMD_STOP_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_SET_PARAMS _IOWR('u', UBLK_CMD_SET_PARAMS, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_CMD_GET_FEATURES
#define UBLK_U_CMD_GET_FEATURES _IOR('u', UBLK_CMD_GET_FEATURES, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_CMD_DEL_DEV_ASYNC
#define UBLK_U_CMD_DEL_DEV_ASYNC _IOR('u', UBLK_CMD_DEL_DEV_ASYNC, struct ublksrv_ctrl_cmd)
#endif
#ifndef UBLK_U_IO_FETCH_REQ
#define UBLK_U_IO_FETCH_REQ _IOWR('u', UBLK_IO_FETCH_REQ, struct ublksrv_io_cmd)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ _IOWR('u', UBLK_IO_COMMIT_AND_FETCH_REQ, struct ublksrv_io_cmd)
#endif

#define CTRL_PATH "/dev/ublk-control"
#define EFD_DATA UINT64_MAX        /* user_data of the eventfd poll */
#define QUEUE_STACK (256u << 10)   /* queue threads need little stack */
#define MAX_ZERO_SECTORS (1u << 21) /* 1 GiB per discard / write-zeroes */

/* One legacy and one ioctl-encoded opcode per control command. */
struct ctrl_op {
  unsigned legacy, encoded;
  const char *name;
};

static const struct ctrl_op OP_ADD = { UBLK_CMD_ADD_DEV, UBLK_U_CMD_ADD_DEV, "ADD_DEV" };
static const struct ctrl_op OP_SET_PARAMS = { UBLK_CMD_SET_PARAMS, UBLK_U_CMD_SET_PARAMS, "SET_PARAMS" };
static const struct ctrl_op OP_START = { UBLK_CMD_START_DEV, UBLK_U_CMD_START_DEV, "START_DEV" };
static const struct ctrl_op OP_STOP = { UBLK_CMD_STOP_DEV, UBLK_U_CMD_STOP_DEV, "STOP_DEV" };
static const struct ctrl_op OP_DEL = { UBLK_CMD_DEL_DEV, UBLK_U_CMD_DEL_DEV, "DEL_DEV" };
static const struct ctrl_op OP_DEL_ASYNC = { 0, UBLK_U_CMD_DEL_DEV_ASYNC, "DEL_DEV_ASYNC" };
static const struct ctrl_op OP_FEATURES = { 0, UBLK_U_CMD_GET_FEATURES, "GET_FEATURES" };

struct uq;

/* One tag: its engine request, staging slice and result. */
struct utag {
  struct vd_io io;
  struct uq *q;
  struct utag *next_done;  /* lock-free completion list */
  uint64_t t0_ns;
  int result;
  uint16_t tag;
  bool live;               /* a command for this tag is with the kernel */
};

/* One hardware queue: thread, ring, descriptors, tags. */
struct uq {
  struct udev *dev;
  unsigned id;
  struct io_uring ring;
  bool ring_ok;
  int efd;
  pthread_t thread;
  bool started;
  const struct ublksrv_io_desc *iods;
  size_t iods_len;
  char *bufs;              /* pinned, depth * VD_UBLK_IO_BYTES */
  struct utag *tags;
  _Atomic(struct utag *) done_head;
  atomic_bool stopping;
  unsigned in_engine;      /* queue thread only */
  /* start-up handshake with the adding thread */
  pthread_mutex_t lock;
  pthread_cond_t cv;
  bool ready;
  int ready_err;
};

/* One ublk device serving one volume. */
struct udev {
  const struct vd_frontend_host *d;
  struct vd_volume *v;
  int id;
  int cdev_fd;
  unsigned nq;
  bool added, started;
  struct uq q[VD_UBLK_MAX_QUEUES];
  struct udev *next;
};

/* Frontend-wide state: the control ring and every device. */
static struct {
  pthread_mutex_t lock;
  int ctrl_fd;
  struct io_uring ring;
  bool ring_ok;
  bool encoded;            /* use ioctl-encoded opcodes */
  uint64_t features;
  struct udev *devs;
} U = { .lock = PTHREAD_MUTEX_INITIALIZER, .ctrl_fd = -1 };

/* Queues holding pinned staging, read without U.lock (metrics, GET /v1). */
static atomic_uint queues_staged;

/* Put a 32-byte command payload into an SQE128's command area. */
static void sqe_set_cmd(struct io_uring_sqe *sqe, const void *cmd, size_t len)
{
  memcpy((char *)sqe + offsetof(struct io_uring_sqe, cmd), cmd, len);
}

/* Run one control command synchronously; returns the CQE result. */
static int ctrl_cmd(const struct ctrl_op *op, uint32_t dev_id, uint64_t data0,
                    void *buf, uint16_t len)
{
  struct ublksrv_ctrl_cmd c = { .dev_id = dev_id, .queue_id = (uint16_t)-1,
                                .len = len, .addr = (uintptr_t)buf };
  struct io_uring_sqe *sqe;
  struct io_uring_cqe *cqe;
  int rc;

  if (!U.encoded && !op->legacy)
    return -EOPNOTSUPP;
  sqe = io_uring_get_sqe(&U.ring);
  if (!sqe)
    return -EBUSY;
  memset(sqe, 0, 2 * sizeof *sqe);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = U.ctrl_fd;
  sqe->cmd_op = U.encoded || !op->legacy ? op->encoded : op->legacy;
  c.data[0] = data0;
  sqe_set_cmd(sqe, &c, sizeof c);
  rc = io_uring_submit(&U.ring);
  if (rc < 0)
    return rc;
  do
    rc = io_uring_wait_cqe(&U.ring, &cqe);
  while (rc == -EINTR);
  if (rc < 0)
    return rc;
  rc = cqe->res;
  io_uring_cqe_seen(&U.ring, cqe);
  vd_debug("ublk: %s dev %u: %d", op->name, dev_id, rc);
  return rc;
}

/* Explain why the control device cannot be used, with the fix. */
static void ctrl_why(int e, char *err, size_t errlen)
{
  if (e == ENOENT || e == ENODEV || e == ENXIO)
    snprintf(err, errlen, "ublk is not available: %s does not exist (the ublk_drv "
             "kernel module is not loaded: run 'modprobe ublk_drv'; use frontend=nbd "
             "meanwhile)", CTRL_PATH);
  else if (e == EACCES || e == EPERM)
    snprintf(err, errlen, "ublk is not available: no permission to open %s "
             "(vramd needs root or CAP_SYS_ADMIN for ublk; use frontend=nbd "
             "otherwise)", CTRL_PATH);
  else
    snprintf(err, errlen, "ublk is not available: cannot use %s: %s", CTRL_PATH,
             strerror(e));
}

/* Open the control device and probe features, once; caller holds U.lock. */
static int ctrl_open(char *err, size_t errlen)
{
  uint64_t feat = 0;
  int rc;

  if (U.ring_ok)
    return 0;
  U.ctrl_fd = open(CTRL_PATH, O_RDWR | O_CLOEXEC);
  if (U.ctrl_fd < 0) {
    ctrl_why(errno, err, errlen);
    return -ENODEV;
  }
  rc = io_uring_queue_init(4, &U.ring, IORING_SETUP_SQE128);
  if (rc) {
    snprintf(err, errlen, "ublk is not available: io_uring with 128-byte SQEs "
             "failed (%s); ublk needs Linux 6.0 or later", strerror(-rc));
    goto out_close;
  }
  U.ring_ok = true;
  /* GET_FEATURES exists only ioctl-encoded; an old kernel refuses it and
   * then gets the legacy opcodes. */
  U.encoded = true;
  rc = ctrl_cmd(&OP_FEATURES, 0, 0, &feat, sizeof feat);
  if (rc == 0) {
    U.features = feat;
    U.encoded = (feat & UBLK_F_CMD_IOCTL_ENCODE) != 0;
    vd_info("ublk: kernel features 0x%llx, %s opcodes", (unsigned long long)feat,
            U.encoded ? "ioctl-encoded" : "legacy");
  } else {
    U.encoded = false;
    vd_info("ublk: GET_FEATURES unsupported (%s): legacy opcodes", strerror(-rc));
  }
  return 0;

out_close:
  close(U.ctrl_fd);
  U.ctrl_fd = -1;
  return -ENODEV;
}

/* Close the control ring and device; caller holds U.lock. */
static void ctrl_close(void)
{
  if (U.ring_ok)
    io_uring_queue_exit(&U.ring);
  U.ring_ok = false;
  if (U.ctrl_fd >= 0)
    close(U.ctrl_fd);
  U.ctrl_fd = -1;
}

/* A free SQE of a queue's ring, submitting what is queued if full. */
static struct io_uring_sqe *queue_sqe(struct uq *q)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
  if (!sqe) {
    io_uring_submit(&q->ring);
    sqe = io_uring_get_sqe(&q->ring);
  }
  return sqe;
}

/* Queue an I/O command (FETCH or COMMIT_AND_FETCH) for a tag. */
static int queue_io_cmd(struct uq *q, struct utag *t, bool commit)
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
  if (U.encoded)
    sqe->cmd_op = commit ? UBLK_U_IO_COMMIT_AND_FETCH_REQ : UBLK_U_IO_FETCH_REQ;
  else
    sqe->cmd_op = commit ? UBLK_IO_COMMIT_AND_FETCH_REQ : UBLK_IO_FETCH_REQ;
  sqe_set_cmd(sqe, &c, sizeof c);
  io_uring_sqe_set_data64(sqe, t->tag);
  t->live = true;
  return 0;
}

/* Arm a one-shot poll on the completion eventfd. */
static int queue_efd_poll(struct uq *q)
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
  struct utag *t = io->priv;
  struct uq *q = t->q;
  struct utag *old = atomic_load_explicit(&q->done_head, memory_order_relaxed);
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
static void handle_request(struct uq *q, struct utag *t, bool last)
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
  vd_engine_submit(q->dev->d->eng, &t->io);
}

/* Commit every tag the engine finished since the last look. */
static void drain_done(struct uq *q)
{
  uint64_t end = vd_now_ns(), junk;
  struct utag *t;

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
static void queue_ready(struct uq *q, int err)
{
  pthread_mutex_lock(&q->lock);
  q->ready = true;
  q->ready_err = err;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->lock);
}

/* Count tags whose commands are still with the kernel. */
static unsigned live_tags(const struct uq *q)
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
  struct uq *q = arg;
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
      struct utag *t = &q->tags[ud];
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
static void queue_free(struct uq *q)
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
    vd_engine_pinned_free(q->dev->d->eng, q->bufs);
    atomic_fetch_sub(&queues_staged, 1);
  }
  q->bufs = NULL;
  free(q->tags);
  q->tags = NULL;
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->lock);
}

/* Wait for a queue thread to end; after wait_s seconds (at once when 0)
 * tell it to stop without waiting for the kernel's aborts. */
static void queue_join(struct uq *q, unsigned wait_s)
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
static int queue_setup(struct udev *u, unsigned id, char *err, size_t errlen)
{
  struct uq *q = &u->q[id];
  long page = sysconf(_SC_PAGESIZE);
  size_t iod_bytes = VD_UBLK_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc);
  size_t stride = (UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc) + page - 1) / page * page;
  pthread_attr_t attr;
  void *map;
  int rc;

  q->dev = u;
  q->id = id;
  q->efd = -1;
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->cv, NULL);
  q->tags = calloc(VD_UBLK_QUEUE_DEPTH, sizeof *q->tags);
  q->bufs = vd_engine_pinned_alloc(u->d->eng, (size_t)VD_UBLK_QUEUE_DEPTH * VD_UBLK_IO_BYTES);
  if (q->bufs)
    atomic_fetch_add(&queues_staged, 1);
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
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, QUEUE_STACK);
  rc = pthread_create(&q->thread, &attr, queue_main, q);
  pthread_attr_destroy(&attr);
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

/* Open /dev/ublkcN, waiting briefly for devtmpfs or udev to make it. */
static int open_cdev(int id)
{
  char path[32];
  snprintf(path, sizeof path, "/dev/ublkc%d", id);
  for (int i = 0; i < 200; i++) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0 || (errno != ENOENT && errno != ENXIO))
      return fd < 0 ? -errno : fd;
    usleep(10000);
  }
  return -ENOENT;
}

/* Integer log2 of a power of two, or of the largest one below x. */
static uint8_t ilog2_floor(uint64_t x)
{
  uint8_t s = 0;
  while (x >>= 1)
    s++;
  return s;
}

/* Block parameters: 4 KiB blocks, stripe geometry, discard limits. */
static void fill_params(const struct vd_volume *v, struct ublk_params *p)
{
  uint64_t unit = v->target.map.unit ? v->target.map.unit : VD_SECTOR;

  memset(p, 0, sizeof *p);
  p->len = sizeof *p;
  p->types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD;
  /* No volatile cache: a write is acknowledged once it is in VRAM. */
  p->basic.attrs = 0;
  p->basic.logical_bs_shift = 12;
  p->basic.physical_bs_shift = 12;
  p->basic.max_sectors = VD_UBLK_IO_BYTES >> 9;
  p->basic.dev_sectors = v->size >> 9;
  if (v->spec.layout == VD_LAYOUT_STRIPE && unit >= VD_SECTOR) {
    p->basic.io_min_shift = ilog2_floor(unit);
    p->basic.io_opt_shift = ilog2_floor(unit * v->target.map.ndev);
    /* Requests never cross a stripe unit, so each goes to one device. */
    p->basic.chunk_sectors = (uint32_t)(unit >> 9);
  } else {
    p->basic.io_min_shift = 12;
    p->basic.io_opt_shift = ilog2_floor(VD_UBLK_IO_BYTES);
  }
  p->discard.discard_granularity = VD_SECTOR;
  p->discard.max_discard_sectors = MAX_ZERO_SECTORS;
  p->discard.max_write_zeroes_sectors = MAX_ZERO_SECTORS;
  p->discard.max_discard_segments = 1;
}

/* Stop and delete a device and free it; caller holds U.lock. */
static void udev_destroy(struct udev *u)
{
  int rc;

  if (u->started) {
    /* STOP_DEV removes the disk (syncing a mounted filesystem through our
     * queues) and then aborts every fetched tag, which ends the threads. */
    rc = ctrl_cmd(&OP_STOP, (uint32_t)u->id, 0, NULL, 0);
    if (rc)
      vd_err("ublk: STOP_DEV /dev/ublkb%d: %s", u->id, strerror(-rc));
    for (unsigned i = 0; i < u->nq; i++)
      queue_join(&u->q[i], rc ? 0 : 10);
  } else {
    for (unsigned i = 0; i < u->nq; i++)
      queue_join(&u->q[i], 0);
  }
  for (unsigned i = 0; i < u->nq; i++)
    queue_free(&u->q[i]);
  if (u->cdev_fd >= 0)
    close(u->cdev_fd);
  if (u->added) {
    /* The async delete does not wait for a still-mounted disk to go. */
    rc = U.encoded ? ctrl_cmd(&OP_DEL_ASYNC, (uint32_t)u->id, 0, NULL, 0) : -EOPNOTSUPP;
    if (rc == -EOPNOTSUPP || rc == -EINVAL)
      rc = ctrl_cmd(&OP_DEL, (uint32_t)u->id, 0, NULL, 0);
    if (rc)
      vd_err("ublk: DEL_DEV %d: %s", u->id, strerror(-rc));
  }
  if (u->v) {
    u->v->frontend_priv = NULL;
    u->v->device_path[0] = '\0';
  }
  free(u);
}

/* Unlink a device from the frontend's list; caller holds U.lock. */
static void udev_unlink(struct udev *u)
{
  for (struct udev **pp = &U.devs; *pp; pp = &(*pp)->next)
    if (*pp == u) {
      *pp = u->next;
      return;
    }
}

/* Explain an ADD_DEV failure. */
static void add_why(int rc, int want, char *err, size_t errlen)
{
  if (rc == -EEXIST)
    snprintf(err, errlen, "ublk id %d is already taken by another ublk device "
             "(/dev/ublkc%d exists); ask for another id or none", want, want);
  else if (rc == -EPERM || rc == -EACCES)
    snprintf(err, errlen, "ublk: not allowed to add a device (vramd needs "
             "CAP_SYS_ADMIN for ublk)");
  else
    snprintf(err, errlen, "ublk: ADD_DEV failed: %s", strerror(-rc));
}

/* Create /dev/ublkbN for a volume and start serving it. */
static int ublk_add(const struct vd_frontend_host *d, struct vd_volume *v, char *err,
                    size_t errlen)
{
  struct ublksrv_ctrl_dev_info info = { 0 };
  struct ublk_params params;
  struct udev *u;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int want = v->spec.index, rc;

  pthread_mutex_lock(&U.lock);
  for (struct udev *o = U.devs; want >= 0 && o; o = o->next)
    if (o->id == want) {
      snprintf(err, errlen, "ublk id %d is already used by volume '%s'", want,
               o->v->spec.name);
      rc = -EEXIST;
      goto out_unlock;
    }
  rc = ctrl_open(err, errlen);
  if (rc)
    goto out_unlock;
  u = calloc(1, sizeof *u);
  if (!u) {
    snprintf(err, errlen, "out of memory");
    rc = -ENOMEM;
    goto out_unlock;
  }
  u->d = d;
  u->v = v;
  u->cdev_fd = -1;
  u->nq = ncpu < 1 ? 1 : ncpu > VD_UBLK_MAX_QUEUES ? VD_UBLK_MAX_QUEUES : (unsigned)ncpu;

  info.nr_hw_queues = (uint16_t)u->nq;
  info.queue_depth = VD_UBLK_QUEUE_DEPTH;
  info.max_io_buf_bytes = VD_UBLK_IO_BYTES;
  info.dev_id = want >= 0 ? (uint32_t)want : UINT32_MAX;
  info.ublksrv_pid = getpid();
  info.flags = U.encoded ? UBLK_F_CMD_IOCTL_ENCODE : 0;
  rc = ctrl_cmd(&OP_ADD, info.dev_id, 0, &info, sizeof info);
  if (rc) {
    add_why(rc, want, err, errlen);
    goto out_free;
  }
  u->id = (int)info.dev_id;
  u->added = true;

  fill_params(v, &params);
  rc = ctrl_cmd(&OP_SET_PARAMS, (uint32_t)u->id, 0, &params, sizeof params);
  if (rc) {
    snprintf(err, errlen, "ublk: SET_PARAMS for /dev/ublkb%d: %s", u->id, strerror(-rc));
    goto out_destroy;
  }
  rc = open_cdev(u->id);
  if (rc < 0) {
    snprintf(err, errlen, "ublk: cannot open /dev/ublkc%d: %s", u->id, strerror(-rc));
    goto out_destroy;
  }
  u->cdev_fd = rc;
  for (unsigned i = 0; i < u->nq; i++) {
    rc = queue_setup(u, i, err, errlen);
    if (rc) {
      u->nq = i + 1; /* free what queue i got too */
      goto out_destroy;
    }
  }
  rc = ctrl_cmd(&OP_START, (uint32_t)u->id, (uint64_t)getpid(), NULL, 0);
  if (rc) {
    snprintf(err, errlen, "ublk: START_DEV /dev/ublkb%d: %s", u->id, strerror(-rc));
    goto out_destroy;
  }
  u->started = true;
  snprintf(v->device_path, sizeof v->device_path, "/dev/ublkb%d", u->id);
  v->frontend_priv = u;
  u->next = U.devs;
  U.devs = u;
  pthread_mutex_unlock(&U.lock);
  vd_info("volume %s is %s (%u queues of %u tags, %u KiB per request)", v->spec.name,
          v->device_path, u->nq, VD_UBLK_QUEUE_DEPTH, VD_UBLK_IO_BYTES >> 10);
  return 0;

out_destroy:
  u->v = NULL;
  udev_destroy(u);
  goto out_unlock;
out_free:
  free(u);
out_unlock:
  pthread_mutex_unlock(&U.lock);
  return rc;
}

/* Withdraw a volume's device; refuses while mounted unless forced. */
static int ublk_remove(const struct vd_frontend_host *d, struct vd_volume *v, bool force,
                       char *err, size_t errlen)
{
  struct udev *u;
  (void)d;

  pthread_mutex_lock(&U.lock);
  u = v->frontend_priv;
  if (!u) {
    pthread_mutex_unlock(&U.lock);
    return 0;
  }
  if (!force && vd_bdev_busy(v->device_path)) {
    snprintf(err, errlen, "%s is in use (mounted, active swap or held by another "
             "device): unmount or swapoff it first, or delete with force",
             v->device_path);
    pthread_mutex_unlock(&U.lock);
    return -EBUSY;
  }
  udev_unlink(u);
  vd_info("volume %s: removing %s%s", v->spec.name, v->device_path,
          force ? " (forced)" : "");
  udev_destroy(u);
  pthread_mutex_unlock(&U.lock);
  return 0;
}

/* Nothing to listen on; the control device is opened on first use so a
 * module loaded later still works. */
static int ublk_start(const struct vd_frontend_host *d, const struct vd_frontend_config *c,
                      char *err, size_t errlen)
{
  char why[256];
  (void)d;
  (void)c;
  (void)err;
  (void)errlen;
  pthread_mutex_lock(&U.lock);
  if (ctrl_open(why, sizeof why))
    vd_info("%s", why);
  pthread_mutex_unlock(&U.lock);
  return 0;
}

/* Tear every device down at shutdown. */
static void ublk_stop(const struct vd_frontend_host *d)
{
  (void)d;
  pthread_mutex_lock(&U.lock);
  while (U.devs) {
    struct udev *u = U.devs;
    U.devs = u->next;
    vd_info("volume %s: removing %s (shutdown)", u->v->spec.name, u->v->device_path);
    udev_destroy(u);
  }
  ctrl_close();
  pthread_mutex_unlock(&U.lock);
}

/* Frontend pinned: a staging buffer per queue, at most 4 queues per ublk
 * volume, allocated when the volume is created.  Fixed sizes, not settings:
 * a tag's slice is the largest request (max_sectors). */
static void ublk_pinned(const struct vd_frontend_host *d, struct vd_frontend_pinned *out)
{
  (void)d;
  *out = (struct vd_frontend_pinned){
    .unit = "queue",
    .unit_bytes = (uint64_t)VD_UBLK_QUEUE_DEPTH * VD_UBLK_IO_BYTES,
    .units_per_volume = VD_UBLK_MAX_QUEUES,
    .units = atomic_load(&queues_staged),
    .max_request = VD_UBLK_IO_BYTES,
  };
}

const struct vd_frontend vd_frontend_ublk = {
  .kind = VD_FRONTEND_UBLK,
  .name = "ublk",
  .start = ublk_start,
  .stop = ublk_stop,
  .add = ublk_add,
  .remove = ublk_remove,
  .pinned = ublk_pinned,
};
