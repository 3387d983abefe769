/* volume-resize.c: vramctl volume resize, as lvresize: grow a volume
 * online, or shrink it with --force, and say what changed. */
#include <inttypes.h>
#include <stdio.h>

#include "vramctl.h"

/* The PATCH body for SIZE or +SIZE: -1 with *out set, else the usage
 * error. */
static int body_of(struct vctl *g, const char *size, char *out, size_t len)
{
  bool grow = size[0] == '+';
  char err[200];
  uint64_t n;

  if (vd_parse_size(size + grow, &n, err, sizeof err))
    return vctl_usage_error(g, "--size: %s (SIZE sets it, +SIZE grows by it)", err);
  snprintf(out, len, "{\"%s\": %" PRIu64 "}", grow ? "grow_bytes" : "size", n);
  return -1;
}

/* vramctl volume resize NAME --size [+]SIZE [--force]. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "size", required_argument, NULL, 's' }, { "force", no_argument, NULL, 'f' },
    VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 },
  };
  const char *size = NULL, *name;
  char path[128], body[64], a[32], b[32];
  bool force = false;
  json_t *doc, *r;
  long st;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT "s:f", opts)) > 0) {
    if (c == 's')
      size = optarg;
    else if (c == 'f')
      force = true;
  }
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "volume NAME", true, &name)) >= 0)
    return rc;
  if (!size)
    return vctl_usage_error(g, "--size is required (SIZE sets it, +SIZE grows by it)");
  if ((rc = body_of(g, size, body, sizeof body)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/volumes/%s%s", name, force ? "?force=true" : "");
  st = vctl_request(g, "PATCH", path, body, &doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 200)
    return vctl_api_error(g, st, doc);
  if (g->json)
    return vctl_print_json(doc);
  r = json_object_get(doc, "resized");
  printf("resized %s: %s -> %s", name, vctl_size(r, "old_size_bytes", a, sizeof a),
         vctl_size(r, "new_size_bytes", b, sizeof b));
  if (vctl_u64(r, "cut_bytes"))
    printf(", cut %llu bytes", vctl_u64(r, "cut_bytes"));
  if (json_object_get(r, "cut_chunks"))
    printf(" holding %llu thin chunks", vctl_u64(r, "cut_chunks"));
  printf("\n");
  json_decref(doc);
  return VCTL_OK;
}

const struct vctl_cmd vctl_cmd_volume_resize = {
  "volume", "resize", run, "volume resize NAME -s|--size [+]SIZE [-f|--force]",
  "Grows a volume online, as lvresize does: SIZE is the new size, +SIZE\n"
  "what to add (vramd adds it, so two grows at once both count). Sizes are\n"
  "rounded up as at create (to whole stripe rows). A thick volume takes\n"
  "the new VRAM at once; a thin one only its new virtual size. The new size\n"
  "is saved. A kernel /dev/nbdN changes size in place, /dev/ublkbN where\n"
  "the kernel can (Linux 6.16 and later); NBD clients see it when they\n"
  "reconnect. Shrinking cuts the end of the volume and is refused unless\n"
  "--force; the answer says how many bytes were cut.\n\n"
  "  -s, --size [+]SIZE  new size, or +SIZE to grow by (K, M, G, T)\n"
  "  -f, --force         allow a shrink, cutting what lies past the new end",
  NULL, 0,
};
