/* test_move.c: extents moved between devices (one at a time, a drain, a
 * rebalance) and volumes resized while writers and readers run, on real OpenCL (PoCL with two
 * CPU devices in CI), checked against a host model: no write lost, no
 * read of anything but what was written. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "integ-util.h"
#include "../unit/runner.h"
#include "volume.h"

#define VOL (8u << 20)      /* 8 extents of 1 MiB, 4 per device */
#define EXT (1u << 20)
#define STATIC_OFF 0        /* the first 64 KiB: written once, then only read */
#define STATIC_LEN (64u << 10)
#define WRITERS 3

static struct vd_pool *pool;
static struct vd_engine *eng;
static struct vd_copier *cp;
static struct vd_registry reg;
static char err[512];
static enum vd_integrity integ; /* of the volumes made: checksums (and parity) in the
                                 * second (third) suite */

struct worker {
  struct vd_volume *v;
  unsigned char *model;   /* the writer's view: only its own regions */
  unsigned id;
  uint64_t seed;
  atomic_bool *stop;
  atomic_uint writes;
  unsigned bad;
};

/* A volume over both devices, registered. */
static struct vd_volume *make(const char *name, enum vd_provisioning prov)
{
  struct vd_volume_spec s;
  struct vd_volume *v = NULL;
  memset(&s, 0, sizeof s);
  strcpy(s.name, name);
  s.size = VOL;
  s.stripe_unit = 64u << 10;
  s.index = -1;
  s.provisioning = prov;
  s.integrity = integ;
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, EXT, &s, &v, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(vd_registry_add(&reg, v), 0);
  return v;
}

/* Unregister; the registry's reference was the last. */
static void drop(struct vd_volume *v)
{
  struct vd_volume *r = vd_registry_remove(&reg, v->spec.name);
  CU_ASSERT_PTR_EQUAL(r, v);
  vd_volume_put(r);
}

/* Writer: random writes to its own 64 KiB regions (region % WRITERS ==
 * id, the static one excluded), each recorded in the model once done. */
static void *writer(void *arg)
{
  struct worker *w = arg;
  unsigned char buf[65536];
  while (!atomic_load(w->stop)) {
    uint64_t region = 1 + rnd(&w->seed) % (VOL / 65536 - 1), off, len;
    if (region % WRITERS != w->id)
      continue;
    off = region * 65536 + (rnd(&w->seed) % 16) * 4096;
    len = 4096 * (1 + rnd(&w->seed) % ((region + 1) * 65536 - off) / 4096);
    if (len > 65536)
      len = 65536;
    for (uint64_t i = 0; i < len; i++)
      buf[i] = (unsigned char)rnd(&w->seed);
    if (vd_engine_rw(eng, &w->v->target, VD_OP_WRITE, off, len, buf)) {
      w->bad++;
      continue;
    }
    memcpy(w->model + off, buf, len);
    atomic_fetch_add(&w->writes, 1);
  }
  return NULL;
}

/* Reader: the static region must read the same every time. */
static void *reader(void *arg)
{
  struct worker *w = arg;
  unsigned char buf[STATIC_LEN];
  while (!atomic_load(w->stop)) {
    if (vd_engine_rw(eng, &w->v->target, VD_OP_READ, STATIC_OFF, STATIC_LEN, buf) ||
        memcmp(buf, w->model + STATIC_OFF, STATIC_LEN))
      w->bad++;
    atomic_fetch_add(&w->writes, 1);
  }
  return NULL;
}

/* Read the whole volume and compare with the model. */
static void check_model(struct vd_volume *v, const unsigned char *model)
{
  unsigned char *buf = malloc(VOL);
  CU_ASSERT_FATAL(buf != NULL);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, VOL, buf), 0);
  CU_ASSERT_EQUAL(memcmp(buf, model, VOL), 0);
  free(buf);
}

/* Run writers and a reader while fn moves extents; then check the model. */
static void under_load(struct vd_volume *v, void (*fn)(struct vd_volume *v))
{
  unsigned char *model = calloc(1, VOL);
  struct worker w[WRITERS + 1];
  pthread_t th[WRITERS + 1];
  atomic_bool stop = false;

  CU_ASSERT_FATAL(model != NULL);
  for (unsigned i = 0; i < STATIC_LEN; i++)
    model[STATIC_OFF + i] = (unsigned char)(i * 7 + 3);
  CU_ASSERT_EQUAL_FATAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, STATIC_OFF, STATIC_LEN,
                                     model + STATIC_OFF), 0);
  for (unsigned i = 0; i <= WRITERS; i++) {
    w[i] = (struct worker){ v, model, i, 0x9e3779b97f4a7c15ull * (i + 1), &stop, 0, 0 };
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, i < WRITERS ? writer : reader, &w[i]), 0);
  }
  /* Moves only count while every writer and the reader are at work. */
  for (unsigned i = 0; i <= WRITERS; i++)
    while (atomic_load(&w[i].writes) < 4)
      sched_yield();
  fn(v);
  atomic_store(&stop, true);
  for (unsigned i = 0; i <= WRITERS; i++) {
    pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(w[i].bad, 0);
    CU_ASSERT(atomic_load(&w[i].writes) >= 4);
  }
  check_model(v, model);
  free(model);
}

/* VRAM that bytes of a volume take, checksums and parity included
 * (every extent here holds whole parity groups). */
static uint64_t footprint(uint64_t bytes)
{
  return bytes + vd_tail_bytes(bytes, integ == VD_INTEGRITY_PARITY ? VD_TAIL_PARITY :
                                      integ ? VD_TAIL_SUMS : VD_TAIL_NONE);
}

/* Where logical extent (d, i) lives now. */
static struct vd_device *where(struct vd_volume *v, uint32_t d, uint32_t i)
{
  struct vd_extent *e = atomic_load(&v->target.ext[d][i]);
  return e ? vd_extent_device(e) : NULL;
}

static struct vd_move_ctl ctl(void)
{
  return (struct vd_move_ctl){ .eng = eng, .cp = cp };
}

/* Move every extent to the other device and back, three times. */
static void ping_pong(struct vd_volume *v)
{
  struct vd_move_ctl c = ctl();
  for (unsigned r = 0; r < 6; r++)
    for (uint32_t d = 0; d < 2; d++)
      for (uint32_t i = 0; i < vd_map_extent_count(&v->target.map, d); i++) {
        struct vd_device *to = vd_pool_device(pool, (d + r + 1) % 2);
        CU_ASSERT_EQUAL(vd_volume_move(&c, v, d, i, to, err, sizeof err), 0);
        CU_ASSERT_PTR_EQUAL(where(v, d, i), to);
      }
  CU_ASSERT_EQUAL(c.moved_extents, 6u * 8u);
  CU_ASSERT(c.max_stall_ns > 0);
}

static void test_ping_pong(void)
{
  struct vd_volume *v = make("pingpong", VD_PROV_THICK);
  under_load(v, ping_pong);
  CU_ASSERT_EQUAL(vd_volume_bytes_away(v), 0); /* six rounds: home again */
  drop(v);
}

/* Drain device 0, check it holds nothing, then rebalance. */
static void drain_rebalance(struct vd_volume *v)
{
  struct vd_device *d0 = vd_pool_device(pool, 0);
  struct vd_move_ctl c = ctl();

  CU_ASSERT_EQUAL(vd_drain_check(&reg, pool, d0, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_device_set_state(d0, VD_DEV_DRAINING, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_drain(&c, &reg, pool, d0, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_volumes_bytes_on(&reg, d0), 0);
  CU_ASSERT_EQUAL(vd_device_allocated(d0), 0);
  CU_ASSERT_EQUAL(vd_volume_bytes_away(v), VOL / 2);
  CU_ASSERT_EQUAL(vd_device_set_state(d0, VD_DEV_ACTIVE, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_rebalance(&c, v, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_volume_bytes_away(v), 0);
  CU_ASSERT_EQUAL(vd_device_allocated(d0), footprint(VOL / 2));
}

static void test_drain_rebalance(void)
{
  struct vd_volume *v = make("drain", VD_PROV_THICK);
  under_load(v, drain_rebalance);
  drop(v);
}

/* A drain that cannot fit is refused with the shortfall, nothing moved. */
static void test_drain_no_room(void)
{
  struct vd_volume *v = make("noroom", VD_PROV_THICK);
  struct vd_device *d0 = vd_pool_device(pool, 0), *d1 = vd_pool_device(pool, 1);
  uint64_t reserve = vd_device_info(d1)->reserve_bytes, mem = vd_device_info(d1)->free_bytes;

  /* Leave device 1 room for less than device 0 holds. */
  CU_ASSERT_EQUAL_FATAL(vd_device_set_reserve(d1, mem - VOL / 2 - EXT, NULL, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_drain_check(&reg, pool, d0, err, sizeof err), -ENOSPC);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "short"));
  CU_ASSERT_EQUAL(vd_volumes_bytes_on(&reg, d0), VOL / 2);
  CU_ASSERT_EQUAL(vd_device_set_reserve(d1, reserve, NULL, err, sizeof err), 0);
  drop(v);
}

/* Resize v to size while requests run: prepare, apply, give back. */
static void resize_to(struct vd_volume *v, uint64_t size)
{
  struct vd_move_ctl c = ctl();
  struct vd_resize r;
  CU_ASSERT_EQUAL_FATAL(vd_volume_resize_prepare(v, size, &r, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_volume_resize_apply(&c, v, &r, err, sizeof err), 0);
  vd_volume_resize_abort(&r);
  CU_ASSERT_EQUAL(v->size, size);
}

/* Grow past the writers' range (a partial last extent per device, then
 * reshaped to whole and a new one added), shrink with a partial cut, grow
 * again: past VOL, what was written and not cut since reads back, and the
 * rest (new, or cut and grown again) reads as zeros. */
static void grow_shrink(struct vd_volume *v)
{
  static const uint64_t sizes[] = { VOL + 1536u * 1024, VOL + 3u * EXT, VOL + EXT,
                                    VOL + 4u * EXT };
  unsigned char *buf = malloc(4u * EXT), *want = malloc(4u * EXT);
  uint64_t dirty = VOL; /* 0xee lies in [VOL, dirty) */

  CU_ASSERT_FATAL(buf && want);
  for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    uint64_t tail = sizes[k] - VOL;
    resize_to(v, sizes[k]);
    dirty = dirty < sizes[k] ? dirty : sizes[k];
    CU_ASSERT_EQUAL(vd_volume_allocated(v), footprint(sizes[k]));
    CU_ASSERT_EQUAL(vd_device_allocated(vd_pool_device(pool, 0)) +
                    vd_device_allocated(vd_pool_device(pool, 1)), footprint(sizes[k]));
    memset(want, 0xee, dirty - VOL);
    memset(want + (dirty - VOL), 0, sizes[k] - dirty);
    CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, VOL, tail, buf), 0);
    CU_ASSERT_EQUAL(memcmp(buf, want, tail), 0);
    memset(buf, 0xee, tail);
    CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, VOL, tail, buf), 0);
    dirty = sizes[k];
  }
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, VOL + 4u * EXT, 4096, buf), -EINVAL);
  resize_to(v, VOL);
  free(buf);
  free(want);
}

static void test_resize(void)
{
  struct vd_volume *v = make("resize", VD_PROV_THICK);
  under_load(v, grow_shrink);
  CU_ASSERT_EQUAL(vd_device_allocated(vd_pool_device(pool, 0)), footprint(VOL / 2));
  drop(v);
}

static const struct vd_test tests[] = {
  { "moves back and forth under writers and a reader", test_ping_pong },
  { "drain and rebalance under writers and a reader", test_drain_rebalance },
  { "a drain with no room is refused, nothing moved", test_drain_no_room },
  { "grows and shrinks under writers and a reader", test_resize },
  { NULL, NULL },
};

/* Checksums move with their extents: a bit flipped before a move is
 * still found after it, on the other device. */
static void test_flip_moves(void)
{
  struct vd_volume *v = make("flipmove", VD_PROV_THICK);
  struct vd_move_ctl c = ctl();
  unsigned char buf[4096];
  struct vd_device *to = vd_pool_device(pool, 1);

  CU_ASSERT_EQUAL(vd_volume_flip(eng, v, 100, 0x01, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, sizeof buf, buf), -EIO);
  CU_ASSERT_EQUAL(vd_volume_move(&c, v, 0, 0, to, err, sizeof err), 0);
  CU_ASSERT_PTR_EQUAL(where(v, 0, 0), to);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, sizeof buf, buf), -EIO);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 4096, sizeof buf, buf), 0);
  drop(v);
}

static const struct vd_test integ_tests[] = {
  { "a flipped bit is still found after its extent moved", test_flip_moves },
  { NULL, NULL },
};

/* With parity: a flip is rebuilt after its extent moved, and after a
 * shrink that cuts a parity group short (its parity computed again). */
static void test_parity_moves(void)
{
  struct vd_volume *v = make("parmove", VD_PROV_THICK);
  struct vd_move_ctl c = ctl();
  unsigned char *model = malloc(VOL + EXT), *buf = malloc(VOL + EXT);
  uint64_t seed = 0x7a11, cut = VOL + (128u << 10);

  CU_ASSERT_FATAL(model && buf);
  for (uint64_t i = 0; i < VOL + EXT; i++)
    model[i] = (unsigned char)rnd(&seed);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, 0, VOL, model), 0);
  CU_ASSERT_EQUAL(vd_volume_flip(eng, v, 100, 0x01, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_volume_move(&c, v, 0, 0, vd_pool_device(pool, 1), err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, 0, 4096, buf), 0);
  CU_ASSERT_EQUAL(memcmp(buf, model, 4096), 0);
  CU_ASSERT_EQUAL(atomic_load(&v->target.par_repaired), 1);
  /* Grow by 1 MiB (512 KiB a device), fill it, shrink to 128 KiB past
   * VOL: each device keeps 64 KiB of its last extent, half a group. */
  resize_to(v, VOL + EXT);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_WRITE, VOL, EXT, model + VOL), 0);
  resize_to(v, cut);
  CU_ASSERT_EQUAL(tails_parity_wrong(v), 0);
  CU_ASSERT_EQUAL(tails_sums_wrong(v), 0);
  CU_ASSERT_EQUAL(vd_volume_flip(eng, v, cut - 4000, 0x40, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &v->target, VD_OP_READ, VOL, cut - VOL, buf), 0);
  CU_ASSERT_EQUAL(memcmp(buf, model + VOL, cut - VOL), 0);
  CU_ASSERT_EQUAL(atomic_load(&v->target.par_repaired), 2);
  resize_to(v, VOL);
  free(model);
  free(buf);
  drop(v);
}

static const struct vd_test parity_tests[] = {
  { "a flip is rebuilt after moves and a shrink that cuts a group", test_parity_moves },
  { NULL, NULL },
};

/* The second suite runs every test on volumes that keep checksums. */
static int integ_on(void)
{
  integ = VD_INTEGRITY_CRC32C;
  return 0;
}

static int parity_on(void)
{
  integ = VD_INTEGRITY_PARITY;
  return 0;
}

static int integ_off(void)
{
  integ = VD_INTEGRITY_NONE;
  return 0;
}

static const struct vd_suite suites[] = {
  { .name = "moving extents", .tests = { tests } },
  { .name = "moving extents with checksums", .tests = { tests, integ_tests },
    .init = integ_on, .fini = integ_off },
  { .name = "moving extents with parity", .tests = { tests, parity_tests },
    .init = parity_on, .fini = integ_off },
  { .name = NULL },
};

/* One pool of two PoCL devices, its engine and a copier. */
static int setup(void)
{
  struct vd_pool_config pc = { .types = VD_DEV_CPU };

  setenv("POCL_DEVICES", "pthread pthread", 0);
  vd_registry_init(&reg);
  if (vd_pool_open(&pc, &pool, err, sizeof err) ||
      vd_engine_start(pool, NULL, &eng, err, sizeof err) ||
      vd_copier_open(pool, NULL, 2u << 20, &cp, err, sizeof err)) {
    fprintf(stderr, "test_move: %s\n", err);
    return 1;
  }
  if (vd_pool_count(pool) < 2) {
    fprintf(stderr, "test_move: needs two devices\n");
    return 1;
  }
  return 0;
}

/* Close what setup opened. */
static void teardown(void)
{
  vd_copier_close(cp);
  vd_engine_stop(eng);
  vd_pool_close(pool);
}

VD_TEST_PROGRAM(suites, setup, teardown);
