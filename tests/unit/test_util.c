/* test_util.c: sizes and names, the first line of defence against bad input. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/name.c"
#include "../../common/size.c"
#include "../../common/log.c"
#include "../../common/clock.c"
#include "runner.h"

static char err[256];

/* Parse s and expect value v. */
static void expect_size(const char *s, uint64_t v)
{
  uint64_t out = 0;
  CU_ASSERT_EQUAL_FATAL(vd_parse_size(s, &out, err, sizeof err), 0);
  CU_ASSERT_EQUAL(out, v);
}

/* Parse s and expect error rc with a message. */
static void expect_bad_size(const char *s, int rc)
{
  uint64_t out = 12345;
  err[0] = '\0';
  CU_ASSERT_EQUAL(vd_parse_size(s, &out, err, sizeof err), rc);
  CU_ASSERT_EQUAL(out, 12345);
  CU_ASSERT(strlen(err) > 0);
}

static void test_size_ok(void)
{
  expect_size("1", 1);
  expect_size("4096", 4096);
  expect_size("1K", 1024);
  expect_size("1k", 1024);
  expect_size("12G", 12ull << 30);
  expect_size("12GiB", 12ull << 30);
  expect_size("12GB", 12ull << 30);
  expect_size("3T", 3ull << 40);
  expect_size("7M", 7ull << 20);
  expect_size("5B", 5);
  expect_size("16383P", 16383ull << 50);
  expect_size("18446744073709551615", UINT64_MAX);
  expect_size("1.5G", 3ull << 29);
  expect_size("0.5K", 512);
  expect_size("2.25M", 9ull << 18);
  expect_size("1.0T", 1ull << 40);
  expect_size("0.75GiB", 3ull << 28);
  expect_size("1.5GB", 3ull << 29);
}

static void test_size_bad(void)
{
  expect_bad_size("", -EINVAL);
  expect_bad_size("0", -EINVAL);
  expect_bad_size("0G", -EINVAL);
  expect_bad_size("-1G", -EINVAL);
  expect_bad_size("G", -EINVAL);
  expect_bad_size("0.1K", -EINVAL);     /* 102.4 bytes */
  expect_bad_size("1.5", -EINVAL);      /* 1.5 bytes */
  expect_bad_size("1.G", -EINVAL);
  expect_bad_size(".5G", -EINVAL);
  expect_bad_size("0.0G", -EINVAL);
  expect_bad_size("1.0000000001G", -EINVAL);
  expect_bad_size("16383.9999P", -EINVAL);
  expect_bad_size("16384P", -ERANGE);
  expect_bad_size("12X", -EINVAL);
  expect_bad_size("12Gi", -EINVAL);
  expect_bad_size("12 G", -EINVAL);
  expect_bad_size("1BB", -EINVAL);
  expect_bad_size(" 12G", -EINVAL);
  expect_bad_size("18446744073709551616", -ERANGE);
  expect_bad_size("99999999999999999999999", -ERANGE);
  expect_bad_size("16384P", -ERANGE);
  expect_bad_size("17179869184G", -ERANGE);
}

static void test_size_format(void)
{
  char b[32];
  CU_ASSERT_STRING_EQUAL(vd_format_size(0, b, sizeof b), "0 B");
  CU_ASSERT_STRING_EQUAL(vd_format_size(1023, b, sizeof b), "1023 B");
  CU_ASSERT_STRING_EQUAL(vd_format_size(1024, b, sizeof b), "1.0 KiB");
  CU_ASSERT_STRING_EQUAL(vd_format_size(12ull << 30, b, sizeof b), "12.0 GiB");
  CU_ASSERT_STRING_EQUAL(vd_format_size(1536ull << 20, b, sizeof b), "1.5 GiB");
  CU_ASSERT_STRING_EQUAL(vd_format_size(UINT64_MAX, b, sizeof b), "16.0 EiB");
}

static void test_names(void)
{
  char long_ok[64], too_long[65];
  memset(long_ok, 'a', 63);
  long_ok[63] = '\0';
  memset(too_long, 'a', 64);
  too_long[64] = '\0';

  CU_ASSERT_TRUE(vd_name_valid("swap0", err, sizeof err));
  CU_ASSERT_TRUE(vd_name_valid("a", err, sizeof err));
  CU_ASSERT_TRUE(vd_name_valid("0cache.v1_x-y", err, sizeof err));
  CU_ASSERT_TRUE(vd_name_valid(long_ok, err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid(too_long, err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid("", err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid(NULL, err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid("Swap", err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid("-x", err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid(".hidden", err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid("..", err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid("a/b", err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid("a b", err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid("a\tb", err, sizeof err));
  CU_ASSERT_FALSE(vd_name_valid("caf\xc3\xa9", err, sizeof err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "position 4"));
  CU_ASSERT_FALSE(vd_name_valid("a\nb", err, sizeof err));
}

/* Count the lines in f that contain needle. */
static unsigned count_lines(FILE *f, const char *needle)
{
  char line[1200];
  unsigned n = 0;
  rewind(f);
  while (fgets(line, sizeof line, f))
    n += strstr(line, needle) != NULL;
  return n;
}

/* A flood from one site prints its burst; the next window says how many
 * lines were dropped; another site keeps its own budget. */
static void test_log_ratelimit(void)
{
  struct vd_ratelimit a = {0}, b = {0};
  FILE *f = tmpfile();
  int saved = dup(STDERR_FILENO);

  CU_ASSERT_FATAL(f != NULL && saved >= 0);
  fflush(stderr);
  dup2(fileno(f), STDERR_FILENO);
  for (int i = 0; i < 10000; i++)
    vd_log_rl(&a, VD_LOG_WARNING, "flood #%d", i);
  vd_log_rl(&b, VD_LOG_WARNING, "other site");
  a.window_start_ns -= VD_RATELIMIT_WINDOW_NS; /* as if 5 s went by */
  vd_log_rl(&a, VD_LOG_WARNING, "flood again");
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  CU_ASSERT_EQUAL(count_lines(f, "flood #"), VD_RATELIMIT_BURST);
  CU_ASSERT_EQUAL(count_lines(f, "other site"), 1);
  CU_ASSERT_EQUAL(count_lines(f, "(9990 similar messages suppressed)"), 1);
  CU_ASSERT_EQUAL(count_lines(f, "flood again"), 1);
  fclose(f);
}

/* $JOURNAL_STREAM names stderr's "DEV:INO" when systemd connected it to
 * the journal: a match is the stream itself, nothing else. */
static void test_log_journal_stream(void)
{
  FILE *a = tmpfile(), *b = tmpfile();
  struct stat st;
  char v[80];

  CU_ASSERT_FATAL(a && b && !fstat(fileno(a), &st));
  snprintf(v, sizeof v, "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
  CU_ASSERT_TRUE(vd_log_is_journal(v, fileno(a)));
  CU_ASSERT_FALSE(vd_log_is_journal(v, fileno(b)));       /* another file */
  CU_ASSERT_FALSE(vd_log_is_journal(NULL, fileno(a)));    /* not set */
  CU_ASSERT_FALSE(vd_log_is_journal("", fileno(a)));
  CU_ASSERT_FALSE(vd_log_is_journal("12", fileno(a)));
  snprintf(v, sizeof v, "%ju:%ju:", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
  CU_ASSERT_FALSE(vd_log_is_journal(v, fileno(a)));       /* trailing junk */
  snprintf(v, sizeof v, "%ju:%ju", (uintmax_t)st.st_dev + 1, (uintmax_t)st.st_ino);
  CU_ASSERT_FALSE(vd_log_is_journal(v, fileno(a)));       /* same inode, other device */
  CU_ASSERT_FALSE(vd_log_is_journal(v, -1));
  fclose(a);
  fclose(b);
}

static int sunk_level, sunk_rc;
static char sunk[200], sunk_volume[80], sunk_device[80];
static uint32_t sunk_job;

/* A sink that keeps the last line and its fields. */
static int keep_line(int level, const struct vd_log_fields *f, const char *msg)
{
  sunk_level = level;
  snprintf(sunk, sizeof sunk, "%s", msg);
  snprintf(sunk_volume, sizeof sunk_volume, "%s", f->volume ? f->volume : "-");
  snprintf(sunk_device, sizeof sunk_device, "%s", f->device ? f->device : "-");
  sunk_job = f->job;
  return sunk_rc;
}

/* A sink takes lines with their fields and level; one that fails puts the
 * line back on stderr, and with no sink stderr has it. */
static void test_log_sink(void)
{
  FILE *f = tmpfile();
  int saved = dup(STDERR_FILENO);

  CU_ASSERT_FATAL(f != NULL && saved >= 0);
  fflush(stderr);
  dup2(fileno(f), STDERR_FILENO);
  vd_log_set_sink(keep_line);
  vd_log_about(VD_LOG_WARNING, VD_FIELDS(.volume = "swap0", .device = "gpu1", .job = 7),
               "moved %d", 3);
  CU_ASSERT_STRING_EQUAL(sunk, "moved 3");
  CU_ASSERT_EQUAL(sunk_level, VD_LOG_WARNING);
  CU_ASSERT_STRING_EQUAL(sunk_volume, "swap0");
  CU_ASSERT_STRING_EQUAL(sunk_device, "gpu1");
  CU_ASSERT_EQUAL(sunk_job, 7);
  vd_info("plain");
  CU_ASSERT_STRING_EQUAL(sunk, "plain");
  CU_ASSERT_STRING_EQUAL(sunk_volume, "-");
  CU_ASSERT_EQUAL(sunk_job, 0);
  vd_debug("dropped"); /* above vd_log_max: never reaches the sink */
  CU_ASSERT_STRING_EQUAL(sunk, "plain");
  sunk_rc = -1;
  vd_info("journal gone");
  vd_log_set_sink(NULL);
  vd_info("no sink");
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  CU_ASSERT_EQUAL(count_lines(f, "moved 3"), 0);
  CU_ASSERT_EQUAL(count_lines(f, "vramd: journal gone"), 1);
  CU_ASSERT_EQUAL(count_lines(f, "vramd: no sink"), 1);
  fclose(f);
}

static const struct vd_test tests[] = {
  { "size parsing", test_size_ok },
  { "size refusals", test_size_bad },
  { "size formatting", test_size_format },
  { "volume names", test_names },
  { "rate-limited logs", test_log_ratelimit },
  { "JOURNAL_STREAM is stderr", test_log_journal_stream },
  { "log sink and fields", test_log_sink },
  { NULL, NULL },
};

VD_TEST_ONE_SUITE("util", tests);
