/* worker.h: the one thread that runs requests which change things
 * (create, delete), so MHD's polling thread never waits on admin_lock or
 * on a create that zero-fills gigabytes. */
#ifndef VRAMD_API_WORKER_H
#define VRAMD_API_WORKER_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* A suspended request; embedded in the request's own state. */
struct vd_job {
  struct vd_job *next;
  struct MHD_Connection *conn;
  /* Prepare the answer; cancelled when vramd stops before it ran. */
  void (*run)(struct vd_job *job, bool cancelled);
};

struct vd_worker;

/* Start the thread. */
int vd_worker_start(struct vd_worker **out, char *err, size_t errlen);
/* Queue a job whose connection is suspended; it is resumed once run
 * (at once and cancelled after vd_worker_stop). */
void vd_worker_push(struct vd_worker *w, struct vd_job *job);
/* Finish the job in hand, cancel the rest (resumed with their answer),
 * end the thread.  Before MHD_stop_daemon: no connection stays suspended. */
void vd_worker_stop(struct vd_worker *w);
/* Free the worker; after MHD_stop_daemon, when nothing can push. */
void vd_worker_free(struct vd_worker *w);

#endif
