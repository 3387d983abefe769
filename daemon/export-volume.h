/* export-volume.h: a volume's kernel block device exported over NVMe/TCP
 * through the kernel's target (export-volume.c; configfs in
 * export/nvmet.c).  The export is part of the volume's spec, so the state
 * file keeps it and a restart makes it again. */
#ifndef VRAMD_EXPORT_VOLUME_H
#define VRAMD_EXPORT_VOLUME_H

#include <stdbool.h>
#include <stddef.h>

#include "vramd.h"

/* Export volume name as how says (address, hosts, allow_any_host; the
 * NQN is made here), attaching a kernel device first when it has none;
 * recorded by commit.  *out (may be NULL) gets the export as made.
 * -ENOENT unknown, -EALREADY exported already, -EINVAL a bad NQN, key
 * file or a volume with no kernel device to export, -ENODEV nvmet not
 * loaded or configfs not mounted, -EADDRINUSE, -EOPNOTSUPP, or what the
 * kernel said; nothing is left behind on a failure. */
int vramd_volume_export(struct vramd *d, const char *name, const struct vd_export_spec *how,
                        vramd_commit_fn *commit, struct vd_export_spec *out, char *err,
                        size_t errlen);
/* Take a volume's export down, keeping its device.  -ENOTCONN when not
 * exported, -ENOENT unknown. */
int vramd_volume_unexport(struct vramd *d, const char *name, vramd_commit_fn *commit,
                          char *err, size_t errlen);

/* Under admin_lock, for a delete: -EBUSY (err says why) when v is
 * exported and !force; forced, the export is taken down first. */
int vramd_export_withdraw(struct vramd *d, struct vd_volume *v, bool force, char *err,
                          size_t errlen);
/* Under admin_lock, after a resize: connected hosts see the new size. */
void vramd_export_resized(struct vramd *d, struct vd_volume *v);
/* Make every saved export once the volumes are back (start), and take
 * them all down, keeping them in the specs, before the devices go (stop). */
void vramd_exports_start(struct vramd *d);
void vramd_exports_stop(struct vramd *d);
/* Whether v's export is up in the kernel; port_id (16 bytes) gets the
 * nvmet port's number. */
bool vramd_export_live(const struct vramd *d, const struct vd_volume *v, char *port_id);

#endif
