/* engine.c: per-device worker threads that turn requests into OpenCL
 * transfers, several in flight per device; small segments go through the
 * batch kernel of small.c.  A request for an idle device is moved by the
 * submitting thread itself (the idle path), so a lone request costs no
 * wake-up of a worker and no hand-back. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine-internal.h"
#include "fault.h"
#include "parity.h"
#include "pool-cl.h"
#include "small.h"
#include "sums.h"
#include "util.h"

#define DEFAULT_WORKERS 1
#define DEFAULT_BATCH 64
#define BATCH_ALWAYS 32 /* parts a batch takes before it checks its staging slot */
#define MAX_WORKERS 64
#define DEFAULT_DEPTH 8
#define MAX_DEPTH VD_SMALL_SLOTS
#define MAX_SMALL_STAGE (1u << 30)
#define FILL_BYTES (1u << 20)    /* queued bytes that start a batch at once */
#define IDLE_SPIN_NS 1000000ull /* then wait blocking: the device is stalled */
/* A worker's stack: driver calls only.  Connection threads make the same
 * enqueue and wait calls on 256 KiB; twice that leaves room for a kernel
 * launch.  glibc's default, 8 MiB, was locked whole (bench/RESULTS.md). */
#define WORKER_STACK (512u << 10)

struct devq;

struct worker {
  struct devq *dq;
  cl_command_queue q;
  struct vd_small sm;
  struct vd_sums sums;
  struct vd_parity par;
  pthread_t thread;
  bool started;
  bool busy;              /* has batches in flight; under dq->lock */
  bool direct;            /* this batch is too thin for the batch kernel */
  bool sums_seen;         /* this batch has segments with checksums */
  struct vd_engine_profile prof; /* this thread's own: relaxed atomics */
};

/* The work list of one pool device and the workers that drain it. */
struct devq {
  pthread_mutex_t lock;
  pthread_cond_t cv;
  struct vd_io_part *head, *tail;
  bool stop;
  unsigned busy;          /* workers with batches in flight */
  unsigned sleepers;      /* workers asleep on cv: only they need a signal */
  uint64_t signals;       /* wake-ups sent by submitters; under lock */
  _Atomic unsigned queued; /* parts on the list, for peeking without the lock */
  _Atomic uint64_t queued_bytes; /* and their requests' bytes */
  unsigned fill;          /* parts to wait for before another batch starts
                           * while one is in flight (or FILL_BYTES) */
  uint64_t poll_ns;       /* how long a worker polls before it sleeps */
  unsigned small_min;     /* fewest parts in a batch for the batch kernel */
  enum vd_idle_mode idle; /* how the idle path waits on this device */
  bool idle_held;         /* a submitter is moving a request (idle path) */
  unsigned batch;
  unsigned depth;
  struct vd_device *dev;
  struct vd_engine *eng;
  cl_command_queue pin_q; /* maps pinned buffers made in this device's context */
  cl_program prog;        /* the batch kernel; NULL: direct path only */
  struct worker w[MAX_WORKERS];
  unsigned nw;
  _Atomic uint64_t h2d, d2h;
  _Atomic uint64_t idle_ops;
  _Atomic uint64_t sum_errors; /* checksum mismatches found by reads */
  _Atomic uint64_t par_repaired; /* bad blocks reads rebuilt from parity */
  struct vd_scrubber scrub;
  bool scrub_init;
};

struct pinned {
  struct pinned *next;
  void *ptr;
  cl_mem mem;
  cl_command_queue q;     /* the pin_q that mapped it */
  struct vd_pin_share *share; /* pinned in the other driver copies too */
};

struct vd_engine {
  struct vd_pool *pool;
  unsigned ndev;
  bool small;             /* batched small-request path wanted */
  uint64_t small_max, small_stage;
  enum vd_idle_mode idle;
  uint64_t idle_max;
  bool ack_queued;        /* write-ack = queued */
  uint64_t poll_ns;       /* VD_POLL_DEFAULT: per device type */
  unsigned small_min;
  unsigned fill;
  struct devq *dq;
  struct vd_device *devs[VD_MAX_DEVICES]; /* pool devices, by index */
  pthread_mutex_t pin_lock;
  struct pinned *pins;
};

/* Largest fill pattern (4, 2 or 1 bytes) that divides offset and length. */
static size_t fill_pattern(uint64_t off, uint64_t len)
{
  if (!(off % 4) && !(len % 4)) return 4;
  if (!(off % 2) && !(len % 2)) return 2;
  return 1;
}

/* Enqueue one segment's transfer, with an event in *ev unless ev is
 * NULL; returns the CL status. */
static cl_int enqueue_segment(cl_command_queue q, struct vd_io *io, cl_mem m,
                              const struct vd_segment *s, cl_event *ev)
{
  static const cl_uint zero;
  size_t bo[3] = { s->ext_offset, 0, 0 };
  size_t ho[3] = { s->buf_offset, 0, 0 };
  size_t region[3] = { s->len, s->rows, 1 };
  char *p = (char *)io->buf;

  switch (io->op) {
  case VD_OP_READ:
    if (s->rows == 1)
      return clEnqueueReadBuffer(q, m, CL_FALSE, s->ext_offset, s->len,
                                 p + s->buf_offset, 0, NULL, ev);
    return clEnqueueReadBufferRect(q, m, CL_FALSE, bo, ho, region, s->len, 0,
                                   s->buf_pitch, 0, p, 0, NULL, ev);
  case VD_OP_WRITE:
    if (s->rows == 1)
      return clEnqueueWriteBuffer(q, m, CL_FALSE, s->ext_offset, s->len,
                                  p + s->buf_offset, 0, NULL, ev);
    return clEnqueueWriteBufferRect(q, m, CL_FALSE, bo, ho, region, s->len, 0,
                                    s->buf_pitch, 0, p, 0, NULL, ev);
  case VD_OP_ZERO: {
    uint64_t n = s->len * s->rows;
    return clEnqueueFillBuffer(q, m, &zero, fill_pattern(s->ext_offset, n),
                               s->ext_offset, n, 0, NULL, ev);
  }
  default:
    return CL_INVALID_OPERATION;
  }
}

/* The segments of one part: those of its logical parts whose extents
 * live on its device now (see placement.c). */
struct part_iter {
  const struct vd_target *t;
  const struct vd_io *io;
  const struct vd_device *dev;
  uint64_t lmask;         /* logical parts not begun */
  bool open;
  struct vd_map_iter it;
};

/* Begin iterating part p, moved by a worker of device dev. */
static void part_iter_init(struct part_iter *pi, const struct vd_io_part *p,
                           const struct vd_device *dev)
{
  pi->t = p->io->target;
  pi->io = p->io;
  pi->dev = dev;
  pi->lmask = p->lmask;
  pi->open = false;
}

/* Zero the buffer under a segment: a READ of a range no chunk holds. */
static void zero_rows(const struct vd_io *io, const struct vd_segment *s)
{
  char *p = (char *)io->buf + s->buf_offset;
  for (uint64_t r = 0; r < s->rows; r++)
    memset(p + r * s->buf_pitch, 0, s->len);
}

/* Next segment of the part, the buffer that holds it, where that keeps
 * its checksums (0: none) and whether it keeps parity; false at the end. */
static bool part_next(struct part_iter *pi, struct vd_segment *s, cl_mem *m, uint64_t *sum_off,
                      bool *par)
{
  for (;;) {
    struct vd_extent *ext;
    if (!pi->open || !vd_map_next(&pi->it, s)) {
      unsigned d;
      if (!pi->lmask)
        return false;
      d = (unsigned)__builtin_ctzll(pi->lmask);
      pi->lmask &= pi->lmask - 1;
      vd_map_iter_init_dev(&pi->it, &pi->t->map, pi->io->off, pi->io->len, d);
      pi->open = true;
      continue;
    }
    ext = atomic_load_explicit(&pi->t->ext[s->dev][s->extent], memory_order_acquire);
    if (!ext) {
      if (pi->io->op == VD_OP_READ)
        zero_rows(pi->io, s);
      continue;
    }
    if (vd_extent_device(ext) != pi->dev)
      continue;
    *m = vd_extent_mem(ext);
    *sum_off = vd_extent_sums(ext) ? vd_extent_bytes(ext) : 0;
    *par = vd_extent_parity(ext) != 0;
    return true;
  }
}

/* Enqueue every segment of one part, small ones into the worker's batch;
 * bytes gets what it moves, p->err -EIO if a transfer cannot be queued.
 * With last, each direct transfer's event replaces the one in *last. */
static void enqueue_part(struct worker *w, struct vd_io_part *p, uint64_t *bytes,
                         cl_event *last)
{
  struct vd_io *io = p->io;
  struct part_iter pi;
  struct vd_segment s;
  uint64_t sum_off;
  bool par;
  cl_mem m;

  /* A lost device, or the test hook, fails the part before it queues. */
  if (vd_device_is_lost(w->dq->dev) || vd_fault_io_now()) {
    p->err = -EIO;
    return;
  }
  part_iter_init(&pi, p, w->dq->dev);
  while (part_next(&pi, &s, &m, &sum_off, &par)) {
    int ri = sum_off && io->op == VD_OP_READ ? vd_sums_entry(&w->sums, p, &s) : -1;
    w->sums_seen |= sum_off != 0;
    cl_int rc = CL_SUCCESS;
    if (w->direct || !vd_small_add(&w->sm, p, m, &s, sum_off, par, ri)) {
      uint64_t off = s.ext_offset, len = s.len * s.rows;
      /* Direct: but not ahead of batched work it overlaps. */
      if (sum_off)
        vd_sums_widen(&off, &len);
      vd_small_order(&w->sm, m, off, len, io->op == VD_OP_READ);
      if (last && *last) {
        clReleaseEvent(*last);
        *last = NULL;
      }
      /* Parity around the transfer, checksums behind it, on the same
       * in-order queue. */
      if (par)
        rc = vd_parity_before(&w->par, m, sum_off, &s, io->op, ri);
      if (rc == CL_SUCCESS)
        rc = enqueue_segment(w->q, io, m, &s, last);
      if (rc == CL_SUCCESS && sum_off)
        rc = par ? vd_parity_after(&w->par, m, sum_off, &s, io->op, ri)
                 : vd_sums_segment(&w->sums, m, sum_off, &s, io->op, ri);
      if (rc != CL_SUCCESS) {
        vd_err_rl("%s: transfer failed: %s", vd_device_info(w->dq->dev)->id,
               vd_cl_strerror(rc));
        p->err = -EIO;
        return;
      }
    }
    *bytes += s.len * s.rows;
  }
}

/* Record a part's result; the last part of a request completes it (a
 * mirror's that failed is settled on its other copies first). */
static void finish_part(struct vd_engine *eng, struct vd_io_part *p, int err)
{
  struct vd_io *io = p->io;
  int expect = 0;
  p->err = err;
  if (err)
    atomic_compare_exchange_strong(&io->err, &expect, err);
  if (atomic_fetch_sub(&io->pending, 1) == 1) {
    bool again = false;
    err = atomic_load(&io->err);
    if (err && io->target->map.copies > 1)
      again = vd_mirror_settle(eng, io, &err);
    if (io->op != VD_OP_READ)
      vd_target_written(io->target, io);
    vd_target_leave(io->target, io);
    if (again)
      vd_engine_resubmit(eng, io);
    else
      io->done(io, err);
  }
}

/* Add to one of a worker's profile counters (only its thread writes). */
static inline void prof_add(_Atomic uint64_t *c, uint64_t v)
{
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                        memory_order_relaxed);
}

/* Poll for up to dq->poll_ns for parts to arrive, so that a worker which
 * ran dry does not sleep and cost the next submitter a wake-up.  True
 * when some are queued. */
static bool poll_queue(struct devq *dq)
{
  uint64_t end;
  if (!dq->poll_ns)
    return false;
  end = vd_now_ns() + dq->poll_ns;
  do
    if (atomic_load_explicit(&dq->queued, memory_order_relaxed))
      return true;
  while (vd_now_ns() < end);
  return false;
}

/* True when enough is queued to start a batch beside those in flight:
 * thin batches cost a worker as much driver time as full ones, so while
 * one runs, parts wait for it unless there are fill of them or a large
 * request's worth. */
static bool fill_reached(struct devq *dq)
{
  unsigned q = atomic_load_explicit(&dq->queued, memory_order_relaxed);
  return q && (q >= dq->fill ||
               atomic_load_explicit(&dq->queued_bytes, memory_order_relaxed) >= FILL_BYTES);
}

/* Take up to batch parts off the device's list for a worker with
 * inflight batches queued.  With wait, sleep until there are some (NULL
 * only when stopping); without, NULL when empty.  Nothing is taken while
 * the idle path holds the device: what was queued behind its request
 * runs after it.  A worker with nothing in flight and nothing taken is no
 * longer busy, which lets the idle path in. */
static struct vd_io_part *take_batch(struct worker *w, unsigned inflight, bool wait)
{
  struct devq *dq = w->dq;
  struct vd_io_part *first = NULL, *last;
  unsigned n = 1;
  uint64_t bytes;

  pthread_mutex_lock(&dq->lock);
  if (inflight == 0 && w->busy) {
    w->busy = false;
    dq->busy--;
  }
  while (wait && (dq->idle_held || (!dq->head && !dq->stop))) {
    uint64_t t0 = vd_now_ns();
    dq->sleepers++;
    pthread_cond_wait(&dq->cv, &dq->lock);
    dq->sleepers--;
    prof_add(&w->prof.sleep_ns, vd_now_ns() - t0);
    prof_add(&w->prof.sleeps, 1);
  }
  if (!dq->idle_held)
    first = dq->head;
  if (first) {
    last = first;
    bytes = first->io->len;
    /* Past BATCH_ALWAYS parts, only what fits the staging slot: a part
     * that overflows it would go as a direct copy. */
    while (last->next && n < dq->batch &&
           (n < BATCH_ALWAYS || !w->sm.on || bytes + last->next->io->len <= w->sm.slot_bytes)) {
      last = last->next;
      bytes += last->io->len;
      n++;
    }
    atomic_fetch_sub_explicit(&dq->queued_bytes, bytes, memory_order_relaxed);
    dq->head = last->next;
    if (!dq->head)
      dq->tail = NULL;
    last->next = NULL;
    atomic_fetch_sub_explicit(&dq->queued, n, memory_order_relaxed);
    prof_add(&w->prof.batches, 1);
    prof_add(&w->prof.parts, n);
    if (!w->busy) {
      w->busy = true;
      dq->busy++;
    }
  }
  pthread_mutex_unlock(&dq->lock);
  return first;
}

/* A batch whose transfers are queued on the device, with the marker that
 * completes after all of them (the queue is in order). */
struct group {
  struct vd_io_part *parts;
  cl_event marker;
  cl_int status;          /* the marker's last status seen (CL_QUEUED until polled) */
  uint64_t h2d, d2h;
  unsigned slot;          /* its place in the ring, and its staging slot */
};

/* Enqueue a batch's transfers; the event of its last command (the queue
 * is in order) stands for the batch, or a marker behind them where that
 * command has none (a batch of large transfers).  Flush to start. */
static void group_start(struct worker *w, struct group *g, unsigned slot,
                        struct vd_io_part *batch)
{
  cl_event last = NULL, small_last = NULL;
  cl_int rc = CL_SUCCESS;
  g->parts = batch;
  g->status = CL_QUEUED;
  g->h2d = g->d2h = 0;
  g->slot = slot;
  /* A kernel launch costs as much driver time as several direct copies:
   * a batch of fewer than small_min parts is cheaper without it. */
  w->direct = false;
  w->sums_seen = false;
  if (w->dq->small_min > 1) {
    unsigned n = 0;
    for (struct vd_io_part *p = batch; p && n < w->dq->small_min; p = p->next)
      n++;
    w->direct = n < w->dq->small_min;
  }
  vd_small_begin(&w->sm, slot);
  vd_sums_begin(&w->sums, slot);
  vd_parity_begin(&w->par, slot);
  for (struct vd_io_part *p = batch; p; p = p->next) {
    uint64_t b = 0;
    p->err = 0;
    p->sum_bad = false;
    enqueue_part(w, p, &b, w->direct ? &last : NULL);
    if (p->io->op == VD_OP_READ)
      g->d2h += b;
    else if (p->io->op == VD_OP_WRITE)
      g->h2d += b;
  }
  vd_small_end(&w->sm, &small_last);
  if (vd_sums_end(&w->sums) != CL_SUCCESS || vd_parity_end(&w->par) != CL_SUCCESS) {
    /* No results: no read with checksums may pass as verified. */
    vd_err_rl("%s: reading checksum results back failed", vd_device_info(w->dq->dev)->id);
    for (struct vd_io_part *p = batch; p; p = p->next)
      if (p->io->op == VD_OP_READ)
        p->err = -EIO;
  }
  if (small_last) {
    if (last)
      clReleaseEvent(last);
    last = small_last;
  }
  /* Saving the marker saves a call into locks that every device's
   * worker shares (bench/RESULTS.md, four GPUs); checksum commands may
   * follow the last transfer, so a batch with any keeps it. */
  if (last && w->sums_seen) {
    clReleaseEvent(last);
    last = NULL;
  }
  g->marker = last;
  if (!last)
    rc = clEnqueueMarkerWithWaitList(w->q, 0, NULL, &g->marker);
  if (rc != CL_SUCCESS) {
    /* No marker: wait here instead, so completion order still holds. */
    g->marker = NULL;
    rc = clFinish(w->q);
    if (rc != CL_SUCCESS)
      for (struct vd_io_part *p = batch; p; p = p->next)
        p->err = -EIO;
    return;
  }
  clFlush(w->q);
}

/* True once the group's marker has run (or failed); the status seen is
 * kept, so that finishing the group needs no second driver call. */
static bool group_done(struct group *g)
{
  cl_int st = CL_COMPLETE;
  if (g->marker &&
      clGetEventInfo(g->marker, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL) != CL_SUCCESS)
    return true; /* group_finish waits and finds out */
  g->status = st;
  return st <= CL_COMPLETE;
}

/* Wait for a group if needed, then complete its parts.  A failure makes
 * the device prove it is still there before any part completes, so a
 * request that fails on a lost device finds its volume failed. */
static void group_finish(struct worker *w, struct group *g)
{
  struct devq *dq = w->dq;
  bool failed = false, part_failed = false;
  uint64_t t0 = vd_now_ns();
  if (g->marker) {
    /* Every driver call takes locks that all devices' workers share:
     * wait only for a marker not yet seen complete. */
    cl_int rc = g->status == CL_COMPLETE ? CL_SUCCESS : vd_cl_event_wait(g->marker);
    prof_add(&w->prof.wait_ns, vd_now_ns() - t0);
    if (rc != CL_SUCCESS) {
      vd_err_rl("%s: transfers failed: %s", vd_device_info(dq->dev)->id, vd_cl_strerror(rc));
      failed = true;
    }
    clReleaseEvent(g->marker);
  }
  for (struct vd_io_part *p = g->parts; p && !failed && !part_failed; p = p->next)
    part_failed = p->err != 0;
  if (failed || part_failed)
    vd_device_check(dq->dev, failed ? "a batch of transfers" : "queueing a transfer");
  atomic_fetch_add(&dq->h2d, g->h2d);
  atomic_fetch_add(&dq->d2h, g->d2h);
  /* Bad blocks fail their parts before any read data is copied out. */
  vd_sums_complete(&w->sums, g->slot, failed);
  vd_parity_complete(&w->par, g->slot, failed);
  vd_small_complete(&w->sm, g->slot, failed);
  t0 = vd_now_ns();
  for (struct vd_io_part *p = g->parts, *next; p; p = next) {
    next = p->next; /* p's request may be reused once finished */
    finish_part(dq->eng, p, failed ? -EIO : p->err);
  }
  prof_add(&w->prof.complete_ns, vd_now_ns() - t0);
}

/* Poll the oldest batch in flight for up to poll_ns, and the list too
 * when watch_list: true when parts arrived first (start them rather than
 * wait), false when the batch finished or the time ran out. */
static bool poll_oldest(struct worker *w, struct group *g, bool watch_list)
{
  struct devq *dq = w->dq;
  uint64_t t0, end;
  bool arrived = false;

  if (!dq->poll_ns)
    return false;
  t0 = vd_now_ns();
  end = t0 + dq->poll_ns;
  for (uint64_t now = t0; now < end && !group_done(g); now = vd_now_ns())
    if (watch_list && fill_reached(dq)) {
      arrived = true;
      break;
    }
  prof_add(&w->prof.wait_ns, vd_now_ns() - t0);
  return arrived;
}

/* Worker: keep up to depth batches queued on the device; complete them in
 * order as their markers pass, so the device never idles between batches. */
static void *worker_main(void *arg)
{
  struct worker *w = arg;
  struct devq *dq = w->dq;
  struct group ring[MAX_DEPTH];
  unsigned head = 0, n = 0;

  vd_thread_name("vd-%s", vd_device_info(dq->dev)->id);

  for (;;) {
    struct vd_io_part *batch = NULL;
    if (n == 0 || (n < dq->depth && fill_reached(dq)))
      batch = take_batch(w, n, false);
    if (!batch && n == 0) {
      /* Ran dry: poll a while before sleeping (poll-ns). */
      uint64_t t0 = vd_now_ns();
      poll_queue(dq);
      prof_add(&w->prof.poll_ns, vd_now_ns() - t0);
      batch = take_batch(w, 0, true);
    }
    if (batch) {
      unsigned slot = (head + n) % dq->depth;
      uint64_t t0 = vd_now_ns();
      group_start(w, &ring[slot], slot, batch);
      prof_add(&w->prof.enqueue_ns, vd_now_ns() - t0);
      n++;
    } else if (n == 0) {
      break; /* stopping, and nothing in flight */
    }
    /* Wait for the oldest batch only when there is nothing new to queue
     * or the window is full (polling first, for parts to start while it
     * runs); then complete whatever else has finished. */
    if (n && (!batch || n == dq->depth) &&
        !poll_oldest(w, &ring[head], n < dq->depth)) {
      group_finish(w, &ring[head]);
      head = (head + 1) % dq->depth;
      n--;
    }
    while (n && group_done(&ring[head])) {
      group_finish(w, &ring[head]);
      head = (head + 1) % dq->depth;
      n--;
    }
  }
  return NULL;
}

/* Append a part to a device's list and wake a worker. */
static void push_part(struct devq *dq, struct vd_io_part *p)
{
  p->next = NULL;
  pthread_mutex_lock(&dq->lock);
  if (dq->tail)
    dq->tail->next = p;
  else
    dq->head = p;
  dq->tail = p;
  atomic_fetch_add_explicit(&dq->queued, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&dq->queued_bytes, p->io->len, memory_order_relaxed);
  if (dq->sleepers) {
    pthread_cond_signal(&dq->cv);
    dq->signals++;
  }
  pthread_mutex_unlock(&dq->lock);
}

/* Hold an idle device for the idle path: no worker has a batch in flight,
 * nothing is queued and no other submitter holds it, so the request
 * cannot overtake earlier work, and later work waits behind it. */
static bool idle_claim(struct devq *dq)
{
  bool ok;
  pthread_mutex_lock(&dq->lock);
  ok = !dq->busy && !dq->head && !dq->idle_held && !dq->stop;
  if (ok)
    dq->idle_held = true;
  pthread_mutex_unlock(&dq->lock);
  return ok;
}

/* Give the device back to its workers, waking one if work arrived. */
static void idle_release(struct devq *dq)
{
  pthread_mutex_lock(&dq->lock);
  dq->idle_held = false;
  if (dq->head || dq->stop)
    pthread_cond_signal(&dq->cv);
  pthread_mutex_unlock(&dq->lock);
}

/* Wait for ev, the last transfer of an idle-path request.  SPIN polls its
 * status (at QD1 waking up from a blocking wait costs about as much as a
 * 4 KiB copy), but only for so long: a stalled device gets a blocking
 * wait.  Returns CL_SUCCESS or the error. */
static cl_int idle_wait(enum vd_idle_mode mode, cl_command_queue q, cl_event ev)
{
  cl_int st = CL_QUEUED, rc = CL_SUCCESS;

  if (mode == VD_IDLE_SPIN) {
    uint64_t end = vd_now_ns() + IDLE_SPIN_NS;
    clFlush(q);
    do
      rc = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
    while (rc == CL_SUCCESS && st > CL_COMPLETE && vd_now_ns() < end);
  }
  if (rc == CL_SUCCESS && st > CL_COMPLETE) {
    rc = clWaitForEvents(1, &ev);
    if (rc == CL_SUCCESS)
      rc = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
  }
  return rc != CL_SUCCESS ? rc : st < 0 ? st : CL_SUCCESS;
}

/* Answer a WRITE's client before it lands (write-ack = queued): the
 * commands are flushed to the device first, and the write counts as
 * posted on its target until it landed, so that a FLUSH waits for it.
 * True when acknowledged. */
static bool idle_ack(const struct vd_engine *eng, cl_command_queue q, struct vd_io *io)
{
  if (!eng->ack_queued || !io->acked || io->op != VD_OP_WRITE || clFlush(q) != CL_SUCCESS)
    return false;
  atomic_fetch_add(&io->target->posted, 1);
  io->acked(io);
  return true;
}

/* The idle path: move part p on the calling thread through the first
 * worker's queue (its worker is asleep) and wait for it.  Checksums go
 * as on the worker's path, in the area its batches leave free.  0 or
 * -EIO. */
static int idle_move(const struct vd_engine *eng, struct devq *dq, struct vd_io_part *p)
{
  struct vd_io *io = p->io;
  struct vd_sums *ss = &dq->w[0].sums;
  struct vd_parity *ps = &dq->w[0].par;
  cl_command_queue q = dq->w[0].q;
  struct part_iter pi;
  struct vd_segment s;
  cl_event ev = NULL;
  cl_int rc = CL_SUCCESS;
  uint64_t bytes = 0, sum_off;
  bool sums = false, par;
  bool acked = false;
  cl_mem m;

  if (vd_device_is_lost(dq->dev) || vd_fault_io_now())
    return -EIO;
  p->err = 0;
  p->sum_bad = false;
  vd_sums_begin(ss, ss->nslots);
  vd_parity_begin(ps, ps->nslots);
  part_iter_init(&pi, p, dq->dev);
  while (rc == CL_SUCCESS && part_next(&pi, &s, &m, &sum_off, &par)) {
    int ri = sum_off && io->op == VD_OP_READ ? vd_sums_entry(ss, p, &s) : -1;
    /* In order: the last command's event stands for all of them. */
    if (ev)
      clReleaseEvent(ev);
    ev = NULL;
    if (par) /* parity around the transfer, as on the worker's path */
      rc = vd_parity_before(ps, m, sum_off, &s, io->op, ri);
    if (rc == CL_SUCCESS)
      rc = enqueue_segment(q, io, m, &s, sum_off ? NULL : &ev);
    if (rc == CL_SUCCESS && sum_off) {
      rc = par ? vd_parity_after(ps, m, sum_off, &s, io->op, ri)
               : vd_sums_segment(ss, m, sum_off, &s, io->op, ri);
      sums = true;
    }
    bytes += s.len * s.rows;
  }
  if (rc == CL_SUCCESS && sums) {
    if (ev)
      clReleaseEvent(ev);
    ev = NULL;
    rc = vd_sums_end(ss);
    if (rc == CL_SUCCESS)
      rc = vd_parity_end(ps);
    if (rc == CL_SUCCESS)
      rc = clEnqueueMarkerWithWaitList(q, 0, NULL, &ev);
  }
  if (rc == CL_SUCCESS && ev) {
    acked = idle_ack(eng, q, io);
    rc = idle_wait(dq->idle, q, ev);
  } else {
    clFinish(q); /* what was queued must end before the device is given back */
  }
  if (ev)
    clReleaseEvent(ev);
  if (rc != CL_SUCCESS) {
    vd_err_rl("%s: transfer failed: %s", vd_device_info(dq->dev)->id, vd_cl_strerror(rc));
    /* As after a failed batch: a lost device fails its volume before
     * this request completes.  A write its client was told of is gone:
     * the device goes out of service whatever a probe says, before any
     * read can reach it (it is still held by this thread). */
    if (acked) {
      atomic_store(&io->target->failed, 1);
      if (vd_device_mark_lost(dq->dev))
        vd_err("%s: out of service: a write acknowledged before it landed failed",
               vd_device_info(dq->dev)->id);
      atomic_fetch_sub(&io->target->posted, 1);
    } else {
      vd_device_check(dq->dev, "a transfer");
    }
    return -EIO;
  }
  if (acked)
    atomic_fetch_sub(&io->target->posted, 1);
  if (sums) {
    vd_sums_complete(ss, ss->nslots, false);
    vd_parity_complete(ps, ps->nslots, false);
  }
  if (p->err)
    return p->err;
  atomic_fetch_add(io->op == VD_OP_READ ? &dq->d2h : &dq->h2d,
                   io->op == VD_OP_ZERO ? 0 : bytes);
  atomic_fetch_add_explicit(&dq->idle_ops, 1, memory_order_relaxed);
  return 0;
}

/* Run a one-device inline_ok request on the idle path if its device is
 * idle; false leaves it to be queued. */
static bool try_idle(struct vd_engine *eng, struct vd_io *io, unsigned pd, uint64_t lmask)
{
  struct devq *dq = &eng->dq[pd];
  struct vd_io_part *p = &io->part[pd];
  int err;

  if (!io->inline_ok || dq->idle == VD_IDLE_OFF || io->len > eng->idle_max ||
      !idle_claim(dq))
    return false;
  p->io = io;
  p->dev = pd;
  p->lmask = lmask;
  io->pmask = 1ull << pd;
  atomic_store(&io->pending, 1);
  err = idle_move(eng, dq, p);
  idle_release(dq);
  finish_part(eng, p, err);
  return true;
}

/* Which pool devices a request's parts go to, and each part's logical
 * parts: by home device while nothing moved, else by reading where each
 * segment's extent lives now (a READ of a range no chunk holds is zeroed
 * here).  Returns the mask of pool devices. */
static uint64_t route(struct vd_engine *eng, struct vd_io *io, uint64_t *lmask)
{
  struct vd_target *t = io->target;
  struct vd_map_iter it;
  struct vd_segment s;
  uint64_t mask = 0, touched;

  if (!atomic_load_explicit(&t->placed, memory_order_relaxed)) {
    touched = vd_map_devices_touched(&t->map, io->off, io->len);
    for (unsigned d = 0; d < t->map.ndev; d++)
      if (touched & (1ull << d)) {
        unsigned pd = vd_device_info(t->dev[d])->index;
        mask |= 1ull << pd;
        lmask[pd] = 1ull << d;
      }
    return mask;
  }
  vd_map_iter_init(&it, &t->map, io->off, io->len);
  while (vd_map_next(&it, &s)) {
    struct vd_extent *ext = atomic_load_explicit(&t->ext[s.dev][s.extent],
                                                 memory_order_acquire);
    unsigned pd;
    if (!ext) {
      if (io->op == VD_OP_READ)
        memset((char *)io->buf + s.buf_offset, 0, s.len);
      continue;
    }
    pd = vd_device_info(vd_extent_device(ext))->index;
    if (pd >= eng->ndev)
      continue;
    if (!(mask & (1ull << pd)))
      lmask[pd] = 0;
    mask |= 1ull << pd;
    lmask[pd] |= 1ull << s.dev;
  }
  return mask;
}

/* Split a request into per-device parts and queue them; again: not on
 * the idle path (a worker resubmits). */
static void submit(struct vd_engine *eng, struct vd_io *io, bool again)
{
  struct vd_target *t = io->target;
  uint64_t lmask[VD_MAX_DEVICES], mask;
  unsigned pd[VD_MAX_DEVICES], n = 0;
  int err = 0;

  atomic_store(&io->err, 0);
  if (!vd_map_in_range(&t->map, io->off, io->len)) {
    io->done(io, -EINVAL);
    return;
  }
  /* A lost device fails the whole volume at once, as its state says: no
   * request waits on it, and none succeeds on the devices left.  Once
   * extents moved, only the devices that hold them count. */
  for (unsigned d = 0; d < t->map.ndev && !atomic_load(&t->failed) &&
                       !atomic_load_explicit(&t->placed, memory_order_relaxed); d++)
    if (vd_device_is_lost(t->dev[d]))
      atomic_store(&t->failed, 1);
  if (atomic_load(&t->failed)) {
    io->done(io, -EIO);
    return;
  }
  if (io->op == VD_OP_FLUSH || io->len == 0) {
    /* Writes are acknowledged once on the device, or posted: a FLUSH
     * waits for those that may have been answered before it was sent,
     * then fails if one of them failed (that failed the volume). */
    if (io->op == VD_OP_FLUSH && atomic_load(&t->posted))
      vd_target_quiesce(t);
    io->done(io, atomic_load(&t->failed) ? -EIO : 0);
    return;
  }
  if (!vd_target_enter(t, io))
    return; /* parked: the target is paused for a move */
  if (!vd_map_in_range(&t->map, io->off, io->len)) {
    /* A shrink switched the map between the check above and entering. */
    vd_target_leave(t, io);
    io->done(io, -EINVAL);
    return;
  }
  if (t->stock && io->op == VD_OP_WRITE &&
      vd_target_thin_write(t, io, eng->ndev, eng->devs) == -EAGAIN) {
    vd_target_starve(t, io);
    return;
  }
  if (t->stock && io->op == VD_OP_ZERO)
    vd_target_thin_discard(t, io);
  if (t->map.copies > 1)
    mask = vd_mirror_route(eng, io, lmask, &err); /* a part on a device lost meanwhile
                                                   * is settled on the other copies */
  else
    mask = route(eng, io, lmask);
  for (unsigned k = 0; k < eng->ndev; k++)
    if (mask & (1ull << k)) {
      if (t->map.copies <= 1 && atomic_load_explicit(&t->placed, memory_order_relaxed) &&
          vd_device_is_lost(eng->dq[k].dev)) {
        atomic_store(&t->failed, 1);
        err = -EIO;
      }
      pd[n++] = k;
    }
  if (n == 0 || err) {
    /* Nothing on any device (a thin range never written), or failed. */
    vd_target_leave(t, io);
    io->done(io, err);
    return;
  }
  if (n == 1 && !again && try_idle(eng, io, pd[0], lmask[pd[0]]))
    return;
  io->pmask = mask;
  atomic_store(&io->pending, (int)n);
  for (unsigned i = 0; i < n; i++) {
    struct vd_io_part *p = &io->part[pd[i]];
    p->io = io;
    p->dev = pd[i];
    p->lmask = lmask[pd[i]];
    push_part(&eng->dq[pd[i]], p);
  }
}

/* A new request: nothing learnt yet. */
void vd_engine_submit(struct vd_engine *eng, struct vd_io *io)
{
  io->avoid = io->exclude;
  atomic_store_explicit(&io->repaired, 0, memory_order_relaxed);
  submit(eng, io, false);
}

/* The same request again. */
void vd_engine_resubmit(struct vd_engine *eng, struct vd_io *io)
{
  submit(eng, io, true);
}

/* Bytes waiting on a device's list. */
uint64_t vd_engine_load(const struct vd_engine *eng, unsigned pd)
{
  return pd < eng->ndev ? atomic_load_explicit(&eng->dq[pd].queued_bytes, memory_order_relaxed)
                        : UINT64_MAX;
}

/* A pool device by index. */
struct vd_device *vd_engine_device(const struct vd_engine *eng, unsigned pd)
{
  return eng->devs[pd];
}

struct sync_wait {
  pthread_mutex_t lock;
  pthread_cond_t cv;
  bool done;
  int err;
};

/* Completion for vd_engine_rw: wake the waiting caller. */
static void sync_done(struct vd_io *io, int err)
{
  struct sync_wait *w = io->priv;
  pthread_mutex_lock(&w->lock);
  w->done = true;
  w->err = err;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->lock);
}

/* Submit io (its caller's fields set) and wait for it: 0 or -errno. */
int vd_engine_wait_io(struct vd_engine *eng, struct vd_io *io)
{
  struct sync_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 };

  io->done = sync_done;
  io->priv = &w;
  io->inline_ok = true; /* this thread only waits */
  vd_engine_submit(eng, io);
  pthread_mutex_lock(&w.lock);
  while (!w.done)
    pthread_cond_wait(&w.cv, &w.lock);
  pthread_mutex_unlock(&w.lock);
  return w.err;
}

/* Submit one request and wait for it. */
int vd_engine_rw(struct vd_engine *eng, struct vd_target *t, enum vd_op op,
                 uint64_t off, uint64_t len, void *buf)
{
  struct vd_io *io = calloc(1, sizeof *io);
  int err;

  if (!io)
    return -ENOMEM;
  io->target = t;
  io->op = op;
  io->off = off;
  io->len = len;
  io->buf = buf;
  err = vd_engine_wait_io(eng, io);
  free(io);
  return err;
}

/* Stop and join the workers of one device. */
static void devq_stop(struct devq *dq)
{
  pthread_mutex_lock(&dq->lock);
  dq->stop = true;
  pthread_cond_broadcast(&dq->cv);
  pthread_mutex_unlock(&dq->lock);
  for (unsigned i = 0; i < dq->nw; i++) {
    if (dq->w[i].started)
      pthread_join(dq->w[i].thread, NULL);
    if (dq->w[i].q) {
      vd_small_fini(&dq->w[i].sm);
      vd_parity_fini(&dq->w[i].par);
      vd_sums_fini(&dq->w[i].sums);
      clReleaseCommandQueue(dq->w[i].q);
    }
  }
  if (dq->scrub_init)
    vd_scrubber_fini(&dq->scrub);
  if (dq->prog)
    clReleaseProgram(dq->prog);
  pthread_cond_destroy(&dq->cv);
  pthread_mutex_destroy(&dq->lock);
}

/* Create queues and threads for one device, and build its batch kernel
 * (once per device: each worker only makes its own kernel object). */
static int devq_start(const struct vd_engine *eng, struct devq *dq, struct vd_device *dev,
                      unsigned nw, unsigned batch, unsigned depth, char *err, size_t errlen)
{
  cl_int rc;

  pthread_mutex_init(&dq->lock, NULL);
  pthread_cond_init(&dq->cv, NULL);
  dq->dev = dev;
  dq->eng = (struct vd_engine *)eng;
  dq->idle = eng->idle != VD_IDLE_DEFAULT ? eng->idle :
             vd_device_info(dev)->type == VD_DEV_CPU ? VD_IDLE_CPU_DEFAULT : VD_IDLE_GPU_DEFAULT;
  dq->batch = batch;
  dq->depth = depth;
  dq->small_min = eng->small_min;
  dq->fill = eng->fill;
  dq->poll_ns = eng->poll_ns == VD_POLL_OFF ? 0 :
                eng->poll_ns != VD_POLL_DEFAULT ? eng->poll_ns :
                vd_device_info(dev)->type == VD_DEV_CPU ? VD_POLL_CPU_DEFAULT_NS :
                VD_POLL_GPU_DEFAULT_NS;
  dq->pin_q = clCreateCommandQueueWithProperties(vd_device_context(dev), vd_device_cl(dev),
                                                 NULL, &rc);
  if (rc != CL_SUCCESS) {
    dq->pin_q = NULL;
    snprintf(err, errlen, "%s: cannot create the staging queue: %s",
             vd_device_info(dev)->id, vd_cl_strerror(rc));
    return -EIO;
  }
  /* Built with the small path off too: checksums need its kernels. */
  dq->prog = vd_small_program(dev);
  vd_scrubber_init(&dq->scrub, dq->prog, dev);
  dq->scrub_init = true;
  for (unsigned i = 0; i < nw; i++) {
    struct worker *w = &dq->w[i];
    w->dq = dq;
    w->q = clCreateCommandQueueWithProperties(vd_device_context(dev), vd_device_cl(dev),
                                              NULL, &rc);
    dq->nw = i + 1;
    if (rc != CL_SUCCESS) {
      w->q = NULL;
      snprintf(err, errlen, "%s: cannot create queue %u: %s",
               vd_device_info(dev)->id, i, vd_cl_strerror(rc));
      return -EIO;
    }
    vd_small_init(&w->sm, eng->small ? dq->prog : NULL, dev, w->q, depth, eng->small_stage,
                  eng->small_max);
    vd_sums_init(&w->sums, dq->prog, dev, w->q, depth, &dq->sum_errors);
    vd_parity_init(&w->par, dq->prog, dev, w->q, depth, &w->sums, &dq->par_repaired);
    w->sm.sums = &w->sums;
    w->sm.par = &w->par;
    if (vd_thread_start(&w->thread, WORKER_STACK, worker_main, w) != 0) {
      snprintf(err, errlen, "%s: cannot start worker thread", vd_device_info(dev)->id);
      return -EAGAIN;
    }
    w->started = true;
  }
  return 0;
}

/* Say what the small-request path holds, so its memory is never a surprise. */
static void log_small(const struct vd_engine *eng)
{
  struct vd_engine_small_stats st;
  char a[32], b[32], c[32];

  if (!eng->small)
    return;
  vd_engine_small_stats(eng, &st);
  vd_info("engine: small requests (segments up to %s) batched on %u of %u devices; "
          "staging %s pinned host memory and %s device memory in all",
          vd_format_size(eng->small_max, a, sizeof a), st.devices, eng->ndev,
          vd_format_size(st.stage_bytes, b, sizeof b),
          vd_format_size(st.scratch_bytes, c, sizeof c));
}

/* Start workers on every device of the pool. */
int vd_engine_start(struct vd_pool *pool, const struct vd_engine_config *cfg,
                    struct vd_engine **out, char *err, size_t errlen)
{
  struct vd_engine *eng = calloc(1, sizeof *eng);
  unsigned nw = cfg && cfg->workers_per_device ? cfg->workers_per_device : DEFAULT_WORKERS;
  unsigned batch = cfg && cfg->batch ? cfg->batch : DEFAULT_BATCH;
  unsigned depth = cfg && cfg->depth ? cfg->depth : DEFAULT_DEPTH;
  struct vd_device *first = vd_pool_device(pool, 0);
  int ret;

  if (nw > MAX_WORKERS) nw = MAX_WORKERS;
  if (batch > DEFAULT_BATCH * 8) batch = DEFAULT_BATCH * 8;
  if (depth > MAX_DEPTH) depth = MAX_DEPTH;
  if (!eng || !first) {
    free(eng);
    snprintf(err, errlen, eng ? "the pool has no device" : "out of memory");
    return eng ? -ENODEV : -ENOMEM;
  }
  eng->pool = pool;
  eng->small = !cfg || cfg->small != VD_SMALL_OFF;
  eng->small_max = cfg && cfg->small_max ? cfg->small_max : VD_SMALL_MAX_DEFAULT;
  eng->small_stage = cfg && cfg->small_stage ? cfg->small_stage : VD_SMALL_STAGE_DEFAULT;
  eng->idle = cfg ? cfg->idle : VD_IDLE_DEFAULT;
  eng->idle_max = cfg && cfg->idle_max ? cfg->idle_max : VD_IDLE_MAX_DEFAULT;
  eng->ack_queued = (cfg && cfg->write_ack ? cfg->write_ack : VD_ACK_DEFAULT_MODE) ==
                    VD_ACK_QUEUED;
  eng->poll_ns = cfg && cfg->poll_ns ? cfg->poll_ns : VD_POLL_DEFAULT;
  eng->small_min = cfg && cfg->small_min ? cfg->small_min : VD_SMALL_MIN_DEFAULT;
  eng->fill = cfg && cfg->fill ? cfg->fill : VD_FILL_DEFAULT;
  if (eng->fill > batch) eng->fill = batch;
  if (eng->small_min > DEFAULT_BATCH * 8) eng->small_min = DEFAULT_BATCH * 8;
  /* Bounded: a slot per batch in flight, each at least 8 KiB. */
  if (eng->small_stage > MAX_SMALL_STAGE) eng->small_stage = MAX_SMALL_STAGE;
  if (eng->small_stage < depth * 8192ull) eng->small_stage = depth * 8192ull;
  pthread_mutex_init(&eng->pin_lock, NULL);
  eng->dq = calloc(vd_pool_count(pool), sizeof *eng->dq);
  if (!eng->dq) {
    ret = -ENOMEM;
    snprintf(err, errlen, "out of memory");
    goto out_free;
  }
  for (unsigned i = 0; i < vd_pool_count(pool); i++) {
    eng->ndev = i + 1;
    eng->devs[i] = vd_pool_device(pool, i);
    ret = devq_start(eng, &eng->dq[i], vd_pool_device(pool, i), nw, batch, depth, err, errlen);
    if (ret)
      goto out_stop;
  }
  log_small(eng);
  *out = eng;
  return 0;

out_stop:
  vd_engine_stop(eng);
  return ret;
out_free:
  free(eng->dq);
  pthread_mutex_destroy(&eng->pin_lock);
  free(eng);
  return ret;
}

/* Drain and stop every device's workers, free pinned memory. */
void vd_engine_stop(struct vd_engine *eng)
{
  if (!eng)
    return;
  for (unsigned i = 0; i < eng->ndev; i++)
    devq_stop(&eng->dq[i]);
  while (eng->pins)
    vd_engine_pinned_free(eng, eng->pins->ptr);
  for (unsigned i = 0; i < eng->ndev; i++)
    if (eng->dq[i].pin_q)
      clReleaseCommandQueue(eng->dq[i].pin_q);
  pthread_mutex_destroy(&eng->pin_lock);
  free(eng->dq);
  free(eng);
}

/* Pin and map bytes in one device's context; false if it refuses. */
static bool pin_on(struct devq *dq, struct pinned *p, size_t bytes)
{
  cl_int rc;
  p->mem = clCreateBuffer(vd_device_context(dq->dev), CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR,
                          bytes, NULL, &rc);
  if (rc != CL_SUCCESS)
    return false;
  p->ptr = clEnqueueMapBuffer(dq->pin_q, p->mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE,
                              0, bytes, 0, NULL, NULL, &rc);
  if (rc != CL_SUCCESS) {
    clReleaseMemObject(p->mem);
    return false;
  }
  p->q = dq->pin_q;
  return true;
}

/* Allocate host memory the driver pins, mapped once for the CPU, in the
 * first device's context that is not lost and agrees: a lost device must
 * not stop new sessions on the others. */
void *vd_engine_pinned_alloc(struct vd_engine *eng, size_t bytes)
{
  struct pinned *p = calloc(1, sizeof *p);
  bool ok = false;

  if (!p || bytes == 0)
    goto out_free;
  for (unsigned i = 0; i < eng->ndev && !ok; i++)
    if ((ok = !vd_device_is_lost(eng->dq[i].dev) && pin_on(&eng->dq[i], p, bytes)))
      p->share = vd_pool_share_pinned(eng->pool, eng->dq[i].dev, p->ptr, bytes);
  if (!ok)
    goto out_free;
  pthread_mutex_lock(&eng->pin_lock);
  p->next = eng->pins;
  eng->pins = p;
  pthread_mutex_unlock(&eng->pin_lock);
  return p->ptr;

out_free:
  free(p);
  return NULL;
}

/* Unmap and free pinned memory from vd_engine_pinned_alloc. */
void vd_engine_pinned_free(struct vd_engine *eng, void *ptr)
{
  struct pinned **pp, *p = NULL;

  if (!ptr)
    return;
  pthread_mutex_lock(&eng->pin_lock);
  for (pp = &eng->pins; *pp; pp = &(*pp)->next)
    if ((*pp)->ptr == ptr) {
      p = *pp;
      *pp = p->next;
      break;
    }
  pthread_mutex_unlock(&eng->pin_lock);
  if (!p)
    return;
  vd_pool_unshare_pinned(p->share);
  clEnqueueUnmapMemObject(p->q, p->mem, p->ptr, 0, NULL, NULL);
  clFinish(p->q);
  clReleaseMemObject(p->mem);
  free(p);
}

/* Bytes moved by one pool device's workers. */
void vd_engine_device_bytes(const struct vd_engine *eng, unsigned dev,
                            uint64_t *h2d, uint64_t *d2h)
{
  *h2d = dev < eng->ndev ? atomic_load(&eng->dq[dev].h2d) : 0;
  *d2h = dev < eng->ndev ? atomic_load(&eng->dq[dev].d2h) : 0;
}

/* The scrubber of the device that holds ext. */
static struct vd_scrubber *scrubber_of(struct vd_engine *eng, const struct vd_extent *ext)
{
  unsigned pd = vd_device_info(vd_extent_device(ext))->index;
  return pd < eng->ndev && !vd_device_is_lost(eng->dq[pd].dev) ? &eng->dq[pd].scrub : NULL;
}

/* Check blocks of an extent on its device's scrubber. */
int vd_engine_scrub(struct vd_engine *eng, struct vd_extent *ext, uint64_t first, uint64_t n,
                    uint32_t *bad, unsigned cap, uint64_t *nbad)
{
  struct vd_scrubber *sc = scrubber_of(eng, ext);
  *nbad = 0;
  return sc ? vd_scrubber_run(sc, ext, first, n, bad, cap, nbad) : -EIO;
}

/* Flip bits of an extent's data on its device's scrubber. */
int vd_engine_flip(struct vd_engine *eng, struct vd_extent *ext, uint64_t off, uint8_t mask)
{
  struct vd_scrubber *sc = scrubber_of(eng, ext);
  return sc ? vd_scrubber_flip(sc, ext, off, mask) : -EIO;
}

/* Checksum mismatches reads found on one pool device. */
uint64_t vd_engine_device_sum_errors(const struct vd_engine *eng, unsigned dev)
{
  return dev < eng->ndev ? atomic_load(&eng->dq[dev].sum_errors) : 0;
}

/* Bad blocks reads rebuilt from parity on one pool device. */
uint64_t vd_engine_device_par_repaired(const struct vd_engine *eng, unsigned dev)
{
  return dev < eng->ndev ? atomic_load(&eng->dq[dev].par_repaired) : 0;
}

/* Compute a parity group anew on its device's scrubber. */
int vd_engine_parity_fix(struct vd_engine *eng, struct vd_extent *ext, uint64_t group)
{
  struct vd_scrubber *sc = scrubber_of(eng, ext);
  return sc ? vd_scrubber_parity_fix(sc, ext, group) : -EIO;
}

/* Sum the small-request path over every device's workers. */
void vd_engine_small_stats(const struct vd_engine *eng, struct vd_engine_small_stats *st)
{
  memset(st, 0, sizeof *st);
  for (unsigned d = 0; d < eng->ndev; d++) {
    const struct devq *dq = &eng->dq[d];
    bool on = false;
    st->workers += dq->nw;
    st->idle += atomic_load_explicit(&dq->idle_ops, memory_order_relaxed);
    for (unsigned i = 0; i < dq->nw; i++) {
      const struct vd_small *sm = &dq->w[i].sm;
      if (!sm->on)
        continue;
      on = true;
      st->stage_bytes += sm->bytes;
      st->scratch_bytes += sm->bytes;
      st->segments += atomic_load_explicit(&sm->segments, memory_order_relaxed);
      st->launches += atomic_load_explicit(&sm->launches, memory_order_relaxed);
    }
    st->devices += on;
  }
}

/* Sum the profile of one pool device's workers. */
void vd_engine_device_profile(const struct vd_engine *eng, unsigned dev,
                              struct vd_engine_profile *p)
{
  memset(p, 0, sizeof *p);
  if (dev >= eng->ndev)
    return;
  const struct devq *dq = &eng->dq[dev];
  for (unsigned i = 0; i < dq->nw; i++) {
    const struct vd_engine_profile *w = &dq->w[i].prof;
#define SUM(f) p->f += atomic_load_explicit(&w->f, memory_order_relaxed)
    SUM(batches); SUM(parts); SUM(sleeps); SUM(sleep_ns); SUM(poll_ns);
    SUM(enqueue_ns); SUM(wait_ns); SUM(complete_ns);
#undef SUM
  }
  pthread_mutex_lock((pthread_mutex_t *)&dq->lock);
  p->signals = dq->signals;
  pthread_mutex_unlock((pthread_mutex_t *)&dq->lock);
}
