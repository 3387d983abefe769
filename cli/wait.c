/* wait.c: following a job that a command started (drain, rebalance):
 * poll GET /v1/jobs/{id} until it ends, with a progress bar redrawn in
 * place when stderr is a terminal and nothing otherwise; Ctrl-C asks
 * vramd to cancel it and waits for it to stop at its safe point. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vramctl.h"

#define POLL_MS 200 /* five redraws a second: smooth, and cheap for vramd */
#define BAR_WIDTH 24

static volatile sig_atomic_t interrupts; /* Ctrl-C presses while waiting */

/* SIGINT while waiting: counted, acted on by the poll loop. */
static void on_sigint(int sig)
{
  (void)sig;
  interrupts++;
}

/* "42%" of done over total; "-" when there is no total yet. */
const char *vctl_job_percent(json_t *job, char *buf, size_t len)
{
  unsigned long long done = vctl_u64(job, "done_bytes"), total = vctl_u64(job, "total_bytes");
  if (!strcmp(vctl_str(job, "state", ""), "done"))
    snprintf(buf, len, "100%%");
  else if (!total)
    snprintf(buf, len, "-");
  else
    snprintf(buf, len, "%llu%%", (done >= total ? total : done) * 100 / total);
  return buf;
}

/* "1.2 GiB/s", or bytes per second as an integer when exact. */
const char *vctl_job_rate(json_t *job, bool exact, char *buf, size_t len)
{
  char s[32];
  if (exact)
    snprintf(buf, len, "%llu", vctl_u64(job, "rate_bytes_per_second"));
  else
    snprintf(buf, len, "%s/s", vctl_size(job, "rate_bytes_per_second", s, sizeof s));
  return buf;
}

/* "45s", "3m05s", "2h04m", or seconds when exact; "-" when unknown. */
const char *vctl_job_eta(json_t *job, bool exact, char *buf, size_t len)
{
  json_t *v = json_object_get(job, "eta_seconds");
  long long s = json_is_integer(v) ? json_integer_value(v) : -1;
  if (s < 0)
    snprintf(buf, len, "-");
  else if (exact)
    snprintf(buf, len, "%lld", s);
  else if (s >= 3600)
    snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  else if (s >= 60)
    snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
  else
    snprintf(buf, len, "%llds", s);
  return buf;
}

/* True when the job's state is one it never leaves. */
bool vctl_job_ended(json_t *job)
{
  const char *s = vctl_str(job, "state", "");
  return !strcmp(s, "done") || !strcmp(s, "failed") || !strcmp(s, "cancelled");
}

/* The bar, redrawn over the line it drew last. */
static void draw(unsigned long id, json_t *job, bool cancelling)
{
  unsigned long long done = vctl_u64(job, "done_bytes"), total = vctl_u64(job, "total_bytes");
  char bar[BAR_WIDTH + 1], pct[16], a[32], b[32], rate[48], eta[32];
  unsigned fill = total ? (unsigned)((done >= total ? total : done) * BAR_WIDTH / total) : 0;

  memset(bar, '#', fill);
  memset(bar + fill, '-', BAR_WIDTH - fill);
  bar[BAR_WIDTH] = '\0';
  fprintf(stderr, "\r\033[Kjob %lu [%s] %4s %s/%s %s ETA %s%s", id, bar,
          vctl_job_percent(job, pct, sizeof pct), vctl_size(job, "done_bytes", a, sizeof a),
          vctl_size(job, "total_bytes", b, sizeof b), vctl_job_rate(job, false, rate, sizeof rate),
          vctl_job_eta(job, false, eta, sizeof eta), cancelling ? " (cancelling)" : "");
  fflush(stderr);
}

/* Ask vramd to cancel the job; a 409 means it ended meanwhile, which
 * the next poll sees. */
static void send_cancel(struct vctl *g, unsigned long id)
{
  char path[64];
  json_t *doc;
  long st;

  snprintf(path, sizeof path, "/v1/jobs/%lu", id);
  st = vctl_request(g, "DELETE", path, NULL, &doc);
  if (st >= 0 && st != 202 && st != 409)
    vctl_api_error(g, st, json_incref(doc));
  json_decref(doc);
}

/* Sleep ms milliseconds; Ctrl-C cuts it short. */
static void nap(unsigned ms)
{
  struct timespec ts = { 0, (long)ms * 1000000L };
  nanosleep(&ts, NULL);
}

/* One poll: GET the job with a fresh deadline (--timeout bounds each
 * request; the wait itself has none).  -1 with *doc, else exit status. */
static int poll_job(struct vctl *g, unsigned long id, json_t **doc)
{
  char path[64];
  snprintf(path, sizeof path, "/v1/jobs/%lu", id);
  g->deadline_ms = (long long)(vd_now_ns() / 1000000) + g->timeout_ms;
  return vctl_get(g, path, doc);
}

/* Poll until the job ends; the loop of vctl_job_follow. */
static int follow(struct vctl *g, unsigned long id, bool tty, json_t **out)
{
  bool cancel_sent = false;
  json_t *doc;
  int rc;

  for (;;) {
    if ((rc = poll_job(g, id, &doc)) >= 0)
      return rc;
    if (vctl_job_ended(doc)) {
      *out = doc;
      return -1;
    }
    if (interrupts && !cancel_sent) {
      cancel_sent = true;
      send_cancel(g, id);
    }
    if (interrupts > 1) {
      json_decref(doc);
      if (tty)
        fputs("\r\033[K", stderr);
      fprintf(stderr, "vramctl: stopped waiting; job %lu is being cancelled (vramctl job "
              "show %lu)\n", id, id);
      return VCTL_FAILED;
    }
    if (tty)
      draw(id, doc, cancel_sent || json_is_true(json_object_get(doc, "cancel_requested")));
    json_decref(doc);
    nap(POLL_MS);
  }
}

/* Follow job id until it ends; -1 with *job, else the exit status. */
int vctl_job_follow(struct vctl *g, unsigned long id, json_t **job)
{
  struct sigaction sa = { .sa_handler = on_sigint }, old;
  bool tty = isatty(STDERR_FILENO);
  int rc;

  /* No SA_RESTART: Ctrl-C cuts the nap short, so the cancel goes at once. */
  sigemptyset(&sa.sa_mask);
  interrupts = 0;
  sigaction(SIGINT, &sa, &old);
  rc = follow(g, id, tty, job);
  sigaction(SIGINT, &old, NULL);
  if (tty && rc < 0)
    fputs("\r\033[K", stderr);
  return rc;
}

/* Wait for a job a command started: 0 done, 1 failed or cancelled. */
int vctl_job_wait(struct vctl *g, unsigned long id, bool no_wait)
{
  const char *state;
  json_t *job;
  char msg[1024];
  int rc;

  if (no_wait) {
    if (g->json)
      return vctl_print_json(json_pack("{s:I}", "id", (json_int_t)id));
    printf("%lu\n", id);
    return VCTL_OK;
  }
  if ((rc = vctl_job_follow(g, id, &job)) >= 0)
    return rc;
  state = vctl_str(job, "state", "?");
  rc = strcmp(state, "done") ? VCTL_FAILED : VCTL_OK;
  if (!strcmp(state, "failed"))
    fprintf(stderr, "vramctl: job %lu (%s %s) failed: %s\n", id, vctl_str(job, "kind", "?"),
            vctl_str(job, "target", "?"),
            vctl_cli_words(vctl_str(job, "error", "no reason given"), msg, sizeof msg));
  else if (rc)
    fprintf(stderr, "vramctl: job %lu (%s %s) was %s\n", id, vctl_str(job, "kind", "?"),
            vctl_str(job, "target", "?"), state);
  if (g->json)
    vctl_print_json(job);
  else
    json_decref(job);
  return rc;
}
