/* integrity.h: the daemon's side of volume checksums (integrity.c): the
 * fault route's bit flips, and scrubs as jobs and in the background. */
#ifndef VRAMD_INTEGRITY_H
#define VRAMD_INTEGRITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vramd;

#define VRAMD_FLIPS_MAX 100000u  /* flips one call of the fault route makes */

/* Flip one bit in VRAM at each of n volume offsets, checksums untouched
 * (test-only: the caller is the fault route).  With random, n distinct
 * 4 KiB blocks are picked from seed instead, one bit at a random offset
 * of each, and off[] gets the offsets; copy picks the copy of a mirror.
 * 0; -ENOENT no such volume, -EINVAL an offset past the end, n too large
 * or no such copy, -EIO; err says which. */
int vramd_flip_bits(struct vramd *d, const char *name, uint64_t *off, unsigned n, bool random,
                    uint64_t seed, unsigned copy, char *err, size_t errlen);

/* Start a scrub of a volume as a job (kind "scrub"): 0 with *job, or
 * -ENOENT, -EINVAL (no checksums), -EBUSY (one runs), or what
 * vramd_job_start returns. */
int vramd_volume_scrub(struct vramd *d, const char *name, uint32_t *job, char *err,
                       size_t errlen);

/* The keeper's tick: start the background scrub that is due, if any
 * (scrub-interval, scrub-rate). */
void vramd_scrub_tick(void *arg);

#endif
