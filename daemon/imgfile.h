/* imgfile.h: the image files of save, load and restore (imgfile.c):
 * opened as the API's caller, checked for type and size, and for a save
 * written under a .partial name that is renamed only once complete. */
#ifndef VRAMD_IMGFILE_H
#define VRAMD_IMGFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caller.h"

struct vd_imgfile {
  struct vramd_caller caller;
  int fd;                   /* the image (save: the partial file or the device) */
  int dirfd;                /* save to a regular file: its directory (O_PATH) */
  bool direct;              /* opened O_DIRECT */
  bool blockdev;
  bool partial;             /* save: path.partial exists and is ours to remove */
  uint64_t size;            /* load: the image's bytes; save: a device's size */
  char path[PATH_MAX];
  char base[NAME_MAX + 1], partial_name[NAME_MAX + 16];
};

/* Open path as caller for a save of size bytes: a new path.partial of
 * that size (sparse) next to a regular file or none, or a block device of
 * at least size.  0, or -errno with err saying what to do (see
 * vramd_volume_save). */
int vd_imgfile_create(struct vd_imgfile *f, const struct vramd_caller *caller,
                      const char *path, uint64_t size, char *err, size_t errlen);
/* Open path as caller for reading: a regular file or a block device. */
int vd_imgfile_open(struct vd_imgfile *f, const struct vramd_caller *caller,
                    const char *path, char *err, size_t errlen);
/* Save: flush the image to disk and, for a file, rename path.partial to
 * path as the caller and flush the directory.  0 or -errno with err. */
int vd_imgfile_commit(struct vd_imgfile *f, char *err, size_t errlen);
/* Close, removing path.partial when it was not committed. */
void vd_imgfile_close(struct vd_imgfile *f);

#endif
