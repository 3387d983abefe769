/* frontend.c: the table of frontends built into vramd. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include "frontend.h"
#include "nbd/nbd.h"
#include "ublk/ublk.h"

static const struct vd_frontend *const frontends[] = {
  &vd_frontend_nbd,
  &vd_frontend_ublk,
};

/* Look a frontend up by kind. */
const struct vd_frontend *vd_frontend_get(enum vd_frontend_kind kind)
{
  if ((unsigned)kind >= sizeof frontends / sizeof frontends[0])
    return NULL;
  return frontends[kind];
}

/* An O_EXCL open of a block device fails with EBUSY while it is claimed. */
bool vd_bdev_busy(const char *path)
{
  int fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0) {
    close(fd);
    return false;
  }
  return errno == EBUSY;
}
