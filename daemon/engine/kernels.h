/* kernels.h: OpenCL C source of the engine's kernels (engine-private):
 * the batch kernel (kernels.c) and the checksum kernels (sum-kernels.c),
 * built as one program per device. */
#ifndef VRAMD_KERNELS_H
#define VRAMD_KERNELS_H

/* Extent buffers one launch of the batch kernel can address. */
#define VD_KERNEL_EXTENTS 16

/* What a descriptor asks the batch kernel to do (its x word, bits 8..15);
 * macros, since the kernel source is built from them. */
#define VD_KOP_READ 0
#define VD_KOP_WRITE 1
#define VD_KOP_ZERO 2

/* OpenCL C both batch kernels share: their extent arguments, and the
 * pick of the one a descriptor's slot names. */
#define VD_KERNEL_EXTENT_ARGS \
  "    __global uchar *e0, __global uchar *e1, __global uchar *e2, __global uchar *e3,\n" \
  "    __global uchar *e4, __global uchar *e5, __global uchar *e6, __global uchar *e7,\n" \
  "    __global uchar *e8, __global uchar *e9, __global uchar *e10, __global uchar *e11,\n" \
  "    __global uchar *e12, __global uchar *e13, __global uchar *e14, __global uchar *e15"
#define VD_KERNEL_PICK_EXTENT \
  "  __global uchar *e;\n" \
  "  switch (slot) {\n" \
  "  case 0: e = e0; break;   case 1: e = e1; break;   case 2: e = e2; break;\n" \
  "  case 3: e = e3; break;   case 4: e = e4; break;   case 5: e = e5; break;\n" \
  "  case 6: e = e6; break;   case 7: e = e7; break;   case 8: e = e8; break;\n" \
  "  case 9: e = e9; break;   case 10: e = e10; break; case 11: e = e11; break;\n" \
  "  case 12: e = e12; break; case 13: e = e13; break; case 14: e = e14; break;\n" \
  "  default: e = e15; break;\n" \
  "  }\n"

/* Name of the kernel in vd_kernel_source. */
#define VD_KERNEL_NAME "vd_batch"

/* Program source: built once per device at engine start. */
extern const char vd_kernel_source[];

/* The checksum kernels: their names, vd_sum_range's modes, and the block
 * (VD_SUM_BLOCK of pool.h, which this header does not include). */
#define VD_SUM_RANGE_NAME "vd_sum_range"
#define VD_SUM_BATCH_NAME "vd_sum_batch"
#define VD_FLIP_NAME "vd_flip"
#define VD_SUM_STORE 0
#define VD_SUM_VERIFY 1
#define VD_SUM_SCRUB 2
#define VD_SUM_KBLOCK 4096
/* Work-items that share a block (work-groups are a multiple of it), and
 * the most work-items of a checksum work-group. */
#define VD_SUM_LANES 32
#define VD_SUM_WG_MAX 1024

/* Their source, CRC tables included. */
const char *vd_sum_kernel_source(void);

/* The parity kernels (parity-kernels.c), built after the checksum
 * kernels, whose CRC they use; VD_PAR_GROUP of pool.h in blocks. */
#define VD_PAR_XOR_NAME "vd_par_xor"
#define VD_PAR_CHECK_NAME "vd_par_check"
#define VD_PAR_BATCH_NAME "vd_par_batch"
#define VD_PAR_FIX_NAME "vd_par_fix"
#define VD_PAR_KGROUP 32
#define VD_PAR_CHECK_WG 64   /* most work-items of a check's work-group */
/* A descriptor's x word, bit 31: its extent keeps parity (WRITE and ZERO
 * get theirs updated, READ checked and repaired, by vd_par_batch). */
#define VD_KDESC_PARITY 0x80000000u
/* vd_par_batch's phases: check READs, or XOR WRITE and ZERO blocks in. */
#define VD_PAR_PHASE_CHECK 0
#define VD_PAR_PHASE_XOR 1
extern const char vd_parity_kernel_source[];

#endif
