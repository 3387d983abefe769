/* kernels.c: the batch kernel, one work-group per descriptor.
 *
 * A descriptor is a ulong4 in the scratch buffer:
 *   x: extent argument slot (bits 0..7) | op << 8   (VD_KOP_*)
 *   y: byte offset in that extent
 *   z: byte offset in the scratch buffer (data to scatter or gather space)
 *   w: length in bytes (any, from 1)
 * Offsets and lengths need no alignment: the engine places scratch data at
 * the same offset modulo 16 as the extent side, so the body moves uint4s
 * and only the head and tail go byte by byte; when the two sides are not
 * congruent (never from the engine, but kept correct) every byte is moved
 * on its own.  Buffer bases are at least 16-byte aligned (checked at start
 * with CL_DEVICE_MEM_BASE_ADDR_ALIGN). */
#include "kernels.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char vd_kernel_source[] =
  "#define KOP_READ " STR(VD_KOP_READ) "\n"
  "#define KOP_ZERO " STR(VD_KOP_ZERO) "\n"
  "__kernel void " VD_KERNEL_NAME "(__global uchar *scratch, ulong desc_off,\n"
  VD_KERNEL_EXTENT_ARGS ")\n"
  "{\n"
  "  const ulong4 d = ((__global const ulong4 *)(scratch + desc_off))[get_group_id(0)];\n"
  "  const uint slot = (uint)(d.x & 0xff), op = (uint)((d.x >> 8) & 0xff);\n"
  "  const ulong len = d.w;\n"
  "  const ulong n = get_local_size(0), lid = get_local_id(0);\n"
  VD_KERNEL_PICK_EXTENT
  "  __global uchar *dst = op == KOP_READ ? scratch + d.z : e + d.y;\n"
  "  __global const uchar *src = op == KOP_READ ? e + d.y : scratch + d.z;\n"
  "  const bool zero = op == KOP_ZERO;\n"
  "  ulong head = (16 - (d.y & 15)) & 15;\n"
  "  if (!zero && ((d.y ^ d.z) & 15))\n"
  "    head = len; /* sides not congruent: bytes only */\n"
  "  if (head > len)\n"
  "    head = len;\n"
  "  for (ulong i = lid; i < head; i += n)\n"
  "    dst[i] = zero ? (uchar)0 : src[i];\n"
  "  const ulong nv = (len - head) >> 4;\n"
  "  __global uint4 *d4 = (__global uint4 *)(dst + head);\n"
  "  __global const uint4 *s4 = (__global const uint4 *)(src + head);\n"
  "  for (ulong i = lid; i < nv; i += n)\n"
  "    d4[i] = zero ? (uint4)(0) : s4[i];\n"
  "  for (ulong i = head + nv * 16 + lid; i < len; i += n)\n"
  "    dst[i] = zero ? (uchar)0 : src[i];\n"
  "}\n";
