/* attach.c: connect a volume to the kernel's NBD driver without nbd-client.
 *
 * One end of a socketpair goes to /dev/nbdN (NBD_SET_SOCK), the other is
 * served by vd_nbd_serve_transmission() (no handshake: size and flags are
 * set by ioctl).  NBD_DO_IT blocks for the life of the connection, so it
 * runs in its own thread; detach sends NBD_DISCONNECT, which makes the
 * kernel send NBD_CMD_DISC, after which both threads end.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nbd.h"
#include "vramd.h"

/* <linux/nbd.h>'s ioctls; the header itself clashes with nbd.h's names. */
#define NBD_IOC_SET_SOCK _IO(0xab, 0)
#define NBD_IOC_SET_BLKSIZE _IO(0xab, 1)
#define NBD_IOC_DO_IT _IO(0xab, 3)
#define NBD_IOC_CLEAR_SOCK _IO(0xab, 4)
#define NBD_IOC_CLEAR_QUE _IO(0xab, 5)
#define NBD_IOC_SET_SIZE_BLOCKS _IO(0xab, 7)
#define NBD_IOC_DISCONNECT _IO(0xab, 8)
#define NBD_IOC_SET_FLAGS _IO(0xab, 10)

#define ATTACH_STACK (256u << 10)
#define NBD_SCAN_MAX 1024       /* highest /dev/nbdN looked at */

/* One attached volume: the device, the socketpair and two threads. */
struct nbd_attach {
  struct vramd *d;
  struct vd_volume *v;
  int index;
  int dev_fd;                   /* /dev/nbdN */
  int sk_kernel, sk_server;     /* socketpair ends */
  pthread_t doit, serve;
  bool doit_started, serve_started;
  atomic_bool detaching;        /* DO_IT returning is expected */
  int doit_rc;
  struct nbd_attach *next;
};

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nbd_attach *attached;

/* Thread: hand the connection to the kernel until it ends. */
static void *doit_main(void *arg)
{
  struct nbd_attach *a = arg;
  a->doit_rc = ioctl(a->dev_fd, NBD_IOC_DO_IT) < 0 ? -errno : 0;
  ioctl(a->dev_fd, NBD_IOC_CLEAR_QUE);
  ioctl(a->dev_fd, NBD_IOC_CLEAR_SOCK);
  if (atomic_load(&a->detaching))
    vd_debug("nbd: /dev/nbd%d: connection ended (%d)", a->index, a->doit_rc);
  else
    /* The kernel ends DO_IT early when its wait is interrupted: vramd
     * stopped (SIGSTOP), frozen (cgroup freezer) or ptrace-attached. */
    vd_err("nbd: the kernel dropped /dev/nbd%d of volume %s (%s): its I/O fails from "
           "now on; this follows vramd being stopped, frozen or traced. Detach and "
           "attach again; put swap that must survive this on ublk",
           a->index, a->v->spec.name, a->doit_rc ? strerror(-a->doit_rc) : "no error");
  return NULL;
}

/* Thread: serve the transmission phase on our end of the socketpair. */
static void *serve_main(void *arg)
{
  struct nbd_attach *a = arg;
  int rc = vd_nbd_serve_transmission(a->d, a->v, a->sk_server);
  if (rc)
    vd_err("nbd: serving /dev/nbd%d for volume %s: %s", a->index, a->v->spec.name,
           strerror(-rc));
  return NULL;
}

/* True when /dev/nbdN already has a connection (a pid in sysfs). */
static bool nbd_connected(int n)
{
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/sys/block/nbd%d/pid", n);
  return stat(path, &st) == 0;
}

/* True when one of our attachments uses /dev/nbdN; caller holds the lock. */
static struct nbd_attach *ours(int n)
{
  for (struct nbd_attach *a = attached; a; a = a->next)
    if (a->index == n)
      return a;
  return NULL;
}

/* The kernel sends requests of up to max_sectors_kb (1280 KiB by default,
 * up to 32 MiB), and an ioctl-set device has no NBD_INFO_BLOCK_SIZE to
 * learn a smaller maximum from: lower it to what nbd-staging serves.  A
 * failure is only logged: requests over the maximum then get EOVERFLOW. */
static void limit_request_size(int n, uint32_t max_request)
{
  char path[64];
  unsigned long kb;
  FILE *f;
  bool ok;

  snprintf(path, sizeof path, "/sys/block/nbd%d/queue/max_sectors_kb", n);
  f = fopen(path, "r+e");
  if (!f) {
    vd_warn("nbd: cannot limit /dev/nbd%d to %u KiB requests: %s: %s", n,
            max_request >> 10, path, strerror(errno));
    return;
  }
  ok = fscanf(f, "%lu", &kb) == 1;
  if (ok && kb > max_request >> 10) {
    rewind(f);
    ok = fprintf(f, "%u\n", max_request >> 10) > 0 && fflush(f) == 0;
  }
  if (fclose(f) || !ok)
    vd_warn("nbd: cannot limit /dev/nbd%d to %u KiB requests (%s)", n,
            max_request >> 10, path);
}

/* Give /dev/nbdN the kernel end of the socket, size and flags.  Returns
 * the open device, -EBUSY when someone else holds it, or -errno. */
static int nbd_claim(int n, const struct vd_volume *v, int sk, uint32_t max_request)
{
  char path[32];
  int fd;

  snprintf(path, sizeof path, "/dev/nbd%d", n);
  fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (ioctl(fd, NBD_IOC_SET_BLKSIZE, (unsigned long)VD_SECTOR) < 0 ||
      ioctl(fd, NBD_IOC_SET_SIZE_BLOCKS, (unsigned long)(v->size / VD_SECTOR)) < 0 ||
      ioctl(fd, NBD_IOC_SET_FLAGS, (unsigned long)nbd_transmission_flags()) < 0 ||
      ioctl(fd, NBD_IOC_SET_SOCK, (unsigned long)sk) < 0) {
    int e = errno;
    ioctl(fd, NBD_IOC_CLEAR_SOCK);
    close(fd);
    return -e;
  }
  if (max_request < NBD_MAX_PAYLOAD)
    limit_request_size(n, max_request);
  return fd;
}

/* Pick and claim a device: the one asked for, or the first free one. */
static int pick_device(struct nbd_attach *a, char *err, size_t errlen)
{
  uint32_t max_request = nbd_max_payload(a->d->cfg.nbd_staging);
  int want = a->v->spec.index, rc = -ENOENT;

  if (want >= 0) {
    struct nbd_attach *o = ours(want);
    if (o) {
      snprintf(err, errlen, "/dev/nbd%d is already attached to volume '%s'", want,
               o->v->spec.name);
      return -EEXIST;
    }
    rc = nbd_connected(want) ? -EBUSY : nbd_claim(want, a->v, a->sk_kernel, max_request);
    if (rc == -EBUSY)
      snprintf(err, errlen, "/dev/nbd%d is in use by another NBD client; ask for "
               "another device or none", want);
    else if (rc == -ENOENT || rc == -ENXIO)
      snprintf(err, errlen, "/dev/nbd%d does not exist (the nbd module is not "
               "loaded, or has fewer devices: modprobe nbd nbds_max=N)", want);
    else if (rc < 0)
      snprintf(err, errlen, "cannot attach /dev/nbd%d: %s", want, strerror(-rc));
    if (rc < 0)
      return rc == -EBUSY ? -EEXIST : rc;
    a->index = want;
    a->dev_fd = rc;
    return 0;
  }
  for (int n = 0; n < NBD_SCAN_MAX; n++) {
    if (ours(n) || nbd_connected(n))
      continue;
    rc = nbd_claim(n, a->v, a->sk_kernel, max_request);
    if (rc >= 0) {
      a->index = n;
      a->dev_fd = rc;
      return 0;
    }
    if (rc != -EBUSY)
      break;
  }
  if (rc == -ENOENT || rc == -ENXIO)
    snprintf(err, errlen, "kernel NBD is not available: no free /dev/nbdN (load the "
             "module with 'modprobe nbd', or raise nbds_max)");
  else if (rc == -EACCES || rc == -EPERM)
    snprintf(err, errlen, "kernel NBD attach needs root (CAP_SYS_ADMIN)");
  else
    snprintf(err, errlen, "cannot attach to a kernel NBD device: %s", strerror(-rc));
  return rc < 0 ? rc : -ENODEV;
}

/* Start a thread with a small stack. */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
  pthread_attr_t attr;
  int rc;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, ATTACH_STACK);
  rc = pthread_create(t, &attr, fn, arg);
  pthread_attr_destroy(&attr);
  return rc;
}

/* Join a thread, waiting at most wait_s seconds before kicking the
 * socket so a stuck peer cannot hold the caller forever. */
static void join_or_kick(pthread_t t, int sk, unsigned wait_s)
{
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += wait_s;
  if (pthread_timedjoin_np(t, NULL, &until) != 0) {
    shutdown(sk, SHUT_RDWR);
    pthread_join(t, NULL);
  }
}

/* End the connection and free an attachment; caller holds the lock and
 * has unlinked it. */
static void attach_free(struct nbd_attach *a)
{
  atomic_store(&a->detaching, true);
  if (a->doit_started) {
    /* The kernel sends NBD_CMD_DISC; the server ends, then DO_IT returns. */
    if (ioctl(a->dev_fd, NBD_IOC_DISCONNECT) < 0)
      shutdown(a->sk_kernel, SHUT_RDWR);
    join_or_kick(a->doit, a->sk_kernel, 10);
  }
  if (a->serve_started && !a->doit_started)
    shutdown(a->sk_kernel, SHUT_RDWR); /* the kernel never got going */
  if (a->serve_started)
    join_or_kick(a->serve, a->sk_kernel, 10);
  else if (a->sk_server >= 0)
    close(a->sk_server);
  if (a->dev_fd >= 0) {
    if (!a->doit_started)
      ioctl(a->dev_fd, NBD_IOC_CLEAR_SOCK);
    close(a->dev_fd);
  }
  if (a->sk_kernel >= 0)
    close(a->sk_kernel);
  if (a->v)
    a->v->device_path[0] = '\0';
  free(a);
}

/* Attach volume v to a kernel /dev/nbdN; fills v->device_path. */
int vd_nbd_attach(struct vramd *d, struct vd_volume *v, char *err, size_t errlen)
{
  struct nbd_attach *a = calloc(1, sizeof *a);
  int sk[2], rc;

  if (!a) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  a->d = d;
  a->v = v;
  a->dev_fd = a->sk_kernel = a->sk_server = -1;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk) < 0) {
    snprintf(err, errlen, "socketpair: %s", strerror(errno));
    free(a);
    return -errno;
  }
  a->sk_kernel = sk[0];
  a->sk_server = sk[1];
  pthread_mutex_lock(&attach_lock);
  rc = pick_device(a, err, errlen);
  if (rc)
    goto out_free;
  rc = -start_thread(&a->serve, serve_main, a);
  if (rc) {
    snprintf(err, errlen, "cannot start the NBD attach thread: %s", strerror(-rc));
    goto out_free;
  }
  a->serve_started = true;
  rc = -start_thread(&a->doit, doit_main, a);
  if (rc) {
    snprintf(err, errlen, "cannot start the NBD attach thread: %s", strerror(-rc));
    goto out_free;
  }
  a->doit_started = true;
  snprintf(v->device_path, sizeof v->device_path, "/dev/nbd%d", a->index);
  a->next = attached;
  attached = a;
  pthread_mutex_unlock(&attach_lock);
  vd_info("volume %s is %s (kernel NBD attach)", v->spec.name, v->device_path);
  return 0;

out_free:
  attach_free(a);
  pthread_mutex_unlock(&attach_lock);
  return rc;
}

/* Detach v from its kernel device; -EBUSY while mounted unless forced. */
int vd_nbd_detach(struct vd_volume *v, bool force, char *err, size_t errlen)
{
  struct nbd_attach **pp, *a;

  pthread_mutex_lock(&attach_lock);
  for (pp = &attached; *pp && (*pp)->v != v; pp = &(*pp)->next)
    ;
  a = *pp;
  if (!a) {
    pthread_mutex_unlock(&attach_lock);
    return 0;
  }
  if (!force && vd_bdev_busy(v->device_path)) {
    snprintf(err, errlen, "%s is in use (mounted, active swap or held by another "
             "device): unmount or swapoff it first, or delete with force",
             v->device_path);
    pthread_mutex_unlock(&attach_lock);
    return -EBUSY;
  }
  *pp = a->next;
  vd_info("volume %s: detaching %s%s", v->spec.name, v->device_path,
          force ? " (forced)" : "");
  attach_free(a);
  pthread_mutex_unlock(&attach_lock);
  return 0;
}

/* Detach every attached volume (shutdown). */
void vd_nbd_detach_all(void)
{
  pthread_mutex_lock(&attach_lock);
  while (attached) {
    struct nbd_attach *a = attached;
    attached = a->next;
    vd_info("volume %s: detaching %s (shutdown)", a->v->spec.name, a->v->device_path);
    attach_free(a);
  }
  pthread_mutex_unlock(&attach_lock);
}
