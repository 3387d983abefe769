/* caller.h: act as the API's caller for the file-system checks of save,
 * load and restore (caller.c): vramd runs as root, so the files they
 * name are opened and renamed with the caller's fsuid and fsgid, on the
 * thread that does it, and the kernel decides (docs/design-decisions.md,
 * "Whose files"). */
#ifndef VRAMD_CALLER_H
#define VRAMD_CALLER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define VRAMD_CALLER_GROUPS 64

/* Who asked (SO_PEERCRED of the API connection). */
struct vramd_caller {
  uid_t uid;
  gid_t gid;
  pid_t pid;    /* to see paths as it sees them (/proc/PID/root); 0: unknown */
};

/* What vramd_caller_begin changed, to put back. */
struct vramd_caller_saved {
  bool changed;
  uid_t fsuid;
  gid_t fsgid;
  int ngroups;
  gid_t groups[VRAMD_CALLER_GROUPS];
};

/* From now on this thread's file-system checks are the caller's: its uid,
 * its primary gid and no supplementary group.  Nothing changes when the
 * caller is vramd's own user.  0, or -EPERM with err filled when vramd
 * may not switch (it lacks CAP_SETUID/CAP_SETGID). */
int vramd_caller_begin(const struct vramd_caller *c, struct vramd_caller_saved *s,
                       char *err, size_t errlen);
/* Put this thread back as vramd_caller_begin found it. */
void vramd_caller_end(const struct vramd_caller_saved *s);

#endif
