/* device-list.c: vramctl device list. */
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
  json_t *doc;
  int rc = vctl_simple_get(g, argc, argv, usage, "/v1/devices", &doc);
  if (rc >= 0)
    return rc;
  vctl_print_devices(json_object_get(doc, "devices"));
  json_decref(doc);
  return VCTL_OK;
}
