/* vramd.h: the daemon's core object and the services the API and the
 * frontends call: creating and deleting volumes, looking them up. */
#ifndef VRAMD_VRAMD_H
#define VRAMD_VRAMD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "engine.h"
#include "frontend.h"
#include "pool.h"
#include "volume.h"

#define VD_MAX_CLI_VOLUMES 64

struct vramd_config {
  char config_file[256];
  char api_socket[108];
  char metrics_listen[128]; /* "off" = none */
  char state_dir[256];
  unsigned device_types;    /* 0 = GPU|accelerator */
  bool reserve_set;
  uint64_t reserve;
  uint64_t extent_size;
  unsigned workers;         /* engine workers per device, 0 = default */
  /* Pinned host memory: the engine's batched small-request path and its
   * staging per worker (the frontends' staging is in their settings). */
  bool small_batch;
  uint64_t small_max;
  uint64_t small_staging;
  bool verbose;
  bool list_devices;
  bool json;
  unsigned nvolumes;        /* --volume / volume= definitions */
  struct vd_volume_spec volumes[VD_MAX_CLI_VOLUMES];
  /* The frontends built in (NULL-terminated) and, in the same order,
   * each one's own settings, which only it reads. */
  const struct vd_frontend *const *frontends;
  struct vd_frontend_config fe[VD_FRONTENDS_MAX];
};

/* What vramd did to run safely under swap (see safety.c); shown by
 * `vramctl status`.  *_err is the errno when a step was not done. */
struct vd_safety {
  bool mlocked;           /* mlockall(MCL_CURRENT|MCL_FUTURE) */
  bool io_flusher;        /* prctl(PR_SET_IO_FLUSHER) */
  bool oom_protected;     /* oom_score_adj is -1000 */
  int oom_score_adj;      /* as read back */
  int mlock_err, io_flusher_err, oom_err;
};

struct vd_api;

struct vramd {
  struct vramd_config cfg;
  struct vd_safety safety;
  struct vd_pool *pool;
  struct vd_engine *eng;
  struct vd_registry reg;
  struct vd_frontend_host host; /* what the frontends see of the above */
  pthread_mutex_t admin_lock; /* serialises create and delete */
  time_t started;
  struct vd_api *api;         /* the HTTP side, NULL until started */
  bool api_socket_made;       /* vramd made the API socket (not systemd) */
  bool state_disabled;        /* the state file could not be set aside */
  /* Whether the last save worked, and why not (GET /v1 "state", the
   * vramd_state_saving metric); under state_lock. */
  pthread_mutex_t state_lock;
  bool state_saving;
  char state_error[400];
  /* Signals (signals.c): the stop signal once one came; the settings as
   * the config file alone gave them, for SIGHUP to compare against. */
  int stop_signal;
  struct vramd_config *file_cfg;
  bool verbose_cli;           /* --verbose: SIGHUP leaves it on */
};

/* The errno of a create or delete refused because the volume
 * definitions could not be saved (the API's 503 state_not_saved). */
#define VRAMD_E_STATE EROFS

/* Set built-in defaults, the frontends' too. */
void vramd_config_defaults(struct vramd_config *c, const struct vd_frontend *const *frontends);
/* Apply one "key = value" setting (config keys equal long option names);
 * a key the daemon does not know goes to the frontend it belongs to.
 * Returns 0 or -EINVAL with err filled. */
int vramd_config_set(struct vramd_config *c, const char *key, const char *value,
                     char *err, size_t errlen);
/* A frontend's string setting by key (e.g. nbd-socket), or NULL. */
const char *vramd_config_str(const struct vramd_config *c, const char *key);
/* Read a config file; a missing file is fine when !must_exist. */
int vramd_config_load(struct vramd_config *c, const char *path, bool must_exist,
                      char *err, size_t errlen);

/* Swap safety: PR_SET_IO_FLUSHER and oom_score_adj before any thread
 * starts; mlockall once OpenCL is up.  Never fork after either. */
void vd_safety_early(struct vd_safety *s);
void vd_safety_lock_memory(struct vd_safety *s);

/* frontends.c: the frontend serving kind, or NULL when none is built in. */
const struct vd_frontend *vramd_frontend(const struct vramd *d, enum vd_frontend_kind kind);
/* Start every frontend with its settings, in table order; -1 with err
 * filled at the first that fails (vramd_frontends_stop then stops all). */
int vramd_frontends_start(struct vramd *d, char *err, size_t errlen);
/* Stop every frontend, the last started first. */
void vramd_frontends_stop(struct vramd *d);

/* Records a change of the volume definitions: the registry's volumes
 * plus add (may be NULL) less the one named skip (may be NULL); called
 * with admin_lock held, after the change is checked and before anyone can
 * see it.  Nonzero (with err filled) refuses the change, which is then
 * undone.  Called again with neither to put the record back after a
 * change that failed later. */
typedef int vramd_commit_fn(struct vramd *d, const struct vd_volume *add, const char *skip,
                            char *err, size_t errlen);

/* Create, register and expose a volume; commit (NULL: none) records it.
 * The returned volume carries a reference for the caller (may be NULL to
 * not get one). */
int vramd_volume_create(struct vramd *d, const struct vd_volume_spec *spec,
                        vramd_commit_fn *commit, struct vd_volume **out,
                        char *err, size_t errlen);
/* Unexpose and delete; commit (NULL: none) records it.  -EBUSY when in
 * use and !force, -ENOENT unknown. */
int vramd_volume_delete(struct vramd *d, const char *name, bool force,
                        vramd_commit_fn *commit, char *err, size_t errlen);

/* A device stopped answering: mark it lost and fail every volume on it
 * (their I/O gets EIO at once; other devices' volumes go on).  -ENOENT
 * for an unknown id. */
int vramd_device_lost(struct vramd *d, const char *id, char *err, size_t errlen);

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
/* How often the main loop should wake up, in milliseconds. */
unsigned vramd_tick_ms(void);

/* Pinned host memory: what each part holds now and the bound the
 * settings put on it (nbd-staging x nbd-max-sessions, small-staging x
 * engine workers, plus what ublk volumes hold).  fe[i] is frontend i's
 * of cfg.frontends. */
struct vramd_pinned {
  struct vd_frontend_pinned fe[VD_FRONTENDS_MAX];
  bool have[VD_FRONTENDS_MAX];       /* the frontend reports pinned memory */
  struct vd_engine_small_stats small;
  uint64_t held, bound;
  uint64_t host_ram;                 /* physical memory of the host */
};
void vramd_pinned(struct vramd *d, struct vramd_pinned *p);

/* Make the state folder (mode 0750) before any volume is made. */
void vramd_state_prepare(struct vramd *d);
/* Recreate saved volume definitions (empty) from the state folder; a bad
 * or non-regular file is moved aside.  -EINTR when a stop signal came
 * before every volume was made (nothing is saved then). */
int vramd_state_load(struct vramd *d);
/* The commit of API creates and deletes (vramd_commit_fn): save the
 * definitions of the registry's volumes plus add less skip.  0 when saved
 * or when nothing saved changes (a volume of the config); -VRAMD_E_STATE
 * with err filled when the file could not be written. */
vramd_commit_fn vramd_state_save;
/* True while definitions are being saved; err says why they are not. */
bool vramd_state_health(struct vramd *d, char *err, size_t errlen);

/* Block every signal vramd handles; before any thread starts. */
void vramd_signals_block(void);
/* Wait up to ms for signals, acting on each (SIGHUP re-reads the config,
 * others are logged); returns the stop signal (SIGTERM, SIGINT, SIGQUIT)
 * or 0. */
int vramd_signals_wait(struct vramd *d, unsigned ms);
/* True once a stop signal came; start-up checks it between steps. */
bool vramd_stop_requested(struct vramd *d);

#endif
