/* nvmet.h: the kernel's NVMe-oF target (nvmet, nvmet-tcp) set up through
 * configfs, as targetcli and nvmetcli do: a subsystem with one namespace
 * on a block device, the hosts it lets in, and a TCP port it listens on.
 * Knows configfs and nothing of vramd; daemon/export-volume.c drives it. */
#ifndef VRAMD_NVMET_H
#define VRAMD_NVMET_H

#include <stdbool.h>
#include <stddef.h>

#include "spec.h"

/* The file operations used to change the tree (0 or -errno): configfs's
 * own (vd_nvmet_configfs), or a test's that mimics configfs in a
 * temporary folder.  Reading goes to the files directly. */
struct vd_nvmet_fs {
  int (*mkdir)(const char *path);
  int (*rmdir)(const char *path);
  int (*write)(const char *path, const char *value);
  int (*symlink)(const char *target, const char *link);
  int (*unlink)(const char *path);
};
extern const struct vd_nvmet_fs vd_nvmet_configfs;
/* A plain folder that behaves as nvmet's configfs (nvmet-plain.c): the
 * root $VRAMD_NVMET_ROOT names, and the unit tests'. */
extern const struct vd_nvmet_fs vd_nvmet_plain;

/* Where the target is: the nvmet folder of configfs. */
struct vd_nvmet {
  const char *root;                 /* /sys/kernel/config/nvmet */
  const struct vd_nvmet_fs *fs;
  /* Ports whose every subsystem starts with this (vramd's NQN prefix
   * and ':') are shared with other exports at the same address. */
  const char *share_prefix;
};

/* One export as the kernel gets it. */
struct vd_nvmet_export {
  const char *nqn;                  /* the subsystem, checked with vd_nqn_valid */
  const char *device;               /* the block device behind namespace 1 */
  const char *addr, *port;          /* numeric, from vd_export_address */
  bool v6;
  bool allow_any_host;
  unsigned nhosts;
  const char *hosts[VD_EXPORT_MAX_HOSTS];
  const char *keys[VD_EXPORT_MAX_HOSTS]; /* DHHC-1 secrets, or NULL */
};

/* Make subsystem, hosts, namespace and port, or nothing: every step is
 * undone on a failure.  -EEXIST the subsystem exists, -EADDRINUSE the
 * address is another's, -EOPNOTSUPP a key where the kernel takes none,
 * or the -errno of the step that failed; err says which. */
int vd_nvmet_add(const struct vd_nvmet *t, const struct vd_nvmet_export *x, char *err,
                 size_t errlen);
/* Take a subsystem down: unlink it from its ports (removing those left
 * empty), disable and remove its namespaces, its allowed hosts (removing
 * host entries nothing else allows), then itself.  Goes on past a
 * failure and returns the first; -ENOENT when there is no such
 * subsystem. */
int vd_nvmet_remove(const struct vd_nvmet *t, const char *nqn, char *err, size_t errlen);
/* Tell connected hosts that namespace 1 changed size. */
int vd_nvmet_revalidate(const struct vd_nvmet *t, const char *nqn, char *err, size_t errlen);
/* Whether the subsystem exists with namespace 1 enabled and is linked
 * to a port (*port_id gets that port's folder name, 16 bytes). */
bool vd_nvmet_live(const struct vd_nvmet *t, const char *nqn, char *port_id);

#endif
