/* test_health.c: telling a lost device from a one-off failure.  The pure
 * rules (which OpenCL errors mean "gone", what NVML's codes say), then a
 * real PoCL pool: a healthy device passes its probe, and once a device is
 * lost its volumes fail whole while the other device and pinned staging
 * carry on.  tests/integration/device-loss.sh makes OpenCL itself fail. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "pool-internal.h"
#include "volume.h"
#include "runner.h"

static char err[512];

static void test_gone_codes(void)
{
  static const cl_int gone[] = { CL_DEVICE_NOT_AVAILABLE, CL_OUT_OF_RESOURCES,
                                 CL_INVALID_DEVICE, CL_INVALID_CONTEXT,
                                 CL_INVALID_COMMAND_QUEUE, CL_INVALID_MEM_OBJECT,
                                 CL_INVALID_EVENT, -9999 };
  static const cl_int passing[] = { CL_SUCCESS, CL_MEM_OBJECT_ALLOCATION_FAILURE,
                                    CL_OUT_OF_HOST_MEMORY, CL_INVALID_VALUE,
                                    CL_INVALID_OPERATION, CL_MAP_FAILURE,
                                    CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST,
                                    CL_INVALID_BUFFER_SIZE, -1001, 1 };
  for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
    CU_ASSERT_TRUE(vd_cl_error_gone(gone[i]));
  for (size_t i = 0; i < sizeof passing / sizeof passing[0]; i++)
    CU_ASSERT_FALSE(vd_cl_error_gone(passing[i]));
}

static void test_nvml_judge(void)
{
  CU_ASSERT_EQUAL(vd_nvml_judge(0), VD_NVML_FINE);
  CU_ASSERT_EQUAL(vd_nvml_judge(15), VD_NVML_LOST);      /* GPU_IS_LOST */
  CU_ASSERT_EQUAL(vd_nvml_judge(16), VD_NVML_LOST);      /* RESET_REQUIRED */
  for (int rc = 1; rc <= 6; rc++)                        /* UNINITIALIZED .. NOT_FOUND */
    CU_ASSERT_EQUAL(vd_nvml_judge(rc), rc == 5 ? VD_NVML_UNSURE : VD_NVML_UNWATCHABLE);
  CU_ASSERT_EQUAL(vd_nvml_judge(13), VD_NVML_UNWATCHABLE); /* FUNCTION_NOT_FOUND */
  CU_ASSERT_EQUAL(vd_nvml_judge(10), VD_NVML_UNSURE);    /* TIMEOUT */
  CU_ASSERT_EQUAL(vd_nvml_judge(17), VD_NVML_UNSURE);    /* OPERATING_SYSTEM */
  CU_ASSERT_EQUAL(vd_nvml_judge(999), VD_NVML_UNSURE);   /* UNKNOWN */
}

/* A spec for a volume of size bytes over the given device ids. */
static struct vd_volume_spec spec_on(const char *name, uint64_t size, enum vd_layout layout,
                                     unsigned ndev, const char *d0, const char *d1)
{
  struct vd_volume_spec s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "%s", name);
  s.size = size;
  s.layout = layout;
  s.stripe_unit = 64 << 10;
  s.index = -1;
  s.ndev = ndev;
  snprintf(s.dev_ids[0], sizeof s.dev_ids[0], "%s", d0);
  if (d1)
    snprintf(s.dev_ids[1], sizeof s.dev_ids[1], "%s", d1);
  return s;
}

static void test_lost_device(void)
{
  struct vd_pool_config pc = { .types = VD_DEV_CPU };
  struct vd_pool *pool;
  struct vd_engine *eng;
  struct vd_volume *both, *other;
  struct vd_volume_spec s;
  struct vd_device *d0, *d1;
  unsigned char buf[4096];
  void *pin;

  CU_ASSERT_EQUAL_FATAL(vd_pool_open(&pc, &pool, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(vd_pool_count(pool), 2);
  CU_ASSERT_EQUAL_FATAL(vd_engine_start(pool, NULL, &eng, err, sizeof err), 0);
  d0 = vd_pool_device(pool, 0);
  d1 = vd_pool_device(pool, 1);
  s = spec_on("both", 1 << 20, VD_LAYOUT_STRIPE, 2, d0->info.id, d1->info.id);
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &both, err, sizeof err), 0);
  s = spec_on("other", 1 << 20, VD_LAYOUT_CONCAT, 1, d1->info.id, NULL);
  CU_ASSERT_EQUAL_FATAL(vd_volume_alloc(pool, NULL, 1 << 20, &s, &other, err, sizeof err), 0);

  /* Healthy: a failure elsewhere does not make the probe fail. */
  CU_ASSERT_FALSE(vd_device_check(d0, "a test"));
  CU_ASSERT_FALSE(vd_device_is_lost(d0));
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &both->target, VD_OP_READ, 0, sizeof buf, buf), 0);

  /* Lost: once only; the check agrees without probing; nothing new fits. */
  vd_device_declare_lost(d0, "a test");
  CU_ASSERT_TRUE(vd_device_is_lost(d0));
  CU_ASSERT_FALSE(vd_device_mark_lost(d0));
  CU_ASSERT_TRUE(vd_device_check(d0, "a test"));
  CU_ASSERT_EQUAL(vd_device_available(d0), 0);
  CU_ASSERT_TRUE(vd_volume_failed(both));
  CU_ASSERT_FALSE(vd_volume_failed(other));

  /* The whole striped volume fails, also where only d1 holds the bytes
   * (the second 64 KiB unit), and the other volume serves on. */
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &both->target, VD_OP_READ, 0, sizeof buf, buf), -EIO);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &both->target, VD_OP_WRITE, 64 << 10, sizeof buf, buf), -EIO);
  memset(buf, 0x5c, sizeof buf);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &other->target, VD_OP_WRITE, 8192, sizeof buf, buf), 0);
  memset(buf, 0, sizeof buf);
  CU_ASSERT_EQUAL(vd_engine_rw(eng, &other->target, VD_OP_READ, 8192, sizeof buf, buf), 0);
  CU_ASSERT_EQUAL(buf[0], 0x5c);
  CU_ASSERT_EQUAL(buf[sizeof buf - 1], 0x5c);

  /* Pinned staging for new sessions still comes (from the device left;
   * device-loss.sh proves it with a device that refuses maps). */
  pin = vd_engine_pinned_alloc(eng, 1 << 16);
  CU_ASSERT_PTR_NOT_NULL(pin);
  vd_engine_pinned_free(eng, pin);

  vd_volume_put(both);
  vd_volume_put(other);
  vd_engine_stop(eng);
  vd_pool_close(pool);
}

static const struct vd_test tests[] = {
  { "OpenCL errors that mean the device is gone", test_gone_codes },
  { "NVML return codes", test_nvml_judge },
  { "a lost device fails its volumes, not the others", test_lost_device },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "device health", .tests = { tests } },
  { .name = NULL },
};

/* Two PoCL devices, unless the caller chose others. */
static int setup(void)
{
  return setenv("POCL_DEVICES", "pthread pthread", 0);
}

VD_TEST_PROGRAM(suites, setup, NULL);
