/* job-sleep.h: the test-only "sleep" job (job-sleep.c), started through
 * POST /v1/faults under VRAMD_FAULTS=1: it counts bytes over a span of
 * time as a drain counts the bytes it moves, so the job machinery, the
 * API and vramctl's progress and cancel can be tried before any real job
 * exists and without moving data. */
#ifndef VRAMD_JOB_SLEEP_H
#define VRAMD_JOB_SLEEP_H

#include <stddef.h>
#include <stdint.h>

#include "jobs.h"

#define VRAMD_SLEEP_MAX_SECONDS 3600
#define VRAMD_SLEEP_MAX_STEP_MS 10000

/* What a sleep job does. */
struct vramd_sleep_job {
  double seconds;        /* how long it runs, 0 to VRAMD_SLEEP_MAX_SECONDS */
  uint64_t bytes;        /* the total it counts up to, evenly over seconds */
  unsigned step_ms;      /* time between safe points (a cancel waits up to this) */
  char target[VRAMD_JOB_TARGET_MAX];
  char error[200];       /* non-empty: it ends failed with this message */
};

/* Start a sleep job; -EPERM unless VRAMD_FAULTS=1, else as
 * vramd_job_start. */
int vramd_job_sleep_start(struct vramd_jobs *t, const struct vramd_sleep_job *s, uint32_t *id,
                          char *err, size_t errlen);

#endif
