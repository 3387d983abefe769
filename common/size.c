/* size.c: parse and print byte sizes with base-2 suffixes, like LVM. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* Shift for a suffix letter, or -1 if it is not one. */
static int suffix_shift(char c)
{
  switch (toupper((unsigned char)c)) {
  case 'B': return 0;
  case 'K': return 10;
  case 'M': return 20;
  case 'G': return 30;
  case 'T': return 40;
  case 'P': return 50;
  default: return -1;
  }
}

/* Parse an integer size with an optional K/M/G/T[iB|B] suffix. */
int vd_parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
  uint64_t v = 0;
  const char *p = s;
  int shift = 0;

  if (!s || !*s) {
    snprintf(err, errlen, "empty size");
    return -EINVAL;
  }
  if (!isdigit((unsigned char)*p)) {
    snprintf(err, errlen, "size '%s' must start with a digit (e.g. 12G)", s);
    return -EINVAL;
  }
  for (; isdigit((unsigned char)*p); p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) {
      snprintf(err, errlen, "size '%s' is too large", s);
      return -ERANGE;
    }
    v = v * 10 + d;
  }
  if (*p) {
    shift = suffix_shift(*p);
    if (shift < 0 || (shift == 0 && p[1]) ||
        (shift > 0 && p[1] && strcasecmp(p + 1, "iB") && strcasecmp(p + 1, "B"))) {
      snprintf(err, errlen, "size '%s' has an unknown suffix (use K, M, G or T)", s);
      return -EINVAL;
    }
  }
  if (v == 0) {
    snprintf(err, errlen, "size '%s' must be greater than zero", s);
    return -EINVAL;
  }
  if (shift && v > (UINT64_MAX >> shift)) {
    snprintf(err, errlen, "size '%s' is too large", s);
    return -ERANGE;
  }
  *out = v << shift;
  return 0;
}

/* Print bytes in the largest IEC unit that keeps the number >= 1. */
const char *vd_format_size(uint64_t bytes, char *buf, size_t len)
{
  static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
  unsigned i = 0;
  double v = (double)bytes;

  while (v >= 1024.0 && i + 1 < sizeof units / sizeof units[0]) {
    v /= 1024.0;
    i++;
  }
  if (i == 0)
    snprintf(buf, len, "%llu B", (unsigned long long)bytes);
  else
    snprintf(buf, len, "%.1f %s", v, units[i]);
  return buf;
}
