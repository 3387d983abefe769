/* job.c: vramctl job list, show, wait and cancel: the long operations
 * vramd runs (drain, rebalance), their progress, and stopping one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vramctl.h"

static const struct vctl_col cols[] = {
  { "ID", "id", VCTL_COL_COUNT, true, "the job's number" },
  { "KIND", "kind", VCTL_COL_TEXT, true, "what it does: drain, rebalance, ..." },
  { "TARGET", "target", VCTL_COL_TEXT, true, "the device or volume it works on" },
  { "STATE", "state", VCTL_COL_TEXT, true, "queued, running, done, failed, cancelled" },
  { "PROGRESS", "progress", VCTL_COL_TEXT, true, "share of the bytes done" },
  { "DONE", "done_bytes", VCTL_COL_BYTES, false, "bytes done" },
  { "TOTAL", "total_bytes", VCTL_COL_BYTES, true, "bytes it has to do" },
  { "RATE", "rate", VCTL_COL_TEXT, true, "bytes per second over its life" },
  { "ETA", "eta", VCTL_COL_TEXT, true, "time left at that rate" },
  { "STARTED", "started_at", VCTL_COL_TEXT, false, "when it started (-p: epoch seconds)" },
  { "ERROR", "error", VCTL_COL_TEXT, false, "why it failed" },
};

/* A time member as local "YYYY-MM-DD HH:MM:SS", or epoch seconds when
 * exact; "-" when it has not come. */
static const char *when(json_t *job, const char *key, bool exact, char *buf, size_t len)
{
  json_t *v = json_object_get(job, key);
  time_t t = json_is_integer(v) ? (time_t)json_integer_value(v) : 0;
  struct tm tm;

  if (!t)
    snprintf(buf, len, "-");
  else if (exact)
    snprintf(buf, len, "%lld", (long long)t);
  else if (!localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
    snprintf(buf, len, "?");
  return buf;
}

/* The columns worked out from the API's numbers, added to a row. */
static void decorate(json_t *job, bool exact)
{
  char buf[64];
  json_object_set_new(job, "progress", json_string(vctl_job_percent(job, buf, sizeof buf)));
  json_object_set_new(job, "rate", json_string(vctl_job_rate(job, exact, buf, sizeof buf)));
  json_object_set_new(job, "eta", json_string(vctl_job_eta(job, exact, buf, sizeof buf)));
  json_object_set_new(job, "started_at", json_string(when(job, "started", exact, buf, sizeof buf)));
}

/* vramctl job list [-H] [-p] [-o COLUMNS]. */
static int list(struct vctl *g, int argc, char **argv)
{
  return vctl_list_rows(g, argc, argv, "/v1/jobs", "jobs", decorate);
}

/* The ID argument: a whole number, as vramd numbers jobs. */
static int job_id(struct vctl *g, int argc, char **argv, unsigned long *id)
{
  const char *a;
  char *end;
  int rc;

  if ((rc = vctl_one_arg(g, argc, argv, "job ID", false, &a)) >= 0)
    return rc;
  *id = strtoul(a, &end, 10);
  if (*a < '1' || *a > '9' || *end || *id > 4294967295ul)
    return vctl_usage_error(g, "'%.40s' is not a job ID: a whole number from 1 "
                            "('vramctl job list' shows them)", a);
  return -1;
}

/* The job's fields. */
static void show(json_t *j)
{
  char a[32], b[32], c[64];
  json_t *err = json_object_get(j, "error");

  printf("%-10s%llu\n", "id:", vctl_u64(j, "id"));
  printf("%-10s%s\n", "kind:", vctl_str(j, "kind", "?"));
  printf("%-10s%s\n", "target:", vctl_str(j, "target", "?"));
  printf("%-10s%s%s\n", "state:", vctl_str(j, "state", "?"),
         json_is_true(json_object_get(j, "cancel_requested")) && !vctl_job_ended(j)
           ? " (cancel requested: it stops at its next safe point)" : "");
  printf("%-10s%s (%s of %s; %llu of %llu bytes)\n", "progress:",
         vctl_job_percent(j, c, sizeof c), vctl_size(j, "done_bytes", a, sizeof a),
         vctl_size(j, "total_bytes", b, sizeof b), vctl_u64(j, "done_bytes"),
         vctl_u64(j, "total_bytes"));
  printf("%-10s%s\n", "rate:", vctl_job_rate(j, false, c, sizeof c));
  printf("%-10s%s\n", "eta:", vctl_job_eta(j, false, c, sizeof c));
  printf("%-10s%s\n", "created:", when(j, "created", false, c, sizeof c));
  printf("%-10s%s\n", "started:", when(j, "started", false, c, sizeof c));
  printf("%-10s%s\n", "finished:", when(j, "finished", false, c, sizeof c));
  printf("%-10s%s\n", "error:", vctl_text(err, "-"));
}

/* vramctl job show ID. */
static int show_cmd(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  unsigned long id;
  char path[64];
  int rc;

  if (vctl_getopt(g, argc, argv, VCTL_SHORT, opts) == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = job_id(g, argc, argv, &id)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/jobs/%lu", id);
  return vctl_show(g, path, show);
}

/* vramctl job wait ID. */
static int wait_cmd(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  unsigned long id;
  int rc;

  if (vctl_getopt(g, argc, argv, VCTL_SHORT, opts) == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = job_id(g, argc, argv, &id)) >= 0)
    return rc;
  return vctl_job_wait(g, id, false);
}

/* How a cancel we waited for came out: cancelled is what was asked. */
static int cancelled(struct vctl *g, unsigned long id, json_t *job)
{
  const char *state = vctl_str(job, "state", "?");
  int rc = VCTL_OK;

  if (!strcmp(state, "failed")) {
    fprintf(stderr, "vramctl: job %lu failed before it was cancelled: %s\n", id,
            vctl_str(job, "error", "no reason given"));
    rc = VCTL_FAILED;
  } else if (strcmp(state, "cancelled")) {
    fprintf(stderr, "vramctl: job %lu ended %s before it reached a safe point\n", id, state);
    rc = VCTL_FAILED;
  } else if (!g->json) {
    printf("cancelled job %lu\n", id);
  }
  if (g->json)
    vctl_print_json(job);
  else
    json_decref(job);
  return rc;
}

/* vramctl job cancel ID [--no-wait]. */
static int cancel_cmd(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_NO_WAIT_OPT, VCTL_COMMON_OPTS,
                                        { NULL, 0, NULL, 0 } };
  bool no_wait = false;
  unsigned long id;
  char path[64];
  json_t *doc;
  long st;
  int c, rc;

  while ((c = vctl_getopt(g, argc, argv, VCTL_SHORT, opts)) > 0)
    no_wait = true;
  if (c == VCTL_OPTS_EXIT)
    return g->rc;
  if ((rc = job_id(g, argc, argv, &id)) >= 0)
    return rc;
  snprintf(path, sizeof path, "/v1/jobs/%lu", id);
  st = vctl_request(g, "DELETE", path, NULL, &doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 202)
    return vctl_api_error(g, st, doc);
  if (no_wait) {
    if (g->json)
      return vctl_print_json(doc);
    json_decref(doc);
    printf("cancelling job %lu: it stops at its next safe point ('vramctl job show %lu')\n",
           id, id);
    return VCTL_OK;
  }
  json_decref(doc);
  if ((rc = vctl_job_follow(g, id, &doc)) >= 0)
    return rc;
  return cancelled(g, id, doc);
}

const struct vctl_cmd vctl_cmd_job_list = {
  "job", "list", list, "job list [-H] [-p] [-o COLUMNS]",
  "Lists the jobs vramd remembers: long operations (drain, rebalance) that\n"
  "run, wait to run, or ended among the last 64. Jobs do not survive a\n"
  "restart of vramd.",
  cols, sizeof cols / sizeof cols[0],
};

const struct vctl_cmd vctl_cmd_job_show = {
  "job", "show", show_cmd, "job show ID",
  "Shows one job: what it does and to what, its state, progress, rate,\n"
  "time left, when it started and ended, and why it failed.",
  NULL, 0,
};

const struct vctl_cmd vctl_cmd_job_wait = {
  "job", "wait", wait_cmd, "job wait ID",
  "Waits for a job to end, with a progress bar when stderr is a terminal.\n"
  "Exit status 0 when it is done, 1 when it failed or was cancelled (the\n"
  "reason on stderr). Ctrl-C cancels the job and waits for it to stop at\n"
  "its safe point; a second Ctrl-C stops waiting.",
  NULL, 0,
};

const struct vctl_cmd vctl_cmd_job_cancel = {
  "job", "cancel", cancel_cmd, "job cancel ID [--no-wait]",
  "Cancels a job: it stops at its next safe point (a drain after the\n"
  "extent it is moving), leaving everything consistent. Waits until it has\n"
  "stopped, with a progress bar on a terminal; --no-wait returns at once.\n"
  "Exit status 1 when it had already ended or ended otherwise.",
  NULL, 0,
};
