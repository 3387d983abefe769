/* device-list.c: vramctl device list. */
#include <getopt.h>
#include <stdio.h>

#include "vramctl.h"

static const char usage[] = "device list [--json]";

/* One line per device, sizes in IEC units. */
void vctl_print_devices(json_t *devs)
{
  size_t i;
  json_t *d;
  printf("%-6s %-11s %-28s %10s %10s %10s %10s\n", "ID", "TYPE", "NAME", "TOTAL", "CAPACITY",
         "ALLOCATED", "AVAILABLE");
  json_array_foreach(devs, i, d) {
    char t[32], c[32], a[32], f[32];
    printf("%-6s %-11s %-28.28s %10s %10s %10s %10s\n", vctl_str(d, "id", "?"),
           vctl_str(d, "type", "?"), vctl_str(d, "name", "?"),
           vctl_size(d, "total_bytes", t, sizeof t), vctl_size(d, "capacity_bytes", c, sizeof c),
           vctl_size(d, "allocated_bytes", a, sizeof a),
           vctl_size(d, "available_bytes", f, sizeof f));
  }
}

/* vramctl device list. */
int vctl_device_list(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  json_t *doc;
  long st;
  int c, rc;

  while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1)
    if ((rc = vctl_common_opt(g, c, usage)) >= 0)
      return rc;
  if (optind < argc)
    return vctl_usage_error(usage, "unexpected argument '%s'", argv[optind]);
  st = vctl_request(g, "GET", "/v1/devices", NULL, &doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 200)
    return vctl_api_error(g, st, doc);
  if (g->json)
    return vctl_print_json(doc);
  vctl_print_devices(json_object_get(doc, "devices"));
  json_decref(doc);
  return VCTL_OK;
}
