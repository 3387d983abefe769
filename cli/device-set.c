/* device-set.c: vramctl device set ID [--reserve SIZE [--drain]]
 * [--yield-floor SIZE|off]. */
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
    printf("%s allocated now lies inside the reserve; it stays where it is until "
           "'--drain' moves it\n", vctl_size(d, "inside_reserve_bytes", in, sizeof in));
  if (vctl_u64(d, "yield_floor_bytes"))
    printf("yields to other processes below %s free\n",
           vctl_size(d, "yield_floor_bytes", in, sizeof in));
}

/* A size option: 0 (or "off" where off_ok) is nothing. */
static int size_opt(struct vctl *g, const char *opt, const char *v, bool off_ok, uint64_t *out)
{
  char err[200];
  *out = 0;
  if (!strcmp(v, "0") || (off_ok && !strcmp(v, "off")))
    return -1;
  if (vd_parse_size(v, out, err, sizeof err))
    return vctl_usage_error(g, "%s: %s", opt, err);
  return -1;
}

/* vramctl device set. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "reserve", required_argument, NULL, 'r' }, { "yield-floor", required_argument, NULL, 'y' },
    { "drain", no_argument, NULL, 'd' }, VCTL_NO_WAIT_OPT, VCTL_COMMON_OPTS,
    { NULL, 0, NULL, 0 },
  };
  const char *reserve = NULL, *floor = NULL, *id;
  bool drain = false, no_wait = false;
  uint64_t bytes = 0, floor_bytes = 0;
  char path[128];
  json_t *doc;
  char *body;
  long st;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0) {
    if (c == 'r') reserve = optarg;
    else if (c == 'y') floor = optarg;
    else if (c == 'd') drain = true;
    else if (c == VCTL_OPT_NO_WAIT) no_wait = true;
  }
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "device ID", false, &id)) >= 0)
    return rc;
  if (!reserve && !floor)
    return vctl_usage_error(g, "give what to set: --reserve SIZE or --yield-floor SIZE");
  if (drain && !reserve)
    return vctl_usage_error(g, "--drain moves what lies inside a new reserve: give --reserve");
  /* 0 is a size here, as for vramd --reserve: nothing held back. */
  if ((reserve && (rc = size_opt(g, "--reserve", reserve, false, &bytes)) >= 0) ||
      (floor && (rc = size_opt(g, "--yield-floor", floor, true, &floor_bytes)) >= 0))
    return rc;
  snprintf(path, sizeof path, "/v1/devices/%s", id);
  doc = json_object();
  if (reserve)
    json_object_set_new(doc, "reserve_bytes", json_integer((json_int_t)bytes));
  if (floor)
    json_object_set_new(doc, "yield_floor_bytes", json_integer((json_int_t)floor_bytes));
  if (drain)
    json_object_set_new(doc, "drain", json_true());
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
  if (st == 202) {
    unsigned long job = (unsigned long)vctl_u64(doc, "id");
    json_decref(doc);
    return vctl_job_wait(g, job, no_wait);
  }
  if (st != 200)
    return vctl_api_error(g, st, doc);
  if (g->json)
    return vctl_print_json(doc);
  report(doc);
  json_decref(doc);
  return VCTL_OK;
}

const struct vctl_cmd vctl_cmd_device_set = {
  "device", "set", run,
  "device set ID [--reserve SIZE [--drain] [--no-wait]] [--yield-floor SIZE|off]",
  "Changes a device while vramd runs.\n\n"
  "  --reserve SIZE      memory held back for other programs (K, M, G, T; base 2;\n"
  "                      0 for none); at most the device's memory. New volumes see\n"
  "                      it at once: capacity is free memory less the reserve.\n"
  "                      What is allocated stays; what now lies inside the\n"
  "                      reserve is printed, and --drain moves it.\n"
  "  --drain             also move what lies inside the new reserve to other\n"
  "                      devices, as a job (a progress bar; --no-wait: its id)\n"
  "  --yield-floor SIZE  free memory to leave other processes (off: none): when\n"
  "                      the driver reports less, vramd moves data to devices\n"
  "                      with room, thin chunks first, and takes no more there",
  NULL, 0,
};
