/* attach.c: connect a volume to the kernel's NBD driver without nbd-client.
 *
 * Each of nbd-attach-connections connections is a socketpair: one end goes
 * to the kernel, the other is served by vd_nbd_serve_transmission() in its
 * own thread (no handshake: size and flags are given to the kernel).  The
 * kernel spreads requests over the connections by CPU (one blk-mq hardware
 * queue per socket).
 *
 * The netlink interface (netlink.c) is used where the kernel has it: the
 * kernel picks or creates the device, so there is no nbds_max limit, and
 * destroys it on disconnect.  Without it, the ioctls: the sockets go to a
 * free /dev/nbdN by NBD_SET_SOCK, and NBD_DO_IT blocks for the life of
 * the device in its own thread.  Either way detach makes the kernel send
 * NBD_CMD_DISC on every connection, after which the threads end.
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

#include "fault.h"
#include "nbd-internal.h"

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
#define NBD_SCAN_MAX 1024       /* highest /dev/nbdN the ioctl path looks at */
#define ATTACH_JOIN_S 10        /* wait for a thread before kicking its socket */

struct nbd_attach;

/* One connection: a socketpair and the thread serving our end. */
struct attach_conn {
  struct nbd_attach *a;
  int sk_kernel, sk_server;
  pthread_t serve;
  bool serve_started;
};

/* One attached volume: the device and its connections. */
struct nbd_attach {
  const struct nbd_env *env;
  struct vd_volume *v;
  int index;
  bool netlink;                 /* connected by NBD_CMD_CONNECT */
  bool connected;               /* netlink: the kernel took the sockets */
  int dev_fd;                   /* ioctl: /dev/nbdN */
  pthread_t doit;
  bool doit_started;
  atomic_bool detaching;        /* DO_IT returning is expected */
  int doit_rc;
  unsigned nconn;
  struct attach_conn conn[NBD_ATTACH_CONNS_MAX];
  struct nbd_attach *next;
};

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nbd_attach *attached;

/* Thread: hand the connections to the kernel until the device ends. */
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

/* Thread: serve the transmission phase on our end of one socketpair. */
static void *serve_main(void *arg)
{
  struct attach_conn *c = arg;
  struct nbd_attach *a = c->a;
  int rc = vd_nbd_serve_transmission(a->env, a->v, c->sk_server);
  if (rc)
    vd_err("nbd: serving a connection of volume %s's kernel device: %s",
           a->v->spec.name, strerror(-rc));
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
 * up to 32 MiB), and a device set up by vramd has no NBD_INFO_BLOCK_SIZE
 * to learn a smaller maximum from: lower it to what nbd-staging serves.  A
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

/* Give /dev/nbdN the kernel ends of the sockets, size and flags.  Returns
 * the open device, -EBUSY when someone else holds it, or -errno. */
static int nbd_claim(int n, const struct nbd_attach *a)
{
  char path[32];
  int fd;

  snprintf(path, sizeof path, "/dev/nbd%d", n);
  fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (ioctl(fd, NBD_IOC_SET_BLKSIZE, (unsigned long)VD_SECTOR) < 0 ||
      ioctl(fd, NBD_IOC_SET_SIZE_BLOCKS, (unsigned long)(a->v->size / VD_SECTOR)) < 0 ||
      ioctl(fd, NBD_IOC_SET_FLAGS, (unsigned long)nbd_transmission_flags()) < 0)
    goto out_clear;
  for (unsigned i = 0; i < a->nconn; i++)
    if (ioctl(fd, NBD_IOC_SET_SOCK, (unsigned long)a->conn[i].sk_kernel) < 0)
      goto out_clear;
  return fd;

out_clear: {
    int e = errno;
    ioctl(fd, NBD_IOC_CLEAR_SOCK);
    close(fd);
    return -e;
  }
}

/* Explain a failed claim of a device the user asked for. */
static void index_error(int want, int rc, char *err, size_t errlen)
{
  if (rc == -EBUSY)
    snprintf(err, errlen, "/dev/nbd%d is in use by another NBD client; ask for "
             "another device or none", want);
  else if (rc == -ENOENT || rc == -ENXIO)
    snprintf(err, errlen, "/dev/nbd%d does not exist (the nbd module is not "
             "loaded, or has fewer devices: modprobe nbd nbds_max=N)", want);
  else if (rc == -EACCES || rc == -EPERM)
    snprintf(err, errlen, "kernel NBD attach needs root (CAP_SYS_ADMIN)");
  else
    snprintf(err, errlen, "cannot attach /dev/nbd%d: %s", want, strerror(-rc));
}

/* ioctl interface: claim the device asked for, or the first free one. */
static int claim_ioctl(struct nbd_attach *a, char *err, size_t errlen)
{
  int want = a->v->spec.index, rc = -ENOENT;

  if (want >= 0) {
    rc = nbd_connected(want) ? -EBUSY : nbd_claim(want, a);
    if (rc < 0) {
      index_error(want, rc, err, errlen);
      return rc == -EBUSY ? -EEXIST : rc;
    }
    a->index = want;
    a->dev_fd = rc;
    return 0;
  }
  for (int n = 0; n < NBD_SCAN_MAX; n++) {
    if (ours(n) || nbd_connected(n))
      continue;
    rc = nbd_claim(n, a);
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

/* netlink interface: the kernel connects the device asked for, or picks
 * (or creates) a free one, and tells its index. */
static int claim_netlink(struct nbd_attach *a, char *err, size_t errlen)
{
  int fds[NBD_ATTACH_CONNS_MAX], want = a->v->spec.index, rc;
  struct nbd_nl_connect req = {
    .index = want,
    .size = a->v->size,
    .block_size = VD_SECTOR,
    .server_flags = nbd_transmission_flags(),
    /* 0 keeps one connection waiting for ever, as with the ioctls; with
     * several the kernel would drop a connection after 30 s. */
    .timeout_s = a->nconn > 1 ? NBD_ATTACH_TIMEOUT_S : 0,
    .fds = fds,
    .nfds = a->nconn,
  };

  for (unsigned i = 0; i < a->nconn; i++)
    fds[i] = a->conn[i].sk_kernel;
  rc = nbd_nl_connect(&req, &a->index);
  if (rc == 0) {
    a->connected = true;
    return 0;
  }
  if (want >= 0) {
    index_error(want, rc, err, errlen);
    return rc == -EBUSY ? -EEXIST : rc;
  }
  if (rc == -EACCES || rc == -EPERM)
    snprintf(err, errlen, "kernel NBD attach needs root (CAP_SYS_ADMIN)");
  else
    snprintf(err, errlen, "cannot attach to a kernel NBD device: %s", strerror(-rc));
  return rc;
}

/* Test hook: VRAMD_FAULTS=1 VRAMD_NBD_ATTACH=ioctl takes the ioctl path
 * on kernels that have netlink, so the fallback is tested too. */
static bool force_ioctl(void)
{
  const char *e = getenv("VRAMD_NBD_ATTACH");
  return vd_faults_enabled() && e && !strcmp(e, "ioctl");
}

/* Join a thread, waiting until the deadline before kicking the socket so
 * a stuck peer cannot hold the caller forever. */
static void join_or_kick(pthread_t t, int sk, const struct timespec *until)
{
  if (pthread_timedjoin_np(t, NULL, until) != 0) {
    shutdown(sk, SHUT_RDWR);
    pthread_join(t, NULL);
  }
}

/* Shut down the kernel's end of every connection. */
static void cut_all(const struct nbd_attach *a)
{
  for (unsigned i = 0; i < a->nconn; i++)
    if (a->conn[i].sk_kernel >= 0)
      shutdown(a->conn[i].sk_kernel, SHUT_RDWR);
}

/* End the connections and free an attachment; caller holds the lock and
 * has unlinked it. */
static void attach_free(struct nbd_attach *a)
{
  struct timespec until;
  bool kernel_has = a->doit_started || a->connected;

  atomic_store(&a->detaching, true);
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ATTACH_JOIN_S;
  /* The kernel sends NBD_CMD_DISC on every connection; the servers end
   * (and DO_IT returns).  If it cannot be asked, cut the sockets. */
  if (a->connected && nbd_nl_disconnect(a->index) < 0)
    kernel_has = false;
  if (a->doit_started && ioctl(a->dev_fd, NBD_IOC_DISCONNECT) < 0)
    kernel_has = false;
  if (!kernel_has)
    cut_all(a);
  /* NBD_DO_IT waits for every connection: a stuck one needs all cut. */
  if (a->doit_started && pthread_timedjoin_np(a->doit, NULL, &until) != 0) {
    cut_all(a);
    pthread_join(a->doit, NULL);
  }
  for (unsigned i = 0; i < a->nconn; i++) {
    struct attach_conn *c = &a->conn[i];
    if (c->serve_started)
      join_or_kick(c->serve, c->sk_kernel, &until);
    else if (c->sk_server >= 0)
      close(c->sk_server);
    if (c->sk_kernel >= 0)
      close(c->sk_kernel);
  }
  if (a->dev_fd >= 0) {
    if (!a->doit_started)
      ioctl(a->dev_fd, NBD_IOC_CLEAR_SOCK);
    close(a->dev_fd);
  }
  if (a->v) {
    a->v->device_path[0] = '\0';
    a->v->device_conns = 0;
  }
  free(a);
}

/* A new attachment with its socketpairs, or NULL with err set. */
static struct nbd_attach *attach_new(const struct nbd_env *env, struct vd_volume *v, char *err,
                                     size_t errlen)
{
  struct nbd_attach *a = calloc(1, sizeof *a);
  int sk[2];

  if (!a) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  a->env = env;
  a->v = v;
  a->dev_fd = -1;
  a->nconn = env->set.attach_connections;
  for (unsigned i = 0; i < a->nconn; i++) {
    a->conn[i].a = a;
    a->conn[i].sk_kernel = a->conn[i].sk_server = -1;
  }
  for (unsigned i = 0; i < a->nconn; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk) < 0) {
      snprintf(err, errlen, "socketpair: %s", strerror(errno));
      a->v = NULL;
      attach_free(a);
      return NULL;
    }
    a->conn[i].sk_kernel = sk[0];
    a->conn[i].sk_server = sk[1];
  }
  return a;
}

/* Start the threads serving our ends: before the kernel has the device,
 * so its first reads (partition scan) are answered. */
static int start_servers(struct nbd_attach *a, char *err, size_t errlen)
{
  for (unsigned i = 0; i < a->nconn; i++) {
    int rc = vd_thread_start(&a->conn[i].serve, ATTACH_STACK, serve_main, &a->conn[i]);
    if (rc) {
      snprintf(err, errlen, "cannot start the NBD attach thread: %s", strerror(rc));
      return -rc;
    }
    a->conn[i].serve_started = true;
  }
  return 0;
}

/* Name each serving thread nbdNcK (device N, connection K), so top -H
 * and the kernel tests can tell the connections apart. */
static void name_servers(const struct nbd_attach *a)
{
  char name[16];
  for (unsigned i = 0; i < a->nconn; i++) {
    snprintf(name, sizeof name, "nbd%dc%u", a->index, i);
    pthread_setname_np(a->conn[i].serve, name);
  }
}

/* Attach volume v to a kernel /dev/nbdN; fills v->device_path. */
int vd_nbd_attach(const struct nbd_env *env, struct vd_volume *v, char *err, size_t errlen)
{
  struct nbd_attach *a = attach_new(env, v, err, errlen), *o;
  uint32_t max_request = nbd_max_payload(env->set.staging);
  bool forced;
  int rc;

  if (!a)
    return -ENOMEM;
  pthread_mutex_lock(&attach_lock);
  if (v->spec.index >= 0 && (o = ours(v->spec.index))) {
    snprintf(err, errlen, "/dev/nbd%d is already attached to volume '%s'",
             v->spec.index, o->v->spec.name);
    rc = -EEXIST;
    goto out_free;
  }
  rc = start_servers(a, err, errlen);
  if (rc)
    goto out_free;
  forced = force_ioctl();
  a->netlink = !forced && nbd_nl_available();
  rc = a->netlink ? claim_netlink(a, err, errlen) : claim_ioctl(a, err, errlen);
  if (rc)
    goto out_free;
  if (max_request < NBD_MAX_PAYLOAD)
    limit_request_size(a->index, max_request);
  if (!a->netlink) {
    rc = -vd_thread_start(&a->doit, ATTACH_STACK, doit_main, a);
    if (rc) {
      snprintf(err, errlen, "cannot start the NBD attach thread: %s", strerror(-rc));
      goto out_free;
    }
    a->doit_started = true;
  }
  name_servers(a);
  snprintf(v->device_path, sizeof v->device_path, "/dev/nbd%d", a->index);
  v->device_conns = a->nconn;
  a->next = attached;
  attached = a;
  pthread_mutex_unlock(&attach_lock);
  vd_info("volume %s is %s (kernel NBD attach, %u connection%s, %s)", v->spec.name,
          v->device_path, a->nconn, a->nconn == 1 ? "" : "s",
          a->netlink ? "netlink"
          : forced   ? "ioctl: VRAMD_NBD_ATTACH=ioctl"
                     : "ioctl: the kernel has no nbd netlink family");
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
  char what[200];

  pthread_mutex_lock(&attach_lock);
  for (pp = &attached; *pp && (*pp)->v != v; pp = &(*pp)->next)
    ;
  a = *pp;
  if (!a) {
    pthread_mutex_unlock(&attach_lock);
    return 0;
  }
  if (!force && vd_bdev_in_use(v->device_path, what, sizeof what)) {
    snprintf(err, errlen, "%s is %s", v->device_path, what);
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

/* Resize v's kernel device in place: NBD_CMD_RECONFIGURE over netlink,
 * NBD_SET_SIZE_BLOCKS on the ioctl path (DO_IT does not hold the lock). */
int vd_nbd_attach_resize(struct vd_volume *v, uint64_t bytes, char *err, size_t errlen)
{
  struct nbd_attach *a;
  int rc = 0;

  pthread_mutex_lock(&attach_lock);
  for (a = attached; a && a->v != v; a = a->next)
    ;
  if (a && a->netlink)
    rc = nbd_nl_resize(a->index, bytes);
  else if (a && ioctl(a->dev_fd, NBD_IOC_SET_SIZE_BLOCKS, (unsigned long)(bytes / VD_SECTOR)) < 0)
    rc = -errno;
  if (rc)
    snprintf(err, errlen, "the kernel refused the new size of /dev/nbd%d (%s): %s", a->index,
             a->netlink ? "NBD_CMD_RECONFIGURE" : "NBD_SET_SIZE_BLOCKS", strerror(-rc));
  else if (a)
    vd_info("volume %s: %s is now %llu bytes", v->spec.name, v->device_path,
            (unsigned long long)bytes);
  pthread_mutex_unlock(&attach_lock);
  return rc;
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
