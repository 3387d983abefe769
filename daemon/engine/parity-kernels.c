/* parity-kernels.c: the parity kernels (integrity crc32c+parity).  An
 * extent of nblk blocks keeps the XOR of each group of PAR_GROUP blocks
 * at nblk * (4096 + 4) + 4096 * g, after its checksums (pool.h); blocks
 * past the end of a short last group count as zeros.  Built after the
 * checksum kernels, in the same program: load_tab is theirs, as are
 * PAR_FLAG and KOP_READ.  vd_par_check shares each block among
 * LANES work-items as they do (crc_round); vd_par_batch takes one
 * work-item per block (a chain of 512 steps): the shared form inside its
 * loop over a descriptor's blocks missed bad blocks on PoCL in
 * test_parity, and was not pursued.
 *
 *   vd_par_xor(e, nblk, first, n): XOR blocks [first, first + n) into
 *     their groups' parity, one work-group per group touched, a
 *     work-item per word; run before a write lands (the old contents)
 *     and after (the new), on the same in-order queue, it leaves the
 *     parity of the new data.  Atomic: writes to other blocks of a group
 *     may run beside it.  The old contents are checked first (below), so
 *     that a bad block written over is taken out of the parity as it was
 *     written, not as it went bad.
 *   vd_par_check(e, nblk, first, n, res, ri, rep, rri, fix): before a read,
 *     check blocks [first, first + n) against their sums; a bad one is
 *     rebuilt from its group's parity and other blocks and, when the
 *     result matches its sum, written back and counted in rep[rri]
 *     (rep[rri + 1]: its block - first + 1); else res[ri] gets block -
 *     first + 1 and the read fails, as vd_sum_range's VERIFY.  Before a
 *     write (fix), the results go to a sink, and a block that cannot be
 *     rebuilt has its group's parity computed anew (check_chunk).
 *   vd_par_batch(scratch, desc_off, e0..e15, phase, res, res_base, rep):
 *     the same over the batch kernel's descriptors that carry
 *     VD_KDESC_PARITY, one work-group each: CHECK phase all of them
 *     (before the batch kernel), XOR phase the WRITEs and ZEROs (before
 *     and after it).  Result index ri of a READ: res[res_base + ri] and
 *     rep[2 * (res_base + ri)]; a write's go to rep[sink..sink + 3].
 *   vd_par_fix(e, nblk, g): group g's parity computed anew from its
 *     blocks (a group a shrink cut short). */
#include "kernels.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char vd_parity_kernel_source[] =
  "#define PAR_GROUP " STR(VD_PAR_KGROUP) "\n"
  "#define WORDS (SUM_BLOCK / 4)\n"
  "#define CHECK_WG " STR(VD_PAR_CHECK_WG) "\n"
  "#define PHASE_CHECK " STR(VD_PAR_PHASE_CHECK) "\n"
  "static __global uint *blk(__global uchar *e, ulong b)\n"
  "{\n"
  "  return (__global uint *)(e + b * SUM_BLOCK);\n"
  "}\n"
  "static __global uint *par_of(__global uchar *e, ulong nblk, ulong g)\n"
  "{\n"
  "  return (__global uint *)(e + nblk * (SUM_BLOCK + 4)) + g * WORDS;\n"
  "}\n"
  /* Word w of blocks [lo, hi), all of one group, into its parity. */
  "static void xor_word(__global uchar *e, ulong nblk, ulong lo, ulong hi, uint w)\n"
  "{\n"
  "  uint x = 0;\n"
  "  for (ulong b = lo; b < hi; b++)\n"
  "    x ^= blk(e, b)[w];\n"
  "  if (x)\n"
  "    atomic_xor(par_of(e, nblk, lo / PAR_GROUP) + w, x);\n"
  "}\n"
  /* Blocks [first, last] into their groups' parity, words over the
   * work-items of one work-group. */
  "static void xor_range(__global uchar *e, ulong nblk, ulong first, ulong last)\n"
  "{\n"
  "  for (ulong g = first / PAR_GROUP; g <= last / PAR_GROUP; g++) {\n"
  "    const ulong lo = max(first, g * PAR_GROUP), hi = min(last + 1, (g + 1) * PAR_GROUP);\n"
  "    for (uint w = get_local_id(0); w < WORDS; w += get_local_size(0))\n"
  "      xor_word(e, nblk, lo, hi, w);\n"
  "  }\n"
  "}\n"
  /* A block's CRC-32C by one work-item, in any address space. */
  "#define CRC_BODY(w, t) \\\n"
  "  uint c = 0xffffffffu; \\\n"
  "  for (uint i = 0; i < SUM_BLOCK / 4; i += 2) { \\\n"
  "    uint a = w[i] ^ c, b = w[i + 1]; \\\n"
  "    c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >> 8) & 0xff)] ^ \\\n"
  "        t[1280 + ((a >> 16) & 0xff)] ^ t[1024 + (a >> 24)] ^ t[768 + (b & 0xff)] ^ \\\n"
  "        t[512 + ((b >> 8) & 0xff)] ^ t[256 + ((b >> 16) & 0xff)] ^ t[b >> 24]; \\\n"
  "  } \\\n"
  "  return ~c;\n"
  "static uint crc_block(__global const uint *w, __local const uint *t)\n"
  "{\n"
  "  CRC_BODY(w, t)\n"
  "}\n"
  "static uint crc_local(__local const uint *w, __local const uint *t)\n"
  "{\n"
  "  CRC_BODY(w, t)\n"
  "}\n"
  /* Group g's parity computed anew from its blocks, as they are. */
  "static void regroup(__global uchar *e, ulong nblk, ulong g)\n"
  "{\n"
  "  const ulong lo = g * PAR_GROUP, hi = min(nblk, lo + PAR_GROUP);\n"
  "  for (uint w = get_local_id(0); w < WORDS; w += get_local_size(0)) {\n"
  "    uint x = 0;\n"
  "    for (ulong b = lo; b < hi; b++)\n"
  "      x ^= blk(e, b)[w];\n"
  "    par_of(e, nblk, g)[w] = x;\n"
  "  }\n"
  "}\n"
  /* Block b rebuilt into r from its group's parity and other blocks. */
  "static void rebuild(__global uchar *e, ulong nblk, ulong b, __local uint *r)\n"
  "{\n"
  "  const ulong lo = b / PAR_GROUP * PAR_GROUP, hi = min(nblk, lo + PAR_GROUP);\n"
  "  __global const uint *p = par_of(e, nblk, b / PAR_GROUP);\n"
  "  for (uint w = get_local_id(0); w < WORDS; w += get_local_size(0)) {\n"
  "    uint x = p[w];\n"
  "    for (ulong o = lo; o < hi; o++)\n"
  "      if (o != b)\n"
  "        x ^= blk(e, o)[w];\n"
  "    r[w] = x;\n"
  "  }\n"
  "}\n"
  /* After a check found nbad[0] bad blocks b0 + bad[j]: together,
   * rebuild each, and write it back if it matches its sum.  One that
   * cannot be rebuilt, about to be written over (fix), has its group's
   * parity made that of the blocks as they are: the write then leaves it
   * right for the new data (the group's other bad blocks were lost
   * anyway).  Every work-item of the group calls it. */
  "static void repair_bad(__global uchar *e, ulong nblk, ulong b0, ulong kbase,\n"
  "    __local const uint *t, __local uint *r, __local uint *bad, __local uint *nbad,\n"
  "    __global uint *res, __global uint *rep, bool fix)\n"
  "{\n"
  "  const uint lid = get_local_id(0);\n"
  "  __global const uint *s = (__global const uint *)(e + nblk * SUM_BLOCK);\n"
  "  barrier(CLK_LOCAL_MEM_FENCE);\n"
  "  const uint nb = nbad[0];\n"
  "  for (uint j = 0; j < nb; j++) {\n"
  "    const ulong b = b0 + bad[j];\n"
  "    rebuild(e, nblk, b, r);\n"
  "    barrier(CLK_LOCAL_MEM_FENCE);\n"
  "    if (lid == 0)\n"
  "      nbad[1] = crc_local(r, t) == s[b];\n"
  "    barrier(CLK_LOCAL_MEM_FENCE);\n"
  "    if (nbad[1]) {\n"
  "      for (uint w = lid; w < WORDS; w += get_local_size(0))\n"
  "        blk(e, b)[w] = r[w];\n"
  "      if (lid == 0) {\n"
  "        atomic_inc(rep);\n"
  "        rep[1] = (uint)(b - kbase) + 1;\n"
  "      }\n"
  "    } else {\n"
  "      if (fix)\n"
  "        regroup(e, nblk, b / PAR_GROUP);\n"
  "      if (lid == 0)\n"
  "        res[0] = (uint)(b - kbase) + 1;\n"
  "    }\n"
  "    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);\n"
  "  }\n"
  "  barrier(CLK_LOCAL_MEM_FENCE); /* nbad is read before the next chunk resets it */\n"
  "}\n"
  /* Check blocks [b0, b0 + cnt), cnt at most the work-group's size, one
   * a work-item, then repair what is bad.  Every work-item calls it. */
  "static void check_chunk(__global uchar *e, ulong nblk, ulong b0, ulong cnt, ulong kbase,\n"
  "    __local const uint *t, __local uint *r, __local uint *bad, __local uint *nbad,\n"
  "    __global uint *res, __global uint *rep, bool fix)\n"
  "{\n"
  "  const uint lid = get_local_id(0);\n"
  "  __global const uint *s = (__global const uint *)(e + nblk * SUM_BLOCK);\n"
  "  if (lid == 0)\n"
  "    nbad[0] = 0;\n"
  "  barrier(CLK_LOCAL_MEM_FENCE);\n"
  "  if (lid < cnt && crc_block(blk(e, b0 + lid), t) != s[b0 + lid])\n"
  "    bad[atomic_inc(nbad)] = lid;\n"
  "  repair_bad(e, nblk, b0, kbase, t, r, bad, nbad, res, rep, fix);\n"
  "}\n"
  /* The same with LANES work-items to a block (crc_round), cnt at most
   * the work-group's size / LANES: vd_par_check's, in line with a read
   * or write of the direct and idle paths. */
  "static void check_lanes(__global uchar *e, ulong nblk, ulong b0, ulong cnt, ulong kbase,\n"
  "    __local const uint *t, __local uint *r, __local uint *bad, __local uint *nbad,\n"
  "    __local uint *c, __global uint *res, __global uint *rep, bool fix)\n"
  "{\n"
  "  const uint lid = get_local_id(0), k = lid / LANES;\n"
  "  __global const uint *s = (__global const uint *)(e + nblk * SUM_BLOCK);\n"
  "  if (lid == 0)\n"
  "    nbad[0] = 0;\n"
  "  crc_round(e, b0, (uint)cnt, t, c); /* its barriers order the line above */\n"
  "  if (lid % LANES == 0 && k < cnt && ~c[k] != s[b0 + k])\n"
  "    bad[atomic_inc(nbad)] = k;\n"
  "  repair_bad(e, nblk, b0, kbase, t, r, bad, nbad, res, rep, fix);\n"
  "}\n"
  "__kernel void " VD_PAR_XOR_NAME "(__global uchar *e, ulong nblk, ulong first, ulong n)\n"
  "{\n"
  "  const ulong g = first / PAR_GROUP + get_group_id(0);\n"
  "  const ulong lo = max(first, g * PAR_GROUP), hi = min(first + n, (g + 1) * PAR_GROUP);\n"
  "  for (uint w = get_local_id(0); w < WORDS; w += get_local_size(0))\n"
  "    xor_word(e, nblk, lo, hi, w);\n"
  "}\n"
  "__kernel void " VD_PAR_CHECK_NAME "(__global uchar *e, ulong nblk, ulong first, ulong n,\n"
  "    __global uint *res, uint ri, __global uint *rep, uint rri, uint fix)\n"
  "{\n"
  "  __local uint t[2048], r[WORDS], bad[CHECK_WG / LANES], nbad[2], c[CHECK_WG / LANES];\n"
  "  const ulong bpg = get_local_size(0) / LANES, b0 = first + get_group_id(0) * bpg;\n"
  "  load_tab(t);\n"
  "  check_lanes(e, nblk, b0, min(bpg, first + n - b0), first, t, r, bad, nbad, c, res + ri,\n"
  "              rep + rri, fix != 0);\n"
  "}\n"
  "__kernel void " VD_PAR_BATCH_NAME "(__global uchar *scratch, ulong desc_off,\n"
  VD_KERNEL_EXTENT_ARGS ",\n"
  "    uint phase, __global uint *res, uint res_base, __global uint *rep, uint sink)\n"
  "{\n"
  "  __local uint t[2048], r[WORDS], bad[CHECK_WG], nbad[2];\n"
  "  const ulong4 d = ((__global const ulong4 *)(scratch + desc_off))[get_group_id(0)];\n"
  "  const ulong nblk = d.x >> 32;\n"
  "  const uint slot = (uint)(d.x & 0xff), op = (uint)((d.x >> 8) & 0xff);\n"
  "  const uint ri = res_base + (uint)((d.x >> 16) & 0x7fff);\n"
  "  if (phase == PHASE_CHECK)\n"
  "    load_tab(t); /* the phase is the launch's: every work-item or none */\n"
  "  if (!nblk || !d.w || !(d.x & PAR_FLAG) || (phase != PHASE_CHECK && op == KOP_READ))\n"
  "    return; /* the whole work-group: one descriptor */\n"
  VD_KERNEL_PICK_EXTENT
  "  const ulong first = d.y / SUM_BLOCK, last = (d.y + d.w - 1) / SUM_BLOCK;\n"
  "  if (phase != PHASE_CHECK) {\n"
  "    xor_range(e, nblk, first, last);\n"
  "    return;\n"
  "  }\n"
  "  __global uint *to_res = op == KOP_READ ? res + ri : rep + sink;\n"
  "  __global uint *to_rep = op == KOP_READ ? rep + 2 * ri : rep + sink + 2;\n"
  "  for (ulong b0 = first; b0 <= last; b0 += get_local_size(0))\n"
  "    check_chunk(e, nblk, b0, min((ulong)get_local_size(0), last + 1 - b0), first, t, r, bad,\n"
  "                nbad, to_res, to_rep, op != KOP_READ);\n"
  "}\n"
  "__kernel void " VD_PAR_FIX_NAME "(__global uchar *e, ulong nblk, ulong g)\n"
  "{\n"
  "  regroup(e, nblk, g);\n"
  "}\n";
