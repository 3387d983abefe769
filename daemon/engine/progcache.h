/* progcache.h: device programs built from a binary cached on disk
 * (progcache.c), so the driver's compiler is loaded only when the source,
 * the device or the driver changed.  Engine-private. */
#ifndef VRAMD_PROGCACHE_H
#define VRAMD_PROGCACHE_H

#include <stdbool.h>

#include "pool-cl.h"

/* Build src with opts for dev, from a binary cached in dir when one
 * matches (dir NULL or "": no cache), else from source, saving the binary
 * to dir.  NULL with *rc when the source build fails; *failed is then the
 * program (for its build log, the caller releases it) or NULL.  *cached
 * says whether the binary was used. */
cl_program vd_program_build(cl_context ctx, cl_device_id dev, const char *src,
                            const char *opts, const char *dir, bool *cached,
                            cl_program *failed, cl_int *rc);

#endif
