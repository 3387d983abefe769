/* list.h: devices as text and JSON. */
#ifndef VRAMD_LIST_H
#define VRAMD_LIST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "pool.h"

/* A device as a JSON object. */
json_t *vd_device_json(const struct vd_device *dev);
/* The same with what GET /v1/devices adds: available bytes, the bytes
 * written to and read from it, whether it is lost, its state and the bytes
 * allocated inside its reserve. */
json_t *vd_device_status_json(const struct vd_device *dev, uint64_t written, uint64_t read);
/* The same, with the free memory the driver reports now
 * ("driver_free_bytes"). */
json_t *vd_device_live_json(struct vd_device *dev, uint64_t written, uint64_t read);
/* Print the pool's devices; 0 or -1. */
int vd_list_devices(struct vd_pool *pool, bool as_json);

#endif
