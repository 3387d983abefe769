/* status.c: vramctl status: the daemon, the pool, devices and volumes. */
#include <getopt.h>
#include <stdio.h>

#include "vramctl.h"

static const char usage[] = "status [--json]";

/* GET a path into *out; the HTTP status or -1. */
static long get(struct vctl *g, const char *path, json_t **out)
{
  long st = vctl_request(g, "GET", path, NULL, out);
  if (st >= 0 && st != 200) {
    vctl_api_error(g, st, *out);
    *out = NULL;
    return -1;
  }
  return st;
}

/* One swap-safety step: "yes", or "no (cause)". */
static void print_step(const char *what, json_t *sf, const char *ok, const char *why)
{
  if (json_is_true(json_object_get(sf, ok)))
    printf(" %s yes", what);
  else
    printf(" %s no (%s)", what, vctl_str(sf, why, "?"));
}

/* The swap-safety line: mlockall, PR_SET_IO_FLUSHER, oom_score_adj. */
static void print_safety(json_t *sf)
{
  if (!json_is_object(sf))
    return;
  printf("swap safety:");
  print_step("mlockall", sf, "mlockall", "mlockall_error");
  printf(",");
  print_step("PR_SET_IO_FLUSHER", sf, "io_flusher", "io_flusher_error");
  printf(", oom_score_adj %lld%s\n\n",
         (long long)json_integer_value(json_object_get(sf, "oom_score_adj")),
         json_is_true(json_object_get(sf, "oom_protected")) ? "" : " (not protected)");
}

/* vramctl status. */
int vctl_status(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  json_t *root = NULL, *pool = NULL, *devs = NULL, *vols = NULL;
  char c1[32], c2[32], c3[32];
  int c, rc = VCTL_FAILED;

  while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1)
    if ((rc = vctl_common_opt(g, c, usage)) >= 0)
      return rc;
  if (optind < argc)
    return vctl_usage_error(usage, "unexpected argument '%s'", argv[optind]);
  rc = VCTL_FAILED;
  if (get(g, "/v1", &root) < 0 || get(g, "/v1/pool", &pool) < 0 ||
      get(g, "/v1/devices", &devs) < 0 || get(g, "/v1/volumes", &vols) < 0)
    goto out_put;
  if (g->json) {
    rc = vctl_print_json(json_pack("{s:O, s:O, s:O, s:O}", "vramd", root, "pool", pool,
                                   "devices", json_object_get(devs, "devices"),
                                   "volumes", json_object_get(vols, "volumes")));
    goto out_put;
  }
  printf("vramd %s on %s%s\n", vctl_str(root, "version", "?"), g->socket,
         json_is_true(json_object_get(root, "cpu_fallback")) ? " (CPU devices: no GPU found)" : "");
  printf("pool: %llu devices, %s capacity, %s allocated, %s available; %llu volumes\n\n",
         vctl_u64(pool, "devices"), vctl_size(pool, "capacity_bytes", c1, sizeof c1),
         vctl_size(pool, "allocated_bytes", c2, sizeof c2),
         vctl_size(pool, "available_bytes", c3, sizeof c3), vctl_u64(pool, "volumes"));
  print_safety(json_object_get(root, "swap_safety"));
  vctl_print_devices(json_object_get(devs, "devices"));
  printf("\n");
  vctl_print_volumes(json_object_get(vols, "volumes"));
  rc = VCTL_OK;

out_put:
  json_decref(root);
  json_decref(pool);
  json_decref(devs);
  json_decref(vols);
  return rc;
}
