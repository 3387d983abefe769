/* mkdir.c: mkdir -p, for the state folder and the sockets' folders. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

/* mkdir that takes an existing folder, but not a file in the way. */
static int make_dir(const char *dir, mode_t mode)
{
  struct stat st;
  if (mkdir(dir, mode) == 0)
    return 0;
  if (errno != EEXIST)
    return -errno;
  if (stat(dir, &st))
    return -errno;
  return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Create every missing folder of dir. */
int vd_mkdir_p(const char *dir, mode_t mode)
{
  char buf[256];
  int rc;
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof buf)
    return -ENAMETOOLONG;
  memcpy(buf, dir, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if ((rc = make_dir(buf, mode)))
      return rc;
    *p = '/';
  }
  return make_dir(buf, mode);
}
