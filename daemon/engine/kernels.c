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
  "    __global uchar *e0, __global uchar *e1, __global uchar *e2, __global uchar *e3,\n"
  "    __global uchar *e4, __global uchar *e5, __global uchar *e6, __global uchar *e7,\n"
  "    __global uchar *e8, __global uchar *e9, __global uchar *e10, __global uchar *e11,\n"
  "    __global uchar *e12, __global uchar *e13, __global uchar *e14, __global uchar *e15)\n"
  "{\n"
  "  const ulong4 d = ((__global const ulong4 *)(scratch + desc_off))[get_group_id(0)];\n"
  "  const uint slot = (uint)(d.x & 0xff), op = (uint)((d.x >> 8) & 0xff);\n"
  "  const ulong len = d.w;\n"
  "  const ulong n = get_local_size(0), lid = get_local_id(0);\n"
  "  __global uchar *e;\n"
  "  switch (slot) {\n"
  "  case 0: e = e0; break;   case 1: e = e1; break;   case 2: e = e2; break;\n"
  "  case 3: e = e3; break;   case 4: e = e4; break;   case 5: e = e5; break;\n"
  "  case 6: e = e6; break;   case 7: e = e7; break;   case 8: e = e8; break;\n"
  "  case 9: e = e9; break;   case 10: e = e10; break; case 11: e = e11; break;\n"
  "  case 12: e = e12; break; case 13: e = e13; break; case 14: e = e14; break;\n"
  "  default: e = e15; break;\n"
  "  }\n"
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
