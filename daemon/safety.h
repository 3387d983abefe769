/* safety.h: what vramd does to run safely under swap (safety.c). */
#ifndef VRAMD_SAFETY_H
#define VRAMD_SAFETY_H

#include <stdbool.h>

/* What vramd did to run safely under swap; shown by `vramctl status`.
 * *_err is the errno when a step was not done. */
struct vd_safety {
  bool mlocked;           /* mlockall(MCL_CURRENT|MCL_FUTURE) */
  bool io_flusher;        /* prctl(PR_SET_IO_FLUSHER) */
  bool oom_protected;     /* oom_score_adj is -1000 */
  int oom_score_adj;      /* as read back */
  int mlock_err, io_flusher_err, oom_err;
};

/* Swap safety: PR_SET_IO_FLUSHER and oom_score_adj before any thread
 * starts; mlockall once OpenCL is up.  Never fork after either. */
void vd_safety_early(struct vd_safety *s);
void vd_safety_lock_memory(struct vd_safety *s);

#endif
