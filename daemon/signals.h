/* signals.h: the signals vramd takes, in its main thread (signals.c). */
#ifndef VRAMD_SIGNALS_H
#define VRAMD_SIGNALS_H

#include <stdbool.h>

struct vramd;

/* Block every signal vramd handles; before any thread starts. */
void vramd_signals_block(void);
/* Wait up to ms for signals, acting on each (SIGHUP re-reads the config,
 * others are logged); returns the stop signal (SIGTERM, SIGINT, SIGQUIT)
 * or 0. */
int vramd_signals_wait(struct vramd *d, unsigned ms);
/* True once a stop signal came; start-up checks it between steps. */
bool vramd_stop_requested(struct vramd *d);

#endif
