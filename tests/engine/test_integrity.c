/* test_integrity.c: checksums (integrity crc32c) on real OpenCL (PoCL,
 * two CPU devices): the GPU's CRC-32C against the CPU's, sums kept right
 * by every kind of write (direct, batched, idle path, 512-byte pieces,
 * ZERO), and every flipped bit found by a read, which fails alone with
 * EIO while the requests beside it succeed. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "engine.h"
#include "integ-util.h"
#include "../unit/runner.h"
#include "volume.h"

#define VOL (4u << 20)     /* 4 extents of 1 MiB, two per device */
#define EXT (1u << 20)
#define FLIPS 200u

static struct vd_pool *pool;
static struct vd_engine *eng;
static char err[512];

/* A striped volume over both devices, with or without checksums. */
static struct vd_volume *make(const char *name, enum vd_integrity integ)
{
  struct vd_volume_spec s;
  struct vd_volume *v = NULL;
  vd_spec_init(&s);
  strcpy(s.name, name);
  s.size = VOL;
  s.stripe_unit = 64u << 10;
  s.integrity = integ;
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, EXT, &s, &v, err, sizeof err), 0);
  return v;
}

/* The CPU's CRC-32C on known vectors (RFC 3720 B.4 and the check value). */
static void test_cpu_vectors(void)
{
  unsigned char buf[32];
  CU_ASSERT_EQUAL(vd_crc32c(0, "123456789", 9), 0xe3069283u);
  memset(buf, 0, sizeof buf);
  CU_ASSERT_EQUAL(vd_crc32c(0, buf, 32), 0x8a9136aau);
  memset(buf, 0xff, sizeof buf);
  CU_ASSERT_EQUAL(vd_crc32c(0, buf, 32), 0x62a8ab43u);
  for (unsigned i = 0; i < 32; i++)
    buf[i] = (unsigned char)i;
  CU_ASSERT_EQUAL(vd_crc32c(0, buf, 32), 0x46dd794eu);
  /* In two pieces, from any alignment: the same. */
  CU_ASSERT_EQUAL(vd_crc32c(vd_crc32c(0, buf + 1, 13), buf + 14, 18), vd_crc32c(0, buf + 1, 31));
}

/* Pieces joined as the kernels join a block's lanes: by combining whole
 * CRCs, and by shifting raw states (only the first starts at ~0). */
static void test_cpu_combine(void)
{
  static unsigned char blk[4096];
  uint32_t whole, joined = 0, raw = 0;

  for (unsigned i = 0; i < sizeof blk; i++)
    blk[i] = (unsigned char)(i * 131u + (i >> 7));
  whole = vd_crc32c(0, blk, sizeof blk);
  CU_ASSERT_EQUAL(vd_crc32c_shift(0), 1u << 31);
  CU_ASSERT_EQUAL(vd_crc32c_combine(vd_crc32c(0, blk, 1000), vd_crc32c(0, blk + 1000, 3096), 3096),
                  whole);
  for (unsigned k = 0; k < 32; k++) {
    uint32_t c = vd_crc32c(0, blk + 128 * k, 128);
    joined = k ? vd_crc32c_combine(joined, c, 128) : c;
    /* A raw state from 0 is a CRC from ~0 with both xors undone. */
    uint32_t st = ~vd_crc32c(k ? 0xffffffffu : 0, blk + 128 * k, 128);
    raw ^= vd_crc32c_mul(vd_crc32c_shift(128u * (31 - k)), st);
  }
  CU_ASSERT_EQUAL(joined, whole);
  CU_ASSERT_EQUAL(~raw, whole);
}

/* Fresh extents hold the sum of a zero block; writes of every kind keep
 * every sum equal to the CPU's. */
static void test_kernel_vs_cpu(void)
{
  struct vd_volume *v = make("sums", VD_INTEGRITY_CRC32C);
  unsigned char *buf = malloc(VOL), *back = malloc(VOL);
  static struct batch b;
  uint64_t seed = 0x1234567;

  CU_ASSERT_FATAL(buf && back);
  CU_ASSERT_EQUAL(vd_sum_zero_block(), 0x98f94189u);
  CU_ASSERT_EQUAL(tails_sums_wrong(v), 0);
  CU_ASSERT_EQUAL(vd_volume_allocated(v), VOL + VOL / 1024);
  for (uint64_t i = 0; i < VOL; i++)
    buf[i] = (unsigned char)rnd(&seed);
  /* Direct and idle path: the whole volume, then 1 MiB at an odd offset. */
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, 0, VOL, buf), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, 3 * 512, EXT, buf + 77), 0);
  memmove(buf + 3 * 512, buf + 77, EXT);
  /* Batched: 512-byte and 4 KiB pieces, several in one block, and ZEROs. */
  for (unsigned i = 0; i < 64; i++) {
    uint64_t off = (rnd(&seed) % (VOL / 512)) * 512, len = i % 3 ? 512 : 4096;
    if (off + len > VOL)
      off = VOL - len;
    b.io[i] = (struct vd_io){ .target = &v->target, .op = i % 5 == 4 ? VD_OP_ZERO : VD_OP_WRITE,
                              .off = off, .len = len, .buf = buf + VOL - 8192 };
  }
  batch_run(eng, &b, 64);
  for (unsigned i = 0; i < 64; i++) {
    CU_ASSERT_EQUAL(b.err[i], 0);
    if (b.io[i].op == VD_OP_ZERO)
      memset(buf + b.io[i].off, 0, b.io[i].len);
    else
      memmove(buf + b.io[i].off, buf + VOL - 8192, b.io[i].len);
  }
  CU_ASSERT_EQUAL(tails_sums_wrong(v), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, VOL, back), 0);
  CU_ASSERT_EQUAL(memcmp(buf, back, VOL), 0);
  CU_ASSERT_EQUAL(atomic_load(&v->target.sum_errors), 0);
  vd_volume_put(v);
  free(buf);
  free(back);
}

/* Every flipped bit is found: a 4 KiB read of its block, and any read
 * that covers it, fail with EIO; the blocks around it read back right,
 * in the same batches; nothing bad comes back as good. */
static void test_flips_found(void)
{
  struct vd_volume *v = make("flips", VD_INTEGRITY_CRC32C);
  unsigned char *model = malloc(VOL), *back = malloc(VOL);
  static bool bad[VOL / VD_SUM_BLOCK];
  static struct batch b;
  uint64_t seed = 0xfeed, dev_before = 0, found = 0;
  unsigned flips = 0;

  CU_ASSERT_FATAL(model && back);
  for (unsigned k = 0; k < 2; k++)
    dev_before += vd_engine_device_sum_errors(eng, k);
  for (uint64_t i = 0; i < VOL; i++)
    model[i] = (unsigned char)rnd(&seed);
  CU_ASSERT_EQUAL_FATAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, 0, VOL, model), 0);
  memset(bad, 0, sizeof bad);
  while (flips < FLIPS) {
    uint64_t off = rnd(&seed) % VOL;
    if (bad[off / VD_SUM_BLOCK] || (off / VD_SUM_BLOCK) % 4 == 3)
      continue; /* one flip a block; every fourth block stays good */
    CU_ASSERT_EQUAL_FATAL(vd_volume_flip(eng, v, off, (uint8_t)(1u << (rnd(&seed) % 8)), err,
                                         sizeof err), 0);
    bad[off / VD_SUM_BLOCK] = true;
    flips++;
  }
  /* Batched 4 KiB reads of every block, 64 at a time, and 512-byte reads
   * of each block's last sector (the flip may be elsewhere in it). */
  for (uint64_t blk = 0; blk < VOL / VD_SUM_BLOCK; blk += 32) {
    for (unsigned i = 0; i < 64; i++) {
      uint64_t k = blk + i / 2, len = i % 2 ? 512 : 4096;
      b.io[i] = (struct vd_io){ .target = &v->target, .op = VD_OP_READ,
                                .off = k * VD_SUM_BLOCK + VD_SUM_BLOCK - len, .len = len,
                                .buf = back + i * 4096 };
    }
    batch_run(eng, &b, 64);
    for (unsigned i = 0; i < 64; i++) {
      uint64_t k = blk + i / 2;
      if (bad[k]) {
        CU_ASSERT_EQUAL(b.err[i], -EIO);
        found += i % 2 == 0;
      } else {
        CU_ASSERT_EQUAL(b.err[i], 0);
        CU_ASSERT_EQUAL(memcmp(back + i * 4096, model + b.io[i].off, b.io[i].len), 0);
      }
    }
  }
  CU_ASSERT_EQUAL(found, FLIPS);
  /* Direct and idle path: a large read over a bad block fails; one that
   * stops short of it does not. */
  for (uint64_t k = 0; k < VOL / VD_SUM_BLOCK; k++)
    if (bad[k]) {
      uint64_t start = k * VD_SUM_BLOCK < EXT ? 0 : k * VD_SUM_BLOCK - EXT / 2;
      CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, start,
                                   k * VD_SUM_BLOCK + 1 - start, back), -EIO);
      break;
    }
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 3 * VD_SUM_BLOCK, VD_SUM_BLOCK, back),
                  bad[3] ? -EIO : 0);
  /* Every mismatch was counted, for the volume and its devices. */
  CU_ASSERT(atomic_load(&v->target.sum_errors) >= 2 * FLIPS);
  CU_ASSERT_EQUAL(vd_engine_device_sum_errors(eng, 0) + vd_engine_device_sum_errors(eng, 1) -
                  dev_before, atomic_load(&v->target.sum_errors));
  /* A write over a bad block makes it good again. */
  for (uint64_t k = 0; k < VOL / VD_SUM_BLOCK; k++)
    if (bad[k]) {
      CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, k * VD_SUM_BLOCK, VD_SUM_BLOCK,
                                   model + k * VD_SUM_BLOCK), 0);
      CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, k * VD_SUM_BLOCK, VD_SUM_BLOCK,
                                   back), 0);
      break;
    }
  vd_volume_put(v);
  free(model);
  free(back);
}

/* A scrub finds every flipped block and nothing else, while a writer
 * keeps rewriting other blocks (a block caught between its write and its
 * checksum is not reported); a clean volume scrubs clean. */
static void test_scrub(void)
{
  struct vd_volume *v = make("scrub", VD_INTEGRITY_CRC32C);
  struct vd_scrub_ctl c = { .eng = eng };
  struct writer w = { .eng = eng, .v = v, .end = VOL / 2 }; /* the flips are past it */
  uint64_t seed = 77;
  pthread_t th;

  CU_ASSERT_EQUAL(vd_volume_scrub(&c, v, err, sizeof err), 0);
  CU_ASSERT_EQUAL(c.blocks, VOL / VD_SUM_BLOCK);
  CU_ASSERT_EQUAL(c.bad, 0);
  for (unsigned k = 0; k < 50; k++)
    CU_ASSERT_EQUAL(vd_volume_flip(eng, v, VOL / 2 + k * 2 * VD_SUM_BLOCK + rnd(&seed) % 4096,
                                   0x80, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, write_loop, &w), 0);
  for (unsigned r = 0; r < 3; r++) {
    CU_ASSERT_EQUAL(vd_volume_scrub(&c, v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(c.blocks, VOL / VD_SUM_BLOCK);
    CU_ASSERT_EQUAL(c.bad, 50);
  }
  atomic_store(&w.stop, true);
  pthread_join(th, NULL);
  CU_ASSERT(w.writes > 0);
  CU_ASSERT_EQUAL(w.errors, 0);
  CU_ASSERT_EQUAL(atomic_load(&v->scrub.last_bad), 50);
  CU_ASSERT_EQUAL(atomic_load(&v->scrub.bad), 150);
  CU_ASSERT(atomic_load(&v->scrub.last_time) > 0);
  vd_volume_put(v);
  v = make("noscrub", VD_INTEGRITY_NONE);
  CU_ASSERT_EQUAL(vd_volume_scrub(&c, v, err, sizeof err), -EINVAL);
  vd_volume_put(v);
}

/* Without integrity nothing changes: no tail, a flip reads back flipped. */
static void test_without_integrity(void)
{
  struct vd_volume *v = make("plain", VD_INTEGRITY_NONE);
  unsigned char buf[4096];
  CU_ASSERT_EQUAL(vd_volume_allocated(v), VOL);
  CU_ASSERT_EQUAL(vd_extent_sums(atomic_load(&v->target.ext[0][0])), 0);
  CU_ASSERT_EQUAL(vd_volume_flip(eng, v, 5, 0x10, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, sizeof buf, buf), 0);
  CU_ASSERT_EQUAL(buf[5], 0x10);
  vd_volume_put(v);
}

static const struct vd_test tests[] = {
  { "the CPU's CRC-32C on known vectors", test_cpu_vectors },
  { "pieces of a block joined as the kernels join them", test_cpu_combine },
  { "the GPU's sums equal the CPU's after every kind of write", test_kernel_vs_cpu },
  { "every flipped bit fails its read alone", test_flips_found },
  { "volumes without integrity are as before", test_without_integrity },
  { "a scrub finds every flip and nothing else, under writes", test_scrub },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "integrity", .tests = { tests } },
  { .name = NULL },
};

/* One pool of two PoCL devices and its engine. */
static int setup(void)
{
  return integ_open("test_integrity", &pool, &eng);
}

/* Close what setup opened. */
static void teardown(void)
{
  integ_close(pool, eng);
}

VD_TEST_PROGRAM(suites, setup, teardown);
