/* export-volume.c: export a volume's kernel block device over NVMe/TCP,
 * as targetcli does, through the kernel's target (export/nvmet.c writes
 * configfs).  Like attach.c, the change is committed before it takes
 * effect and undone when it fails; a volume with no kernel device is
 * attached first (ublk where it can be, else kernel NBD). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "export-volume.h"
#include "export/nvmet.h"
#include "frontends.h"
#include "state.h"

#define NVMET_ROOT "/sys/kernel/config/nvmet"
#define CONFIGFS_MAGIC 0x62656570

/* The target: configfs, or $VRAMD_NVMET_ROOT (tests: a tree that mimics it). */
static struct vd_nvmet target_of(const struct vramd *d)
{
  const char *root = getenv("VRAMD_NVMET_ROOT");
  bool plain = root && root[0];
  return (struct vd_nvmet){ .root = plain ? root : NVMET_ROOT,
                            .fs = plain ? &vd_nvmet_plain : &vd_nvmet_configfs,
                            .share_prefix = d->cfg.nqn_prefix };
}

/* Whether the kernel target is there to write to; -ENODEV with what to do. */
static int target_ready(const struct vd_nvmet *t, char *err, size_t errlen)
{
  struct statfs fs;
  struct stat st;

  if (!stat(t->root, &st) && S_ISDIR(st.st_mode)) {
    if (strcmp(t->root, NVMET_ROOT) || !stat("/sys/module/nvmet_tcp", &st))
      return 0;
    snprintf(err, errlen, "nvmet is loaded but its TCP transport is not: modprobe nvmet-tcp");
    return -ENODEV;
  }
  if (!strcmp(t->root, NVMET_ROOT) &&
      (statfs("/sys/kernel/config", &fs) || fs.f_type != CONFIGFS_MAGIC))
    snprintf(err, errlen, "configfs is not mounted at /sys/kernel/config: mount -t configfs "
             "none /sys/kernel/config, then modprobe nvmet-tcp");
  else
    snprintf(err, errlen, "the kernel's NVMe target is not loaded (no %s): modprobe nvmet-tcp",
             t->root);
  return -ENODEV;
}

/* Read a DH-HMAC-CHAP secret (DHHC-1:..., as nvme gen-dhchap-key writes)
 * into key of len bytes. */
static int read_key(const char *path, const char *host, char *key, size_t len, char *err,
                    size_t errlen)
{
  FILE *f = fopen(path, "re");
  size_t n;

  if (!f) {
    int rc = -errno;
    snprintf(err, errlen, "cannot read the key file %s of host %s: %s", path, host,
             strerror(-rc));
    return rc;
  }
  n = fread(key, 1, len - 1, f);
  fclose(f);
  key[n] = '\0';
  while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == ' ' || key[n - 1] == '\r'))
    key[--n] = '\0';
  if (strncmp(key, "DHHC-1:", 7) || strchr(key, '\n') || n == len - 1) {
    snprintf(err, errlen, "the key file %s of host %s holds no DH-HMAC-CHAP secret: it must "
             "hold one line DHHC-1:xx:<base64>:, as nvme gen-dhchap-key writes", path, host);
    return -EINVAL;
  }
  return 0;
}

/* The keys of x's hosts (keys[i] NULL for none); freed with free_keys. */
static int read_keys(const struct vd_export_spec *x, char **keys, char *err, size_t errlen)
{
  for (unsigned i = 0; i < x->nhosts; i++) {
    int rc;
    keys[i] = NULL;
    if (!x->hosts[i].key_file[0])
      continue;
    if (!(keys[i] = malloc(512)))
      return -ENOMEM;
    if ((rc = read_key(x->hosts[i].key_file, x->hosts[i].nqn, keys[i], 512, err, errlen)))
      return rc;
  }
  return 0;
}

/* Free what read_keys read, wiping the secrets. */
static void free_keys(char **keys, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    if (keys[i]) {
      explicit_bzero(keys[i], 512);
      free(keys[i]);
    }
}

/* Make v's export in the kernel as its spec has it. */
static int make_export(struct vramd *d, struct vd_volume *v, char *err, size_t errlen)
{
  const struct vd_export_spec *x = &v->spec.export;
  struct vd_nvmet t = target_of(d);
  struct vd_nvmet_export k = { .nqn = x->nqn, .device = v->device_path,
                               .allow_any_host = x->allow_any_host, .nhosts = x->nhosts };
  char addr[46], port[6], *keys[VD_EXPORT_MAX_HOSTS] = { 0 };
  int rc;

  if (!v->device_path[0]) {
    snprintf(err, errlen, "volume '%s' has no kernel block device to export (frontend %s "
             "without attach); detach it, and export attaches one", v->spec.name,
             vd_frontend_name(v->spec.frontend));
    return -EINVAL;
  }
  if (!vd_export_address(x->address, addr, port, &k.v6, err, errlen))
    return -EINVAL;
  if ((rc = target_ready(&t, err, errlen)))
    return rc;
  k.addr = addr;
  k.port = port;
  rc = read_keys(x, keys, err, errlen);
  for (unsigned i = 0; i < x->nhosts; i++) {
    k.hosts[i] = x->hosts[i].nqn;
    k.keys[i] = keys[i];
  }
  if (!rc)
    rc = vd_nvmet_add(&t, &k, err, errlen);
  free_keys(keys, x->nhosts);
  return rc;
}

/* Log a made export; loudly when any host may connect. */
static void log_export(const struct vd_volume *v, const char *how)
{
  const struct vd_export_spec *x = &v->spec.export;
  vd_log_about(VD_LOG_INFO, VD_FIELDS(.volume = v->spec.name),
               "volume %s: %s over NVMe/TCP as %s on %s (%s, %u allowed host%s)", v->spec.name,
               how, x->nqn, x->address, v->device_path, x->nhosts, x->nhosts == 1 ? "" : "s");
  if (x->allow_any_host)
    vd_log_about(VD_LOG_WARNING, VD_FIELDS(.volume = v->spec.name),
                 "volume %s: any host that reaches %s may connect to %s (allow-any-host)",
                 v->spec.name, x->address, x->nqn);
}

/* Attach a volume of frontend none to a kernel device: ublk where the
 * module is loaded, else kernel NBD.  *attached says whether it was. */
static int ensure_device(struct vramd *d, const char *name, vramd_commit_fn *commit,
                         bool *attached, char *err, size_t errlen)
{
  struct vd_nvmet t = target_of(d);
  struct vd_volume_spec how;
  struct vd_volume *v;
  bool none, found;
  int rc;

  *attached = false;
  pthread_mutex_lock(&d->admin_lock);
  v = vd_registry_get(&d->reg, name);
  found = v != NULL;
  none = v && v->spec.frontend == VD_FRONTEND_NONE;
  vd_volume_put(v);
  pthread_mutex_unlock(&d->admin_lock);
  if (!found) {
    snprintf(err, errlen, "no volume '%s'", name);
    return -ENOENT;
  }
  /* Nothing is attached for an export the kernel cannot take. */
  if ((rc = target_ready(&t, err, errlen)) || !none)
    return rc;
  vd_spec_init(&how);
  how.frontend = VD_FRONTEND_UBLK;
  if (!vramd_frontend(d, VD_FRONTEND_UBLK) || access("/dev/ublk-control", F_OK)) {
    how.frontend = VD_FRONTEND_NBD;
    how.attach = true;
  }
  rc = vramd_volume_attach(d, name, &how, commit, NULL, err, errlen);
  *attached = rc == 0;
  return rc == -EALREADY ? 0 : rc;
}

/* The checks and the change, with admin_lock held. */
static int export_locked(struct vramd *d, struct vd_volume *v, const struct vd_export_spec *how,
                         vramd_commit_fn *commit, struct vd_export_spec *out, char *err,
                         size_t errlen)
{
  struct vd_export_spec was = v->spec.export;
  int rc;

  if (was.nqn[0]) {
    snprintf(err, errlen, "volume '%s' is exported already as %s on %s; unexport it first",
             v->spec.name, was.nqn, was.address);
    return -EALREADY;
  }
  if (vramd_state_from_config(d, v->spec.name)) {
    snprintf(err, errlen, "volume '%s' is defined in vramd.conf or by --volume, where an "
             "export cannot be kept; create it through the API to export it", v->spec.name);
    return -EINVAL;
  }
  v->spec.export = *how;
  snprintf(v->spec.export.nqn, sizeof v->spec.export.nqn, "%s:%s", d->cfg.nqn_prefix,
           v->spec.name);
  if (!vd_nqn_valid(v->spec.export.nqn, err, errlen)) {
    rc = -EINVAL;
    goto out_restore;
  }
  if ((rc = commit ? commit(d, NULL, NULL, err, errlen) : 0))
    goto out_restore;
  if ((rc = make_export(d, v, err, errlen)))
    goto out_uncommit;
  if (out)
    *out = v->spec.export;
  log_export(v, "exported");
  return 0;

out_uncommit:
  v->spec.export = was;
  vramd_uncommit(d, commit);
  return rc;
out_restore:
  v->spec.export = was;
  return rc;
}

/* Attach when needed, then export; a failure detaches what was attached. */
int vramd_volume_export(struct vramd *d, const char *name, const struct vd_export_spec *how,
                        vramd_commit_fn *commit, struct vd_export_spec *out, char *err,
                        size_t errlen)
{
  struct vd_volume *v;
  bool attached;
  char e2[256];
  int rc;

  if ((rc = ensure_device(d, name, commit, &attached, err, errlen)))
    return rc;
  pthread_mutex_lock(&d->admin_lock);
  if (!(v = vd_registry_get(&d->reg, name))) {
    snprintf(err, errlen, "no volume '%s'", name);
    rc = -ENOENT;
  } else {
    rc = export_locked(d, v, how, commit, out, err, errlen);
    vd_volume_put(v);
  }
  pthread_mutex_unlock(&d->admin_lock);
  if (rc && attached && vramd_volume_detach(d, name, true, commit, e2, sizeof e2))
    vd_err("volume %s: the device attached for the export stays: %s", name, e2);
  return rc;
}

/* Take the export down and out of the spec. */
int vramd_volume_unexport(struct vramd *d, const char *name, vramd_commit_fn *commit,
                          char *err, size_t errlen)
{
  struct vd_export_spec was;
  struct vd_nvmet t = target_of(d);
  struct vd_volume *v;
  int rc;

  pthread_mutex_lock(&d->admin_lock);
  if (!(v = vd_registry_get(&d->reg, name))) {
    snprintf(err, errlen, "no volume '%s'", name);
    rc = -ENOENT;
    goto out_unlock;
  }
  was = v->spec.export;
  if (!was.nqn[0]) {
    snprintf(err, errlen, "volume '%s' is not exported", name);
    rc = -ENOTCONN;
    goto out_put;
  }
  memset(&v->spec.export, 0, sizeof v->spec.export);
  if ((rc = commit ? commit(d, NULL, NULL, err, errlen) : 0))
    goto out_restore;
  rc = vd_nvmet_remove(&t, was.nqn, err, errlen);
  if (rc == -ENOENT)
    rc = 0; /* gone already (a failed start, or someone else) */
  if (rc) {
    vd_err("volume %s: %s", name, err);
    goto out_uncommit;
  }
  vd_log_about(VD_LOG_INFO, VD_FIELDS(.volume = name),
               "volume %s: unexported (%s on %s); %s stays", name, was.nqn, was.address,
               v->device_path[0] ? v->device_path : "it");
  goto out_put;

out_uncommit:
  v->spec.export = was;
  vramd_uncommit(d, commit);
  goto out_put;
out_restore:
  v->spec.export = was;
out_put:
  vd_volume_put(v);
out_unlock:
  pthread_mutex_unlock(&d->admin_lock);
  return rc;
}

/* Before a delete. */
int vramd_export_withdraw(struct vramd *d, struct vd_volume *v, bool force, char *err,
                          size_t errlen)
{
  struct vd_nvmet t = target_of(d);
  int rc;

  if (!v->spec.export.nqn[0])
    return 0;
  if (!force) {
    snprintf(err, errlen, "volume '%s' is exported over NVMe/TCP as %s on %s; unexport it "
             "first, or delete with force", v->spec.name, v->spec.export.nqn,
             v->spec.export.address);
    return -EBUSY;
  }
  rc = vd_nvmet_remove(&t, v->spec.export.nqn, err, errlen);
  return rc == -ENOENT ? 0 : rc;
}

/* After a resize. */
void vramd_export_resized(struct vramd *d, struct vd_volume *v)
{
  struct vd_nvmet t = target_of(d);
  char err[300];

  if (!v->spec.export.nqn[0] || !vramd_export_live(d, v, (char[16]){ 0 }))
    return;
  if (vd_nvmet_revalidate(&t, v->spec.export.nqn, err, sizeof err))
    vd_log_about(VD_LOG_WARNING, VD_FIELDS(.volume = v->spec.name),
                 "volume %s: remote hosts were not told the new size: %s", v->spec.name, err);
}

/* Call fn on each exported volume with admin_lock held. */
static void each_export(struct vramd *d, void (*fn)(struct vramd *, struct vd_volume *))
{
  struct vd_volume **vols;
  int n = vd_registry_list(&d->reg, &vols);

  for (int i = 0; i < n; i++) {
    pthread_mutex_lock(&d->admin_lock);
    if (vols[i]->spec.export.nqn[0])
      fn(d, vols[i]);
    pthread_mutex_unlock(&d->admin_lock);
    vd_volume_put(vols[i]);
  }
  if (n >= 0)
    free(vols);
}

/* Make one saved export again; a leftover of a vramd that was killed
 * (its device is gone) is taken down first. */
static void start_one(struct vramd *d, struct vd_volume *v)
{
  struct vd_nvmet t = target_of(d);
  char err[512];

  if (!vd_nvmet_remove(&t, v->spec.export.nqn, err, sizeof err))
    vd_log_about(VD_LOG_INFO, VD_FIELDS(.volume = v->spec.name),
                 "volume %s: took down the export %s a killed vramd left", v->spec.name,
                 v->spec.export.nqn);
  if (make_export(d, v, err, sizeof err))
    vd_log_about(VD_LOG_ERR, VD_FIELDS(.volume = v->spec.name),
                 "volume %s: not exported again: %s ('vramctl volume export' after fixing "
                 "it, once unexported)", v->spec.name, err);
  else
    log_export(v, "exported again");
}

/* Take one export down at stop; the spec keeps it. */
static void stop_one(struct vramd *d, struct vd_volume *v)
{
  struct vd_nvmet t = target_of(d);
  char err[512];
  int rc = vd_nvmet_remove(&t, v->spec.export.nqn, err, sizeof err);

  if (rc && rc != -ENOENT)
    vd_log_about(VD_LOG_ERR, VD_FIELDS(.volume = v->spec.name), "volume %s: %s",
                 v->spec.name, err);
  else if (!rc)
    vd_log_about(VD_LOG_INFO, VD_FIELDS(.volume = v->spec.name),
                 "volume %s: export %s taken down before its device", v->spec.name,
                 v->spec.export.nqn);
}

/* At start, after the saved volumes are back. */
void vramd_exports_start(struct vramd *d) { each_export(d, start_one); }

/* At stop, before the frontends remove the devices. */
void vramd_exports_stop(struct vramd *d) { each_export(d, stop_one); }

/* Whether the kernel serves v's export now. */
bool vramd_export_live(const struct vramd *d, const struct vd_volume *v, char *port_id)
{
  struct vd_nvmet t = target_of(d);
  return v->spec.export.nqn[0] && vd_nvmet_live(&t, v->spec.export.nqn, port_id);
}
