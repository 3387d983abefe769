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

/* Parse a duration: N{s,m,h,d} or off. */
int vd_setting_duration(const char *key, const char *v, uint64_t max, uint64_t *out,
                        char *err, size_t errlen)
{
  static const struct { char unit; uint64_t s; } units[] = {
    { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
  unsigned long long n;
  char *end;

  if (!strcmp(v, "off") || !strcmp(v, "0")) {
    *out = 0;
    return 0;
  }
  errno = 0;
  n = strtoull(v, &end, 10);
  for (size_t i = 0; isdigit((unsigned char)*v) && !errno && n && end[0] && !end[1] &&
                     i < sizeof units / sizeof units[0]; i++)
    if (*end == units[i].unit && n <= max / units[i].s) {
      *out = n * units[i].s;
      return 0;
    }
  snprintf(err, errlen, "%s: '%s' is not off or a duration from 1s to %llus (a whole number "
           "and s, m, h or d: 90s, 30m, 24h, 7d)", key, v, (unsigned long long)max);
  return -EINVAL;
}

/* The largest of d, h, m, s that divides s, as the setting is typed. */
const char *vd_duration_typed(uint64_t s, char *buf, size_t len)
{
  if (!s)
    snprintf(buf, len, "off");
  else if (s % 86400 == 0)
    snprintf(buf, len, "%llud", (unsigned long long)(s / 86400));
  else if (s % 3600 == 0)
    snprintf(buf, len, "%lluh", (unsigned long long)(s / 3600));
  else if (s % 60 == 0)
    snprintf(buf, len, "%llum", (unsigned long long)(s / 60));
  else
    snprintf(buf, len, "%llus", (unsigned long long)s);
  return buf;
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
