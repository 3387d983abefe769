/* test_engine.c: the pool, volumes and the engine on real OpenCL (PoCL
 * with two CPU devices in CI), checked against a host-memory model.  The
 * I/O tests run four times: direct transfers only, the batched
 * small-request path with its defaults (idle path off), that path with
 * staging so tight that batches overflow into direct transfers, and the
 * idle path waiting by polling instead of blocking. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "fault.h"
#include "../unit/runner.h"
#include "volume.h"

static struct vd_pool *pool;
static struct vd_engine *eng;
static char err[512];
static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* xorshift64: deterministic test data. */
static uint64_t next_rand(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Fill buf with random bytes. */
static void fill_random(unsigned char *buf, size_t n)
{
  for (size_t i = 0; i < n; i++)
    buf[i] = (unsigned char)next_rand();
}

/* Total bytes allocated over the pool. */
static uint64_t pool_allocated(void)
{
  uint64_t t = 0;
  for (unsigned i = 0; i < vd_pool_count(pool); i++)
    t += vd_device_allocated(vd_pool_device(pool, i));
  return t;
}

/* A spec with defaults and the given layout over every device. */
static struct vd_volume_spec spec_of(const char *name, uint64_t size,
                                     enum vd_layout layout, uint64_t unit)
{
  struct vd_volume_spec s;
  memset(&s, 0, sizeof s);
  strcpy(s.name, name);
  s.size = size;
  s.layout = layout;
  s.stripe_unit = unit;
  s.index = -1;
  return s;
}

/* Random I/O against a model of the volume; checks every read. */
static void model_check(struct vd_volume *v, unsigned rounds)
{
  uint64_t size = v->size;
  unsigned char *model = calloc(1, size), *buf = malloc(1 << 21);
  CU_ASSERT_FATAL(model && buf);

  /* A new volume reads as zeros. */
  for (uint64_t off = 0; off < size; off += 1 << 21) {
    uint64_t n = size - off < (1 << 21) ? size - off : (1 << 21);
    CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, off, n, buf), 0);
    CU_ASSERT_EQUAL(memcmp(buf, model + off, n), 0);
  }
  for (unsigned r = 0; r < rounds; r++) {
    /* Half small (the batch path), half up to 2 MiB (direct, rectangular). */
    uint64_t len = 1 + next_rand() % (r % 2 ? 9000 : 1 << 21);
    uint64_t off;
    unsigned op = (unsigned)(next_rand() % 3);
    if (len > size) len = size;
    off = next_rand() % (size - len + 1);
    if (r % 4 == 0) { /* sector-aligned, like a kernel client */
      off &= ~4095ull;
      len = (len + 4095) & ~4095ull;
      if (off + len > size) len = size - off;
    }
    if (op == 0) {
      fill_random(buf, len);
      CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, off, len, buf), 0);
      memcpy(model + off, buf, len);
    } else if (op == 1) {
      CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_ZERO, off, len, NULL), 0);
      memset(model + off, 0, len);
    } else {
      CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, off, len, buf), 0);
      CU_ASSERT_EQUAL(memcmp(buf, model + off, len), 0);
    }
  }
  for (uint64_t off = 0; off < size; off += 1 << 21) {
    uint64_t n = size - off < (1 << 21) ? size - off : (1 << 21);
    CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, off, n, buf), 0);
    CU_ASSERT_EQUAL(memcmp(buf, model + off, n), 0);
  }
  free(model);
  free(buf);
}

static void test_pool(void)
{
  CU_ASSERT(vd_pool_count(pool) >= 2);
  for (unsigned i = 0; i < vd_pool_count(pool); i++) {
    const struct vd_device_info *in = vd_device_info(vd_pool_device(pool, i));
    CU_ASSERT(in->capacity_bytes > 0);
    CU_ASSERT(in->capacity_bytes <= in->free_bytes);
    CU_ASSERT(in->max_alloc_bytes > 0);
    CU_ASSERT(in->id[0] != '\0');
    CU_ASSERT_PTR_EQUAL(vd_pool_find(pool, in->id), vd_pool_device(pool, i));
  }
  CU_ASSERT_PTR_NULL(vd_pool_find(pool, "gpu99"));
}

static void test_stripe_model(void)
{
  /* 1 MiB extents force many extents per device; odd size tests rounding. */
  struct vd_volume_spec s = spec_of("s1", (23ull << 20) + 5, VD_LAYOUT_STRIPE, 64 << 10);
  struct vd_volume *v;
  uint64_t before = pool_allocated();
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), 0);
  CU_ASSERT_EQUAL(v->size % ((64 << 10) * v->spec.ndev), 0);
  CU_ASSERT(v->size >= s.size);
  CU_ASSERT_EQUAL(pool_allocated() - before, v->size);
  model_check(v, 300);
  vd_volume_put(v);
  CU_ASSERT_EQUAL(pool_allocated(), before);
}

static void test_concat_model(void)
{
  struct vd_volume_spec s = spec_of("c1", 9ull << 20, VD_LAYOUT_CONCAT, 0);
  struct vd_volume *v;
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 3 << 20, &s, &v, err, sizeof err), 0);
  model_check(v, 200);
  vd_volume_put(v);
}

/* Many requests in flight at once on disjoint ranges. */
struct slot { struct vd_io io; unsigned char *buf; pthread_mutex_t *lock; pthread_cond_t *cv; int *left; int err; };

static void slot_done(struct vd_io *io, int e)
{
  struct slot *s = io->priv;
  s->err = e;
  pthread_mutex_lock(s->lock);
  if (--*s->left == 0)
    pthread_cond_signal(s->cv);
  pthread_mutex_unlock(s->lock);
}

/* Submit every slot's I/O of op and wait for all. */
static void run_slots(struct slot *slots, int n, enum vd_op op)
{
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  int left = n;
  for (int i = 0; i < n; i++) {
    slots[i].lock = &lock;
    slots[i].cv = &cv;
    slots[i].left = &left;
    slots[i].io.op = op;
    vd_engine_submit(eng, &slots[i].io);
  }
  pthread_mutex_lock(&lock);
  while (left)
    pthread_cond_wait(&cv, &lock);
  pthread_mutex_unlock(&lock);
}

static void test_concurrent(void)
{
  enum { N = 64, LEN = 200 << 10 };
  struct vd_volume_spec s = spec_of("q1", (uint64_t)N * LEN, VD_LAYOUT_STRIPE, 16 << 10);
  struct vd_volume *v;
  struct slot *slots = calloc(N, sizeof *slots);
  unsigned char *expect = malloc((size_t)N * LEN);

  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 4 << 20, &s, &v, err, sizeof err), 0);
  fill_random(expect, (size_t)N * LEN);
  for (int i = 0; i < N; i++) {
    slots[i].buf = vd_engine_pinned_alloc(eng, LEN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(slots[i].buf);
    memcpy(slots[i].buf, expect + (size_t)i * LEN, LEN);
    slots[i].io.target = &v->target;
    slots[i].io.off = (uint64_t)i * LEN;
    slots[i].io.len = LEN;
    slots[i].io.buf = slots[i].buf;
    slots[i].io.done = slot_done;
    slots[i].io.priv = &slots[i];
  }
  run_slots(slots, N, VD_OP_WRITE);
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL(slots[i].err, 0);
    memset(slots[i].buf, 0xee, LEN);
  }
  run_slots(slots, N, VD_OP_READ);
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL(slots[i].err, 0);
    CU_ASSERT_EQUAL(memcmp(slots[i].buf, expect + (size_t)i * LEN, LEN), 0);
    vd_engine_pinned_free(eng, slots[i].buf);
  }
  vd_volume_put(v);
  free(slots);
  free(expect);
}

static void test_range_errors(void)
{
  struct vd_volume_spec s = spec_of("r1", 1 << 20, VD_LAYOUT_STRIPE, 0);
  struct vd_volume *v;
  char buf[8192];
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, v->size, 1, buf), -EINVAL);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, v->size - 4096, 8192, buf), -EINVAL);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, UINT64_MAX - 10, 4096, buf), -EINVAL);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, v->size - 1, 1, buf), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, v->size, 0, buf), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_FLUSH, 0, 0, NULL), 0);
  atomic_store(&v->target.failed, 1);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, 4096, buf), -EIO);
  vd_volume_put(v);
}

static void test_bad_specs(void)
{
  struct vd_volume_spec s = spec_of("b1", 1 << 20, VD_LAYOUT_STRIPE, 3 << 12);
  struct vd_volume *v = NULL;
  uint64_t before = pool_allocated();

  CU_ASSERT_EQUAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "power of two"));
  s.stripe_unit = 2 << 20;
  CU_ASSERT_EQUAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), -EINVAL);
  s.stripe_unit = 0;
  s.ndev = 2;
  strcpy(s.dev_ids[0], vd_device_info(vd_pool_device(pool, 0))->id);
  strcpy(s.dev_ids[1], "gpu77");
  CU_ASSERT_EQUAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "gpu77"));
  strcpy(s.dev_ids[1], s.dev_ids[0]);
  CU_ASSERT_EQUAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "twice"));
  s = spec_of("Bad/Name", 1 << 20, VD_LAYOUT_STRIPE, 0);
  CU_ASSERT_EQUAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), -EINVAL);
  s = spec_of("huge", 1ull << 55, VD_LAYOUT_STRIPE, 0);
  CU_ASSERT_EQUAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), -ENOSPC);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "at most"));
  s.layout = VD_LAYOUT_CONCAT;
  CU_ASSERT_EQUAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), -ENOSPC);
  s = spec_of("overflow", UINT64_MAX - 5, VD_LAYOUT_STRIPE, 0);
  CU_ASSERT_EQUAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), -ENOSPC);
  CU_ASSERT_PTR_NULL(v);
  CU_ASSERT_EQUAL(pool_allocated(), before);
}

static void test_alloc_fault(void)
{
  struct vd_volume_spec s = spec_of("f1", 16 << 20, VD_LAYOUT_STRIPE, 0);
  struct vd_volume *v = NULL;
  uint64_t before = pool_allocated();

  setenv("VRAMD_FAULTS", "1", 1);
  vd_fault_alloc_after(5); /* fails halfway through 16 extents */
  CU_ASSERT_EQUAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), -ENOMEM);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "could not allocate"));
  CU_ASSERT_PTR_NULL(v);
  CU_ASSERT_EQUAL(pool_allocated(), before);
  unsetenv("VRAMD_FAULTS");
}

static void test_no_leak_between_volumes(void)
{
  struct vd_volume_spec s = spec_of("l1", 8 << 20, VD_LAYOUT_STRIPE, 0);
  struct vd_volume *v;
  unsigned char *buf = malloc(8 << 20), *zero = calloc(1, 8 << 20);

  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 2 << 20, &s, &v, err, sizeof err), 0);
  memset(buf, 0xa5, 8 << 20);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, 0, 8 << 20, buf), 0);
  vd_volume_put(v);
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 2 << 20, &s, &v, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, 8 << 20, buf), 0);
  CU_ASSERT_EQUAL(memcmp(buf, zero, 8 << 20), 0);
  vd_volume_put(v);
  free(buf);
  free(zero);
}

/* Completion for requests a test submits without waiting on each. */
struct pending {
  pthread_mutex_t lock;
  pthread_cond_t cv;
  int left;
  int errors;
};

/* Count one finished request of a struct pending (io->priv). */
static void pending_done(struct vd_io *io, int e)
{
  struct pending *pd = io->priv;
  pthread_mutex_lock(&pd->lock);
  pd->errors += e != 0;
  if (--pd->left == 0)
    pthread_cond_signal(&pd->cv);
  pthread_mutex_unlock(&pd->lock);
}

/* Submit io[0..n) in order from this thread, then wait for all. */
static int submit_all(struct vd_io *io, int n)
{
  struct pending pd = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, n, 0 };
  for (int i = 0; i < n; i++) {
    io[i].done = pending_done;
    io[i].priv = &pd;
    vd_engine_submit(eng, &io[i]);
  }
  pthread_mutex_lock(&pd.lock);
  while (pd.left)
    pthread_cond_wait(&pd.cv, &pd.lock);
  pthread_mutex_unlock(&pd.lock);
  return pd.errors;
}

/* The whole volume must read back as the model. */
static void check_whole(struct vd_volume *v, const unsigned char *model)
{
  unsigned char *buf = malloc(v->size);
  CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, v->size, buf), 0);
  CU_ASSERT_EQUAL(memcmp(buf, model, v->size), 0);
  free(buf);
}

/* Many small requests in flight at odd offsets and lengths on disjoint
 * ranges, crossing stripe units, devices and extents: write, zero some,
 * read back, all at once. */
static void small_concurrent(struct vd_volume *v, int n)
{
  enum { N = 200, R = 5000 };
  struct vd_io *io = calloc(N, sizeof *io);
  unsigned char *model = calloc(1, v->size), *data = malloc((size_t)N * R);
  uint64_t off[N], len[N];

  CU_ASSERT_FATAL(io && model && data && n == N && v->size >= (uint64_t)N * R);
  for (int i = 0; i < N; i++) {
    off[i] = (uint64_t)i * R + next_rand() % 64;
    len[i] = 1 + next_rand() % (R - 64);
    io[i] = (struct vd_io){ .target = &v->target, .op = VD_OP_WRITE, .off = off[i],
                            .len = len[i], .buf = data + (size_t)i * R };
    fill_random(io[i].buf, len[i]);
    memcpy(model + off[i], io[i].buf, len[i]);
  }
  CU_ASSERT_EQUAL(submit_all(io, N), 0);
  for (int i = 0; i < N; i += 3) {
    io[i].op = VD_OP_ZERO;
    memset(model + off[i], 0, len[i]);
  }
  CU_ASSERT_EQUAL(submit_all(io, N), 0); /* every third zeroes, the rest rewrite */
  for (int i = 0; i < N; i++) {
    io[i].op = VD_OP_READ;
    memset(io[i].buf, 0xee, len[i]);
  }
  CU_ASSERT_EQUAL(submit_all(io, N), 0);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(memcmp(io[i].buf, model + off[i], len[i]), 0);
  check_whole(v, model);
  free(io);
  free(model);
  free(data);
}

/* Run check(v, n) on a striped volume (4 KiB unit) and on a concat one,
 * both of size bytes in extents of extent bytes. */
static void on_two_layouts(void (*check)(struct vd_volume *, int), int n, uint64_t size,
                           uint64_t extent)
{
  struct vd_volume_spec s = spec_of("two1", size, VD_LAYOUT_STRIPE, 4 << 10);
  struct vd_volume *v;
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, extent, &s, &v, err, sizeof err), 0);
  check(v, n);
  vd_volume_put(v);
  s = spec_of("two2", size, VD_LAYOUT_CONCAT, 0);
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, extent, &s, &v, err, sizeof err), 0);
  check(v, n);
  vd_volume_put(v);
}

static void test_small_concurrent(void)
{
  /* 64 KiB extents: small requests cross units, devices and extents. */
  on_two_layouts(small_concurrent, 200, 1 << 20, 64 << 10);
}

/* Reads, writes and zeroes to overlapping ranges, all in flight at once
 * from one thread: the engine keeps each device's work in submission
 * order, idle path or not, so every read must see exactly the writes
 * submitted before it. */
static void ordered_mixed(struct vd_volume *v, int n)
{
  struct vd_io *io = calloc((size_t)n, sizeof *io);
  unsigned char **expect = calloc((size_t)n, sizeof *expect);
  unsigned char *model = calloc(1, v->size);

  CU_ASSERT_FATAL(io && expect && model);
  for (int i = 0; i < n; i++) {
    unsigned kind = (unsigned)(next_rand() % 10);
    uint64_t len = 1 + next_rand() % (i % 8 ? 6000 : 40000);
    uint64_t off;
    if (len > v->size) len = v->size;
    off = next_rand() % (v->size - len + 1);
    io[i] = (struct vd_io){ .target = &v->target, .off = off, .len = len };
    io[i].op = kind < 4 ? VD_OP_WRITE : kind < 8 ? VD_OP_READ : VD_OP_ZERO;
    /* Some may take the idle path whenever the device drains meanwhile. */
    io[i].inline_ok = i % 3 == 0;
    io[i].buf = malloc(len);
    expect[i] = malloc(len);
    CU_ASSERT_FATAL(io[i].buf && expect[i]);
    if (io[i].op == VD_OP_WRITE) {
      fill_random(io[i].buf, len);
      memcpy(model + off, io[i].buf, len);
    } else if (io[i].op == VD_OP_ZERO) {
      memset(model + off, 0, len);
    } else {
      memset(io[i].buf, 0xee, len);
      memcpy(expect[i], model + off, len);
    }
  }
  CU_ASSERT_EQUAL(submit_all(io, n), 0);
  for (int i = 0; i < n; i++) {
    if (io[i].op == VD_OP_READ)
      CU_ASSERT_EQUAL(memcmp(io[i].buf, expect[i], io[i].len), 0);
    free(io[i].buf);
    free(expect[i]);
  }
  check_whole(v, model);
  free(io);
  free(expect);
  free(model);
}

static void test_ordered_mixed(void)
{
  /* A small volume, so requests overlap all the time. */
  on_two_layouts(ordered_mixed, 3000, 256 << 10, 32 << 10);
}

/* The engine configuration each suite runs under. */
static struct vd_engine_config suite_cfg;

struct probe {
  pthread_t thread;
  atomic_int done;
  int err;
  int acked;             /* acked() calls */
  bool acked_first;      /* the last one came before done() */
};

/* Early answer of a WRITE: note that it came, and before done(). */
static void probe_acked(struct vd_io *io)
{
  struct probe *p = io->priv;
  p->acked++;
  p->acked_first = !atomic_load(&p->done);
}

/* Completion: note the thread it ran on. */
static void probe_done(struct vd_io *io, int e)
{
  struct probe *p = io->priv;
  p->thread = pthread_self();
  p->err = e;
  atomic_store(&p->done, 1);
}

/* Submit one request and wait; true when it completed inside submit, on
 * this thread (the idle path). */
static bool probe_rw(struct vd_volume *v, enum vd_op op, uint64_t off, unsigned char *buf,
                     bool inline_ok)
{
  struct probe p = { .done = 0 };
  struct vd_io io = { .target = &v->target, .op = op, .off = off, .len = 4096, .buf = buf,
                      .done = probe_done, .priv = &p, .inline_ok = inline_ok };
  bool at_once;
  vd_engine_submit(eng, &io);
  at_once = atomic_load(&p.done);
  while (!atomic_load(&p.done))
    sched_yield();
  CU_ASSERT_EQUAL(p.err, 0);
  return at_once && pthread_equal(p.thread, pthread_self());
}

/* The idle path: an inline_ok request for an idle device completes on the
 * submitting thread, one without the mark never does, and an inline_ok
 * read behind queued writes to the same range sees the last of them. */
static void test_idle_path(void)
{
  enum { N = 64 };
  struct vd_volume_spec s = spec_of("idle", 1 << 20, VD_LAYOUT_STRIPE, 0);
  bool on = suite_cfg.idle != VD_IDLE_OFF;
  struct vd_engine_small_stats st0, st1;
  struct probe p[N];
  struct vd_io io[N];
  unsigned char *w = malloc((size_t)N * 4096), r[4096];
  struct vd_volume *v;

  CU_ASSERT_FATAL(w != NULL);
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), 0);
  fill_random(w, (size_t)N * 4096);
  vd_engine_small_stats(eng, &st0);
  CU_ASSERT_EQUAL(probe_rw(v, VD_OP_WRITE, 8192, w, true), on);
  CU_ASSERT_FALSE(probe_rw(v, VD_OP_READ, 8192, r, false));
  CU_ASSERT_EQUAL(memcmp(r, w, 4096), 0);
  vd_engine_small_stats(eng, &st1);
  CU_ASSERT_EQUAL(st1.idle - st0.idle, on ? 1 : 0);
  /* Queued writes, then at once a read that may take the idle path. */
  for (int i = 0; i < N; i++) {
    io[i] = (struct vd_io){ .target = &v->target, .op = VD_OP_WRITE, .off = 4096,
                            .len = 4096, .buf = w + (size_t)i * 4096, .done = probe_done,
                            .priv = &p[i] };
    atomic_store(&p[i].done, 0);
    vd_engine_submit(eng, &io[i]);
  }
  memset(r, 0xee, sizeof r);
  probe_rw(v, VD_OP_READ, 4096, r, true);
  CU_ASSERT_EQUAL(memcmp(r, w + (size_t)(N - 1) * 4096, 4096), 0);
  for (int i = 0; i < N; i++) {
    while (!atomic_load(&p[i].done))
      sched_yield();
    CU_ASSERT_EQUAL(p[i].err, 0);
  }
  vd_volume_put(v);
  free(w);
}

/* write-ack: a lone WRITE on the idle path is answered (acked) before it
 * completes under queued, never under landed; a READ never is; either
 * way the data is there when done() comes. */
static void test_write_ack(void)
{
  struct vd_volume_spec s = spec_of("ack", 1 << 20, VD_LAYOUT_STRIPE, 0);
  bool early = suite_cfg.idle != VD_IDLE_OFF && suite_cfg.write_ack != VD_ACK_LANDED;
  unsigned char w[4096], r[4096];
  struct vd_volume *v;

  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &v, err, sizeof err), 0);
  for (int op = VD_OP_WRITE; op >= VD_OP_READ; op--) {
    struct probe p = { .done = 0 };
    struct vd_io io = { .target = &v->target, .op = op, .off = 12288, .len = 4096,
                        .buf = op == VD_OP_WRITE ? w : r, .done = probe_done, .priv = &p,
                        .inline_ok = true, .acked = probe_acked };
    fill_random(w, sizeof w);
    vd_engine_submit(eng, &io);
    while (!atomic_load(&p.done))
      sched_yield();
    CU_ASSERT_EQUAL(p.err, 0);
    CU_ASSERT_EQUAL(p.acked, op == VD_OP_WRITE && early ? 1 : 0);
    if (p.acked)
      CU_ASSERT_TRUE(p.acked_first);
    if (op == VD_OP_WRITE) {
      memset(r, 0, sizeof r);
      CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 12288, 4096, r), 0);
      CU_ASSERT_EQUAL(memcmp(r, w, sizeof r), 0);
    }
  }
  CU_ASSERT_EQUAL(atomic_load(&v->target.posted), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_FLUSH, 0, 0, NULL), 0);
  vd_volume_put(v);
}

/* Start the engine for a suite. */
static int suite_init(void)
{
  if (vd_engine_start(pool, &suite_cfg, &eng, err, sizeof err)) {
    fprintf(stderr, "test_engine: %s\n", err);
    return 1;
  }
  return 0;
}

/* Stop the suite's engine. */
static int suite_fini(void)
{
  vd_engine_stop(eng);
  eng = NULL;
  return 0;
}

static int direct_init(void)
{
  suite_cfg = (struct vd_engine_config){ .small = VD_SMALL_OFF };
  return suite_init();
}

static int batched_init(void)
{
  /* Idle path off: every request goes through the workers' batches. */
  suite_cfg = (struct vd_engine_config){ .small = VD_SMALL_ON, .idle = VD_IDLE_OFF };
  return suite_init();
}

static int spin_init(void)
{
  suite_cfg = (struct vd_engine_config){ .idle = VD_IDLE_SPIN };
  return suite_init();
}

static int tight_init(void)
{
  /* 8 KiB per batch: few segments fit, the rest overflow to direct. */
  suite_cfg = (struct vd_engine_config){ .small = VD_SMALL_ON, .small_max = 6000,
                                         .small_stage = 64 << 10,
                                         .write_ack = VD_ACK_LANDED };
  return suite_init();
}

static void test_direct_only(void)
{
  struct vd_engine_small_stats st;
  vd_engine_small_stats(eng, &st);
  CU_ASSERT_EQUAL(st.devices, 0);
  CU_ASSERT_EQUAL(st.segments, 0);
  CU_ASSERT_EQUAL(st.stage_bytes, 0);
}

static void test_batched_used(void)
{
  struct vd_engine_small_stats st;
  vd_engine_small_stats(eng, &st);
  CU_ASSERT_EQUAL(st.devices, vd_pool_count(pool));
  CU_ASSERT(st.segments > 1000);
  CU_ASSERT(st.launches > 0 && st.launches < st.segments);
  CU_ASSERT(st.stage_bytes > 0 && st.stage_bytes == st.scratch_bytes);
}

/* The I/O tests every suite runs. */
/* Every engine mode must pass these. */
static const struct vd_test io_tests[] = {
  { "striped volume against a model", test_stripe_model },
  { "concat volume against a model", test_concat_model },
  { "many requests in flight", test_concurrent },
  { "small odd requests in flight across extents", test_small_concurrent },
  { "mixed overlapping requests in submission order", test_ordered_mixed },
  { "range errors and failed volumes", test_range_errors },
  { "no data crosses volumes", test_no_leak_between_volumes },
  { "the idle path and its order", test_idle_path },
  { "write acknowledgement", test_write_ack },
  { NULL, NULL },
};

static const struct vd_test direct_tests[] = {
  { "bad specs and no room", test_bad_specs },
  { "allocation failure halfway", test_alloc_fault },
  { "nothing went through the batch path", test_direct_only },
  { NULL, NULL },
};

static const struct vd_test pool_tests[] = {
  { "pool devices", test_pool },
  { NULL, NULL },
};

static const struct vd_test batched_tests[] = {
  { "the batch path was used", test_batched_used },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "engine, direct transfers", .tests = { pool_tests, io_tests, direct_tests },
    .init = direct_init, .fini = suite_fini },
  { .name = "engine, batched small requests", .tests = { io_tests, batched_tests },
    .init = batched_init, .fini = suite_fini },
  { .name = "engine, batched with tight staging", .tests = { io_tests, batched_tests },
    .init = tight_init, .fini = suite_fini },
  { .name = "engine, idle path polling", .tests = { io_tests },
    .init = spin_init, .fini = suite_fini },
  { .name = NULL },
};

/* One pool of two PoCL devices (unless the caller chose others) for all. */
static int setup(void)
{
  struct vd_pool_config pc = { .types = VD_DEV_CPU };

  setenv("POCL_DEVICES", "pthread pthread", 0);
  if (vd_pool_open(&pc, &pool, err, sizeof err)) {
    fprintf(stderr, "test_engine: %s\n", err);
    return 1;
  }
  return 0;
}

/* Close the pool. */
static void teardown(void)
{
  vd_pool_close(pool);
}

VD_TEST_PROGRAM(suites, setup, teardown);
