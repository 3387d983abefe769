/* sum-kernels.c: the checksum kernels (integrity), CRC-32C of 4 KiB
 * blocks in VRAM.  LANES work-items share a block: each runs slicing by
 * 8 over its 128 bytes (tables copied into local memory: constant
 * memory serialises the scattered lookups on GPUs), then the raw states
 * are shifted to their place by a carry-less multiplication with
 * crc_shift[lane] and XORed together.  One work-item per block walked
 * 4 KiB in a chain of 512 dependent steps, and the lanes of a warp read
 * 4 KiB apart; this is 16 steps, and neighbouring lanes read
 * neighbouring lines.  A checksummed extent keeps the sum of block b at
 * byte sum_off + 4 * b of its own buffer (pool.h).  Work-groups are a
 * multiple of LANES work-items, local size / LANES blocks at a time.
 *
 *   vd_sum_range(e, sum_off, first, n, mode, res, ri): blocks [first,
 *     first + n) of e, any number of work-groups, each striding over
 *     them.  STORE writes their sums; VERIFY compares and, on a
 *     mismatch, writes (block - first + 1) to res[ri]; SCRUB counts each
 *     mismatch in res[ri] and writes its (block - first) to res[ri + 2 +
 *     k] for the first cap of them (cap: res[ri + 1], set by the host).
 *   vd_sum_batch(scratch, desc_off, e0..e15, res, res_base): after a
 *     launch of the batch kernel over the same descriptors, one
 *     work-group per descriptor: those whose x word carries a sum offset
 *     (bits 32..63, in blocks) get their blocks stored (WRITE, ZERO) or
 *     verified (READ: a mismatch writes block - first + 1 to res[res_base
 *     + result index], bits 16..30); a READ whose x carries
 *     VD_KDESC_PARITY (bit 31) is left to vd_par_batch.
 *   vd_flip(e, off, mask): e[off] ^= mask, the fault route's bit flip,
 *     which leaves the sums alone. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "kernels.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char body[] =
  "#define SUM_BLOCK " STR(VD_SUM_KBLOCK) "\n"
  "#define LANES " STR(VD_SUM_LANES) "\n"
  "#define LANE_WORDS (SUM_BLOCK / 4 / LANES)\n"
  "#define MAX_BPG (" STR(VD_SUM_WG_MAX) " / LANES)\n"
  "#define CRC_POLY " STR(VD_CRC32C_POLY) "\n"
  "#define KOP_READ " STR(VD_KOP_READ) "\n"
  "#define MODE_STORE " STR(VD_SUM_STORE) "\n"
  "#define MODE_VERIFY " STR(VD_SUM_VERIFY) "\n"
  "#define MODE_SCRUB " STR(VD_SUM_SCRUB) "\n"
  "#define PAR_FLAG " STR(VD_KDESC_PARITY) "\n"
  "static void load_tab(__local uint *t)\n"
  "{\n"
  "  for (uint i = get_local_id(0); i < 2048; i += get_local_size(0))\n"
  "    t[i] = crc_tab[i];\n"
  "  barrier(CLK_LOCAL_MEM_FENCE);\n"
  "}\n"
  /* a * b modulo the polynomial, reflected (crc32c.c's vd_crc32c_mul). */
  "static uint gf_mul(uint a, uint b)\n"
  "{\n"
  "  uint p = 0;\n"
  "  for (uint m = 0x80000000u; m; m >>= 1) {\n"
  "    if (a & m)\n"
  "      p ^= b;\n"
  "    b = (b >> 1) ^ (CRC_POLY & (0u - (b & 1)));\n"
  "  }\n"
  "  return p;\n"
  "}\n"
  /* Lane part's share of a block in any address space (parity-kernels.c
   * takes one in local memory): its raw state, shifted to the end. */
  "#define LANE_BODY(w, t, part) \\\n"
  "  uint c = (part) ? 0u : 0xffffffffu; \\\n"
  "  w += (part) * LANE_WORDS; \\\n"
  "  for (uint i = 0; i < LANE_WORDS; i += 2) { \\\n"
  "    uint a = w[i] ^ c, b = w[i + 1]; \\\n"
  "    c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >> 8) & 0xff)] ^ \\\n"
  "        t[1280 + ((a >> 16) & 0xff)] ^ t[1024 + (a >> 24)] ^ t[768 + (b & 0xff)] ^ \\\n"
  "        t[512 + ((b >> 8) & 0xff)] ^ t[256 + ((b >> 16) & 0xff)] ^ t[b >> 24]; \\\n"
  "  } \\\n"
  "  return gf_mul(crc_shift[part], c);\n"
  "static uint lane_global(__global const uint *w, __local const uint *t, uint part)\n"
  "{\n"
  "  LANE_BODY(w, t, part)\n"
  "}\n"
  /* The sums of blocks [b0, b0 + cnt) of e, cnt <= local size / LANES,
   * into c[k] as raw states (the sum is ~c[k]); every work-item of the
   * group calls it, and c[k] is read by the first lane of block k. */
  "static void crc_round(__global const uchar *e, ulong b0, uint cnt, __local const uint *t,\n"
  "    __local uint *c)\n"
  "{\n"
  "  const uint k = get_local_id(0) / LANES, part = get_local_id(0) % LANES;\n"
  "  if (part == 0 && k < cnt)\n"
  "    c[k] = 0;\n"
  "  barrier(CLK_LOCAL_MEM_FENCE);\n"
  "  if (k < cnt)\n"
  "    atomic_xor(&c[k], lane_global((__global const uint *)(e + (b0 + k) * SUM_BLOCK), t, part));\n"
  "  barrier(CLK_LOCAL_MEM_FENCE);\n"
  "}\n"
  "__kernel void " VD_SUM_RANGE_NAME "(__global uchar *e, ulong sum_off, ulong first, ulong n,\n"
  "    uint mode, __global uint *res, uint ri)\n"
  "{\n"
  "  __local uint t[2048], c[MAX_BPG];\n"
  "  const uint bpg = get_local_size(0) / LANES, k = get_local_id(0) / LANES;\n"
  "  const ulong step = (ulong)get_num_groups(0) * bpg;\n"
  "  __global uint *s = (__global uint *)(e + sum_off);\n"
  "  load_tab(t);\n"
  "  for (ulong r = (ulong)get_group_id(0) * bpg; r < n; r += step) {\n"
  "    const uint cnt = (uint)min((ulong)bpg, n - r);\n"
  "    crc_round(e, first + r, cnt, t, c);\n"
  "    if (get_local_id(0) % LANES || k >= cnt)\n"
  "      continue;\n"
  "    const ulong b = first + r + k;\n"
  "    const uint sum = ~c[k];\n"
  "    if (mode == MODE_STORE) {\n"
  "      s[b] = sum;\n"
  "    } else if (s[b] != sum) {\n"
  "      if (mode == MODE_VERIFY) {\n"
  "        res[ri] = (uint)(r + k) + 1;\n"
  "      } else {\n"
  "        uint at = atomic_inc(&res[ri]);\n"
  "        if (at < res[ri + 1])\n"
  "          res[ri + 2 + at] = (uint)(r + k);\n"
  "      }\n"
  "    }\n"
  "  }\n"
  "}\n"
  "__kernel void " VD_SUM_BATCH_NAME "(__global uchar *scratch, ulong desc_off,\n"
  VD_KERNEL_EXTENT_ARGS ",\n"
  "    __global uint *res, uint res_base)\n"
  "{\n"
  "  __local uint t[2048], c[MAX_BPG];\n"
  "  const ulong4 d = ((__global const ulong4 *)(scratch + desc_off))[get_group_id(0)];\n"
  "  const ulong sum_blk = d.x >> 32;\n"
  "  load_tab(t); /* before any return: PoCL needs every work-item at a barrier */\n"
  "  const uint slot = (uint)(d.x & 0xff), op = (uint)((d.x >> 8) & 0xff);\n"
  "  const uint ri = (uint)((d.x >> 16) & 0x7fff);\n"
  "  if (!sum_blk || !d.w || (op == KOP_READ && (d.x & PAR_FLAG)))\n"
  "    return; /* a READ with parity was checked before (parity-kernels.c) */\n"
  VD_KERNEL_PICK_EXTENT
  "  const uint bpg = get_local_size(0) / LANES, k = get_local_id(0) / LANES;\n"
  "  const ulong first = d.y / SUM_BLOCK, last = (d.y + d.w - 1) / SUM_BLOCK;\n"
  "  __global uint *s = (__global uint *)(e + sum_blk * SUM_BLOCK);\n"
  "  for (ulong b0 = first; b0 <= last; b0 += bpg) {\n"
  "    const uint cnt = (uint)min((ulong)bpg, last + 1 - b0);\n"
  "    crc_round(e, b0, cnt, t, c);\n"
  "    if (get_local_id(0) % LANES || k >= cnt)\n"
  "      continue;\n"
  "    const ulong b = b0 + k;\n"
  "    if (op != KOP_READ)\n"
  "      s[b] = ~c[k];\n"
  "    else if (s[b] != ~c[k])\n"
  "      res[res_base + ri] = (uint)(b - first) + 1;\n"
  "  }\n"
  "}\n"
  "__kernel void " VD_FLIP_NAME "(__global uchar *e, ulong off, uchar mask)\n"
  "{\n"
  "  e[off] ^= mask;\n"
  "}\n";

static char source[sizeof body + 2048 * 12 + VD_SUM_LANES * 12 + 128];
static pthread_once_t source_once = PTHREAD_ONCE_INIT;

/* The tables and each lane's shift as constant arrays, then the kernels. */
static void source_init(void)
{
  size_t n = (size_t)snprintf(source, sizeof source, "__constant uint crc_tab[2048] = {");
  for (unsigned k = 0; k < 8; k++)
    for (unsigned i = 0; i < 256; i++)
      n += (size_t)snprintf(source + n, sizeof source - n, "0x%08xu,",
                            vd_crc32c_table(k, i));
  n += (size_t)snprintf(source + n, sizeof source - n, "};\n__constant uint crc_shift[%u] = {",
                        VD_SUM_LANES);
  for (unsigned k = 0; k < VD_SUM_LANES; k++)
    n += (size_t)snprintf(source + n, sizeof source - n, "0x%08xu,",
                          vd_crc32c_shift((uint64_t)VD_SUM_KBLOCK / VD_SUM_LANES *
                                          (VD_SUM_LANES - 1 - k)));
  snprintf(source + n, sizeof source - n, "};\n%s", body);
}

/* Built once, then shared by every device's program. */
const char *vd_sum_kernel_source(void)
{
  pthread_once(&source_once, source_init);
  return source;
}
