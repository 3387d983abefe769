/* state.c: volume definitions (never contents) in STATE_DIR/volumes.json,
 * written atomically and recreated, empty, at start.  A file that cannot
 * be read or parsed is moved aside, never overwritten. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"
#include "state.h"
#include "vramd.h"

#define STATE_FILE "volumes.json"
#define STATE_VERSION 1

/* Path of a file in the state folder. */
static void state_path(const struct vramd *d, const char *name, char *out, size_t len)
{
  snprintf(out, len, "%s/%s", d->cfg.state_dir, name);
}

/* True when a volume of this name comes from the config (it is recreated
 * from there, so it is not saved twice). */
static bool from_config(const struct vramd *d, const char *name)
{
  for (unsigned i = 0; i < d->cfg.nvolumes; i++)
    if (!strcmp(d->cfg.volumes[i].name, name))
      return true;
  return false;
}

/* The same, for the rest of the daemon. */
bool vramd_state_from_config(const struct vramd *d, const char *name)
{
  return from_config(d, name);
}

/* Write data to path through a temporary file, fsync and rename, so a
 * crash leaves either the old file or the new one.  The temporary file is
 * always made anew (O_EXCL, no link followed): a leftover that cannot be
 * removed, such as a folder, fails the save instead of being written
 * through. */
static int write_atomic(const struct vramd *d, const char *data, char *err, size_t errlen)
{
  char tmp[300], path[300];
  size_t len = strlen(data), off = 0;
  int fd, dfd, rc;

  if ((rc = vd_mkdir_p(d->cfg.state_dir, 0750))) {
    snprintf(err, errlen, "cannot create state folder %s: %s (is a file in the way?)",
             d->cfg.state_dir, strerror(-rc));
    return rc;
  }
  state_path(d, STATE_FILE ".tmp", tmp, sizeof tmp);
  state_path(d, STATE_FILE, path, sizeof path);
  if (unlink(tmp) && errno != ENOENT) {
    rc = -errno;
    snprintf(err, errlen, "cannot remove the leftover %s: %s; remove it by hand", tmp,
             strerror(errno));
    return rc;
  }
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0)
    goto out_err;
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      goto out_unlink;
    off += (size_t)n;
  }
  if (fsync(fd))
    goto out_unlink;
  if (close(fd)) {
    fd = -1;
    goto out_unlink;
  }
  fd = -1;
  if (rename(tmp, path))
    goto out_unlink;
  dfd = open(d->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;

out_unlink:
  rc = errno ? -errno : -EIO;
  if (fd >= 0)
    close(fd);
  unlink(tmp);
  snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
  return rc;
out_err:
  rc = -errno;
  snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
  return rc;
}

/* Record how the last save went, for vramd_state_health(). */
static void set_health(struct vramd *d, const char *err)
{
  pthread_mutex_lock(&d->state_lock);
  d->state_saving = !err;
  snprintf(d->state_error, sizeof d->state_error, "%s", err ? err : "");
  pthread_mutex_unlock(&d->state_lock);
}

/* True while definitions are being saved; err says why they are not. */
bool vramd_state_health(struct vramd *d, char *err, size_t errlen)
{
  bool ok;
  pthread_mutex_lock(&d->state_lock);
  ok = d->state_saving;
  snprintf(err, errlen, "%s", d->state_error);
  pthread_mutex_unlock(&d->state_lock);
  return ok;
}

/* The saved definitions: the registry's volumes plus add, less skip, less
 * those from the config (recreated from there). */
static json_t *volumes_json(struct vramd *d, const struct vd_volume *add, const char *skip)
{
  struct vd_volume **vols;
  json_t *arr = json_array();
  int n = vd_registry_list(&d->reg, &vols);

  if (n < 0 || !arr) {
    json_decref(arr);
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    const char *name = vols[i]->spec.name;
    if (!from_config(d, name) && !(skip && !strcmp(name, skip)))
      json_array_append_new(arr, vd_spec_to_json(&vols[i]->spec, VD_SPEC_SAVED));
    vd_volume_put(vols[i]);
  }
  free(vols);
  if (add)
    json_array_append_new(arr, vd_spec_to_json(&add->spec, VD_SPEC_SAVED));
  return arr;
}

/* Save every volume's definition; called with admin_lock held. */
int vramd_state_save(struct vramd *d, const struct vd_volume *add, const char *skip,
                     char *err, size_t errlen)
{
  char e[400], *s;
  json_t *root;
  int rc;

  if ((add && from_config(d, add->spec.name)) || (skip && from_config(d, skip)))
    return 0;
  if (d->state_disabled) {
    vramd_state_health(d, e, sizeof e);
    snprintf(err, errlen, "volume definitions cannot be saved: %s", e);
    return -VRAMD_E_STATE;
  }
  root = json_pack("{s:i, s:s, s:o}", "version", STATE_VERSION, "note",
                   "vramd volume definitions; contents are not kept", "volumes",
                   volumes_json(d, add, skip));
  s = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
  json_decref(root);
  if (!s) {
    snprintf(err, errlen, "volume definitions cannot be saved: out of memory");
    return -VRAMD_E_STATE;
  }
  rc = write_atomic(d, s, e, sizeof e);
  free(s);
  if (rc) {
    vd_err("%s; volume creates and deletes are refused until definitions can be saved", e);
    set_health(d, e);
    snprintf(err, errlen, "volume definitions cannot be saved, nothing was changed: %s", e);
    return -VRAMD_E_STATE;
  }
  set_health(d, NULL);
  return 0;
}

/* Move the state file aside as volumes.json.WHY-TIME and say where. */
static void move_aside(struct vramd *d, const char *why, const char *reason)
{
  char path[300], aside[400];
  state_path(d, STATE_FILE, path, sizeof path);
  snprintf(aside, sizeof aside, "%s.%s-%lld", path, why, (long long)time(NULL));
  if (rename(path, aside)) {
    vd_err("state file %s: %s; could not move it aside (%s), so it will not be "
           "overwritten: definitions are not saved until it is fixed",
           path, reason, strerror(errno));
    d->state_disabled = true;
    snprintf(aside, sizeof aside, "state file %.120s could not be moved aside: %.200s", path,
             reason);
    set_health(d, aside);
    return;
  }
  vd_err("state file %s: %s; kept as %s, starting without those volumes", path, reason, aside);
}

/* Copy the state file aside when some definitions could not be recreated,
 * since the next save will no longer hold them. */
static void keep_unrestored(struct vramd *d, json_t *root)
{
  char path[300], aside[400];
  state_path(d, STATE_FILE, path, sizeof path);
  snprintf(aside, sizeof aside, "%s.unrestored-%lld", path, (long long)time(NULL));
  if (json_dump_file(root, aside, JSON_INDENT(2)))
    vd_err("could not keep the unrestored definitions in %s", aside);
  else
    vd_err("definitions that could not be recreated are kept in %s", aside);
}

/* Turn one saved definition into a spec. */
static int spec_from_json(json_t *o, struct vd_volume_spec *s, char *err, size_t errlen)
{
  struct vd_spec_error e;
  int rc = vd_spec_from_json(o, VD_SPEC_SAVED, s, &e);
  if (rc)
    snprintf(err, errlen, "bad definition: %s", e.message);
  return rc;
}

/* Make the state folder (mode 0750) at start, before any volume is made,
 * so that its problems show at once; saving stays on (a later save
 * retries and reports). */
void vramd_state_prepare(struct vramd *d)
{
  int rc = vd_mkdir_p(d->cfg.state_dir, 0750);
  char e[400];

  d->state_saving = true;
  if (!rc)
    return;
  snprintf(e, sizeof e, "cannot create state folder %s: %s (is a file in the way?)",
           d->cfg.state_dir, strerror(-rc));
  vd_err("%s; volume creates and deletes are refused until it can be made", e);
  set_health(d, e);
}

/* Open the state file to read without blocking or following a link:
 * the fd, -ENOENT when there is none, another -errno with why filled. */
static int open_state(const char *path, char *why, size_t len)
{
  struct stat st;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

  /* A state folder in the way is vramd_state_prepare()'s to report. */
  if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
    return -ENOENT;
  if (fd < 0 && (errno == ELOOP || errno == ENXIO)) {
    snprintf(why, len, "is not a regular file (a link or a socket)");
    return -EINVAL;
  }
  if (fd < 0) {
    int rc = -errno;
    snprintf(why, len, "cannot be opened: %s", strerror(errno));
    return rc;
  }
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    close(fd);
    snprintf(why, len, "is not a regular file (a FIFO, device or folder)");
    return -EINVAL;
  }
  return fd;
}

/* Recreate the saved volumes, empty, checking for a stop between them. */
int vramd_state_load(struct vramd *d)
{
  char path[300], err[512];
  json_error_t je;
  json_t *root = NULL, *vols, *o;
  unsigned failed = 0, made = 0;
  size_t i;
  int fd;

  state_path(d, STATE_FILE, path, sizeof path);
  fd = open_state(path, err, sizeof err);
  if (fd >= 0) {
    root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
    close(fd);
    if (!root)
      snprintf(err, sizeof err, "cannot be read: %s (line %d)", je.text, je.line);
  }
  vols = json_object_get(root, "volumes");
  if (root && (!json_is_object(root) || !json_is_array(vols) ||
               json_integer_value(json_object_get(root, "version")) != STATE_VERSION)) {
    snprintf(err, sizeof err, "not a version 1 vramd state file");
    json_decref(root);
    root = vols = NULL;
  }
  if (!root && fd != -ENOENT)
    move_aside(d, fd == -EINVAL ? "not-regular" : "corrupt", err);

  json_array_foreach(vols, i, o) {
    struct vd_volume_spec spec;
    if (vramd_stop_requested(d))
      goto out_stopped;
    if (spec_from_json(o, &spec, err, sizeof err) == 0 && from_config(d, spec.name))
      continue;
    if (spec_from_json(o, &spec, err, sizeof err) ||
        vramd_volume_create(d, &spec, NULL, NULL, err, sizeof err)) {
      vd_err("saved volume #%zu (%s) not recreated: %s", i + 1,
             json_string_value(json_object_get(o, "name")) ?
             json_string_value(json_object_get(o, "name")) : "?", err);
      failed++;
      continue;
    }
    made++;
  }
  if (failed)
    keep_unrestored(d, root);
  json_decref(root);
  vd_info("recreated %u saved volumes (empty: contents do not survive a restart)", made);
  /* Saving now also shows at once whether saving works. */
  pthread_mutex_lock(&d->admin_lock);
  vramd_state_save(d, NULL, NULL, err, sizeof err);
  pthread_mutex_unlock(&d->admin_lock);
  return failed ? -EIO : 0;

out_stopped:
  vd_info("stop requested while recreating saved volumes (%u of %zu made); the state "
          "file is left as it was", made, json_array_size(vols));
  json_decref(root);
  return -EINTR;
}
