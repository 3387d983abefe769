/* job-sleep.c: the test-only "sleep" job: no data moves, but its counters
 * advance, its safe points come every step_ms and it can be cancelled or
 * made to fail, as a real job's would. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "job-sleep.h"
#include "util.h"

/* Sleep ms milliseconds (a signal may cut it short: the caller loops). */
static void sleep_ms(uint64_t ms)
{
  struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

/* The job: advance done to bytes × elapsed / seconds at each safe point. */
static int run(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  const struct vramd_sleep_job *s = arg;
  uint64_t start = vd_now_ns(), span = (uint64_t)(s->seconds * 1e9), done = 0;

  for (;;) {
    uint64_t el = vd_now_ns() - start;
    uint64_t now = el >= span ? s->bytes : (uint64_t)((double)s->bytes * (double)el / (double)span);
    if (now > done) {
      vramd_job_advance(job, now - done);
      done = now;
    }
    if (el >= span)
      break;
    if (vramd_job_cancelled(job))
      return -ECANCELED;
    uint64_t left_ms = (span - el + 999999) / 1000000;
    sleep_ms(left_ms < s->step_ms ? left_ms : s->step_ms);
  }
  if (s->error[0]) {
    snprintf(err, errlen, "%s", s->error);
    return -EIO;
  }
  return 0;
}

/* Start one, under VRAMD_FAULTS=1 only. */
int vramd_job_sleep_start(struct vramd_jobs *t, const struct vramd_sleep_job *s, uint32_t *id,
                          char *err, size_t errlen)
{
  struct vramd_job_desc d = { .kind = "sleep", .target = s->target, .run = run,
                              .drop = free, .total_bytes = s->bytes };
  struct vramd_sleep_job *copy;

  if (!vd_faults_enabled()) {
    snprintf(err, errlen, "the sleep job is a test hook: it exists only under VRAMD_FAULTS=1");
    return -EPERM;
  }
  if (!(copy = malloc(sizeof *copy))) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  *copy = *s;
  if (!copy->step_ms)
    copy->step_ms = 1;
  d.arg = copy;
  return vramd_job_start(t, &d, id, err, errlen);
}
