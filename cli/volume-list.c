/* volume-list.c: vramctl volume list. */
#include <stdio.h>

#include "vramctl.h"

static const char usage[] = "volume list [--json]";

/* Device path where there is one, else the NBD URI. */
const char *vctl_volume_where(json_t *v)
{
  const char *p = vctl_str(v, "device_path", NULL);
  return p ? p : vctl_str(v, "nbd_uri", "-");
}

/* One line per volume. */
void vctl_print_volumes(json_t *vols)
{
  size_t i;
  json_t *v;
  if (json_array_size(vols) == 0) {
    printf("no volumes\n");
    return;
  }
  printf("%-20s %10s %-7s %-16s %-8s %7s  %s\n", "NAME", "SIZE", "LAYOUT", "DEVICES",
         "FRONTEND", "CLIENTS", "WHERE");
  json_array_foreach(vols, i, v) {
    char s[32], devs[64] = "";
    size_t k, off = 0;
    json_t *id;
    json_array_foreach(json_object_get(v, "devices"), k, id)
      if (off < sizeof devs)
        off += (size_t)snprintf(devs + off, sizeof devs - off, "%s%s", k ? "," : "",
                                vctl_text(id, "?"));
    printf("%-20s %10s %-7s %-16s %-8s %7llu  %s\n", vctl_str(v, "name", "?"),
           vctl_size(v, "size", s, sizeof s), vctl_str(v, "layout", "?"), devs,
           vctl_str(v, "frontend", "?"), vctl_u64(v, "clients"), vctl_volume_where(v));
  }
}

/* vramctl volume list. */
int vctl_volume_list(struct vctl *g, int argc, char **argv)
{
  json_t *doc;
  int rc = vctl_simple_get(g, argc, argv, usage, "/v1/volumes", &doc);
  if (rc >= 0)
    return rc;
  vctl_print_volumes(json_object_get(doc, "volumes"));
  json_decref(doc);
  return VCTL_OK;
}
