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

/* Parse a size: digits, an optional fraction, an optional K/M/G/T/P
 * suffix (base 2; "iB" or "B" after it is allowed and changes nothing),
 * as LVM takes them.  The result must be a whole number of bytes. */
int vd_parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
  uint64_t v = 0, frac = 0, scale = 1;
  const char *p = s;
  int shift = 0;
  unsigned __int128 fbytes;

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
  if (*p == '.') {
    if (!isdigit((unsigned char)p[1])) {
      snprintf(err, errlen, "size '%s' needs a digit after the point (e.g. 1.5G)", s);
      return -EINVAL;
    }
    for (p++; isdigit((unsigned char)*p); p++) {
      if (scale == 1000000000) {
        snprintf(err, errlen, "size '%s' has more than 9 digits after the point", s);
        return -EINVAL;
      }
      frac = frac * 10 + (uint64_t)(*p - '0');
      scale *= 10;
    }
  }
  if (*p) {
    shift = suffix_shift(*p);
    if (shift < 0 || (shift == 0 && p[1]) ||
        (shift > 0 && p[1] && strcasecmp(p + 1, "iB") && strcasecmp(p + 1, "B"))) {
      snprintf(err, errlen, "size '%s' has an unknown suffix (use K, M, G, T or P)", s);
      return -EINVAL;
    }
  }
  fbytes = ((unsigned __int128)frac << shift);
  if (fbytes % scale) {
    snprintf(err, errlen, "size '%s' is not a whole number of bytes", s);
    return -EINVAL;
  }
  fbytes /= scale;
  if (v == 0 && fbytes == 0) {
    snprintf(err, errlen, "size '%s' must be greater than zero", s);
    return -EINVAL;
  }
  if ((shift && v > (UINT64_MAX >> shift)) || (v << shift) > UINT64_MAX - fbytes) {
    snprintf(err, errlen, "size '%s' is too large", s);
    return -ERANGE;
  }
  *out = (v << shift) + (uint64_t)fbytes;
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
