/* persist.c: images that outlive vramd.  An image is written as
 * PATH.partial and its sidecar as PATH.sum.partial, both flushed; then
 * the image is renamed over PATH and the sidecar over PATH.sum.  A stop
 * killed between the two renames leaves the new image with the new
 * sidecar still under .partial, so a load accepts a checksum from
 * either sidecar (and puts the matching one in place); a save killed
 * earlier never touched PATH.  Paths come from root (the config file, or
 * an API caller of uid 0), so vramd opens them as itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imgfile.h"
#include "imgio.h"
#include "persist.h"
#include "save.h"
#include "util.h"

#define SUM_MAGIC "vramd-image 1"

/* vramd itself, as the opener of persisted images. */
static struct vramd_caller self(void)
{
  return (struct vramd_caller){ geteuid(), getegid(), 0 };
}

/* path with suffix appended, in buf. */
static const char *with(const char *path, const char *suffix, char *buf, size_t len)
{
  snprintf(buf, len, "%s%s", path, suffix);
  return buf;
}

/* Read a sidecar: 0 with size and sum, or -errno. */
static int read_sum(const char *path, uint64_t *size, uint64_t *sum)
{
  FILE *f = fopen(path, "re");
  unsigned long long a, b;
  char magic[32];
  int n;

  if (!f)
    return -errno;
  n = fscanf(f, "%31[^\n]\nsize %llu\nsum %llx\n", magic, &a, &b);
  fclose(f);
  if (n != 3 || strcmp(magic, SUM_MAGIC))
    return -EINVAL;
  *size = a;
  *sum = b;
  return 0;
}

/* Write a sidecar to path and flush it. */
static int write_sum(const char *path, uint64_t size, uint64_t sum)
{
  char text[128];
  int n = snprintf(text, sizeof text, SUM_MAGIC "\nsize %llu\nsum %016llx\n",
                   (unsigned long long)size, (unsigned long long)sum);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc = 0;

  if (fd < 0)
    return -errno;
  if (write(fd, text, (size_t)n) != n || fsync(fd))
    rc = errno ? -errno : -EIO;
  close(fd);
  return rc;
}

/* Zero a volume whose refused load left part of an image in it. */
static void wipe(struct vramd *d, struct vd_volume *v)
{
  const uint64_t step = 64ull * VD_IMG_UNIT;
  for (uint64_t off = 0; off < v->size; off += step)
    if (vd_engine_rw(d->eng, &v->target, VD_OP_ZERO, off,
                     v->size - off < step ? v->size - off : step, NULL))
      vd_err("volume %s: cannot zero it after a refused image", v->spec.name);
}

/* Which sidecar (PATH.sum, else PATH.sum.partial) vouches for an image
 * of size bytes with checksum total: 0, 1, or -1 for neither. */
static int vouched(const char *path, uint64_t size, uint64_t total)
{
  static const char *const suffix[] = { ".sum", ".sum.partial" };
  char p[VD_PERSIST_MAX + 16];
  uint64_t s = 0, t = 0;

  for (int i = 0; i < 2; i++)
    if (!read_sum(with(path, suffix[i], p, sizeof p), &s, &t) && s == size && t == total)
      return i;
  return -1;
}

/* Load v's image into the new volume. */
void vramd_persist_load(struct vramd *d, struct vd_volume *v)
{
  const char *path = v->spec.persist;
  struct vramd_caller me = self();
  struct vd_imgfile f;
  uint64_t n = (v->size + VD_IMG_UNIT - 1) / VD_IMG_UNIT, *sums;
  char err[512], p[VD_PERSIST_MAX + 16], q[VD_PERSIST_MAX + 16];
  int rc, which;

  if (!path[0])
    return;
  rc = vd_imgfile_open(&f, &me, path, err, sizeof err);
  if (rc == -ENOENT) {
    vd_warn("volume %s: no image at %s yet: it starts empty", v->spec.name, path);
    return;
  }
  if (!rc && f.size != v->size) {
    snprintf(err, sizeof err, "%s holds %llu bytes, the volume %llu", path,
             (unsigned long long)f.size, (unsigned long long)v->size);
    rc = -EINVAL;
  }
  sums = rc ? NULL : calloc(n, sizeof *sums);
  if (!rc && !sums) {
    snprintf(err, sizeof err, "out of host memory");
    rc = -ENOMEM;
  }
  if (!rc) {
    /* The keeper settles writes waiting for a thin chunk only on
     * registered volumes: load it registered, not yet exposed. */
    bool listed = vd_registry_add(&d->reg, v) == 0;
    rc = vramd_image_load(d, v, &f, true, sums, err, sizeof err);
    if (listed)
      vd_registry_remove(&d->reg, v->spec.name);
  }
  if (!rc && (which = vouched(path, v->size, vd_img_total(sums, n))) < 0) {
    snprintf(err, sizeof err, "%.240s does not match its .sum (corrupt, or not saved by "
             "vramd)", path);
    rc = -EINVAL;
  }
  free(sums);
  vd_imgfile_close(&f);
  if (rc) {
    vd_err("volume %s: image refused: %s; the volume starts empty and vramd will not save "
           "over the image at stop (move it away to save again)", v->spec.name, err);
    wipe(d, v);
    v->persist_refused = true;
    return;
  }
  if (which == 1 && rename(with(path, ".sum.partial", p, sizeof p), with(path, ".sum", q, sizeof q)))
    vd_warn("volume %s: cannot rename %s to %s: %s", v->spec.name, p, q, strerror(errno));
  vd_info("volume %s: loaded from %s, checksum matches", v->spec.name, path);
}

/* Save one volume's image and its sidecar. */
static int persist_save(struct vramd *d, struct vd_volume *v, char *err, size_t errlen)
{
  const char *path = v->spec.persist;
  struct vramd_caller me = self();
  struct vd_imgfile f;
  uint64_t n = (v->size + VD_IMG_UNIT - 1) / VD_IMG_UNIT, *sums = calloc(n, sizeof *sums);
  char p[VD_PERSIST_MAX + 16], q[VD_PERSIST_MAX + 16];
  int rc;

  if (!sums) {
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  unlink(with(path, ".partial", p, sizeof p)); /* a stop killed midway left it */
  rc = vd_imgfile_create(&f, &me, path, v->size, err, errlen);
  if (rc)
    goto out_free;
  rc = vramd_image_save(d, v, &f, sums, err, errlen);
  if (!rc && (rc = write_sum(with(path, ".sum.partial", p, sizeof p), v->size,
                             vd_img_total(sums, n))))
    snprintf(err, errlen, "cannot write %s: %s", p, strerror(-rc));
  if (!rc)
    rc = vd_imgfile_commit(&f, err, errlen);
  if (!rc && rename(p, with(path, ".sum", q, sizeof q))) {
    rc = -errno; /* the image is in place; its sidecar vouches from .partial */
    snprintf(err, errlen, "cannot rename %.300s to .sum: %s", p, strerror(errno));
  } else if (rc && f.partial) {
    unlink(p);
  }
  vd_imgfile_close(&f);
out_free:
  free(sums);
  return rc;
}

/* Save every persisted volume at a clean stop. */
void vramd_persist_save_all(struct vramd *d)
{
  struct vd_volume **vols;
  char err[512];
  int n = vd_registry_list(&d->reg, &vols);

  for (int i = 0; i < n; i++) {
    struct vd_volume *v = vols[i];
    if (!v->spec.persist[0]) {
    } else if (v->persist_refused) {
      vd_warn("volume %s: not saved: its image %s was refused at start", v->spec.name,
              v->spec.persist);
    } else if (vd_volume_failed(v)) {
      vd_err("volume %s: not saved to %s: a device under it is lost; the last good image "
             "stays", v->spec.name, v->spec.persist);
    } else if (persist_save(d, v, err, sizeof err)) {
      vd_err("volume %s: not saved to %s: %s; the last good image stays", v->spec.name,
             v->spec.persist, err);
    } else {
      vd_info("volume %s: saved to %s for the next start", v->spec.name, v->spec.persist);
    }
    vd_volume_put(v);
  }
  if (n >= 0)
    free(vols);
}
