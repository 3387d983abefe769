/* opts.c: options every command takes anywhere on the line (--socket,
 * --timeout, --json, --help), and usage errors: one line and a hint. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vramctl.h"

/* "volume create", "volume" or "" for what g names so far. */
static void what(const struct vctl *g, char *buf, size_t len)
{
  if (g->cmd)
    snprintf(buf, len, "%s%s%s", g->cmd->noun, g->cmd->verb ? " " : "",
             g->cmd->verb ? g->cmd->verb : "");
  else
    snprintf(buf, len, "%s", g->noun ? g->noun : "");
}

/* A usage error with a message. */
int vctl_usage_error(struct vctl *g, const char *fmt, ...)
{
  char cmd[64];
  va_list ap;
  what(g, cmd, sizeof cmd);
  fprintf(stderr, "vramctl: %s%s", cmd, *cmd ? ": " : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see 'vramctl %s%s--help')\n", cmd, *cmd ? " " : "");
  return VCTL_USAGE;
}

/* Seconds (fractions allowed) from 0.001 to a day, as milliseconds; 0 if
 * s is not that. */
static long parse_timeout(const char *s)
{
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end || !(v >= 0.001 && v <= 86400))
    return 0;
  return (long)(v * 1000 + 0.5);
}

/* Set the timeout from t (named from); -1, or the usage error. */
static int set_timeout(struct vctl *g, const char *t, const char *from)
{
  if ((g->timeout_ms = parse_timeout(t)))
    return -1;
  return vctl_usage_error(g, "%s '%s' is not a number of seconds from 0.001 to 86400",
                          from, t);
}

/* Every option is read: take VRAMCTL_TIMEOUT unless --timeout was given
 * (an empty one is unset), and start the deadline. */
static int options_read(struct vctl *g)
{
  int rc;
  if (!g->timeout_ms && g->timeout_env && *g->timeout_env &&
      (rc = set_timeout(g, g->timeout_env, "VRAMCTL_TIMEOUT")) >= 0)
    return rc;
  if (!g->timeout_ms)
    g->timeout_ms = VCTL_DEFAULT_TIMEOUT_S * 1000L;
  g->deadline_ms = (long long)(vd_now_ns() / 1000000) + g->timeout_ms;
  return -1;
}

/* The usage error for the option getopt stopped at ('?': unknown or given
 * a value it does not take; ':': its value is missing), named as the user
 * wrote it. */
static int bad_option(struct vctl *g, int c, char **argv, const struct option *longopts,
                      int before)
{
  const char *arg = argv[optind - 1];
  int n = (int)strcspn(arg, "=");

  /* a short option, maybe inside a cluster (optind has not moved on) */
  if (optind == before || strncmp(arg, "--", 2))
    return vctl_usage_error(g, c == ':' ? "-%c needs a value" : "unknown option '-%c'", optopt);
  if (c == ':')
    return vctl_usage_error(g, "%.*s needs a value", n, arg);
  for (; arg[n] && longopts->name; longopts++)
    if ((int)strlen(longopts->name) == n - 2 && !strncmp(arg + 2, longopts->name, (size_t)n - 2))
      return vctl_usage_error(g, "%.*s takes no value", n, arg);
  return vctl_usage_error(g, "unknown option '%.*s'", n, arg);
}

/* Handle a common option c: -1 when it was one (go on), -2 when it is
 * the command's own, else the exit status. */
static int common(struct vctl *g, int c, char **argv, const struct option *longopts,
                  int before)
{
  switch (c) {
  case 'j':
    g->json = true;
    return -1;
  case 'h':
    vctl_help(g, stdout);
    return VCTL_OK;
  case VCTL_OPT_SOCKET:
    g->socket = optarg;
    return -1;
  case VCTL_OPT_TIMEOUT:
    return set_timeout(g, optarg, "--timeout");
  case '?':
  case ':':
    return bad_option(g, c, argv, longopts, before);
  default:
    return -2;
  }
}

/* The next of the command's own options. */
int vctl_getopt(struct vctl *g, int argc, char **argv, const char *shortopts,
                const struct option *longopts)
{
  int c, rc, before;
  opterr = 0;
  for (;;) {
    before = optind;
    c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c == -1)
      break;
    if ((rc = common(g, c, argv, longopts, before)) == -2)
      return c;
    if (rc >= 0) {
      g->rc = rc;
      return VCTL_OPTS_EXIT;
    }
  }
  if (g->cmd && (rc = options_read(g)) >= 0) {
    g->rc = rc;
    return VCTL_OPTS_EXIT;
  }
  return VCTL_OPTS_DONE;
}

/* Only the common options, and no arguments. */
int vctl_no_opts(struct vctl *g, int argc, char **argv)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  if (vctl_getopt(g, argc, argv, VCTL_SHORT, opts) == VCTL_OPTS_EXIT)
    return g->rc;
  if (optind < argc)
    return vctl_usage_error(g, "unexpected argument '%s'", argv[optind]);
  return -1;
}

/* The single argument: a volume name, validated as vramd does, or an id
 * that goes into a path and so must not hold '/'. */
int vctl_one_arg(struct vctl *g, int argc, char **argv, const char *what_arg, bool volume,
                 const char **arg)
{
  char err[256];
  if (optind + 1 != argc)
    return vctl_usage_error(g, "give exactly one %s", what_arg);
  if (volume && !vd_name_valid(argv[optind], err, sizeof err))
    return vctl_usage_error(g, "%s", err);
  if (!volume && (!*argv[optind] || strlen(argv[optind]) > VD_NAME_MAX ||
                  argv[optind][strspn(argv[optind], "abcdefghijklmnopqrstuvwxyz"
                                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")]))
    return vctl_usage_error(g, "'%.80s' is not a %s (letters, digits, '.', '_', '-')",
                            argv[optind], what_arg);
  *arg = argv[optind];
  return -1;
}
