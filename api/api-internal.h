/* api-internal.h: what the API's files share: the daemon's objects as
 * JSON (json.c), for server.c's routes. */
#ifndef VRAMD_API_INTERNAL_H
#define VRAMD_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "volume.h"

struct vramd_job_info;

struct vramd;

/* GET /v1: version, what this build offers, swap safety, pinned memory
 * and whether the state file is saved. */
json_t *vd_api_root_json(struct vramd *d);
/* GET /v1/pool: totals, and what is available where. */
json_t *vd_api_pool_json(struct vramd *d);
/* Every volume's size together, and what thin volumes promise beyond
 * what they hold; over-commit is virtual size over capacity. */
void vd_api_pool_virtual(struct vramd *d, uint64_t *virt, uint64_t *thin_unbacked);
double vd_api_overcommit(uint64_t virt, uint64_t cap);
/* Every device's available bytes, for "how much is free where". */
json_t *vd_api_available_json(struct vramd *d);
/* Device i of the pool as it is now: its description (vd_device_json)
 * plus the bytes available and moved, and whether it is lost. */
json_t *vd_api_device_status_json(struct vramd *d, unsigned i);
/* A volume as JSON; detail adds extents and counters. */
json_t *vd_api_volume_json(struct vramd *d, struct vd_volume *v, bool detail);
/* A volume's NVMe/TCP export, with whether it is live (json.c). */
json_t *vd_api_export_json(struct vramd *d, struct vd_volume *v);
/* A job as GET /v1/jobs/{id} shows it: progress, rate, ETA, times. */
json_t *vd_api_job_json(const struct vramd_job_info *j);

#endif
