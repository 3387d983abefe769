/* api.h: the management plane's HTTP side: JSON routes on the control
 * socket, /metrics (also alone on TCP), request bodies and Prometheus text.
 * Knows the daemon's services, never OpenCL or a wire protocol. */
#ifndef VRAMD_API_H
#define VRAMD_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "volume.h"

struct vramd;
struct vd_api;
struct vramd_sleep_job;

#define VD_API_MAX_BODY (64u << 10)   /* request bodies above this get 413 */
#define VD_API_DRAIN_BODY (1u << 20)  /* read and dropped to answer that 413 */
#define VD_API_CONN_MEMORY (32u << 10) /* URL and headers of one request */
/* From accept to a complete request, and again from the answer to its
 * last byte sent: a client that trickles is closed at this deadline. */
#define VD_API_DEADLINE_MS 5000
#define VD_API_MAX_CONNS 64    /* connections served at once, per listener */
#define VD_API_PEER_CONNS 16   /* of them from one uid (root: no cap) or address */
/* Past either, up to this many more are answered 503 busy, each given
 * VD_API_BUSY_MS to read it; past that the kernel's backlog holds them. */
#define VD_API_BUSY_CONNS 64
#define VD_API_BUSY_MS 1000
#define VD_API_STACK (256u << 10)      /* MHD's polling thread, the deadline thread */
#define VD_API_WORKER_STACK (2u << 20) /* the create/delete worker: OpenCL calls */

/* Serve the control API on a listening Unix socket (api_fd) and /metrics
 * alone on metrics_fd (-1: none).  The API owns both fds from here on. */
int vd_api_start(struct vramd *d, int api_fd, int metrics_fd,
                 struct vd_api **out, char *err, size_t errlen);
/* Stop serving: waits for running requests, closes the sockets. */
void vd_api_stop(struct vd_api *api);

/* A body parse failure: which field, an error code and a message.  It is
 * the spec codec's error (common/spec.h), which speaks in API codes. */
#define vd_api_error vd_spec_error

/* Load a request body of len bytes as a JSON object; NULL with e filled
 * (invalid_json) when it is not one or holds a NUL byte anywhere. */
json_t *vd_api_load_object(const char *body, size_t len, size_t flags,
                           struct vd_api_error *e);

/* Parse a POST /v1/volumes body into spec.  Returns 0, or -EINVAL with e
 * filled (the offending field is named). */
int vd_api_parse_create(const char *body, size_t len,
                        struct vd_volume_spec *spec, struct vd_api_error *e);
/* The same, with "from" (an image to load: its absolute path into from)
 * taken out first; without "size" then, *size_from_image is set. */
int vd_api_parse_create_from(const char *body, size_t len, struct vd_volume_spec *spec,
                             char *from, size_t fromlen, bool *size_from_image,
                             struct vd_api_error *e);
/* Parse a save or restore body, {"path": "/absolute/path"}. */
int vd_api_parse_image(const char *body, size_t len, char *path, size_t pathlen,
                       struct vd_api_error *e);
/* Parse a POST /v1/volumes/{name}/attach body (frontend, attach, index)
 * into how, the same way. */
int vd_api_parse_attach(const char *body, size_t len, struct vd_volume_spec *how,
                        struct vd_api_error *e);

/* Read POST /v1/faults' "sleep_job" object (test-only): "seconds" and
 * "bytes" required, "step_ms", "target" and "error" optional.  0, or
 * -EINVAL with e naming the field. */
int vd_api_parse_sleep_job(json_t *o, struct vramd_sleep_job *s, struct vd_api_error *e);

/* A PATCH /v1/devices/{id} body. */
struct vd_device_patch {
  bool has_reserve, has_yield_floor;
  uint64_t reserve, yield_floor;
  bool drain;                  /* move off what lies inside the new reserve */
};
/* Parse it: "reserve_bytes", "yield_floor_bytes", "drain".  Returns 0,
 * or -EINVAL with e filled (unknown, missing or bad field named). */
int vd_api_parse_device_patch(const char *body, size_t len, struct vd_device_patch *p,
                              struct vd_api_error *e);
/* Parse a PATCH /v1/volumes/{name} body: exactly one of "size" (the
 * new size, integer bytes) and "grow_bytes" (bytes to add, computed by
 * vramd, so two grows at once both apply).  0, or -EINVAL with e filled;
 * rq->force is left alone (it is the ?force=true query). */
struct vramd_resize;
int vd_api_parse_volume_patch(const char *body, size_t len, struct vramd_resize *rq,
                              struct vd_api_error *e);
/* Parse a POST /v1/volumes/{name}/repair body: empty, or {"device":
 * "ID"}, where the copies are rebuilt.  0 (dev "" when not given), or
 * -EINVAL with e filled. */
int vd_api_parse_repair(const char *body, size_t len, char *dev, size_t devlen,
                        struct vd_api_error *e);
/* A growing text buffer; on allocation failure it stays short and
 * sets failed. */
struct vd_buf {
  char *s;
  size_t len, cap;
  bool failed;
};

void vd_buf_printf(struct vd_buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
/* Append n bytes as they are (NUL bytes too); a NUL follows them. */
void vd_buf_append(struct vd_buf *b, const void *p, size_t n);
void vd_buf_free(struct vd_buf *b);

/* Prometheus text format 0.0.4.  A family header (HELP and TYPE). */
void vd_prom_family(struct vd_buf *b, const char *name, const char *type,
                    const char *help);
/* One sample; labels is "" or already-escaped 'k="v",k2="v2"'. */
void vd_prom_sample(struct vd_buf *b, const char *name, const char *labels,
                    double value);
/* Escape a label value (backslash, quote, newline) into out. */
const char *vd_prom_escape(const char *in, char *out, size_t len);
/* A histogram's _bucket, _sum and _count lines from per-bucket (not
 * cumulative) counts; bounds[n-1] is taken as +Inf. */
void vd_prom_histogram(struct vd_buf *b, const char *name, const char *labels,
                       const uint64_t *counts, const double *bounds, unsigned n,
                       double sum);
/* Every vramd metric, in text format 0.0.4. */
void vd_metrics_render(struct vramd *d, struct vd_buf *b);

#endif
