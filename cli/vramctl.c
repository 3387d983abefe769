/* vramctl.c: global options and the table of subcommands. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "vramctl.h"

static const struct vctl_cmd commands[] = {
  { "device", "list", vctl_device_list, "device list [--json]" },
  { "volume", "create", vctl_volume_create,
    "volume create NAME --size SIZE [--stripe all|ID,..|--concat all|ID,..]\n"
    "               [--stripe-unit SIZE] [--frontend nbd|ublk] [--attach] [--json]" },
  { "volume", "list", vctl_volume_list, "volume list [--json]" },
  { "volume", "show", vctl_volume_show, "volume show NAME [--json]" },
  { "volume", "delete", vctl_volume_delete, "volume delete NAME [--force] [--json]" },
  { "status", NULL, vctl_status, "status [--json]" },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The overall usage. */
static void usage(FILE *f)
{
  fprintf(f, "Usage: vramctl [--socket PATH] [--timeout SECONDS] [--json] COMMAND ...\n\n"
             "Commands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  vramctl %s\n", commands[i].usage);
  fprintf(f, "\nSizes take K, M, G, T (base 2). --socket defaults to $VRAMCTL_SOCKET,\n"
             "else %s. --timeout (default $VRAMCTL_TIMEOUT, else %d) bounds the\n"
             "whole command; past it vramctl gives up and says so.\n"
             "Exit status: 0 ok, 1 failed, 2 usage.\n"
             "'vramctl COMMAND --help' describes one command.\n", VCTL_DEFAULT_SOCKET,
          VCTL_DEFAULT_TIMEOUT_S);
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

/* Set the command's deadline from --timeout or VRAMCTL_TIMEOUT. */
static int set_deadline(struct vctl *g, const char *t, const char *from)
{
  if (t && !(g->timeout_ms = parse_timeout(t))) {
    fprintf(stderr, "vramctl: %s '%s' is not a number of seconds from 0.001 to 86400\n",
            from, t);
    return VCTL_USAGE;
  }
  if (!t)
    g->timeout_ms = VCTL_DEFAULT_TIMEOUT_S * 1000L;
  g->deadline_ms = (long long)(vd_now_ns() / 1000000) + g->timeout_ms;
  return -1;
}

/* Find the command for argv (noun, then verb where it takes one). */
static const struct vctl_cmd *find(int argc, char **argv, int *used)
{
  for (size_t i = 0; i < NCOMMANDS; i++) {
    if (strcmp(argv[0], commands[i].noun))
      continue;
    if (!commands[i].verb) {
      *used = 1;
      return &commands[i];
    }
    if (argc > 1 && !strcmp(argv[1], commands[i].verb)) {
      *used = 2;
      return &commands[i];
    }
  }
  return NULL;
}

int main(int argc, char **argv)
{
  struct vctl g = { .socket = getenv("VRAMCTL_SOCKET") };
  const char *timeout = getenv("VRAMCTL_TIMEOUT"), *timeout_from = "VRAMCTL_TIMEOUT";
  const struct vctl_cmd *cmd;
  int i = 1, used = 0, rc;

  if (!g.socket || !*g.socket)
    g.socket = VCTL_DEFAULT_SOCKET;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--json")) {
      g.json = true;
    } else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
      g.socket = argv[++i];
    } else if (!strncmp(argv[i], "--socket=", 9)) {
      g.socket = argv[i] + 9;
    } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
      timeout = argv[++i];
      timeout_from = "--timeout";
    } else if (!strncmp(argv[i], "--timeout=", 10)) {
      timeout = argv[i] + 10;
      timeout_from = "--timeout";
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return VCTL_OK;
    } else if (!strcmp(argv[i], "--version")) {
      printf("vramctl %s\n", PACKAGE_VERSION);
      return VCTL_OK;
    } else {
      fprintf(stderr, "vramctl: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return VCTL_USAGE;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return VCTL_USAGE;
  }
  cmd = find(argc - i, argv + i, &used);
  if (!cmd) {
    fprintf(stderr, "vramctl: unknown command '%s%s%s'\n", argv[i],
            i + 1 < argc && argv[i + 1][0] != '-' ? " " : "",
            i + 1 < argc && argv[i + 1][0] != '-' ? argv[i + 1] : "");
    usage(stderr);
    return VCTL_USAGE;
  }
  if (timeout && !*timeout && timeout_from[0] != '-')
    timeout = NULL; /* an empty VRAMCTL_TIMEOUT is unset */
  if ((rc = set_deadline(&g, timeout, timeout_from)) >= 0)
    return rc;
  if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
    fprintf(stderr, "vramctl: cannot initialise libcurl\n");
    return VCTL_FAILED;
  }
  /* The command sees its own name as argv[0], then its arguments. */
  rc = cmd->run(&g, argc - i - used + 1, argv + i + used - 1);
  curl_global_cleanup();
  return rc;
}
