/* worker.c: a FIFO of suspended requests and the thread that runs them.
 * One thread is enough: the jobs serialise on admin_lock anyway, and the
 * queue is bounded by the connections a listener serves. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "util.h"
#include "worker.h"

struct vd_worker {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  bool stop;
  struct vd_job *head, *tail;
};

/* Take the next job, or NULL once stopped; lock held. */
static struct vd_job *take(struct vd_worker *w)
{
  struct vd_job *j;
  while (!w->head && !w->stop)
    pthread_cond_wait(&w->wake, &w->lock);
  j = w->head;
  if (j) {
    w->head = j->next;
    if (!w->head)
      w->tail = NULL;
  }
  return j;
}

/* Run jobs in order; once stopped, cancel what is left. */
static void *worker_thread(void *arg)
{
  struct vd_worker *w = arg;
  struct vd_job *j;
  bool stop;

  vd_thread_name("api-admin");
  pthread_mutex_lock(&w->lock);
  while ((j = take(w))) {
    stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    j->run(j, stop);
    MHD_resume_connection(j->conn);
    pthread_mutex_lock(&w->lock);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* Start the worker thread. */
int vd_worker_start(struct vd_worker **out, char *err, size_t errlen)
{
  struct vd_worker *w = calloc(1, sizeof *w);
  int rc;

  if (!w) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->wake, NULL);
  /* Creates call into the OpenCL runtime, which may build a kernel. */
  rc = vd_thread_start(&w->thread, VD_API_WORKER_STACK, worker_thread, w);
  if (rc) {
    snprintf(err, errlen, "cannot start the API worker thread: %s", strerror(rc));
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return -rc;
  }
  *out = w;
  return 0;
}

/* Append a job and wake the thread; once stopped, cancel it at once. */
void vd_worker_push(struct vd_worker *w, struct vd_job *job)
{
  job->next = NULL;
  pthread_mutex_lock(&w->lock);
  if (w->stop) {
    pthread_mutex_unlock(&w->lock);
    job->run(job, true);
    MHD_resume_connection(job->conn);
    return;
  }
  if (w->tail)
    w->tail->next = job;
  else
    w->head = job;
  w->tail = job;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
}

/* Stop: the running job finishes, queued ones are cancelled. */
void vd_worker_stop(struct vd_worker *w)
{
  if (!w)
    return;
  pthread_mutex_lock(&w->lock);
  w->stop = true;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
}

/* Free a stopped worker. */
void vd_worker_free(struct vd_worker *w)
{
  if (!w)
    return;
  pthread_cond_destroy(&w->wake);
  pthread_mutex_destroy(&w->lock);
  free(w);
}
