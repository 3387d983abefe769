/* vramctl.h: the command line over vramd's HTTP API.  Each subcommand is
 * one file with one entry point; they share the HTTP client, the option
 * parser and the tables. */
#ifndef VRAMD_VRAMCTL_H
#define VRAMD_VRAMCTL_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "util.h"

#define VCTL_OK 0
#define VCTL_FAILED 1
#define VCTL_USAGE 2
#define VCTL_DEFAULT_SOCKET "/run/vramd/vramd.sock"
/* The whole command's deadline: vramd answers reads at once and gives a
 * client 5 s each way to send and read; the long operation is a create
 * that zero-fills a big volume, or a delete that detaches a device. */
#define VCTL_DEFAULT_TIMEOUT_S 60
#define VCTL_MAX_REPLY (16u << 20) /* replies past this are cut off */
#define VCTL_MAX_COLUMNS 32         /* -o names at most this many */

struct vctl_cmd;

struct vctl {
  const char *socket;        /* vramd's API socket */
  bool json;                 /* print JSON with integer bytes */
  long timeout_ms;           /* --timeout, else VRAMCTL_TIMEOUT; 0: not given */
  const char *timeout_env;   /* VRAMCTL_TIMEOUT, checked once options are read */
  long long deadline_ms;     /* CLOCK_MONOTONIC ms by which the command ends */
  const char *noun;          /* "volume", once read: for help and hints */
  const struct vctl_cmd *cmd; /* the command, once read */
  int rc;                    /* exit status when vctl_getopt says VCTL_OPTS_EXIT */
};

/* A table column: its header (also its -o name), the JSON member it shows
 * and how. */
enum vctl_col_kind {
  VCTL_COL_TEXT,  /* a string; "-" when absent */
  VCTL_COL_BYTES, /* IEC units, exact with -p */
  VCTL_COL_COUNT, /* an integer */
  VCTL_COL_IDS,   /* an array of strings, joined with ',' */
  VCTL_COL_WHERE, /* device_path, else nbd_uri */
  VCTL_COL_YESNO, /* a boolean */
};
struct vctl_col {
  const char *name, *key;
  enum vctl_col_kind kind;
  bool dflt;        /* shown without -o */
  const char *help; /* one line for --help */
};

/* A subcommand: noun, verb (NULL for a noun alone), entry point, synopsis
 * (after "vramctl "), what it does, and its table's columns if it prints
 * one with -o. */
struct vctl_cmd {
  const char *noun, *verb;
  int (*run)(struct vctl *g, int argc, char **argv);
  const char *synopsis, *help;
  const struct vctl_col *cols;
  size_t ncols;
};

extern const struct vctl_cmd vctl_cmd_device_list, vctl_cmd_device_show, vctl_cmd_device_set,
  vctl_cmd_volume_create, vctl_cmd_volume_list, vctl_cmd_volume_show,
  vctl_cmd_volume_delete, vctl_cmd_status, vctl_cmd_job_list, vctl_cmd_job_show,
  vctl_cmd_job_wait, vctl_cmd_job_cancel, vctl_cmd_device_drain, vctl_cmd_device_undrain,
  vctl_cmd_volume_rebalance, vctl_cmd_volume_scrub, vctl_cmd_volume_repair, vctl_cmd_volume_attach, vctl_cmd_volume_detach,
  vctl_cmd_volume_resize, vctl_cmd_volume_save, vctl_cmd_volume_restore,
  vctl_cmd_volume_export, vctl_cmd_volume_unexport;

/* Options every command takes, anywhere on the line, for getopt_long:
 * VCTL_SHORT starts each short-option string, VCTL_COMMON_OPTS ends each
 * table before its terminator. */
#define VCTL_SHORT ":jh"
enum { VCTL_OPT_SOCKET = 0x100, VCTL_OPT_TIMEOUT, VCTL_OPT_NO_WAIT };
/* --no-wait, in the table of each command that starts a job or waits on
 * one: print the job id and return at once. */
#define VCTL_NO_WAIT_OPT { "no-wait", no_argument, NULL, VCTL_OPT_NO_WAIT }
#define VCTL_COMMON_OPTS                                                             \
  { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },            \
    { "socket", required_argument, NULL, VCTL_OPT_SOCKET },                          \
    { "timeout", required_argument, NULL, VCTL_OPT_TIMEOUT }
#define VCTL_OPTS_DONE (-1) /* every option read */
#define VCTL_OPTS_EXIT (-2) /* end the command with g->rc (--help, usage error) */
/* The next of the command's own options: common ones are handled here.
 * Returns the option's value, VCTL_OPTS_DONE (the deadline then starts
 * once a command is known), or VCTL_OPTS_EXIT. */
int vctl_getopt(struct vctl *g, int argc, char **argv, const char *shortopts,
                const struct option *longopts);
/* A command with only the common options and no arguments: -1 to go on,
 * else the exit status. */
int vctl_no_opts(struct vctl *g, int argc, char **argv);
/* Usage error: "vramctl: CMD: message (see 'vramctl CMD --help')" on
 * stderr, one line; returns VCTL_USAGE. */
int vctl_usage_error(struct vctl *g, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
/* Help for what g names so far (a command, a noun, or vramctl). */
void vctl_help(const struct vctl *g, FILE *f);
/* The one argument after the options (what_arg names it in messages): a
 * valid volume name, or else an id fit for a URL path.  Returns -1 with
 * *arg set, else the usage exit status. */
int vctl_one_arg(struct vctl *g, int argc, char **argv, const char *what_arg, bool volume,
                 const char **arg);

/* Send a request; *out gets the parsed JSON body (or NULL).  Returns the
 * HTTP status, or -1 after saying that vramd does not answer. */
long vctl_request(struct vctl *g, const char *method, const char *path,
                  const char *body, json_t **out);
/* GET path and expect 200: -1 with *doc set, else the exit status after
 * the error was reported. */
int vctl_get(struct vctl *g, const char *path, json_t **doc);
/* GET path (expecting 200) and print the document, as JSON with
 * --json, else with print; the exit status. */
int vctl_show(struct vctl *g, const char *path, void (*print)(json_t *doc));
/* Report an API error response (the envelope's message, in vramctl's
 * words) and return VCTL_FAILED; drops doc. */
int vctl_api_error(struct vctl *g, long status, json_t *doc);
/* The API's message with its HTTP words (query strings, routes) put as
 * vramctl's options and commands, into out. */
const char *vctl_cli_words(const char *msg, char *out, size_t len);
/* Print a JSON document on stdout and drop it; returns VCTL_OK. */
int vctl_print_json(json_t *doc);

/* A table's columns and how it prints (-H, -p, -o). */
struct vctl_table {
  const struct vctl_col *cols;
  size_t ncols;
  unsigned pick[VCTL_MAX_COLUMNS]; /* the columns printed, in order */
  size_t npick;
  bool noheadings; /* -H: no header, tab-separated, no padding */
  bool exact;      /* -p: bytes as integers */
};
/* The default columns of cols. */
void vctl_table_init(struct vctl_table *t, const struct vctl_col *cols, size_t ncols);
/* -o LIST: "NAME,SIZE" replaces the defaults, "+STATE" adds to them.
 * -1, or the usage error naming the unknown column. */
int vctl_table_pick(struct vctl *g, struct vctl_table *t, const char *list);
/* One row per element of rows. */
int vctl_table_print(const struct vctl_table *t, json_t *rows);
/* The default columns of cols, one row per element of rows. */
int vctl_table_print_default(const struct vctl_col *cols, size_t ncols, json_t *rows);
/* The table options and the columns, one per line, for --help. */
void vctl_table_help(FILE *f, const struct vctl_col *cols, size_t ncols);
/* A list command: -H, -p, -o, no arguments; GET path and print the array
 * member of the reply as a table (or the reply with --json). */
int vctl_list(struct vctl *g, int argc, char **argv, const char *path, const char *member);
/* The same, with row (may be NULL) adding worked-out members to each row
 * before it is printed as a table (exact: -p was given). */
int vctl_list_rows(struct vctl *g, int argc, char **argv, const char *path, const char *member,
                   void (*row)(json_t *row, bool exact));

/* Jobs (wait.c).  Follow job id until it ends: polls GET /v1/jobs/{id}
 * (--timeout bounds each poll, not the wait), drawing a progress bar on
 * stderr when it is a terminal and nothing otherwise; Ctrl-C sends
 * DELETE /v1/jobs/{id} and waits for the job to stop, a second one stops
 * waiting.  -1 with *job (the ended job, to drop), else the exit status. */
int vctl_job_follow(struct vctl *g, unsigned long id, json_t **job);
/* Wait for job id that a command started, as vctl_job_follow: exit
 * status 0 when done, 1 when failed or cancelled (said on stderr); with
 * no_wait, print the id and return 0 at once. */
int vctl_job_wait(struct vctl *g, unsigned long id, bool no_wait);
/* POST path, which starts a job (202), then vctl_job_wait for it. */
int vctl_start_job(struct vctl *g, const char *path, bool no_wait);
/* The same with a JSON body (may be NULL). */
int vctl_start_job_body(struct vctl *g, const char *path, const char *body, bool no_wait);
/* A whole verb "NOUN VERB ARG [--no-wait]" that starts a job: POST to
 * path_fmt with ARG in it (its one %s); what names ARG for usage errors
 * ("volume NAME"), volume whether ARG is a volume name. */
int vctl_job_verb(struct vctl *g, int argc, char **argv, const char *what, bool volume,
                  const char *path_fmt);
/* An image file's path as vramd needs it, absolute (image-path.c): a
 * relative one is taken from the current directory.  NULL (said on
 * stderr) when it does not fit. */
const char *vctl_image_path(const char *arg, char *out, size_t len);
/* Run a save or restore: NAME FILE [--no-wait] [--force] (image-path.c). */
int vctl_image_job(struct vctl *g, int argc, char **argv, const char *verb, bool can_force);
/* True once a job's state is done, failed or cancelled. */
bool vctl_job_ended(json_t *job);
/* A job's progress ("42%"), rate ("1.2 GiB/s") and time left ("3m05s"),
 * the last two as integers when exact; into buf. */
const char *vctl_job_percent(json_t *job, char *buf, size_t len);
const char *vctl_job_rate(json_t *job, bool exact, char *buf, size_t len);
const char *vctl_job_eta(json_t *job, bool exact, char *buf, size_t len);

/* delete and detach (volume-force.c): METHOD /v1/volumes/NAME<suffix>,
 * with ?force=true for -f, expecting 204; prints "<done> NAME". */
int vctl_volume_forced(struct vctl *g, int argc, char **argv, const char *method,
                       const char *suffix, const char *done);

/* Tables shared by list commands and status. */
void vctl_print_devices(json_t *devs);
void vctl_print_volumes(json_t *vols);
/* Where a volume is: its device path, else its NBD URI. */
const char *vctl_volume_where(json_t *v);
/* The strings of an array joined with ',' ("?" for one that is not a
 * string), into buf. */
const char *vctl_join_ids(json_t *arr, char *buf, size_t len);
/* Integer member of an object, 0 if missing. */
unsigned long long vctl_u64(json_t *o, const char *key);
/* A JSON string's text, def if it is not a string. */
const char *vctl_text(json_t *v, const char *def);
/* String member of an object, def if missing or not a string. */
const char *vctl_str(json_t *o, const char *key, const char *def);
/* IEC size of an integer member, into buf. */
const char *vctl_size(json_t *o, const char *key, char *buf, size_t len);

#endif
