/* integ-util.c: requests in flight at once, and checksums and parity of a
 * volume's extents against the CPU's (see integ-util.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/runner.h"
#include "crc32c.h"
#include "pool-cl.h"
#include "integ-util.h"

/* One pool of two PoCL devices and its engine. */
int integ_open(const char *name, struct vd_pool **pool, struct vd_engine **eng)
{
  struct vd_pool_config pc = { .types = VD_DEV_CPU };
  char err[512];

  setenv("POCL_DEVICES", "pthread pthread", 0);
  if (vd_pool_open(&pc, pool, err, sizeof err) ||
      vd_engine_start(*pool, NULL, eng, err, sizeof err)) {
    fprintf(stderr, "%s: %s\n", name, err);
    return 1;
  }
  if (vd_pool_count(*pool) < 2) {
    fprintf(stderr, "%s: needs two devices\n", name);
    return 1;
  }
  return 0;
}

/* Stop the engine, then close the pool. */
void integ_close(struct vd_pool *pool, struct vd_engine *eng)
{
  vd_engine_stop(eng);
  vd_pool_close(pool);
}

/* xorshift64. */
uint64_t rnd(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* One request of a batch done. */
static void batch_done(struct vd_io *io, int e)
{
  struct batch *b = io->priv;
  pthread_mutex_lock(&b->lock);
  b->err[io - b->io] = e;
  if (--b->left == 0)
    pthread_cond_signal(&b->cv);
  pthread_mutex_unlock(&b->lock);
}

/* Submit n requests of b at once and wait for all. */
void batch_run(struct vd_engine *eng, struct batch *b, unsigned n)
{
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->cv, NULL);
  b->left = n;
  for (unsigned i = 0; i < n; i++) {
    b->io[i].done = batch_done;
    b->io[i].priv = b;
    b->io[i].inline_ok = false;
  }
  for (unsigned i = 0; i < n; i++)
    vd_engine_submit(eng, &b->io[i]);
  pthread_mutex_lock(&b->lock);
  while (b->left)
    pthread_cond_wait(&b->cv, &b->lock);
  pthread_mutex_unlock(&b->lock);
  pthread_cond_destroy(&b->cv);
  pthread_mutex_destroy(&b->lock);
}

/* The writer: each piece random, at a random offset below end. */
void *write_loop(void *arg)
{
  struct writer *w = arg;
  unsigned char buf[16384] = { 0 };
  uint64_t seed = 0xabcdef;
  while (!atomic_load(&w->stop)) {
    uint64_t len = 512u << (rnd(&seed) % 6), off = rnd(&seed) % (w->end / 512) * 512;
    if (off + len > w->end)
      off = w->end - len;
    buf[rnd(&seed) % sizeof buf] = (unsigned char)seed;
    w->errors += vd_engine_rw(w->eng, &w->v->target, VD_OP_WRITE, off, len, buf) != 0;
    w->writes++;
  }
  return NULL;
}

/* Read extent e whole, data and tail, into a new buffer. */
static unsigned char *read_extent(struct vd_extent *e)
{
  uint64_t all = vd_extent_bytes(e) + vd_extent_sums(e) + vd_extent_parity(e);
  unsigned char *p = malloc(all);
  cl_command_queue q = clCreateCommandQueueWithProperties(
    vd_device_context(vd_extent_device(e)), vd_device_cl(vd_extent_device(e)), NULL, NULL);

  CU_ASSERT_FATAL(p && q);
  CU_ASSERT_EQUAL(clEnqueueReadBuffer(q, vd_extent_mem(e), CL_TRUE, 0, all, p, 0, NULL, NULL),
                  CL_SUCCESS);
  clReleaseCommandQueue(q);
  return p;
}

/* What check says is wrong in one extent, summed over every extent. */
static unsigned each_extent(struct vd_volume *v,
                            unsigned (*check)(struct vd_extent *, const unsigned char *))
{
  unsigned wrong = 0;
  for (uint32_t d = 0; d < v->target.map.ndev; d++)
    for (uint32_t i = 0; i < vd_map_extent_count(&v->target.map, d); i++) {
      struct vd_extent *e = atomic_load(&v->target.ext[d][i]);
      unsigned char *p = read_extent(e);
      wrong += check(e, p);
      free(p);
    }
  return wrong;
}

/* Checksums of one extent. */
static unsigned sums_of(struct vd_extent *e, const unsigned char *p)
{
  uint64_t bytes = vd_extent_bytes(e), blocks = bytes / VD_SUM_BLOCK;
  unsigned wrong = 0;

  CU_ASSERT_EQUAL(vd_extent_sums(e), blocks * 4);
  for (uint64_t b = 0; b < blocks; b++) {
    uint32_t s;
    memcpy(&s, p + bytes + 4 * b, 4);
    wrong += s != vd_crc32c(0, p + b * VD_SUM_BLOCK, VD_SUM_BLOCK);
  }
  return wrong;
}

/* Parity of one extent. */
static unsigned parity_of(struct vd_extent *e, const unsigned char *p)
{
  uint64_t bytes = vd_extent_bytes(e), blocks = bytes / VD_SUM_BLOCK;
  const unsigned char *par = p + bytes + vd_extent_sums(e);
  unsigned wrong = 0;

  if (!vd_extent_parity(e))
    return 0;
  CU_ASSERT_EQUAL(vd_extent_parity(e), VD_PAR_BYTES(bytes));
  for (uint64_t g = 0; g * VD_PAR_GROUP < blocks; g++) {
    unsigned char x[VD_SUM_BLOCK];
    memset(x, 0, sizeof x);
    for (uint64_t b = g * VD_PAR_GROUP; b < blocks && b < (g + 1) * VD_PAR_GROUP; b++)
      for (unsigned k = 0; k < VD_SUM_BLOCK; k++)
        x[k] ^= p[b * VD_SUM_BLOCK + k];
    wrong += memcmp(x, par + g * VD_SUM_BLOCK, VD_SUM_BLOCK) != 0;
  }
  return wrong;
}

unsigned tails_sums_wrong(struct vd_volume *v)
{
  return each_extent(v, sums_of);
}

unsigned tails_parity_wrong(struct vd_volume *v)
{
  return each_extent(v, parity_of);
}
