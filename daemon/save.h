/* save.h: volume contents to and from image files, as jobs (save.c):
 * save NAME to a file, create a volume from a file, restore a file into
 * a volume.  The files are raw images (byte n of the file is byte n of
 * the volume), sparse where the volume holds zeros. */
#ifndef VRAMD_SAVE_H
#define VRAMD_SAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caller.h"
#include "vramd.h"

/* Start a job saving volume name to path (absolute; a regular file,
 * written as path.partial and renamed when complete, or a block device
 * at least as large, written in place).  The file is opened as caller.
 * -ENOENT no such volume or directory, -EINVAL a bad path or a file that
 * is neither, -EACCES the caller may not write there, -EBUSY path.partial
 * exists, -EFBIG a block device smaller than the volume, -EPERM vramd
 * cannot act as the caller, or the job's start error; err says what to do. */
int vramd_volume_save(struct vramd *d, const char *name, const char *path,
                      const struct vramd_caller *caller, uint32_t *job, char *err,
                      size_t errlen);

/* Start a job loading path into volume name, which then holds the
 * image's bytes and zeros past them.  Refused (-EBUSY) while clients
 * have the volume open, unless force.  -ENOENT, -EINVAL, -EACCES, -EPERM
 * as above, -EFBIG an image larger than the volume. */
int vramd_volume_restore(struct vramd *d, const char *name, const char *path, bool force,
                         const struct vramd_caller *caller, uint32_t *job, char *err,
                         size_t errlen);

/* Create a volume as spec says (its size taken from the image when
 * size_from_image), unexposed, and start a job loading path into it; the
 * job exposes it as spec says once the whole image is in, and deletes it
 * when the load fails or is cancelled.  The create's errors as
 * vramd_volume_create's, the file's as vramd_volume_restore's. */
int vramd_volume_create_from(struct vramd *d, const struct vd_volume_spec *spec,
                             bool size_from_image, const char *path,
                             const struct vramd_caller *caller, uint32_t *job, char *err,
                             size_t errlen);

/* Save v into f (opened by vd_imgfile_create, not committed) or load f
 * into v (fresh: v is new, zeros need not be written), on the calling
 * thread, without a job: persist.c's, at start and stop.  sums (may be
 * NULL) gets each unit's checksum.  0 or -errno with err. */
struct vd_imgfile;
int vramd_image_save(struct vramd *d, struct vd_volume *v, struct vd_imgfile *f,
                     uint64_t *sums, char *err, size_t errlen);
int vramd_image_load(struct vramd *d, struct vd_volume *v, struct vd_imgfile *f, bool fresh,
                     uint64_t *sums, char *err, size_t errlen);

#endif
