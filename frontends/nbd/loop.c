/* loop.c: one thread accepts every NBD connection and negotiates all of
 * them on non-blocking sockets (handshake.c), within guard.c's caps and
 * deadline.  Only a connection that picks an export gets a thread: its
 * session thread (session.c), at most NBD_NEG_STARTS of them setting up
 * at once.  So a negotiation costs a small struct and one option's
 * buffers, never a thread. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nbd-internal.h"
#include "util.h"

#define MAX_EVENTS 64
#define ACCEPT_BURST 64          /* accepts per wake-up, so negotiations get turns */
#define PAUSE_NS 100000000ull    /* listeners rest this long when out of descriptors */
#define LOOP_STACK (256u << 10)  /* mlockall locks all of it */
/* epoll tags below any pointer: listener i is TAG_LISTEN + i. */
#define TAG_WAKE 1u
#define TAG_LISTEN 2u

static struct {
  const struct nbd_env *env;
  int ep, wake;                  /* epoll, eventfd */
  int lfd[2];
  unsigned nlfd;
  bool paused;                   /* listeners off until resume_ns */
  uint64_t resume_ns;
  pthread_t thread;
  struct nbd_guard g;
  struct nbd_neg *wait_head, *wait_tail; /* picked an export, no start slot yet */
  unsigned starting;             /* session threads setting up */
  pthread_mutex_t lock;          /* back and stop, written by other threads */
  struct nbd_neg *back;
  bool stop;
  struct nbd_neg *dead;          /* dropped this turn: freed after its events */
} L = { .ep = -1, .wake = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

/* Watch n for events (0: not at all); -errno when epoll refuses. */
static int watch(struct nbd_neg *n, uint32_t events)
{
  struct epoll_event ev = { .events = events, .data.ptr = n };
  int op = !n->events ? EPOLL_CTL_ADD : events ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;

  if (n->events == events)
    return 0;
  if (epoll_ctl(L.ep, op, n->fd, &ev))
    return -errno;
  n->events = events;
  return 0;
}

/* Take n off the start queue if it is there. */
static void unqueue(struct nbd_neg *n)
{
  struct nbd_neg **pp = &L.wait_head, *prev = NULL;
  for (; *pp; prev = *pp, pp = &(*pp)->wnext)
    if (*pp == n) {
      *pp = n->wnext;
      if (L.wait_tail == n)
        L.wait_tail = prev;
      return;
    }
}

/* End a negotiation the loop holds: close it now (that also takes it
 * out of epoll), free it after this turn, whose events may still name it. */
static void drop(struct nbd_neg *n)
{
  nbd_guard_del(&L.g, &n->g);
  unqueue(n);
  if (n->fd >= 0)
    close(n->fd);
  n->fd = -1;
  n->dead = true;
  n->wnext = L.dead;
  L.dead = n;
}

/* Free what this turn dropped. */
static void bury(void)
{
  while (L.dead) {
    struct nbd_neg *n = L.dead;
    L.dead = n->wnext;
    nbd_neg_free(n);
  }
}

/* Act on what a step asked for. */
static void dispatch(struct nbd_neg *n, int rc)
{
  if (rc == NBD_NEG_START) {
    if (watch(n, 0)) {
      drop(n);
      return;
    }
    n->wnext = NULL;
    if (L.wait_tail)
      L.wait_tail->wnext = n;
    else
      L.wait_head = n;
    L.wait_tail = n;
  } else if (rc < 0 || watch(n, rc == NBD_NEG_WRITE ? EPOLLOUT : EPOLLIN)) {
    drop(n);
  }
}

/* Hand-back from a session thread; the loop wakes to take it. */
static void hand_back(struct nbd_neg *n, int rc)
{
  uint64_t one = 1;
  pthread_mutex_lock(&L.lock);
  n->start_rc = rc;
  n->bnext = L.back;
  L.back = n;
  pthread_mutex_unlock(&L.lock);
  if (write(L.wake, &one, sizeof one) < 0)
    vd_err("nbd: cannot wake the negotiation loop: %s", strerror(errno));
}

/* Start sessions while start slots are free, oldest first. */
static void start_waiting(void)
{
  while (L.starting < NBD_NEG_STARTS && L.wait_head) {
    struct nbd_neg *n = L.wait_head;
    int rc;
    L.wait_head = n->wnext;
    if (!L.wait_head)
      L.wait_tail = NULL;
    n->g.busy = true;
    L.starting++;
    rc = nbd_session_spawn(n, hand_back);
    if (rc) {
      vd_warn_rl("nbd: cannot start a session thread: %s", strerror(-rc));
      L.starting--;
      n->g.busy = false;
      nbd_neg_refused(n, rc);
      dispatch(n, nbd_neg_step(n));
    }
  }
}

/* Collect what session threads handed back. */
static void take_back(uint64_t now)
{
  struct nbd_neg *n, *next;

  pthread_mutex_lock(&L.lock);
  n = L.back;
  L.back = NULL;
  pthread_mutex_unlock(&L.lock);
  for (; n; n = next) {
    next = n->bnext;
    L.starting--;
    n->g.busy = false;
    if (n->start_rc == 0 || L.stop || n->g.deadline_ns <= now) {
      drop(n); /* a session took the socket (fd is -1), or time is up */
      continue;
    }
    nbd_neg_refused(n, n->start_rc);
    dispatch(n, nbd_neg_step(n));
  }
}

/* Room for a newcomer from k: drop whom guard.c picks; false to refuse. */
static bool make_room(const struct vd_peer *k)
{
  struct nbd_gent *victim;
  char who[64];

  switch (nbd_guard_room(&L.g, k, &victim)) {
  case NBD_ROOM_FREE:
    return true;
  case NBD_ROOM_PEER:
    vd_warn_rl("nbd: %s has %u connections negotiating, the most one peer may; "
               "closing its oldest", vd_peer_name(k, who, sizeof who), L.g.per_peer);
    break;
  case NBD_ROOM_ALL:
    vd_warn_rl("nbd: %u connections negotiating (at most); closing the oldest of "
               "%s, the peer with the most", L.g.max,
               vd_peer_name(&((struct nbd_neg *)victim)->peer, who, sizeof who));
    break;
  default:
    vd_warn_rl("nbd: every negotiation slot of %s is setting up a session; "
               "refusing a connection", vd_peer_name(k, who, sizeof who));
    return false;
  }
  drop((struct nbd_neg *)victim);
  return true;
}

/* Take in one accepted socket: identify, make room, greet. */
static void admit(int fd, const struct sockaddr_storage *ss, uint64_t now)
{
  struct vd_peer k;
  struct nbd_neg *n;
  int one = 1;

  if (vd_peer_from(fd, ss, &k) || !make_room(&k) || !(n = nbd_neg_new(L.env, fd))) {
    close(fd);
    return;
  }
  n->peer = k;
  if (nbd_guard_add(&L.g, &n->g, &k, now + NBD_NEG_DEADLINE_S * 1000000000ull)) {
    nbd_neg_free(n);
    return;
  }
  if (k.kind != VD_PEER_UID)
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  dispatch(n, nbd_neg_step(n));
}

/* Listeners on or off (off while out of descriptors). */
static void listeners_watch(bool on)
{
  for (unsigned i = 0; i < L.nlfd; i++) {
    struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.u64 = TAG_LISTEN + i };
    (void)epoll_ctl(L.ep, EPOLL_CTL_MOD, L.lfd[i], &ev);
  }
  L.paused = !on;
}

/* Accept a burst from listener i.  Out of descriptors, the oldest
 * negotiation of the largest peer makes way; with none, listeners rest. */
static void accept_some(unsigned i, uint64_t now)
{
  for (int k = 0; k < ACCEPT_BURST; k++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(L.lfd[i], (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      admit(fd, &ss, now);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED)
      continue;
    if (errno == EMFILE || errno == ENFILE) {
      struct nbd_gent *victim = nbd_guard_largest(&L.g);
      vd_warn_rl("nbd: out of file descriptors (%s); raise LimitNOFILE",
                 victim ? "closing the oldest negotiation" : "not accepting for 100 ms");
      if (victim) {
        drop((struct nbd_neg *)victim);
        continue;
      }
      listeners_watch(false);
      L.resume_ns = now + PAUSE_NS;
    }
    return;
  }
}

/* Close negotiations past their deadline. */
static void expire(uint64_t now)
{
  struct nbd_gent *e;
  char who[64];

  while ((e = nbd_guard_expired(&L.g, now))) {
    struct nbd_neg *n = (struct nbd_neg *)e;
    vd_info_rl("nbd: %s did not finish negotiating within %d s; closing",
               vd_peer_name(&n->peer, who, sizeof who), NBD_NEG_DEADLINE_S);
    drop(n);
  }
}

/* How long epoll may sleep: until the next deadline or resume. */
static int wait_ms(uint64_t now)
{
  uint64_t t = nbd_guard_next_deadline(&L.g);
  if (L.paused && (!t || L.resume_ns < t))
    t = L.resume_ns;
  if (!t)
    return -1;
  return t <= now ? 0 : (int)((t - now + 999999) / 1000000);
}

/* Stopping: close every negotiation, then wait out the set-ups. */
static void drain(void)
{
  struct pollfd p = { .fd = L.wake, .events = POLLIN };
  uint64_t v;

  for (struct nbd_gent *e = L.g.oldest, *next; e; e = next) {
    next = e->next;
    if (!e->busy)
      drop((struct nbd_neg *)e);
  }
  while (L.starting) {
    if (poll(&p, 1, -1) > 0 && read(L.wake, &v, sizeof v) < 0 && errno != EAGAIN)
      break;
    take_back(vd_now_ns());
  }
}

/* The loop: events, handed-back set-ups, deadlines, start slots. */
static void *loop_main(void *arg)
{
  struct epoll_event ev[MAX_EVENTS];
  (void)arg;

  vd_thread_name("nbd-neg");
  for (;;) {
    uint64_t now = vd_now_ns();
    bool stop;
    int k = epoll_wait(L.ep, ev, MAX_EVENTS, wait_ms(now));

    if (k < 0 && errno != EINTR) {
      vd_err("nbd: epoll_wait: %s", strerror(errno));
      break;
    }
    now = vd_now_ns();
    for (int i = 0; i < k; i++) {
      uint64_t tag = ev[i].data.u64;
      uint64_t v;
      if (tag == TAG_WAKE) {
        if (read(L.wake, &v, sizeof v) < 0 && errno != EAGAIN)
          vd_err("nbd: eventfd: %s", strerror(errno));
      } else if (tag < TAG_LISTEN + 2) {
        accept_some((unsigned)(tag - TAG_LISTEN), now);
      } else {
        struct nbd_neg *n = ev[i].data.ptr;
        if (!n->dead)
          dispatch(n, nbd_neg_step(n));
      }
    }
    pthread_mutex_lock(&L.lock);
    stop = L.stop;
    pthread_mutex_unlock(&L.lock);
    if (stop)
      break;
    take_back(now);
    expire(now);
    if (L.paused && now >= L.resume_ns)
      listeners_watch(true);
    start_waiting();
    bury();
  }
  drain();
  bury();
  return NULL;
}

/* Close what start made. */
static void loop_close(void)
{
  if (L.ep >= 0)
    close(L.ep);
  if (L.wake >= 0)
    close(L.wake);
  L.ep = L.wake = -1;
  nbd_guard_fini(&L.g);
}

/* epoll over the listeners and the wake eventfd, then the thread. */
int nbd_loop_start(const struct nbd_env *env, const int *lfd, unsigned nlfd, char *err, size_t errlen)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_WAKE };
  int rc;

  L.env = env;
  L.nlfd = nlfd;
  L.stop = L.paused = false;
  L.back = L.wait_head = L.wait_tail = NULL;
  L.starting = 0;
  rc = nbd_guard_init(&L.g, NBD_NEG_MAX, NBD_NEG_PER_PEER);
  if (rc) {
    snprintf(err, errlen, "nbd: out of memory");
    return rc;
  }
  L.ep = epoll_create1(EPOLL_CLOEXEC);
  L.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  rc = L.ep < 0 || L.wake < 0 ? -errno : 0;
  if (!rc && epoll_ctl(L.ep, EPOLL_CTL_ADD, L.wake, &ev))
    rc = -errno;
  for (unsigned i = 0; !rc && i < nlfd; i++) {
    struct epoll_event lev = { .events = EPOLLIN, .data.u64 = TAG_LISTEN + i };
    int fl = fcntl(lfd[i], F_GETFL);
    L.lfd[i] = lfd[i];
    /* Non-blocking: a burst of accepts stops when the backlog is empty. */
    if (fl < 0 || fcntl(lfd[i], F_SETFL, fl | O_NONBLOCK) ||
        epoll_ctl(L.ep, EPOLL_CTL_ADD, lfd[i], &lev))
      rc = -errno;
  }
  if (rc) {
    snprintf(err, errlen, "nbd: epoll: %s", strerror(-rc));
    goto out_close;
  }
  rc = -vd_thread_start(&L.thread, LOOP_STACK, loop_main, NULL);
  if (rc) {
    snprintf(err, errlen, "nbd: cannot start the negotiation thread: %s", strerror(-rc));
    goto out_close;
  }
  return 0;

out_close:
  loop_close();
  return rc;
}

/* Stop accepting and negotiating; sessions already running go on. */
void nbd_loop_stop(void)
{
  uint64_t one = 1;
  pthread_mutex_lock(&L.lock);
  L.stop = true;
  pthread_mutex_unlock(&L.lock);
  if (write(L.wake, &one, sizeof one) < 0)
    vd_err("nbd: cannot wake the negotiation loop: %s", strerror(errno));
  pthread_join(L.thread, NULL);
  loop_close();
}
