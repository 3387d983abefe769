/* volume-create.c: vramctl volume create. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "vramctl.h"

static const char usage[] =
  "volume create NAME --size SIZE [--stripe all|ID,..|--concat all|ID,..]\n"
  "               [--stripe-unit SIZE] [--frontend nbd|ublk] [--attach] [--json]\n\n"
  "Makes a volume of SIZE (K, M, G, T; base 2), striped over every device\n"
  "unless told otherwise, and prints where it is: the device path, or the\n"
  "NBD URI. Contents live in VRAM and are lost when vramd stops.";

/* Set a spec field from an option's text by the spec codec's table: -1,
 * or the usage error naming the option. */
static int set_opt(struct vd_volume_spec *s, const char *key, const char *opt, const char *v)
{
  char err[256];
  if (!vd_spec_set_text(s, key, v, err, sizeof err))
    return -1;
  return vctl_usage_error(usage, "%s: %s", opt, err);
}

/* "all" or "gpu0,gpu1" into the spec (the text form lists ids with '+'). */
static int set_devices(struct vd_volume_spec *s, const char *opt, const char *list)
{
  char ids[1024];
  if (strlen(list) >= sizeof ids)
    return vctl_usage_error(usage, "%s: device list is too long", opt);
  strcpy(ids, list);
  for (char *p = strchr(ids, ','); p; p = strchr(p + 1, ','))
    *p = '+';
  return set_opt(s, "devices", opt, ids);
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
  const char *dev_opt = "--stripe";
  bool attach = false, have_layout = false;
  struct vd_volume_spec spec;
  char err[256], a[32], b[32];
  json_t *body, *doc;
  long st;
  const char *name;
  char *text;
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
      dev_opt = c == 'S' ? "--stripe" : "--concat";
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
  vd_spec_init(&spec);
  spec.attach = attach;
  if ((rc = set_opt(&spec, "name", "NAME", name)) >= 0 ||
      (rc = set_opt(&spec, "size", "--size", size)) >= 0 ||
      (rc = set_opt(&spec, "layout", dev_opt, layout)) >= 0 ||
      (unit && (rc = set_opt(&spec, "unit", "--stripe-unit", unit)) >= 0) ||
      (fe && (rc = set_opt(&spec, "frontend", "--frontend", fe)) >= 0) ||
      (rc = set_devices(&spec, dev_opt, devs)) >= 0)
    return rc;
  if (vd_spec_check_text(&spec, err, sizeof err))
    return vctl_usage_error(usage, "%s", err);

  body = vd_spec_to_json(&spec, VD_SPEC_BODY);
  text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) {
    fprintf(stderr, "vramctl: out of memory\n");
    return VCTL_FAILED;
  }
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
  if (vctl_u64(doc, "size") != spec.size)
    printf(" (%s asked, rounded up to whole stripe rows)",
           vd_format_size(spec.size, b, sizeof b));
  printf("\n%s\n", vctl_volume_where(doc));
  json_decref(doc);
  return VCTL_OK;
}
