/* volume-list.c: vramctl volume list, and the volume table status prints. */
#include "vramctl.h"

/* GET /v1/volumes's fields as columns. */
static const struct vctl_col cols[] = {
  { "NAME", "name", VCTL_COL_TEXT, true, "volume name" },
  { "SIZE", "size_bytes", VCTL_COL_BYTES, true, "size, rounded up to whole stripe rows" },
  { "LAYOUT", "layout", VCTL_COL_TEXT, true, "stripe, concat or mirror" },
  { "DEVICES", "devices", VCTL_COL_IDS, true, "the devices it spans, comma-separated" },
  { "FRONTEND", "frontend", VCTL_COL_TEXT, true, "nbd or ublk" },
  { "CLIENTS", "clients", VCTL_COL_COUNT, true, "NBD sessions connected, the kernel's included" },
  { "WHERE", "", VCTL_COL_WHERE, true, "its device path, else its NBD URI" },
  { "ALLOC", "allocated_bytes", VCTL_COL_BYTES, true, "VRAM it holds: its size, or a thin volume's chunks" },
  { "STATE", "state", VCTL_COL_TEXT, false,
    "ok; degraded: a mirror with a copy out of sync; failed once a device was lost" },
  { "PROV", "provisioning", VCTL_COL_TEXT, false, "thick, or thin" },
  { "REQUESTED", "requested_size_bytes", VCTL_COL_BYTES, false, "size asked for at create" },
  { "UNIT", "stripe_unit_bytes", VCTL_COL_BYTES, false, "stripe unit (- for concat)" },
  { "ATTACH", "attach", VCTL_COL_YESNO, false, "attached to a kernel device at create" },
  { "DEVICE-PATH", "device_path", VCTL_COL_TEXT, false, "kernel block device, if any" },
  { "NBD-URI", "nbd_uri", VCTL_COL_TEXT, false, "NBD URI, for the nbd frontend" },
  { "CONNECTIONS", "device_connections", VCTL_COL_COUNT, false,
    "kernel NBD connections of an attached volume" },
};

/* Device path where there is one, else the NBD URI. */
const char *vctl_volume_where(json_t *v)
{
  const char *p = vctl_str(v, "device_path", NULL);
  return p ? p : vctl_str(v, "nbd_uri", "-");
}

/* The default table, for status. */
void vctl_print_volumes(json_t *vols)
{
  vctl_table_print_default(cols, sizeof cols / sizeof cols[0], vols);
}

/* vramctl volume list. */
static int run(struct vctl *g, int argc, char **argv)
{
  return vctl_list(g, argc, argv, "/v1/volumes", "volumes");
}

const struct vctl_cmd vctl_cmd_volume_list = {
  "volume", "list", run, "volume list [-H] [-p] [-o COLUMNS]",
  "Lists the volumes, sizes in IEC units; no volumes prints the header alone.",
  cols, sizeof cols / sizeof cols[0],
};
