/* list.c: the sessions that have a volume attached, so that removing a
 * volume or stopping the server can end them and wait until they are gone. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd-internal.h"
#include "tls.h"
#include "volume.h"

static struct {
  pthread_mutex_t lock;
  pthread_cond_t cv;        /* a session ended or detached */
  struct nbd_conn *conns;
  bool closed;              /* stopping: no session may attach */
} list = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Attach a volume and list the session, unless it or the server is going away. */
int nbd_conn_attach(struct nbd_conn *c, struct vd_volume *v)
{
  int rc = 0;
  pthread_mutex_lock(&list.lock);
  if (list.closed || atomic_load(&v->deleting))
    rc = -ESHUTDOWN;
  else {
    c->v = v;
    atomic_fetch_add(&v->clients, 1);
    c->prev = NULL;
    c->next = list.conns;
    if (list.conns)
      list.conns->prev = c;
    list.conns = c;
  }
  pthread_mutex_unlock(&list.lock);
  if (rc)
    vd_volume_put(v);
  return rc;
}

/* Detach, unlink and close a session; wakes whoever waits in kick_and_wait_locked. */
void nbd_conn_detach(struct nbd_conn *c)
{
  struct vd_volume *v;
  pthread_mutex_lock(&list.lock);
  v = c->v;
  c->v = NULL;
  if (v)
    atomic_fetch_sub(&v->clients, 1);
  if (c->prev)
    c->prev->next = c->next;
  else
    list.conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  close(c->fd);
  nbd_tls_free(c->tls);
  c->tls = NULL;
  pthread_cond_broadcast(&list.cv);
  pthread_mutex_unlock(&list.lock);
  vd_volume_put(v);
}

/* Shut down every connection matching v (all when v is NULL) and wait
 * until they are gone or detached.  Caller holds list.lock. */
static void kick_and_wait_locked(struct vd_volume *v)
{
  for (;;) {
    bool any = false;
    for (struct nbd_conn *c = list.conns; c; c = c->next)
      if (!v || c->v == v) {
        shutdown(c->fd, SHUT_RDWR);
        any = true;
      }
    if (!any)
      return;
    pthread_cond_wait(&list.cv, &list.lock);
  }
}

/* Let sessions attach again (the server starts). */
void nbd_conns_open(void)
{
  pthread_mutex_lock(&list.lock);
  list.closed = false;
  pthread_mutex_unlock(&list.lock);
}

/* No session may attach from now on. */
void nbd_conns_close(void)
{
  pthread_mutex_lock(&list.lock);
  list.closed = true;
  pthread_mutex_unlock(&list.lock);
}

/* End every session and wait until they are gone. */
void nbd_conns_end_all(void)
{
  pthread_mutex_lock(&list.lock);
  kick_and_wait_locked(NULL);
  pthread_mutex_unlock(&list.lock);
}

/* Why a volume with n clients is refused, in err; -EBUSY. */
static int say_busy(const struct vd_volume *v, int n, char *err, size_t errlen)
{
  snprintf(err, errlen, "volume '%s' has %d NBD client%s connected; disconnect %s",
           v->spec.name, n, n == 1 ? "" : "s", n == 1 ? "it" : "them");
  return -EBUSY;
}

/* Sessions of v from NBD clients, not from its kernel device. */
static int remote_locked(const struct vd_volume *v)
{
  int n = 0;
  for (struct nbd_conn *c = list.conns; c; c = c->next)
    n += c->v == v && !c->kernel;
  return n;
}

/* Refuse while NBD clients are connected: -EBUSY with err, else 0. */
int nbd_conns_idle(struct vd_volume *v, char *err, size_t errlen)
{
  int n;
  pthread_mutex_lock(&list.lock);
  n = remote_locked(v);
  pthread_mutex_unlock(&list.lock);
  return n ? say_busy(v, n, err, errlen) : 0;
}

/* Refuse while clients are connected unless forced; else mark v deleting
 * (no new session attaches it) and end its sessions. */
int nbd_conns_withdraw(struct vd_volume *v, bool force, char *err, size_t errlen)
{
  int n;
  pthread_mutex_lock(&list.lock);
  n = atomic_load(&v->clients);
  if (n && !force) {
    pthread_mutex_unlock(&list.lock);
    return say_busy(v, n, err, errlen);
  }
  atomic_store(&v->deleting, true);
  kick_and_wait_locked(v);
  pthread_mutex_unlock(&list.lock);
  return 0;
}

/* Describe one session: who is at the other end of its socket. */
static void describe(const struct nbd_conn *c, struct vd_frontend_client *out)
{
  struct ucred cr;

  memset(out, 0, sizeof *out);
  out->pid = -1;
  out->uid = -1;
  if (c->kernel) {
    out->kind = VD_CLIENT_KERNEL;
    snprintf(out->device, sizeof out->device, "%s", c->v->device_path);
  } else if (!vd_peer_address(c->fd, out->address, sizeof out->address)) {
    out->kind = VD_CLIENT_TCP;
  } else {
    out->kind = VD_CLIENT_UNIX;
    if (!vd_peer_cred(c->fd, &cr)) {
      out->pid = (int)cr.pid;
      out->uid = (long long)cr.uid;
    }
  }
}

/* Each session of v, under the list lock (its socket stays open). */
void nbd_conns_list(struct vd_volume *v, vd_client_fn *fn, void *arg)
{
  struct vd_frontend_client cl;

  pthread_mutex_lock(&list.lock);
  for (struct nbd_conn *c = list.conns; c; c = c->next)
    if (c->v == v) {
      describe(c, &cl);
      fn(arg, &cl);
    }
  pthread_mutex_unlock(&list.lock);
}
