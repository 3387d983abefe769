/* nvmet.c: write an NVMe/TCP export into the nvmet configfs tree, and
 * take it out again.  The order is nvmetcli's: the subsystem shuts every
 * host out before anything else, hosts are let in before the namespace is
 * enabled, and the port link, which opens the TCP listener, comes last. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvmet.h"

/* mkdir in configfs makes the item with its attributes. */
static int cfs_mkdir(const char *path) { return mkdir(path, 0755) ? -errno : 0; }
static int cfs_rmdir(const char *path) { return rmdir(path) ? -errno : 0; }
static int cfs_symlink(const char *target, const char *link)
{
  return symlink(target, link) ? -errno : 0;
}
static int cfs_unlink(const char *path) { return unlink(path) ? -errno : 0; }

/* An attribute takes its value in one write(). */
static int cfs_write(const char *path, const char *value)
{
  size_t len = strlen(value);
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -errno;
  n = write(fd, value, len);
  if (n < 0 || (size_t)n != len) {
    int rc = n < 0 ? -errno : -EIO;
    close(fd);
    return rc;
  }
  return close(fd) ? -errno : 0;
}

const struct vd_nvmet_fs vd_nvmet_configfs = {
  .mkdir = cfs_mkdir, .rmdir = cfs_rmdir, .write = cfs_write,
  .symlink = cfs_symlink, .unlink = cfs_unlink,
};

/* root/fmt... as a path; false (and err) when it does not fit. */
static bool path_of(char *out, const struct vd_nvmet *t, const char *fmt, const char *a,
                    const char *b)
{
  size_t root = strlen(t->root);
  int n;

  if (root + 1 >= PATH_MAX)
    return false;
  memcpy(out, t->root, root);
  out[root] = '/';
  n = snprintf(out + root + 1, PATH_MAX - root - 1, fmt, a, b ? b : "");
  return n > 0 && (size_t)n < PATH_MAX - root - 1;
}

/* Read a small attribute without its newline; "" when unreadable. */
static void read_attr(const char *path, char *buf, size_t len)
{
  FILE *f = fopen(path, "re");

  buf[0] = '\0';
  if (!f)
    return;
  if (!fgets(buf, (int)len, f))
    buf[0] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  fclose(f);
}

/* Whether a folder has entries other than . and ..; -errno when it
 * cannot be read. */
static int dir_busy(const char *path)
{
  DIR *dir = opendir(path);
  struct dirent *e;
  int busy = 0;

  if (!dir)
    return -errno;
  while (!busy && (e = readdir(dir)))
    busy = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(dir);
  return busy;
}

/* Write an attribute of the tree, with err naming it on failure. */
static int put(const struct vd_nvmet *t, const char *path, const char *value, char *err,
               size_t errlen)
{
  int rc = t->fs->write(path, value);
  if (rc)
    snprintf(err, errlen, "cannot write %s to %s: %s", value, path, strerror(-rc));
  return rc;
}

/* Make a folder of the tree, with err naming it on failure. */
static int make(const struct vd_nvmet *t, const char *path, char *err, size_t errlen)
{
  int rc = t->fs->mkdir(path);
  if (rc)
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(-rc));
  return rc;
}

/* Link target at link, with err naming both on failure. */
static int link_to(const struct vd_nvmet *t, const char *target, const char *link, char *err,
                   size_t errlen)
{
  int rc = t->fs->symlink(target, link);
  if (rc)
    snprintf(err, errlen, "cannot link %s to %s: %s", link, target, strerror(-rc));
  return rc;
}

/* Whether every subsystem linked to port id may share it. */
static bool port_shareable(const struct vd_nvmet *t, const char *id, char *users, size_t len)
{
  char path[PATH_MAX];
  size_t plen = t->share_prefix ? strlen(t->share_prefix) : 0;
  struct dirent *e;
  bool ok = plen > 0;
  DIR *dir;

  users[0] = '\0';
  if (!path_of(path, t, "ports/%s/subsystems", id, NULL) || !(dir = opendir(path)))
    return false;
  while ((e = readdir(dir))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    if (plen == 0 || strncmp(e->d_name, t->share_prefix, plen) || e->d_name[plen] != ':') {
      ok = false;
      snprintf(users, len, "%s", e->d_name);
    }
  }
  closedir(dir);
  return ok;
}

/* Find the port at x's address (found: id set, 1; none: 0), and a free
 * number for a new one in free_id. */
static int find_port(const struct vd_nvmet *t, const struct vd_nvmet_export *x, char *id,
                     char *free_id)
{
  char path[PATH_MAX], type[16], addr[64], svc[16];
  unsigned long max = 0;
  struct dirent *e;
  int found = 0;
  DIR *dir;

  if (!path_of(path, t, "ports", "", NULL) || !(dir = opendir(path)))
    return -errno ? -errno : -ENAMETOOLONG;
  while ((e = readdir(dir))) {
    char *end;
    unsigned long n = strtoul(e->d_name, &end, 10);
    if (e->d_name[0] == '.' || *end)
      continue;
    max = n > max ? n : max;
    if (found || !path_of(path, t, "ports/%s/addr_trtype", e->d_name, NULL))
      continue;
    read_attr(path, type, sizeof type);
    path_of(path, t, "ports/%s/addr_traddr", e->d_name, NULL);
    read_attr(path, addr, sizeof addr);
    path_of(path, t, "ports/%s/addr_trsvcid", e->d_name, NULL);
    read_attr(path, svc, sizeof svc);
    if (!strcmp(type, "tcp") && !strcmp(addr, x->addr) && !strcmp(svc, x->port)) {
      snprintf(id, 16, "%.15s", e->d_name);
      found = 1;
    }
  }
  closedir(dir);
  snprintf(free_id, 16, "%lu", max + 1);
  return found;
}

/* A new port at x's address. */
static int make_port(const struct vd_nvmet *t, const struct vd_nvmet_export *x, const char *id,
                     char *err, size_t errlen)
{
  static const char *const attrs[] = { "addr_trtype", "addr_adrfam", "addr_traddr",
                                       "addr_trsvcid" };
  const char *values[] = { "tcp", x->v6 ? "ipv6" : "ipv4", x->addr, x->port };
  char path[PATH_MAX];
  int rc;

  path_of(path, t, "ports/%s", id, NULL);
  if ((rc = make(t, path, err, errlen)))
    return rc;
  for (unsigned i = 0; i < 4; i++) {
    path_of(path, t, "ports/%s/%s", id, attrs[i]);
    if ((rc = put(t, path, values[i], err, errlen)))
      goto out_rmdir;
  }
  return 0;

out_rmdir:
  path_of(path, t, "ports/%s", id, NULL);
  t->fs->rmdir(path);
  return rc;
}

/* Let host i of x in: its entry (made unless there), key, link.
 * *made says whether the entry was made here. */
static int allow_host(const struct vd_nvmet *t, const struct vd_nvmet_export *x, unsigned i,
                      bool *made, char *err, size_t errlen)
{
  char host[PATH_MAX], path[PATH_MAX];
  struct stat st;
  int rc;

  *made = false;
  if (!path_of(host, t, "hosts/%s", x->hosts[i], NULL) ||
      !path_of(path, t, "subsystems/%s/allowed_hosts/%s", x->nqn, x->hosts[i])) {
    snprintf(err, errlen, "the configfs path of host %s is too long", x->hosts[i]);
    return -ENAMETOOLONG;
  }
  if (stat(host, &st)) {
    if ((rc = make(t, host, err, errlen)))
      return rc;
    *made = true;
  }
  if (x->keys[i]) {
    char key[PATH_MAX];
    path_of(key, t, "hosts/%s/dhchap_key", x->hosts[i], NULL);
    if (access(key, F_OK)) {
      snprintf(err, errlen, "this kernel's nvmet has no DH-HMAC-CHAP (no %s); it needs "
               "CONFIG_NVME_TARGET_AUTH (Linux 6.0 or later), or export without a key", key);
      rc = -EOPNOTSUPP;
      goto out_rmdir;
    }
    if ((rc = put(t, key, x->keys[i], err, errlen))) {
      snprintf(err, errlen, "the kernel refused the DH-HMAC-CHAP key for %s: %s (a key "
               "is DHHC-1:00:<base64>:, as nvme gen-dhchap-key makes)", x->hosts[i],
               strerror(-rc));
      goto out_rmdir;
    }
  }
  if ((rc = link_to(t, host, path, err, errlen)))
    goto out_rmdir;
  return 0;

out_rmdir:
  if (*made)
    t->fs->rmdir(host);
  *made = false;
  return rc;
}

/* Take host i's link out again, and its entry when made here. */
static void unallow_host(const struct vd_nvmet *t, const struct vd_nvmet_export *x, unsigned i,
                         bool made)
{
  char path[PATH_MAX];

  path_of(path, t, "subsystems/%s/allowed_hosts/%s", x->nqn, x->hosts[i]);
  t->fs->unlink(path);
  if (made && path_of(path, t, "hosts/%s", x->hosts[i], NULL))
    t->fs->rmdir(path);
}

/* Link the subsystem to the port at x's address: shared when vramd's,
 * else new.  *made_port says whether the port was made here. */
static int open_port(const struct vd_nvmet *t, const struct vd_nvmet_export *x, char *id,
                     bool *made_port, char *err, size_t errlen)
{
  char free_id[16], users[256], sub[PATH_MAX], link[PATH_MAX];
  int rc = find_port(t, x, id, free_id);

  *made_port = false;
  if (rc < 0) {
    snprintf(err, errlen, "cannot read %s/ports: %s", t->root, strerror(-rc));
    return rc;
  }
  /* An empty port has no listener yet: it may be taken over. */
  if (rc == 1 && path_of(link, t, "ports/%s/subsystems", id, NULL) && dir_busy(link) == 1 &&
      !port_shareable(t, id, users, sizeof users)) {
    snprintf(err, errlen, "%s:%s is in use: nvmet port %s serves %s, which is not vramd's; "
             "export on another port", x->addr, x->port, id, users);
    return -EADDRINUSE;
  }
  if (rc == 0) {
    snprintf(id, 16, "%s", free_id);
    if ((rc = make_port(t, x, id, err, errlen)))
      return rc;
    *made_port = true;
  }
  path_of(sub, t, "subsystems/%s", x->nqn, NULL);
  path_of(link, t, "ports/%s/subsystems/%s", id, x->nqn);
  rc = t->fs->symlink(sub, link);
  if (rc == -EADDRINUSE)
    snprintf(err, errlen, "%s:%s is in use (another program listens there); export on "
             "another port", x->addr, x->port);
  else if (rc)
    snprintf(err, errlen, "nvmet could not listen on %s:%s: %s (is nvmet-tcp loaded? "
             "modprobe nvmet-tcp)", x->addr, x->port, strerror(-rc));
  if (rc && *made_port) {
    path_of(link, t, "ports/%s", id, NULL);
    t->fs->rmdir(link);
    *made_port = false;
  }
  return rc;
}

/* Make the whole export, or nothing. */
int vd_nvmet_add(const struct vd_nvmet *t, const struct vd_nvmet_export *x, char *err,
                 size_t errlen)
{
  char sub[PATH_MAX], ns[PATH_MAX], path[PATH_MAX], port_id[16];
  bool made[VD_EXPORT_MAX_HOSTS], made_port;
  unsigned allowed = 0;
  int rc;

  if (!path_of(sub, t, "subsystems/%s", x->nqn, NULL) ||
      !path_of(ns, t, "subsystems/%s/namespaces/1", x->nqn, NULL)) {
    snprintf(err, errlen, "the configfs path of %s is too long", x->nqn);
    return -ENAMETOOLONG;
  }
  rc = t->fs->mkdir(sub);
  if (rc == -EEXIST) {
    snprintf(err, errlen, "nvmet subsystem %s exists already (left by an earlier vramd? "
             "remove it with nvmetcli or rmdir under %s/subsystems)", x->nqn, t->root);
    return rc;
  }
  if (rc) {
    snprintf(err, errlen, "cannot create nvmet subsystem %s: %s", sub, strerror(-rc));
    return rc;
  }
  path_of(path, t, "subsystems/%s/attr_allow_any_host", x->nqn, NULL);
  if ((rc = put(t, path, x->allow_any_host ? "1" : "0", err, errlen)))
    goto out_rmdir_subsystem;
  for (; allowed < x->nhosts; allowed++)
    if ((rc = allow_host(t, x, allowed, &made[allowed], err, errlen)))
      goto out_unallow_hosts;
  if ((rc = make(t, ns, err, errlen)))
    goto out_unallow_hosts;
  path_of(path, t, "subsystems/%s/namespaces/1/device_path", x->nqn, NULL);
  if ((rc = put(t, path, x->device, err, errlen)))
    goto out_rmdir_namespace;
  path_of(path, t, "subsystems/%s/namespaces/1/enable", x->nqn, NULL);
  if ((rc = put(t, path, "1", err, errlen))) {
    snprintf(err, errlen, "nvmet cannot open %s for namespace 1 of %s: %s", x->device, x->nqn,
             strerror(-rc));
    goto out_rmdir_namespace;
  }
  if ((rc = open_port(t, x, port_id, &made_port, err, errlen)))
    goto out_disable_namespace;
  return 0;

out_disable_namespace:
  t->fs->write(path, "0");
out_rmdir_namespace:
  t->fs->rmdir(ns);
out_unallow_hosts:
  while (allowed-- > 0)
    unallow_host(t, x, allowed, made[allowed]);
out_rmdir_subsystem:
  t->fs->rmdir(sub);
  return rc;
}

/* Keep the first error. */
static void first(int *rc, int r) { if (!*rc && r && r != -ENOENT) *rc = r; }

/* Unlink nqn from every port, removing ports left with no subsystem. */
static int close_ports(const struct vd_nvmet *t, const char *nqn)
{
  char path[PATH_MAX];
  struct dirent *e;
  int rc = 0;
  DIR *dir;

  if (!path_of(path, t, "ports", "", NULL) || !(dir = opendir(path)))
    return -errno;
  while ((e = readdir(dir))) {
    struct stat st;
    if (e->d_name[0] == '.' || !path_of(path, t, "ports/%s/subsystems/%s", e->d_name, nqn) ||
        lstat(path, &st))
      continue;
    first(&rc, t->fs->unlink(path));
    path_of(path, t, "ports/%s/subsystems", e->d_name, NULL);
    if (dir_busy(path) == 0 && path_of(path, t, "ports/%s", e->d_name, NULL))
      first(&rc, t->fs->rmdir(path));
  }
  closedir(dir);
  return rc;
}

/* Whether any subsystem still lets host in. */
static bool host_allowed(const struct vd_nvmet *t, const char *host)
{
  char path[PATH_MAX];
  struct dirent *e;
  bool found = false;
  DIR *dir;

  if (!path_of(path, t, "subsystems", "", NULL) || !(dir = opendir(path)))
    return true;
  while (!found && (e = readdir(dir))) {
    struct stat st;
    found = e->d_name[0] != '.' &&
            path_of(path, t, "subsystems/%s/allowed_hosts/%s", e->d_name, host) &&
            !lstat(path, &st);
  }
  closedir(dir);
  return found;
}

/* Unlink every allowed host of nqn; their names go to hosts (n of them). */
static int unallow_all(const struct vd_nvmet *t, const char *nqn, char (*hosts)[VD_NQN_MAX + 1],
                       unsigned *n)
{
  char path[PATH_MAX];
  struct dirent *e;
  int rc = 0;
  DIR *dir;

  *n = 0;
  if (!path_of(path, t, "subsystems/%s/allowed_hosts", nqn, NULL) || !(dir = opendir(path)))
    return -errno;
  while ((e = readdir(dir))) {
    if (e->d_name[0] == '.' ||
        !path_of(path, t, "subsystems/%s/allowed_hosts/%s", nqn, e->d_name))
      continue;
    first(&rc, t->fs->unlink(path));
    if (*n < VD_EXPORT_MAX_HOSTS * 4)
      snprintf(hosts[(*n)++], VD_NQN_MAX + 1, "%.223s", e->d_name);
  }
  closedir(dir);
  return rc;
}

/* Disable and remove every namespace of nqn. */
static int remove_namespaces(const struct vd_nvmet *t, const char *nqn)
{
  char path[PATH_MAX];
  struct dirent *e;
  int rc = 0;
  DIR *dir;

  if (!path_of(path, t, "subsystems/%s/namespaces", nqn, NULL) || !(dir = opendir(path)))
    return -errno;
  while ((e = readdir(dir))) {
    if (e->d_name[0] == '.' ||
        !path_of(path, t, "subsystems/%s/namespaces/%s/enable", nqn, e->d_name))
      continue;
    first(&rc, t->fs->write(path, "0"));
    path_of(path, t, "subsystems/%s/namespaces/%s", nqn, e->d_name);
    first(&rc, t->fs->rmdir(path));
  }
  closedir(dir);
  return rc;
}

/* Take a subsystem and what only it used down. */
int vd_nvmet_remove(const struct vd_nvmet *t, const char *nqn, char *err, size_t errlen)
{
  char sub[PATH_MAX], path[PATH_MAX], (*hosts)[VD_NQN_MAX + 1];
  unsigned nhosts = 0;
  struct stat st;
  int rc = 0;

  if (!path_of(sub, t, "subsystems/%s", nqn, NULL) || stat(sub, &st)) {
    snprintf(err, errlen, "no nvmet subsystem %s", nqn);
    return -ENOENT;
  }
  hosts = calloc(VD_EXPORT_MAX_HOSTS * 4, sizeof *hosts);
  if (!hosts) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  /* The port first: connected hosts lose the path before the namespace goes. */
  first(&rc, close_ports(t, nqn));
  first(&rc, remove_namespaces(t, nqn));
  first(&rc, unallow_all(t, nqn, hosts, &nhosts));
  first(&rc, t->fs->rmdir(sub));
  for (unsigned i = 0; i < nhosts; i++)
    if (!host_allowed(t, hosts[i]) && path_of(path, t, "hosts/%s", hosts[i], NULL))
      first(&rc, t->fs->rmdir(path));
  free(hosts);
  if (rc)
    snprintf(err, errlen, "nvmet subsystem %s was not fully removed: %s; see %s", nqn,
             strerror(-rc), t->root);
  return rc;
}

/* Ask nvmet to read namespace 1's size again and tell the hosts. */
int vd_nvmet_revalidate(const struct vd_nvmet *t, const char *nqn, char *err, size_t errlen)
{
  char path[PATH_MAX];
  if (!path_of(path, t, "subsystems/%s/namespaces/1/revalidate_size", nqn, NULL))
    return -ENAMETOOLONG;
  return put(t, path, "1", err, errlen);
}

/* Whether the export is up: namespace enabled and linked to a port. */
bool vd_nvmet_live(const struct vd_nvmet *t, const char *nqn, char *port_id)
{
  char path[PATH_MAX], v[8];
  struct dirent *e;
  bool linked = false;
  DIR *dir;

  if (!path_of(path, t, "subsystems/%s/namespaces/1/enable", nqn, NULL))
    return false;
  read_attr(path, v, sizeof v);
  if (strcmp(v, "1") || !path_of(path, t, "ports", "", NULL) || !(dir = opendir(path)))
    return false;
  while (!linked && (e = readdir(dir))) {
    struct stat st;
    linked = e->d_name[0] != '.' &&
             path_of(path, t, "ports/%s/subsystems/%s", e->d_name, nqn) && !lstat(path, &st);
    if (linked)
      snprintf(port_id, 16, "%.15s", e->d_name);
  }
  closedir(dir);
  return linked;
}
