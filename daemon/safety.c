/* safety.c: keep the daemon out of reclaim's way so a volume can hold
 * swap: memory locked, I/O-flusher allocations, exempt from the OOM killer.
 * Each step is logged and recorded for `vramctl status`; a step that is
 * not permitted is a warning, not a failure, since NBD scratch use is fine
 * without it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "safety.h"
#include "util.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

#if defined(__SANITIZE_ADDRESS__)
#define VD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VD_ASAN 1
#endif
#endif

/* Set our OOM score adjustment and read back what the kernel holds. */
static int set_oom_score_adj(int value, int *now)
{
  char buf[16];
  ssize_t n;
  int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC), e = 0;

  if (fd < 0)
    return errno;
  n = snprintf(buf, sizeof buf, "%d\n", value);
  if (write(fd, buf, (size_t)n) != n)
    e = errno;
  if (lseek(fd, 0, SEEK_SET) == 0 && (n = read(fd, buf, sizeof buf - 1)) > 0) {
    buf[n] = '\0';
    *now = (int)strtol(buf, NULL, 10);
  }
  close(fd);
  return e;
}

/* Before any thread starts: threads inherit PR_SET_IO_FLUSHER. */
void vd_safety_early(struct vd_safety *s)
{
  s->io_flusher_err = prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) ? errno : 0;
  s->io_flusher = !s->io_flusher_err;
  if (s->io_flusher)
    vd_info("swap safety: PR_SET_IO_FLUSHER set (allocations will not recurse into I/O)");
  else
    vd_warn("swap safety: PR_SET_IO_FLUSHER failed: %s (needs CAP_SYS_RESOURCE)",
            strerror(s->io_flusher_err));

  s->oom_score_adj = 0;
  s->oom_err = set_oom_score_adj(-1000, &s->oom_score_adj);
  s->oom_protected = !s->oom_err && s->oom_score_adj == -1000;
  if (s->oom_protected)
    vd_info("swap safety: oom_score_adj -1000 (the OOM killer spares vramd)");
  else
    vd_warn("swap safety: oom_score_adj -1000 failed: %s (now %d; needs CAP_SYS_RESOURCE)",
            strerror(s->oom_err ? s->oom_err : EPERM), s->oom_score_adj);
}

/* After OpenCL and the engine are up: lock all memory, now and future. */
void vd_safety_lock_memory(struct vd_safety *s)
{
#ifdef VD_ASAN
  s->mlock_err = EOPNOTSUPP;
  s->mlocked = false;
  vd_warn("swap safety: mlockall skipped in an AddressSanitizer build (its shadow "
          "memory cannot be locked)");
#else
  s->mlock_err = mlockall(MCL_CURRENT | MCL_FUTURE) ? errno : 0;
  s->mlocked = !s->mlock_err;
  if (s->mlocked)
    vd_info("swap safety: mlockall(MCL_CURRENT|MCL_FUTURE) done (vramd is never swapped out)");
  else
    vd_warn("swap safety: mlockall failed: %s (raise LimitMEMLOCK or run as root; "
            "do not put swap on this daemon's volumes)", strerror(s->mlock_err));
#endif
}
