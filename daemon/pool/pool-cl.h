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

#endif
