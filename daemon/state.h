/* state.h: the state file of volume definitions (state.c). */
#ifndef VRAMD_STATE_H
#define VRAMD_STATE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "vramd.h"

/* The errno of a create or delete refused because the volume
 * definitions could not be saved (the API's 503 state_not_saved). */
#define VRAMD_E_STATE EROFS

/* Make the state folder (mode 0750) before any volume is made. */
void vramd_state_prepare(struct vramd *d);
/* Recreate saved volume definitions (empty) from the state folder; a bad
 * or non-regular file is moved aside.  -EINTR when a stop signal came
 * before every volume was made (nothing is saved then). */
int vramd_state_load(struct vramd *d);
/* The commit of API creates and deletes (vramd_commit_fn): save the
 * definitions of the registry's volumes plus add less skip.  0 when saved
 * or when nothing saved changes (a volume of the config); -VRAMD_E_STATE
 * with err filled when the file could not be written. */
vramd_commit_fn vramd_state_save;
/* True when volume name is defined in vramd.conf or by --volume, so the
 * state file does not keep it. */
bool vramd_state_from_config(const struct vramd *d, const char *name);
/* True while definitions are being saved; err says why they are not. */
bool vramd_state_health(struct vramd *d, char *err, size_t errlen);

#endif
