/* journal.c: when vramd's stderr is the journal (systemd set
 * $JOURNAL_STREAM to it), log lines go to the journal natively with
 * their priority and what they are about: VOLUME=, DEVICE=, JOB=, so
 * that `journalctl VOLUME=swap0` finds a volume's story. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
/* The location would always be journal_send's, which says nothing. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "service.h"
#include "util.h"

/* One field, "KEY=value", into buf; its iovec. */
static struct iovec field(char *buf, size_t len, const char *key, const char *value)
{
  int n = snprintf(buf, len, "%s=%s", key, value);
  return (struct iovec){ buf, n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1 };
}

/* The sink: one journal entry per line; non-zero (the line then goes to
 * stderr) when the journal cannot take it. */
static int journal_send(int level, const struct vd_log_fields *f, const char *msg)
{
  static char ident[] = "SYSLOG_IDENTIFIER=vramd";
  char m[1100], p[16], v[96], d[96], j[32], num[16];
  struct iovec iov[6];
  int n = 0;

  iov[n++] = field(m, sizeof m, "MESSAGE", msg);
  snprintf(num, sizeof num, "%d", level);
  iov[n++] = field(p, sizeof p, "PRIORITY", num);
  iov[n++] = (struct iovec){ ident, sizeof ident - 1 };
  if (f->volume)
    iov[n++] = field(v, sizeof v, "VOLUME", f->volume);
  if (f->device)
    iov[n++] = field(d, sizeof d, "DEVICE", f->device);
  if (f->job) {
    snprintf(num, sizeof num, "%u", (unsigned)f->job);
    iov[n++] = field(j, sizeof j, "JOB", num);
  }
  return sd_journal_sendv(iov, n);
}

/* Send the log to the journal when stderr is the journal's stream. */
bool vramd_journal_start(void)
{
  if (!vd_log_is_journal(getenv("JOURNAL_STREAM"), STDERR_FILENO))
    return false;
  vd_log_set_sink(journal_send);
  return true;
}
