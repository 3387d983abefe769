/* kernels.h: OpenCL C source of the engine's batch kernel (engine-private). */
#ifndef VRAMD_KERNELS_H
#define VRAMD_KERNELS_H

/* Extent buffers one launch of the batch kernel can address. */
#define VD_KERNEL_EXTENTS 16

/* What a descriptor asks the batch kernel to do (its x word, bits 8..15);
 * macros, since the kernel source is built from them. */
#define VD_KOP_READ 0
#define VD_KOP_WRITE 1
#define VD_KOP_ZERO 2

/* Name of the kernel in vd_kernel_source. */
#define VD_KERNEL_NAME "vd_batch"

/* Program source: built once per device at engine start. */
extern const char vd_kernel_source[];

#endif
