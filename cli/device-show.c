/* device-show.c: vramctl device show ID. */
#include <stdio.h>
#include <string.h>

#include "vramctl.h"

/* A byte field: IEC units and the exact count. */
static void bytes_line(const char *label, json_t *d, const char *key)
{
  char b[32];
  json_t *v = json_object_get(d, key);
  if (!json_is_integer(v))
    printf("%-11s%s", label, v ? "?" : "-");
  else
    printf("%-11s%s (%llu bytes)", label, vctl_size(d, key, b, sizeof b), vctl_u64(d, key));
  if (!strcmp(key, "free_bytes"))
    printf(", from %s", vctl_str(d, "free_source", "?"));
  printf("\n");
}

/* The volumes with an extent on device id, comma-separated, into buf. */
static const char *volumes_on(json_t *vols, const char *id, char *buf, size_t len)
{
  size_t i, k, off = 0;
  json_t *v, *d;
  buf[0] = '\0';
  json_array_foreach(vols, i, v)
    json_array_foreach(json_object_get(v, "devices"), k, d)
      if (json_is_string(d) && !strcmp(json_string_value(d), id) && off < len) {
        off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
                                vctl_str(v, "name", "?"));
        break;
      }
  return off ? buf : "-";
}

/* The device's fields. */
static void show(json_t *d, json_t *vols)
{
  char list[4096];
  printf("%-11s%s\n", "id:", vctl_str(d, "id", "?"));
  printf("%-11s%s\n", "type:", vctl_str(d, "type", "?"));
  printf("%-11s%s\n", "name:", vctl_str(d, "name", "?"));
  printf("%-11s%s\n", "vendor:", vctl_str(d, "vendor", "?"));
  printf("%-11s%s\n", "platform:", vctl_str(d, "platform", "?"));
  printf("%-11s%s\n", "driver:", vctl_str(d, "driver", "?"));
  printf("%-11s%s\n", "uuid:", vctl_str(d, "uuid", "-"));
  printf("%-11s%s\n", "pci:", vctl_str(d, "pci_bus_id", "-"));
  /* An older vramd says only whether the device is lost. */
  printf("%-11s%s\n", "state:", vctl_str(d, "state", json_is_true(json_object_get(d, "lost")) ?
                                                      "failed" : "active"));
  bytes_line("total:", d, "total_bytes");
  bytes_line("free:", d, "free_bytes");
  bytes_line("reserve:", d, "reserve_bytes");
  bytes_line("capacity:", d, "capacity_bytes");
  if (vctl_u64(d, "inside_reserve_bytes"))
    bytes_line("in reserve:", d, "inside_reserve_bytes");
  bytes_line("allocated:", d, "allocated_bytes");
  bytes_line("available:", d, "available_bytes");
  bytes_line("max alloc:", d, "max_alloc_bytes");
  bytes_line("read:", d, "read_bytes");
  bytes_line("written:", d, "written_bytes");
  printf("%-11s%s\n", "volumes:", volumes_on(vols, vctl_str(d, "id", ""), list, sizeof list));
}

/* vramctl device show ID. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  json_t *dev, *vols;
  char path[128];
  const char *id;
  int rc;

  if (vctl_getopt(g, argc, argv, VCTL_SHORT, opts) == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "device ID", false, &id)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/devices/%s", id);
  if ((rc = vctl_get(g, path, &dev)) >= 0)
    return rc;
  if (g->json)
    return vctl_print_json(dev);
  if ((rc = vctl_get(g, "/v1/volumes", &vols)) >= 0) {
    json_decref(dev);
    return rc;
  }
  show(dev, json_object_get(vols, "volumes"));
  json_decref(dev);
  json_decref(vols);
  return VCTL_OK;
}

const struct vctl_cmd vctl_cmd_device_show = {
  "device", "show", run, "device show ID",
  "Shows one device: what it is, its memory in IEC units and bytes, the\n"
  "bytes moved to and from it, and the volumes with memory on it.",
  NULL, 0,
};
