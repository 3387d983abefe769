/* setting.c: parse one "key = value" setting of vramd.conf or the command
 * line, with the messages every setting shares; the daemon and each
 * frontend parse their own keys with these. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Copy a string setting, refusing values that do not fit. */
int vd_setting_str(const char *key, const char *v, char *dst, size_t len,
                   char *err, size_t errlen)
{
  if (strlen(v) >= len) {
    snprintf(err, errlen, "%s: value is longer than %zu characters", key, len - 1);
    return -EINVAL;
  }
  memcpy(dst, v, strlen(v) + 1);
  return 0;
}

/* Parse an integer setting from min to max. */
int vd_setting_uint(const char *key, const char *v, unsigned min, unsigned max,
                    unsigned *out, char *err, size_t errlen)
{
  char *end;
  unsigned long n;
  errno = 0;
  n = strtoul(v, &end, 10);
  if (!isdigit((unsigned char)*v) || *end || errno || n < min || n > max) {
    snprintf(err, errlen, "%s: '%s' is not a number from %u to %u", key, v, min, max);
    return -EINVAL;
  }
  *out = (unsigned)n;
  return 0;
}

/* Parse on/off (or yes/no, true/false, 1/0). */
int vd_setting_switch(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
  if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
    *out = true;
  else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
    *out = false;
  else {
    snprintf(err, errlen, "%s: '%s' is not on or off", key, v);
    return -EINVAL;
  }
  return 0;
}

/* A size as it would be typed: "128K", "4M", "512". */
const char *vd_size_typed(uint64_t n, char *buf, size_t len)
{
  static const char suffix[] = "KMGT";
  int i = -1;
  while (i < 3 && n && n % 1024 == 0) {
    n /= 1024;
    i++;
  }
  if (i < 0)
    snprintf(buf, len, "%llu", (unsigned long long)n);
  else
    snprintf(buf, len, "%llu%c", (unsigned long long)n, suffix[i]);
  return buf;
}

/* Parse a size setting, checking its range and multiple. */
int vd_setting_size(const char *key, const char *v, const struct vd_size_rule *r,
                    uint64_t *out, char *err, size_t errlen)
{
  char e[200], a[32], b[32];
  uint64_t n;

  if (vd_parse_size(v, &n, e, sizeof e)) {
    snprintf(err, errlen, "%s: %s", key, e);
    return -EINVAL;
  }
  if (n < r->min || n > r->max) {
    snprintf(err, errlen, "%s: '%s' is out of range (%s to %s)", key, v,
             vd_size_typed(r->min, a, sizeof a), vd_size_typed(r->max, b, sizeof b));
    return -EINVAL;
  }
  if (n % r->multiple) {
    snprintf(err, errlen, "%s: '%s' is not a multiple of %s (%s)", key, v,
             vd_size_typed(r->multiple, a, sizeof a), r->why);
    return -EINVAL;
  }
  *out = n;
  return 0;
}
