/* jobs.c: the table of long operations.  A job runs on a thread of its
 * own ("job-N"); the table's lock guards the list and each job's state,
 * times and error, while the progress counters and the cancel flag are
 * atomics the job's thread touches without it.  A job is freed only after
 * its thread is joined, so the thread's own pointer stays valid until it
 * returns; readers get copies (struct vramd_job_info), never a pointer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "util.h"

struct vramd_job {
  struct vramd_job *next;
  struct vramd_jobs *table;
  uint32_t id;
  char kind[VRAMD_JOB_KIND_MAX], target[VRAMD_JOB_TARGET_MAX];
  vramd_job_fn *run;
  void *arg;
  void (*drop)(void *arg);
  atomic_bool cancel;
  _Atomic uint64_t done, total;
  /* Under the table's lock: */
  enum vramd_job_state state;
  time_t created, started, finished;
  uint64_t started_ns, ended_ns;
  char error[VRAMD_JOB_ERROR_MAX];
  pthread_t thread;
  bool has_thread; /* started: to be joined before it is freed */
};

static const char *const state_names[] = {
  [VRAMD_JOB_QUEUED] = "queued", [VRAMD_JOB_RUNNING] = "running",
  [VRAMD_JOB_DONE] = "done", [VRAMD_JOB_FAILED] = "failed",
  [VRAMD_JOB_CANCELLED] = "cancelled",
};

/* The state's API name. */
const char *vramd_job_state_name(enum vramd_job_state s)
{
  return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "unknown";
}

/* True once a job can change no more. */
static bool ended(const struct vramd_job *j)
{
  return j->state >= VRAMD_JOB_DONE;
}

/* Bytes per second: the rate over the job's running life, which a
 * drain's steady copying makes a fair guess of what is left. */
double vramd_job_rate(uint64_t done, uint64_t elapsed_ns)
{
  return elapsed_ns ? (double)done * 1e9 / (double)elapsed_ns : 0;
}

/* Seconds left at rate; -1 when there is nothing to go by. */
double vramd_job_eta(uint64_t done, uint64_t total, double rate)
{
  if (!total)
    return -1;
  if (done >= total)
    return 0;
  return rate > 0 ? (double)(total - done) / rate : -1;
}

/* An empty table. */
void vramd_jobs_init(struct vramd_jobs *t)
{
  memset(t, 0, sizeof *t);
  pthread_mutex_init(&t->lock, NULL);
  t->next_id = 1;
}

/* Copy job j as it is now (lock held). */
static void snapshot(const struct vramd_job *j, struct vramd_job_info *o)
{
  uint64_t end = j->ended_ns ? j->ended_ns : vd_now_ns();

  memset(o, 0, sizeof *o);
  o->id = j->id;
  memcpy(o->kind, j->kind, sizeof o->kind);
  memcpy(o->target, j->target, sizeof o->target);
  memcpy(o->error, j->error, sizeof o->error);
  o->state = j->state;
  o->cancel_requested = atomic_load(&j->cancel);
  o->done_bytes = atomic_load(&j->done);
  o->total_bytes = atomic_load(&j->total);
  o->created = j->created;
  o->started = j->started;
  o->finished = j->finished;
  o->rate = j->started_ns ? vramd_job_rate(o->done_bytes, end - j->started_ns) : 0;
  o->eta = j->state == VRAMD_JOB_DONE ? 0
           : ended(j) || j->state == VRAMD_JOB_QUEUED
             ? -1
             : vramd_job_eta(o->done_bytes, o->total_bytes, o->rate);
}

static void *job_thread(void *p);

/* Start j's thread (lock held); on failure j ends failed, saying why. */
static int launch(struct vramd_jobs *t, struct vramd_job *j)
{
  int rc;

  j->state = VRAMD_JOB_RUNNING;
  j->started = time(NULL);
  j->started_ns = vd_now_ns();
  t->running++;
  rc = vd_thread_start(&j->thread, VRAMD_JOB_STACK, job_thread, j);
  if (!rc) {
    j->has_thread = true;
    return 0;
  }
  t->running--;
  j->state = VRAMD_JOB_FAILED;
  j->ended_ns = vd_now_ns();
  j->finished = time(NULL);
  snprintf(j->error, sizeof j->error, "cannot start its thread: %s", strerror(rc));
  return -rc;
}

/* Unlink and free j (lock held), joining its thread first: it has ended,
 * so its thread needs the lock no more. */
static void forget(struct vramd_jobs *t, struct vramd_job *j)
{
  struct vramd_job **pp = &t->head, *prev = NULL;

  while (*pp != j) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  *pp = j->next;
  if (t->tail == j)
    t->tail = prev;
  if (j->has_thread)
    pthread_join(j->thread, NULL);
  free(j);
}

/* Forget the oldest finished jobs past VRAMD_JOBS_KEPT (lock held),
 * never the caller's own job, whose thread is still in its last steps. */
static void trim(struct vramd_jobs *t, const struct vramd_job *self)
{
  struct vramd_job *j = t->head, *next;

  for (; j && t->finished > VRAMD_JOBS_KEPT; j = next) {
    next = j->next;
    if (j == self || !ended(j))
      continue;
    forget(t, j);
    t->finished--;
  }
}

/* The oldest queued job goes when a running one ends (lock held). */
static void promote(struct vramd_jobs *t)
{
  for (struct vramd_job *j = t->head; j && !t->stopping && t->running < VRAMD_JOBS_RUNNING;
       j = j->next)
    if (j->state == VRAMD_JOB_QUEUED) {
      t->queued--;
      if (launch(t, j))
        t->finished++;
    }
}

/* Record how the job ended, and let the next queued one run. */
static void finish(struct vramd_job *j, int rc, const char *err)
{
  struct vramd_jobs *t = j->table;
  char a[32], b[32];

  pthread_mutex_lock(&t->lock);
  j->ended_ns = vd_now_ns();
  j->finished = time(NULL);
  if (!rc)
    j->state = VRAMD_JOB_DONE;
  else if (rc == -ECANCELED || atomic_load(&j->cancel))
    j->state = VRAMD_JOB_CANCELLED;
  else {
    j->state = VRAMD_JOB_FAILED;
    snprintf(j->error, sizeof j->error, "%s", *err ? err : strerror(-rc));
  }
  t->running--;
  t->finished++;
  vd_format_size(atomic_load(&j->total), b, sizeof b);
  vd_log_about(VD_LOG_INFO, VD_FIELDS(.job = j->id),
               "job %u (%s %s): %s after %.1f s, %s%s%s done%s%s", j->id, j->kind, j->target,
               vramd_job_state_name(j->state), (double)(j->ended_ns - j->started_ns) / 1e9,
               vd_format_size(atomic_load(&j->done), a, sizeof a),
               atomic_load(&j->total) ? " of " : "", atomic_load(&j->total) ? b : "",
               j->error[0] ? ": " : "", j->error);
  promote(t);
  if (!t->stopping)
    trim(t, j);
  pthread_mutex_unlock(&t->lock);
}

/* A job's thread: run it, free its argument, record the end. */
static void *job_thread(void *p)
{
  struct vramd_job *j = p;
  char err[VRAMD_JOB_ERROR_MAX] = "";
  int rc;

  vd_thread_name("job-%u", j->id);
  rc = j->run(j, j->arg, err, sizeof err);
  if (j->drop)
    j->drop(j->arg);
  finish(j, rc, err);
  return NULL;
}

/* Start a job, or queue it behind the running ones. */
int vramd_job_start(struct vramd_jobs *t, const struct vramd_job_desc *desc, uint32_t *id,
                    char *err, size_t errlen)
{
  struct vramd_job *j = calloc(1, sizeof *j);
  int rc = 0;

  if (!j) {
    snprintf(err, errlen, "out of memory");
    rc = -ENOMEM;
    goto out_drop;
  }
  j->table = t;
  snprintf(j->kind, sizeof j->kind, "%s", desc->kind);
  snprintf(j->target, sizeof j->target, "%s", desc->target ? desc->target : "");
  j->run = desc->run;
  j->arg = desc->arg;
  j->drop = desc->drop;
  atomic_init(&j->cancel, false);
  atomic_init(&j->done, 0);
  atomic_init(&j->total, desc->total_bytes);
  j->created = time(NULL);
  pthread_mutex_lock(&t->lock);
  if (t->stopping) {
    snprintf(err, errlen, "vramd is stopping; start the %s again once it runs", j->kind);
    rc = -ESHUTDOWN;
  } else if (!t->next_id) {
    snprintf(err, errlen, "vramd has numbered every job id it can; restart it to start more");
    rc = -EOVERFLOW;
  } else if (t->running >= VRAMD_JOBS_RUNNING && t->queued >= VRAMD_JOBS_QUEUED) {
    snprintf(err, errlen, "%u jobs run and %u wait already; wait for one to end or cancel one",
             t->running, t->queued);
    rc = -EAGAIN;
  }
  if (rc) {
    pthread_mutex_unlock(&t->lock);
    free(j);
    goto out_drop;
  }
  j->id = t->next_id++;
  if (t->tail)
    t->tail->next = j;
  else
    t->head = j;
  t->tail = j;
  if (t->running < VRAMD_JOBS_RUNNING && (rc = launch(t, j))) {
    snprintf(err, errlen, "%s", j->error);
    forget(t, j);
    pthread_mutex_unlock(&t->lock);
    goto out_drop;
  }
  if (j->state == VRAMD_JOB_QUEUED)
    t->queued++;
  *id = j->id;
  pthread_mutex_unlock(&t->lock);
  return 0;

out_drop:
  if (desc->drop)
    desc->drop(desc->arg);
  return rc;
}

/* The bytes the job has to move. */
void vramd_job_total(struct vramd_job *job, uint64_t bytes)
{
  atomic_store(&job->total, bytes);
}

/* More bytes done. */
void vramd_job_advance(struct vramd_job *job, uint64_t bytes)
{
  atomic_fetch_add(&job->done, bytes);
}

/* Whether the job is to stop at this safe point. */
bool vramd_job_cancelled(const struct vramd_job *job)
{
  return atomic_load(&job->cancel);
}

/* The job with id (lock held), or NULL. */
static struct vramd_job *find(struct vramd_jobs *t, uint32_t id)
{
  struct vramd_job *j = t->head;
  while (j && j->id != id)
    j = j->next;
  return j;
}

/* Copies of every job remembered. */
int vramd_jobs_list(struct vramd_jobs *t, struct vramd_job_info **out)
{
  struct vramd_job_info *a;
  size_t n = 0, i = 0;

  pthread_mutex_lock(&t->lock);
  for (struct vramd_job *j = t->head; j; j = j->next)
    n++;
  a = calloc(n ? n : 1, sizeof *a);
  if (!a) {
    pthread_mutex_unlock(&t->lock);
    return -ENOMEM;
  }
  for (struct vramd_job *j = t->head; j; j = j->next)
    snapshot(j, &a[i++]);
  pthread_mutex_unlock(&t->lock);
  *out = a;
  return (int)n;
}

/* A copy of one job. */
int vramd_job_get(struct vramd_jobs *t, uint32_t id, struct vramd_job_info *out)
{
  struct vramd_job *j;
  int rc = -ENOENT;

  pthread_mutex_lock(&t->lock);
  if ((j = find(t, id))) {
    snapshot(j, out);
    rc = 0;
  }
  pthread_mutex_unlock(&t->lock);
  return rc;
}

/* End a queued job as cancelled without running it (lock held); its
 * argument is handed to the caller to drop after unlocking. */
static void cancel_queued(struct vramd_jobs *t, struct vramd_job *j, void **arg,
                          void (**drop)(void *))
{
  j->state = VRAMD_JOB_CANCELLED;
  j->finished = time(NULL);
  t->queued--;
  t->finished++;
  *arg = j->arg;
  *drop = j->drop;
  j->drop = NULL;
}

/* Ask a job to stop. */
int vramd_job_cancel(struct vramd_jobs *t, uint32_t id, struct vramd_job_info *out)
{
  void (*drop)(void *) = NULL;
  struct vramd_job *j;
  void *arg = NULL;
  int rc = 0;

  pthread_mutex_lock(&t->lock);
  if (!(j = find(t, id))) {
    pthread_mutex_unlock(&t->lock);
    return -ENOENT;
  }
  if (ended(j))
    rc = -EALREADY;
  else {
    atomic_store(&j->cancel, true);
    if (j->state == VRAMD_JOB_QUEUED)
      cancel_queued(t, j, &arg, &drop);
  }
  snapshot(j, out);
  if (!rc && ended(j))
    trim(t, NULL);
  pthread_mutex_unlock(&t->lock);
  if (drop)
    drop(arg);
  return rc;
}

/* Cancel everything, join every thread, free every job. */
void vramd_jobs_stop(struct vramd_jobs *t)
{
  struct vramd_job *j, *next;

  pthread_mutex_lock(&t->lock);
  t->stopping = true; /* from here on nothing is added, started or trimmed */
  for (j = t->head; j; j = j->next) {
    void (*drop)(void *) = NULL;
    void *arg = NULL;
    if (ended(j))
      continue;
    atomic_store(&j->cancel, true);
    if (j->state == VRAMD_JOB_QUEUED) {
      cancel_queued(t, j, &arg, &drop);
      if (drop) {
        pthread_mutex_unlock(&t->lock);
        drop(arg);
        pthread_mutex_lock(&t->lock);
      }
    }
  }
  if (t->running)
    vd_info("stopping: cancelling %u running jobs at their next safe point", t->running);
  pthread_mutex_unlock(&t->lock);
  /* The list no longer changes shape: each thread only takes the lock to
   * record its end, which the join waits for. */
  for (j = t->head; j; j = next) {
    next = j->next;
    if (j->has_thread)
      pthread_join(j->thread, NULL);
    free(j);
  }
  t->head = t->tail = NULL;
  t->running = t->queued = t->finished = 0;
}
