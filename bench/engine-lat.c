/* engine-lat.c: queue-depth-1 latency of the engine and of a bare copy
 * (engine-bench --latency).  A page fault on swap waits for one 4 KiB
 * read, so what counts is the time of one request, not the rate of many. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-lat.h"
#include "pool-cl.h"
#include "util.h"

#define MAX_SAMPLES (1u << 22)

static uint32_t *samples; /* ns per request of the current job */

/* qsort order for samples. */
static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* The p-th quantile of n sorted samples, in microseconds. */
static double quantile_us(const uint32_t *s, size_t n, double p)
{
  size_t i = (size_t)(p * (double)n);
  return (double)s[i < n ? i : n - 1] / 1000.0;
}

/* Sort n samples and print one result line. */
static void report(const char *label, const char *job, uint64_t bs, size_t n, double secs)
{
  char sz[32];
  qsort(samples, n, sizeof *samples, cmp_u32);
  printf("qd1  %-9s %-10s %8s p50 %7.1f p99 %7.1f p99.9 %7.1f us %9.0f IOPS\n", label, job,
         vd_format_size(bs, sz, sizeof sz), quantile_us(samples, n, 0.50),
         quantile_us(samples, n, 0.99), quantile_us(samples, n, 0.999), (double)n / secs);
  fflush(stdout);
}

/* Take the sample buffer once. */
static int samples_ready(void)
{
  if (!samples)
    samples = malloc(MAX_SAMPLES * sizeof *samples);
  if (!samples)
    fprintf(stderr, "engine-bench: out of memory for latency samples\n");
  return samples ? 0 : -1;
}

/* Next random bs-aligned offset below size. */
static uint64_t rand_off(uint64_t *rng, uint64_t size, uint64_t bs)
{
  *rng ^= *rng << 13;
  *rng ^= *rng >> 7;
  *rng ^= *rng << 17;
  return (*rng % (size / bs)) * bs;
}

struct waiter {
  atomic_int done;
  atomic_int err;
};

/* Completion: record and release the spinning submitter. */
static void lat_done(struct vd_io *io, int err)
{
  struct waiter *w = io->priv;
  atomic_store(&w->err, err);
  atomic_store_explicit(&w->done, 1, memory_order_release);
}

/* Run one op through the engine at QD1; the waiting side spins, so the
 * figure is the engine's time, not this thread's wake-up. */
int lat_engine(struct vd_engine *eng, struct vd_volume *v, const char *label,
               unsigned char *buf, uint64_t bs, double secs, lat_prep_fn prep)
{
  static const struct { const char *name; enum vd_op op; } jobs[] = {
    { "rand-read", VD_OP_READ }, { "rand-write", VD_OP_WRITE },
  };
  uint64_t rng = 0x2545f4914f6cdd1dull;

  if (samples_ready())
    return -1;
  for (unsigned j = 0; j < 2; j++) {
    struct waiter w;
    struct vd_io io = { .target = &v->target, .op = jobs[j].op, .len = bs, .buf = buf,
                        .done = lat_done, .priv = &w, .inline_ok = true };
    uint64_t end = vd_now_ns() + (uint64_t)(secs * 1e9), t0;
    size_t n = 0;
    double t_start = (double)vd_now_ns();

    while (n < MAX_SAMPLES && vd_now_ns() < end) {
      io.off = rand_off(&rng, v->size, bs);
      if (io.op == VD_OP_WRITE)
        prep(buf, io.off, bs);
      atomic_store(&w.done, 0);
      t0 = vd_now_ns();
      vd_engine_submit(eng, &io);
      while (!atomic_load_explicit(&w.done, memory_order_acquire))
        ;
      samples[n++] = (uint32_t)(vd_now_ns() - t0);
      if (atomic_load(&w.err)) {
        fprintf(stderr, "engine-bench: %s at QD1 failed\n", jobs[j].name);
        return -1;
      }
    }
    report(label, jobs[j].name, bs, n, ((double)vd_now_ns() - t_start) / 1e9);
  }
  return 0;
}

/* One bare copy; poll: enqueue without blocking and spin on its event. */
static cl_int bare_copy(cl_command_queue q, cl_mem m, bool write, bool poll, uint64_t off,
                        uint64_t bs, unsigned char *buf)
{
  cl_event ev = NULL;
  cl_int rc, st = CL_QUEUED;

  rc = write ? clEnqueueWriteBuffer(q, m, !poll, off, bs, buf, 0, NULL, poll ? &ev : NULL)
             : clEnqueueReadBuffer(q, m, !poll, off, bs, buf, 0, NULL, poll ? &ev : NULL);
  if (rc != CL_SUCCESS || !poll)
    return rc;
  clFlush(q);
  while (rc == CL_SUCCESS && st > CL_COMPLETE)
    rc = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
  clReleaseEvent(ev);
  return rc != CL_SUCCESS ? rc : st;
}

/* Blocking and polled bare copies on v's first extent. */
int lat_bare(struct vd_volume *v, unsigned char *buf, uint64_t bs, double secs)
{
  struct vd_extent *ext = v->target.ext[0][0];
  struct vd_device *dev = vd_extent_device(ext);
  uint64_t size = vd_extent_bytes(ext), rng = 0x9e3779b97f4a7c15ull;
  cl_command_queue q;
  cl_int rc;

  if (samples_ready())
    return -1;
  q = clCreateCommandQueueWithProperties(vd_device_context(dev), vd_device_cl(dev), NULL, &rc);
  if (rc != CL_SUCCESS) {
    fprintf(stderr, "engine-bench: cannot create a queue: %s\n", vd_cl_strerror(rc));
    return -1;
  }
  for (unsigned k = 0; k < 4 && rc == CL_SUCCESS; k++) {
    bool write = k & 1, poll = k >> 1;
    uint64_t end = vd_now_ns() + (uint64_t)(secs * 1e9), t0;
    double t_start = (double)vd_now_ns();
    size_t n = 0;
    while (rc == CL_SUCCESS && n < MAX_SAMPLES && (t0 = vd_now_ns()) < end) {
      rc = bare_copy(q, vd_extent_mem(ext), write, poll, rand_off(&rng, size, bs), bs, buf);
      samples[n++] = (uint32_t)(vd_now_ns() - t0);
    }
    if (rc != CL_SUCCESS)
      fprintf(stderr, "engine-bench: bare copy failed: %s\n", vd_cl_strerror(rc));
    else
      report(poll ? "bare-poll" : "bare", write ? "rand-write" : "rand-read", bs, n,
             ((double)vd_now_ns() - t_start) / 1e9);
  }
  clReleaseCommandQueue(q);
  return rc == CL_SUCCESS ? 0 : -1;
}
