/* guard.c: connection records for one HTTP listener.  MHD's own timeout
 * is an idle timeout, so a client that trickles a byte now and then would
 * hold its connection for ever; here each connection gets a deadline from
 * accept to a complete request, and another to send the answer, enforced
 * by a thread that shuts the socket down (MHD then closes it).  Peers are
 * counted by uid on the Unix socket (SO_PEERCRED) and by address on TCP. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "guard.h"
#include "peer.h"
#include "util.h"

/* One open connection. */
struct conn {
  struct conn *prev, *next;
  struct vd_guard *g;
  int fd;
  char peer[VD_PEER_NAME_MAX];   /* "uid 1000", an address or an IPv6 /64 */
  char refused[160];               /* why it gets 503; "" when served */
  bool counted;                    /* holds one of max_conns */
  bool working;                    /* the daemon works on it: no deadline */
  bool answering;                  /* its answer is queued */
  bool shut;                       /* shut down past its deadline */
  uint64_t deadline_ns;
};

struct vd_guard {
  struct vd_guard_conf conf;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  bool stop;
  struct conn *head;
  unsigned served;
  /* Log budgets of this listener's own: a flood on one listener must
   * not silence the other's lines. */
  struct vd_ratelimit rl_refused, rl_closed;
};

/* Who is on the other end of fd, named as common/peer.h names peers (an
 * IPv6 peer is its /64); *root when it is uid 0 on a Unix socket. */
static void peer_of(int fd, char *out, size_t len, bool *root)
{
  struct vd_peer p;

  *root = false;
  if (vd_peer_of(fd, &p)) {
    snprintf(out, len, "an unknown peer");
    return;
  }
  vd_peer_name(&p, out, len);
  *root = vd_peer_is_root(&p);
}

/* Connections counted against max_conns from peer; lock held. */
static unsigned peer_count(struct vd_guard *g, const char *peer)
{
  unsigned n = 0;
  for (struct conn *k = g->head; k; k = k->next)
    n += k->counted && !strcmp(k->peer, peer);
  return n;
}

/* Admit a new connection, or say why it is refused; lock held. */
static void admit(struct vd_guard *g, struct conn *k, bool root)
{
  const struct vd_guard_conf *f = &g->conf;
  uint64_t now = vd_now_ns();

  if (g->served >= f->max_conns)
    snprintf(k->refused, sizeof k->refused,
             "vramd is busy: it serves %u connections at once and all are taken; "
             "try again in a few seconds", f->max_conns);
  else if (!(root && f->root_exempt) && peer_count(g, k->peer) >= f->per_peer)
    snprintf(k->refused, sizeof k->refused,
             "vramd is busy: %s already has %u connections open, the most one peer "
             "may; try again once they end", k->peer, f->per_peer);
  k->counted = !k->refused[0];
  g->served += k->counted;
  k->deadline_ns = now + (uint64_t)(k->counted ? f->deadline_ms : f->busy_ms) * 1000000ull;
  k->next = g->head;
  if (g->head)
    g->head->prev = k;
  g->head = k;
}

/* A connection has started: record it. */
static void started(struct vd_guard *g, struct MHD_Connection *c, void **ctx)
{
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct conn *k = calloc(1, sizeof *k);
  bool root;

  if (!ci || !k) {
    /* Untracked, it would have no deadline: close it at once. */
    if (ci)
      shutdown(ci->connect_fd, SHUT_RDWR);
    free(k);
    vd_warn_rl("http %s: cannot track a new connection (out of memory); closed it",
               g->conf.name);
    return;
  }
  k->g = g;
  k->fd = ci->connect_fd;
  peer_of(k->fd, k->peer, sizeof k->peer, &root);
  pthread_mutex_lock(&g->lock);
  admit(g, k, root);
  pthread_cond_signal(&g->wake);
  pthread_mutex_unlock(&g->lock);
  *ctx = k;
  if (k->refused[0])
    vd_log_rl(&g->rl_refused, VD_LOG_WARNING, "http %s: refusing a connection from %s "
              "(503, closed after %u ms): %s", g->conf.name, k->peer, g->conf.busy_ms,
              k->refused);
}

/* A connection has closed: forget it (MHD closes the fd after this). */
static void closed(struct vd_guard *g, struct conn *k)
{
  pthread_mutex_lock(&g->lock);
  if (k->prev)
    k->prev->next = k->next;
  else
    g->head = k->next;
  if (k->next)
    k->next->prev = k->prev;
  g->served -= k->counted;
  pthread_mutex_unlock(&g->lock);
  free(k);
}

/* MHD's notify-connection hook. */
void vd_guard_notify(void *cls, struct MHD_Connection *c, void **ctx,
                     enum MHD_ConnectionNotificationCode code)
{
  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    started(cls, c, ctx);
  else if (*ctx)
    closed(cls, *ctx);
  if (code == MHD_CONNECTION_NOTIFY_CLOSED)
    *ctx = NULL;
}

/* The connection's record, or NULL. */
static struct conn *conn_of(struct MHD_Connection *c)
{
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

/* Why c is refused, or NULL. */
const char *vd_guard_refused(struct MHD_Connection *c)
{
  struct conn *k = conn_of(c);
  return k && k->refused[0] ? k->refused : NULL;
}

/* Set c's phase: no deadline while the daemon works on it, else a fresh
 * one (a refused connection gets only busy_ms to read its answer). */
static void set_phase(struct MHD_Connection *c, bool working)
{
  struct conn *k = conn_of(c);
  struct vd_guard *g;

  if (!k)
    return;
  g = k->g;
  pthread_mutex_lock(&g->lock);
  k->working = working;
  k->answering = !working;
  k->deadline_ns = vd_now_ns() +
                   (uint64_t)(k->counted ? g->conf.deadline_ms : g->conf.busy_ms) * 1000000ull;
  pthread_cond_signal(&g->wake);
  pthread_mutex_unlock(&g->lock);
}

/* The request is complete; the daemon works on it. */
void vd_guard_working(struct MHD_Connection *c)
{
  set_phase(c, true);
}

/* The answer is queued; it has a deadline to leave. */
void vd_guard_sending(struct MHD_Connection *c)
{
  set_phase(c, false);
}

/* Shut down every connection past its deadline; returns how many of them
 * were served, with one peer among them in peer, and the next deadline in
 * *next; lock held. */
static unsigned sweep(struct vd_guard *g, uint64_t now, uint64_t *next, char *peer,
                      size_t len)
{
  unsigned n = 0;
  *next = UINT64_MAX;
  for (struct conn *k = g->head; k; k = k->next) {
    if (k->working || k->shut)
      continue;
    if (now < k->deadline_ns) {
      *next = k->deadline_ns < *next ? k->deadline_ns : *next;
      continue;
    }
    /* MHD sees the hang-up on its next poll and closes the connection;
     * the fd stays valid until closed() has run under this lock. */
    shutdown(k->fd, SHUT_RDWR);
    k->shut = true;
    /* Refused ones were logged when refused. */
    if (k->counted && !n++)
      snprintf(peer, len, "%s", k->peer);
  }
  return n;
}

/* The deadline thread: sleep until the next deadline, then sweep. */
static void *deadline_thread(void *arg)
{
  struct vd_guard *g = arg;
  char peer[sizeof ((struct conn *)0)->peer];
  uint64_t next;
  unsigned n;

  vd_thread_name("http-%s", g->conf.name);
  pthread_mutex_lock(&g->lock);
  while (!g->stop) {
    n = sweep(g, vd_now_ns(), &next, peer, sizeof peer);
    if (n) {
      pthread_mutex_unlock(&g->lock);
      vd_log_rl(&g->rl_closed, VD_LOG_WARNING, "http %s: closed %u connection%s (%s "
                "among them) that took longer than %u ms to send a request or read "
                "its answer", g->conf.name, n, n == 1 ? "" : "s", peer, g->conf.deadline_ms);
      pthread_mutex_lock(&g->lock);
      continue;
    }
    if (next == UINT64_MAX) {
      pthread_cond_wait(&g->wake, &g->lock);
    } else {
      struct timespec ts = { .tv_sec = (time_t)(next / 1000000000ull),
                             .tv_nsec = (long)(next % 1000000000ull) };
      pthread_cond_timedwait(&g->wake, &g->lock, &ts);
    }
  }
  pthread_mutex_unlock(&g->lock);
  return NULL;
}

/* Start a guard with its deadline thread. */
int vd_guard_start(const struct vd_guard_conf *conf, struct vd_guard **out,
                   char *err, size_t errlen)
{
  struct vd_guard *g = calloc(1, sizeof *g);
  pthread_condattr_t ca;
  int rc;

  if (!g) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  g->conf = *conf;
  pthread_mutex_init(&g->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g->wake, &ca);
  pthread_condattr_destroy(&ca);
  rc = vd_thread_start(&g->thread, VD_API_STACK, deadline_thread, g);
  if (rc) {
    snprintf(err, errlen, "cannot start the %s deadline thread: %s", conf->name, strerror(rc));
    goto out_free;
  }
  *out = g;
  return 0;

out_free:
  pthread_cond_destroy(&g->wake);
  pthread_mutex_destroy(&g->lock);
  free(g);
  return -rc;
}

/* Wait up to ms for every request being worked on or answered to be
 * sent and closed, so a stop does not cut answers off. */
void vd_guard_drain(struct vd_guard *g, unsigned ms)
{
  const struct timespec tick = { 0, 10 * 1000000L };
  for (unsigned waited = 0; waited < ms; waited += 10) {
    bool busy = false;
    pthread_mutex_lock(&g->lock);
    for (struct conn *k = g->head; k && !busy; k = k->next)
      busy = (k->working || k->answering) && !k->shut;
    pthread_mutex_unlock(&g->lock);
    if (!busy)
      return;
    nanosleep(&tick, NULL);
  }
}

/* Stop the thread; every connection is gone by now (MHD is stopped). */
void vd_guard_stop(struct vd_guard *g)
{
  if (!g)
    return;
  pthread_mutex_lock(&g->lock);
  g->stop = true;
  pthread_cond_signal(&g->wake);
  pthread_mutex_unlock(&g->lock);
  pthread_join(g->thread, NULL);
  pthread_cond_destroy(&g->wake);
  pthread_mutex_destroy(&g->lock);
  free(g);
}
