/* vramd.h: the daemon object, and creating and deleting its volumes
 * (core.c).  Its parts have their own headers: settings.h, safety.h,
 * frontends.h, state.h, pinned.h, service.h, signals.h, jobs.h; attaching
 * and detaching an existing volume is attach.c's, resizing it resize-volume.c's. */
#ifndef VRAMD_VRAMD_H
#define VRAMD_VRAMD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "engine.h"
#include "frontend.h"
#include "jobs.h"
#include "pool.h"
#include "safety.h"
#include "settings.h"
#include "volume.h"

struct vd_api;

struct vramd {
  struct vramd_config cfg;
  struct vd_safety safety;
  struct vd_pool *pool;
  struct vd_engine *eng;
  struct vd_registry reg;
  struct vd_stock *stock;     /* thin volumes' chunks */
  struct vd_keeper *keeper;   /* fills the stock, takes discarded chunks back */
  struct vd_copier *copier;   /* moves extents between devices (one job at a time) */
  pthread_mutex_t move_lock;  /* held by the job that moves extents */
  struct vd_frontend_host host; /* what the frontends see of the above */
  pthread_mutex_t admin_lock; /* serialises create, delete, attach, detach */
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
  struct vramd_jobs jobs;     /* long operations (jobs.c) */
  _Atomic uint64_t save_pinned; /* staging the save, load and restore jobs hold */
};

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
/* Whether a create would be taken now (spec, name, room), allocating
 * nothing: 0 or vramd_volume_create's errors. */
int vramd_volume_check(struct vramd *d, const struct vd_volume_spec *spec, char *err,
                       size_t errlen);
/* vramd_volume_create with progress and cancel (ctl may be NULL). */
int vramd_volume_create_ctl(struct vramd *d, const struct vd_volume_spec *spec,
                            vramd_commit_fn *commit, const struct vd_alloc_ctl *ctl,
                            struct vd_volume **out, char *err, size_t errlen);
/* Unexpose and delete; commit (NULL: none) records it.  -EBUSY when in
 * use and !force, -ENOENT unknown. */
int vramd_volume_delete(struct vramd *d, const char *name, bool force,
                        vramd_commit_fn *commit, char *err, size_t errlen);

/* Put what commit recorded back as the registry has it, after a change
 * that committed and then failed (core.c, attach.c); a failure is logged. */
void vramd_uncommit(struct vramd *d, vramd_commit_fn *commit);

/* Expose a volume of frontend none as how says (its frontend, attach and
 * index; attach.c), recorded by commit.  -EALREADY when it is exposed
 * already, -ENOENT unknown, -EINVAL a bad combination, -EOPNOTSUPP a
 * frontend not built in, or the frontend's error (-EEXIST: index taken).
 * *out (may be NULL) gets a reference to the volume. */
int vramd_volume_attach(struct vramd *d, const char *name, const struct vd_volume_spec *how,
                        vramd_commit_fn *commit, struct vd_volume **out, char *err,
                        size_t errlen);
/* Withdraw a volume from its frontend, keeping it (frontend none).
 * -EBUSY when in use and !force (err names the use), -ENOTCONN when not
 * exposed, -ENOENT unknown. */
int vramd_volume_detach(struct vramd *d, const char *name, bool force,
                        vramd_commit_fn *commit, char *err, size_t errlen);

/* A resize as asked: an absolute size, or (relative) bytes to add. */
struct vramd_resize {
  uint64_t size;
  bool relative;
  bool force;              /* a shrink may cut data */
};
/* What a resize did: sizes after rounding, and what a shrink cut. */
struct vramd_resized {
  uint64_t old_size, new_size;
  uint64_t cut_bytes;
  uint64_t cut_chunks;     /* thin: chunks with data in the cut range */
};
/* Grow or shrink a volume online (resize-volume.c), recorded by commit before
 * it takes effect; its kernel device follows.  -ENOENT unknown, -EINVAL
 * a bad size, -ENOSPC no room (err says what fits), -EPERM a shrink
 * without force (err says what it would cut), -EOPNOTSUPP its device
 * cannot change size (err says what is needed), -EBUSY a job moves
 * extents.  A size that rounds to the current one changes nothing. */
int vramd_volume_resize(struct vramd *d, const char *name, const struct vramd_resize *rq,
                        vramd_commit_fn *commit, struct vramd_resized *out, char *err,
                        size_t errlen);

/* A device stopped answering: mark it lost and fail every volume on it
 * (their I/O gets EIO at once; other devices' volumes go on).  -ENOENT
 * for an unknown id. */
int vramd_device_fail(struct vramd *d, const char *id, char *err, size_t errlen);

#endif
