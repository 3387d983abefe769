/* value.c: values typed by hand in settings: on/off switches and bounded
 * whole numbers, with the message that names the key. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Parse on/off (or yes/no, true/false, 1/0). */
int vd_parse_switch(const char *key, const char *v, bool *out, char *err, size_t errlen)
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

/* Parse a decimal number from min to max. */
int vd_parse_uint(const char *key, const char *v, unsigned min, unsigned max,
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
