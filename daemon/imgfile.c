/* imgfile.c: image files opened as the caller.  The checks are the
 * kernel's own, made with the caller's file-system identity (caller.c),
 * so they are exactly what the caller could do itself: no path rules of
 * our own to get wrong, and a file a save makes belongs to the caller. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "imgfile.h"
#include "util.h"

/* openat with O_DIRECT, again without it where the file system refuses
 * it (tmpfs on older kernels, some FUSE and network file systems). */
static int open_direct(int dirfd, const char *name, int flags, mode_t mode, bool *direct,
                       const char *path)
{
  int fd = vd_fault_direct_refused() ? (errno = EINVAL, -1)
                                      : openat(dirfd, name, flags | O_DIRECT | O_CLOEXEC, mode);
  *direct = fd >= 0;
  if (fd < 0 && errno == EINVAL) {
    fd = openat(dirfd, name, flags | O_CLOEXEC, mode);
    if (fd >= 0)
      vd_warn_rl("%s: its file system refuses O_DIRECT; buffered I/O instead (slower, "
                 "and it fills the page cache)", path);
  }
  return fd;
}

/* Why an open or stat as the caller failed, in words. */
static int open_error(const struct vd_imgfile *f, int e, const char *what, char *err,
                      size_t errlen)
{
  if (e == EACCES || e == EPERM || e == EROFS)
    snprintf(err, errlen, "uid %u may not %s %s (%s)", (unsigned)f->caller.uid, what, f->path,
             strerror(e));
  else
    snprintf(err, errlen, "cannot %s %s: %s", what, f->path, strerror(e));
  return e == EPERM || e == EROFS ? -EACCES : -e;
}

/* A block device's size. */
static int device_size(int fd, uint64_t *size)
{
  return ioctl(fd, BLKGETSIZE64, size) ? -errno : 0;
}

/* Refuse a directory that the caller sees as another one than vramd does:
 * under systemd's sandbox (PrivateTmp, ProtectHome, ...) a save to /tmp
 * would otherwise land in vramd's own /tmp, where the caller never finds
 * it.  The caller's view is /proc/PID/root; when that cannot be asked
 * (no pid, the process gone) nothing is refused. */
static int same_dir_as_caller(struct vd_imgfile *f, const char *dir, char *err, size_t errlen)
{
  char theirs[PATH_MAX + 32];
  struct stat a, b;

  if (f->caller.pid <= 0)
    return 0;
  snprintf(theirs, sizeof theirs, "/proc/%d/root%s", (int)f->caller.pid, dir);
  if (fstat(f->dirfd, &a) || stat(theirs, &b))
    return 0;
  if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    return 0;
  snprintf(err, errlen, "vramd sees another %s than you do (its service's sandbox: "
           "PrivateTmp, ProtectHome, ProtectSystem): choose a directory both see, or add "
           "it with ReadWritePaths= (docs/systemd.md)", dir);
  return -EXDEV;
}

/* Split f->path into its directory (opened O_PATH, as the caller) and
 * last name. */
static int open_dir(struct vd_imgfile *f, char *err, size_t errlen)
{
  char dir[PATH_MAX];
  const char *slash = strrchr(f->path, '/');
  size_t n = (size_t)(slash - f->path);

  if (!slash[1] || !strcmp(slash + 1, ".") || !strcmp(slash + 1, "..") ||
      strlen(slash + 1) + sizeof ".partial" > sizeof f->base) {
    snprintf(err, errlen, "%s does not name a file", f->path);
    return -EINVAL;
  }
  snprintf(f->base, sizeof f->base, "%s", slash + 1);
  snprintf(f->partial_name, sizeof f->partial_name, "%s.partial", f->base);
  snprintf(dir, sizeof dir, "%.*s", n ? (int)n : 1, n ? f->path : "/");
  f->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (f->dirfd < 0)
    return open_error(f, errno, "open the directory of", err, errlen);
  return same_dir_as_caller(f, dir, err, errlen);
}

/* Check path and set up f with nothing open. */
static int start(struct vd_imgfile *f, const struct vramd_caller *caller, const char *path,
                 char *err, size_t errlen)
{
  memset(f, 0, sizeof *f);
  f->fd = f->dirfd = -1;
  f->caller = *caller;
  if (path[0] != '/' || strlen(path) >= sizeof f->path) {
    snprintf(err, errlen, "give the image as an absolute path (vramctl makes one)");
    return -EINVAL;
  }
  snprintf(f->path, sizeof f->path, "%s", path);
  return 0;
}

/* The part of vd_imgfile_create made as the caller. */
static int create_as_caller(struct vd_imgfile *f, uint64_t size, char *err, size_t errlen)
{
  struct stat st;
  int rc = open_dir(f, err, errlen);

  if (rc)
    return rc;
  rc = fstatat(f->dirfd, f->base, &st, 0) ? -errno : 0;
  if (rc && rc != -ENOENT)
    return open_error(f, -rc, "look at", err, errlen);
  if (!rc && S_ISBLK(st.st_mode)) {
    f->blockdev = true;
    f->fd = open_direct(f->dirfd, f->base, O_WRONLY, 0, &f->direct, f->path);
    if (f->fd < 0)
      return open_error(f, errno, "write", err, errlen);
    if ((rc = device_size(f->fd, &f->size)))
      return open_error(f, -rc, "size", err, errlen);
    if (f->size < size) {
      snprintf(err, errlen, "%s holds %llu bytes, less than the volume's %llu", f->path,
               (unsigned long long)f->size, (unsigned long long)size);
      return -EFBIG;
    }
    return 0;
  } else if (!rc && !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s is not a regular file or a block device", f->path);
    return -EINVAL;
  }
  f->fd = open_direct(f->dirfd, f->partial_name, O_WRONLY | O_CREAT | O_EXCL, 0600,
                      &f->direct, f->path);
  if (f->fd < 0 && errno == EEXIST) {
    snprintf(err, errlen, "%s.partial exists: another save is writing it, or one was "
             "interrupted (remove it)", f->path);
    return -EBUSY;
  }
  if (f->fd < 0)
    return open_error(f, errno, "write", err, errlen);
  f->partial = true;
  if (ftruncate(f->fd, (off_t)size)) {
    snprintf(err, errlen, "cannot make %s.partial %llu bytes long: %s", f->path,
             (unsigned long long)size, strerror(errno));
    return errno == EFBIG ? -EFBIG : -errno;
  }
  return 0;
}

/* Open the image a save writes. */
int vd_imgfile_create(struct vd_imgfile *f, const struct vramd_caller *caller,
                      const char *path, uint64_t size, char *err, size_t errlen)
{
  struct vramd_caller_saved saved;
  int rc = start(f, caller, path, err, errlen);

  if (rc || (rc = vramd_caller_begin(caller, &saved, err, errlen)))
    return rc;
  rc = create_as_caller(f, size, err, errlen);
  vramd_caller_end(&saved);
  if (rc)
    vd_imgfile_close(f);
  return rc;
}

/* The part of vd_imgfile_open made as the caller.  O_NONBLOCK: a FIFO
 * would otherwise hold the open until a writer came. */
static int open_as_caller(struct vd_imgfile *f, char *err, size_t errlen)
{
  struct stat st;
  int rc;

  f->fd = open_direct(AT_FDCWD, f->path, O_RDONLY | O_NONBLOCK, 0, &f->direct, f->path);
  if (f->fd < 0)
    return open_error(f, errno, "read", err, errlen);
  if (fstat(f->fd, &st))
    return open_error(f, errno, "stat", err, errlen);
  if (S_ISBLK(st.st_mode)) {
    f->blockdev = true;
    if ((rc = device_size(f->fd, &f->size)))
      return open_error(f, -rc, "size", err, errlen);
  } else if (S_ISREG(st.st_mode)) {
    f->size = (uint64_t)st.st_size;
  } else {
    snprintf(err, errlen, "%s is not a regular file or a block device", f->path);
    return -EINVAL;
  }
  fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK);
  return 0;
}

/* Open the image a load or restore reads. */
int vd_imgfile_open(struct vd_imgfile *f, const struct vramd_caller *caller,
                    const char *path, char *err, size_t errlen)
{
  struct vramd_caller_saved saved;
  int rc = start(f, caller, path, err, errlen);

  if (rc || (rc = vramd_caller_begin(caller, &saved, err, errlen)))
    return rc;
  rc = open_as_caller(f, err, errlen);
  vramd_caller_end(&saved);
  if (rc)
    vd_imgfile_close(f);
  return rc;
}

/* Flush, then put the image in place as the caller. */
int vd_imgfile_commit(struct vd_imgfile *f, char *err, size_t errlen)
{
  struct vramd_caller_saved saved;
  int rc, dfd;

  if (fsync(f->fd)) {
    snprintf(err, errlen, "cannot flush %s: %s", f->path, strerror(errno));
    return errno == EDQUOT ? -ENOSPC : -errno;
  }
  if (!f->partial)
    return 0;
  if ((rc = vramd_caller_begin(&f->caller, &saved, err, errlen)))
    return rc;
  rc = renameat(f->dirfd, f->partial_name, f->dirfd, f->base) ? -errno : 0;
  vramd_caller_end(&saved);
  if (rc) {
    snprintf(err, errlen, "cannot rename %s.partial to %s: %s", f->path, f->base,
             strerror(-rc));
    return rc;
  }
  f->partial = false;
  /* The rename itself, on disk: fsync of the directory. */
  dfd = openat(f->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    if (fsync(dfd))
      vd_warn_rl("%s: cannot flush its directory: %s", f->path, strerror(errno));
    close(dfd);
  }
  return 0;
}

/* Close, and remove an uncommitted partial file as the caller. */
void vd_imgfile_close(struct vd_imgfile *f)
{
  struct vramd_caller_saved saved;
  char err[200];

  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
  if (f->partial && vramd_caller_begin(&f->caller, &saved, err, sizeof err) == 0) {
    if (unlinkat(f->dirfd, f->partial_name, 0) && errno != ENOENT)
      vd_warn_rl("%s.partial: cannot remove it: %s", f->path, strerror(errno));
    vramd_caller_end(&saved);
  }
  f->partial = false;
  if (f->dirfd >= 0)
    close(f->dirfd);
  f->dirfd = -1;
}
