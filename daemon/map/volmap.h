/* volmap.h: pure mapping of volume byte ranges onto device extents.
 *
 * A volume is spread over ndev devices, either striped (unit-sized chunks
 * dealt round-robin) or concatenated (device 0 filled first).  Each
 * device's share is cut into extents of extent_size bytes (the last one of
 * a device may be shorter).  This layer knows nothing about OpenCL: it turns
 * (offset, length) into segments addressed by (device, extent, offset).
 *
 * A mirror keeps copies of every byte on distinct devices.  Its ndev
 * devices ("legs") come in sets of copies consecutive ones: leg d holds
 * copy d % copies of column d / copies, and the volume is striped by unit
 * over the ndev / copies columns (one column: a plain mirror).  Every leg
 * of a column holds the same bytes at the same extent and offset, so a
 * copy is a second placement of the same extent, never a second map.
 * The plain iterator and the device masks speak of copy 0 (leg c *
 * copies; add j for copy j of the same segment); the device iterator
 * takes any leg and reports its segments on that leg.
 */
#ifndef VRAMD_VOLMAP_H
#define VRAMD_VOLMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "spec.h" /* enum vd_layout and the bounds a spec is held to */

#define VD_SECTOR 4096u /* sizes and extents are multiples of this */

struct vd_map {
  enum vd_layout layout;
  uint32_t ndev;
  uint32_t copies;                     /* mirror: copies of each byte; else 1 */
  uint64_t unit;                       /* stripe unit (stripe, mirror) */
  uint64_t extent_size;                /* all but a device's last extent */
  uint64_t size;                       /* volume bytes */
  uint64_t dev_bytes[VD_MAX_DEVICES];  /* bytes of the volume on each device */
  uint64_t dev_start[VD_MAX_DEVICES];  /* concat: first volume byte per device */
};

/* One piece of a request on one device.  The device side is contiguous:
 * rows * len bytes from ext_offset.  The buffer side is rows runs of len
 * bytes, buf_pitch apart (rows == 1 for the plain iterator). */
struct vd_segment {
  uint32_t dev;
  uint32_t extent;
  uint64_t ext_offset;
  uint64_t buf_offset;
  uint64_t len;
  uint64_t rows;
  uint64_t buf_pitch;
};

struct vd_map_iter {
  const struct vd_map *m;
  uint64_t off;   /* next volume byte */
  uint64_t end;   /* one past the last volume byte */
  uint64_t start; /* first volume byte (buf_offset 0) */
  int32_t dev;    /* -1: all devices, else only this one (a mirror's column) */
  uint32_t copy;  /* mirror: the copy whose leg segments are reported on */
};

/* Set up a striped map; size is rounded up to whole rows (unit * ndev).
 * Returns 0 or -EINVAL (bad unit, ndev, extent size) / -EOVERFLOW. */
int vd_map_init_stripe(struct vd_map *m, uint32_t ndev, uint64_t unit,
                       uint64_t extent_size, uint64_t size);

/* Set up a mirror: ndev legs in sets of copies (2 or more, dividing
 * ndev), striped by unit over the ndev / copies columns; size is rounded
 * up to whole rows (unit * columns).  0, -EINVAL or -EOVERFLOW. */
int vd_map_init_mirror(struct vd_map *m, uint32_t ndev, uint32_t copies, uint64_t unit,
                       uint64_t extent_size, uint64_t size);

/* Columns a map stripes over: ndev, or ndev / copies for a mirror. */
uint32_t vd_map_columns(const struct vd_map *m);

/* Set up a concat map, filling devices in order up to cap[i] bytes each
 * (caps rounded down to VD_SECTOR); size is rounded up to VD_SECTOR.
 * Returns 0, -EINVAL, -EOVERFLOW or -ENOSPC when the caps cannot hold it. */
int vd_map_init_concat(struct vd_map *m, uint32_t ndev, const uint64_t *cap,
                       uint64_t extent_size, uint64_t size);

/* The map of the same volume at another size (resize): every byte below
 * the smaller of the two sizes stays on the same device, extent and
 * offset.  Striped, size is rounded up to whole rows as at init;
 * concatenated, devices before the last one holding bytes keep theirs,
 * growth goes to that device and those after it, up to room[i] more bytes
 * each (rounded down to VD_SECTOR), and a shrink cuts from the end.
 * room is only read for concat.  0, -EINVAL, -EOVERFLOW, or -ENOSPC when
 * the rooms cannot hold the growth. */
int vd_map_resize(const struct vd_map *old, const uint64_t *room, uint64_t size,
                  struct vd_map *out);

/* Number of extents device dev holds, and the size of extent i on it.
 * Both inits return -EOVERFLOW if a device would need more than UINT32_MAX
 * extents.  Out-of-range dev or i give 0. */
uint32_t vd_map_extent_count(const struct vd_map *m, uint32_t dev);
uint64_t vd_map_extent_bytes(const struct vd_map *m, uint32_t dev, uint32_t i);

/* True if [off, off+len) lies inside the volume (no overflow, len may be 0). */
bool vd_map_in_range(const struct vd_map *m, uint64_t off, uint64_t len);

/* Bit i set when device i holds any byte of [off, off+len) (a mirror:
 * copy 0's leg of each column that does). */
uint64_t vd_map_devices_touched(const struct vd_map *m, uint64_t off,
                                uint64_t len);

/* Iterate every segment of [off, off+len) in volume order; each segment is
 * maximal (merged while contiguous on both sides), rows == 1.  The range
 * must be in range. */
void vd_map_iter_init(struct vd_map_iter *it, const struct vd_map *m,
                      uint64_t off, uint64_t len);

/* Iterate only device dev's segments of [off, off+len), in device order;
 * runs of whole stripe units inside one extent come back as one
 * rectangular segment (rows > 1, buf_pitch = unit * ndev). */
void vd_map_iter_init_dev(struct vd_map_iter *it, const struct vd_map *m,
                          uint64_t off, uint64_t len, uint32_t dev);

/* Next segment; false when done.  Requests that are not in range (and
 * devices >= ndev) yield no segments and touch no devices.  One-row
 * segments always have buf_pitch == len. */
bool vd_map_next(struct vd_map_iter *it, struct vd_segment *seg);

#endif
