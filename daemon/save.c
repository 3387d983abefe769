/* save.c: save, load and restore as jobs.  The data moves through
 * imgio.c; the files are opened as the caller by imgfile.c.
 *
 * A save is a point in time after it started (docs/design-decisions.md,
 * "Consistent saves"): it tracks the logical pieces that writes change
 * (vd_target_track_volume), copies the whole volume while clients go on,
 * copies again what was written meanwhile for a few rounds, then parks
 * requests (vd_target_pause) and copies the last written pieces.  The
 * file holds the volume as it was at that pause, which includes every
 * write acknowledged before the save started. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "imgfile.h"
#include "imgio.h"
#include "save.h"
#include "state.h"
#include "util.h"

#define SAVE_ROUNDS 4        /* copies of written pieces while requests run */
#define SAVE_LAST_PIECES 16  /* few enough to copy with requests parked */

struct xfer {
  struct vramd *d;
  struct vd_volume *v;          /* a reference */
  struct vramd_job *job;
  struct vd_imgfile f;
  bool create;                  /* load: the volume is new, exposed at the end */
  struct vd_volume_spec how;    /* load: how to expose it */
  uint64_t total;
  /* the units of a pass: in order up to end, or the bits set in bits */
  uint64_t cur, end;
  const uint64_t *bits;
  uint32_t npieces;
  /* load: the file's next data range (SEEK_DATA, SEEK_HOLE) */
  uint64_t data_start, data_end;
  uint64_t *sums;               /* persist: each unit's checksum, or NULL */
};

/* The job's callbacks for a pass (none without a job: persist.c); a
 * test may slow each unit down. */
static bool cancelled(void *arg)
{
  struct xfer *x = arg;
  unsigned ms = vd_fault_unit_delay_ms();
  if (ms)
    usleep(ms * 1000u);
  return x->job && vramd_job_cancelled(x->job);
}
static void progress(void *arg, uint64_t bytes)
{
  struct xfer *x = arg;
  if (x->job)
    vramd_job_advance(x->job, bytes);
}

/* The next unit of a pass over every unit, or over the bits set. */
static bool next_unit(void *arg, uint64_t *off, uint64_t *len)
{
  struct xfer *x = arg;
  uint64_t size = x->v->size;

  if (x->bits)
    while (x->cur / VD_IMG_UNIT < x->npieces &&
           !(x->bits[x->cur / VD_IMG_UNIT / 64] & (1ull << (x->cur / VD_IMG_UNIT % 64))))
      x->cur += VD_IMG_UNIT;
  if (x->cur >= x->end)
    return false;
  *off = x->cur;
  *len = size - x->cur < VD_IMG_UNIT ? size - x->cur : VD_IMG_UNIT;
  x->cur += VD_IMG_UNIT;
  return true;
}

/* A thin unit none of whose ranges holds a chunk: zeros, unread. */
static bool thin_hole(void *arg, uint64_t off, uint64_t len)
{
  struct xfer *x = arg;
  struct vd_map_iter it;
  struct vd_segment s;

  if (!x->v->target.stock)
    return false;
  vd_map_iter_init(&it, &x->v->target.map, off, len);
  while (vd_map_next(&it, &s))
    if (vd_volume_where(x->v, s.dev, s.extent, NULL))
      return false;
  return true;
}

/* A unit inside a hole of the image file: zeros, unread. */
static bool file_hole(void *arg, uint64_t off, uint64_t len)
{
  struct xfer *x = arg;
  off_t at;

  if (x->f.blockdev)
    return false;
  if (off >= x->data_end) {
    at = lseek(x->f.fd, (off_t)off, SEEK_DATA);
    if (at < 0 && errno == ENXIO) {
      x->data_start = x->data_end = UINT64_MAX; /* only a hole is left */
    } else if (at < 0) {
      x->data_start = off; /* no SEEK_DATA here: all of it is data */
      x->data_end = UINT64_MAX;
    } else {
      x->data_start = (uint64_t)at;
      at = lseek(x->f.fd, at, SEEK_HOLE);
      x->data_end = at < 0 ? UINT64_MAX : (uint64_t)at;
    }
  }
  return x->data_start >= off + len;
}

/* One pass: over every unit (bits NULL) or those whose bit is set. */
static int pass(struct xfer *x, struct vd_img *img, const uint64_t *bits,
                enum vd_img_dir dir, enum vd_img_zeros zeros, bool through, char *err,
                size_t errlen)
{
  struct vd_img_pass p = {
    .dir = dir, .zeros = zeros, .through = through, .file_size = x->f.size,
    .next = next_unit,
    /* Not while paused: vd_volume_where waits for a move, which may be
     * waiting for this pause to end. */
    .known_zero = dir == VD_IMG_LOAD ? file_hole : through ? NULL : thin_hole,
    .cancelled = through ? NULL : cancelled, .progress = progress, .arg = x, .sums = x->sums,
  };
  x->cur = 0;
  x->end = x->v->size;
  x->bits = bits;
  x->data_start = x->data_end = 0;
  return vd_img_run(img, &p, err, errlen);
}

/* Add the pieces set in bits to the job's total. */
static void add_total(struct xfer *x, uint32_t n)
{
  x->total += (uint64_t)n * VD_IMG_UNIT;
  if (x->job)
    vramd_job_total(x->job, x->total);
}

/* Copy the volume, then what was written meanwhile, then the rest with
 * requests parked.  *stall gets how long they were. */
static int save_tracked(struct xfer *x, struct vd_img *img, uint64_t *stall, char *err,
                        size_t errlen)
{
  struct vd_target *t = &x->v->target;
  uint32_t np = (uint32_t)((x->v->size + VD_IMG_UNIT - 1) / VD_IMG_UNIT), words = (np + 63) / 64;
  struct vd_track tr = { 0, 0, VD_IMG_UNIT, np, calloc(words, sizeof(uint64_t)) };
  uint64_t *snap = calloc(words, sizeof *snap), t0;
  enum vd_img_zeros again = x->f.blockdev ? VD_IMG_WRITE : VD_IMG_PUNCH;
  int rc;

  x->npieces = np;
  if (!tr.bits || !snap) {
    snprintf(err, errlen, "out of host memory");
    rc = -ENOMEM;
    goto out_free;
  }
  if (!vd_target_track_volume(t, &tr)) {
    snprintf(err, errlen, "another save of volume %s runs: wait for it (vramctl job list)",
             x->v->spec.name);
    rc = -EBUSY;
    goto out_free;
  }
  rc = pass(x, img, NULL, VD_IMG_SAVE, x->f.blockdev ? VD_IMG_WRITE : VD_IMG_SKIP, false, err,
            errlen);
  for (unsigned r = 0; !rc && r < SAVE_ROUNDS; r++) {
    uint32_t n = vd_track_take(&tr, snap);
    if (n <= SAVE_LAST_PIECES) {
      for (uint32_t w = 0; w < words; w++)
        atomic_fetch_or(&tr.bits[w], snap[w]);
      break;
    }
    add_total(x, n);
    rc = pass(x, img, snap, VD_IMG_SAVE, again, false, err, errlen);
  }
  t0 = vd_now_ns();
  vd_target_pause(t);
  if (!rc) {
    add_total(x, vd_track_take(&tr, snap));
    rc = pass(x, img, snap, VD_IMG_SAVE, again, true, err, errlen);
  }
  vd_target_track_volume(t, NULL);
  vd_target_resume(x->d->eng, t);
  *stall = vd_now_ns() - t0;
out_free:
  free(snap);
  free((void *)tr.bits);
  return rc;
}

/* Save x->v into x->f (not committed). */
static int save_image(struct xfer *x, char *err, size_t errlen)
{
  struct vd_img *img;
  uint64_t t0 = vd_now_ns(), stall = 0, ns;
  char a[32];
  int rc;

  rc = vd_img_open(x->d->eng, &x->v->target, x->f.fd, x->f.direct, x->d->cfg.save_staging,
                   &img, err, errlen);
  if (rc)
    return rc;
  atomic_fetch_add(&x->d->save_pinned, vd_img_staging(img));
  rc = save_tracked(x, img, &stall, err, errlen);
  atomic_fetch_sub(&x->d->save_pinned, vd_img_staging(img));
  vd_img_close(img);
  ns = vd_now_ns() - t0;
  if (!rc)
    vd_info("volume %s: saved to %s (%s) in %.2f s (%.2f GB/s, %s I/O); requests waited "
            "%.2f ms at the end", x->v->spec.name, x->f.path,
            vd_format_size(x->v->size, a, sizeof a), (double)ns / 1e9,
            (double)x->v->size / (double)(ns ? ns : 1), x->f.direct ? "direct" : "buffered",
            (double)stall / 1e6);
  return rc;
}

/* The save job. */
static int run_save(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct xfer *x = arg;
  int rc;

  x->job = job;
  rc = save_image(x, err, errlen);
  return rc ? rc : vd_imgfile_commit(&x->f, err, errlen);
}

/* Expose a loaded volume, or delete one whose load failed. */
static int finish_create(struct xfer *x, int rc, char *err, size_t errlen)
{
  char e[512];

  if (rc) {
    if (vramd_volume_delete(x->d, x->v->spec.name, true, vramd_state_save, e, sizeof e))
      vd_err("volume %s: its load ended (%s) and it cannot be deleted: %s", x->v->spec.name,
             err, e);
    return rc;
  }
  if (x->how.frontend == VD_FRONTEND_NONE)
    return 0;
  rc = vramd_volume_attach(x->d, x->v->spec.name, &x->how, vramd_state_save, NULL, e, sizeof e);
  if (rc)
    snprintf(err, errlen, "loaded, but not exposed: %s; the volume stays (vramctl volume "
             "attach)", e);
  return rc;
}

/* Load x->f into x->v: into a new volume (x->create) or over one. */
static int load_image(struct xfer *x, char *err, size_t errlen)
{
  struct vd_img *img;
  uint64_t t0 = vd_now_ns(), ns;
  char a[32];
  int rc;

  rc = vd_img_open(x->d->eng, &x->v->target, x->f.fd, x->f.direct, x->d->cfg.save_staging,
                   &img, err, errlen);
  if (!rc) {
    atomic_fetch_add(&x->d->save_pinned, vd_img_staging(img));
    rc = pass(x, img, NULL, VD_IMG_LOAD, x->create ? VD_IMG_SKIP : VD_IMG_DISCARD, false, err,
              errlen);
    atomic_fetch_sub(&x->d->save_pinned, vd_img_staging(img));
    vd_img_close(img);
  }
  ns = vd_now_ns() - t0;
  if (!rc)
    vd_info("volume %s: loaded %s from %s in %.2f s (%.2f GB/s, %s I/O)", x->v->spec.name,
            vd_format_size(x->f.size, a, sizeof a), x->f.path, (double)ns / 1e9,
            (double)x->f.size / (double)(ns ? ns : 1), x->f.direct ? "direct" : "buffered");
  else if (!x->create)
    vd_warn("volume %s: restore from %s ended (%s); the volume holds part of the image",
            x->v->spec.name, x->f.path, err);
  return rc;
}

/* The load and restore job. */
static int run_load(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct xfer *x = arg;
  int rc;

  x->job = job;
  rc = load_image(x, err, errlen);
  return x->create ? finish_create(x, rc, err, errlen) : rc;
}

/* Save without a job. */
int vramd_image_save(struct vramd *d, struct vd_volume *v, struct vd_imgfile *f,
                     uint64_t *sums, char *err, size_t errlen)
{
  struct xfer x = { .d = d, .v = v, .f = *f, .total = v->size, .sums = sums };
  int rc = save_image(&x, err, errlen);
  *f = x.f;
  return rc;
}

/* Load without a job. */
int vramd_image_load(struct vramd *d, struct vd_volume *v, struct vd_imgfile *f, bool fresh,
                     uint64_t *sums, char *err, size_t errlen)
{
  struct xfer x = { .d = d, .v = v, .f = *f, .create = fresh, .total = v->size, .sums = sums };
  int rc = load_image(&x, err, errlen);
  *f = x.f;
  return rc;
}

/* Free a job's argument: the image closes (a save's partial file goes). */
static void drop_xfer(void *arg)
{
  struct xfer *x = arg;
  vd_imgfile_close(&x->f);
  if (x->v)
    vd_volume_put(x->v);
  free(x);
}

/* A transfer for d with the file still closed. */
static struct xfer *new_xfer(struct vramd *d, char *err, size_t errlen)
{
  struct xfer *x = calloc(1, sizeof *x);
  if (!x) {
    snprintf(err, errlen, "out of host memory");
    return NULL;
  }
  x->d = d;
  x->f.fd = x->f.dirfd = -1;
  return x;
}

/* Start a transfer's job: kind on x->v with run. */
static int start_job(struct xfer *x, const char *kind, vramd_job_fn *run, uint32_t *job,
                     char *err, size_t errlen)
{
  struct vramd_job_desc desc = { .kind = kind, .target = x->v->spec.name, .run = run,
                                 .arg = x, .drop = drop_xfer, .total_bytes = x->v->size };
  x->total = x->v->size;
  return vramd_job_start(&x->d->jobs, &desc, job, err, errlen);
}

/* Start a save. */
int vramd_volume_save(struct vramd *d, const char *name, const char *path,
                      const struct vramd_caller *caller, uint32_t *job, char *err,
                      size_t errlen)
{
  struct xfer *x = new_xfer(d, err, errlen);
  int rc;

  if (!x)
    return -ENOMEM;
  x->v = vd_registry_get(&d->reg, name);
  if (!x->v) {
    snprintf(err, errlen, "no volume '%s'", name);
    drop_xfer(x);
    return -ENOENT;
  }
  rc = vd_imgfile_create(&x->f, caller, path, x->v->size, err, errlen);
  if (rc) {
    drop_xfer(x);
    return rc;
  }
  return start_job(x, "save", run_save, job, err, errlen);
}

/* An image larger than a volume of size: -EFBIG with err. */
static int too_large(const struct vd_imgfile *f, uint64_t size, char *err, size_t errlen)
{
  char a[32], b[32];
  snprintf(err, errlen, "%s holds %s, more than the volume's %s", f->path,
           vd_format_size(f->size, a, sizeof a), vd_format_size(size, b, sizeof b));
  return -EFBIG;
}

/* Start a restore into an existing volume. */
int vramd_volume_restore(struct vramd *d, const char *name, const char *path, bool force,
                         const struct vramd_caller *caller, uint32_t *job, char *err,
                         size_t errlen)
{
  struct xfer *x = new_xfer(d, err, errlen);
  int rc, clients;

  if (!x)
    return -ENOMEM;
  x->v = vd_registry_get(&d->reg, name);
  if (!x->v) {
    snprintf(err, errlen, "no volume '%s'", name);
    rc = -ENOENT;
    goto out_drop;
  }
  clients = atomic_load(&x->v->clients);
  if (clients && !force) {
    snprintf(err, errlen, "volume %s has %d client%s: a restore changes what they read; stop "
             "them first, or force it", name, clients, clients == 1 ? "" : "s");
    rc = -EBUSY;
    goto out_drop;
  }
  rc = vd_imgfile_open(&x->f, caller, path, err, errlen);
  if (!rc && x->f.size > x->v->size)
    rc = too_large(&x->f, x->v->size, err, errlen);
  if (!rc)
    return start_job(x, "restore", run_load, job, err, errlen);
out_drop:
  drop_xfer(x);
  return rc;
}

/* Create unexposed, then start the load that exposes it. */
int vramd_volume_create_from(struct vramd *d, const struct vd_volume_spec *spec,
                             bool size_from_image, const char *path,
                             const struct vramd_caller *caller, uint32_t *job, char *err,
                             size_t errlen)
{
  struct xfer *x = new_xfer(d, err, errlen);
  struct vd_volume_spec s = *spec;
  char e[256];
  int rc;

  if (!x)
    return -ENOMEM;
  rc = vd_imgfile_open(&x->f, caller, path, err, errlen);
  if (rc)
    goto out_drop;
  if (size_from_image) {
    if (!x->f.size) {
      snprintf(err, errlen, "%s is empty: give the volume's size", path);
      rc = -EINVAL;
      goto out_drop;
    }
    s.size = (x->f.size + VD_SECTOR - 1) / VD_SECTOR * VD_SECTOR;
    s.size_free_pct = 0;
  }
  x->create = true;
  x->how = *spec;
  s.frontend = VD_FRONTEND_NONE;
  s.attach = false;
  rc = vramd_volume_create(d, &s, vramd_state_save, &x->v, err, errlen);
  if (rc)
    goto out_drop;
  if (x->f.size > x->v->size) {
    rc = too_large(&x->f, x->v->size, err, errlen);
    drop_xfer(x);
  } else {
    rc = start_job(x, "load", run_load, job, err, errlen); /* drops x on failure */
  }
  if (rc && vramd_volume_delete(d, s.name, true, vramd_state_save, e, sizeof e))
    vd_err("volume %s: cannot delete it after a refused load: %s", s.name, e);
  return rc;
out_drop:
  drop_xfer(x);
  return rc;
}
