/* jobs.h: long operations (drain, rebalance, later scrub, save, load,
 * large creates) as jobs (jobs.c).  Each runs on a thread of its own,
 * counts its progress in bytes, polls its cancel flag at safe points and
 * ends done, failed or cancelled.  Jobs live in memory only: a restart
 * forgets them (docs/api.md, "Jobs"). */
#ifndef VRAMD_JOBS_H
#define VRAMD_JOBS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define VRAMD_JOBS_RUNNING 4   /* jobs running at once; more wait queued */
#define VRAMD_JOBS_QUEUED 16   /* jobs waiting to run; past that a new one is refused */
#define VRAMD_JOBS_KEPT 64     /* finished jobs remembered; older ones are forgotten */
#define VRAMD_JOB_STACK (256u << 10) /* a job thread's stack (vramd runs under mlockall) */
#define VRAMD_JOB_KIND_MAX 16
#define VRAMD_JOB_TARGET_MAX 64
#define VRAMD_JOB_ERROR_MAX 256

enum vramd_job_state {
  VRAMD_JOB_QUEUED,
  VRAMD_JOB_RUNNING,
  VRAMD_JOB_DONE,
  VRAMD_JOB_FAILED,
  VRAMD_JOB_CANCELLED,
};

struct vramd_job;

/* A job's work, on the job's own thread: call vramd_job_total() and
 * vramd_job_advance() as it goes, and stop at a safe point once
 * vramd_job_cancelled() says so.  Returns 0 (done) or -errno with err
 * filled (failed; -ECANCELED, or any error once a cancel was asked,
 * ends it cancelled). */
typedef int vramd_job_fn(struct vramd_job *job, void *arg, char *err, size_t errlen);

/* What to run: kind ("drain") and target (a device or volume name) are
 * copied; drop (may be NULL) frees arg once the job is over, run or not. */
struct vramd_job_desc {
  const char *kind, *target;
  vramd_job_fn *run;
  void *arg;
  void (*drop)(void *arg);
  uint64_t total_bytes; /* 0 when not known yet: vramd_job_total() later */
};

/* The table of jobs; one per daemon (struct vramd's jobs). */
struct vramd_jobs {
  pthread_mutex_t lock;
  struct vramd_job *head, *tail; /* every job, oldest first */
  uint32_t next_id;              /* never reused while vramd runs */
  unsigned running, queued, finished;
  bool stopping;                 /* vramd_jobs_stop: no new job, none started */
};

/* A job as it was when asked, with its rate and ETA worked out. */
struct vramd_job_info {
  uint32_t id;
  char kind[VRAMD_JOB_KIND_MAX], target[VRAMD_JOB_TARGET_MAX];
  enum vramd_job_state state;
  bool cancel_requested;
  uint64_t done_bytes, total_bytes;
  time_t created, started, finished; /* wall clock; 0: not yet */
  double rate;                       /* bytes per second over its running life */
  double eta;                        /* seconds left; < 0: unknown */
  char error[VRAMD_JOB_ERROR_MAX];   /* why it failed; "" otherwise */
};

/* An empty table. */
void vramd_jobs_init(struct vramd_jobs *t);
/* Refuse new jobs, cancel queued and running ones and join every job
 * thread (each stops at its next safe point), then forget them all.
 * Before the volumes the jobs work on are freed. */
void vramd_jobs_stop(struct vramd_jobs *t);

/* Start a job (queued when VRAMD_JOBS_RUNNING already run); *id gets its
 * id.  -EAGAIN when VRAMD_JOBS_QUEUED wait already, -ESHUTDOWN while
 * stopping, -ENOMEM, or the error starting its thread; err says what to
 * do.  On failure desc->drop has freed arg. */
int vramd_job_start(struct vramd_jobs *t, const struct vramd_job_desc *desc, uint32_t *id,
                    char *err, size_t errlen);

/* From the job's own code: the bytes it has to move, once known. */
void vramd_job_total(struct vramd_job *job, uint64_t bytes);
/* From the job's own code: bytes more are done. */
void vramd_job_advance(struct vramd_job *job, uint64_t bytes);
/* From the job's own code: true once a cancel was asked (or vramd
 * stops); poll it at each safe point. */
bool vramd_job_cancelled(const struct vramd_job *job);

/* Every job the table remembers, oldest first, into a malloc'd array
 * (free it); the count, or -ENOMEM. */
int vramd_jobs_list(struct vramd_jobs *t, struct vramd_job_info **out);
/* One job by id: 0, or -ENOENT (never known, or forgotten). */
int vramd_job_get(struct vramd_jobs *t, uint32_t id, struct vramd_job_info *out);
/* Ask job id to stop at its next safe point; a queued job is cancelled at
 * once.  0 with *out as it is now, -ENOENT, or -EALREADY when it has
 * already ended (*out says how). */
int vramd_job_cancel(struct vramd_jobs *t, uint32_t id, struct vramd_job_info *out);

/* "queued", "running", "done", "failed", "cancelled". */
const char *vramd_job_state_name(enum vramd_job_state s);
/* Bytes per second for done bytes over elapsed_ns (0 before any time). */
double vramd_job_rate(uint64_t done, uint64_t elapsed_ns);
/* Seconds until total at rate; -1 when unknown (no total, no rate yet). */
double vramd_job_eta(uint64_t done, uint64_t total, double rate);

#endif
