/* stock.c: zeroed chunks held per device for thin volumes, and the
 * intrusive lists that carry extents between owners. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "pool-internal.h"

struct shelf {
  pthread_mutex_t lock;
  struct vd_extent *head;
  unsigned count;
};

struct vd_stock {
  struct vd_pool *pool;
  uint64_t chunk;
  struct shelf shelf[VD_POOL_MAX];
  pthread_mutex_t kick_lock;
  pthread_cond_t kick_cv;
  bool kicked;
};

/* Push ext on a lock-free list. */
void vd_extent_push(struct vd_extent *_Atomic *head, struct vd_extent *ext)
{
  struct vd_extent *old = atomic_load(head);
  do
    ext->next = old;
  while (!atomic_compare_exchange_weak(head, &old, ext));
}

/* Take the whole list; its order is last pushed first. */
struct vd_extent *vd_extent_take_all(struct vd_extent *_Atomic *head)
{
  return atomic_exchange(head, NULL);
}

struct vd_extent *vd_extent_next(const struct vd_extent *ext) { return ext->next; }

/* Fill an extent with zeros and wait for it. */
int vd_extent_zero(struct vd_extent *ext)
{
  static const cl_uint zero;
  cl_int rc = clEnqueueFillBuffer(ext->dev->admin, ext->mem, &zero, sizeof zero, 0,
                                  ext->bytes, 0, NULL, NULL);
  if (rc == CL_SUCCESS)
    rc = clFinish(ext->dev->admin);
  return rc == CL_SUCCESS ? 0 : -EIO;
}

/* Make an empty stock for every device of the pool. */
int vd_stock_new(struct vd_pool *pool, uint64_t chunk, struct vd_stock **out)
{
  struct vd_stock *st = calloc(1, sizeof *st);
  if (!st)
    return -ENOMEM;
  st->pool = pool;
  st->chunk = chunk;
  for (unsigned i = 0; i < VD_POOL_MAX; i++)
    pthread_mutex_init(&st->shelf[i].lock, NULL);
  pthread_mutex_init(&st->kick_lock, NULL);
  pthread_cond_init(&st->kick_cv, NULL);
  *out = st;
  return 0;
}

/* Give every held chunk back to the driver and free the stock. */
void vd_stock_free(struct vd_stock *st)
{
  if (!st)
    return;
  for (unsigned i = 0; i < VD_POOL_MAX; i++) {
    struct vd_extent *e = st->shelf[i].head, *next;
    for (; e; e = next) {
      next = e->next;
      vd_extent_free(e);
    }
    pthread_mutex_destroy(&st->shelf[i].lock);
  }
  pthread_cond_destroy(&st->kick_cv);
  pthread_mutex_destroy(&st->kick_lock);
  free(st);
}

uint64_t vd_stock_chunk(const struct vd_stock *st) { return st->chunk; }

/* Pop a chunk off one device's shelf. */
struct vd_extent *vd_stock_take(struct vd_stock *st, unsigned dev)
{
  struct shelf *sh;
  struct vd_extent *e;

  if (dev >= VD_POOL_MAX)
    return NULL;
  sh = &st->shelf[dev];
  pthread_mutex_lock(&sh->lock);
  e = sh->head;
  if (e) {
    sh->head = e->next;
    sh->count--;
    e->next = NULL;
  }
  pthread_mutex_unlock(&sh->lock);
  return e;
}

/* Put a zeroed chunk on its device's shelf. */
void vd_stock_add(struct vd_stock *st, struct vd_extent *ext)
{
  struct shelf *sh = &st->shelf[ext->dev->info.index];
  pthread_mutex_lock(&sh->lock);
  ext->next = sh->head;
  sh->head = ext;
  sh->count++;
  pthread_mutex_unlock(&sh->lock);
}

/* Chunks on one device's shelf. */
unsigned vd_stock_count(struct vd_stock *st, unsigned dev)
{
  unsigned n;
  if (dev >= VD_POOL_MAX)
    return 0;
  pthread_mutex_lock(&st->shelf[dev].lock);
  n = st->shelf[dev].count;
  pthread_mutex_unlock(&st->shelf[dev].lock);
  return n;
}

/* Wake the keeper. */
void vd_stock_kick(struct vd_stock *st)
{
  pthread_mutex_lock(&st->kick_lock);
  st->kicked = true;
  pthread_cond_signal(&st->kick_cv);
  pthread_mutex_unlock(&st->kick_lock);
}

/* Sleep until kicked or ns pass. */
bool vd_stock_wait(struct vd_stock *st, uint64_t ns)
{
  struct timespec ts;
  bool kicked;

  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += (time_t)(ns / 1000000000u);
  ts.tv_nsec += (long)(ns % 1000000000u);
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&st->kick_lock);
  while (!st->kicked && pthread_cond_timedwait(&st->kick_cv, &st->kick_lock, &ts) == 0)
    ;
  kicked = st->kicked;
  st->kicked = false;
  pthread_mutex_unlock(&st->kick_lock);
  return kicked;
}
