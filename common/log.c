/* log.c: one line per message on stderr.  Where stderr is a file, a pipe
 * or the journal, a <N> prefix carries the priority (journald reads it);
 * on a terminal the level is a word instead, or nothing for info.  A sink
 * (vramd's journal.c, when stderr is the journal) takes the message with
 * its fields instead. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

_Atomic int vd_log_max = VD_LOG_INFO;

/* One lock for every rate limit: only warning paths take it. */
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

/* 1 when stderr is a terminal, 0 when not, -1 until first asked. */
static _Atomic int plain_out = -1; /* 1: level words; 0: <N> for the journal */

static vd_log_sink_fn *_Atomic sink;

/* Send lines to s from now on (NULL: stderr again). */
void vd_log_set_sink(vd_log_sink_fn *s)
{
  sink = s;
}

/* Whether fd is the stream journal_stream ("DEV:INO") names. */
bool vd_log_is_journal(const char *journal_stream, int fd)
{
  uintmax_t dev, ino;
  struct stat st;
  int end = 0;

  if (!journal_stream || sscanf(journal_stream, "%ju:%ju%n", &dev, &ino, &end) != 2 ||
      journal_stream[end] || fstat(fd, &st))
    return false;
  return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

/* The word a reader gets for a level ("" for info). */
static const char *level_word(int level)
{
  return level <= VD_LOG_ERR ? "error: " : level == VD_LOG_WARNING ? "warning: " :
         level >= VD_LOG_DEBUG ? "debug: " : "";
}

/* Format one line at a given syslog level and send it to the sink, or
 * write it on stderr. */
static void log_line(int level, const struct vd_log_fields *f, const char *fmt, va_list ap)
{
  static const struct vd_log_fields none;
  vd_log_sink_fn *s = sink;
  char line[1024];
  int plain = plain_out;

  vsnprintf(line, sizeof line, fmt, ap);
  if (s && !s(level, f ? f : &none, line))
    return;
  /* <N> is what the journal reads a level from: only for the journal's
   * own stream (when native sending is not there or failed); terminals,
   * files and pipes get words. */
  if (plain < 0)
    plain_out = plain = !vd_log_is_journal(getenv("JOURNAL_STREAM"), STDERR_FILENO);
  if (plain)
    fprintf(stderr, "vramd: %s%s\n", level_word(level), line);
  else
    fprintf(stderr, "<%d>vramd: %s\n", level, line);
}

/* Write one log line at a given syslog level. */
void vd_log(int level, const char *fmt, ...)
{
  va_list ap;

  if (level > vd_log_max)
    return;
  va_start(ap, fmt);
  log_line(level, NULL, fmt, ap);
  va_end(ap);
}

/* Write one log line about a volume, device or job. */
void vd_log_about(int level, const struct vd_log_fields *f, const char *fmt, ...)
{
  va_list ap;

  if (level > vd_log_max)
    return;
  va_start(ap, fmt);
  log_line(level, f, fmt, ap);
  va_end(ap);
}

/* Monotonic time in nanoseconds, never 0 (0 marks an unused budget). */
static uint64_t now_ns(void)
{
  return vd_now_ns() + 1;
}

/* Log unless this site printed its burst in the current window. */
void vd_log_rl(struct vd_ratelimit *rl, int level, const char *fmt, ...)
{
  unsigned dropped = 0;
  uint64_t t = now_ns();
  va_list ap;

  if (level > vd_log_max)
    return;
  pthread_mutex_lock(&rl_lock);
  if (!rl->window_start_ns || t - rl->window_start_ns >= VD_RATELIMIT_WINDOW_NS) {
    dropped = rl->suppressed;
    rl->window_start_ns = t;
    rl->printed = rl->suppressed = 0;
  }
  if (rl->printed >= VD_RATELIMIT_BURST) {
    rl->suppressed++;
    pthread_mutex_unlock(&rl_lock);
    return;
  }
  rl->printed++;
  pthread_mutex_unlock(&rl_lock);
  if (dropped)
    vd_log(level, "(%u similar messages suppressed)", dropped);
  va_start(ap, fmt);
  log_line(level, NULL, fmt, ap);
  va_end(ap);
}
