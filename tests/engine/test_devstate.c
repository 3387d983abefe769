/* test_devstate.c: device states and the reserve on a real PoCL pool of
 * two devices: a device that is not active takes no extent (ENOSPC naming
 * it and its state) and keeps those it has; a reserve changed at run time
 * applies to the next allocation and reports what now lies inside it;
 * both hold while other threads allocate and free as fast as they can. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "util.h"
#include "../unit/runner.h"

#define MIB (1ull << 20)

static struct vd_pool *pool;
static char err[512];

/* Device i. */
static struct vd_device *dev(unsigned i)
{
  return vd_pool_device(pool, i);
}

static void test_states(void)
{
  struct vd_device *d = dev(0);
  struct vd_extent *held = NULL, *e = NULL;
  const char *id = vd_device_info(d)->id;

  CU_ASSERT_EQUAL(vd_device_state(d), VD_DEV_ACTIVE);
  CU_ASSERT_EQUAL_FATAL(vd_extent_alloc(d, MIB, &held, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_device_set_state(d, VD_DEV_DRAINING, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_device_state(d), VD_DEV_DRAINING);
  CU_ASSERT_EQUAL(vd_device_available(d), 0);
  CU_ASSERT_EQUAL(vd_extent_alloc(d, 4096, &e, err, sizeof err), -ENOSPC);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, id));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "draining"));
  CU_ASSERT_EQUAL(vd_device_allocated(d), MIB); /* what it holds stays */
  CU_ASSERT_EQUAL(vd_device_set_state(d, VD_DEV_DRAINED, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_extent_alloc(d, 4096, &e, err, sizeof err), -ENOSPC);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "drained"));
  /* The other device is untouched. */
  CU_ASSERT_EQUAL(vd_device_state(dev(1)), VD_DEV_ACTIVE);
  CU_ASSERT_EQUAL_FATAL(vd_extent_alloc(dev(1), 4096, &e, err, sizeof err), 0);
  vd_extent_free(e);
  vd_extent_free(held);
  CU_ASSERT_EQUAL(vd_device_allocated(d), 0);
  CU_ASSERT_EQUAL(vd_device_set_state(d, VD_DEV_FAILED, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(vd_device_state(d), VD_DEV_DRAINED);
  CU_ASSERT_EQUAL(vd_device_set_state(d, VD_DEV_ACTIVE, err, sizeof err), 0);
  CU_ASSERT(vd_device_available(d) > 0);
  CU_ASSERT_EQUAL_FATAL(vd_extent_alloc(d, 4096, &e, err, sizeof err), 0);
  vd_extent_free(e);
  CU_ASSERT_STRING_EQUAL(vd_dev_state_name(VD_DEV_ACTIVE), "active");
  CU_ASSERT_STRING_EQUAL(vd_dev_state_name(VD_DEV_DRAINING), "draining");
  CU_ASSERT_STRING_EQUAL(vd_dev_state_name(VD_DEV_DRAINED), "drained");
  CU_ASSERT_STRING_EQUAL(vd_dev_state_name(VD_DEV_FAILED), "failed");
}

/* Lost is failed, for good: no state can be set any more. */
static void test_failed(void)
{
  struct vd_pool_config pc = { .types = VD_DEV_CPU };
  struct vd_pool *p;
  struct vd_extent *e;
  struct vd_device *d;

  CU_ASSERT_EQUAL_FATAL(vd_pool_open(&pc, &p, err, sizeof err), 0);
  d = vd_pool_device(p, 1);
  vd_device_declare_lost(d, "the test says so");
  CU_ASSERT_EQUAL(vd_device_state(d), VD_DEV_FAILED);
  CU_ASSERT_EQUAL(vd_device_set_state(d, VD_DEV_ACTIVE, err, sizeof err), -ENODEV);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "lost"));
  CU_ASSERT_EQUAL(vd_device_state(d), VD_DEV_FAILED);
  CU_ASSERT_EQUAL(vd_extent_alloc(d, 4096, &e, err, sizeof err), -ENOSPC);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "failed"));
  CU_ASSERT_EQUAL(vd_device_available(d), 0);
  vd_pool_close(p);
}

static void test_reserve(void)
{
  struct vd_device *d = dev(1);
  const struct vd_device_info *in = vd_device_info(d);
  uint64_t was = in->reserve_bytes, free_b = in->free_bytes, inside = 1;
  struct vd_extent *held, *e;

  CU_ASSERT_EQUAL_FATAL(vd_extent_alloc(d, 8 * MIB, &held, err, sizeof err), 0);
  /* Capacity 4 MiB: 4 of the 8 held now lie inside the reserve. */
  CU_ASSERT_EQUAL(vd_device_set_reserve(d, free_b - 4 * MIB, &inside, err, sizeof err), 0);
  CU_ASSERT_EQUAL(in->reserve_bytes, free_b - 4 * MIB);
  CU_ASSERT_EQUAL(in->capacity_bytes, 4 * MIB);
  CU_ASSERT_EQUAL(inside, 4 * MIB);
  CU_ASSERT_EQUAL(vd_device_inside_reserve(d), 4 * MIB);
  CU_ASSERT_EQUAL(vd_device_available(d), 0);
  CU_ASSERT_EQUAL(vd_extent_alloc(d, 4096, &e, err, sizeof err), -ENOSPC);
  CU_ASSERT_EQUAL(vd_device_allocated(d), 8 * MIB); /* held stays */
  /* Room for 2 MiB more. */
  CU_ASSERT_EQUAL(vd_device_set_reserve(d, free_b - 10 * MIB, &inside, err, sizeof err), 0);
  CU_ASSERT_EQUAL(inside, 0);
  CU_ASSERT_EQUAL(vd_device_available(d), 2 * MIB);
  CU_ASSERT_EQUAL(vd_extent_alloc(d, 2 * MIB + 4096, &e, err, sizeof err), -ENOSPC);
  CU_ASSERT_EQUAL_FATAL(vd_extent_alloc(d, 2 * MIB, &e, err, sizeof err), 0);
  vd_extent_free(e);
  /* A reserve past the device's memory is refused and changes nothing. */
  CU_ASSERT_EQUAL(vd_device_set_reserve(d, in->total_bytes + 1, &inside, err, sizeof err),
                  -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "more than the device's memory"));
  CU_ASSERT_EQUAL(in->capacity_bytes, 10 * MIB);
  /* All of it: nothing may be used, all that is held is inside. */
  CU_ASSERT_EQUAL(vd_device_set_reserve(d, in->total_bytes, &inside, err, sizeof err), 0);
  CU_ASSERT_EQUAL(in->capacity_bytes, 0);
  CU_ASSERT_EQUAL(inside, 8 * MIB);
  vd_extent_free(held);
  CU_ASSERT_EQUAL(vd_device_inside_reserve(d), 0);
  CU_ASSERT_EQUAL(vd_device_set_reserve(d, was, NULL, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_device_available(d), in->capacity_bytes);
}

/* Allocators racing a thread that flips the reserve and the state. */
struct race {
  struct vd_device *dev;
  atomic_bool stop;
  atomic_uint epoch;        /* odd from after draining is set to before it ends */
  atomic_uint late, made;   /* extents made while draining from start to end; all */
};

/* Allocate and free 1 MiB extents until told to stop. */
static void *allocator(void *arg)
{
  struct race *r = arg;
  char e_msg[256];
  while (!atomic_load(&r->stop)) {
    struct vd_extent *e;
    unsigned before = atomic_load(&r->epoch);
    if (vd_extent_alloc(r->dev, MIB, &e, e_msg, sizeof e_msg) == 0) {
      atomic_fetch_add(&r->made, 1);
      if (before % 2 && atomic_load(&r->epoch) == before)
        atomic_fetch_add(&r->late, 1);
      vd_extent_free(e);
    }
  }
  return NULL;
}

/* Let the allocators make extents up to n (5 s at most: a loaded host). */
static void wait_made(struct race *r, unsigned n)
{
  uint64_t until = vd_now_ns() + 5000000000ull;
  while (atomic_load(&r->made) < n && vd_now_ns() < until)
    sched_yield();
}

static void test_race(void)
{
  struct race r = { .dev = dev(0) };
  const struct vd_device_info *in = vd_device_info(r.dev);
  uint64_t was = in->reserve_bytes, free_b = in->free_bytes;
  struct vd_extent *e[8];
  pthread_t t[3];
  unsigned n = 0;

  for (int i = 0; i < 3; i++)
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, allocator, &r), 0);
  for (int i = 0; i < 200; i++) {
    CU_ASSERT_EQUAL(vd_device_set_reserve(r.dev, free_b - (i % 2 ? 64 : 3) * MIB, NULL,
                                          err, sizeof err), 0);
    wait_made(&r, atomic_load(&r.made) + 1); /* a race needs both sides running */
    if (i % 50 == 49) { /* a while draining: nothing new may land */
      CU_ASSERT_EQUAL(vd_device_set_state(r.dev, VD_DEV_DRAINING, err, sizeof err), 0);
      atomic_fetch_add(&r.epoch, 1);
      for (int k = 0; k < 20; k++)
        sched_yield();
      atomic_fetch_add(&r.epoch, 1);
      CU_ASSERT_EQUAL(vd_device_set_state(r.dev, VD_DEV_ACTIVE, err, sizeof err), 0);
    }
  }
  /* End on a capacity of 3 MiB: held extents stop at 3 however the race
   * went, and nothing is counted that is not held. */
  CU_ASSERT_EQUAL(vd_device_set_reserve(r.dev, free_b - 3 * MIB, NULL, err, sizeof err), 0);
  atomic_store(&r.stop, true);
  for (int i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  CU_ASSERT_EQUAL(atomic_load(&r.late), 0);
  CU_ASSERT(atomic_load(&r.made) >= 200);
  CU_ASSERT_EQUAL(vd_device_allocated(r.dev), 0);
  while (n < 8 && vd_extent_alloc(r.dev, MIB, &e[n], err, sizeof err) == 0)
    n++;
  CU_ASSERT_EQUAL(n, 3);
  while (n)
    vd_extent_free(e[--n]);
  CU_ASSERT_EQUAL(vd_device_set_reserve(r.dev, was, NULL, err, sizeof err), 0);
}

static const struct vd_test tests[] = {
  { "draining and drained take no extent", test_states },
  { "a lost device is failed for good", test_failed },
  { "a reserve set at run time", test_reserve },
  { "reserve and state changes race allocations", test_race },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "device states and reserve", .tests = { tests } },
  { .name = NULL },
};

/* A pool of two PoCL devices. */
static int setup(void)
{
  struct vd_pool_config pc = { .types = VD_DEV_CPU };

  setenv("POCL_DEVICES", "pthread pthread", 0);
  if (vd_pool_open(&pc, &pool, err, sizeof err)) {
    fprintf(stderr, "test_devstate: %s\n", err);
    return 1;
  }
  if (vd_pool_count(pool) < 2) {
    fprintf(stderr, "test_devstate: needs two devices (POCL_DEVICES=\"pthread pthread\")\n");
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
