/* util.h: small helpers shared by vramd and vramctl: sizes, names, logs. */
#ifndef VRAMD_UTIL_H
#define VRAMD_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VD_NAME_MAX 63

/* Parse "12G", "4096", "1.5T" is refused: integer with optional K/M/G/T
 * (base 2, optional trailing "iB" or "B").  Returns 0, or -EINVAL for junk,
 * zero or negatives, -ERANGE on overflow; err gets a message. */
int vd_parse_size(const char *s, uint64_t *out, char *err, size_t errlen);

/* Settings ("key = value" in vramd.conf, --key value on the command
 * line): each parser returns 0, or -EINVAL with err naming the key and
 * what would do.  A string that fits in len bytes (with its NUL): */
int vd_setting_str(const char *key, const char *v, char *dst, size_t len,
                   char *err, size_t errlen);
/* A whole number from min to max. */
int vd_setting_uint(const char *key, const char *v, unsigned min, unsigned max,
                    unsigned *out, char *err, size_t errlen);
/* on/off, yes/no, true/false or 1/0. */
int vd_setting_switch(const char *key, const char *v, bool *out, char *err, size_t errlen);
/* A duration in whole seconds: N followed by s, m, h or d (1 to max
 * seconds), or off (0). */
int vd_setting_duration(const char *key, const char *v, uint64_t max, uint64_t *out,
                        char *err, size_t errlen);
/* A duration as vd_setting_duration takes it ("24h", "90s", "off"). */
const char *vd_duration_typed(uint64_t s, char *buf, size_t len);
/* A size (vd_parse_size) from min to max, a multiple of multiple: why
 * says why, in the message that refuses another. */
struct vd_size_rule {
  uint64_t min, max, multiple;
  const char *why;
};
int vd_setting_size(const char *key, const char *v, const struct vd_size_rule *r,
                    uint64_t *out, char *err, size_t errlen);

/* A size as a setting would be typed: the largest of K, M, G, T that
 * divides it ("128K", "4M", "512"). */
const char *vd_size_typed(uint64_t n, char *buf, size_t len);
/* Format bytes as IEC ("12.0 GiB", "512 B") into buf. */
const char *vd_format_size(uint64_t bytes, char *buf, size_t len);

/* Monotonic nanoseconds since an arbitrary start. */
uint64_t vd_now_ns(void);

/* Name the calling thread (15 characters at most are kept). */
void vd_thread_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Start a joinable thread with a stack of stack bytes (vramd runs under
 * mlockall: glibc's default 8 MiB would all be locked); 0 or an errno. */
int vd_thread_start(pthread_t *t, size_t stack, void *(*fn)(void *), void *arg);

/* Create every missing folder of dir with mode; an existing folder is
 * fine, a file in the way is -ENOTDIR. */
int vd_mkdir_p(const char *dir, mode_t mode);

/* True if name matches [a-z0-9][a-z0-9._-]{0,62}; err says why not. */
bool vd_name_valid(const char *name, char *err, size_t errlen);

/* True if x is a power of two (and not zero). */
static inline bool vd_is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

enum vd_log_level { VD_LOG_ERR = 3, VD_LOG_WARNING = 4, VD_LOG_NOTICE = 5,
                    VD_LOG_INFO = 6, VD_LOG_DEBUG = 7 };

/* Messages above this level are dropped; SIGHUP may change it while
 * other threads log, so it is atomic. */
extern _Atomic int vd_log_max;

/* Log to stderr with a journald "<N>" priority prefix (a word on a
 * terminal), or to the sink set below. */
void vd_log(int level, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* What a message is about, for the journal's VOLUME=, DEVICE=, JOB=
 * fields; NULL or 0 for what it is not about. */
struct vd_log_fields {
  const char *volume, *device;
  uint32_t job;
};
#define VD_FIELDS(...) (&(const struct vd_log_fields){ __VA_ARGS__ })
/* Log like vd_log, with the fields a structured sink sends along. */
void vd_log_about(int level, const struct vd_log_fields *f, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Where lines go instead of stderr (vramd: the journal); 0 when sent,
 * else the line goes to stderr after all.  NULL: stderr. */
typedef int vd_log_sink_fn(int level, const struct vd_log_fields *f, const char *msg);
void vd_log_set_sink(vd_log_sink_fn *sink);
/* True when fd is the stream $JOURNAL_STREAM names ("DEV:INO", as
 * systemd sets it for a service's stderr): then the journal reads it. */
bool vd_log_is_journal(const char *journal_stream, int fd);

#define vd_err(...) vd_log(VD_LOG_ERR, __VA_ARGS__)
#define vd_warn(...) vd_log(VD_LOG_WARNING, __VA_ARGS__)
#define vd_info(...) vd_log(VD_LOG_INFO, __VA_ARGS__)
#define vd_debug(...) vd_log(VD_LOG_DEBUG, __VA_ARGS__)

/* One call site's budget of log lines: a burst per window, then silence
 * until the window ends, and the count of what was dropped on the next line.
 * Anything a remote peer can trigger goes through one of these. */
struct vd_ratelimit {
  uint64_t window_start_ns;
  unsigned printed, suppressed;
};

#define VD_RATELIMIT_BURST 10
#define VD_RATELIMIT_WINDOW_NS (5ull * 1000000000ull)

/* Log like vd_log, unless rl's budget for this window is spent. */
void vd_log_rl(struct vd_ratelimit *rl, int level, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Rate-limited warning with a budget of its own per call site. */
#define vd_warn_rl(...)                                                    \
  do {                                                                     \
    static struct vd_ratelimit vd_rl_site_;                                \
    vd_log_rl(&vd_rl_site_, VD_LOG_WARNING, __VA_ARGS__);                  \
  } while (0)
#define vd_err_rl(...)                                                     \
  do {                                                                     \
    static struct vd_ratelimit vd_rl_site_;                                \
    vd_log_rl(&vd_rl_site_, VD_LOG_ERR, __VA_ARGS__);                      \
  } while (0)
#define vd_info_rl(...)                                                    \
  do {                                                                     \
    static struct vd_ratelimit vd_rl_site_;                                \
    vd_log_rl(&vd_rl_site_, VD_LOG_INFO, __VA_ARGS__);                     \
  } while (0)

#endif
