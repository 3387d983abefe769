/* guard.h: what keeps one HTTP listener usable under a flood of slow or
 * idle connections: a count per peer, a cap on connections served, and a
 * deadline on receiving each request and on sending its answer. */
#ifndef VRAMD_API_GUARD_H
#define VRAMD_API_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

struct vd_guard;

/* One listener's limits. */
struct vd_guard_conf {
  const char *name;      /* "api" or "metrics", for the log */
  unsigned max_conns;    /* connections served at once */
  unsigned per_peer;     /* of them, from one peer (uid or IP address) */
  unsigned deadline_ms;  /* to receive a request; again to send its answer */
  unsigned busy_ms;      /* a refused connection's time to read its 503 */
  bool root_exempt;      /* uid 0 has no per-peer cap (the Unix socket) */
};

/* Start the guard and its deadline thread. */
int vd_guard_start(const struct vd_guard_conf *conf, struct vd_guard **out,
                   char *err, size_t errlen);
/* Wait up to ms until no answer is being made or sent. */
void vd_guard_drain(struct vd_guard *g, unsigned ms);
/* Stop the thread and free the guard; after MHD_stop_daemon. */
void vd_guard_stop(struct vd_guard *g);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the guard): counts peers,
 * starts the deadline, marks connections over a limit as refused. */
void vd_guard_notify(void *cls, struct MHD_Connection *c, void **ctx,
                     enum MHD_ConnectionNotificationCode code);
/* Why c must be answered 503 (a sentence), or NULL when it is served. */
const char *vd_guard_refused(struct MHD_Connection *c);
/* The request is in: no deadline while the daemon works on it. */
void vd_guard_working(struct MHD_Connection *c);
/* The answer is queued: a fresh deadline to send it. */
void vd_guard_sending(struct MHD_Connection *c);

#endif
