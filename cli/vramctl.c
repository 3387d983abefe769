/* vramctl.c: the table of subcommands, finding one on the line, and help. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "vramctl.h"

static const struct vctl_cmd *const commands[] = {
  &vctl_cmd_device_list, &vctl_cmd_device_show, &vctl_cmd_device_set, &vctl_cmd_device_drain,
  &vctl_cmd_device_undrain, &vctl_cmd_volume_create, &vctl_cmd_volume_list,
  &vctl_cmd_volume_show, &vctl_cmd_volume_delete, &vctl_cmd_volume_rebalance,
  &vctl_cmd_volume_scrub, &vctl_cmd_volume_repair,
  &vctl_cmd_volume_save, &vctl_cmd_volume_restore,
  &vctl_cmd_volume_attach, &vctl_cmd_volume_detach,
  &vctl_cmd_volume_export, &vctl_cmd_volume_unexport, &vctl_cmd_volume_resize,
  &vctl_cmd_job_list, &vctl_cmd_job_show, &vctl_cmd_job_wait, &vctl_cmd_job_cancel,
  &vctl_cmd_status,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char globals[] =
  "Global options, before or after the command:\n"
  "  --socket PATH      vramd's API socket (default $VRAMCTL_SOCKET, else\n"
  "                     " VCTL_DEFAULT_SOCKET ")\n"
  "  --timeout SECONDS  deadline for the whole command (default $VRAMCTL_TIMEOUT,\n"
  "                     else 60); past it vramctl gives up and says so\n"
  "  -j, --json         print the API's JSON, with integer bytes\n"
  "  -h, --help         this help\n";

/* The overall usage. */
static void usage(FILE *f)
{
  fprintf(f, "Usage: vramctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  vramctl %s\n", commands[i]->synopsis);
  fprintf(f, "  vramctl help [COMMAND]\n\n%s  --version          print the version\n\n"
             "Sizes take K, M, G, T (base 2). Exit status: 0 ok, 1 failed, 2 usage.\n"
             "'vramctl COMMAND --help' describes one command.\n", globals);
}

/* The commands of one noun. */
static void noun_usage(const char *noun, FILE *f)
{
  fprintf(f, "Usage: vramctl %s COMMAND [ARGS]\n\nCommands:\n", noun);
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(commands[i]->noun, noun))
      fprintf(f, "  vramctl %s\n", commands[i]->synopsis);
  fprintf(f, "\n%s\n'vramctl %s COMMAND --help' describes one command.\n", globals, noun);
}

/* Help for what g names so far. */
void vctl_help(const struct vctl *g, FILE *f)
{
  const struct vctl_cmd *c = g->cmd;
  if (!c && g->noun)
    return noun_usage(g->noun, f);
  if (!c)
    return usage(f);
  fprintf(f, "Usage: vramctl %s\n\n%s\n", c->synopsis, c->help);
  if (c->ncols)
    vctl_table_help(f, c->cols, c->ncols);
  fprintf(f, "\n%s", globals);
}

/* The noun as written in the table, or NULL. */
static const char *find_noun(const char *word)
{
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(word, commands[i]->noun))
      return commands[i]->noun;
  return NULL;
}

/* The command for noun and verb (NULL for a noun alone), or NULL. */
static const struct vctl_cmd *find(const char *noun, const char *verb)
{
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(noun, commands[i]->noun) &&
        (!verb ? !commands[i]->verb : commands[i]->verb && !strcmp(verb, commands[i]->verb)))
      return commands[i];
  return NULL;
}

/* "create, list, show, delete": the verbs of a noun, into buf. */
static const char *verbs(const char *noun, char *buf, size_t len)
{
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < NCOMMANDS && off < len; i++)
    if (!strcmp(commands[i]->noun, noun) && commands[i]->verb)
      off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", commands[i]->verb);
  return buf;
}

/* vramctl help [NOUN [VERB]]: that help on stdout. */
static int help(struct vctl *g, int argc, char **argv)
{
  if (argc > 1 && !(g->noun = find_noun(argv[1])))
    return vctl_usage_error(g, "no command '%s'", argv[1]);
  if (argc > 2 && !(g->cmd = find(g->noun, argv[2]))) {
    g->cmd = NULL;
    return vctl_usage_error(g, "no command '%s'", argv[2]);
  }
  if (argc > 3)
    return vctl_usage_error(g, "unexpected argument '%s'", argv[3]);
  vctl_help(g, stdout);
  return VCTL_OK;
}

/* Read the common options from argv[1] on, up to the next word; its
 * index, or -1 with *rc set.  'V' (--version) is taken at the top only. */
static int options_up_to_word(struct vctl *g, int argc, char **argv, int *rc)
{
  static const struct option opts[] = {
    VCTL_COMMON_OPTS, { "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 },
  };
  int c;
  optind = 0; /* getopt starts over: this line, or what is left of it */
  while ((c = vctl_getopt(g, argc, argv, "+" VCTL_SHORT, opts)) > 0) {
    if (c == 'V' && !g->noun) {
      printf("vramctl %s\n", PACKAGE_VERSION);
      *rc = VCTL_OK;
      return -1;
    }
    *rc = vctl_usage_error(g, "unknown option '--version'");
    return -1;
  }
  if (c == VCTL_OPTS_EXIT) {
    *rc = g->rc;
    return -1;
  }
  return optind;
}

/* The command on the line: options, noun, options, verb.  Sets g->cmd and
 * *at to the verb's (or the noun's) index; else returns the exit status. */
static int find_command(struct vctl *g, int argc, char **argv, int *at)
{
  char list[128];
  int i, j, rc;

  if ((i = options_up_to_word(g, argc, argv, &rc)) < 0)
    return rc;
  if (i >= argc)
    return vctl_usage_error(g, "give a command");
  if (!strcmp(argv[i], "help"))
    return help(g, argc - i, argv + i);
  if (!(g->noun = find_noun(argv[i])))
    return vctl_usage_error(g, "unknown command '%s'", argv[i]);
  if ((g->cmd = find(g->noun, NULL))) {
    *at = i;
    return -1;
  }
  if ((j = options_up_to_word(g, argc - i, argv + i, &rc)) < 0)
    return rc;
  j += i;
  if (j >= argc)
    return vctl_usage_error(g, "give a command: %s", verbs(g->noun, list, sizeof list));
  if (!strcmp(argv[j], "help")) {
    vctl_help(g, stdout);
    return VCTL_OK;
  }
  if (!(g->cmd = find(g->noun, argv[j])))
    return vctl_usage_error(g, "unknown command '%s'; %s has %s", argv[j], g->noun,
                            verbs(g->noun, list, sizeof list));
  *at = j;
  return -1;
}

int main(int argc, char **argv)
{
  struct vctl g = { .socket = getenv("VRAMCTL_SOCKET"),
                    .timeout_env = getenv("VRAMCTL_TIMEOUT") };
  int at = 0, rc;

  if (!g.socket || !*g.socket)
    g.socket = VCTL_DEFAULT_SOCKET;
  if ((rc = find_command(&g, argc, argv, &at)) >= 0)
    return rc;
  if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
    fprintf(stderr, "vramctl: cannot initialise libcurl\n");
    return VCTL_FAILED;
  }
  /* The command sees its own name as argv[0], then its arguments; getopt
   * starts over for them. */
  optind = 0;
  rc = g.cmd->run(&g, argc - at, argv + at);
  curl_global_cleanup();
  return rc;
}
