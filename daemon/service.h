/* service.h: the daemon as a system service: its listening sockets and
 * sd_notify (service.c), the journal (journal.c). */
#ifndef VRAMD_SERVICE_H
#define VRAMD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

struct vramd;

/* Listening sockets for the API and metrics: passed by systemd, or made
 * here (the API's Unix socket mode 0660, group vramd).  metrics_fd is -1
 * when metrics-listen is off.  Returns 0 or -1 with err filled. */
int vramd_listen(struct vramd *d, int *api_fd, int *metrics_fd, char *err, size_t errlen);
/* Remove the API socket file if vramd made it. */
void vramd_unlisten(struct vramd *d);
/* sd_notify: STATUS= (after state, e.g. "READY=1\n", when not NULL),
 * WATCHDOG=1 when enabled, STOPPING=1. */
void vramd_notify_status(struct vramd *d, const char *state);
void vramd_notify_watchdog(void);
void vramd_notify_stopping(void);
/* When stderr is the journal's stream ($JOURNAL_STREAM), log to the
 * journal natively, with VOLUME=, DEVICE= and JOB= fields; true then. */
bool vramd_journal_start(void);
/* How often the main loop should wake up, in milliseconds. */
unsigned vramd_tick_ms(void);

#endif
