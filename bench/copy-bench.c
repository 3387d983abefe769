/* copy-bench.c: the rate of vd_extent_copy, the move under a drain: one
 * extent copied from the first device to the second (and back) through
 * the pinned bounce, at several piece sizes, and within one device; each
 * copy is checked once against the pattern it should carry. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool-cl.h"
#include "util.h"

#define MAX_PIECES 16
#define CHECK (1u << 20) /* bytes compared at each end of a copy */

struct opts {
  uint64_t size;                 /* bytes per extent */
  uint64_t piece[MAX_PIECES];
  unsigned npiece;
  unsigned repeat;
  unsigned types;
};

/* Seconds on the monotonic clock. */
static double now_s(void)
{
  return (double)vd_now_ns() / 1e9;
}

/* Move n bytes between host memory and an extent at off (on a queue of
 * the bench's own). */
static int xfer(struct vd_extent *e, bool write, uint64_t off, void *p, size_t n)
{
  struct vd_device *d = vd_extent_device(e);
  cl_int rc;
  cl_command_queue q = clCreateCommandQueueWithProperties(vd_device_context(d), vd_device_cl(d),
                                                          NULL, &rc);
  if (rc != CL_SUCCESS)
    return -1;
  rc = write ? clEnqueueWriteBuffer(q, vd_extent_mem(e), CL_TRUE, off, n, p, 0, NULL, NULL)
             : clEnqueueReadBuffer(q, vd_extent_mem(e), CL_TRUE, off, n, p, 0, NULL, NULL);
  clReleaseCommandQueue(q);
  return rc == CL_SUCCESS ? 0 : -1;
}

/* Mark both ends of src with a pattern of seed; zero those of dst. */
static int mark(struct vd_extent *src, struct vd_extent *dst, unsigned seed, unsigned char *buf)
{
  uint64_t end = vd_extent_bytes(src) - CHECK;
  for (size_t i = 0; i < CHECK; i++)
    buf[i] = (unsigned char)(i * 131 + seed);
  if (xfer(src, true, 0, buf, CHECK) || xfer(src, true, end, buf, CHECK))
    return -1;
  memset(buf, 0, CHECK);
  return xfer(dst, true, 0, buf, CHECK) || xfer(dst, true, end, buf, CHECK) ? -1 : 0;
}

/* Whether both ends of dst carry seed's pattern. */
static bool marked(struct vd_extent *dst, unsigned seed, unsigned char *buf)
{
  uint64_t end = vd_extent_bytes(dst) - CHECK;
  for (int k = 0; k < 2; k++) {
    if (xfer(dst, false, k ? end : 0, buf, CHECK))
      return false;
    for (size_t i = 0; i < CHECK; i++)
      if (buf[i] != (unsigned char)(i * 131 + seed))
        return false;
  }
  return true;
}

/* Copy src to dst repeat times with c; GB/s, or a negative value after
 * saying what failed. */
static double rate(struct vd_copier *c, struct vd_extent *src, struct vd_extent *dst,
                   unsigned repeat, unsigned char *buf)
{
  uint64_t n = vd_extent_bytes(src);
  static unsigned seed;
  double t0, t;

  if (mark(src, dst, ++seed, buf)) {
    fprintf(stderr, "copy-bench: cannot write the pattern\n");
    return -1;
  }
  t0 = now_s();
  for (unsigned r = 0; r < repeat; r++)
    if (vd_extent_copy(c, src, 0, dst, 0, n)) {
      fprintf(stderr, "copy-bench: %s\n", vd_copier_error(c));
      return -1;
    }
  t = now_s() - t0;
  if (!marked(dst, seed, buf)) {
    fprintf(stderr, "copy-bench: the copy does not carry the source's bytes\n");
    return -1;
  }
  return (double)n * repeat / t / 1e9;
}

/* Comma-separated sizes into o->piece. */
static int parse_pieces(const char *s, struct opts *o)
{
  char buf[256], *tok, *save = NULL, err[128];
  snprintf(buf, sizeof buf, "%s", s);
  o->npiece = 0;
  for (tok = strtok_r(buf, ",", &save); tok && o->npiece < MAX_PIECES;
       tok = strtok_r(NULL, ",", &save))
    if (vd_parse_size(tok, &o->piece[o->npiece++], err, sizeof err) ||
        o->piece[o->npiece - 1] % 4096) {
      fprintf(stderr, "copy-bench: --piece %s: a multiple of 4K is needed\n", tok);
      return -1;
    }
  return o->npiece ? 0 : -1;
}

/* Options: --size, --piece LIST, --repeat, --types gpu|cpu. */
static int parse(int argc, char **argv, struct opts *o)
{
  static const struct option lo[] = {
    { "size", required_argument, NULL, 's' }, { "piece", required_argument, NULL, 'p' },
    { "repeat", required_argument, NULL, 'r' }, { "types", required_argument, NULL, 't' },
    { NULL, 0, NULL, 0 },
  };
  char err[128];
  int c;

  *o = (struct opts){ .size = 1ull << 30, .repeat = 4 };
  parse_pieces("1M,4M,16M,64M", o);
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    if (c == 's' && (vd_parse_size(optarg, &o->size, err, sizeof err) || o->size % 4096 ||
                     o->size < 2 * CHECK)) {
      fprintf(stderr, "copy-bench: --size %s: a multiple of 4K of at least 2M\n", optarg);
      return -1;
    } else if (c == 'p' && parse_pieces(optarg, o)) {
      return -1;
    } else if (c == 'r' && (o->repeat = (unsigned)atoi(optarg)) == 0) {
      fprintf(stderr, "copy-bench: --repeat takes a count\n");
      return -1;
    } else if (c == 't') {
      o->types = !strcmp(optarg, "cpu") ? VD_DEV_CPU : VD_DEV_GPU;
    } else if (c == '?') {
      fprintf(stderr, "usage: copy-bench [--size 1G] [--piece 1M,4M,16M,64M] [--repeat 4] "
              "[--types gpu|cpu]\n");
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv)
{
  struct vd_pool_config pc = { 0 };
  struct vd_extent *a = NULL, *b = NULL, *a2 = NULL;
  unsigned char *buf = malloc(CHECK);
  struct vd_pool *pool;
  struct opts o;
  char err[512], sz[32];
  int rc = 1;

  if (!buf || parse(argc, argv, &o))
    return 2;
  pc.types = o.types;
  if (vd_pool_open(&pc, &pool, err, sizeof err)) {
    fprintf(stderr, "copy-bench: %s\n", err);
    return 1;
  }
  if (vd_pool_count(pool) < 2) {
    fprintf(stderr, "copy-bench: needs two devices\n");
    goto out_pool;
  }
  if (vd_extent_alloc(vd_pool_device(pool, 0), o.size, &a, err, sizeof err) ||
      vd_extent_alloc(vd_pool_device(pool, 0), o.size, &a2, err, sizeof err) ||
      vd_extent_alloc(vd_pool_device(pool, 1), o.size, &b, err, sizeof err)) {
    fprintf(stderr, "copy-bench: %s\n", err);
    goto out_extents;
  }
  printf("copy-bench: %s extents, %u copies each, %s -> %s (%s)\n",
         vd_format_size(o.size, sz, sizeof sz), o.repeat, vd_device_info(vd_pool_device(pool, 0))->id,
         vd_device_info(vd_pool_device(pool, 1))->id, vd_device_info(vd_pool_device(pool, 0))->name);
  printf("%-10s %12s %12s %14s\n", "piece", "0->1 GB/s", "1->0 GB/s", "within 0 GB/s");
  for (unsigned i = 0; i < o.npiece; i++) {
    struct vd_copier *c;
    double there, back, within;
    char p[32];
    if (vd_copier_open(pool, NULL, 2 * o.piece[i], &c, err, sizeof err)) {
      fprintf(stderr, "copy-bench: %s\n", err);
      goto out_extents;
    }
    there = rate(c, a, b, o.repeat, buf);
    back = there < 0 ? -1 : rate(c, b, a, o.repeat, buf);
    within = back < 0 ? -1 : rate(c, a, a2, o.repeat, buf);
    vd_copier_close(c);
    if (within < 0)
      goto out_extents;
    printf("%-10s %12.2f %12.2f %14.2f\n", vd_format_size(o.piece[i], p, sizeof p), there, back,
           within);
  }
  rc = 0;

out_extents:
  vd_extent_free(a);
  vd_extent_free(a2);
  vd_extent_free(b);
out_pool:
  vd_pool_close(pool);
  free(buf);
  return rc;
}
