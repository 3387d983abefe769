/* settings.h: the daemon's settings (config.c): built-in defaults, the
 * config file and options.  Not config.h, which is autoconf's. */
#ifndef VRAMD_SETTINGS_H
#define VRAMD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend.h"
#include "spec.h"

/* Thin volumes: see docs/design-decisions.md for both. */
#define VD_THIN_CHUNK_DEFAULT (64ull << 20)
/* Background scrubs: once a day, at 1 GiB/s (docs/design-decisions.md,
 * "Integrity"). */
#define VRAMD_SCRUB_INTERVAL_DEFAULT (24ull * 3600)
#define VRAMD_SCRUB_RATE_DEFAULT (1ull << 30)
#define VD_THIN_STOCK_DEFAULT 4
/* Pinned staging per save, load or restore (docs/limits.md). */
#define VD_SAVE_STAGING_DEFAULT (32ull << 20)

#define VD_MAX_CLI_VOLUMES 64
/* Engine workers per device: more only contend in the GPU driver. */
#define VD_WORKERS_DEFAULT 1

struct vramd_config {
  char config_file[256];
  char api_socket[108];
  char metrics_listen[128]; /* "off" = none */
  char state_dir[256];
  /* NVMe/TCP exports are named "<this>:<volume>"; "" until defaults()
   * sets nqn.2026-11.org.vramd:<hostname>. */
  char nqn_prefix[VD_NQN_MAX - VD_NAME_MAX];
  unsigned device_types;    /* 0 = GPU|accelerator */
  bool reserve_set;
  uint64_t reserve;
  uint64_t extent_size;
  unsigned workers;         /* engine workers per device, 0 = default */
  /* Pinned host memory: the engine's batched small-request path and its
   * staging per worker (the frontends' staging is in their settings). */
  bool small_batch;
  /* write-ack: answer a QD1 WRITE once queued on the device (true) or
   * once landed in VRAM (false); engine.h says what each promises. */
  bool write_ack_queued;
  /* Background scrubs of volumes with checksums: every scrub_interval
   * seconds (0: none), at scrub_rate bytes a second (integrity.c). */
  uint64_t scrub_interval;
  uint64_t scrub_rate;
  /* driver-copies: a private copy of the vendor library per device
   * (pool.h, enum vd_driver_copies). */
  int driver_copies;
  uint64_t small_max;
  uint64_t small_staging;
  /* Pinned staging of each save, load or restore job (save.c). */
  uint64_t save_staging;
  /* Thin volumes: the chunk they take and give back, and how many zeroed
   * chunks the keeper holds ready per device while thin volumes exist. */
  uint64_t thin_chunk;
  unsigned thin_stock;
  /* Free memory to leave other processes on every device (0: off);
   * `vramctl device set ID --yield-floor` sets one device's. */
  uint64_t yield_floor;
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

/* Set built-in defaults, the frontends' too. */
void vramd_config_defaults(struct vramd_config *c, const struct vd_frontend *const *frontends);
/* Apply one "key = value" setting (config keys equal long option names);
 * a key the daemon does not know goes to the frontend it belongs to.
 * Returns 0 or -EINVAL with err filled. */
int vramd_config_set(struct vramd_config *c, const char *key, const char *value,
                     char *err, size_t errlen);
/* The form of a daemon option's value for --help ("SIZE"); NULL for a
 * flag or a frontend's key. */
const char *vramd_config_arg(const char *key);
/* A setting's value in c as --help gives a default: as vramd.conf would
 * write it, "none", or "auto; how it is worked out"; the frontends'
 * keys too.  -ENOENT for a flag or an unknown key. */
int vramd_config_show(const struct vramd_config *c, const char *key, char *buf, size_t len);
/* A frontend's string setting by key (e.g. nbd-socket), or NULL. */
const char *vramd_config_str(const struct vramd_config *c, const char *key);
/* Read a config file; a missing file is fine when !must_exist. */
int vramd_config_load(struct vramd_config *c, const char *path, bool must_exist,
                      char *err, size_t errlen);

#endif
