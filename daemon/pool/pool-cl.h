/* pool-cl.h: the OpenCL handles behind pool objects, for the engine only. */
#ifndef VRAMD_POOL_CL_H
#define VRAMD_POOL_CL_H

#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>

#include "pool.h"

cl_device_id vd_device_cl(const struct vd_device *dev);
cl_context vd_device_context(const struct vd_device *dev);
cl_mem vd_extent_mem(const struct vd_extent *ext);
/* Map an OpenCL error to a short name for logs. */
const char *vd_cl_strerror(cl_int e);
/* True when an error on a live queue, buffer or event of ours means the
 * device or its context is gone (health.c). */
bool vd_cl_error_gone(cl_int e);
/* Wait for an event: CL_SUCCESS, or the wait's error, or the command's
 * negative execution status. */
cl_int vd_cl_event_wait(cl_event ev);
/* The same, looking at the event's status every nap_ns, asleep in
 * between, instead of blocking inside the driver (see health.c). */
cl_int vd_cl_event_nap(cl_event ev, uint64_t nap_ns);

#endif
