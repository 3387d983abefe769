/* volume-create.c: vramctl volume create. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vramctl.h"

static const char usage[] =
  "volume create NAME --size SIZE [--stripe all|ID,..|--concat all|ID,..]\n"
  "               [--stripe-unit SIZE] [--frontend nbd|ublk] [--attach] [--json]\n\n"
  "Makes a volume of SIZE (K, M, G, T; base 2), striped over every device\n"
  "unless told otherwise, and prints where it is: the device path, or the\n"
  "NBD URI. Contents live in VRAM and are lost when vramd stops.";

/* "all" or "gpu0,gpu1" as the body's devices member. */
static json_t *device_list(const char *s)
{
  json_t *arr;
  char *copy, *tok, *save = NULL;
  if (!strcmp(s, "all"))
    return json_string("all");
  arr = json_array();
  copy = strdup(s);
  for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    json_array_append_new(arr, json_string(tok));
  free(copy);
  if (json_array_size(arr) == 0) {
    json_decref(arr);
    return NULL;
  }
  return arr;
}

/* Say why it did not fit and what is free where. */
static int no_room(struct vctl *g, long st, json_t *doc)
{
  json_t *devs = json_object_get(json_object_get(doc, "error"), "devices"), *d;
  size_t i;
  if (!g->json && json_array_size(devs)) {
    fprintf(stderr, "vramctl: available now:");
    json_array_foreach(devs, i, d) {
      char b[32];
      fprintf(stderr, "%s %s %s", i ? "," : "", vctl_str(d, "id", "?"),
              vctl_size(d, "available_bytes", b, sizeof b));
    }
    fprintf(stderr, "\n");
  }
  json_incref(doc);
  vctl_api_error(g, st, doc);
  json_decref(doc);
  return VCTL_FAILED;
}

/* vramctl volume create. */
int vctl_volume_create(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "size", required_argument, NULL, 's' }, { "stripe", required_argument, NULL, 'S' },
    { "concat", required_argument, NULL, 'C' }, { "stripe-unit", required_argument, NULL, 'u' },
    { "frontend", required_argument, NULL, 'f' }, { "attach", no_argument, NULL, 'a' },
    VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 },
  };
  const char *size = NULL, *devs = "all", *layout = "stripe", *unit = NULL, *fe = NULL;
  bool attach = false, have_layout = false;
  uint64_t bytes, unit_bytes = 0;
  char err[256] = "", a[32], b[32];
  json_t *body, *doc, *dl;
  long st;
  const char *name;
  int c, rc;

  while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
    switch (c) {
    case 's': size = optarg; break;
    case 'S':
    case 'C':
      if (have_layout)
        return vctl_usage_error(usage, "give one --stripe or --concat");
      have_layout = true;
      layout = c == 'S' ? "stripe" : "concat";
      devs = optarg;
      break;
    case 'u': unit = optarg; break;
    case 'f': fe = optarg; break;
    case 'a': attach = true; break;
    default:
      if ((rc = vctl_common_opt(g, c, usage)) >= 0)
        return rc;
    }
  }
  if ((rc = vctl_volume_name_arg(argc, argv, usage, &name)) >= 0)
    return rc;
  if (!size)
    return vctl_usage_error(usage, "--size is required");
  if (vd_parse_size(size, &bytes, err, sizeof err) || bytes > (uint64_t)INT64_MAX)
    return vctl_usage_error(usage, "--size: %s", err[0] ? err : "too large");
  if (unit && vd_parse_size(unit, &unit_bytes, err, sizeof err))
    return vctl_usage_error(usage, "--stripe-unit: %s", err);
  if (unit && !strcmp(layout, "concat"))
    return vctl_usage_error(usage, "--stripe-unit applies to --stripe only");
  if (fe && strcmp(fe, "nbd") && strcmp(fe, "ublk"))
    return vctl_usage_error(usage, "--frontend must be nbd or ublk");
  if (!(dl = device_list(devs)))
    return vctl_usage_error(usage, "empty device list");

  body = json_pack("{s:s, s:I, s:s, s:o, s:b}", "name", name, "size", (json_int_t)bytes,
                   "layout", layout, "devices", dl, "attach", attach);
  if (unit)
    json_object_set_new(body, "stripe_unit", json_integer((json_int_t)unit_bytes));
  if (fe)
    json_object_set_new(body, "frontend", json_string(fe));
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  st = vctl_request(g, "POST", "/v1/volumes", text, &doc);
  free(text);
  if (st < 0)
    return VCTL_FAILED;
  if (st == 507)
    return no_room(g, st, doc);
  if (st != 201)
    return vctl_api_error(g, st, doc);
  if (g->json)
    return vctl_print_json(doc);
  printf("created %s: %s, %s over %zu device%s", vctl_str(doc, "name", "?"),
         vctl_size(doc, "size", a, sizeof a), vctl_str(doc, "layout", "?"),
         json_array_size(json_object_get(doc, "devices")),
         json_array_size(json_object_get(doc, "devices")) == 1 ? "" : "s");
  if (vctl_u64(doc, "size") != bytes)
    printf(" (%s asked, rounded up to whole stripe rows)", vd_format_size(bytes, b, sizeof b));
  printf("\n%s\n", vctl_volume_where(doc));
  json_decref(doc);
  return VCTL_OK;
}
