/* integrity.c: the daemon's side of volume checksums: scrubs as jobs,
 * and the fault route's bit flips (see docs/integrity.md). */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
  uint64_t rate;           /* bytes a second; 0: as fast as it goes */
  bool background;
};

/* Free a scrub job's argument: the volume may be scrubbed again, and the
 * next background scrub is due an interval from now. */
static void drop_scrub_job(void *arg)
{
  struct scrub_job *s = arg;
  uint64_t every = s->d->cfg.scrub_interval;
  atomic_store(&s->v->scrub.next_time, every ? (int64_t)(time(NULL) + (time_t)every) : 0);
  atomic_store(&s->v->scrub.running, false);
  vd_volume_put(s->v);
  free(s);
}

/* The scrub job: check every block, then say what was found. */
static int run_scrub(struct vramd_job *job, void *arg, char *err, size_t errlen)
{
  struct scrub_job *s = arg;
  struct vd_scrub_ctl c = { .eng = s->d->eng, .rate = s->rate, .cancelled = job_cancelled,
                            .progress = job_progress, .arg = job };
  uint64_t t0 = vd_now_ns(), ns;
  char a[32], skipped[64] = "";
  int rc = vd_volume_scrub(&c, s->v, err, errlen);

  ns = vd_now_ns() - t0;
  if (c.skipped)
    snprintf(skipped, sizeof skipped, ", %llu on stale copies skipped",
             (unsigned long long)c.skipped);
  vd_log_about(c.bad > c.repaired ? VD_LOG_WARNING : VD_LOG_INFO,
               VD_FIELDS(.volume = s->v->spec.name),
               "volume %s: %sscrub %s: %llu blocks (%s) checked in %.2f s (%.2f GB/s)%s, "
               "%llu bad, %llu %s%s", s->v->spec.name,
               s->background ? "background " : "", rc ? "stopped" : "done",
               (unsigned long long)c.blocks, vd_format_size(c.blocks * VD_SUM_BLOCK, a, sizeof a),
               (double)ns / 1e9, ns ? (double)(c.blocks * VD_SUM_BLOCK) / (double)ns : 0.0,
               skipped, (unsigned long long)c.bad, (unsigned long long)c.repaired,
               vd_volume_tail(s->v) == VD_TAIL_PARITY ? "rebuilt from parity"
                                                      : "rewritten from another copy",
               c.bad > c.repaired ? ": reads of the others fail with EIO until they are written "
                                    "again" : "");
  return rc;
}

/* Start a scrub of v (a reference, handed over) at rate: one per volume
 * at a time. */
static int start_scrub(struct vramd *d, struct vd_volume *v, uint64_t rate, bool background,
                       uint32_t *job, char *err, size_t errlen)
{
  const char *name = v->spec.name;
  struct vramd_job_desc desc = { .kind = "scrub", .target = name, .run = run_scrub,
                                 .drop = drop_scrub_job };
  struct scrub_job *s;

  if (!vd_volume_sums(v)) {
    snprintf(err, errlen, "volume %s keeps no checksums: only a volume created with "
             "--integrity crc32c can be scrubbed", name);
    vd_volume_put(v);
    return -EINVAL;
  }
  if (atomic_exchange(&v->scrub.running, true)) {
    snprintf(err, errlen, "a scrub of volume %s is running already (vramctl job list)", name);
    vd_volume_put(v);
    return -EBUSY;
  }
  s = calloc(1, sizeof *s);
  if (!s) {
    atomic_store(&v->scrub.running, false);
    vd_volume_put(v);
    snprintf(err, errlen, "out of host memory");
    return -ENOMEM;
  }
  s->d = d;
  s->v = v;
  s->rate = rate;
  s->background = background;
  desc.arg = s;
  desc.total_bytes = v->size * vd_volume_copies(&v->spec); /* a scrub walks every copy */
  /* A refused start drops s, which gives the volume back. */
  return vramd_job_start(&d->jobs, &desc, job, err, errlen);
}

/* Check the volume keeps checksums, then start its scrub, at full speed. */
int vramd_volume_scrub(struct vramd *d, const char *name, uint32_t *job, char *err,
                       size_t errlen)
{
  struct vd_volume *v = vd_registry_get(&d->reg, name);

  if (!v) {
    snprintf(err, errlen, "no volume '%s'", name);
    return -ENOENT;
  }
  return start_scrub(d, v, 0, false, job, err, errlen);
}

/* Background scrubs (the keeper's tick): a volume with checksums is due
 * scrub-interval after it was first seen or last scrubbed; one runs at a
 * time, at scrub-rate.  A start refused (the job table full) is tried
 * again a minute later. */
void vramd_scrub_tick(void *arg)
{
  struct vramd *d = arg;
  struct vd_volume **vols = NULL, *due = NULL;
  time_t now = time(NULL);
  bool busy = false;
  int n;

  if (!d->cfg.scrub_interval)
    return;
  n = vd_registry_list(&d->reg, &vols);
  for (int i = 0; i < n; i++) {
    struct vd_scrub_stats *st = &vols[i]->scrub;
    int64_t next = atomic_load(&st->next_time);
    busy |= atomic_load(&st->running);
    if (vd_volume_sums(vols[i]) && !next)
      atomic_store(&st->next_time, (int64_t)(now + (time_t)d->cfg.scrub_interval));
    else if (vd_volume_sums(vols[i]) && next <= now && !due && !atomic_load(&st->running))
      due = vols[i];
  }
  if (due && !busy) {
    uint32_t job;
    char err[256];
    vd_volume_get(due);
    if (start_scrub(d, due, d->cfg.scrub_rate, true, &job, err, sizeof err)) {
      atomic_store(&due->scrub.next_time, (int64_t)(now + 60));
      vd_warn_rl("volume %s: the background scrub cannot start: %s", due->spec.name, err);
    }
  }
  for (int i = 0; i < n; i++)
    vd_volume_put(vols[i]);
  free(vols);
}
