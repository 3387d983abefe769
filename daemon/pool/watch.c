/* watch.c: a light thread that asks NVML, twice a second, whether the
 * pool's NVIDIA GPUs are still there, and marks one lost when NVML says it
 * fell off the bus.  Only started when NVML sees at least one of them. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "pool-internal.h"
#include "util.h"

#define POLL_MS 500
#define WATCH_STACK (512u << 10) /* NVML calls only; not the 8 MiB default, locked whole */

struct watched {
  struct vd_device *dev;
  void *nvml;           /* NVML's handle */
  bool off;             /* NVML cannot watch it: no longer asked */
};

struct vd_nvml_watch {
  struct watched gpu[VD_POOL_MAX];
  unsigned n;
  pthread_mutex_t lock;
  pthread_cond_t cv;    /* on CLOCK_MONOTONIC: stop wakes it early */
  bool stop;
  pthread_t thread;
};

/* Ask each watched GPU once and act on NVML's verdict. */
static void poll_once(struct vd_nvml_watch *w)
{
  for (unsigned i = 0; i < w->n; i++) {
    struct watched *g = &w->gpu[i];
    int rc;
    if (g->off || vd_device_is_lost(g->dev))
      continue;
    rc = vd_nvml_query(g->nvml);
    switch (vd_nvml_judge(rc)) {
    case VD_NVML_LOST:
      vd_device_declare_lost(g->dev, rc == VD_NVML_ERROR_GPU_IS_LOST
                             ? "NVML says it fell off the bus (NVML_ERROR_GPU_IS_LOST)"
                             : "NVML says it needs a reset (NVML_ERROR_RESET_REQUIRED)");
      break;
    case VD_NVML_UNWATCHABLE:
      g->off = true;
      vd_warn("%s: NVML cannot watch it (error %d); its loss is still seen "
              "through failed transfers", vd_device_info(g->dev)->id, rc);
      break;
    default:
      break;
    }
  }
}

/* The thread: poll, then sleep POLL_MS or until told to stop. */
static void *watch_main(void *arg)
{
  struct vd_nvml_watch *w = arg;
  struct timespec at;

  vd_thread_name("vd-nvml");
  pthread_mutex_lock(&w->lock);
  while (!w->stop) {
    pthread_mutex_unlock(&w->lock);
    poll_once(w);
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_nsec += POLL_MS * 1000000L;
    at.tv_sec += at.tv_nsec / 1000000000L;
    at.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&w->lock);
    while (!w->stop && pthread_cond_timedwait(&w->cv, &w->lock, &at) == 0)
      ;
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

/* Watch the pool's GPUs that NVML knows; NULL when there are none. */
struct vd_nvml_watch *vd_nvml_watch_start(struct vd_pool *pool)
{
  struct vd_nvml_watch *w = calloc(1, sizeof *w);
  pthread_condattr_t ca;

  if (!w)
    return NULL;
  for (unsigned i = 0; i < pool->ndev; i++) {
    void *h = pool->dev[i]->info.type == VD_DEV_GPU
            ? vd_nvml_handle(pool->dev[i]->info.pci_bus_id) : NULL;
    if (h)
      w->gpu[w->n++] = (struct watched){ .dev = pool->dev[i], .nvml = h };
  }
  if (!w->n)
    goto out_free;
  pthread_mutex_init(&w->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (vd_thread_start(&w->thread, WATCH_STACK, watch_main, w) != 0) {
    vd_warn("cannot start the NVML watch thread; a lost GPU is still seen "
            "through failed transfers");
    goto out_destroy;
  }
  vd_info("watching %u GPU%s through NVML every %d ms", w->n, w->n == 1 ? "" : "s", POLL_MS);
  return w;

out_destroy:
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->lock);
out_free:
  free(w);
  return NULL;
}

/* Stop the thread and free the watch. */
void vd_nvml_watch_stop(struct vd_nvml_watch *w)
{
  if (!w)
    return;
  pthread_mutex_lock(&w->lock);
  w->stop = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->lock);
  free(w);
}
