/* nvmet-plain.c: a plain folder that behaves as nvmet's configfs does for
 * what nvmet.c writes: mkdir makes an item's attribute files and default
 * groups, rmdir takes them away and refuses an item whose groups still
 * hold entries, and an attribute must exist to be written.  vramd uses it
 * when $VRAMD_NVMET_ROOT names such a folder, so that the API and the
 * unit tests run where the kernel's target is absent; the kernel tests
 * use configfs itself. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvmet.h"

/* Linux 6.12's attributes of what nvmet.c makes, by the group it is in. */
static const char *const subsystem_attrs[] = { "attr_allow_any_host", NULL };
static const char *const namespace_attrs[] = { "device_path", "enable", "revalidate_size", NULL };
static const char *const port_attrs[] = { "addr_trtype", "addr_adrfam", "addr_traddr",
                                          "addr_trsvcid", NULL };
static const char *const host_attrs[] = { "dhchap_key", NULL };
static const char *const groups[] = { "namespaces", "allowed_hosts", "subsystems", NULL };

/* The name of path's parent folder, into out. */
static const char *parent_name(const char *path, char *out, size_t len)
{
  const char *end = strrchr(path, '/'), *start = end;
  out[0] = '\0';
  if (!end)
    return out;
  while (start > path && start[-1] != '/')
    start--;
  snprintf(out, len, "%.*s", (int)(end - start), start);
  return out;
}

/* Make an attribute file with its first value. */
static void attr(const char *dir, const char *name)
{
  char p[PATH_MAX];
  int fd;
  if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p)
    return;
  if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0) {
    if (!strcmp(name, "enable") || !strcmp(name, "attr_allow_any_host"))
      (void)!write(fd, "0", 1);
    close(fd);
  }
}

/* Make a default group folder. */
static void group(const char *dir, const char *name)
{
  char p[PATH_MAX];
  if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) < sizeof p)
    mkdir(p, 0755);
}

/* mkdir, then what configfs would show in the new item. */
static int plain_mkdir(const char *path)
{
  const char *const *attrs = NULL;
  char parent[NAME_MAX + 1];

  if (mkdir(path, 0755))
    return -errno;
  parent_name(path, parent, sizeof parent);
  if (!strcmp(parent, "subsystems")) {
    attrs = subsystem_attrs;
    group(path, "namespaces");
    group(path, "allowed_hosts");
  } else if (!strcmp(parent, "namespaces")) {
    attrs = namespace_attrs;
  } else if (!strcmp(parent, "ports")) {
    attrs = port_attrs;
    group(path, "subsystems");
  } else if (!strcmp(parent, "hosts")) {
    attrs = host_attrs;
  }
  for (unsigned i = 0; attrs && attrs[i]; i++)
    attr(path, attrs[i]);
  return 0;
}

/* rmdir of an item: its groups must be empty; its attributes go with it. */
static int plain_rmdir(const char *path)
{
  static const char *const *const all[] = { subsystem_attrs, namespace_attrs, port_attrs,
                                            host_attrs };
  char p[PATH_MAX];

  for (unsigned i = 0; groups[i]; i++)
    if ((size_t)snprintf(p, sizeof p, "%s/%s", path, groups[i]) < sizeof p && rmdir(p) &&
        errno != ENOENT)
      return -ENOTEMPTY;
  for (unsigned k = 0; k < sizeof all / sizeof all[0]; k++)
    for (unsigned i = 0; all[k][i]; i++)
      if ((size_t)snprintf(p, sizeof p, "%s/%s", path, all[k][i]) < sizeof p)
        unlink(p);
  return rmdir(path) ? -errno : 0;
}

/* Attributes are written as configfs takes them: they must exist. */
static int plain_write(const char *path, const char *value)
{
  return vd_nvmet_configfs.write(path, value);
}

static int plain_symlink(const char *target, const char *link)
{
  return vd_nvmet_configfs.symlink(target, link);
}

static int plain_unlink(const char *path) { return vd_nvmet_configfs.unlink(path); }

const struct vd_nvmet_fs vd_nvmet_plain = {
  .mkdir = plain_mkdir, .rmdir = plain_rmdir, .write = plain_write,
  .symlink = plain_symlink, .unlink = plain_unlink,
};
