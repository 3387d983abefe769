/* bdev.c: who uses a kernel block device that a frontend made, so that a
 * detach or delete without force is refused with what to stop: a mount,
 * swap, a device-mapper or md holder, or a process that has it open. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "frontend.h"

/* The mount point of dev in our namespace, from /proc/self/mountinfo
 * (field 3 is major:minor, field 5 the mount point). */
static bool mounted(dev_t dev, char *what, size_t len)
{
  FILE *f = fopen("/proc/self/mountinfo", "re");
  char line[4096], where[1024];
  unsigned maj, min;
  bool found = false;

  if (!f)
    return false;
  while (!found && fgets(line, sizeof line, f))
    if (sscanf(line, "%*u %*u %u:%u %*s %1023s", &maj, &min, where) == 3 &&
        makedev(maj, min) == dev) {
      snprintf(what, len, "mounted on %s; unmount it", where);
      found = true;
    }
  fclose(f);
  return found;
}

/* True when /proc/swaps lists dev. */
static bool swapping(dev_t dev, char *what, size_t len)
{
  FILE *f = fopen("/proc/swaps", "re");
  char line[4096], name[1024];
  struct stat st;
  bool found = false;

  if (!f)
    return false;
  while (!found && fgets(line, sizeof line, f))
    if (sscanf(line, "%1023s", name) == 1 && name[0] == '/' && !stat(name, &st) &&
        S_ISBLK(st.st_mode) && st.st_rdev == dev) {
      snprintf(what, len, "active swap; swapoff it");
      found = true;
    }
  fclose(f);
  return found;
}

/* The first device stacked on dev (device-mapper, md), from sysfs. */
static bool held(dev_t dev, char *what, size_t len)
{
  char path[96];
  struct dirent *e;
  DIR *d;
  bool found = false;

  snprintf(path, sizeof path, "/sys/dev/block/%u:%u/holders", major(dev), minor(dev));
  d = opendir(path);
  if (!d)
    return false;
  while (!found && (e = readdir(d)))
    if (e->d_name[0] != '.') {
      snprintf(what, len, "held by %.64s; remove that device first", e->d_name);
      found = true;
    }
  closedir(d);
  return found;
}

/* True when process pid (not vramd) has dev open: what fuser finds. */
static bool pid_opens(const char *pid, dev_t dev)
{
  char path[64], fd_path[96];
  struct dirent *e;
  struct stat st;
  bool found = false;
  DIR *d;

  snprintf(path, sizeof path, "/proc/%.16s/fd", pid);
  d = opendir(path);
  if (!d)
    return false;
  while (!found && (e = readdir(d))) {
    if (!isdigit((unsigned char)e->d_name[0]))
      continue;
    snprintf(fd_path, sizeof fd_path, "/proc/%.16s/fd/%.16s", pid, e->d_name);
    found = !stat(fd_path, &st) && S_ISBLK(st.st_mode) && st.st_rdev == dev;
  }
  closedir(d);
  return found;
}

/* Other processes with dev open, by pid and command name: the first
 * three, and how many more. */
static bool opened(dev_t dev, char *what, size_t len)
{
  char self[16], comm_path[64], comm[32];
  struct dirent *e;
  DIR *d = opendir("/proc");
  size_t off = 0;
  unsigned n = 0;
  FILE *f;

  if (!d)
    return false;
  snprintf(self, sizeof self, "%d", (int)getpid());
  while ((e = readdir(d))) {
    if (!isdigit((unsigned char)e->d_name[0]) || !strcmp(e->d_name, self) ||
        !pid_opens(e->d_name, dev) || ++n > 3)
      continue;
    snprintf(comm, sizeof comm, "?");
    snprintf(comm_path, sizeof comm_path, "/proc/%.16s/comm", e->d_name);
    if ((f = fopen(comm_path, "re"))) {
      if (fgets(comm, sizeof comm, f))
        comm[strcspn(comm, "\n")] = '\0';
      fclose(f);
    }
    if (off < len)
      off += (size_t)snprintf(what + off, len - off, "%s pid %.16s (%s)",
                              n == 1 ? "open by" : ",", e->d_name, comm);
  }
  closedir(d);
  if (n > 3 && off < len)
    off += (size_t)snprintf(what + off, len - off, " and %u more", n - 3);
  if (n && off < len)
    snprintf(what + off, len - off, "; close it");
  return n > 0;
}

/* Mount, swap, holders, an exclusive claim we cannot name (a mount in
 * another namespace), then plain opens by other processes. */
bool vd_bdev_in_use(const char *path, char *what, size_t len)
{
  struct stat st;
  int fd;

  if (stat(path, &st) || !S_ISBLK(st.st_mode))
    return false;
  if (mounted(st.st_rdev, what, len) || swapping(st.st_rdev, what, len) ||
      held(st.st_rdev, what, len))
    return true;
  fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 && errno == EBUSY) {
    snprintf(what, len, "claimed exclusively (mounted elsewhere, swap or a holder); "
             "release it");
    return true;
  }
  if (fd >= 0)
    close(fd);
  return opened(st.st_rdev, what, len);
}
