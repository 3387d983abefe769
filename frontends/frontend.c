/* frontend.c: the table of frontends built into vramd. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include "frontend.h"
#include "nbd/nbd.h"
#include "ublk/ublk.h"

/* The daemon starts them in this order and stops them in the other. */
const struct vd_frontend *const vd_frontends[] = {
  &vd_frontend_nbd,
  &vd_frontend_ublk,
  NULL,
};
_Static_assert(sizeof vd_frontends / sizeof vd_frontends[0] <= VD_FRONTENDS_MAX + 1,
               "raise VD_FRONTENDS_MAX");

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
