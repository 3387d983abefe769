/* test_spec.c: the volume spec codec: round trips between JSON, the spec
 * and key=value text, every field's bad values in each form with the
 * message users see, and state files as version 1 wrote them. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "runner.h"
#include "spec.h"

static struct vd_volume_spec spec;
static struct vd_spec_error e;
static char err[512];

/* Read a JSON text in form; the codec's return. */
static int from_json(const char *text, enum vd_spec_form form)
{
  json_error_t je;
  json_t *o = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
  int rc;
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  rc = vd_spec_from_json(o, form, &spec, &e);
  json_decref(o);
  return rc;
}

/* Expect a JSON refusal with code, field and the exact message. */
static void json_bad(const char *text, enum vd_spec_form form, const char *code,
                     const char *field, const char *message)
{
  CU_ASSERT_EQUAL(from_json(text, form), -EINVAL);
  CU_ASSERT_STRING_EQUAL(e.code, code);
  CU_ASSERT_STRING_EQUAL(e.field, field);
  CU_ASSERT_STRING_EQUAL(e.message, message);
}

/* Expect a text refusal with the exact message. */
static void text_bad(const char *text, const char *message)
{
  CU_ASSERT_EQUAL(vd_spec_from_text(text, &spec, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, message);
}

/* A spec with every field away from its default. */
static void full_spec(struct vd_volume_spec *s)
{
  vd_spec_init(s);
  strcpy(s->name, "swap0");
  s->size = 12884901888ull;
  s->layout = VD_LAYOUT_STRIPE;
  s->ndev = 2;
  strcpy(s->dev_ids[0], "gpu1");
  strcpy(s->dev_ids[1], "gpu0");
  s->stripe_unit = 65536;
  s->frontend = VD_FRONTEND_UBLK;
  s->attach = true;
  s->index = 7;
}

/* Two specs hold the same fields. */
static void assert_same(const struct vd_volume_spec *a, const struct vd_volume_spec *b)
{
  CU_ASSERT_STRING_EQUAL(a->name, b->name);
  CU_ASSERT_EQUAL(a->size, b->size);
  CU_ASSERT_EQUAL(a->layout, b->layout);
  CU_ASSERT_EQUAL_FATAL(a->ndev, b->ndev);
  for (unsigned i = 0; i < a->ndev; i++)
    CU_ASSERT_STRING_EQUAL(a->dev_ids[i], b->dev_ids[i]);
  CU_ASSERT_EQUAL(a->stripe_unit, b->stripe_unit);
  CU_ASSERT_EQUAL(a->frontend, b->frontend);
  CU_ASSERT_EQUAL(a->attach, b->attach);
  CU_ASSERT_EQUAL(a->index, b->index);
  CU_ASSERT_EQUAL(a->integrity, b->integrity);
}

/* spec -> JSON text in form -> spec. */
static void json_round_trip(const struct vd_volume_spec *in, enum vd_spec_form form,
                            const char *expect)
{
  json_t *o = vd_spec_to_json(in, form);
  char *text = json_dumps(o, JSON_COMPACT);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT_STRING_EQUAL(text, expect);
  CU_ASSERT_EQUAL(from_json(text, form), 0);
  free(text);
  json_decref(o);
}

/* JSON <-> spec <-> text, each way, every field set. */
static void test_round_trips(void)
{
  struct vd_volume_spec in, want;
  char text[512], again[512];

  full_spec(&in);
  want = in;
  json_round_trip(&in, VD_SPEC_BODY,
                  "{\"name\":\"swap0\",\"size\":12884901888,\"layout\":\"stripe\","
                  "\"devices\":[\"gpu1\",\"gpu0\"],\"stripe_unit\":65536,"
                  "\"frontend\":\"ublk\",\"attach\":true,\"index\":7}");
  assert_same(&spec, &want);
  json_round_trip(&in, VD_SPEC_SAVED,
                  "{\"name\":\"swap0\",\"size\":12884901888,\"layout\":\"stripe\","
                  "\"devices\":[\"gpu1\",\"gpu0\"],\"stripe_unit\":65536,"
                  "\"frontend\":\"ublk\",\"attach\":true,\"index\":7}");
  assert_same(&spec, &want);
  /* The exposure alone, as attach takes it. */
  json_round_trip(&in, VD_SPEC_EXPOSE, "{\"frontend\":\"ublk\",\"attach\":true,\"index\":7}");
  CU_ASSERT_EQUAL(spec.frontend, VD_FRONTEND_UBLK);
  CU_ASSERT_EQUAL(spec.index, 7);
  CU_ASSERT_EQUAL(spec.size, 0);

  CU_ASSERT_EQUAL(vd_spec_to_text(&in, text, sizeof text), 0);
  CU_ASSERT_STRING_EQUAL(text, "name=swap0,size=12884901888,layout=stripe,devices=gpu1+gpu0,"
                               "unit=65536,frontend=ublk,attach=on,index=7");
  CU_ASSERT_EQUAL(vd_spec_from_text(text, &spec, err, sizeof err), 0);
  assert_same(&spec, &in);

  /* JSON read, written as text, read back: the same spec. */
  CU_ASSERT_EQUAL_FATAL(from_json("{\"attach\":false,\"devices\":\"all\",\"layout\":\"concat\","
                                  "\"size\":4096,\"name\":\"a\"}", VD_SPEC_BODY), 0);
  in = spec;
  CU_ASSERT_EQUAL(vd_spec_to_text(&in, text, sizeof text), 0);
  CU_ASSERT_STRING_EQUAL(text,
                         "name=a,size=4096,layout=concat,devices=all,frontend=nbd,attach=off");
  CU_ASSERT_EQUAL(vd_spec_from_text(text, &spec, err, sizeof err), 0);
  assert_same(&spec, &in);
  CU_ASSERT_EQUAL(vd_spec_to_text(&spec, again, sizeof again), 0);
  CU_ASSERT_STRING_EQUAL(again, text);
  /* A body leaves out what was not given: the API refuses a 0 unit. */
  json_round_trip(&in, VD_SPEC_BODY, "{\"name\":\"a\",\"size\":4096,\"layout\":\"concat\","
                                     "\"devices\":\"all\",\"frontend\":\"nbd\",\"attach\":false}");
  assert_same(&spec, &in);

  /* Thin is written in every form; thick, the default, in none, so old
   * definitions read and write as they did. */
  in.provisioning = VD_PROV_THIN;
  json_round_trip(&in, VD_SPEC_SAVED, "{\"name\":\"a\",\"size\":4096,\"layout\":\"concat\","
                                      "\"devices\":[],\"stripe_unit\":0,\"frontend\":\"nbd\","
                                      "\"provisioning\":\"thin\",\"attach\":false}");
  assert_same(&spec, &in);
  CU_ASSERT_EQUAL(vd_spec_to_text(&in, text, sizeof text), 0);
  CU_ASSERT_STRING_EQUAL(text, "name=a,size=4096,layout=concat,devices=all,frontend=nbd,"
                               "provisioning=thin,attach=off");
  CU_ASSERT_EQUAL(vd_spec_from_text(text, &spec, err, sizeof err), 0);
  assert_same(&spec, &in);

  /* Integrity: kept in every form when asked, left out while none. */
  CU_ASSERT_EQUAL_FATAL(vd_spec_from_text("name=i,size=4M,integrity=crc32c", &spec, err,
                                          sizeof err), 0);
  CU_ASSERT_EQUAL(spec.integrity, VD_INTEGRITY_CRC32C);
  in = spec;
  json_round_trip(&in, VD_SPEC_SAVED, "{\"name\":\"i\",\"size\":4194304,\"layout\":\"stripe\","
                                      "\"devices\":[],\"stripe_unit\":0,\"frontend\":\"nbd\","
                                      "\"attach\":false,\"integrity\":\"crc32c\"}");
  CU_ASSERT_EQUAL(vd_spec_to_text(&in, text, sizeof text), 0);
  CU_ASSERT_STRING_EQUAL(text, "name=i,size=4194304,layout=stripe,devices=all,frontend=nbd,"
                               "attach=off,integrity=crc32c");
  CU_ASSERT_EQUAL_FATAL(vd_spec_from_text("name=p,size=4M,integrity=crc32c+parity", &spec, err,
                                          sizeof err), 0);
  CU_ASSERT_EQUAL(spec.integrity, VD_INTEGRITY_PARITY);
  in = spec;
  json_round_trip(&in, VD_SPEC_SAVED, "{\"name\":\"p\",\"size\":4194304,\"layout\":\"stripe\","
                                      "\"devices\":[],\"stripe_unit\":0,\"frontend\":\"nbd\","
                                      "\"attach\":false,\"integrity\":\"crc32c+parity\"}");
  CU_ASSERT_EQUAL(vd_spec_to_text(&in, text, sizeof text), 0);
  CU_ASSERT_STRING_EQUAL(text, "name=p,size=4194304,layout=stripe,devices=all,frontend=nbd,"
                               "attach=off,integrity=crc32c+parity");

  /* A share of free VRAM, in every form; "all" and "N%" are spellings. */
  CU_ASSERT_EQUAL_FATAL(vd_spec_from_text("name=c,size=all", &spec, err, sizeof err), 0);
  CU_ASSERT_EQUAL(spec.size_free_pct, 100);
  CU_ASSERT_EQUAL(spec.size, 0);
  CU_ASSERT_EQUAL_FATAL(vd_spec_from_text("name=c,size=40%", &spec, err, sizeof err), 0);
  CU_ASSERT_EQUAL(spec.size_free_pct, 40);
  CU_ASSERT_EQUAL(vd_spec_to_text(&spec, text, sizeof text), 0);
  CU_ASSERT_STRING_EQUAL(text, "name=c,size=40%FREE,layout=stripe,devices=all,frontend=nbd,attach=off");
  in = spec;
  json_round_trip(&in, VD_SPEC_SAVED, "{\"name\":\"c\",\"size\":\"40%FREE\",\"layout\":\"stripe\","
                                      "\"devices\":[],\"stripe_unit\":0,\"frontend\":\"nbd\","
                                      "\"attach\":false}");
  CU_ASSERT_EQUAL(spec.size_free_pct, 40);
  CU_ASSERT_EQUAL_FATAL(from_json("{\"name\":\"d\",\"size\":\"75%free\"}", VD_SPEC_BODY), 0);
  CU_ASSERT_EQUAL(spec.size_free_pct, 75);
  text_bad("name=c,size=0%FREE",
           "volume: size '0%FREE': the share of free VRAM must be from 1% to 100%");
  text_bad("name=c,size=50%USED",
           "volume: size '50%USED' has an unknown suffix (use K, M, G, T or P)");

  /* Text read with suffixes and defaults. */
  CU_ASSERT_EQUAL(vd_spec_from_text("name=b,size=4M", &spec, err, sizeof err), 0);
  CU_ASSERT_EQUAL(spec.size, 4u << 20);
  CU_ASSERT_EQUAL(spec.layout, VD_LAYOUT_STRIPE);
  CU_ASSERT_EQUAL(spec.ndev, 0);
  CU_ASSERT_EQUAL(spec.stripe_unit, 0);
  CU_ASSERT_EQUAL(spec.frontend, VD_FRONTEND_NBD);
  CU_ASSERT_FALSE(spec.attach);
  CU_ASSERT_EQUAL(spec.index, -1);
  CU_ASSERT_EQUAL(vd_spec_to_text(&spec, text, 20), -ENOSPC);
}

/* Each field's bad values in an API body, with the API's code and words. */
static void test_body_bad(void)
{
  const enum vd_spec_form B = VD_SPEC_BODY;
  json_bad("{\"name\":1,\"size\":1}", B, "invalid_field", "name", "field 'name' must be a string");
  json_bad("{\"name\":\"a\\u0000b\",\"size\":1}", B, "invalid_field", "name",
           "field 'name' contains a NUL byte");
  json_bad("{\"name\":\"a/b\",\"size\":1}", B, "invalid_name", "name",
           "volume name has '/' at position 2; use lower-case letters, digits, '.', '_' and "
           "'-', starting with a letter or digit");
  json_bad("{\"name\":\"a\",\"size\":\"1G\"}", B, "invalid_field", "size",
           "field 'size' must be bytes or a share of free VRAM: \"all\", \"N%FREE\"");
  json_bad("{\"name\":\"a\",\"size\":\"0%FREE\"}", B, "invalid_field", "size",
           "size '0%FREE': the share of free VRAM must be from 1% to 100%");
  json_bad("{\"name\":\"a\",\"size\":\"101%\"}", B, "invalid_field", "size",
           "size '101%': the share of free VRAM must be from 1% to 100%");
  json_bad("{\"name\":\"a\",\"size\":true}", B, "invalid_field", "size",
           "field 'size' must be an integer number of bytes");
  json_bad("{\"name\":\"a\",\"size\":1.0}", B, "invalid_field", "size",
           "field 'size' must be an integer number of bytes");
  json_bad("{\"name\":\"a\",\"size\":0}", B, "invalid_field", "size",
           "field 'size' must be greater than zero");
  json_bad("{\"name\":\"a\",\"size\":-1}", B, "invalid_field", "size",
           "field 'size' must be greater than zero");
  json_bad("{\"name\":\"a\",\"size\":1,\"layout\":\"raid\"}", B, "invalid_field", "layout",
           "layout must be \"stripe\", \"concat\" or \"mirror\"");
  json_bad("{\"name\":\"a\",\"size\":1,\"layout\":3}", B, "invalid_field", "layout",
           "field 'layout' must be a string");
  json_bad("{\"name\":\"a\",\"size\":1,\"devices\":[]}", B, "invalid_field", "devices",
           "field 'devices' must be \"all\" or a non-empty array of device ids");
  json_bad("{\"name\":\"a\",\"size\":1,\"devices\":\"gpu0\"}", B, "invalid_field", "devices",
           "field 'devices' must be \"all\" or a non-empty array of device ids");
  json_bad("{\"name\":\"a\",\"size\":1,\"devices\":[\"gpu0\",\"\"]}", B, "invalid_field",
           "devices", "devices[1] must be a device id such as \"gpu0\"");
  json_bad("{\"name\":\"a\",\"size\":1,\"devices\":[\"a-very-long-device-id\"]}", B,
           "invalid_field", "devices", "devices[0] must be a device id such as \"gpu0\"");
  json_bad("{\"name\":\"a\",\"size\":1,\"devices\":[7]}", B, "invalid_field", "devices",
           "devices[0] must be a device id such as \"gpu0\"");
  json_bad("{\"name\":\"a\",\"size\":1,\"devices\":[\"g\\u0000\"]}", B, "invalid_field",
           "devices", "devices[0] must be a device id such as \"gpu0\"");
  json_bad("{\"name\":\"a\",\"size\":1,\"stripe_unit\":0}", B, "invalid_field", "stripe_unit",
           "field 'stripe_unit' must be greater than zero");
  json_bad("{\"name\":\"a\",\"size\":1,\"frontend\":null}", B, "invalid_field", "frontend",
           "field 'frontend' must be a string");
  json_bad("{\"name\":\"a\",\"size\":1,\"frontend\":\"iscsi\"}", B, "invalid_field", "frontend",
           "frontend must be \"nbd\", \"ublk\" or \"none\"");
  json_bad("{\"name\":\"a\",\"size\":1,\"integrity\":\"md5\"}", B, "invalid_field",
           "integrity", "integrity must be \"none\", \"crc32c\" or \"crc32c+parity\"");
  json_bad("{\"name\":\"a\",\"size\":1,\"attach\":1}", B, "invalid_field", "attach",
           "field 'attach' must be true or false");
  json_bad("{\"name\":\"a\",\"size\":1,\"index\":-1}", B, "invalid_field", "index",
           "field 'index' must be an integer from 0 to 1048576");
  json_bad("{\"name\":\"a\",\"size\":1,\"persist\":\"rel\"}", B, "invalid_field", "persist",
           "field persist must be an absolute path of fewer than 256 bytes, without ','");
  json_bad("{\"name\":\"a\",\"size\":1,\"persist\":7}", B, "invalid_field", "persist",
           "field 'persist' must be a string");
  json_bad("{\"name\":\"a\",\"size\":1,\"ublk\":1}", B, "unknown_field", "ublk",
           "unknown field 'ublk'; known fields: name, size, layout, devices, stripe_unit, copies, "
           "frontend, provisioning, attach, index, persist, integrity");
  /* Attach takes the exposure and nothing else, and needs the frontend. */
  json_bad("{\"frontend\":\"ublk\",\"size\":1}", VD_SPEC_EXPOSE, "unknown_field", "size",
           "unknown field 'size'; known fields: frontend, attach, index");
  json_bad("{\"index\":0}", VD_SPEC_EXPOSE, "missing_field", "frontend",
           "field 'frontend' is required");
  json_bad("{\"frontend\":\"iscsi\"}", VD_SPEC_EXPOSE, "invalid_field", "frontend",
           "frontend must be \"nbd\", \"ublk\" or \"none\"");
  json_bad("{\"name\":\"a\",\"size\":1,\"provisioning\":\"lazy\"}", B, "invalid_field",
           "provisioning", "provisioning must be \"thick\" or \"thin\"");
  json_bad("{\"size\":1}", B, "missing_field", "name", "field 'name' is required");
  json_bad("{\"name\":\"a\"}", B, "missing_field", "size", "field 'size' (bytes) is required");
  json_bad("{\"stripe_unit\":65536,\"name\":\"a\",\"size\":1,\"layout\":\"concat\"}", B,
           "invalid_field", "stripe_unit",
           "field 'stripe_unit' applies to layout \"stripe\" or \"mirror\" only; drop it for "
           "\"concat\"");
}

/* 65 device ids are one too many. */
static void test_body_too_many_devices(void)
{
  json_t *o = json_pack("{s:s, s:i}", "name", "a", "size", 1), *ids = json_array();
  for (int i = 0; i <= VD_MAX_DEVICES; i++)
    json_array_append_new(ids, json_sprintf("gpu%d", i));
  json_object_set_new(o, "devices", ids);
  CU_ASSERT_EQUAL(vd_spec_from_json(o, VD_SPEC_BODY, &spec, &e), -EINVAL);
  CU_ASSERT_STRING_EQUAL(e.message, "at most 64 devices per volume");
  json_array_remove(ids, 0);
  CU_ASSERT_EQUAL(vd_spec_from_json(o, VD_SPEC_BODY, &spec, &e), 0);
  CU_ASSERT_EQUAL(spec.ndev, VD_MAX_DEVICES);
  json_decref(o);
  o = json_array();
  CU_ASSERT_EQUAL(vd_spec_from_json(o, VD_SPEC_SAVED, &spec, &e), -EINVAL);
  CU_ASSERT_STRING_EQUAL(e.message, "a volume definition must be a JSON object");
  json_decref(o);
}

/* Definitions exactly as version 1 wrote them load; what it needed is
 * still needed. */
static void test_saved_version1(void)
{
  const enum vd_spec_form S = VD_SPEC_SAVED;
  CU_ASSERT_EQUAL(from_json("{\n      \"name\": \"b\",\n      \"size\": 5000,\n"
                            "      \"layout\": \"concat\",\n      \"devices\": [\n"
                            "        \"cpu1\"\n      ],\n      \"stripe_unit\": 0,\n"
                            "      \"frontend\": \"nbd\",\n      \"attach\": false\n    }", S), 0);
  CU_ASSERT_STRING_EQUAL(spec.name, "b");
  CU_ASSERT_EQUAL(spec.size, 5000);
  CU_ASSERT_EQUAL(spec.layout, VD_LAYOUT_CONCAT);
  CU_ASSERT_EQUAL(spec.ndev, 1);
  CU_ASSERT_STRING_EQUAL(spec.dev_ids[0], "cpu1");
  CU_ASSERT_EQUAL(spec.stripe_unit, 0);
  CU_ASSERT_FALSE(spec.attach);
  CU_ASSERT_EQUAL(spec.index, -1);
  /* Written back the way it was read. */
  json_round_trip(&spec, S, "{\"name\":\"b\",\"size\":5000,\"layout\":\"concat\","
                            "\"devices\":[\"cpu1\"],\"stripe_unit\":0,\"frontend\":\"nbd\","
                            "\"attach\":false}");
  CU_ASSERT_EQUAL(from_json("{\"name\":\"c\",\"size\":1048576,\"layout\":\"stripe\","
                            "\"devices\":[\"cpu1\",\"cpu0\"],\"stripe_unit\":65536,"
                            "\"frontend\":\"ublk\",\"attach\":true}", S), 0);
  CU_ASSERT_EQUAL(spec.stripe_unit, 65536);
  CU_ASSERT_EQUAL(spec.frontend, VD_FRONTEND_UBLK);
  CU_ASSERT(spec.attach);
  /* Version 1 took devices, stripe_unit and attach as optional, [] as all. */
  CU_ASSERT_EQUAL(from_json("{\"name\":\"d\",\"size\":4096,\"layout\":\"stripe\","
                            "\"frontend\":\"nbd\",\"devices\":[]}", S), 0);
  CU_ASSERT_EQUAL(spec.ndev, 0);
  json_bad("{\"name\":\"d\",\"size\":4096,\"frontend\":\"nbd\"}", S, "missing_field", "layout",
           "field 'layout' is required");
  json_bad("{\"name\":\"d\",\"size\":4096,\"layout\":\"stripe\"}", S, "missing_field",
           "frontend", "field 'frontend' is required");
  json_bad("{\"name\":\"d\",\"size\":0,\"layout\":\"stripe\",\"frontend\":\"nbd\"}", S,
           "invalid_field", "size", "field 'size' must be greater than zero");
  json_bad("{\"name\":\"d\",\"size\":1,\"layout\":\"stripe\",\"frontend\":\"nbd\",\"ublk\":1}",
           S, "unknown_field", "ublk",
           "unknown field 'ublk'; known fields: name, size, layout, devices, stripe_unit, copies, "
           "frontend, provisioning, attach, index, persist, integrity, export");
}

/* Each field's bad values in text, as vramd.conf reports them. */
static void test_text_bad(void)
{
  char long_def[1100];

  text_bad("name=A,size=1", "volume: volume name has 'A' at position 1; use lower-case "
                            "letters, digits, '.', '_' and '-', starting with a letter or digit");
  text_bad("name=a,size=0", "volume: size '0' must be greater than zero");
  text_bad("name=a,size=12X", "volume: size '12X' has an unknown suffix (use K, M, G, T or P)");
  text_bad("name=a,size=9000P", "volume: size '9000P' is too large");
  text_bad("name=a,size=4M,unit=3K", "volume: unit '3K' is not a power of two from 4K to 1M");
  text_bad("name=a,size=4M,unit=2M", "volume: unit '2M' is not a power of two from 4K to 1M");
  text_bad("name=a,size=4M,layout=raid", "volume: layout 'raid' is not stripe, concat or mirror");
  text_bad("name=a,size=4M,devices=cpu0+cpu0", "devices: 'cpu0' is listed twice");
  text_bad("name=a,size=4M,devices=+", "devices: empty device list");
  text_bad("name=a,size=4M,devices=a-very-long-device-id", "devices: bad device list");
  text_bad("name=a,size=4M,frontend=iscsi", "volume: frontend 'iscsi' is not nbd, ublk or none");
  text_bad("name=a,size=4M,attach=ture", "volume: attach: 'ture' is not on or off");
  text_bad("name=a,size=4M,index=-1", "volume: index: '-1' is not a number from 0 to 1048576");
  text_bad("name=a,size=4M,index=1048577",
           "volume: index: '1048577' is not a number from 0 to 1048576");
  text_bad("name=a,size=4M,colour=red", "volume: unknown key 'colour'");
  text_bad("name=a,size=4M,stripe", "volume: 'stripe' is not key=value");
  text_bad("name=a", "volume: name= and size= are required");
  text_bad("size=4M", "volume: name= and size= are required");
  text_bad("name=a,size=4M,layout=concat,unit=64K",
           "volume: unit= applies to layout=stripe or mirror only, not concat");
  memset(long_def, 'a', sizeof long_def - 1);
  long_def[sizeof long_def - 1] = '\0';
  text_bad(long_def, "volume definition is too long");
  CU_ASSERT_EQUAL(vd_spec_from_text("name=a,size=4M,index=1048576,attach=yes", &spec, err,
                                    sizeof err), 0);
  CU_ASSERT_EQUAL(spec.index, 1 << 20);
  CU_ASSERT(spec.attach);
}

/* Field by field, as vramctl sets its options: bare messages, and the
 * rules between fields checked once all are set. */
static void test_set_text(void)
{
  vd_spec_init(&spec);
  CU_ASSERT_EQUAL(vd_spec_set_text(&spec, "size", "0", err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "size '0' must be greater than zero");
  CU_ASSERT_EQUAL(vd_spec_set_text(&spec, "frontend", "iscsi", err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "frontend 'iscsi' is not nbd, ublk or none");
  CU_ASSERT_EQUAL(vd_spec_set_text(&spec, "stripe_unit", "64K", err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "unknown key 'stripe_unit'");
  CU_ASSERT_EQUAL(vd_spec_set_text(&spec, "unit", "64K", err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_spec_check_text(&spec, err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_spec_set_text(&spec, "layout", "concat", err, sizeof err), 0);
  CU_ASSERT_EQUAL(vd_spec_check_text(&spec, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "unit= applies to layout=stripe or mirror only, not concat");
  CU_ASSERT_EQUAL(vd_spec_set_text(&spec, "devices", "gpu0+gpu1", err, sizeof err), 0);
  CU_ASSERT_EQUAL(spec.ndev, 2);
  CU_ASSERT_EQUAL(vd_spec_set_text(&spec, "devices", "all", err, sizeof err), 0);
  CU_ASSERT_EQUAL(spec.ndev, 0);
}

/* Names of layouts and frontends both ways; a value out of range prints
 * as the default, as before. */
static void test_names(void)
{
  enum vd_layout l;
  enum vd_frontend_kind k;
  CU_ASSERT_EQUAL(vd_layout_parse("concat", &l), 0);
  CU_ASSERT_EQUAL(l, VD_LAYOUT_CONCAT);
  CU_ASSERT_EQUAL(vd_layout_parse("Stripe", &l), -EINVAL);
  CU_ASSERT_EQUAL(vd_frontend_parse("ublk", &k), 0);
  CU_ASSERT_EQUAL(k, VD_FRONTEND_UBLK);
  CU_ASSERT_EQUAL(vd_frontend_parse("", &k), -EINVAL);
  CU_ASSERT_STRING_EQUAL(vd_layout_name(VD_LAYOUT_STRIPE), "stripe");
  CU_ASSERT_STRING_EQUAL(vd_layout_name(VD_LAYOUT_CONCAT), "concat");
  CU_ASSERT_STRING_EQUAL(vd_layout_name((enum vd_layout)9), "stripe");
  CU_ASSERT_STRING_EQUAL(vd_frontend_name(VD_FRONTEND_UBLK), "ublk");
  CU_ASSERT_STRING_EQUAL(vd_frontend_name((enum vd_frontend_kind)9), "nbd");
  CU_ASSERT_EQUAL(vd_frontend_parse("none", &k), 0);
  CU_ASSERT_EQUAL(k, VD_FRONTEND_NONE);
}

/* A mirror: copies in every form, left out while not given, refused on
 * other layouts. */
static void test_mirror(void)
{
  char text[512];

  CU_ASSERT_EQUAL_FATAL(vd_spec_from_text("name=m,size=4M,layout=mirror,devices=a+b+c+d,"
                                          "copies=2,unit=64K", &spec, err, sizeof err), 0);
  CU_ASSERT_EQUAL(spec.layout, VD_LAYOUT_MIRROR);
  CU_ASSERT_EQUAL(spec.copies, 2);
  CU_ASSERT_EQUAL(spec.ndev, 4);
  CU_ASSERT_EQUAL(vd_spec_to_text(&spec, text, sizeof text), 0);
  CU_ASSERT_STRING_EQUAL(text, "name=m,size=4194304,layout=mirror,devices=a+b+c+d,unit=65536,"
                         "copies=2,frontend=nbd,attach=off");
  json_round_trip(&spec, VD_SPEC_BODY, "{\"name\":\"m\",\"size\":4194304,\"layout\":\"mirror\","
                  "\"devices\":[\"a\",\"b\",\"c\",\"d\"],\"stripe_unit\":65536,\"copies\":2,"
                  "\"frontend\":\"nbd\",\"attach\":false}");
  CU_ASSERT_EQUAL_FATAL(from_json("{\"name\":\"m\",\"size\":1,\"layout\":\"mirror\"}",
                                  VD_SPEC_BODY), 0);
  CU_ASSERT_EQUAL(spec.copies, -1); /* not given: 2 */
  json_bad("{\"name\":\"a\",\"size\":1,\"copies\":3}", VD_SPEC_BODY, "invalid_field", "copies",
           "field 'copies' applies to layout \"mirror\" only; drop it for \"stripe\"");
  text_bad("name=a,size=4M,layout=concat,copies=2",
           "volume: copies= applies to layout=mirror only, not concat");
}

/* attach and index only where there is a kernel device to make. */
static void test_exposure(void)
{
  vd_spec_init(&spec);
  CU_ASSERT_EQUAL(vd_spec_check_exposure(&spec, err, sizeof err), 0);
  spec.index = 0;
  CU_ASSERT_EQUAL(vd_spec_check_exposure(&spec, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "index applies to frontend ublk (/dev/ublkbN) or to nbd with "
                              "attach (/dev/nbdN), not to nbd without attach");
  spec.attach = true;
  CU_ASSERT_EQUAL(vd_spec_check_exposure(&spec, err, sizeof err), 0);
  spec.frontend = VD_FRONTEND_UBLK;
  CU_ASSERT_EQUAL(vd_spec_check_exposure(&spec, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "attach applies to frontend nbd only"));
  spec.attach = false;
  CU_ASSERT_EQUAL(vd_spec_check_exposure(&spec, err, sizeof err), 0);
  spec.frontend = VD_FRONTEND_NONE;
  CU_ASSERT_EQUAL(vd_spec_check_exposure(&spec, err, sizeof err), -EINVAL);
}

static const struct vd_test tests[] = {
  { "round trips: JSON, spec, text", test_round_trips },
  { "API body: every field's bad values", test_body_bad },
  { "API body: at most 64 devices; an object", test_body_too_many_devices },
  { "state file: version 1 definitions", test_saved_version1 },
  { "text: every field's bad values", test_text_bad },
  { "text: field by field, as vramctl", test_set_text },
  { "layout and frontend names", test_names },
  { "attach and index need a kernel device", test_exposure },
  { "mirror: copies", test_mirror },
  { NULL, NULL },
};

VD_TEST_ONE_SUITE("spec", tests);
