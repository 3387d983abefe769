/* start-job.c: what every verb that starts a job shares: POST, expect 202
 * with the job, then wait for it with a progress bar, or print its id. */
#include <stdio.h>

#include "vramctl.h"

/* POST path (no body); on 202 wait for the job (or not, with no_wait). */
int vctl_start_job(struct vctl *g, const char *path, bool no_wait)
{
  return vctl_start_job_body(g, path, NULL, no_wait);
}

/* The same with a body (may be NULL). */
int vctl_start_job_body(struct vctl *g, const char *path, const char *body, bool no_wait)
{
  json_t *doc = NULL;
  long st = vctl_request(g, "POST", path, body, &doc);
  unsigned long id;

  if (st < 0)
    return VCTL_FAILED;
  if (st != 202)
    return vctl_api_error(g, st, doc);
  id = (unsigned long)vctl_u64(doc, "id");
  json_decref(doc);
  return vctl_job_wait(g, id, no_wait);
}

/* Parse [--no-wait] and the one argument, then start the job. */
int vctl_job_verb(struct vctl *g, int argc, char **argv, const char *what, bool volume,
                  const char *path_fmt)
{
  static const struct option opts[] = { VCTL_NO_WAIT_OPT, VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  bool no_wait = false;
  const char *arg;
  char path[256];
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0)
    no_wait |= c == VCTL_OPT_NO_WAIT;
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = vctl_one_arg(g, argc, argv, what, volume, &arg)) >= 0)
    return rc;
  snprintf(path, sizeof path, path_fmt, arg);
  return vctl_start_job(g, path, no_wait);
}
