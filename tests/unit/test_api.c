/* test_api.c: create bodies (strict parsing) and Prometheus text (format
 * details promtool would reject). */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "runner.h"
#include "vramd.h"

static struct vd_volume_spec spec;
static struct vd_api_error e;

/* Parse a body given as a C string. */
static int parse(const char *s)
{
  return vd_api_parse_create(s, strlen(s), &spec, &e);
}

/* Expect a refusal with code and field. */
static void expect_bad(const char *body, const char *code, const char *field)
{
  CU_ASSERT_EQUAL(parse(body), -EINVAL);
  CU_ASSERT_STRING_EQUAL(e.code, code);
  CU_ASSERT_STRING_EQUAL(e.field, field);
  CU_ASSERT(strlen(e.message) > 0);
  if (field[0])
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, field));
}

static void test_body_full(void)
{
  CU_ASSERT_EQUAL_FATAL(parse("{\"name\":\"swap0\",\"size\":12884901888,\"layout\":\"stripe\","
                              "\"devices\":[\"gpu0\",\"gpu1\"],\"stripe_unit\":65536,"
                              "\"frontend\":\"ublk\",\"attach\":true}"), 0);
  CU_ASSERT_STRING_EQUAL(spec.name, "swap0");
  CU_ASSERT_EQUAL(spec.size, 12884901888ull);
  CU_ASSERT_EQUAL(spec.layout, VD_LAYOUT_STRIPE);
  CU_ASSERT_EQUAL(spec.ndev, 2);
  CU_ASSERT_STRING_EQUAL(spec.dev_ids[1], "gpu1");
  CU_ASSERT_EQUAL(spec.stripe_unit, 65536);
  CU_ASSERT_EQUAL(spec.frontend, VD_FRONTEND_UBLK);
  CU_ASSERT(spec.attach);
  CU_ASSERT_EQUAL(spec.index, -1);
}

static void test_body_defaults(void)
{
  CU_ASSERT_EQUAL_FATAL(parse("{\"name\":\"a\",\"size\":4096,\"devices\":\"all\"}"), 0);
  CU_ASSERT_EQUAL(spec.layout, VD_LAYOUT_STRIPE);
  CU_ASSERT_EQUAL(spec.ndev, 0);
  CU_ASSERT_EQUAL(spec.stripe_unit, 0);
  CU_ASSERT_EQUAL(spec.frontend, VD_FRONTEND_NBD);
  CU_ASSERT(!spec.attach);
}

static void test_body_bad(void)
{
  expect_bad("", "invalid_json", "");
  expect_bad("{", "invalid_json", "");
  expect_bad("[]", "invalid_json", "");
  expect_bad("{\"name\":\"a\",\"name\":\"b\",\"size\":1}", "invalid_json", "");
  expect_bad("{\"name\":\"a\",\"size\":18446744073709551616}", "invalid_json", "");
  expect_bad("{\"name\":\"a\",\"size\":\"1G\"}", "invalid_field", "size");
  expect_bad("{\"name\":\"a\",\"size\":1.0}", "invalid_field", "size");
  expect_bad("{\"name\":\"a\",\"size\":-1}", "invalid_field", "size");
  expect_bad("{\"name\":\"a\",\"size\":1,\"stripe_unit\":0}", "invalid_field", "stripe_unit");
  expect_bad("{\"name\":\"a\",\"size\":1,\"attach\":1}", "invalid_field", "attach");
  expect_bad("{\"name\":\"a\",\"size\":1,\"devices\":[]}", "invalid_field", "devices");
  expect_bad("{\"name\":\"a\",\"size\":1,\"devices\":[\"a-very-long-device-id\"]}", "invalid_field", "devices");
  expect_bad("{\"name\":\"a\",\"size\":1,\"devices\":[\"\"]}", "invalid_field", "devices");
  expect_bad("{\"name\":\"a\",\"size\":1,\"layout\":\"raid\"}", "invalid_field", "layout");
  expect_bad("{\"name\":\"a\",\"size\":1,\"frontend\":null}", "invalid_field", "frontend");
  expect_bad("{\"name\":\"a\",\"size\":1,\"colour\":\"red\"}", "unknown_field", "colour");
  expect_bad("{\"name\":\"a/b\",\"size\":1}", "invalid_name", "name");
  expect_bad("{\"name\":\"..\",\"size\":1}", "invalid_name", "name");
  expect_bad("{\"name\":\"a b\",\"size\":1}", "invalid_name", "name");
  expect_bad("{\"name\":\"a\\u0000b\",\"size\":1}", "invalid_field", "name");
  expect_bad("{\"size\":1}", "missing_field", "name");
  expect_bad("{\"name\":\"a\"}", "missing_field", "size");
  /* A unit means nothing to concat: refused as vramctl refuses it. */
  expect_bad("{\"name\":\"a\",\"size\":1,\"layout\":\"concat\",\"stripe_unit\":65536}",
             "invalid_field", "stripe_unit");
  expect_bad("{\"stripe_unit\":65536,\"name\":\"a\",\"size\":1,\"layout\":\"concat\"}",
             "invalid_field", "stripe_unit");
  CU_ASSERT_EQUAL(parse("{\"name\":\"a\",\"size\":1,\"layout\":\"concat\"}"), 0);
}

/* Parse a PATCH /v1/volumes/{name} body given as a C string. */
static int parse_patch(const char *s, struct vramd_resize *rq)
{
  memset(rq, 0xa5, sizeof *rq);
  rq->force = false;
  return vd_api_parse_volume_patch(s, strlen(s), rq, &e);
}

/* A resize body: one of size and grow_bytes, integer bytes above 0. */
static void test_patch_volume(void)
{
  static const struct {
    const char *body, *code, *field;
  } bad[] = {
    { "{}", "missing_field", "size" },
    { "{\"size\":0}", "invalid_field", "size" },
    { "{\"grow_bytes\":0}", "invalid_field", "grow_bytes" },
    { "{\"size\":\"20G\"}", "invalid_field", "size" },
    { "{\"size\":-4096}", "invalid_field", "size" },
    { "{\"size\":1.5}", "invalid_field", "size" },
    { "{\"size\":4096,\"grow_bytes\":4096}", "invalid_field", "size" },
    { "{\"size\":4096,\"size\":8192}", "invalid_json", "" },
    { "{\"size\":4096,\"force\":true}", "unknown_field", "" },
    { "[4096]", "invalid_json", "" },
  };
  struct vramd_resize rq;

  CU_ASSERT_EQUAL_FATAL(parse_patch("{\"size\":21474836480}", &rq), 0);
  CU_ASSERT_EQUAL(rq.size, 21474836480ull);
  CU_ASSERT(!rq.relative && !rq.force);
  CU_ASSERT_EQUAL_FATAL(parse_patch("{\"grow_bytes\":4294967296}", &rq), 0);
  CU_ASSERT_EQUAL(rq.size, 4294967296ull);
  CU_ASSERT(rq.relative);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CU_ASSERT_EQUAL(parse_patch(bad[i].body, &rq), -EINVAL);
    CU_ASSERT_STRING_EQUAL(e.code, bad[i].code);
    CU_ASSERT_STRING_EQUAL(e.field, bad[i].field);
  }
}

/* A raw NUL byte anywhere in a body (taken with its length) is invalid
 * JSON, never a string end that drops what follows. */
static void test_body_nul(void)
{
  static const char body[] = "{\"name\":\"ab\0zzzc\",\"size\":4096}";
  static const char tail[] = "{\"name\":\"abc\",\"size\":4096}\0";
  CU_ASSERT_EQUAL(vd_api_parse_create(body, sizeof body - 1, &spec, &e), -EINVAL);
  CU_ASSERT_STRING_EQUAL(e.code, "invalid_json");
  CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "NUL"));
  CU_ASSERT_EQUAL(vd_api_parse_create(tail, sizeof tail - 1, &spec, &e), -EINVAL);
  CU_ASSERT_STRING_EQUAL(e.code, "invalid_json");
  CU_ASSERT_EQUAL(vd_api_parse_create(tail, sizeof tail - 2, &spec, &e), 0);
}

/* vd_buf_append keeps bytes after a NUL. */
static void test_buf_append(void)
{
  struct vd_buf b = { 0 };
  vd_buf_append(&b, "ab\0c", 4);
  vd_buf_append(&b, "d", 1);
  CU_ASSERT_EQUAL(b.len, 5);
  CU_ASSERT_EQUAL(memcmp(b.s, "ab\0cd", 6), 0);
  vd_buf_free(&b);
}

static void test_prom_text(void)
{
  struct vd_buf b = { 0 };
  char esc[64];

  vd_prom_family(&b, "vramd_x_bytes", "gauge", "Some bytes.");
  vd_prom_sample(&b, "vramd_x_bytes", "device=\"gpu0\"", 12884901888.0);
  vd_prom_sample(&b, "vramd_y", "", 0.5);
  CU_ASSERT_FALSE(b.failed);
  CU_ASSERT_STRING_EQUAL(b.s, "# HELP vramd_x_bytes Some bytes.\n# TYPE vramd_x_bytes gauge\n"
                              "vramd_x_bytes{device=\"gpu0\"} 12884901888\nvramd_y 0.5\n");
  CU_ASSERT_STRING_EQUAL(vd_prom_escape("a\"b\\c\nd", esc, sizeof esc), "a\\\"b\\\\c\\nd");
  vd_buf_free(&b);
}

static void test_prom_histogram(void)
{
  static const double bounds[3] = { 0.001, 0.01, 1e300 };
  const uint64_t counts[3] = { 2, 0, 3 };
  struct vd_buf b = { 0 };

  vd_prom_histogram(&b, "vramd_h_seconds", "op=\"read\"", counts, bounds, 3, 1.5);
  CU_ASSERT_STRING_EQUAL(b.s, "vramd_h_seconds_bucket{op=\"read\",le=\"0.001\"} 2\n"
                              "vramd_h_seconds_bucket{op=\"read\",le=\"0.01\"} 2\n"
                              "vramd_h_seconds_bucket{op=\"read\",le=\"+Inf\"} 5\n"
                              "vramd_h_seconds_sum{op=\"read\"} 1.5\n"
                              "vramd_h_seconds_count{op=\"read\"} 5\n");
  vd_buf_free(&b);
}

static void test_buf_grows(void)
{
  struct vd_buf b = { 0 };
  for (int i = 0; i < 10000; i++)
    vd_buf_printf(&b, "%d,", i % 10);
  CU_ASSERT_FALSE(b.failed);
  CU_ASSERT_EQUAL(b.len, 20000);
  CU_ASSERT_EQUAL(strlen(b.s), 20000);
  vd_buf_free(&b);
}

static const struct vd_test tests[] = {
  { "create body, every field", test_body_full },
  { "create body, defaults", test_body_defaults },
  { "create body, refusals name the field", test_body_bad },
  { "create body, a NUL byte is invalid JSON", test_body_nul },
  { "volume PATCH body: size or grow_bytes", test_patch_volume },
  { "prometheus samples and escaping", test_prom_text },
  { "prometheus histogram is cumulative", test_prom_histogram },
  { "text buffer grows", test_buf_grows },
  { "text buffer appends NUL bytes", test_buf_append },
  { NULL, NULL },
};

VD_TEST_ONE_SUITE("api", tests);
