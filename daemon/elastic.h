/* elastic.h: drain, undrain, rebalance, yield and create as jobs
 * (elastic.c), for the API. */
#ifndef VRAMD_ELASTIC_H
#define VRAMD_ELASTIC_H

#include <stddef.h>
#include <stdint.h>

#include "vramd.h"

/* Check that everything on device id fits elsewhere, mark it draining
 * and start the job that moves it off; *job gets its id.  -ENOENT (no
 * such device), -EBUSY (not active), -ENODEV (lost), -ENOSPC (no room:
 * err names the shortfall, nothing moved), or the job's start error. */
int vramd_device_drain(struct vramd *d, const char *id, uint32_t *job, char *err, size_t errlen);
/* Put a drained device back in service (nothing when active).  -ENOENT,
 * -EBUSY while its drain job runs, -ENODEV when lost. */
int vramd_device_undrain(struct vramd *d, const char *id, char *err, size_t errlen);
/* Start a job moving a volume's extents back to its own devices where
 * they are active and have room.  -ENOENT, or the job's start error. */
int vramd_volume_rebalance(struct vramd *d, const char *name, uint32_t *job, char *err,
                           size_t errlen);

/* Start a job rebuilding mirror name's stale copies on device (NULL or
 * "": where each fits).  -ENOENT (no such volume or device), -EINVAL
 * (not a mirror), -EIO (failed: nothing to rebuild from), -ENODEV (the
 * device is lost), -EALREADY (every copy in sync), or the job's start
 * error.  The job fails with -ENOSPC when no device fits a copy. */
int vramd_volume_repair(struct vramd *d, const char *name, const char *device, uint32_t *job,
                        char *err, size_t errlen);

/* The keeper's yield callback (arg: the daemon): dev's free memory is
 * need short of its floor; start a job giving that much back. */
void vramd_yield(void *arg, struct vd_device *dev, uint64_t need);
/* Start a job moving off dev what now lies inside its (raised) reserve. */
int vramd_device_give_back(struct vramd *d, const char *id, uint32_t *job, char *err,
                           size_t errlen);

/* Start a job that creates a volume, making and zeroing its VRAM with
 * progress; a cancel between extents leaves nothing behind. */
int vramd_volume_create_job(struct vramd *d, const struct vd_volume_spec *spec, uint32_t *job,
                            char *err, size_t errlen);

#endif
