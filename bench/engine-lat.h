/* engine-lat.h: queue-depth-1 latency for engine-bench --latency: the
 * engine's own path next to a bare pinned copy on the same device. */
#ifndef VRAMD_ENGINE_LAT_H
#define VRAMD_ENGINE_LAT_H

#include <stdint.h>

#include "engine.h"
#include "volume.h"

/* Fills buf with what a write of len bytes at volume offset off stores. */
typedef void (*lat_prep_fn)(unsigned char *buf, uint64_t off, uint64_t len);

/* One request at a time, random bs-aligned offsets, for secs seconds of
 * reads then of writes through the engine; prints one "qd1" line each.
 * buf is pinned, bs bytes; prep fills it before each write (untimed), so
 * the volume still verifies.  Returns 0, or -1 on an I/O error. */
int lat_engine(struct vd_engine *eng, struct vd_volume *v, const char *label,
               unsigned char *buf, uint64_t bs, double secs, lat_prep_fn prep);

/* The same with OpenCL alone on v's first device, no engine: a blocking
 * clEnqueue{Read,Write}Buffer of bs bytes between buf and the volume's
 * first extent ("bare"), then a non-blocking one whose event is polled
 * ("bare-poll").  It overwrites that extent: run it after any verify.
 * Returns 0, or -1 when OpenCL fails. */
int lat_bare(struct vd_volume *v, unsigned char *buf, uint64_t bs, double secs);

#endif
