/* scrub.c: a volume's checksums checked whole on the GPU (scrub), and
 * the fault route's bit flips.  A scrub runs the check kernel over each
 * extent in pieces, beside the I/O; a block it finds bad is read back
 * through the engine, whose verified read is ordered with the writes,
 * so a block caught between a write and its new checksum is not
 * reported. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "volume.h"

/* Flip bits of the byte at volume offset off, where it lives now. */
int vd_volume_flip(struct vd_engine *eng, struct vd_volume *v, uint64_t off, uint8_t mask,
                   char *err, size_t errlen)
{
  struct vd_target *t = &v->target;
  struct vd_map_iter it;
  struct vd_segment s;
  struct vd_extent *e = NULL;
  int rc;

  pthread_mutex_lock(&t->move_lock);
  if (vd_map_in_range(&t->map, off, 1)) {
    vd_map_iter_init(&it, &t->map, off, 1);
    if (vd_map_next(&it, &s))
      e = atomic_load(&t->ext[s.dev][s.extent]);
  }
  rc = e ? vd_engine_flip(eng, e, s.ext_offset, mask) : -EINVAL;
  pthread_mutex_unlock(&t->move_lock);
  if (rc == -EINVAL)
    snprintf(err, errlen, "volume %s: offset %llu is past its end or holds no VRAM",
             v->spec.name, (unsigned long long)off);
  else if (rc)
    snprintf(err, errlen, "volume %s: the flip at offset %llu failed on the device",
             v->spec.name, (unsigned long long)off);
  return rc;
}
