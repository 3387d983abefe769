/* volume-attach.c: vramctl volume attach, as rbd map: expose a volume
 * that has no frontend, and print where it is. */
#include <stdio.h>
#include <stdlib.h>

#include "spec.h"
#include "vramctl.h"

/* The attach body from the options, through the spec codec's table: -1,
 * or the usage error naming the option. */
static int body_of(struct vctl *g, const char *fe, const char *index, bool kernel,
                   char **out)
{
  struct vd_volume_spec how;
  char err[256];
  json_t *o;

  vd_spec_init(&how);
  how.attach = kernel;
  if (vd_spec_set_text(&how, "frontend", fe, err, sizeof err))
    return vctl_usage_error(g, "--frontend: %s", err);
  if (index && vd_spec_set_text(&how, "index", index, err, sizeof err))
    return vctl_usage_error(g, "--index: %s", err);
  if (how.frontend == VD_FRONTEND_NONE)
    return vctl_usage_error(g, "--frontend none is what 'vramctl volume detach' leaves");
  /* --index alone on nbd means the kernel device, as nbd-client does. */
  if (how.frontend == VD_FRONTEND_NBD && how.index >= 0)
    how.attach = true;
  if (vd_spec_check_exposure(&how, err, sizeof err))
    return vctl_usage_error(g, "%s", err);
  o = json_pack("{s:s, s:b}", "frontend", vd_frontend_name(how.frontend), "attach", how.attach);
  if (o && how.index >= 0)
    json_object_set_new(o, "index", json_integer(how.index));
  *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (*out)
    return -1;
  fprintf(stderr, "vramctl: out of memory\n");
  return VCTL_FAILED;
}

/* vramctl volume attach NAME --frontend nbd|ublk [--kernel] [--index N]. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "frontend", required_argument, NULL, 'f' }, { "index", required_argument, NULL, 'i' },
    { "kernel", no_argument, NULL, 'k' }, VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 },
  };
  const char *fe = NULL, *index = NULL, *name;
  bool kernel = false;
  char path[128], *body = NULL;
  json_t *doc;
  long st;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0) {
    switch (c) {
    case 'f': fe = optarg; break;
    case 'i': index = optarg; break;
    case 'k': kernel = true; break;
    }
  }
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "volume NAME", true, &name)) >= 0)
    return rc;
  if (!fe)
    return vctl_usage_error(g, "--frontend is required (nbd or ublk)");
  if ((rc = body_of(g, fe, index, kernel, &body)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/volumes/%s/attach", name);
  st = vctl_request(g, "POST", path, body, &doc);
  free(body);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 200)
    return vctl_api_error(g, st, doc);
  if (g->json)
    return vctl_print_json(doc);
  printf("%s\n", vctl_volume_where(doc));
  json_decref(doc);
  return VCTL_OK;
}

const struct vctl_cmd vctl_cmd_volume_attach = {
  "volume", "attach", run,
  "volume attach NAME --frontend nbd|ublk [--kernel] [--index N]",
  "Exposes a volume that has no frontend (created with --frontend none, or\n"
  "detached), as rbd map does, and prints where it is: the device path, or\n"
  "the NBD URI. The change is saved: it stays after vramd restarts. A volume\n"
  "that is attached already is refused; detach it first.\n\n"
  "  --frontend nbd|ublk  an NBD export, or /dev/ublkbN\n"
  "  --kernel             nbd: also attach a kernel /dev/nbdN\n"
  "  --index N            /dev/ublkbN or /dev/nbdN (nbd: implies --kernel);\n"
  "                       default: the kernel's first free one",
  NULL, 0,
};
