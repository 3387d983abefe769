/* volume-show.c: vramctl volume show. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vramctl.h"

static const struct vctl_col extent_cols[] = {
  { "DEVICE", "device", VCTL_COL_TEXT, true, "" },
  { "INDEX", "index", VCTL_COL_COUNT, true, "" },
  { "SIZE", "size_bytes", VCTL_COL_BYTES, true, "" },
  { "ON", "on", VCTL_COL_TEXT, true, "" },
};
static const struct vctl_col client_cols[] = {
  { "KIND", "kind", VCTL_COL_TEXT, true, "" },
  { "PID", "pid", VCTL_COL_COUNT, true, "" },
  { "UID", "uid", VCTL_COL_COUNT, true, "" },
  { "ADDRESS", "address", VCTL_COL_TEXT, true, "" },
  { "DEVICE", "device", VCTL_COL_TEXT, true, "" },
};
static const struct vctl_col io_cols[] = {
  { "OP", "op", VCTL_COL_TEXT, true, "" },
  { "REQUESTS", "requests", VCTL_COL_COUNT, true, "" },
  { "BYTES", "done_bytes", VCTL_COL_BYTES, true, "" },
  { "ERRORS", "errors", VCTL_COL_COUNT, true, "" },
};

/* The I/O counters as a table, one row per operation. */
static void print_io(json_t *io)
{
  static const char *const ops[] = { "read", "write", "write_zeroes", "flush" };
  json_t *rows = json_array(), *o;

  for (size_t i = 0; i < 4; i++) {
    o = json_object_get(io, ops[i]);
    o = json_is_object(o) ? json_copy(o) : json_object();
    json_object_set_new(o, "op", json_string(ops[i]));
    json_array_append_new(rows, o);
  }
  vctl_table_print_default(io_cols, sizeof io_cols / sizeof io_cols[0], rows);
  json_decref(rows);
}

/* What scrubs found, for a volume with checksums. */
static void show_scrub(json_t *s)
{
  json_t *last = json_object_get(s, "last_time");
  char when[64] = "never";
  time_t t;

  if (!s)
    return;
  if (json_is_integer(last)) {
    t = (time_t)json_integer_value(last);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
  }
  printf("scrub:     last %s", when);
  if (json_is_integer(last))
    printf(", %llu blocks checked, %llu bad, %llu repaired", vctl_u64(s, "last_blocks"),
           vctl_u64(s, "last_bad_blocks"), vctl_u64(s, "last_repaired_blocks"));
  if (json_is_integer(last) && vctl_u64(s, "last_skipped_blocks"))
    printf(", %llu skipped on stale copies", vctl_u64(s, "last_skipped_blocks"));
  printf("; %llu bad in %llu blocks since start", vctl_u64(s, "bad_blocks_total"),
         vctl_u64(s, "blocks_total"));
  last = json_object_get(s, "next_time");
  if (json_is_integer(last)) {
    t = (time_t)json_integer_value(last);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
    printf("; next %s", when);
  }
  printf("\n");
}

/* The volume's fields, extents and I/O counters. */
static void show(json_t *v)
{
  char a[32], b[32], ids[4096];

  printf("name:      %s\n", vctl_str(v, "name", "?"));
  printf("size:      %s (%llu bytes)\n", vctl_size(v, "size_bytes", a, sizeof a),
         vctl_u64(v, "size_bytes"));
  printf("layout:    %s", vctl_str(v, "layout", "?"));
  if (json_object_get(v, "stripe_unit_bytes"))
    printf(", unit %s", vctl_size(v, "stripe_unit_bytes", b, sizeof b));
  printf("\ndevices:   %s\n", vctl_join_ids(json_object_get(v, "devices"), ids, sizeof ids));
  printf("frontend:  %s\n", vctl_str(v, "frontend", "?"));
  printf("where:     %s", vctl_volume_where(v));
  if (json_object_get(v, "device_connections"))
    printf(" (%llu kernel connections)", vctl_u64(v, "device_connections"));
  printf("\n");
  printf("clients:   %llu\n", vctl_u64(v, "clients"));
  printf("state:     %s", vctl_str(v, "state", "ok"));
  if (json_object_get(v, "copies"))
    printf(" (%llu of %llu copies in sync)", vctl_u64(v, "copies_healthy"), vctl_u64(v, "copies"));
  printf("\n");
  printf("VRAM:      %s held", vctl_size(v, "allocated_bytes", a, sizeof a));
  if (!strcmp(vctl_str(v, "provisioning", "thick"), "thin"))
    printf(" (thin, chunks of %s; %llu writes refused for want of room)",
           vctl_size(v, "chunk_bytes", b, sizeof b), vctl_u64(v, "enospc_writes"));
  printf("\n");
  printf("integrity: %s", vctl_str(v, "integrity", "none"));
  if (json_object_get(v, "checksum_repaired"))
    printf(" (%llu reads found a bad checksum, %llu ranges rewritten from another copy)",
           vctl_u64(v, "checksum_errors"), vctl_u64(v, "checksum_repaired"));
  else if (json_object_get(v, "parity_repaired"))
    printf(" (%llu bad blocks rebuilt from parity, %llu reads failed on a bad checksum)",
           vctl_u64(v, "parity_repaired"), vctl_u64(v, "checksum_errors"));
  else if (json_object_get(v, "checksum_errors"))
    printf(" (%llu reads found a bad checksum)", vctl_u64(v, "checksum_errors"));
  printf("\n");
  show_scrub(json_object_get(v, "scrub"));
  if (json_array_size(json_object_get(v, "connections"))) {
    printf("\nconnections:\n");
    vctl_table_print_default(client_cols, sizeof client_cols / sizeof client_cols[0],
                             json_object_get(v, "connections"));
  }
  printf("\nextents:\n");
  vctl_table_print_default(extent_cols, sizeof extent_cols / sizeof extent_cols[0],
                           json_object_get(v, "extents"));
  printf("\nI/O:\n");
  print_io(json_object_get(v, "io"));
}

/* vramctl volume show NAME. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  char path[128];
  const char *name;
  int rc;

  if (vctl_getopt(g, argc, argv, VCTL_SHORT, opts) == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "volume NAME", true, &name)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/volumes/%s", name);
  return vctl_show(g, path, show);
}

const struct vctl_cmd vctl_cmd_volume_show = {
  "volume", "show", run, "volume show NAME",
  "Shows one volume: size, layout, devices, where it is, clients, state,\n"
  "who is connected (a process's pid and uid on the NBD socket, an address\n"
  "over TCP, a kernel device), the VRAM it holds, its extents with the\n"
  "device each lives on now (ON: a drain moves them; - for a thin range that\n"
  "holds no chunk) and its I/O counters.",
  NULL, 0,
};
