/* server.c: the NBD frontend's life cycle: listeners, start and stop,
 * and exporting and withdrawing volumes.  Negotiation is loop.c's, the
 * session threads session.c's, the list of sessions list.c's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"
#include "nbd-internal.h"
#include "tls.h"
#include "util.h"
#include "volume.h"

/* One per daemon. */
static struct {
  struct nbd_env env;       /* what start was given */
  int lfd[2];
  unsigned nlfd;
  bool listening;
  char unix_path[108];
} srv = { .lfd = { -1, -1 } };

/* The NBD sockets; the Unix one 0660 (README). */
static const struct vd_listen nbd_unix_listen = {
  .what = "nbd-socket", .backlog = SOMAXCONN, .mode = 0660,
};
static const struct vd_listen nbd_tcp_listen = { .what = "nbd-listen", .backlog = SOMAXCONN };

/* Listen on the Unix socket path and remember it for removal. */
static int listen_unix(const char *path, char *err, size_t errlen)
{
  int fd = vd_listen_unix(path, &nbd_unix_listen, err, errlen);
  if (fd < 0)
    return fd;
  snprintf(srv.unix_path, sizeof srv.unix_path, "%s", path);
  srv.lfd[srv.nlfd++] = fd;
  return 0;
}

/* Listen on TCP HOST:PORT. */
static int listen_tcp(const char *hostport, char *err, size_t errlen)
{
  int fd = vd_listen_tcp(hostport, &nbd_tcp_listen, err, errlen);
  if (fd < 0)
    return fd;
  srv.lfd[srv.nlfd++] = fd;
  return 0;
}

/* Close the listening sockets and remove the Unix socket file. */
static void close_listeners(void)
{
  for (unsigned i = 0; i < srv.nlfd; i++)
    close(srv.lfd[i]);
  srv.nlfd = 0;
  if (srv.unix_path[0])
    unlink(srv.unix_path);
  srv.unix_path[0] = '\0';
}

/* Each connection is a descriptor: take the hard limit, as a daemon that
 * never uses select() should, and warn when even that is short. */
static void raise_nofile(const struct nbd_settings *s)
{
  rlim_t need = NBD_NEG_MAX + (rlim_t)s->max_sessions + 256;
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl))
    return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    (void)getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
    vd_warn("nbd: the descriptor limit is %llu, under the %llu that %u negotiations, "
            "nbd-max-sessions and the rest can hold; raise LimitNOFILE",
            (unsigned long long)rl.rlim_cur, (unsigned long long)need, NBD_NEG_MAX);
}

/* Load the TLS credentials, and say at start what TCP clients meet:
 * a listener open to the network without TLS is worth a warning. */
static int tls_start(const struct nbd_settings *s, char *err, size_t errlen)
{
  char how[256];
  int rc;

  if (s->tls == NBD_TLS_OFF) {
    if (s->tls_psk[0] || s->tls_certs[0])
      vd_warn("nbd: nbd-tls = off: nbd-tls-psk and nbd-tls-certificates are not used");
    if (s->listen[0])
      vd_warn("nbd: nbd-listen %s serves clients without TLS: anyone who can reach it "
              "can read and write every NBD volume; set nbd-tls = require with "
              "nbd-tls-psk or nbd-tls-certificates, or listen on a trusted network only",
              s->listen);
    return 0;
  }
  rc = nbd_tls_creds_load(s, err, errlen);
  if (rc)
    return rc;
  vd_info("nbd: TLS %s (%s); clients authenticate with %s", nbd_tls_mode_name(s->tls),
          s->tls == NBD_TLS_REQUIRE ? "TCP clients must send NBD_OPT_STARTTLS first; "
          "on the Unix socket it is offered" : "offered: clients that skip NBD_OPT_STARTTLS "
          "are served in the clear", nbd_tls_creds_describe(how, sizeof how));
  if (s->listen[0] && s->tls == NBD_TLS_ON)
    vd_warn("nbd: nbd-listen %s with nbd-tls = on also serves TCP clients without TLS; "
            "set nbd-tls = require to refuse them", s->listen);
  return 0;
}

/* Frontend start: listeners and the negotiation loop. */
static int nbd_start(const struct vd_frontend_host *d, const struct vd_frontend_config *cfg,
                     char *err, size_t errlen)
{
  const struct nbd_settings *s = &srv.env.set;
  char a[32], b[32], c[32];
  int rc;

  srv.env.host = d;
  srv.env.set = *nbd_settings_of(cfg);
  rc = tls_start(s, err, errlen);
  if (rc)
    return rc;
  nbd_conns_open();
  raise_nofile(s);
  rc = listen_unix(s->socket, err, errlen);
  if (!rc && s->listen[0])
    rc = listen_tcp(s->listen, err, errlen);
  if (!rc)
    rc = nbd_loop_start(&srv.env, srv.lfd, srv.nlfd, err, errlen);
  if (rc)
    goto out_close;
  srv.listening = true;
  vd_info("nbd: listening on %s%s%s; %s of pinned staging per session, at most "
          "%u sessions (%s), requests up to %s; at most %u connections negotiating, "
          "%u per peer, %d s each", s->socket, s->listen[0] ? " and " : "", s->listen,
          vd_format_size(s->staging, a, sizeof a), s->max_sessions,
          vd_format_size(s->staging * s->max_sessions, b, sizeof b),
          vd_format_size(nbd_max_payload(s->staging), c, sizeof c),
          NBD_NEG_MAX, NBD_NEG_PER_PEER, NBD_NEG_DEADLINE_S);
  return 0;

out_close:
  close_listeners();
  nbd_tls_creds_free();
  return rc;
}

/* Frontend stop: no new connections, then end the live ones. */
static void nbd_stop(const struct vd_frontend_host *d)
{
  (void)d;
  vd_nbd_detach_all();
  if (!srv.listening)
    return;
  nbd_conns_close();
  nbd_loop_stop();
  srv.listening = false;
  nbd_conns_end_all();
  close_listeners();
  nbd_tls_creds_free();
}

/* Frontend add: every nbd volume is exported under its name. */
static int nbd_add(const struct vd_frontend_host *d, struct vd_volume *v, char *err,
                   size_t errlen)
{
  (void)d;
  v->device_path[0] = '\0';
  return v->spec.attach ? vd_nbd_attach(&srv.env, v, err, errlen) : 0;
}

/* Frontend remove: refuse while clients are connected unless forced,
 * asking before the kernel device goes, so a refusal changes nothing. */
static int nbd_remove(const struct vd_frontend_host *d, struct vd_volume *v, bool force,
                      char *err, size_t errlen)
{
  int rc = force ? 0 : nbd_conns_idle(v, err, errlen);
  (void)d;
  if (!rc)
    rc = vd_nbd_detach(v, force, err, errlen);
  return rc ? rc : nbd_conns_withdraw(v, force, err, errlen);
}

/* Frontend clients: the volume's sessions, kernel ones included. */
static void nbd_clients(const struct vd_frontend_host *d, struct vd_volume *v,
                        vd_client_fn *fn, void *arg)
{
  (void)d;
  nbd_conns_list(v, fn, arg);
}

/* Frontend resize: a kernel /dev/nbdN changes size in place (both paths
 * can); sessions keep the size they negotiated until they reconnect. */
static int nbd_resize(const struct vd_frontend_host *d, struct vd_volume *v, uint64_t bytes,
                      bool check, char *err, size_t errlen)
{
  (void)d;
  return check ? 0 : vd_nbd_attach_resize(v, bytes, err, errlen);
}

/* Frontend pinned: nbd-staging per session, nbd-max-sessions of them. */
static void nbd_pinned(const struct vd_frontend_host *d, struct vd_frontend_pinned *out)
{
  const struct nbd_settings *s = &srv.env.set;
  (void)d;
  *out = (struct vd_frontend_pinned){
    .unit = "session",
    .unit_bytes = s->staging,
    .max_units = s->max_sessions,
    .units = nbd_sessions_staged(),
    .max_request = nbd_max_payload(s->staging),
  };
}

const struct vd_frontend vd_frontend_nbd = {
  .kind = VD_FRONTEND_NBD,
  .name = "nbd",
  .settings = &nbd_settings,
  .start = nbd_start,
  .stop = nbd_stop,
  .add = nbd_add,
  .remove = nbd_remove,
  .clients = nbd_clients,
  .resize = nbd_resize,
  .pinned = nbd_pinned,
};
