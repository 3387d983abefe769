/* test_jobs.c: daemon/jobs.c: progress seen while a job runs, a cancel
 * that waits for the job's next safe point, failures with their message,
 * the bounds on running, queued and remembered jobs, ids never reused,
 * the rate and ETA arithmetic, and a stop that cancels and joins a job
 * still running.  The jobs are real threads; what they do is driven step
 * by step from the test through a gate. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getname_np */
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../daemon/jobs.c"
#include "runner.h"

/* A job driven by the test: it takes one step (100 bytes) each time the
 * test allows one, and checks for a cancel only between steps; hold
 * keeps it in the middle of a step. */
struct gate {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  unsigned allowed, taken; /* steps the test allowed, steps the job took */
  unsigned steps;          /* steps to the end */
  bool hold;               /* the test holds the job mid-step */
  bool in_step;            /* the job is inside a step: not a safe point */
  bool returned;
  char name[16];           /* its thread's name */
  int rc;                  /* what it returns at the end */
  uint64_t born;           /* a job that never sees its cancel gives up 10 s on */
};

static atomic_int dropped; /* args dropped */

/* Count a drop; the gates live in the tests. */
static void drop_gate(void *arg)
{
  (void)arg;
  atomic_fetch_add(&dropped, 1);
}

/* The gated job: set the total, then step while allowed; stop at the
 * safe point between steps once cancelled. */
static int gated(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct gate *g = arg;
  int rc = g->rc;

  pthread_getname_np(pthread_self(), g->name, sizeof g->name);
  vramd_job_total(job, 100ull * g->steps);
  pthread_mutex_lock(&g->lock);
  while (g->taken < g->steps) {
    if (vramd_job_cancelled(job)) { /* the safe point */
      rc = -ECANCELED;
      break;
    }
    if (vd_now_ns() - g->born > 10000000000ull)
      break; /* the tests then fail rather than hang */
    if (g->allowed == g->taken) {
      /* Between steps a job polls its cancel flag, as a real one would. */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 2000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&g->cond, &g->lock, &ts);
      continue;
    }
    g->in_step = true;
    vramd_job_advance(job, 60); /* part of a step: a cancel must not cut it short */
    pthread_cond_broadcast(&g->cond);
    while (g->hold)
      pthread_cond_wait(&g->cond, &g->lock);
    vramd_job_advance(job, 40);
    g->in_step = false;
    g->taken++;
    pthread_cond_broadcast(&g->cond);
  }
  g->returned = true;
  pthread_mutex_unlock(&g->lock);
  if (rc == -EIO)
    snprintf(err, errlen, "device gpu9 lost mid-move");
  return rc;
}

/* A gate for a job of steps steps. */
static void gate_init(struct gate *g, unsigned steps)
{
  memset(g, 0, sizeof *g);
  pthread_mutex_init(&g->lock, NULL);
  pthread_cond_init(&g->cond, NULL);
  g->steps = steps;
  g->born = vd_now_ns();
}

/* Let the job take n more steps, and wait until it has taken them. */
static void gate_steps(struct gate *g, unsigned n)
{
  pthread_mutex_lock(&g->lock);
  g->allowed += n;
  pthread_cond_broadcast(&g->cond);
  while (g->taken < g->allowed)
    pthread_cond_wait(&g->cond, &g->lock);
  pthread_mutex_unlock(&g->lock);
}

/* Start a gated job; its id. */
static uint32_t start_gated(struct vramd_jobs *t, struct gate *g)
{
  struct vramd_job_desc d = { .kind = "drain", .target = "gpu1", .run = gated, .arg = g,
                              .drop = drop_gate };
  char err[256] = "";
  uint32_t id = 0;
  CU_ASSERT_EQUAL_FATAL(vramd_job_start(t, &d, &id, err, sizeof err), 0);
  return id;
}

/* Wait (5 s at most) until job id is in state s; its info. */
static struct vramd_job_info wait_state(struct vramd_jobs *t, uint32_t id, enum vramd_job_state s)
{
  struct vramd_job_info j = { 0 };
  for (int i = 0; i < 5000; i++) {
    if (vramd_job_get(t, id, &j) == 0 && j.state == s)
      return j;
    nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
  }
  CU_FAIL("job did not reach the state in 5 s");
  return j;
}

/* Progress shows while it runs; done at the end with ETA 0; its thread
 * is named job-N. */
static void test_progress(void)
{
  struct vramd_jobs t;
  struct vramd_job_info j;
  struct gate g;
  uint32_t id;

  vramd_jobs_init(&t);
  gate_init(&g, 4);
  id = start_gated(&t, &g);
  CU_ASSERT_EQUAL(id, 1);
  j = wait_state(&t, id, VRAMD_JOB_RUNNING);
  gate_steps(&g, 1);
  CU_ASSERT_EQUAL(vramd_job_get(&t, id, &j), 0);
  CU_ASSERT_EQUAL(j.done_bytes, 100);
  CU_ASSERT_EQUAL(j.total_bytes, 400);
  CU_ASSERT_STRING_EQUAL(j.kind, "drain");
  CU_ASSERT_STRING_EQUAL(j.target, "gpu1");
  CU_ASSERT(j.started != 0 && j.finished == 0);
  CU_ASSERT(j.rate > 0 && j.eta >= 0);
  gate_steps(&g, 2);
  CU_ASSERT_EQUAL(vramd_job_get(&t, id, &j), 0);
  CU_ASSERT_EQUAL(j.done_bytes, 300);
  gate_steps(&g, 1);
  j = wait_state(&t, id, VRAMD_JOB_DONE);
  CU_ASSERT_EQUAL(j.done_bytes, 400);
  CU_ASSERT_EQUAL(j.eta, 0);
  CU_ASSERT(j.finished != 0 && !j.error[0]);
  CU_ASSERT_STRING_EQUAL(g.name, "job-1");
  vramd_jobs_stop(&t);
}

/* A cancel asked mid-step waits for the safe point: the step is finished
 * whole, then the job ends cancelled.  Cancelling it again is -EALREADY;
 * an unknown id -ENOENT. */
static void test_cancel_safe_point(void)
{
  struct vramd_jobs t;
  struct vramd_job_info j;
  struct gate g;
  uint32_t id;

  vramd_jobs_init(&t);
  gate_init(&g, 10);
  id = start_gated(&t, &g);
  gate_steps(&g, 2);
  /* Into the middle of step 3 and hold it there. */
  pthread_mutex_lock(&g.lock);
  g.hold = true;
  g.allowed++;
  pthread_cond_broadcast(&g.cond);
  while (!g.in_step)
    pthread_cond_wait(&g.cond, &g.lock);
  pthread_mutex_unlock(&g.lock);
  CU_ASSERT_EQUAL(vramd_job_cancel(&t, id, &j), 0);
  CU_ASSERT(j.cancel_requested);
  CU_ASSERT_EQUAL(j.state, VRAMD_JOB_RUNNING);
  nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
  CU_ASSERT_EQUAL(vramd_job_get(&t, id, &j), 0);
  CU_ASSERT_EQUAL(j.state, VRAMD_JOB_RUNNING); /* not at a safe point yet */
  CU_ASSERT_EQUAL(j.done_bytes, 260);
  /* Let the step finish: the job stops at the safe point after it. */
  pthread_mutex_lock(&g.lock);
  g.hold = false;
  pthread_cond_broadcast(&g.cond);
  pthread_mutex_unlock(&g.lock);
  j = wait_state(&t, id, VRAMD_JOB_CANCELLED);
  CU_ASSERT_EQUAL(j.done_bytes, 300);
  CU_ASSERT_EQUAL(g.taken, 3);
  CU_ASSERT(j.eta < 0 && !j.error[0]);
  CU_ASSERT_EQUAL(vramd_job_cancel(&t, id, &j), -EALREADY);
  CU_ASSERT_EQUAL(j.state, VRAMD_JOB_CANCELLED);
  CU_ASSERT_EQUAL(vramd_job_cancel(&t, 99, &j), -ENOENT);
  CU_ASSERT_EQUAL(vramd_job_get(&t, 99, &j), -ENOENT);
  vramd_jobs_stop(&t);
}

/* A job that returns an error ends failed with its message, or with the
 * errno's words when it gave none. */
static void test_failed(void)
{
  struct vramd_jobs t;
  struct vramd_job_info j;
  struct gate g, h;
  uint32_t a, b;

  vramd_jobs_init(&t);
  gate_init(&g, 1);
  g.rc = -EIO;
  gate_init(&h, 1);
  h.rc = -ENOSPC;
  a = start_gated(&t, &g);
  b = start_gated(&t, &h);
  gate_steps(&g, 1);
  gate_steps(&h, 1);
  j = wait_state(&t, a, VRAMD_JOB_FAILED);
  CU_ASSERT_STRING_EQUAL(j.error, "device gpu9 lost mid-move");
  CU_ASSERT(j.eta < 0);
  j = wait_state(&t, b, VRAMD_JOB_FAILED);
  CU_ASSERT_STRING_EQUAL(j.error, strerror(ENOSPC));
  vramd_jobs_stop(&t);
}

/* At most VRAMD_JOBS_RUNNING run, VRAMD_JOBS_QUEUED wait, then -EAGAIN
 * (its arg dropped).  A queued job cancelled ends at once without
 * running; when a running one ends, the oldest queued one starts. */
static void test_bounds(void)
{
  enum { N = VRAMD_JOBS_RUNNING + VRAMD_JOBS_QUEUED };
  static struct gate g[N + 1];
  struct vramd_job_desc d = { .kind = "drain", .target = "gpu1", .run = gated,
                              .arg = &g[N], .drop = drop_gate };
  struct vramd_jobs t;
  struct vramd_job_info j;
  uint32_t ids[N], id = 0;
  char err[256];
  int drops;

  vramd_jobs_init(&t);
  for (int i = 0; i < N; i++) {
    gate_init(&g[i], 1);
    ids[i] = start_gated(&t, &g[i]);
  }
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL(vramd_job_get(&t, ids[i], &j), 0);
    CU_ASSERT_EQUAL(j.state, i < VRAMD_JOBS_RUNNING ? VRAMD_JOB_RUNNING : VRAMD_JOB_QUEUED);
  }
  drops = atomic_load(&dropped);
  CU_ASSERT_EQUAL(vramd_job_start(&t, &d, &id, err, sizeof err), -EAGAIN);
  CU_ASSERT(strstr(err, "cancel one") != NULL);
  CU_ASSERT_EQUAL(atomic_load(&dropped), drops + 1);
  /* A queued one cancelled: at once, dropped, never run. */
  CU_ASSERT_EQUAL(vramd_job_cancel(&t, ids[N - 1], &j), 0);
  CU_ASSERT_EQUAL(j.state, VRAMD_JOB_CANCELLED);
  CU_ASSERT_EQUAL(j.started, 0);
  CU_ASSERT_EQUAL(atomic_load(&dropped), drops + 2);
  CU_ASSERT_FALSE(g[N - 1].returned);
  /* The first running one ends: the first queued one starts. */
  gate_steps(&g[0], 1);
  wait_state(&t, ids[0], VRAMD_JOB_DONE);
  wait_state(&t, ids[VRAMD_JOBS_RUNNING], VRAMD_JOB_RUNNING);
  CU_ASSERT_EQUAL(vramd_job_get(&t, ids[VRAMD_JOBS_RUNNING + 1], &j), 0);
  CU_ASSERT_EQUAL(j.state, VRAMD_JOB_QUEUED);
  /* Stop: the queued ones end cancelled without running, the running
   * ones at their safe point; every arg is dropped once. */
  vramd_jobs_stop(&t);
  CU_ASSERT_EQUAL(atomic_load(&dropped), drops + 1 + N);
  CU_ASSERT_FALSE(g[N - 2].returned);
  CU_ASSERT(g[1].returned && g[VRAMD_JOBS_RUNNING].returned);
}

/* A job that ends at once. */
static int instant(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  (void)arg, (void)err, (void)errlen;
  vramd_job_advance(job, 1);
  return 0;
}

/* Finished jobs past VRAMD_JOBS_KEPT are forgotten, oldest first; ids
 * keep counting up and are never given twice. */
static void test_history(void)
{
  enum { N = VRAMD_JOBS_KEPT + 6 };
  struct vramd_job_desc d = { .kind = "scrub", .target = "v0", .run = instant };
  struct vramd_jobs t;
  struct vramd_job_info j, *all;
  uint32_t id = 0, last = 0;
  char err[256];
  int n;

  vramd_jobs_init(&t);
  for (int i = 0; i < N; i++) {
    CU_ASSERT_EQUAL_FATAL(vramd_job_start(&t, &d, &id, err, sizeof err), 0);
    CU_ASSERT(id == last + 1);
    last = id;
    wait_state(&t, id, VRAMD_JOB_DONE);
  }
  n = vramd_jobs_list(&t, &all);
  CU_ASSERT_EQUAL(n, VRAMD_JOBS_KEPT);
  if (n > 0) {
    CU_ASSERT_EQUAL(all[0].id, N - VRAMD_JOBS_KEPT + 1);
    CU_ASSERT_EQUAL(all[n - 1].id, N);
    CU_ASSERT_EQUAL(all[n - 1].done_bytes, 1);
  }
  free(all);
  CU_ASSERT_EQUAL(vramd_job_get(&t, 1, &j), -ENOENT);
  CU_ASSERT_EQUAL(vramd_job_get(&t, N - VRAMD_JOBS_KEPT, &j), -ENOENT);
  CU_ASSERT_EQUAL(vramd_job_get(&t, N - VRAMD_JOBS_KEPT + 1, &j), 0);
  CU_ASSERT_EQUAL(vramd_job_start(&t, &d, &id, err, sizeof err), 0);
  CU_ASSERT_EQUAL(id, N + 1);
  vramd_jobs_stop(&t);
}

/* Rate over the running life, ETA from what is left. */
static void test_rate_eta(void)
{
  CU_ASSERT_DOUBLE_EQUAL(vramd_job_rate(1000000000, 2000000000), 5e8, 1);
  CU_ASSERT_DOUBLE_EQUAL(vramd_job_rate(3 << 20, 1500000000), 2097152, 1);
  CU_ASSERT_EQUAL(vramd_job_rate(5, 0), 0);
  CU_ASSERT_DOUBLE_EQUAL(vramd_job_eta(250, 1000, 250), 3, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(vramd_job_eta(0, 1 << 30, 1 << 20), 1024, 1e-9);
  CU_ASSERT_EQUAL(vramd_job_eta(1000, 1000, 5), 0);
  CU_ASSERT_EQUAL(vramd_job_eta(2000, 1000, 5), 0);
  CU_ASSERT(vramd_job_eta(10, 0, 5) < 0);    /* no total yet */
  CU_ASSERT(vramd_job_eta(0, 1000, 0) < 0);  /* no rate yet */
  CU_ASSERT_STRING_EQUAL(vramd_job_state_name(VRAMD_JOB_CANCELLED), "cancelled");
  CU_ASSERT_STRING_EQUAL(vramd_job_state_name(VRAMD_JOB_QUEUED), "queued");
}

/* A job that runs until cancelled (10 s at most, so that a test fails
 * rather than hangs), a safe point every millisecond. */
static int endless(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  atomic_int *state = arg;
  (void)err, (void)errlen;
  atomic_store(state, 1);
  for (int i = 0; i < 10000 && !vramd_job_cancelled(job); i++) {
    vramd_job_advance(job, 4096);
    nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
  }
  if (!vramd_job_cancelled(job))
    return 0;
  atomic_store(state, 2);
  return -ECANCELED;
}

/* Stop cancels a running job and returns only once its thread is joined;
 * after it no job starts. */
static void test_stop_joins(void)
{
  static atomic_int state;
  struct vramd_job_desc d = { .kind = "rebalance", .target = "v1", .run = endless,
                              .arg = &state, .drop = drop_gate };
  struct vramd_jobs t;
  uint32_t id = 0;
  char err[256];
  int drops;

  vramd_jobs_init(&t);
  CU_ASSERT_EQUAL_FATAL(vramd_job_start(&t, &d, &id, err, sizeof err), 0);
  wait_state(&t, id, VRAMD_JOB_RUNNING);
  while (!atomic_load(&state))
    nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
  drops = atomic_load(&dropped);
  vramd_jobs_stop(&t);
  CU_ASSERT_EQUAL(atomic_load(&state), 2);
  CU_ASSERT_EQUAL(atomic_load(&dropped), drops + 1);
  CU_ASSERT_PTR_NULL(t.head);
  CU_ASSERT_EQUAL(vramd_job_start(&t, &d, &id, err, sizeof err), -ESHUTDOWN);
  CU_ASSERT_EQUAL(atomic_load(&dropped), drops + 2);
}

static const struct vd_test tests[] = {
  { "progress", test_progress },
  { "cancel at a safe point", test_cancel_safe_point },
  { "failed", test_failed },
  { "running and queued bounds", test_bounds },
  { "bounded history, ids not reused", test_history },
  { "rate and ETA", test_rate_eta },
  { "stop joins a running job", test_stop_joins },
  { NULL, NULL },
};
VD_TEST_ONE_SUITE("jobs", tests);
