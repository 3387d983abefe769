/* persist.h: volumes with `persist = PATH` (persist.c): loaded from PATH
 * when they are created, before anything exposes them, and saved to it
 * when vramd stops cleanly.  PATH.sum holds the image's size and
 * checksum, so a corrupt or mismatched image is refused. */
#ifndef VRAMD_PERSIST_H
#define VRAMD_PERSIST_H

#include "vramd.h"

/* Load v's image, on the calling thread (create holds admin_lock); a
 * missing image is logged and v stays empty, a refused one is logged, v
 * is emptied again and not saved over it at stop. */
void vramd_persist_load(struct vramd *d, struct vd_volume *v);
/* Save every volume that has persist set, at a clean stop once clients
 * are gone; each failure is logged and leaves the last good image. */
void vramd_persist_save_all(struct vramd *d);

#endif
