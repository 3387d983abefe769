/* ublk.c: volumes as /dev/ublkbN through the kernel's ublk driver: adding
 * and removing devices, and the frontend table entry.  The control
 * commands are in ctrl.c, the queues' data plane in queue.c.  There is no
 * recovery mode: the data lives in VRAM and dies with the process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "ublk-internal.h"

#define MAX_ZERO_SECTORS (1u << 21) /* 1 GiB per discard / write-zeroes */

/* The frontend's one instance: the vtable's callbacks carry no pointer. */
static struct ublk_frontend ublk_fe = {
  .lock = PTHREAD_MUTEX_INITIALIZER,
  .ctrl = { .fd = -1 },
};

/* Open /dev/ublkcN, waiting briefly for devtmpfs or udev to make it. */
static int open_cdev(int id)
{
  char path[32];
  snprintf(path, sizeof path, "/dev/ublkc%d", id);
  for (int i = 0; i < 200; i++) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd >= 0 || (errno != ENOENT && errno != ENXIO))
      return fd < 0 ? -errno : fd;
    usleep(10000);
  }
  return -ENOENT;
}

/* Integer log2 of a power of two, or of the largest one below x. */
static uint8_t ilog2_floor(uint64_t x)
{
  uint8_t s = 0;
  while (x >>= 1)
    s++;
  return s;
}

/* Block parameters: 4 KiB blocks, stripe geometry, discard limits. */
static void fill_params(const struct vd_volume *v, struct ublk_params *p)
{
  uint64_t unit = v->target.map.unit ? v->target.map.unit : VD_SECTOR;

  memset(p, 0, sizeof *p);
  p->len = sizeof *p;
  p->types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD;
  /* No volatile cache: a write is acknowledged once it is in VRAM. */
  p->basic.attrs = 0;
  p->basic.logical_bs_shift = 12;
  p->basic.physical_bs_shift = 12;
  p->basic.max_sectors = VD_UBLK_IO_BYTES >> 9;
  p->basic.dev_sectors = v->size >> 9;
  if (v->spec.layout == VD_LAYOUT_STRIPE && unit >= VD_SECTOR) {
    p->basic.io_min_shift = ilog2_floor(unit);
    p->basic.io_opt_shift = ilog2_floor(unit * v->target.map.ndev);
    /* Requests never cross a stripe unit, so each goes to one device. */
    p->basic.chunk_sectors = (uint32_t)(unit >> 9);
  } else {
    p->basic.io_min_shift = 12;
    p->basic.io_opt_shift = ilog2_floor(VD_UBLK_IO_BYTES);
  }
  p->discard.discard_granularity = VD_SECTOR;
  p->discard.max_discard_sectors = MAX_ZERO_SECTORS;
  p->discard.max_write_zeroes_sectors = MAX_ZERO_SECTORS;
  p->discard.max_discard_segments = 1;
}

/* Stop and delete a device and free it; caller holds fe->lock. */
static void dev_destroy(struct ublk_dev *u)
{
  struct ublk_ctrl *ctl = &u->fe->ctrl;
  int rc;

  if (u->started) {
    /* STOP_DEV removes the disk (syncing a mounted filesystem through our
     * queues) and then aborts every fetched tag, which ends the threads. */
    rc = ublk_ctrl_stop_dev(ctl, (uint32_t)u->id);
    if (rc)
      vd_err("ublk: STOP_DEV /dev/ublkb%d: %s", u->id, strerror(-rc));
    for (unsigned i = 0; i < u->nq; i++)
      ublk_queue_join(&u->q[i], rc ? 0 : 10);
  } else {
    for (unsigned i = 0; i < u->nq; i++)
      ublk_queue_join(&u->q[i], 0);
  }
  for (unsigned i = 0; i < u->nq; i++)
    ublk_queue_free(&u->q[i]);
  if (u->cdev_fd >= 0)
    close(u->cdev_fd);
  if (u->added) {
    /* The async delete does not wait for a still-mounted disk to go. */
    rc = ublk_ctrl_del_dev_async(ctl, (uint32_t)u->id);
    if (rc == -EOPNOTSUPP || rc == -EINVAL)
      rc = ublk_ctrl_del_dev(ctl, (uint32_t)u->id);
    if (rc)
      vd_err("ublk: DEL_DEV %d: %s", u->id, strerror(-rc));
  }
  if (u->v) {
    u->v->frontend_priv = NULL;
    u->v->device_path[0] = '\0';
  }
  free(u);
}

/* Unlink a device from the frontend's list; caller holds fe->lock. */
static void dev_unlink(struct ublk_frontend *fe, struct ublk_dev *u)
{
  for (struct ublk_dev **pp = &fe->devs; *pp; pp = &(*pp)->next)
    if (*pp == u) {
      *pp = u->next;
      return;
    }
}

/* Explain an ADD_DEV failure. */
static void add_why(int rc, int want, char *err, size_t errlen)
{
  if (rc == -EEXIST)
    snprintf(err, errlen, "ublk id %d is already taken by another ublk device "
             "(/dev/ublkc%d exists); ask for another id or none", want, want);
  else if (rc == -EPERM || rc == -EACCES)
    snprintf(err, errlen, "ublk: not allowed to add a device (vramd needs "
             "CAP_SYS_ADMIN for ublk)");
  else
    snprintf(err, errlen, "ublk: ADD_DEV failed: %s", strerror(-rc));
}

/* Create /dev/ublkbN for a volume and start serving it. */
static int dev_add(struct ublk_frontend *fe, struct vd_engine *eng, struct vd_volume *v,
                   char *err, size_t errlen)
{
  struct ublksrv_ctrl_dev_info info = { 0 };
  struct ublk_params params;
  struct ublk_dev *u;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int want = v->spec.index, rc;

  pthread_mutex_lock(&fe->lock);
  for (struct ublk_dev *o = fe->devs; want >= 0 && o; o = o->next)
    if (o->id == want) {
      snprintf(err, errlen, "ublk id %d is already used by volume '%s'", want,
               o->v->spec.name);
      rc = -EEXIST;
      goto out_unlock;
    }
  rc = ublk_ctrl_open(&fe->ctrl, err, errlen);
  if (rc)
    goto out_unlock;
  u = calloc(1, sizeof *u);
  if (!u) {
    snprintf(err, errlen, "out of memory");
    rc = -ENOMEM;
    goto out_unlock;
  }
  u->fe = fe;
  u->eng = eng;
  u->v = v;
  u->cdev_fd = -1;
  u->nq = ncpu < 1 ? 1 : ncpu > VD_UBLK_MAX_QUEUES ? VD_UBLK_MAX_QUEUES : (unsigned)ncpu;

  info.nr_hw_queues = (uint16_t)u->nq;
  info.queue_depth = VD_UBLK_QUEUE_DEPTH;
  info.max_io_buf_bytes = VD_UBLK_IO_BYTES;
  info.dev_id = want >= 0 ? (uint32_t)want : UINT32_MAX;
  info.ublksrv_pid = getpid();
  info.flags = fe->ctrl.encoded ? UBLK_F_CMD_IOCTL_ENCODE : 0;
  rc = ublk_ctrl_add_dev(&fe->ctrl, &info);
  if (rc) {
    add_why(rc, want, err, errlen);
    goto out_free;
  }
  u->id = (int)info.dev_id;
  u->added = true;

  fill_params(v, &params);
  rc = ublk_ctrl_set_params(&fe->ctrl, (uint32_t)u->id, &params);
  if (rc) {
    snprintf(err, errlen, "ublk: SET_PARAMS for /dev/ublkb%d: %s", u->id, strerror(-rc));
    goto out_destroy;
  }
  rc = open_cdev(u->id);
  if (rc < 0) {
    snprintf(err, errlen, "ublk: cannot open /dev/ublkc%d: %s", u->id, strerror(-rc));
    goto out_destroy;
  }
  u->cdev_fd = rc;
  for (unsigned i = 0; i < u->nq; i++) {
    rc = ublk_queue_setup(u, i, err, errlen);
    if (rc) {
      u->nq = i + 1; /* free what queue i got too */
      goto out_destroy;
    }
  }
  rc = ublk_ctrl_start_dev(&fe->ctrl, (uint32_t)u->id, getpid());
  if (rc) {
    snprintf(err, errlen, "ublk: START_DEV /dev/ublkb%d: %s", u->id, strerror(-rc));
    goto out_destroy;
  }
  u->started = true;
  snprintf(v->device_path, sizeof v->device_path, "/dev/ublkb%d", u->id);
  v->frontend_priv = u;
  u->next = fe->devs;
  fe->devs = u;
  pthread_mutex_unlock(&fe->lock);
  vd_info("volume %s is %s (%u queues of %u tags, %u KiB per request)", v->spec.name,
          v->device_path, u->nq, VD_UBLK_QUEUE_DEPTH, VD_UBLK_IO_BYTES >> 10);
  return 0;

out_destroy:
  u->v = NULL;
  dev_destroy(u);
  goto out_unlock;
out_free:
  free(u);
out_unlock:
  pthread_mutex_unlock(&fe->lock);
  return rc;
}

/* Withdraw a volume's device; refuses while mounted unless forced. */
static int dev_remove(struct ublk_frontend *fe, struct vd_volume *v, bool force,
                      char *err, size_t errlen)
{
  struct ublk_dev *u;
  char what[200];

  pthread_mutex_lock(&fe->lock);
  u = v->frontend_priv;
  if (!u) {
    pthread_mutex_unlock(&fe->lock);
    return 0;
  }
  if (!force && vd_bdev_in_use(v->device_path, what, sizeof what)) {
    snprintf(err, errlen, "%s is %s", v->device_path, what);
    pthread_mutex_unlock(&fe->lock);
    return -EBUSY;
  }
  dev_unlink(fe, u);
  vd_info("volume %s: removing %s%s", v->spec.name, v->device_path,
          force ? " (forced)" : "");
  dev_destroy(u);
  pthread_mutex_unlock(&fe->lock);
  return 0;
}

/* Resize a volume's /dev/ublkbN in place where the driver can
 * (UBLK_F_UPDATE_SIZE, Linux 6.16); elsewhere refuse, naming the kernel. */
static int dev_resize(struct ublk_frontend *fe, struct vd_volume *v, uint64_t bytes,
                      bool check, char *err, size_t errlen)
{
  struct ublk_dev *u;
  struct utsname un;
  int rc = 0;

  pthread_mutex_lock(&fe->lock);
  u = v->frontend_priv;
  if (u && !(fe->ctrl.features & UBLK_F_UPDATE_SIZE)) {
    if (uname(&un))
      snprintf(un.release, sizeof un.release, "unknown");
    snprintf(err, errlen, "%s cannot change size while attached: that needs Linux 6.16 or "
             "later (ublk UPDATE_SIZE) and this kernel is %s; detach the volume, resize it "
             "and attach it again", v->device_path, un.release);
    rc = -EOPNOTSUPP;
  } else if (u && !check) {
    rc = ublk_ctrl_update_size(&fe->ctrl, (uint32_t)u->id, bytes >> 9);
    if (rc)
      snprintf(err, errlen, "the kernel refused the new size of %s: %s", v->device_path,
               strerror(-rc));
    else
      vd_info("volume %s: %s is now %llu bytes", v->spec.name, v->device_path,
              (unsigned long long)bytes);
  }
  pthread_mutex_unlock(&fe->lock);
  return rc;
}

/* The one client of a ublk volume: its kernel device. */
static void dev_clients(struct ublk_frontend *fe, struct vd_volume *v, vd_client_fn *fn,
                        void *arg)
{
  struct vd_frontend_client c = { .kind = VD_CLIENT_KERNEL, .pid = -1, .uid = -1 };

  pthread_mutex_lock(&fe->lock);
  if (v->frontend_priv) {
    snprintf(c.device, sizeof c.device, "%s", v->device_path);
    fn(arg, &c);
  }
  pthread_mutex_unlock(&fe->lock);
}

/* Probe the kernel at start; a failure is only logged, since the control
 * device is opened again on first use and a module loaded later works. */
static void fe_probe(struct ublk_frontend *fe)
{
  char why[256];

  pthread_mutex_lock(&fe->lock);
  if (ublk_ctrl_open(&fe->ctrl, why, sizeof why))
    vd_info("%s", why);
  pthread_mutex_unlock(&fe->lock);
}

/* Tear every device down and close the control device. */
static void fe_shutdown(struct ublk_frontend *fe)
{
  pthread_mutex_lock(&fe->lock);
  while (fe->devs) {
    struct ublk_dev *u = fe->devs;
    fe->devs = u->next;
    vd_info("volume %s: removing %s (shutdown)", u->v->spec.name, u->v->device_path);
    dev_destroy(u);
  }
  ublk_ctrl_close(&fe->ctrl);
  pthread_mutex_unlock(&fe->lock);
}

/* Frontend pinned: a staging buffer per queue, at most 4 queues per ublk
 * volume, allocated when the volume is created.  Fixed sizes, not settings:
 * a tag's slice is the largest request (max_sectors). */
static void fe_pinned(struct ublk_frontend *fe, struct vd_frontend_pinned *out)
{
  *out = (struct vd_frontend_pinned){
    .unit = "queue",
    .unit_bytes = (uint64_t)VD_UBLK_QUEUE_DEPTH * VD_UBLK_IO_BYTES,
    .units_per_volume = VD_UBLK_MAX_QUEUES,
    .units = atomic_load(&fe->queues_staged),
    .max_request = VD_UBLK_IO_BYTES,
  };
}

/* Nothing to listen on: probe the kernel. */
static int ublk_start(const struct vd_frontend_host *d, const struct vd_frontend_config *c,
                      char *err, size_t errlen)
{
  (void)d;
  (void)c;
  (void)err;
  (void)errlen;
  fe_probe(&ublk_fe);
  return 0;
}

/* Tear every device down at shutdown. */
static void ublk_stop(const struct vd_frontend_host *d)
{
  (void)d;
  fe_shutdown(&ublk_fe);
}

/* Create /dev/ublkbN for a volume. */
static int ublk_add(const struct vd_frontend_host *d, struct vd_volume *v, char *err,
                    size_t errlen)
{
  return dev_add(&ublk_fe, d->eng, v, err, errlen);
}

/* Withdraw a volume's device. */
static int ublk_remove(const struct vd_frontend_host *d, struct vd_volume *v, bool force,
                       char *err, size_t errlen)
{
  (void)d;
  return dev_remove(&ublk_fe, v, force, err, errlen);
}

/* A volume's kernel device. */
static void ublk_clients(const struct vd_frontend_host *d, struct vd_volume *v,
                         vd_client_fn *fn, void *arg)
{
  (void)d;
  dev_clients(&ublk_fe, v, fn, arg);
}

/* A new size for a volume's device. */
static int ublk_resize(const struct vd_frontend_host *d, struct vd_volume *v, uint64_t bytes,
                       bool check, char *err, size_t errlen)
{
  (void)d;
  return dev_resize(&ublk_fe, v, bytes, check, err, errlen);
}

/* What the queues pin. */
static void ublk_pinned(const struct vd_frontend_host *d, struct vd_frontend_pinned *out)
{
  (void)d;
  fe_pinned(&ublk_fe, out);
}

const struct vd_frontend vd_frontend_ublk = {
  .kind = VD_FRONTEND_UBLK,
  .name = "ublk",
  .start = ublk_start,
  .stop = ublk_stop,
  .add = ublk_add,
  .remove = ublk_remove,
  .clients = ublk_clients,
  .resize = ublk_resize,
  .pinned = ublk_pinned,
};
