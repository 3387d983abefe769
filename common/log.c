/* log.c: one line per message on stderr; journald reads the <N> prefix as
 * the priority, and a terminal user still gets readable text. */
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

int vd_log_max = VD_LOG_INFO;

/* Write one log line at a given syslog level. */
void vd_log(int level, const char *fmt, ...)
{
  char line[1024];
  va_list ap;

  if (level > vd_log_max)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "<%d>vramd: %s\n", level, line);
}
