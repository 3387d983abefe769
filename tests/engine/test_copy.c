/* test_copy.c: vd_extent_copy on real OpenCL (PoCL, two CPU devices):
 * a pattern copied across devices and within one, at offsets and lengths
 * that are not whole pieces, read back and compared byte for byte; the
 * bytes around the target stay as they were; bad ranges and a lost device
 * are refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool-cl.h"
#include "../unit/runner.h"

#define EXT (1u << 20)      /* every extent of the tests */
#define BOUNCE (128u << 10) /* pieces of 64 KiB: a 1 MiB copy takes 16 */

static struct vd_pool *pool;
static struct vd_copier *cop;
static char err[512];

/* Write bytes to an extent through a queue of the test's own. */
static void put(struct vd_extent *e, uint64_t off, const void *p, size_t n)
{
  struct vd_device *d = vd_extent_device(e);
  cl_int rc;
  cl_command_queue q = clCreateCommandQueueWithProperties(vd_device_context(d), vd_device_cl(d),
                                                          NULL, &rc);
  CU_ASSERT_EQUAL_FATAL(rc, CL_SUCCESS);
  CU_ASSERT_EQUAL(clEnqueueWriteBuffer(q, vd_extent_mem(e), CL_TRUE, off, n, p, 0, NULL, NULL),
                  CL_SUCCESS);
  clReleaseCommandQueue(q);
}

/* Read an extent whole. */
static void get(struct vd_extent *e, void *p)
{
  struct vd_device *d = vd_extent_device(e);
  cl_int rc;
  cl_command_queue q = clCreateCommandQueueWithProperties(vd_device_context(d), vd_device_cl(d),
                                                          NULL, &rc);
  CU_ASSERT_EQUAL_FATAL(rc, CL_SUCCESS);
  CU_ASSERT_EQUAL(clEnqueueReadBuffer(q, vd_extent_mem(e), CL_TRUE, 0, vd_extent_bytes(e), p,
                                      0, NULL, NULL), CL_SUCCESS);
  clReleaseCommandQueue(q);
}

/* A byte pattern that differs at every offset and between seeds. */
static void pattern(unsigned char *p, size_t n, unsigned seed)
{
  uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (unsigned char)x;
  }
}

/* An extent of EXT on device i. */
static struct vd_extent *extent_on(unsigned i)
{
  struct vd_extent *e = NULL;
  CU_ASSERT_EQUAL_FATAL(vd_extent_alloc(vd_pool_device(pool, i), EXT, &e, err, sizeof err), 0);
  return e;
}

/* Copy len bytes from src_off of a patterned extent on device a to
 * dst_off of one on device b that holds another pattern; the target must
 * hold the source's bytes there and its own pattern everywhere else. */
static void check_copy(unsigned a, unsigned b, uint64_t src_off, uint64_t dst_off,
                       uint64_t len)
{
  struct vd_extent *src = extent_on(a), *dst = extent_on(b);
  unsigned char *s = malloc(EXT), *d = malloc(EXT), *want = malloc(EXT);
  CU_ASSERT_FATAL(s && d && want);

  pattern(s, EXT, 1);
  pattern(want, EXT, 2);
  put(src, 0, s, EXT);
  put(dst, 0, want, EXT);
  CU_ASSERT_EQUAL(vd_extent_copy(cop, src, src_off, dst, dst_off, len), 0);
  CU_ASSERT_STRING_EQUAL(vd_copier_error(cop), "");
  memcpy(want + dst_off, s + src_off, len);
  get(dst, d);
  CU_ASSERT_EQUAL(memcmp(d, want, EXT), 0);
  get(src, d);
  CU_ASSERT_EQUAL(memcmp(d, s, EXT), 0); /* the source is untouched */
  vd_extent_free(src);
  vd_extent_free(dst);
  free(s);
  free(d);
  free(want);
}

static void test_across_devices(void)
{
  size_t piece = vd_copier_piece(cop);
  CU_ASSERT_EQUAL(piece, BOUNCE / 2);
  check_copy(0, 1, 0, 0, EXT);                         /* whole, 16 pieces */
  check_copy(0, 1, 12345, 77777, 300001);              /* nothing aligned */
  check_copy(1, 0, 4096, 8192, piece);                 /* exactly one piece */
  check_copy(1, 0, 1, EXT - 3 * piece - 2, 3 * piece + 1); /* a byte past three, to the end but one */
  check_copy(0, 1, EXT - 1, 0, 1);                     /* one byte */
  check_copy(0, 1, 100, 200, 0);                       /* nothing */
}

static void test_within_device(void)
{
  unsigned char *s = malloc(EXT), *d = malloc(EXT), *want = malloc(EXT);
  struct vd_extent *e;

  check_copy(0, 0, 5, 999, 700001);
  check_copy(1, 1, 0, 0, EXT);
  /* Within one extent, ranges apart. */
  CU_ASSERT_FATAL(s && d && want);
  e = extent_on(1);
  pattern(s, EXT, 3);
  put(e, 0, s, EXT);
  memcpy(want, s, EXT);
  CU_ASSERT_EQUAL(vd_extent_copy(cop, e, 10, e, 500000, 400000), 0);
  memcpy(want + 500000, s + 10, 400000);
  get(e, d);
  CU_ASSERT_EQUAL(memcmp(d, want, EXT), 0);
  vd_extent_free(e);
  free(s);
  free(d);
  free(want);
}

static void test_refusals(void)
{
  struct vd_extent *a = extent_on(0), *b = extent_on(1);

  CU_ASSERT_EQUAL(vd_extent_copy(cop, a, 1, b, 0, EXT), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(vd_copier_error(cop), "past an extent's end"));
  CU_ASSERT_EQUAL(vd_extent_copy(cop, a, 0, b, EXT - 4095, 4096), -EINVAL);
  CU_ASSERT_EQUAL(vd_extent_copy(cop, a, EXT + 1, b, 0, 0), -EINVAL);
  CU_ASSERT_EQUAL(vd_extent_copy(cop, a, 0, b, UINT64_MAX, 2), -EINVAL);
  CU_ASSERT_EQUAL(vd_extent_copy(cop, a, UINT64_MAX - 1, b, 0, 4), -EINVAL);
  CU_ASSERT_EQUAL(vd_extent_copy(cop, a, 0, a, 4095, 4096), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(vd_copier_error(cop), "overlapping"));
  CU_ASSERT_EQUAL(vd_extent_copy(cop, a, 0, a, 4096, 4096), 0); /* adjacent is fine */
  CU_ASSERT_STRING_EQUAL(vd_copier_error(cop), "");
  vd_extent_free(a);
  vd_extent_free(b);
}

static void test_bad_bounce(void)
{
  struct vd_copier *c = NULL;
  CU_ASSERT_EQUAL(vd_copier_open(pool, NULL, 4096, &c, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(vd_copier_open(pool, NULL, 3 * 4096, &c, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NULL(c);
}

/* A caller's bounce buffer carries the copy as the copier's own does. */
static void test_caller_bounce(void)
{
  struct vd_copier *mine = cop, *c;
  void *buf = aligned_alloc(4096, 3 * 8192);
  CU_ASSERT_FATAL(buf != NULL);
  CU_ASSERT_EQUAL_FATAL(vd_copier_open(pool, buf, 2 * 8192 + 4096, &c, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL_FATAL(vd_copier_open(pool, buf, 2 * 8192, &c, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_copier_piece(c), 8192);
  cop = c;
  check_copy(0, 1, 3, 5, 100003); /* 13 pieces of 8 KiB */
  cop = mine;
  vd_copier_close(c);
  free(buf);
}

/* A lost device: copies from or to it fail with EIO naming it. */
static void test_lost(void)
{
  struct vd_pool_config pc = { .types = VD_DEV_CPU };
  struct vd_pool *p;
  struct vd_copier *c;
  struct vd_extent *a, *b;

  CU_ASSERT_EQUAL_FATAL(vd_pool_open(&pc, &p, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(vd_copier_open(p, NULL, BOUNCE, &c, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(vd_extent_alloc(vd_pool_device(p, 0), EXT, &a, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(vd_extent_alloc(vd_pool_device(p, 1), EXT, &b, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_extent_copy(c, a, 0, b, 0, EXT), 0);
  vd_device_declare_lost(vd_pool_device(p, 1), "the test says so");
  CU_ASSERT_EQUAL(vd_extent_copy(c, a, 0, b, 0, EXT), -EIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(vd_copier_error(c), vd_device_info(vd_pool_device(p, 1))->id));
  CU_ASSERT_PTR_NOT_NULL(strstr(vd_copier_error(c), "copied to"));
  CU_ASSERT_EQUAL(vd_extent_copy(c, b, 0, a, 0, EXT), -EIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(vd_copier_error(c), "copied from"));
  CU_ASSERT_EQUAL(vd_extent_copy(c, a, 0, a, EXT / 2, EXT / 2), 0); /* dev 0 goes on */
  vd_extent_free(a);
  vd_extent_free(b);
  vd_copier_close(c);
  vd_pool_close(p);
}

static const struct vd_test tests[] = {
  { "across devices, at any offset and length", test_across_devices },
  { "within one device and one extent", test_within_device },
  { "ranges past the end and overlapping are refused", test_refusals },
  { "a bounce that is not two whole pieces is refused", test_bad_bounce },
  { "a caller's bounce buffer", test_caller_bounce },
  { "a lost device fails copies with EIO", test_lost },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "copies between extents", .tests = { tests } },
  { .name = NULL },
};

/* A pool of two PoCL devices and a copier with small pieces. */
static int setup(void)
{
  struct vd_pool_config pc = { .types = VD_DEV_CPU };

  setenv("POCL_DEVICES", "pthread pthread", 0);
  if (vd_pool_open(&pc, &pool, err, sizeof err) ||
      vd_copier_open(pool, NULL, BOUNCE, &cop, err, sizeof err)) {
    fprintf(stderr, "test_copy: %s\n", err);
    return 1;
  }
  if (vd_pool_count(pool) < 2) {
    fprintf(stderr, "test_copy: needs two devices (POCL_DEVICES=\"pthread pthread\")\n");
    return 1;
  }
  return 0;
}

/* Close the copier and the pool. */
static void teardown(void)
{
  vd_copier_close(cop);
  vd_pool_close(pool);
}

VD_TEST_PROGRAM(suites, setup, teardown);
