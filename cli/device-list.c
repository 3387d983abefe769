/* device-list.c: vramctl device list, and the device table status prints. */
#include "vramctl.h"

/* GET /v1/devices's fields as columns. */
static const struct vctl_col cols[] = {
  { "ID", "id", VCTL_COL_TEXT, true, "device id (volume create --stripe/--concat takes it)" },
  { "TYPE", "type", VCTL_COL_TEXT, true, "gpu, accelerator or cpu" },
  { "STATE", "state", VCTL_COL_TEXT, true, "active, draining, drained or failed (lost)" },
  { "NAME", "name", VCTL_COL_TEXT, true, "the driver's name for it" },
  { "TOTAL", "total_bytes", VCTL_COL_BYTES, true, "memory the device has" },
  { "CAPACITY", "capacity_bytes", VCTL_COL_BYTES, true, "what vramd may use: free less the reserve" },
  { "ALLOCATED", "allocated_bytes", VCTL_COL_BYTES, true, "held by volumes" },
  { "AVAILABLE", "available_bytes", VCTL_COL_BYTES, true, "left for new volumes" },
  { "VENDOR", "vendor", VCTL_COL_TEXT, false, "vendor" },
  { "PLATFORM", "platform", VCTL_COL_TEXT, false, "OpenCL platform" },
  { "DRIVER", "driver", VCTL_COL_TEXT, false, "driver version" },
  { "UUID", "uuid", VCTL_COL_TEXT, false, "device UUID, where the driver gives one" },
  { "PCI", "pci_bus_id", VCTL_COL_TEXT, false, "PCI bus id, where the driver gives one" },
  { "FREE", "free_bytes", VCTL_COL_BYTES, false, "free when vramd started" },
  { "FREE-SOURCE", "free_source", VCTL_COL_TEXT, false, "where FREE was read" },
  { "RESERVE", "reserve_bytes", VCTL_COL_BYTES, false, "left to other programs" },
  { "IN-RESERVE", "inside_reserve_bytes", VCTL_COL_BYTES, false,
    "allocated inside a reserve raised since: a drain moves it" },
  { "MAX-ALLOC", "max_alloc_bytes", VCTL_COL_BYTES, false, "largest single allocation" },
  { "READ", "read_bytes", VCTL_COL_BYTES, false, "bytes read from the device" },
  { "WRITTEN", "written_bytes", VCTL_COL_BYTES, false, "bytes written to the device" },
  { "LOST", "lost", VCTL_COL_YESNO, false, "yes once the device stopped answering" },
};

/* The default table, for status. */
void vctl_print_devices(json_t *devs)
{
  vctl_table_print_default(cols, sizeof cols / sizeof cols[0], devs);
}

/* vramctl device list. */
static int run(struct vctl *g, int argc, char **argv)
{
  return vctl_list(g, argc, argv, "/v1/devices", "devices");
}

const struct vctl_cmd vctl_cmd_device_list = {
  "device", "list", run, "device list [-H] [-p] [-o COLUMNS]",
  "Lists the devices vramd pools, with their memory in IEC units.",
  cols, sizeof cols / sizeof cols[0],
};
