/* test_parity.c: integrity crc32c+parity on real OpenCL (PoCL, two CPU
 * devices): the parity equals the CPU's XOR of each group after every
 * kind of write (direct, batched, idle path, 512-byte pieces, ZERO); a
 * single flipped bit per group is rebuilt by a read on every path, which
 * returns what was written and rewrites the block; two in a group fail
 * with EIO; a scrub repairs what it finds, counted exactly. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "integ-util.h"
#include "../unit/runner.h"
#include "volume.h"

#define VOL (16u << 20)    /* 16 extents of 1 MiB, eight per device */
#define EXT (1u << 20)
#define BLK VD_SUM_BLOCK
#define GROUP_BYTES (VD_PAR_GROUP * BLK)
#define NGROUPS (VOL / GROUP_BYTES)

static struct vd_pool *pool;
static struct vd_engine *eng;
static char err[512];

/* A volume striped over both devices in 64 KiB units, with parity. */
static struct vd_volume *make(const char *name)
{
  struct vd_volume_spec s;
  struct vd_volume *v = NULL;
  vd_spec_init(&s);
  strcpy(s.name, name);
  s.size = VOL;
  s.stripe_unit = 64u << 10;
  s.integrity = VD_INTEGRITY_PARITY;
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, EXT, &s, &v, err, sizeof err), 0);
  return v;
}

/* The parity group that holds volume offset off: its extent and its
 * group there, as one number. */
static uint64_t group_of(struct vd_volume *v, uint64_t off)
{
  struct vd_map_iter it;
  struct vd_segment s;
  vd_map_iter_init(&it, &v->target.map, off, 1);
  CU_ASSERT_FATAL(vd_map_next(&it, &s));
  return ((uint64_t)s.dev * 64 + s.extent) * (EXT / GROUP_BYTES) + s.ext_offset / GROUP_BYTES;
}

/* Random data into the whole volume and model. */
static void fill(struct vd_volume *v, unsigned char *model, uint64_t seed)
{
  for (uint64_t i = 0; i < VOL; i++)
    model[i] = (unsigned char)rnd(&seed);
  CU_ASSERT_EQUAL_FATAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, 0, VOL, model), 0);
}

/* Flip one bit of the block at off. */
static void flip(struct vd_volume *v, uint64_t off, uint64_t *seed)
{
  CU_ASSERT_EQUAL_FATAL(vd_volume_flip(eng, v, off, (uint8_t)(1u << (rnd(seed) % 8)), err,
                                       sizeof err), 0);
}

/* Rebuilt blocks counted on both devices. */
static uint64_t dev_repaired(void)
{
  return vd_engine_device_par_repaired(eng, 0) + vd_engine_device_par_repaired(eng, 1);
}

/* Fresh parity is that of zeros; every kind of write keeps it and the
 * checksums equal to the CPU's. */
static void test_parity_kept(void)
{
  struct vd_volume *v = make("kept");
  unsigned char *buf = malloc(VOL), *back = malloc(VOL), *src = malloc(EXT);
  static struct batch b;
  uint64_t seed = 0x5eed;

  CU_ASSERT_FATAL(buf && back && src);
  CU_ASSERT_EQUAL(tails_parity_wrong(v), 0);
  CU_ASSERT_EQUAL(vd_volume_allocated(v), VOL + VOL / 1024 + VOL / VD_PAR_GROUP);
  fill(v, buf, seed);
  /* Idle path: 1 MiB at an odd offset. */
  for (uint64_t i = 0; i < EXT; i++)
    src[i] = (unsigned char)rnd(&seed);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, 3 * 512, EXT, src), 0);
  memcpy(buf + 3 * 512, src, EXT);
  /* Batched: 512-byte and 4 KiB pieces, several in one group, and ZEROs;
   * then large writes and ZEROs on the workers' direct path. */
  for (unsigned round = 0; round < 2; round++) {
    for (unsigned i = 0; i < 64; i++) {
      uint64_t len = round ? 65536 + 512 * (i % 7) : i % 3 ? 512 : 4096;
      uint64_t off = (rnd(&seed) % ((VOL - len) / 512)) * 512;
      b.io[i] = (struct vd_io){ .target = &v->target, .op = i % 5 == 4 ? VD_OP_ZERO : VD_OP_WRITE,
                                .off = off, .len = len, .buf = src + 512 * i };
    }
    batch_run(eng, &b, 64);
    for (unsigned i = 0; i < 64; i++) {
      CU_ASSERT_EQUAL(b.err[i], 0);
      if (b.io[i].op == VD_OP_ZERO)
        memset(buf + b.io[i].off, 0, b.io[i].len);
      else
        memcpy(buf + b.io[i].off, b.io[i].buf, b.io[i].len);
    }
  }
  /* Overlapping requests of a batch land in the order they were sent. */
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, VOL, back), 0);
  CU_ASSERT_EQUAL(memcmp(back, buf, VOL), 0);
  CU_ASSERT_EQUAL(tails_sums_wrong(v), 0);
  CU_ASSERT_EQUAL(tails_parity_wrong(v), 0);
  CU_ASSERT_EQUAL(atomic_load(&v->target.sum_errors), 0);
  CU_ASSERT_EQUAL(atomic_load(&v->target.par_repaired), 0);
  vd_volume_put(v);
  free(buf);
  free(back);
  free(src);
}

/* One flip in each of most groups, at a random block: each is rebuilt by
 * the first read of its block, on the small path, the idle path or the
 * workers' direct path (a third each), which returns what was written;
 * the counts are exact, and the blocks were rewritten in place. */
static void test_single_flips(void)
{
  struct vd_volume *v = make("single");
  unsigned char *model = malloc(VOL), *back = malloc(VOL);
  static bool used[NGROUPS * 64];
  static uint64_t at[NGROUPS];
  static struct batch b;
  uint64_t seed = 0xf11b, dev0 = dev_repaired();
  unsigned n = 0, nb;

  CU_ASSERT_FATAL(model && back);
  fill(v, model, seed);
  memset(used, 0, sizeof used);
  while (n < NGROUPS * 3 / 4) {
    uint64_t off = rnd(&seed) % VOL, g = group_of(v, off);
    if (used[g])
      continue;
    used[g] = true;
    flip(v, off, &seed);
    at[n++] = off;
  }
  CU_ASSERT_EQUAL(tails_sums_wrong(v), n);
  /* Batched 4 KiB reads (small path) and 64 KiB ones (direct). */
  for (unsigned path = 0; path < 3; path += 2)
    for (unsigned k = path, i = 0; k < n; k += 3) {
      uint64_t len = path ? 65536 : BLK, off = at[k] / len * len;
      b.io[i] = (struct vd_io){ .target = &v->target, .op = VD_OP_READ, .off = off, .len = len,
                                .buf = back + off };
      if (++i == 64 || k + 3 >= n) {
        batch_run(eng, &b, i);
        for (unsigned j = 0; j < i; j++) {
          CU_ASSERT_EQUAL(b.err[j], 0);
          CU_ASSERT_EQUAL(atomic_load(&b.io[j].repaired), 1);
          CU_ASSERT_EQUAL(memcmp(back + b.io[j].off, model + b.io[j].off, b.io[j].len), 0);
        }
        i = 0;
      }
    }
  /* The idle path. */
  for (unsigned k = 1; k < n; k += 3) {
    uint64_t off = at[k] / BLK * BLK;
    CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, off, BLK, back), 0);
    CU_ASSERT_EQUAL(memcmp(back, model + off, BLK), 0);
  }
  nb = n;
  CU_ASSERT_EQUAL(atomic_load(&v->target.par_repaired), nb);
  CU_ASSERT_EQUAL(dev_repaired() - dev0, nb);
  CU_ASSERT_EQUAL(atomic_load(&v->target.sum_errors), 0);
  /* Rewritten in place: the tails hold again, and nothing more to do. */
  CU_ASSERT_EQUAL(tails_sums_wrong(v), 0);
  CU_ASSERT_EQUAL(tails_parity_wrong(v), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, VOL, back), 0);
  CU_ASSERT_EQUAL(memcmp(back, model, VOL), 0);
  CU_ASSERT_EQUAL(atomic_load(&v->target.par_repaired), nb);
  vd_volume_put(v);
  free(model);
  free(back);
}

/* Offset of block k of the group that holds off (another block of it). */
static uint64_t sibling(struct vd_volume *v, uint64_t off, unsigned k)
{
  /* Striped in 64 KiB units over two devices: a group's 128 KiB on its
   * device are two units, 128 KiB apart in the volume. */
  uint64_t unit = 64u << 10, row = off / (2 * unit), base;
  (void)v;
  base = row / 2 * 2 * (2 * unit) + off % (2 * unit) / unit * unit;
  return base + (k / 16) * 2 * unit + (k % 16) * BLK;
}

/* Two flips in one group: a read of either fails with EIO and counts as
 * an error; the others of the group read fine.  Once both are written
 * again, the group is protected again: a new flip is rebuilt. */
static void test_double_flip(void)
{
  struct vd_volume *v = make("double");
  unsigned char *model = malloc(VOL), buf[BLK];
  uint64_t seed = 0xd0b1e, b1 = 5 * GROUP_BYTES * 2 + 3 * BLK, b2, b3;

  CU_ASSERT_FATAL(model != NULL);
  fill(v, model, seed);
  b2 = sibling(v, b1, 20);
  b3 = sibling(v, b1, 31);
  CU_ASSERT_EQUAL_FATAL(group_of(v, b1), group_of(v, b2));
  CU_ASSERT_EQUAL_FATAL(group_of(v, b1), group_of(v, b3));
  CU_ASSERT_NOT_EQUAL_FATAL(b1 / BLK, b2 / BLK);
  flip(v, b1 + 100, &seed);
  flip(v, b2 + 4000, &seed);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, b1, BLK, buf), -EIO);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, b2, BLK, buf), -EIO);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, b3, BLK, buf), 0);
  CU_ASSERT_EQUAL(memcmp(buf, model + b3, BLK), 0);
  CU_ASSERT_EQUAL(atomic_load(&v->target.sum_errors), 2);
  CU_ASSERT_EQUAL(atomic_load(&v->target.par_repaired), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, b1, BLK, model + b1), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, b1, BLK, buf), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, b2, BLK, buf), -EIO);
  CU_ASSERT_EQUAL(atomic_load(&v->target.sum_errors), 3);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, b2 + 512, 512, model + b2), 0);
  memcpy(model + b2 + 512, model + b2, 512);
  CU_ASSERT_EQUAL(tails_parity_wrong(v), 0);
  CU_ASSERT_EQUAL(tails_sums_wrong(v), 0);
  flip(v, b3 + 77, &seed);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, b3, BLK, buf), 0);
  CU_ASSERT_EQUAL(memcmp(buf, model + b3, BLK), 0);
  CU_ASSERT_EQUAL(atomic_load(&v->target.par_repaired), 1);
  vd_volume_put(v);
  free(model);
}

/* Partial-block writes and ZEROs keep the parity right: a flip after
 * them, in the block written or in another of its group, is rebuilt to
 * what they left. */
static void test_partial_writes(void)
{
  struct vd_volume *v = make("partial");
  unsigned char *model = malloc(VOL), buf[BLK], piece[512];
  static struct batch b;
  uint64_t seed = 0x9a271a1, repaired = 0;

  CU_ASSERT_FATAL(model != NULL);
  fill(v, model, seed);
  memset(piece, 0x3c, sizeof piece);
  for (unsigned g = 0; g < 8; g++) {
    uint64_t base = g * 4 * GROUP_BYTES + 7 * BLK, off = base + 512 * (g % 8);
    /* The idle path, then batched: a 512-byte write, a 512-byte ZERO. */
    CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, off, 512, piece), 0);
    memcpy(model + off, piece, 512);
    b.io[0] = (struct vd_io){ .target = &v->target, .op = VD_OP_WRITE, .off = off + 1536,
                              .len = 512, .buf = piece };
    b.io[1] = (struct vd_io){ .target = &v->target, .op = VD_OP_ZERO,
                              .off = sibling(v, base, 9) + 1024, .len = 512 };
    b.io[2] = (struct vd_io){ .target = &v->target, .op = VD_OP_ZERO,
                              .off = sibling(v, base, 12), .len = 2 * BLK };
    batch_run(eng, &b, 3);
    for (unsigned i = 0; i < 3; i++) {
      CU_ASSERT_EQUAL(b.err[i], 0);
      if (b.io[i].op == VD_OP_ZERO)
        memset(model + b.io[i].off, 0, b.io[i].len);
      else
        memcpy(model + b.io[i].off, piece, 512);
    }
    /* The flip: in the block written, a zeroed one, or another. */
    uint64_t victim = g % 3 == 0 ? base : g % 3 == 1 ? sibling(v, base, 12) :
                      sibling(v, base, 30);
    flip(v, victim + rnd(&seed) % BLK, &seed);
    CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, victim, BLK, buf), 0);
    CU_ASSERT_EQUAL(memcmp(buf, model + victim, BLK), 0);
    repaired++;
  }
  /* A flip before a partial write: the write rebuilds the block first,
   * so the flip is not kept in the bytes it left (nor counted). */
  for (unsigned g = 8; g < 12; g++) {
    uint64_t base = g * 4 * GROUP_BYTES + 2 * BLK;
    flip(v, base + 3000, &seed);
    if (g % 2) {
      CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, base + 512, 512, piece), 0);
      memcpy(model + base + 512, piece, 512);
    } else {
      CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_ZERO, base + 512, 512, NULL), 0);
      memset(model + base + 512, 0, 512);
    }
    CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, base, BLK, buf), 0);
    CU_ASSERT_EQUAL(memcmp(buf, model + base, BLK), 0);
  }
  CU_ASSERT_EQUAL(atomic_load(&v->target.par_repaired), repaired);
  CU_ASSERT_EQUAL(atomic_load(&v->target.sum_errors), 0);
  CU_ASSERT_EQUAL(tails_parity_wrong(v), 0);
  CU_ASSERT_EQUAL(tails_sums_wrong(v), 0);
  vd_volume_put(v);
  free(model);
}

/* A scrub repairs every single flip and reports a double one as bad and
 * not repaired, while a writer rewrites other groups; the next scrub
 * finds only the double. */
static void test_scrub_repairs(void)
{
  struct vd_volume *v = make("scrubpar");
  struct vd_scrub_ctl c = { .eng = eng };
  struct writer w = { .eng = eng, .v = v, .end = VOL / 2 };
  unsigned char *model = malloc(VOL), *back = malloc(VOL);
  uint64_t seed = 0x5c4b, dbl = VOL - 2 * GROUP_BYTES + 2 * BLK;
  pthread_t th;

  CU_ASSERT_FATAL(model && back);
  fill(v, model, seed);
  /* 40 singles in the second half, each in a group of its own, and the
   * double in a group of none of them. */
  for (unsigned k = 0; k < 40; k++) {
    uint64_t off = VOL / 2 + k * GROUP_BYTES + (k % 2) * (64u << 10) + (k % 16) * BLK;
    CU_ASSERT_NOT_EQUAL(group_of(v, off), group_of(v, dbl));
    flip(v, off + rnd(&seed) % BLK, &seed);
  }
  flip(v, dbl, &seed);
  flip(v, sibling(v, dbl, 17) + 9, &seed);
  CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, write_loop, &w), 0);
  CU_ASSERT_EQUAL(vd_volume_scrub(&c, v, err, sizeof err), 0);
  CU_ASSERT_EQUAL(c.blocks, VOL / BLK);
  CU_ASSERT_EQUAL(c.bad, 42);
  CU_ASSERT_EQUAL(c.repaired, 40);
  CU_ASSERT_EQUAL(vd_volume_scrub(&c, v, err, sizeof err), 0);
  CU_ASSERT_EQUAL(c.bad, 2);
  CU_ASSERT_EQUAL(c.repaired, 0);
  atomic_store(&w.stop, true);
  pthread_join(th, NULL);
  CU_ASSERT(w.writes > 0);
  CU_ASSERT_EQUAL(w.errors, 0);
  CU_ASSERT_EQUAL(atomic_load(&v->scrub.bad), 44);
  CU_ASSERT_EQUAL(atomic_load(&v->scrub.repaired), 40);
  CU_ASSERT_EQUAL(atomic_load(&v->scrub.last_repaired), 0);
  CU_ASSERT_EQUAL(atomic_load(&v->target.par_repaired), 40);
  /* The second half reads back as written, up to the double's group,
   * which alone holds parity of other data. */
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, VOL / 2, VOL / 2 - 2 * GROUP_BYTES,
                               back), 0);
  CU_ASSERT_EQUAL(memcmp(back, model + VOL / 2, VOL / 2 - 2 * GROUP_BYTES), 0);
  CU_ASSERT_EQUAL(tails_parity_wrong(v), 1);
  vd_volume_put(v);
  free(model);
  free(back);
}

static const struct vd_test tests[] = {
  { "parity equals the CPU's after every kind of write", test_parity_kept },
  { "single flips are rebuilt by reads on every path", test_single_flips },
  { "two flips in a group fail with EIO", test_double_flip },
  { "partial writes and ZEROs keep parity right", test_partial_writes },
  { "a scrub repairs single flips, under writes", test_scrub_repairs },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "parity", .tests = { tests } },
  { .name = NULL },
};

/* One pool of two PoCL devices and its engine. */
static int setup(void)
{
  return integ_open("test_parity", &pool, &eng);
}

/* Close what setup opened. */
static void teardown(void)
{
  integ_close(pool, eng);
}

VD_TEST_PROGRAM(suites, setup, teardown);
