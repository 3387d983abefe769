/* image-path.c: what save and restore share: the image's path made
 * absolute (vramd has no idea of vramctl's current directory), and the
 * request that starts their job. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vramctl.h"

/* arg as an absolute path in out. */
const char *vctl_image_path(const char *arg, char *out, size_t len)
{
  char cwd[4096];

  if (arg[0] == '/') {
    if ((size_t)snprintf(out, len, "%s", arg) < len)
      return out;
  } else if (getcwd(cwd, sizeof cwd) &&
             (size_t)snprintf(out, len, "%s/%s", strcmp(cwd, "/") ? cwd : "", arg) < len) {
    return out;
  }
  fprintf(stderr, "vramctl: %s: the path is too long (or the current directory is gone)\n",
          arg);
  return NULL;
}

/* vramctl volume save|restore NAME FILE [--no-wait] [--force]. */
int vctl_image_job(struct vctl *g, int argc, char **argv, const char *verb, bool can_force)
{
  static const struct option opts[] = {
    VCTL_NO_WAIT_OPT, { "force", no_argument, NULL, 'f' }, VCTL_COMMON_OPTS,
    { NULL, 0, NULL, 0 },
  };
  bool no_wait = false, force = false;
  char path[4096], url[160], msg[200];
  json_t *body;
  char *text;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, can_force ? VCTL_SHORT "f" : VCTL_SHORT, opts)) > 0) {
    if (c == 'f' && !can_force)
      return vctl_usage_error(g, "--force is for restore");
    no_wait |= c == VCTL_OPT_NO_WAIT;
    force |= c == 'f';
  }
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if (argc - optind != 2)
    return vctl_usage_error(g, "give the volume's NAME and the image FILE");
  if (!vd_name_valid(argv[optind], msg, sizeof msg))
    return vctl_usage_error(g, "'%s' is not a volume name: %s", argv[optind], msg);
  if (!vctl_image_path(argv[optind + 1], path, sizeof path))
    return VCTL_USAGE;
  snprintf(url, sizeof url, "/v1/volumes/%s/%s%s", argv[optind], verb,
           force ? "?force=true" : "");
  body = json_pack("{s:s}", "path", path);
  text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) {
    fprintf(stderr, "vramctl: out of memory\n");
    return VCTL_FAILED;
  }
  rc = vctl_start_job_body(g, url, text, no_wait);
  free(text);
  return rc;
}
