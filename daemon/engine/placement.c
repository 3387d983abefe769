/* placement.c: where each extent of a volume lives, and how that changes
 * while requests run.
 *
 * The rule.  A request enters its target before it reads any placement
 * and leaves once its last part has completed; entering counts it in the
 * target's current epoch.  A placement changes in only three ways:
 *  - install (thin): NULL -> a chunk from the stock, by the write that
 *    needs it, with a compare-and-swap; the loser gives its chunk back.
 *  - discard (thin): a chunk -> NULL, once ZEROs have covered the whole
 *    of it since it was last written (a bit per 64th of the chunk, set by
 *    ZEROs and cleared by writes: swap and filesystems discard in pieces).  A request that read the old pointer may still be using it, so
 *    the chunk is retired, and the keeper reuses it only after
 *    vd_target_quiesce: the epoch flips and every request that entered in
 *    the old one has left.  A write racing a discard of the same range
 *    lands in the retired chunk: as if it came first, which it may.
 *  - move (drain, rebalance, yield): the mover turns on tracking (a bit
 *    per piece of the extent, set when a WRITE or ZERO that touched it
 *    completes), copies the whole extent while requests go on, then
 *    copies again the pieces written meanwhile, until few are left.
 *    Then vd_target_pause parks new requests and waits for the target to
 *    empty; the mover copies the last written pieces and places the copy;
 *    vd_target_resume submits the parked requests.  A bit is set only
 *    once the write is done, so a piece copied while a write to it was in
 *    flight is copied again.  Requests wait only for that last round.
 * A save (save.c) tracks the same way over the logical range (vtrack)
 * and reads its last round while paused, with requests marked through.
 * A worker reads the placement again as it queues each segment and moves
 * only the segments that now live on its device; a segment whose chunk
 * was discarded meanwhile is skipped (READ: zeros). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "engine-internal.h"
#include "util.h"

/* Sleep briefly while waiting for requests to leave. */
static void nap(void)
{
  struct timespec ts = { 0, 50000 };
  nanosleep(&ts, NULL);
}

/* Set up the parking lot and locks of a target. */
void vd_target_init(struct vd_target *t)
{
  pthread_mutex_init(&t->park_lock, NULL);
  pthread_mutex_init(&t->place_lock, NULL);
  pthread_mutex_init(&t->move_lock, NULL);
  pthread_mutex_init(&t->heal_lock, NULL);
  /* A mirror's route reads every placement: its copies are placements. */
  atomic_store(&t->placed, t->stock != NULL || t->map.copies > 1);
}

/* Destroy what vd_target_init made; the target is idle. */
void vd_target_fini(struct vd_target *t)
{
  pthread_mutex_destroy(&t->park_lock);
  pthread_mutex_destroy(&t->place_lock);
  pthread_mutex_destroy(&t->move_lock);
  pthread_mutex_destroy(&t->heal_lock);
}

/* Append io to one of the target's parked lists under park_lock. */
static void park_append(struct vd_target *t, struct vd_io *io)
{
  io->park_next = NULL;
  if (t->parked_tail)
    t->parked_tail->park_next = io;
  else
    t->parked = io;
  t->parked_tail = io;
}

/* Count io in the current epoch unless the target is paused, in which
 * case park it: true when it entered, false when parked. */
bool vd_target_enter(struct vd_target *t, struct vd_io *io)
{
  for (;;) {
    unsigned e = atomic_load(&t->epoch) & 1;
    atomic_fetch_add(&t->inflight[e], 1);
    /* Counted in an epoch that already flipped: a quiesce may not wait
     * for this request, so count it in the new one. */
    if ((atomic_load(&t->epoch) & 1) != e) {
      atomic_fetch_sub(&t->inflight[e], 1);
      continue;
    }
    if (!atomic_load(&t->paused) || io->through) {
      io->epoch = e;
      return true;
    }
    atomic_fetch_sub(&t->inflight[e], 1);
    pthread_mutex_lock(&t->park_lock);
    if (atomic_load(&t->paused)) {
      io->starved = false;
      park_append(t, io);
      pthread_mutex_unlock(&t->park_lock);
      return false;
    }
    pthread_mutex_unlock(&t->park_lock);
  }
}

/* The request has completed every part. */
void vd_target_leave(struct vd_target *t, struct vd_io *io)
{
  atomic_fetch_sub(&t->inflight[io->epoch], 1);
}

/* Park an entered request until the keeper has chunks again: it leaves
 * first, so a pause or quiesce never waits for it. */
void vd_target_starve(struct vd_target *t, struct vd_io *io)
{
  vd_target_leave(t, io);
  pthread_mutex_lock(&t->park_lock);
  io->starved = true;
  park_append(t, io);
  atomic_fetch_add(&t->starved, 1);
  pthread_mutex_unlock(&t->park_lock);
}

/* Unlink and return the parked requests that are (or are not) starved. */
static struct vd_io *unpark(struct vd_target *t, bool starved)
{
  struct vd_io *out = NULL, **tail = &out, *prev = NULL;

  for (struct vd_io *io = t->parked, *next; io; io = next) {
    next = io->park_next;
    if (io->starved != starved) {
      prev = io;
      continue;
    }
    if (prev)
      prev->park_next = next;
    else
      t->parked = next;
    if (t->parked_tail == io)
      t->parked_tail = prev;
    io->park_next = NULL;
    *tail = io;
    tail = &io->park_next;
    if (starved)
      atomic_fetch_sub(&t->starved, 1);
  }
  return out;
}

/* Flip the epoch and wait for the old one to empty. */
void vd_target_quiesce(struct vd_target *t)
{
  unsigned e;
  pthread_mutex_lock(&t->place_lock);
  e = atomic_fetch_add(&t->epoch, 1) & 1;
  while (atomic_load(&t->inflight[e]))
    nap();
  pthread_mutex_unlock(&t->place_lock);
}

/* Park new requests and wait until none is inside; place_lock stays held
 * until vd_target_resume, so one placement change runs at a time. */
void vd_target_pause(struct vd_target *t)
{
  pthread_mutex_lock(&t->place_lock);
  atomic_store(&t->paused, true);
  while (atomic_load(&t->inflight[0]) || atomic_load(&t->inflight[1]))
    nap();
}

/* Let requests in again and submit those that parked, in order. */
void vd_target_resume(struct vd_engine *eng, struct vd_target *t)
{
  struct vd_io *list;

  pthread_mutex_lock(&t->park_lock);
  atomic_store(&t->paused, false);
  list = unpark(t, false);
  pthread_mutex_unlock(&t->park_lock);
  pthread_mutex_unlock(&t->place_lock);
  for (struct vd_io *io = list, *next; io; io = next) {
    next = io->park_next;
    vd_engine_resubmit(eng, io);
  }
}

/* Submit again, or fail, the requests that wait for a chunk. */
void vd_target_unstarve(struct vd_engine *eng, struct vd_target *t, int err)
{
  struct vd_io *list;

  if (!atomic_load(&t->starved))
    return;
  pthread_mutex_lock(&t->park_lock);
  list = unpark(t, true);
  pthread_mutex_unlock(&t->park_lock);
  for (struct vd_io *io = list, *next; io; io = next) {
    next = io->park_next;
    if (err) {
      atomic_fetch_add(&t->enospc, 1);
      io->done(io, err);
    } else {
      vd_engine_submit(eng, io);
    }
  }
}

/* Place ext as logical part d's extent i; the caller paused the target. */
void vd_target_place(struct vd_target *t, uint32_t d, uint32_t i, struct vd_extent *ext)
{
  atomic_store(&t->placed, true);
  atomic_store(&t->ext[d][i], ext);
}

/* Take a chunk for a write: from the home device's shelf, else from any
 * other active device's.  A device being drained takes none. */
static struct vd_extent *take_chunk(struct vd_target *t, unsigned home, unsigned ndev,
                                    struct vd_device *const *devs)
{
  struct vd_extent *c = NULL;
  if (home < ndev && vd_device_state(devs[home]) == VD_DEV_ACTIVE)
    c = vd_stock_take(t->stock, home);
  for (unsigned k = 0; !c && k < ndev; k++)
    if (k != home && vd_device_state(devs[k]) == VD_DEV_ACTIVE)
      c = vd_stock_take(t->stock, k);
  return c;
}

/* The 64th of extent (d, i) that one bit of its discard mask stands
 * for, and the mask of every bit. */
static uint64_t piece_of(const struct vd_target *t, uint32_t d, uint32_t i, uint64_t *all)
{
  uint64_t bytes = vd_map_extent_bytes(&t->map, d, i), piece = (bytes + 63) / 64;
  uint64_t n;
  piece = (piece + VD_SECTOR - 1) / VD_SECTOR * VD_SECTOR;
  n = (bytes + piece - 1) / piece;
  *all = n >= 64 ? UINT64_MAX : (1ull << n) - 1;
  return piece;
}

/* Bits of the pieces [off, off+len) covers whole (whole: true) or touches. */
static uint64_t piece_bits(uint64_t off, uint64_t len, uint64_t piece, bool whole)
{
  uint64_t lo = whole ? (off + piece - 1) / piece : off / piece;
  uint64_t hi = whole ? (off + len) / piece : (off + len + piece - 1) / piece;
  if (hi <= lo)
    return 0;
  return (hi - lo >= 64 ? UINT64_MAX : ((1ull << (hi - lo)) - 1)) << lo;
}

/* Give every range a write touches a chunk, and forget that its pieces
 * were discarded: 0, or -EAGAIN when a chunk was wanted and the stock
 * had none (the caller parks the request). */
int vd_target_thin_write(struct vd_target *t, const struct vd_io *io, unsigned ndev,
                         struct vd_device *const *devs)
{
  struct vd_map_iter it;
  struct vd_segment s;

  vd_map_iter_init(&it, &t->map, io->off, io->len);
  while (vd_map_next(&it, &s)) {
    struct vd_extent *_Atomic *slot = &t->ext[s.dev][s.extent];
    struct vd_extent *c, *expect = NULL;
    uint64_t all, piece = piece_of(t, s.dev, s.extent, &all);
    uint64_t bits = piece_bits(s.ext_offset, s.len, piece, false);
    if (atomic_load_explicit(&t->zmask[s.dev][s.extent], memory_order_relaxed) & bits)
      atomic_fetch_and(&t->zmask[s.dev][s.extent], ~bits);
    if (atomic_load_explicit(slot, memory_order_acquire))
      continue;
    c = take_chunk(t, vd_device_info(t->dev[s.dev])->index, ndev, devs);
    if (!c) {
      vd_stock_kick(t->stock);
      return -EAGAIN;
    }
    if (atomic_compare_exchange_strong(slot, &expect, c))
      atomic_fetch_add(&t->chunks, 1);
    else
      vd_stock_add(t->stock, c); /* another write installed one first */
  }
  return 0;
}

/* Mark pieces of extent (d, i) discarded; retire its chunk once every
 * piece is.  True when retired. */
static bool discard_pieces(struct vd_target *t, uint32_t d, uint32_t i, uint64_t bits)
{
  uint64_t all, old;
  struct vd_extent *chunk;

  piece_of(t, d, i, &all);
  if (!bits)
    return false;
  old = atomic_fetch_or(&t->zmask[d][i], bits);
  if ((old | bits) != all || (old & bits) == bits)
    return false; /* not whole yet, or another ZERO completed it */
  atomic_store(&t->zmask[d][i], 0);
  chunk = atomic_exchange(&t->ext[d][i], NULL);
  if (!chunk)
    return false;
  atomic_fetch_sub(&t->chunks, 1);
  vd_extent_push(&t->retired, chunk);
  return true;
}

/* A ZERO on a thin volume: mark the pieces of each chunk it covers whole,
 * and retire the chunks that are then discarded whole (the rest is zeroed
 * in place by the workers).  True when any was retired. */
bool vd_target_thin_discard(struct vd_target *t, const struct vd_io *io)
{
  bool any = false;

  for (uint32_t d = 0; d < t->map.ndev; d++) {
    struct vd_map_iter it;
    struct vd_segment s;
    uint32_t cur = UINT32_MAX;
    uint64_t bits = 0;

    /* Device order: a chunk's pieces come one after another. */
    vd_map_iter_init_dev(&it, &t->map, io->off, io->len, d);
    for (bool more = true; more;) {
      uint64_t all, piece;
      more = vd_map_next(&it, &s);
      if (!more || s.extent != cur) {
        if (cur != UINT32_MAX)
          any |= discard_pieces(t, d, cur, bits);
        bits = 0;
        cur = more ? s.extent : UINT32_MAX;
      }
      if (!more)
        break;
      piece = piece_of(t, d, s.extent, &all);
      bits |= piece_bits(s.ext_offset, s.len * s.rows, piece, true);
    }
  }
  if (any)
    vd_stock_kick(t->stock);
  return any;
}
/* Record the pieces of the tracked extent that a finished write touched,
 * and the logical pieces for a save. */
void vd_target_written(struct vd_target *t, const struct vd_io *io)
{
  struct vd_track *tr = atomic_load_explicit(&t->track, memory_order_acquire);
  struct vd_track *vt = atomic_load_explicit(&t->vtrack, memory_order_acquire);
  struct vd_map_iter it;
  struct vd_segment s;

  if (vt && io->len)
    for (uint64_t p = io->off / vt->piece; p <= (io->off + io->len - 1) / vt->piece &&
         p < vt->npieces; p++)
      atomic_fetch_or(&vt->bits[p / 64], 1ull << (p % 64));
  if (!tr)
    return;
  vd_map_iter_init_dev(&it, &t->map, io->off, io->len, tr->d);
  while (vd_map_next(&it, &s)) {
    uint64_t lo, hi;
    if (s.extent != tr->i)
      continue;
    lo = s.ext_offset / tr->piece;
    hi = (s.ext_offset + s.len * s.rows - 1) / tr->piece;
    for (uint64_t p = lo; p <= hi && p < tr->npieces; p++)
      atomic_fetch_or(&tr->bits[p / 64], 1ull << (p % 64));
  }
}

/* Start or stop tracking.  No pause is needed: a write looks for the
 * record only once its data is on the device, so one that finds none
 * finished before the copy that follows began. */
void vd_target_track(struct vd_target *t, struct vd_track *tr)
{
  atomic_store(&t->track, tr);
}

/* Start (claiming the record) or stop a save's tracking; the same
 * reasoning holds. */
bool vd_target_track_volume(struct vd_target *t, struct vd_track *tr)
{
  struct vd_track *none = NULL;
  if (!tr) {
    atomic_store(&t->vtrack, NULL);
    return true;
  }
  return atomic_compare_exchange_strong(&t->vtrack, &none, tr);
}

/* Move the recorded bits out and clear them. */
uint32_t vd_track_take(struct vd_track *tr, uint64_t *out)
{
  uint32_t n = 0;
  for (uint32_t w = 0; w < (tr->npieces + 63) / 64; w++) {
    out[w] = atomic_exchange(&tr->bits[w], 0);
    n += (uint32_t)__builtin_popcountll(out[w]);
  }
  return n;
}
