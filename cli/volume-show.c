/* volume-show.c: vramctl volume show. */
#include <getopt.h>
#include <stdio.h>

#include "vramctl.h"

static const char usage[] = "volume show NAME [--json]";

/* The volume's fields, extents and I/O counters. */
static void show(json_t *v)
{
  static const char *const ops[] = { "read", "write", "write_zeroes", "flush" };
  char a[32], b[32];
  size_t i;
  json_t *e, *id;

  printf("name:      %s\n", vctl_str(v, "name", "?"));
  printf("size:      %s (%llu bytes)\n", vctl_size(v, "size", a, sizeof a), vctl_u64(v, "size"));
  printf("layout:    %s", vctl_str(v, "layout", "?"));
  if (json_object_get(v, "stripe_unit"))
    printf(", unit %s", vctl_size(v, "stripe_unit", b, sizeof b));
  printf("\ndevices:  ");
  json_array_foreach(json_object_get(v, "devices"), i, id)
    printf(" %s", vctl_text(id, "?"));
  printf("\nfrontend:  %s\n", vctl_str(v, "frontend", "?"));
  printf("where:     %s", vctl_volume_where(v));
  if (json_object_get(v, "device_connections"))
    printf(" (%llu kernel connections)", vctl_u64(v, "device_connections"));
  printf("\n");
  printf("clients:   %llu\n", vctl_u64(v, "clients"));
  printf("state:     %s\n", vctl_str(v, "state", "ok"));
  printf("extents:\n");
  json_array_foreach(json_object_get(v, "extents"), i, e)
    printf("  %-6s #%-4llu %s\n", vctl_str(e, "device", "?"), vctl_u64(e, "index"),
           vctl_size(e, "bytes", a, sizeof a));
  printf("I/O:        %12s %12s %8s\n", "REQUESTS", "BYTES", "ERRORS");
  for (i = 0; i < 4; i++) {
    json_t *o = json_object_get(json_object_get(v, "io"), ops[i]);
    printf("  %-12s %12llu %12s %8llu\n", ops[i], vctl_u64(o, "requests"),
           vctl_size(o, "bytes", a, sizeof a), vctl_u64(o, "errors"));
  }
}

/* vramctl volume show NAME. */
int vctl_volume_show(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  char path[128];
  json_t *doc;
  long st;
  const char *name;
  int c, rc;

  while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1)
    if ((rc = vctl_common_opt(g, c, usage)) >= 0)
      return rc;
  if ((rc = vctl_volume_name_arg(argc, argv, usage, &name)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/volumes/%s", name);
  st = vctl_request(g, "GET", path, NULL, &doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 200)
    return vctl_api_error(g, st, doc);
  if (g->json)
    return vctl_print_json(doc);
  show(doc);
  json_decref(doc);
  return VCTL_OK;
}
