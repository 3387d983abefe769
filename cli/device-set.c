/* device-set.c: vramctl device set ID --reserve SIZE. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vramctl.h"

/* What the new reserve leaves, and what lies inside it now. */
static void report(json_t *d)
{
  char r[32], c[32], a[32], in[32];
  printf("%s: reserve %s, capacity %s, %s available\n", vctl_str(d, "id", "?"),
         vctl_size(d, "reserve_bytes", r, sizeof r), vctl_size(d, "capacity_bytes", c, sizeof c),
         vctl_size(d, "available_bytes", a, sizeof a));
  if (vctl_u64(d, "inside_reserve_bytes"))
    printf("%s allocated now lies inside the reserve; it stays where it is until a drain "
           "moves it\n", vctl_size(d, "inside_reserve_bytes", in, sizeof in));
}

/* vramctl device set. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "reserve", required_argument, NULL, 'r' }, VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 },
  };
  const char *reserve = NULL, *id;
  char path[128], err[200];
  uint64_t bytes = 0;
  json_t *doc;
  char *body;
  long st;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0)
    reserve = optarg;
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "device ID", false, &id)) >= 0)
    return rc;
  if (!reserve)
    return vctl_usage_error(g, "give what to set: --reserve SIZE");
  /* 0 is a size here, as for vramd --reserve: nothing held back. */
  if (strcmp(reserve, "0") && vd_parse_size(reserve, &bytes, err, sizeof err))
    return vctl_usage_error(g, "--reserve: %s", err);
  snprintf(path, sizeof path, "/v1/devices/%s", id);
  doc = json_pack("{s:I}", "reserve_bytes", (json_int_t)bytes);
  body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  if (!body) {
    fprintf(stderr, "vramctl: out of memory\n");
    return VCTL_FAILED;
  }
  st = vctl_request(g, "PATCH", path, body, &doc);
  free(body);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 200)
    return vctl_api_error(g, st, doc);
  if (g->json)
    return vctl_print_json(doc);
  report(doc);
  json_decref(doc);
  return VCTL_OK;
}

const struct vctl_cmd vctl_cmd_device_set = {
  "device", "set", run, "device set ID --reserve SIZE",
  "Changes a device while vramd runs.\n\n"
  "  --reserve SIZE  memory held back for other programs (K, M, G, T; base 2;\n"
  "                  0 for none); at most the device's memory. New volumes see\n"
  "                  it at once: capacity is free memory less the reserve.\n"
  "                  What is allocated stays; what now lies inside the reserve\n"
  "                  is printed, and a drain moves it.",
  NULL, 0,
};
