/* integrity.c: the daemon's side of volume checksums: the fault route's
 * bit flips (see docs/integrity.md). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "integrity.h"
#include "vramd.h"

/* xorshift64: reproducible picks from a seed. */
static uint64_t next(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Pick n distinct blocks of a volume of size bytes, a byte in each. */
static int pick(uint64_t *off, unsigned n, uint64_t size, uint64_t seed, char *err,
                size_t errlen)
{
  uint64_t blocks = size / VD_SUM_BLOCK, s = seed ? seed : 0x9e3779b97f4a7c15ull;
  uint8_t *used;

  if (n > blocks) {
    snprintf(err, errlen, "%u random flips need as many blocks; the volume has %llu", n,
             (unsigned long long)blocks);
    return -EINVAL;
  }
  used = calloc((size_t)(blocks + 7) / 8, 1);
  if (!used) {
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  for (unsigned k = 0; k < n;) {
    uint64_t b = next(&s) % blocks;
    if (used[b / 8] & (1u << (b % 8)))
      continue;
    used[b / 8] |= (uint8_t)(1u << (b % 8));
    off[k++] = b * VD_SUM_BLOCK + next(&s) % VD_SUM_BLOCK;
  }
  free(used);
  return 0;
}

/* Flip a bit at each offset, or at n random ones. */
int vramd_flip_bits(struct vramd *d, const char *name, uint64_t *off, unsigned n, bool random,
                    uint64_t seed, char *err, size_t errlen)
{
  struct vd_volume *v = vd_registry_get(&d->reg, name);
  uint64_t s = seed ^ 0x5851f42d4c957f2dull;
  int rc = 0;

  if (!v) {
    snprintf(err, errlen, "no volume '%s'", name);
    return -ENOENT;
  }
  if (n > VRAMD_FLIPS_MAX) {
    snprintf(err, errlen, "at most %u flips at a time", VRAMD_FLIPS_MAX);
    rc = -EINVAL;
  }
  if (!rc && random)
    rc = pick(off, n, v->size, seed, err, errlen);
  for (unsigned k = 0; !rc && k < n; k++)
    rc = vd_volume_flip(d->eng, v, off[k], (uint8_t)(1u << (next(&s) % 8)), err, errlen);
  vd_volume_put(v);
  return rc;
}
