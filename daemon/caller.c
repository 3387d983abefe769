/* caller.c: file-system checks as the API's caller.  setfsuid, setfsgid
 * and the raw setgroups system call change only the calling thread (the
 * libc wrapper of setgroups would change every thread), so the rest of
 * vramd keeps its rights meanwhile. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caller.h"

/* Set this thread's supplementary groups only. */
static int thread_setgroups(int n, const gid_t *list)
{
  return syscall(SYS_setgroups, (size_t)n, list) ? -errno : 0;
}

/* Switch this thread's file-system identity to the caller's. */
int vramd_caller_begin(const struct vramd_caller *c, struct vramd_caller_saved *s,
                       char *err, size_t errlen)
{
  s->changed = false;
  if (c->uid == geteuid() && c->gid == getegid())
    return 0;
  s->fsuid = (uid_t)setfsuid((uid_t)-1);
  s->fsgid = (gid_t)setfsgid((gid_t)-1);
  s->ngroups = getgroups(VRAMD_CALLER_GROUPS, s->groups);
  if (s->ngroups < 0 || thread_setgroups(0, NULL))
    goto out_refused;
  setfsgid(c->gid);
  setfsuid(c->uid);
  s->changed = true;
  if ((uid_t)setfsuid((uid_t)-1) != c->uid || (gid_t)setfsgid((gid_t)-1) != c->gid) {
    vramd_caller_end(s);
    goto out_refused;
  }
  return 0;

out_refused:
  snprintf(err, errlen, "vramd cannot check files as uid %u (it lacks CAP_SETUID and "
           "CAP_SETGID): run the command as uid %u", (unsigned)c->uid, (unsigned)geteuid());
  return -EPERM;
}

/* Put the thread's identity back. */
void vramd_caller_end(const struct vramd_caller_saved *s)
{
  if (!s->changed)
    return;
  setfsuid(s->fsuid);
  setfsgid(s->fsgid);
  thread_setgroups(s->ngroups, s->groups);
}
