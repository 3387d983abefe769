/* volume-create.c: vramctl volume create. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "vramctl.h"

/* Set a spec field from an option's text by the spec codec's table: -1,
 * or the usage error naming the option. */
static int set_opt(struct vctl *g, struct vd_volume_spec *s, const char *key, const char *opt,
                   const char *v)
{
  char err[256];
  if (!vd_spec_set_text(s, key, v, err, sizeof err))
    return -1;
  return vctl_usage_error(g, "%s: %s", opt, err);
}

/* "all" or "gpu0,gpu1" into the spec (the text form lists ids with '+'). */
static int set_devices(struct vctl *g, struct vd_volume_spec *s, const char *opt,
                       const char *list)
{
  char ids[1024];
  if (strlen(list) >= sizeof ids)
    return vctl_usage_error(g, "%s: device list is too long", opt);
  strcpy(ids, list);
  for (char *p = strchr(ids, ','); p; p = strchr(p + 1, ','))
    *p = '+';
  return set_opt(g, s, "devices", opt, ids);
}

/* Say why it did not fit and what is free where. */
static int no_room(struct vctl *g, long st, json_t *doc)
{
  json_t *devs = json_object_get(json_object_get(doc, "error"), "devices"), *d;
  size_t i;
  if (!g->json && json_array_size(devs)) {
    fprintf(stderr, "vramctl: available now:");
    json_array_foreach(devs, i, d) {
      char b[32];
      fprintf(stderr, "%s %s %s", i ? "," : "", vctl_str(d, "id", "?"),
              vctl_size(d, "available_bytes", b, sizeof b));
    }
    fprintf(stderr, "\n");
  }
  json_incref(doc);
  vctl_api_error(g, st, doc);
  json_decref(doc);
  return VCTL_FAILED;
}

#define LARGE_CREATE (1ull << 30) /* thick creates from here on run as jobs */

/* After a load: what was made and where it is. */
static int created_from(struct vctl *g, const char *name, const char *image)
{
  char path[128], a[32];
  json_t *doc;
  int rc;

  snprintf(path, sizeof path, "/v1/volumes/%s", name);
  if ((rc = vctl_get(g, path, &doc)) >= 0)
    return rc;
  if (g->json)
    return vctl_print_json(doc);
  printf("created %s: %s from %s\n%s\n", name, vctl_size(doc, "size_bytes", a, sizeof a), image,
         vctl_volume_where(doc));
  json_decref(doc);
  return VCTL_OK;
}

/* vramctl volume create. */
static int run(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = {
    { "size", required_argument, NULL, 's' }, { "stripe", required_argument, NULL, 'S' },
    { "concat", required_argument, NULL, 'C' }, { "stripe-unit", required_argument, NULL, 'u' },
    { "frontend", required_argument, NULL, 'f' }, { "attach", no_argument, NULL, 'a' },
    { "thin", no_argument, NULL, 't' }, { "index", required_argument, NULL, 'i' },
    { "from", required_argument, NULL, 'F' }, VCTL_NO_WAIT_OPT,
    { "mirror", required_argument, NULL, 'M' }, { "copies", required_argument, NULL, 'c' },
    { "persist", required_argument, NULL, 'P' },
    { "integrity", required_argument, NULL, 'I' },
    VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 },
  };
  const char *size = NULL, *devs = "all", *layout = "stripe", *unit = NULL, *fe = NULL;
  const char *index = NULL, *from = NULL, *persist = NULL, *integrity = NULL, *copies = NULL;
  const char *dev_opt = "--stripe";
  bool attach = false, have_layout = false, thin = false, no_wait = false, large;
  char image[4096], keep[4096];
  struct vd_volume_spec spec;
  char err[256], a[32], b[32];
  json_t *body, *doc;
  long st;
  const char *name;
  char *text;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0) {
    switch (c) {
    case 's': size = optarg; break;
    case 'S':
    case 'C':
    case 'M':
      if (have_layout)
        return vctl_usage_error(g, "give one --stripe, --concat or --mirror");
      have_layout = true;
      layout = c == 'S' ? "stripe" : c == 'C' ? "concat" : "mirror";
      dev_opt = c == 'S' ? "--stripe" : c == 'C' ? "--concat" : "--mirror";
      devs = optarg;
      break;
    case 'c': copies = optarg; break;
    case 'u': unit = optarg; break;
    case 'f': fe = optarg; break;
    case 'a': attach = true; break;
    case 't': thin = true; break;
    case 'i': index = optarg; break;
    case 'F': from = optarg; break;
    case 'P': persist = optarg; break;
    case 'I': integrity = optarg; break;
    case VCTL_OPT_NO_WAIT: no_wait = true; break;
    }
  }
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, "volume NAME", true, &name)) >= 0)
    return rc;
  if (!size && !from)
    return vctl_usage_error(g, "--size is required (or --from, which takes the image's)");
  if ((from && !vctl_image_path(from, image, sizeof image)) ||
      (persist && !vctl_image_path(persist, keep, sizeof keep)))
    return VCTL_USAGE;
  vd_spec_init(&spec);
  spec.attach = attach;
  spec.provisioning = thin ? VD_PROV_THIN : VD_PROV_THICK;
  if ((rc = set_opt(g, &spec, "name", "NAME", name)) >= 0 ||
      (rc = set_opt(g, &spec, "size", "--size", size ? size : "4K")) >= 0 ||
      (rc = set_opt(g, &spec, "layout", dev_opt, layout)) >= 0 ||
      (unit && (rc = set_opt(g, &spec, "unit", "--stripe-unit", unit)) >= 0) ||
      (copies && (rc = set_opt(g, &spec, "copies", "--copies", copies)) >= 0) ||
      (fe && (rc = set_opt(g, &spec, "frontend", "--frontend", fe)) >= 0) ||
      (index && (rc = set_opt(g, &spec, "index", "--index", index)) >= 0) ||
      (persist && (rc = set_opt(g, &spec, "persist", "--persist", keep)) >= 0) ||
      (integrity && (rc = set_opt(g, &spec, "integrity", "--integrity", integrity)) >= 0) ||
      (rc = set_devices(g, &spec, dev_opt, devs)) >= 0)
    return rc;
  if (vd_spec_check_text(&spec, err, sizeof err) ||
      vd_spec_check_exposure(&spec, err, sizeof err))
    return vctl_usage_error(g, "%s", err);

  body = vd_spec_to_json(&spec, VD_SPEC_BODY);
  if (body && from) {
    json_object_set_new(body, "from", json_string(image));
    if (!size)
      json_object_del(body, "size"); /* the image's */
  }
  text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) {
    fprintf(stderr, "vramctl: out of memory\n");
    return VCTL_FAILED;
  }
  if (from) {
    rc = vctl_start_job_body(g, "/v1/volumes", text, no_wait);
    free(text);
    return rc || no_wait ? rc : created_from(g, name, image);
  }
  /* Making and zeroing a large volume takes seconds: a job, with a
   * progress bar, which Ctrl-C cancels leaving nothing behind. */
  large = spec.size_free_pct || (!thin && spec.size >= LARGE_CREATE);
  st = vctl_request(g, "POST", large ? "/v1/volumes?job=true" : "/v1/volumes", text, &doc);
  free(text);
  if (st < 0)
    return VCTL_FAILED;
  if (st == 507)
    return no_room(g, st, doc);
  if (large && st == 202) {
    unsigned long job = (unsigned long)vctl_u64(doc, "id");
    char path[128];
    json_decref(doc);
    bool json = g->json;
    if (no_wait)
      return vctl_job_wait(g, job, true);
    g->json = false; /* the volume is printed, not the job */
    rc = vctl_job_wait(g, job, false);
    g->json = json;
    if (rc != VCTL_OK)
      return rc;
    snprintf(path, sizeof path, "/v1/volumes/%s", name);
    if ((rc = vctl_get(g, path, &doc)) >= 0)
      return rc;
    st = 201;
  }
  if (st != 201)
    return vctl_api_error(g, st, doc);
  if (g->json)
    return vctl_print_json(doc);
  printf("created %s: %s%s%s, %s over %zu device%s", vctl_str(doc, "name", "?"),
         vctl_size(doc, "size_bytes", a, sizeof a), thin ? " thin" : "",
         !integrity || !strcmp(integrity, "none") ? "" :
         !strcmp(integrity, "crc32c") ? ", checksummed" : ", checksummed with parity",
         vctl_str(doc, "layout", "?"),
         json_array_size(json_object_get(doc, "devices")),
         json_array_size(json_object_get(doc, "devices")) == 1 ? "" : "s");
  if (vctl_u64(doc, "size_bytes") != spec.size)
    printf(" (%s asked, rounded up to whole stripe rows)",
           vd_format_size(spec.size, b, sizeof b));
  printf("\n%s\n", vctl_volume_where(doc));
  json_decref(doc);
  return VCTL_OK;
}

const struct vctl_cmd vctl_cmd_volume_create = {
  "volume", "create", run,
  "volume create NAME --size SIZE [--stripe all|ID,..|--concat all|ID,..|\n"
  "               --mirror all|ID,.. [--copies N]] [--stripe-unit SIZE]\n"
  "               [--frontend nbd|ublk|none] [--attach]\n"
  "               [--index N] [--thin] [--from FILE] [--persist FILE] [--no-wait]\n"
  "               [--integrity none|crc32c|crc32c+parity]",
  "Makes a volume of SIZE (K, M, G, T; base 2), striped over every device\n"
  "unless told otherwise, and prints where it is: the device path, or the\n"
  "NBD URI. Contents live in VRAM and are lost when vramd stops.\n\n"
  "  --size SIZE         the volume's size, rounded up to whole stripe rows\n"
  "  --stripe all|ID,..  stripe over these devices (default: all)\n"
  "  --concat all|ID,..  fill these devices in order instead\n"
  "  --mirror all|ID,..  keep --copies copies of every byte, each set of that\n"
  "                      many consecutive devices holding one each, striped\n"
  "                      over the sets: writes go to every copy, reads to\n"
  "                      one, and the volume serves on when a device is lost\n"
  "                      ('vramctl volume repair' rebuilds the copy)\n"
  "  --copies N          copies of each byte of a mirror (default 2)\n"
  "  --stripe-unit SIZE  a power of two from 4K to 1M (default 1M)\n"
  "  --frontend nbd|ublk|none\n"
  "                      how it is exposed (default nbd); none: not yet\n"
  "                      ('vramctl volume attach' exposes it later)\n"
  "  --no-wait           a large volume (1G or more, or a share of free VRAM)\n"
  "                      and a load (--from) are made as a job with a progress\n"
  "                      bar, which Ctrl-C cancels leaving nothing behind:\n"
  "                      print its id and return at once instead\n"
  "  --attach            also attach an NBD volume to a kernel /dev/nbdN\n"
  "  --index N           /dev/ublkbN, or /dev/nbdN with --attach (default:\n"
  "                      the kernel's first free one)\n"
  "  --thin              take VRAM as ranges are first written, in chunks, and\n"
  "                      give it back when they are discarded; SIZE may be up\n"
  "                      to 16 times what the devices hold (over-commit)\n"
  "  --from FILE         load the raw image FILE (see 'volume save') as a job;\n"
  "                      SIZE defaults to the image's. The volume is exposed\n"
  "                      once the whole image is in, and deleted if the load\n"
  "                      fails or is cancelled\n"
  "  --persist FILE      save the volume to FILE when vramd stops cleanly and\n"
  "                      load it from there at start, before it is exposed\n"
  "                      (FILE.sum vouches for it; root only)\n"
  "  --integrity crc32c  keep a CRC-32C of every 4 KiB block in VRAM (0.1%\n"
  "                      more), computed and verified by the GPU: a read of a\n"
  "                      block whose bits changed fails with EIO instead of\n"
  "                      returning them (thick volumes; see 'volume scrub')\n"
  "  --integrity crc32c+parity\n"
  "                      also an XOR parity block per 32 blocks (3.1% more):\n"
  "                      a read or scrub rebuilds one bad block per group from\n"
  "                      it and returns good data; writes cost more",
  NULL, 0,
};
