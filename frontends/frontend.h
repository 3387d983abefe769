/* frontend.h: what every block frontend (NBD, ublk) offers the daemon,
 * and the little of the daemon it sees: the engine and the registry.
 * A frontend knows volumes and the engine, never HTTP, OpenCL or the
 * daemon object. */
#ifndef VRAMD_FRONTEND_H
#define VRAMD_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "volume.h"

/* The daemon as a frontend sees it; valid from start to stop. */
struct vd_frontend_host {
  struct vd_engine *eng;     /* where requests go; pinned host buffers */
  struct vd_registry *reg;   /* volumes by name (NBD exports) */
};

/* A frontend's settings, opaque to the daemon, which keeps, copies and
 * compares them (SIGHUP) without knowing what they hold: the frontend
 * casts the bytes to a struct of its own, as struct sockaddr_storage is
 * cast to a socket address. */
#define VD_FRONTEND_CONFIG_BYTES 2048
struct vd_frontend_config {
  union {
    max_align_t align;
    unsigned char b[VD_FRONTEND_CONFIG_BYTES];
  } u;
};

/* What .config returns for a key that is not the frontend's. */
#define VD_CONFIG_NOT_MINE 1

/* A frontend's pinned host staging, for GET /v1 and metrics: buffers of
 * unit_bytes each, one per session (NBD) or per queue (ublk). */
struct vd_frontend_pinned {
  const char *unit;           /* "session" or "queue" */
  uint64_t unit_bytes;        /* pinned per unit */
  unsigned max_units;         /* cap a setting puts on units; 0: none */
  unsigned units_per_volume;  /* at most, per volume; 0: not per volume */
  unsigned units;             /* holding staging now */
  uint64_t max_request;       /* largest READ or WRITE it serves */
};

/* One client of a volume, for GET /v1/volumes/{name}. */
enum vd_client_kind {
  VD_CLIENT_UNIX,    /* a process on the NBD Unix socket: pid and uid */
  VD_CLIENT_TCP,     /* an NBD client over TCP: address */
  VD_CLIENT_KERNEL,  /* a kernel block device: device */
};
struct vd_frontend_client {
  enum vd_client_kind kind;
  int pid;                   /* UNIX: from SO_PEERCRED; else -1 */
  long long uid;             /* UNIX: from SO_PEERCRED; else -1 */
  char address[64];          /* TCP: "192.0.2.7:40000", "[2001:db8::1]:40000" */
  char device[64];           /* KERNEL: "/dev/ublkb0" */
};
/* Called once per client, under the frontend's lock: no blocking. */
typedef void vd_client_fn(void *arg, const struct vd_frontend_client *c);

/* A frontend's settings, like an nbdkit plugin's .config and
 * .config_help.  Config keys equal long option names. */
struct vd_frontend_settings {
  const char *const *keys;   /* NULL-terminated: the long options to take */
  const char *const *args;   /* per key, the form of its value, for --help */
  const char *help;          /* the title of its options in --help */
  /* Built-in defaults into every byte of c (settings are compared whole). */
  void (*defaults)(struct vd_frontend_config *c);
  /* Apply one "key = value": 0, -EINVAL with err filled, or
   * VD_CONFIG_NOT_MINE for a key that is not the frontend's. */
  int (*config)(struct vd_frontend_config *c, const char *key, const char *value,
                char *err, size_t errlen);
  /* A string setting by key, for the API and logs; NULL for another. */
  const char *(*get_str)(const struct vd_frontend_config *c, const char *key);
  /* A key's value in c as --help gives a default: as a config file would
   * write it, "none", or "auto; how it is worked out".  -ENOENT for a
   * key that is not the frontend's. */
  int (*show)(const struct vd_frontend_config *c, const char *key, char *buf, size_t len);
};

struct vd_frontend {
  enum vd_frontend_kind kind;
  const char *name;
  const struct vd_frontend_settings *settings;  /* NULL: it has none */
  /* Start listeners or probe the kernel at daemon start, with c's settings. */
  int (*start)(const struct vd_frontend_host *d, const struct vd_frontend_config *c,
               char *err, size_t errlen);
  /* Disconnect every client and detach every device at shutdown. */
  void (*stop)(const struct vd_frontend_host *d);
  /* Expose a new volume; fills v->device_path where there is one. */
  int (*add)(const struct vd_frontend_host *d, struct vd_volume *v, char *err, size_t errlen);
  /* Withdraw a volume: -EBUSY when in use and !force; with force,
   * disconnect its clients first.  Returns once no request is running. */
  int (*remove)(const struct vd_frontend_host *d, struct vd_volume *v, bool force,
                char *err, size_t errlen);
  /* Optional: call fn for each client of v (sessions, kernel device). */
  void (*clients)(const struct vd_frontend_host *d, struct vd_volume *v, vd_client_fn *fn,
                  void *arg);
  /* Optional: tell v's kernel device (if it has one) that v is now bytes
   * long; with check, only say whether it could, changing nothing.
   * -EOPNOTSUPP with err naming what is needed when it cannot.  NULL: no
   * device to tell (NBD clients see the new size on reconnect). */
  int (*resize)(const struct vd_frontend_host *d, struct vd_volume *v, uint64_t bytes,
                bool check, char *err, size_t errlen);
  /* What it pins of host memory, with its settings' bounds (as started). */
  void (*pinned)(const struct vd_frontend_host *d, struct vd_frontend_pinned *out);
};

/* The most frontends a build has. */
#define VD_FRONTENDS_MAX 4

/* The frontends built into vramd, NULL-terminated, in start order. */
extern const struct vd_frontend *const vd_frontends[];

/* True when a block device is in use (mounted, active swap, held by
 * md/dm, or open by a process other than vramd), with what fills as
 * "mounted on /mnt; unmount it": what a detach or delete without force
 * refuses (bdev.c). */
bool vd_bdev_in_use(const char *path, char *what, size_t len);

#endif
