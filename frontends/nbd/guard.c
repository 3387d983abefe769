/* guard.c: the caps on connections still negotiating: so many in all,
 * so many per peer, each with a deadline.  A newcomer is never refused
 * because of another peer: room is made by dropping the oldest entry of
 * its own peer (at that peer's cap) or of the peer holding the most.
 * Pure bookkeeping, no sockets: the unit tests drive it directly. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nbd-internal.h"

/* Peers are at most max (each entry has one), so a flat array suffices. */
int nbd_guard_init(struct nbd_guard *g, unsigned max, unsigned per_peer)
{
  memset(g, 0, sizeof *g);
  g->peers = calloc(max, sizeof *g->peers);
  if (!g->peers)
    return -ENOMEM;
  g->max = max;
  g->per_peer = per_peer;
  return 0;
}

/* Free the peer table (entries belong to the caller). */
void nbd_guard_fini(struct nbd_guard *g)
{
  free(g->peers);
  g->peers = NULL;
}

/* The peer record of k, or NULL when k has no entries. */
static struct nbd_peer *peer_find(struct nbd_guard *g, const struct vd_peer *k)
{
  for (unsigned i = 0; i < g->max; i++)
    if (g->peers[i].n && vd_peer_eq(&g->peers[i].key, k))
      return &g->peers[i];
  return NULL;
}

/* The oldest entry of p that may be dropped (busy ones are not). */
static struct nbd_gent *peer_oldest(struct nbd_peer *p)
{
  struct nbd_gent *e = p->oldest;
  while (e && e->busy)
    e = e->pnext;
  return e;
}

/* Largest peer first; among equals, the one whose droppable entry is oldest. */
struct nbd_gent *nbd_guard_largest(struct nbd_guard *g)
{
  struct nbd_gent *best = NULL;
  unsigned best_n = 0;

  for (unsigned i = 0; i < g->max; i++) {
    struct nbd_peer *p = &g->peers[i];
    struct nbd_gent *e;
    if (!p->n || p->n < best_n)
      continue;
    e = peer_oldest(p);
    if (e && (p->n > best_n || e->deadline_ns < best->deadline_ns)) {
      best = e;
      best_n = p->n;
    }
  }
  return best;
}

/* Decide how a newcomer from k gets in. */
enum nbd_room nbd_guard_room(struct nbd_guard *g, const struct vd_peer *k,
                             struct nbd_gent **victim)
{
  struct nbd_peer *p = peer_find(g, k);

  *victim = NULL;
  if (p && p->n >= g->per_peer) {
    *victim = peer_oldest(p);
    return *victim ? NBD_ROOM_PEER : NBD_ROOM_NONE;
  }
  if (g->n < g->max)
    return NBD_ROOM_FREE;
  *victim = nbd_guard_largest(g);
  return *victim ? NBD_ROOM_ALL : NBD_ROOM_NONE;
}

/* Append e as the newest of all and of its peer. */
int nbd_guard_add(struct nbd_guard *g, struct nbd_gent *e, const struct vd_peer *k,
                  uint64_t deadline_ns)
{
  struct nbd_peer *p = peer_find(g, k);

  if (g->n >= g->max || (p && p->n >= g->per_peer))
    return -ENOSPC;
  if (!p) {
    for (p = g->peers; p->n; p++)
      ; /* a free slot exists: fewer than max entries, so fewer peers */
    p->key = *k;
    p->oldest = p->newest = NULL;
  }
  memset(e, 0, sizeof *e);
  e->peer = p;
  e->deadline_ns = deadline_ns;
  e->prev = g->newest;
  if (g->newest)
    g->newest->next = e;
  else
    g->oldest = e;
  g->newest = e;
  e->pprev = p->newest;
  if (p->newest)
    p->newest->pnext = e;
  else
    p->oldest = e;
  p->newest = e;
  p->n++;
  g->n++;
  return 0;
}

/* Unlink e from both lists; its peer's slot frees with its last entry. */
void nbd_guard_del(struct nbd_guard *g, struct nbd_gent *e)
{
  struct nbd_peer *p = e->peer;

  if (e->prev)
    e->prev->next = e->next;
  else
    g->oldest = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    g->newest = e->prev;
  if (e->pprev)
    e->pprev->pnext = e->pnext;
  else
    p->oldest = e->pnext;
  if (e->pnext)
    e->pnext->pprev = e->pprev;
  else
    p->newest = e->pprev;
  p->n--;
  g->n--;
  e->peer = NULL;
}

/* Every entry has the same time allowed, so the oldest expires first;
 * busy entries (at most NBD_NEG_STARTS) are skipped. */
struct nbd_gent *nbd_guard_expired(struct nbd_guard *g, uint64_t now_ns)
{
  for (struct nbd_gent *e = g->oldest; e && e->deadline_ns <= now_ns; e = e->next)
    if (!e->busy)
      return e;
  return NULL;
}

/* For the loop's wait: the first deadline that can expire. */
uint64_t nbd_guard_next_deadline(const struct nbd_guard *g)
{
  for (const struct nbd_gent *e = g->oldest; e; e = e->next)
    if (!e->busy)
      return e->deadline_ns;
  return 0;
}
