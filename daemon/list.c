/* list.c: vramd --list-devices, as a table or as JSON. */
#include <jansson.h>
#include <stdio.h>

#include "list.h"
#include "util.h"

static const char *type_name(unsigned t)
{
  return t == VD_DEV_GPU ? "gpu" : t == VD_DEV_ACCEL ? "accelerator" : "cpu";
}

/* One device as a JSON object (the API uses the same shape). */
json_t *vd_device_json(const struct vd_device *dev)
{
  const struct vd_device_info *in = vd_device_info(dev);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:I, s:I, s:s, s:I, s:I, s:I, s:I}",
                   "id", in->id, "type", type_name(in->type), "platform", in->platform,
                   "vendor", in->vendor, "name", in->name, "driver", in->driver,
                   "uuid", in->uuid[0] ? in->uuid : NULL,
                   "pci_bus_id", in->pci_bus_id[0] ? in->pci_bus_id : NULL,
                   "total_bytes", (json_int_t)in->total_bytes,
                   "free_bytes", (json_int_t)in->free_bytes, "free_source", in->free_source,
                   "reserve_bytes", (json_int_t)in->reserve_bytes,
                   "capacity_bytes", (json_int_t)in->capacity_bytes,
                   "allocated_bytes", (json_int_t)vd_device_allocated(dev),
                   "max_alloc_bytes", (json_int_t)in->max_alloc_bytes);
}

/* A device as GET /v1/devices shows it: the description plus what is
 * available now, the bytes moved each way, whether it is lost, its state
 * and what lies inside its reserve. */
json_t *vd_device_status_json(const struct vd_device *dev, uint64_t written, uint64_t read)
{
  json_t *o = vd_device_json(dev);
  json_object_set_new(o, "available_bytes", json_integer((json_int_t)vd_device_available(dev)));
  json_object_set_new(o, "written_bytes", json_integer((json_int_t)written));
  json_object_set_new(o, "read_bytes", json_integer((json_int_t)read));
  json_object_set_new(o, "lost", json_boolean(vd_device_is_lost(dev)));
  json_object_set_new(o, "state", json_string(vd_dev_state_name(vd_device_state(dev))));
  json_object_set_new(o, "inside_reserve_bytes",
                      json_integer((json_int_t)vd_device_inside_reserve(dev)));
  json_object_set_new(o, "yield_floor_bytes",
                      json_integer((json_int_t)vd_device_yield_floor(dev)));
  json_object_set_new(o, "yield_short_bytes",
                      json_integer((json_int_t)vd_device_yield_short(dev)));
  return o;
}

/* The same, with the free memory the driver reports now: what a yield
 * floor is compared with (asks NVML or the host; not for hot paths). */
json_t *vd_device_live_json(struct vd_device *dev, uint64_t written, uint64_t read)
{
  json_t *o = vd_device_status_json(dev, written, read);
  uint64_t f;
  if (!vd_device_free_now(dev, &f))
    json_object_set_new(o, "driver_free_bytes", json_integer((json_int_t)f));
  return o;
}

/* Print every device of the pool; the JSON has GET /v1/devices' shape. */
int vd_list_devices(struct vd_pool *pool, bool as_json)
{
  if (as_json) {
    json_t *arr = json_array(), *doc;
    char *s;
    for (unsigned i = 0; i < vd_pool_count(pool); i++)
      json_array_append_new(arr, vd_device_live_json(vd_pool_device(pool, i), 0, 0));
    doc = json_pack("{s:o}", "devices", arr);
    s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (!s)
      return -1;
    puts(s);
    free(s);
    return 0;
  }
  printf("%-6s %-11s %-8s %-28s %-10s %-12s %10s %10s %10s  %s\n", "ID", "TYPE", "STATE",
         "NAME", "VENDOR", "PCI", "TOTAL", "CAPACITY", "MAX-ALLOC", "DRIVER");
  for (unsigned i = 0; i < vd_pool_count(pool); i++) {
    const struct vd_device *dev = vd_pool_device(pool, i);
    const struct vd_device_info *in = vd_device_info(dev);
    char t[32], c[32], m[32];
    printf("%-6s %-11s %-8s %-28.28s %-10.10s %-12s %10s %10s %10s  %s\n", in->id,
           type_name(in->type), vd_dev_state_name(vd_device_state(dev)),
           in->name, in->vendor, in->pci_bus_id[0] ? in->pci_bus_id : "-",
           vd_format_size(in->total_bytes, t, sizeof t),
           vd_format_size(in->capacity_bytes, c, sizeof c),
           vd_format_size(in->max_alloc_bytes, m, sizeof m), in->driver);
  }
  return 0;
}
