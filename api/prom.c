/* prom.c: Prometheus text format 0.0.4 writing, kept apart from the daemon
 * state it describes so the format can be tested on its own. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

/* Make room for need more bytes and a NUL; false (and failed) if not. */
static bool grow(struct vd_buf *b, size_t need)
{
  size_t cap = b->cap ? b->cap : 4096;
  char *s;

  if (b->failed)
    return false;
  if (b->cap - b->len > need)
    return true;
  while (cap - b->len <= need)
    cap *= 2;
  s = realloc(b->s, cap);
  if (!s) {
    b->failed = true;
    return false;
  }
  b->s = s;
  b->cap = cap;
  return true;
}

/* Append formatted text, growing the buffer. */
void vd_buf_printf(struct vd_buf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  for (;;) {
    if (b->failed)
      return;
    size_t room = b->cap - b->len;
    va_start(ap, fmt);
    n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->failed = true;
      return;
    }
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    grow(b, (size_t)n);
  }
}

/* Append n bytes as they are, NUL bytes included. */
void vd_buf_append(struct vd_buf *b, const void *p, size_t n)
{
  if (!grow(b, n))
    return;
  memcpy(b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
}

/* Release the buffer's memory. */
void vd_buf_free(struct vd_buf *b)
{
  free(b->s);
  memset(b, 0, sizeof *b);
}

/* HELP and TYPE lines of a metric family. */
void vd_prom_family(struct vd_buf *b, const char *name, const char *type,
                    const char *help)
{
  vd_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Print a value as Prometheus wants it: integers without exponent. */
static void print_value(struct vd_buf *b, double v)
{
  if (isinf(v))
    vd_buf_printf(b, "%s\n", v > 0 ? "+Inf" : "-Inf");
  else if (isnan(v))
    vd_buf_printf(b, "NaN\n");
  else if (v == floor(v) && fabs(v) < 9007199254740992.0)
    vd_buf_printf(b, "%.0f\n", v);
  else
    vd_buf_printf(b, "%.17g\n", v);
}

/* One sample line. */
void vd_prom_sample(struct vd_buf *b, const char *name, const char *labels,
                    double value)
{
  if (labels && *labels)
    vd_buf_printf(b, "%s{%s} ", name, labels);
  else
    vd_buf_printf(b, "%s ", name);
  print_value(b, value);
}

/* Escape \, " and newline as the text format requires. */
const char *vd_prom_escape(const char *in, char *out, size_t len)
{
  size_t o = 0;
  for (; *in && o + 3 < len; in++) {
    if (*in == '\\' || *in == '"') {
      out[o++] = '\\';
      out[o++] = *in;
    } else if (*in == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else {
      out[o++] = *in;
    }
  }
  out[o] = '\0';
  return out;
}

/* Cumulative buckets, then sum and count. */
void vd_prom_histogram(struct vd_buf *b, const char *name, const char *labels,
                       const uint64_t *counts, const double *bounds, unsigned n,
                       double sum)
{
  const char *sep = labels && *labels ? "," : "";
  uint64_t cum = 0;

  for (unsigned i = 0; i < n; i++) {
    cum += counts[i];
    if (i + 1 == n)
      vd_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels ? labels : "",
                    sep, (unsigned long long)cum);
    else
      vd_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels ? labels : "",
                    sep, bounds[i], (unsigned long long)cum);
  }
  vd_buf_printf(b, "%s_sum%s%s%s ", name, sep[0] ? "{" : "", labels ? labels : "",
                sep[0] ? "}" : "");
  print_value(b, sum);
  vd_buf_printf(b, "%s_count%s%s%s %llu\n", name, sep[0] ? "{" : "", labels ? labels : "",
                sep[0] ? "}" : "", (unsigned long long)cum);
}
