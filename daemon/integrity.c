/* integrity.c: the daemon's side of volume checksums: scrubs as jobs,
 * and the fault route's bit flips (see docs/integrity.md). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "integrity.h"
#include "util.h"
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
                    uint64_t seed, unsigned copy, char *err, size_t errlen)
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
    rc = vd_volume_flip_copy(d->eng, v, off[k], copy, (uint8_t)(1u << (next(&s) % 8)), err,
                             errlen);
  vd_volume_put(v);
  return rc;
}

/* The scrub job's callbacks. */
static bool job_cancelled(void *arg) { return vramd_job_cancelled(arg); }
static void job_progress(void *arg, uint64_t bytes) { vramd_job_advance(arg, bytes); }

struct scrub_job {
  struct vramd *d;
  struct vd_volume *v;     /* a reference */
};

/* Free a scrub job's argument. */
static void drop_scrub_job(void *arg)
{
  struct scrub_job *s = arg;
  vd_volume_put(s->v);
  free(s);
}

/* The scrub job: check every block, then say what was found. */
static int run_scrub(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct scrub_job *s = arg;
  struct vd_scrub_ctl c = { .eng = s->d->eng, .cancelled = job_cancelled,
                            .progress = job_progress, .arg = job };
  uint64_t t0 = vd_now_ns(), ns;
  char a[32];
  int rc = vd_volume_scrub(&c, s->v, err, errlen);

  ns = vd_now_ns() - t0;
  vd_log_about(c.bad ? VD_LOG_WARNING : VD_LOG_INFO, VD_FIELDS(.volume = s->v->spec.name),
               "volume %s: scrub %s: %llu blocks (%s) checked in %.2f s (%.2f GB/s), %llu bad%s",
               s->v->spec.name, rc ? "stopped" : "done", (unsigned long long)c.blocks,
               vd_format_size(c.blocks * VD_SUM_BLOCK, a, sizeof a), (double)ns / 1e9,
               ns ? (double)(c.blocks * VD_SUM_BLOCK) / (double)ns : 0.0,
               (unsigned long long)c.bad,
               c.bad ? ": reads of those blocks fail with EIO until they are written again" : "");
  return rc;
}

/* Check the volume keeps checksums, then start its scrub. */
int vramd_volume_scrub(struct vramd *d, const char *name, uint32_t *job, char *err,
                       size_t errlen)
{
  struct vramd_job_desc desc = { .kind = "scrub", .target = name, .run = run_scrub,
                                 .drop = drop_scrub_job };
  struct vd_volume *v = vd_registry_get(&d->reg, name);
  struct scrub_job *s;

  if (!v) {
    snprintf(err, errlen, "no volume '%s'", name);
    return -ENOENT;
  }
  if (!vd_volume_sums(v)) {
    snprintf(err, errlen, "volume %s keeps no checksums: only a volume created with "
             "--integrity crc32c can be scrubbed", name);
    vd_volume_put(v);
    return -EINVAL;
  }
  s = calloc(1, sizeof *s);
  if (!s) {
    vd_volume_put(v);
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  s->d = d;
  s->v = v;
  desc.arg = s;
  desc.total_bytes = v->size;
  return vramd_job_start(&d->jobs, &desc, job, err, errlen);
}
