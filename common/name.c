/* name.c: volume names double as NBD export names and file names in the
 * state directory, so they are kept to a small safe alphabet. */
#include <stdio.h>
#include <string.h>

#include "util.h"

/* Check a volume name against [a-z0-9][a-z0-9._-]{0,62}. */
bool vd_name_valid(const char *name, char *err, size_t errlen)
{
  size_t n;

  if (!name || !*name) {
    snprintf(err, errlen, "volume name is empty");
    return false;
  }
  n = strnlen(name, VD_NAME_MAX + 1);
  if (n > VD_NAME_MAX) {
    snprintf(err, errlen, "volume name is longer than %d characters", VD_NAME_MAX);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             (i > 0 && (c == '.' || c == '_' || c == '-'));
    if (!ok) {
      snprintf(err, errlen,
               "volume name has '%s' at position %zu; use lower-case letters, "
               "digits, '.', '_' and '-', starting with a letter or digit",
               (unsigned char)c < 0x20 || (unsigned char)c > 0x7e ? "a control or non-ASCII byte" :
               (char[2]){ c, 0 }, i + 1);
      return false;
    }
  }
  return true;
}
