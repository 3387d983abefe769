/* imgio.c: the data path of save, load and restore.  One thread (the
 * job's) runs a pass: it starts a unit in each free staging slot, and
 * waits on one io_uring for both kinds of completion: the file's reads
 * and writes, and the engine's, which its callback hands over through an
 * eventfd whose read sits in the same ring.  So the disk and the GPU
 * copies overlap, every slot in flight at once. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "imgio.h"
#include "util.h"

#define MAX_SLOTS 256u
#define EFD_TAG 0 /* user_data of the eventfd's read; slots are non-NULL */

struct slot {
  struct vd_io io;
  struct vd_img *x;
  struct slot *done_next;  /* the engine's completions, for the job thread */
  uint8_t *buf;
  uint64_t off, len;       /* the unit, within the volume */
  uint64_t flen, fdone;    /* file bytes to move and moved */
  bool writing;            /* the file I/O in flight is a write */
  int gpu_err;
};

struct vd_img {
  struct vd_engine *eng;
  struct vd_target *t;
  int fd, efd;
  bool direct, fixed, efd_armed;
  uint64_t efd_val;
  struct io_uring ring;
  void *pin;               /* from the engine, unaligned */
  uint8_t *base;
  unsigned nslots, nfree, busy;
  struct slot *slots, **free;
  pthread_mutex_t lock;
  struct slot *done_head;  /* under lock */
  const struct vd_img_pass *p;
  int err;                 /* the pass's first error */
  char *errbuf;
  size_t errlen;
};

/* True when len bytes at p are all zero: the first word, then memcmp of
 * the buffer against itself shifted by one word. */
bool vd_img_is_zero(const void *p, size_t len)
{
  const uint8_t *b = p;
  uint64_t w = 0;
  if (len < sizeof w) {
    for (size_t i = 0; i < len; i++)
      if (b[i])
        return false;
    return true;
  }
  memcpy(&w, b, sizeof w);
  return !w && !memcmp(b, b + sizeof w, len - sizeof w);
}

/* A unit's checksum: four lanes, so the multiplies overlap. */
uint64_t vd_img_sum(const void *p, size_t len)
{
  const uint8_t *b = p;
  uint64_t lane[4] = { 0, 0, 0, 0 }, w;
  size_t n = len / 8;

  for (size_t i = 0; i < n; i++) {
    memcpy(&w, b + i * 8, sizeof w);
    lane[i & 3] += w * ((uint64_t)i << 1 | 1);
  }
  return lane[0] + lane[1] + lane[2] + lane[3];
}

/* splitmix64's finaliser. */
static uint64_t mix(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Sum each unit's checksum mixed with its place: order-free, so units
 * may complete in any order and be copied again. */
uint64_t vd_img_total(const uint64_t *sums, uint64_t nunits)
{
  uint64_t t = 0;
  for (uint64_t u = 0; u < nunits; u++)
    t += mix(sums[u] ^ (u * 0x9e3779b97f4a7c15ull));
  return t;
}

/* Note a unit's checksum when the pass keeps them. */
static void note_sum(struct vd_img *x, const struct slot *s, uint64_t sum)
{
  if (x->p->sums)
    x->p->sums[s->off / VD_IMG_UNIT] = sum;
}

/* Record the pass's first error. */
__attribute__((format(printf, 3, 4)))
static void fail(struct vd_img *x, int err, const char *fmt, ...)
{
  va_list ap;
  if (x->err)
    return;
  x->err = err;
  va_start(ap, fmt);
  vsnprintf(x->errbuf, x->errlen, fmt, ap);
  va_end(ap);
}

/* A unit is over: its slot is free again; done counts it as progress. */
static void finish(struct vd_img *x, struct slot *s, bool done)
{
  if (done && x->p->progress)
    x->p->progress(x->p->arg, s->len);
  x->free[x->nfree++] = s;
  x->busy--;
}

/* An sqe, submitting what is queued when the ring is full. */
static struct io_uring_sqe *sqe_of(struct vd_img *x)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe(&x->ring);
  if (!sqe) {
    io_uring_submit(&x->ring);
    sqe = io_uring_get_sqe(&x->ring);
  }
  return sqe;
}

/* Queue the rest of a slot's file read or write. */
static void file_io(struct vd_img *x, struct slot *s)
{
  struct io_uring_sqe *sqe = sqe_of(x);
  uint8_t *b = s->buf + s->fdone;
  unsigned n = (unsigned)(s->flen - s->fdone);
  uint64_t at = s->off + s->fdone;

  if (!sqe) { /* cannot happen: the ring has room for every slot */
    fail(x, -EBUSY, "io_uring has no room");
    finish(x, s, false);
    return;
  }
  if (s->writing && x->fixed)
    io_uring_prep_write_fixed(sqe, x->fd, b, n, at, 0);
  else if (s->writing)
    io_uring_prep_write(sqe, x->fd, b, n, at);
  else if (x->fixed)
    io_uring_prep_read_fixed(sqe, x->fd, b, n, at, 0);
  else
    io_uring_prep_read(sqe, x->fd, b, n, at);
  io_uring_sqe_set_data(sqe, s);
}

/* Write a slot's unit to the file. */
static void file_write(struct vd_img *x, struct slot *s)
{
  s->writing = true;
  s->flen = s->len;
  s->fdone = 0;
  file_io(x, s);
}

/* The engine's callback, on an engine thread (or the submitter's): hand
 * the slot to the job thread. */
static void gpu_done(struct vd_io *io, int err)
{
  struct slot *s = io->priv;
  struct vd_img *x = s->x;
  uint64_t one = 1;

  s->gpu_err = err;
  pthread_mutex_lock(&x->lock);
  s->done_next = x->done_head;
  x->done_head = s;
  pthread_mutex_unlock(&x->lock);
  if (write(x->efd, &one, sizeof one) < 0)
    vd_warn_rl("save: cannot wake the job thread: %s", strerror(errno));
}

/* Hand a slot's unit to the engine. */
static void gpu(struct vd_img *x, struct slot *s, enum vd_op op)
{
  struct vd_io *io = &s->io;
  memset(io, 0, sizeof *io);
  io->target = x->t;
  io->op = op;
  io->off = s->off;
  io->len = s->len;
  io->buf = s->buf;
  io->done = gpu_done;
  io->priv = s;
  io->through = x->p->through;
  vd_engine_submit(x->eng, io);
}

/* A unit of zeros, as the pass says; known: found without reading, so
 * the buffer holds anything. */
static void zeros(struct vd_img *x, struct slot *s, bool known)
{
  switch (x->p->zeros) {
  case VD_IMG_SKIP:
    finish(x, s, true);
    return;
  case VD_IMG_DISCARD:
    gpu(x, s, VD_OP_ZERO);
    return;
  case VD_IMG_PUNCH:
    if (!fallocate(x->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)s->off,
                   (off_t)s->len)) {
      finish(x, s, true);
      return;
    }
    if (errno != EOPNOTSUPP) {
      fail(x, -errno, "cannot punch a hole in the image: %s", strerror(errno));
      finish(x, s, false);
      return;
    }
    /* A file system without holes gets the zeros. */
    __attribute__((fallthrough));
  case VD_IMG_WRITE:
    if (known)
      memset(s->buf, 0, s->len);
    file_write(x, s);
    return;
  }
}

/* Start a unit in slot s. */
static void start(struct vd_img *x, struct slot *s, uint64_t off, uint64_t len)
{
  const struct vd_img_pass *p = x->p;
  bool kz;

  s->off = off;
  s->len = len;
  x->busy++;
  kz = (p->dir == VD_IMG_LOAD && off >= p->file_size) ||
       (p->known_zero && p->known_zero(p->arg, off, len));
  if (kz) {
    note_sum(x, s, 0);
    zeros(x, s, true);
  } else if (p->dir == VD_IMG_SAVE) {
    gpu(x, s, VD_OP_READ);
  } else {
    uint64_t n = p->file_size - off < len ? p->file_size - off : len;
    s->writing = false;
    s->flen = x->direct ? (n + VD_IMG_ALIGN - 1) / VD_IMG_ALIGN * VD_IMG_ALIGN : n;
    s->fdone = 0;
    file_io(x, s);
  }
}

/* The engine finished a slot's unit. */
static void gpu_complete(struct vd_img *x, struct slot *s)
{
  if (s->gpu_err) {
    fail(x, s->gpu_err, "the volume's %s at byte %llu failed: %s (see the log)",
         s->io.op == VD_OP_READ ? "read" : "write", (unsigned long long)s->off,
         strerror(-s->gpu_err));
    finish(x, s, false);
    return;
  }
  if (s->io.op != VD_OP_READ) {
    finish(x, s, true);
    return;
  }
  if (x->p->sums)
    note_sum(x, s, vd_img_sum(s->buf, s->len));
  if (vd_img_is_zero(s->buf, s->len))
    zeros(x, s, false);
  else
    file_write(x, s);
}

/* The file's read or write of a slot completed with res. */
static void file_complete(struct vd_img *x, struct slot *s, int res)
{
  bool eof;

  if (res == -EAGAIN || res == -EINTR) {
    file_io(x, s);
    return;
  }
  if (res < 0 || (res == 0 && s->writing)) {
    res = res ? res : -EIO;
    if (res == -ENOSPC || res == -EDQUOT)
      fail(x, res, "no space left for the image (%s): free some, or save elsewhere",
           strerror(-res));
    else
      fail(x, res, "cannot %s the image at byte %llu: %s", s->writing ? "write" : "read",
           (unsigned long long)(s->off + s->fdone), strerror(-res));
    finish(x, s, false);
    return;
  }
  s->fdone += (unsigned)res;
  eof = !s->writing && (res == 0 || s->off + s->fdone >= x->p->file_size);
  if (s->fdone < s->flen && !eof) {
    file_io(x, s);
    return;
  }
  if (s->writing) {
    finish(x, s, true);
    return;
  }
  if (s->off + s->fdone < x->p->file_size && s->fdone < s->len) {
    fail(x, -EIO, "the image ended at byte %llu, before its size: was it cut short meanwhile?",
         (unsigned long long)(s->off + s->fdone));
    finish(x, s, false);
    return;
  }
  if (s->fdone < s->len)
    memset(s->buf + s->fdone, 0, s->len - s->fdone);
  if (x->p->sums)
    note_sum(x, s, vd_img_sum(s->buf, s->len));
  if (vd_img_is_zero(s->buf, s->len))
    zeros(x, s, false);
  else
    gpu(x, s, VD_OP_WRITE);
}

/* Keep a read of the eventfd in the ring. */
static void arm_efd(struct vd_img *x)
{
  struct io_uring_sqe *sqe;
  if (x->efd_armed || !(sqe = sqe_of(x)))
    return;
  io_uring_prep_read(sqe, x->efd, &x->efd_val, sizeof x->efd_val, 0);
  io_uring_sqe_set_data64(sqe, EFD_TAG);
  x->efd_armed = true;
}

/* Take the engine's completions and finish each. */
static void drain_gpu(struct vd_img *x)
{
  struct slot *list;
  pthread_mutex_lock(&x->lock);
  list = x->done_head;
  x->done_head = NULL;
  pthread_mutex_unlock(&x->lock);
  for (struct slot *s = list, *next; s; s = next) {
    next = s->done_next;
    gpu_complete(x, s);
  }
}

/* Run a pass. */
int vd_img_run(struct vd_img *x, const struct vd_img_pass *p, char *err, size_t errlen)
{
  bool more = true;

  x->p = p;
  x->err = 0;
  x->errbuf = err;
  x->errlen = errlen;
  for (;;) {
    struct io_uring_cqe *cqe;
    int rc;
    while (more && !x->err && x->nfree) {
      uint64_t off, len;
      if (p->cancelled && p->cancelled(p->arg)) {
        fail(x, -ECANCELED, "cancelled");
        break;
      }
      if (!p->next(p->arg, &off, &len)) {
        more = false;
        break;
      }
      start(x, x->free[--x->nfree], off, len);
    }
    if (!x->busy)
      break;
    arm_efd(x);
    rc = io_uring_submit_and_wait(&x->ring, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN) {
      /* Not seen in practice; try again shortly rather than free memory
       * that requests in flight still use. */
      vd_warn_rl("save: io_uring_submit_and_wait: %s", strerror(-rc));
      fail(x, rc, "io_uring failed: %s", strerror(-rc));
      usleep(1000);
    }
    while (io_uring_peek_cqe(&x->ring, &cqe) == 0) {
      uint64_t ud = io_uring_cqe_get_data64(cqe);
      int res = cqe->res;
      io_uring_cqe_seen(&x->ring, cqe);
      if (ud == EFD_TAG) {
        x->efd_armed = false;
        drain_gpu(x);
      } else {
        file_complete(x, (struct slot *)(uintptr_t)ud, res);
      }
    }
    drain_gpu(x);
  }
  return x->err;
}

/* Make the ring, the eventfd and the staging. */
int vd_img_open(struct vd_engine *eng, struct vd_target *t, int fd, bool direct,
                uint64_t staging, struct vd_img **out, char *err, size_t errlen)
{
  struct vd_img *x = calloc(1, sizeof *x);
  struct iovec iov;
  int rc;

  if (!x)
    goto out_nomem;
  x->eng = eng;
  x->t = t;
  x->fd = fd;
  x->direct = direct;
  x->nslots = (unsigned)(staging / VD_IMG_UNIT);
  if (x->nslots < 2)
    x->nslots = 2;
  if (x->nslots > MAX_SLOTS)
    x->nslots = MAX_SLOTS;
  x->slots = calloc(x->nslots, sizeof *x->slots);
  x->free = calloc(x->nslots, sizeof *x->free);
  if (!x->slots || !x->free)
    goto out_free;
  x->pin = vd_engine_pinned_alloc(eng, (size_t)x->nslots * VD_IMG_UNIT + VD_IMG_ALIGN);
  if (!x->pin) {
    snprintf(err, errlen, "cannot pin %u MiB of host memory for staging: lower save-staging",
             x->nslots);
    rc = -ENOMEM;
    goto out_fail;
  }
  x->base = (uint8_t *)(((uintptr_t)x->pin + VD_IMG_ALIGN - 1) & ~(uintptr_t)(VD_IMG_ALIGN - 1));
  x->efd = eventfd(0, EFD_CLOEXEC);
  if (x->efd < 0) {
    rc = -errno;
    snprintf(err, errlen, "eventfd: %s", strerror(errno));
    goto out_unpin;
  }
  rc = io_uring_queue_init(x->nslots * 2 + 4, &x->ring, 0);
  if (rc) {
    snprintf(err, errlen, "cannot set up io_uring: %s (is io_uring disabled: "
             "sysctl kernel.io_uring_disabled?)", strerror(-rc));
    goto out_efd;
  }
  iov.iov_base = x->base;
  iov.iov_len = (size_t)x->nslots * VD_IMG_UNIT;
  x->fixed = io_uring_register_buffers(&x->ring, &iov, 1) == 0;
  if (!x->fixed)
    vd_info_rl("save: io_uring refused to register the staging; plain reads and writes");
  pthread_mutex_init(&x->lock, NULL);
  for (unsigned i = 0; i < x->nslots; i++) {
    x->slots[i].x = x;
    x->slots[i].buf = x->base + (size_t)i * VD_IMG_UNIT;
    x->free[x->nfree++] = &x->slots[i];
  }
  *out = x;
  return 0;

out_efd:
  close(x->efd);
out_unpin:
  vd_engine_pinned_free(eng, x->pin);
  goto out_fail;
out_free:
  free(x->slots);
  free(x->free);
  free(x);
out_nomem:
  snprintf(err, errlen, "out of host memory");
  return -ENOMEM;
out_fail:
  free(x->slots);
  free(x->free);
  free(x);
  return rc;
}

/* Free a transfer's ring and staging; no pass runs. */
void vd_img_close(struct vd_img *x)
{
  if (!x)
    return;
  io_uring_queue_exit(&x->ring);
  close(x->efd);
  pthread_mutex_destroy(&x->lock);
  vd_engine_pinned_free(x->eng, x->pin);
  free(x->slots);
  free(x->free);
  free(x);
}

/* Pinned bytes held. */
uint64_t vd_img_staging(const struct vd_img *x)
{
  return (uint64_t)x->nslots * VD_IMG_UNIT;
}
