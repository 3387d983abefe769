/* vramd.h: the daemon's core object and the services the API and the
 * frontends call: creating and deleting volumes, looking them up. */
#ifndef VRAMD_VRAMD_H
#define VRAMD_VRAMD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "engine.h"
#include "pool.h"
#include "volume.h"

#define VD_MAX_CLI_VOLUMES 64

struct vramd_config {
  char config_file[256];
  char api_socket[108];
  char nbd_socket[108];
  char nbd_listen[128];     /* "" = no TCP */
  char metrics_listen[128]; /* "off" = none */
  char state_dir[256];
  unsigned device_types;    /* 0 = GPU|accelerator */
  bool reserve_set;
  uint64_t reserve;
  uint64_t extent_size;
  unsigned workers;         /* engine workers per device, 0 = default */
  bool verbose;
  bool list_devices;
  bool json;
  unsigned nvolumes;        /* --volume / volume= definitions */
  struct vd_volume_spec volumes[VD_MAX_CLI_VOLUMES];
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

struct vramd {
  struct vramd_config cfg;
  struct vd_safety safety;
  struct vd_pool *pool;
  struct vd_engine *eng;
  struct vd_registry reg;
  pthread_mutex_t admin_lock; /* serialises create and delete */
  time_t started;
};

/* Set built-in defaults. */
void vramd_config_defaults(struct vramd_config *c);
/* Apply one "key = value" setting (config keys equal long option names).
 * Returns 0 or -EINVAL with err filled. */
int vramd_config_set(struct vramd_config *c, const char *key, const char *value,
                     char *err, size_t errlen);
/* Read a config file; a missing file is fine when !must_exist. */
int vramd_config_load(struct vramd_config *c, const char *path, bool must_exist,
                      char *err, size_t errlen);
/* Parse "name=x,size=12G,layout=stripe,devices=gpu0+gpu1,unit=64K,frontend=nbd". */
int vramd_volume_spec_parse(const char *s, struct vd_volume_spec *spec,
                            char *err, size_t errlen);

/* Swap safety: PR_SET_IO_FLUSHER and oom_score_adj before any thread
 * starts; mlockall once OpenCL is up.  Never fork after either. */
void vd_safety_early(struct vd_safety *s);
void vd_safety_lock_memory(struct vd_safety *s);

/* Create, register and expose a volume.  The returned volume carries a
 * reference for the caller (may be NULL to not get one). */
int vramd_volume_create(struct vramd *d, const struct vd_volume_spec *spec,
                        struct vd_volume **out, char *err, size_t errlen);
/* Unexpose and delete; -EBUSY when in use and !force, -ENOENT unknown. */
int vramd_volume_delete(struct vramd *d, const char *name, bool force,
                        char *err, size_t errlen);

#endif
