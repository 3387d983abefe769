/* keeper.c: the thread behind thin volumes.  It keeps a stock of zeroed
 * chunks on every device that a thin volume may write to, gives chunks
 * that discards retired back (to the stock, or to the driver past it),
 * and lets the writes that waited for a chunk go on, or fails them with
 * ENOSPC once no device can make one.  Every driver allocation for thin
 * volumes happens here, never on the I/O path. */
#include <errno.h>
#include <stdlib.h>

#include "volume.h"

#define TICK_NS 100000000ull /* looks at the stock at least this often */
#define YIELD_TICKS 5        /* asks the drivers for free memory every 500 ms */

struct vd_keeper {
  struct vd_pool *pool;
  struct vd_stock *stock;
  struct vd_engine *eng;
  struct vd_registry *reg;
  unsigned level;           /* chunks kept per device while thin volumes exist */
  atomic_bool stop;
  pthread_t thread;
  _Atomic uint64_t made, freed, recycled;
  vd_keeper_yield_fn *yield;  /* told when a device is short of its floor */
  void *yield_arg;
  void (*tick)(void *arg);    /* called every tick (vd_keeper_set_tick) */
  void *tick_arg;
  uint64_t asked[VD_MAX_DEVICES]; /* need already passed on since it last held */
};

/* Devices whose free memory fell under their yield floor: tell the
 * daemon how much another process needs back. */
static void watch_floors(struct vd_keeper *k)
{
  for (unsigned d = 0; d < vd_pool_count(k->pool); d++) {
    struct vd_device *dev = vd_pool_device(k->pool, d);
    uint64_t floor = vd_device_yield_floor(dev), free_now, need;
    if (!floor || vd_device_is_lost(dev) || vd_device_free_now(dev, &free_now))
      continue;
    if (free_now >= floor) {
      k->asked[d] = 0; /* it holds: a later shortfall is new */
      continue;
    }
    /* Only what grew since the last ask: memory given back may show as
     * free only later, or (host memory) never. */
    need = floor - free_now;
    if (need > k->asked[d] && k->yield) {
      k->yield(k->yield_arg, dev, need - k->asked[d]);
      k->asked[d] = need;
    }
  }
}

/* What to call every tick. */
void vd_keeper_set_tick(struct vd_keeper *k, void (*fn)(void *arg), void *arg)
{
  k->tick_arg = arg;
  k->tick = fn;
}

/* Who to tell when a device must yield. */
void vd_keeper_set_yield(struct vd_keeper *k, vd_keeper_yield_fn *fn, void *arg)
{
  k->yield_arg = arg;
  k->yield = fn;
}

/* Free one chunk to the driver, or keep it (zeroed) when the shelf is short. */
static void give_back(struct vd_keeper *k, struct vd_extent *e, unsigned want)
{
  unsigned dev = vd_device_info(vd_extent_device(e))->index;
  if (vd_stock_count(k->stock, dev) < want &&
      vd_device_state(vd_extent_device(e)) == VD_DEV_ACTIVE && vd_extent_zero(e) == 0) {
    vd_stock_add(k->stock, e);
    atomic_fetch_add(&k->recycled, 1);
    return;
  }
  vd_extent_free(e);
  atomic_fetch_add(&k->freed, 1);
}

/* Retired chunks of every thin volume: once no request can still use
 * them, back to the stock or the driver.  Returns how many thin volumes
 * there are. */
static unsigned reclaim(struct vd_keeper *k, unsigned want)
{
  struct vd_volume **vols = NULL;
  int n = vd_registry_list(k->reg, &vols);
  unsigned thin = 0;

  for (int i = 0; i < n; i++) {
    struct vd_target *t = &vols[i]->target;
    if (t->stock) {
      thin++;
      /* A move may be copying from a retired chunk: next tick. */
      if (atomic_load(&t->retired) && pthread_mutex_trylock(&t->move_lock) == 0) {
        struct vd_extent *e, *next;
        vd_target_quiesce(t);
        for (e = vd_extent_take_all(&t->retired); e; e = next) {
          next = vd_extent_next(e);
          give_back(k, e, want);
        }
        pthread_mutex_unlock(&t->move_lock);
      }
    }
  }
  for (int i = 0; i < n; i++)
    vd_volume_put(vols[i]);
  free(vols);
  return thin;
}

/* Fill every active device's shelf up to want; extras, and all a device
 * that is not active holds, go back to the driver. */
static void refill(struct vd_keeper *k, unsigned want_active)
{
  for (unsigned d = 0; d < vd_pool_count(k->pool); d++) {
    struct vd_device *dev = vd_pool_device(k->pool, d);
    unsigned want = vd_device_state(dev) == VD_DEV_ACTIVE ? want_active : 0;
    char err[256];
    while (!atomic_load(&k->stop) && vd_stock_count(k->stock, d) > want) {
      struct vd_extent *e = vd_stock_take(k->stock, d);
      if (!e)
        break;
      vd_extent_free(e);
      atomic_fetch_add(&k->freed, 1);
    }
    while (!atomic_load(&k->stop) && vd_stock_count(k->stock, d) < want) {
      struct vd_extent *e;
      if (vd_extent_alloc(dev, vd_stock_chunk(k->stock), &e, err, sizeof err))
        break; /* full: the next tick tries again */
      vd_stock_add(k->stock, e);
      atomic_fetch_add(&k->made, 1);
    }
  }
}

/* True when some device holds a chunk now. */
static bool any_chunk(struct vd_keeper *k)
{
  for (unsigned d = 0; d < vd_pool_count(k->pool); d++)
    if (vd_stock_count(k->stock, d))
      return true;
  return false;
}

/* Writes that waited for a chunk: on with one, or ENOSPC with none. */
static void unstarve(struct vd_keeper *k)
{
  struct vd_volume **vols = NULL;
  int n = vd_registry_list(k->reg, &vols);
  int err = any_chunk(k) ? 0 : -ENOSPC;

  for (int i = 0; i < n; i++) {
    struct vd_target *t = &vols[i]->target;
    if (t->stock && atomic_load(&t->starved)) {
      if (err)
        vd_warn_rl("volume %s: a write needs a chunk and no device has room: ENOSPC",
                   vols[i]->spec.name);
      vd_target_unstarve(k->eng, t, err);
    }
    vd_volume_put(vols[i]);
  }
  free(vols);
}

/* Mirrors whose reads found bad blocks on a copy: rewrite them from a
 * copy in sync (heal.c). */
static void heal(struct vd_keeper *k)
{
  struct vd_volume **vols = NULL;
  int n = vd_registry_list(k->reg, &vols);

  for (int i = 0; i < n; i++) {
    if (vols[i]->target.map.copies > 1)
      vd_mirror_heal(k->eng, &vols[i]->target);
    vd_volume_put(vols[i]);
  }
  free(vols);
}

/* The keeper's loop. */
static void *keeper_main(void *arg)
{
  struct vd_keeper *k = arg;
  unsigned want = 0;

  vd_thread_name("vd-keeper");
  for (unsigned tick = 0; !atomic_load(&k->stop); tick++) {
    unsigned thin;
    if (tick % YIELD_TICKS == 0)
      watch_floors(k);
    thin = reclaim(k, want);
    want = thin ? k->level : 0;
    refill(k, want);
    unstarve(k);
    heal(k);
    if (k->tick)
      k->tick(k->tick_arg);
    vd_stock_wait(k->stock, TICK_NS);
  }
  return NULL;
}

/* Start the keeper. */
int vd_keeper_start(struct vd_pool *pool, struct vd_stock *stock, struct vd_engine *eng,
                    struct vd_registry *reg, unsigned level, struct vd_keeper **out)
{
  struct vd_keeper *k = calloc(1, sizeof *k);
  if (!k)
    return -ENOMEM;
  k->pool = pool;
  k->stock = stock;
  k->eng = eng;
  k->reg = reg;
  k->level = level ? level : 1;
  if (vd_thread_start(&k->thread, 256u << 10, keeper_main, k)) {
    free(k);
    return -EAGAIN;
  }
  *out = k;
  return 0;
}

/* Stop the keeper; what the stock holds stays there. */
void vd_keeper_stop(struct vd_keeper *k)
{
  if (!k)
    return;
  atomic_store(&k->stop, true);
  vd_stock_kick(k->stock);
  pthread_join(k->thread, NULL);
  free(k);
}

/* Chunks made, given back to the driver, and reused since start. */
void vd_keeper_stats(const struct vd_keeper *k, uint64_t *made, uint64_t *freed,
                     uint64_t *recycled)
{
  *made = k ? atomic_load(&k->made) : 0;
  *freed = k ? atomic_load(&k->freed) : 0;
  *recycled = k ? atomic_load(&k->recycled) : 0;
}
