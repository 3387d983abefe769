/* test_config.c: vramd.conf and option parsing of the pinned-memory
 * settings (nbd-staging, nbd-max-sessions, small-batch, small-max,
 * small-staging): defaults, good values, and each bad value's message.
 * The NBD keys reach the NBD frontend's own parser through the daemon's,
 * as they do in vramd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"
#include "nbd/nbd-internal.h"
#include "settings.h"
#include "runner.h"

static struct vramd_config cfg;
static char err[512];

/* The NBD frontend's settings in cfg. */
static const struct nbd_settings *nbd(void)
{
  for (unsigned i = 0; cfg.frontends[i]; i++)
    if (cfg.frontends[i]->kind == VD_FRONTEND_NBD)
      return nbd_settings_of(&cfg.fe[i]);
  CU_FAIL_FATAL("no NBD frontend in the table");
  return NULL;
}

/* Apply one setting to fresh defaults. */
static int set(const char *key, const char *value)
{
  vramd_config_defaults(&cfg, vd_frontends);
  err[0] = '\0';
  return vramd_config_set(&cfg, key, value, err, sizeof err);
}

/* Expect a refusal whose message is exactly msg. */
static void expect_bad(const char *key, const char *value, const char *msg)
{
  CU_ASSERT_EQUAL(set(key, value), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, msg);
  if (strcmp(err, msg))
    fprintf(stderr, "\n%s = %s: got \"%s\"\n", key, value, err);
}

/* Expect a size setting to take value as bytes. */
static void expect_size(const char *key, const char *value, uint64_t bytes)
{
  CU_ASSERT_EQUAL_FATAL(set(key, value), 0);
  if (!strcmp(key, "nbd-staging"))
    CU_ASSERT_EQUAL(nbd()->staging, bytes);
  if (!strcmp(key, "small-max"))
    CU_ASSERT_EQUAL(cfg.small_max, bytes);
  if (!strcmp(key, "small-staging"))
    CU_ASSERT_EQUAL(cfg.small_staging, bytes);
}

/* verbose and a volume's attach take the same words as small-batch, and
 * a typo is refused rather than read as "off". */
static void test_switches(void)
{
  struct vd_volume_spec spec;
  CU_ASSERT_EQUAL(set("verbose", "on"), 0);
  CU_ASSERT(cfg.verbose);
  expect_bad("verbose", "ye", "verbose: 'ye' is not on or off");
  CU_ASSERT_EQUAL(vd_spec_from_text("name=a,size=4M,attach=on", &spec, err, sizeof err), 0);
  CU_ASSERT(spec.attach);
  CU_ASSERT_EQUAL(vd_spec_from_text("name=a,size=4M,attach=no", &spec, err, sizeof err), 0);
  CU_ASSERT(!spec.attach);
  CU_ASSERT_EQUAL(vd_spec_from_text("name=a,size=4M,attach=ture", &spec, err, sizeof err),
                  -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "volume: attach: 'ture' is not on or off");
}

/* A stripe unit means nothing to concat: refused in either order, as the
 * API and vramctl refuse it. */
static void test_unit_needs_stripe(void)
{
  struct vd_volume_spec spec;
  CU_ASSERT_EQUAL(vd_spec_from_text("name=a,size=4M,layout=concat,unit=64K", &spec,
                                          err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "volume: unit= applies to layout=stripe or mirror only, not concat");
  CU_ASSERT_EQUAL(vd_spec_from_text("name=a,size=4M,unit=64K,layout=concat", &spec,
                                          err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(vd_spec_from_text("name=a,size=4M,unit=64K,layout=stripe", &spec,
                                          err, sizeof err), 0);
  CU_ASSERT_EQUAL(spec.stripe_unit, 64 << 10);
}

/* The defaults are the measured ones (docs/design-decisions.md). */
static void test_defaults(void)
{
  vramd_config_defaults(&cfg, vd_frontends);
  CU_ASSERT_EQUAL(nbd()->staging, 32u << 20);
  CU_ASSERT_EQUAL(nbd()->max_sessions, 256);
  CU_ASSERT(cfg.small_batch);
  CU_ASSERT_EQUAL(cfg.small_max, 16u << 10);
  CU_ASSERT_EQUAL(cfg.small_staging, 4u << 20);
  /* one kernel NBD connection per online CPU, at most 4 */
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  CU_ASSERT_EQUAL(nbd()->attach_connections, cpus < 1 ? 1 : cpus > 4 ? 4 : (unsigned)cpus);
}

static void test_nbd_staging(void)
{
  expect_size("nbd-staging", "4M", 4u << 20);
  expect_size("nbd-staging", "1M", 1u << 20);
  expect_size("nbd-staging", "256M", 256u << 20);
  expect_size("nbd-staging", "3M", 3u << 20);       /* 24 chunks */
  expect_size("nbd-staging", "1152K", 1152u << 10); /* 9 chunks */
  expect_size("nbd-staging", "33554432", 32u << 20);
  expect_size("nbd-staging", "64MiB", 64u << 20);
  expect_bad("nbd-staging", "0", "nbd-staging: size '0' must be greater than zero");
  expect_bad("nbd-staging", "", "nbd-staging: empty size");
  expect_bad("nbd-staging", "-4M", "nbd-staging: size '-4M' must start with a digit (e.g. 12G)");
  expect_bad("nbd-staging", "4X", "nbd-staging: size '4X' has an unknown suffix (use K, M, G, T or P)");
  expect_bad("nbd-staging", "512K", "nbd-staging: '512K' is out of range (1M to 256M)");
  expect_bad("nbd-staging", "257M", "nbd-staging: '257M' is out of range (1M to 256M)");
  expect_bad("nbd-staging", "1G", "nbd-staging: '1G' is out of range (1M to 256M)");
  expect_bad("nbd-staging", "3136K",
             "nbd-staging: '3136K' is not a multiple of 128K (the staging chunk)");
  expect_bad("nbd-staging", "1048577",
             "nbd-staging: '1048577' is not a multiple of 128K (the staging chunk)");
}

static void test_nbd_max_sessions(void)
{
  CU_ASSERT_EQUAL(set("nbd-max-sessions", "1"), 0);
  CU_ASSERT_EQUAL(nbd()->max_sessions, 1);
  CU_ASSERT_EQUAL(set("nbd-max-sessions", "4096"), 0);
  CU_ASSERT_EQUAL(nbd()->max_sessions, 4096);
  expect_bad("nbd-max-sessions", "0", "nbd-max-sessions: '0' is not a number from 1 to 4096");
  expect_bad("nbd-max-sessions", "4097", "nbd-max-sessions: '4097' is not a number from 1 to 4096");
  expect_bad("nbd-max-sessions", "-1", "nbd-max-sessions: '-1' is not a number from 1 to 4096");
  expect_bad("nbd-max-sessions", "2x", "nbd-max-sessions: '2x' is not a number from 1 to 4096");
  expect_bad("nbd-max-sessions", "", "nbd-max-sessions: '' is not a number from 1 to 4096");
  /* workers keeps its range and message */
  expect_bad("workers", "65", "workers: '65' is not a number from 0 to 64");
}

static void test_nbd_attach_connections(void)
{
  CU_ASSERT_EQUAL(set("nbd-attach-connections", "1"), 0);
  CU_ASSERT_EQUAL(nbd()->attach_connections, 1);
  CU_ASSERT_EQUAL(set("nbd-attach-connections", "16"), 0);
  CU_ASSERT_EQUAL(nbd()->attach_connections, 16);
  expect_bad("nbd-attach-connections", "0",
             "nbd-attach-connections: '0' is not a number from 1 to 16");
  expect_bad("nbd-attach-connections", "17",
             "nbd-attach-connections: '17' is not a number from 1 to 16");
}

/* A key neither the daemon nor a frontend knows is refused by name; the
 * NBD strings are its own and read back through the daemon. */
static void test_frontend_keys(void)
{
  char path[201];

  expect_bad("nbd-bogus", "1", "unknown setting 'nbd-bogus'");
  expect_bad("ublk-queues", "2", "unknown setting 'ublk-queues'");
  CU_ASSERT_STRING_EQUAL(vramd_config_str(&cfg, "nbd-socket"), "/run/vramd/nbd.sock");
  CU_ASSERT_STRING_EQUAL(vramd_config_str(&cfg, "nbd-listen"), "");
  CU_ASSERT_PTR_NULL(vramd_config_str(&cfg, "api-socket"));
  CU_ASSERT_EQUAL(set("nbd-listen", "127.0.0.1:10809"), 0);
  CU_ASSERT_STRING_EQUAL(vramd_config_str(&cfg, "nbd-listen"), "127.0.0.1:10809");
  CU_ASSERT_STRING_EQUAL(nbd()->listen, "127.0.0.1:10809");
  memset(path, 'x', 200);
  path[200] = '\0';
  CU_ASSERT_EQUAL(set("nbd-socket", path), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "nbd-socket: value is longer than 107 characters");
}

static void test_small_batch(void)
{
  static const char *const on[] = { "on", "yes", "true", "1" };
  static const char *const off[] = { "off", "no", "false", "0" };
  for (unsigned i = 0; i < 4; i++) {
    CU_ASSERT_EQUAL(set("small-batch", off[i]), 0);
    CU_ASSERT(!cfg.small_batch);
    CU_ASSERT_EQUAL(vramd_config_set(&cfg, "small-batch", on[i], err, sizeof err), 0);
    CU_ASSERT(cfg.small_batch);
  }
  expect_bad("small-batch", "maybe", "small-batch: 'maybe' is not on or off");
  expect_bad("small-batch", "ON", "small-batch: 'ON' is not on or off");
  expect_bad("small-batch", "", "small-batch: '' is not on or off");
}

/* scrub-interval takes N{s,m,h,d} or off; write-ack and driver-copies
 * their words; --help shows them as typed. */
static void test_scrub_ack_copies(void)
{
  char buf[64];
  static const struct { const char *v; uint64_t s; } ok[] = {
    { "90s", 90 }, { "30m", 1800 }, { "24h", 86400 }, { "7d", 604800 }, { "off", 0 }, { "0", 0 } };
  for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    CU_ASSERT_EQUAL(set("scrub-interval", ok[i].v), 0);
    CU_ASSERT_EQUAL(cfg.scrub_interval, ok[i].s);
  }
  CU_ASSERT_EQUAL(vramd_config_show(&cfg, "scrub-interval", buf, sizeof buf), 0);
  CU_ASSERT_STRING_EQUAL(buf, "off");
  CU_ASSERT_EQUAL(set("scrub-interval", "36h"), 0);
  CU_ASSERT_EQUAL(vramd_config_show(&cfg, "scrub-interval", buf, sizeof buf), 0);
  CU_ASSERT_STRING_EQUAL(buf, "36h");
  for (const char *const *v = (const char *const[]){ "5", "5x", "h", "-1s", "1.5h", "400d",
                                                     "10ss", "", NULL }; *v; v++)
    CU_ASSERT_EQUAL(set("scrub-interval", *v), -EINVAL);
  CU_ASSERT_EQUAL(set("write-ack", "landed"), 0);
  CU_ASSERT(!cfg.write_ack_queued);
  CU_ASSERT_EQUAL(set("write-ack", "queued"), 0);
  CU_ASSERT(cfg.write_ack_queued);
  expect_bad("write-ack", "later", "write-ack: 'later' is neither 'queued' nor 'landed'");
  CU_ASSERT_EQUAL(set("driver-copies", "per-device"), 0);
  CU_ASSERT_EQUAL(cfg.driver_copies, 1);
  expect_bad("driver-copies", "auto", "driver-copies: 'auto' is neither 'shared' nor 'per-device'");
}

static void test_small_max(void)
{
  expect_size("small-max", "512", 512);
  expect_size("small-max", "24K", 24u << 10);
  expect_size("small-max", "64K", 64u << 10);
  expect_size("small-max", "1536", 1536);
  expect_bad("small-max", "256", "small-max: '256' is out of range (512 to 64K)");
  expect_bad("small-max", "128K", "small-max: '128K' is out of range (512 to 64K)");
  expect_bad("small-max", "1000", "small-max: '1000' is not a multiple of 512 (a sector)");
  expect_bad("small-max", "0", "small-max: size '0' must be greater than zero");
}

static void test_small_staging(void)
{
  expect_size("small-staging", "1M", 1u << 20);
  expect_size("small-staging", "64M", 64u << 20);
  expect_size("small-staging", "1088K", 1088u << 10);
  expect_bad("small-staging", "512K", "small-staging: '512K' is out of range (1M to 64M)");
  expect_bad("small-staging", "65M", "small-staging: '65M' is out of range (1M to 64M)");
  expect_bad("small-staging", "1028K", "small-staging: '1028K' is not a multiple of 64K "
             "(each batch in flight gets whole 4K pages)");
  expect_bad("small-staging", "4G", "small-staging: '4G' is out of range (1M to 64M)");
}

/* A bad value in the file names the file, the line and the key; good
 * ones are applied, later lines over earlier ones. */
static void test_file(void)
{
  char path[] = "/tmp/vramd-test-config.XXXXXX";
  int fd = mkstemp(path);
  FILE *f;

  CU_ASSERT_FATAL(fd >= 0);
  f = fdopen(fd, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("# pinned memory\nnbd-staging = 8M\nnbd-max-sessions = 3  # few\n"
        "small-batch = off\nsmall-max = 8K\nsmall-staging = 2M\nnbd-staging = 4M\n", f);
  fclose(f);
  vramd_config_defaults(&cfg, vd_frontends);
  CU_ASSERT_EQUAL(vramd_config_load(&cfg, path, true, err, sizeof err), 0);
  CU_ASSERT_EQUAL(nbd()->staging, 4u << 20);
  CU_ASSERT_EQUAL(nbd()->max_sessions, 3);
  CU_ASSERT(!cfg.small_batch);
  CU_ASSERT_EQUAL(cfg.small_max, 8u << 10);
  CU_ASSERT_EQUAL(cfg.small_staging, 2u << 20);

  f = fopen(path, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("small-max = 16K\n\nnbd-staging = 100K\n", f);
  fclose(f);
  vramd_config_defaults(&cfg, vd_frontends);
  CU_ASSERT_EQUAL(vramd_config_load(&cfg, path, true, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, ":3: nbd-staging: '100K' is out of range (1M to 256M)"));
  CU_ASSERT_EQUAL(strncmp(err, path, strlen(path)), 0);
  unlink(path);
}

/* Load a file holding len bytes of text; the result of the load. */
static int load_bytes(const char *text, size_t len)
{
  char path[] = "/tmp/vramd-test-config.XXXXXX";
  int fd = mkstemp(path), rc;

  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
  close(fd);
  vramd_config_defaults(&cfg, vd_frontends);
  err[0] = '\0';
  rc = vramd_config_load(&cfg, path, true, err, sizeof err);
  unlink(path);
  return rc;
}

/* volume= lines invalid on their face are refused at load, like an
 * unknown key; a NUL byte and an over-long line are named as such. */
static void test_file_refusals(void)
{
  static const char nul[] = "verbose = on\nworkers = 2\0\n";
  char long_line[1100];

  CU_ASSERT_EQUAL(load_bytes("volume = name=a,size=4M,unit=3K\n", 32), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: volume: unit '3K' is not a power of two from 4K to 1M"));
  CU_ASSERT_EQUAL(load_bytes("volume = name=a,size=4M\nvolume = name=a,size=8M\n", 48), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: volume: 'a' is defined twice"));
  CU_ASSERT_EQUAL(load_bytes("volume = name=a,size=4M,index=3\nvolume = name=b,size=4M,index=3\n",
                             64), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: volume: index 3 is given to both 'a' and 'b'"));
  CU_ASSERT_EQUAL(load_bytes("volume = name=a,size=0\n", 23), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: volume: size '0' must be greater than zero"));
  CU_ASSERT_EQUAL(load_bytes(nul, sizeof nul - 1), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: line holds a NUL byte"));
  memset(long_line, 'x', sizeof long_line);
  CU_ASSERT_EQUAL(load_bytes(long_line, sizeof long_line), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: line is longer than 1023 bytes"));
  CU_ASSERT_EQUAL(load_bytes("volume = name=a,size=4M\nvolume = name=b,size=4M", 47), 0);
  CU_ASSERT_EQUAL(cfg.nvolumes, 2);
  vramd_config_defaults(&cfg, vd_frontends);
  CU_ASSERT_EQUAL(vramd_config_load(&cfg, "/tmp", true, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "/tmp: not a regular file (a folder, FIFO or socket)");
}

static const struct vd_test tests[] = {
  { "unit= only with stripe", test_unit_needs_stripe },
  { "defaults", test_defaults },
  { "nbd-staging", test_nbd_staging },
  { "nbd-max-sessions", test_nbd_max_sessions },
  { "nbd-attach-connections", test_nbd_attach_connections },
  { "frontend keys", test_frontend_keys },
  { "small-batch", test_small_batch },
  { "scrub-interval, write-ack, driver-copies", test_scrub_ack_copies },
  { "small-max", test_small_max },
  { "small-staging", test_small_staging },
  { "config file", test_file },
  { "config file refusals", test_file_refusals },
  { "switches", test_switches },
  { NULL, NULL },
};

VD_TEST_ONE_SUITE("config", tests);
