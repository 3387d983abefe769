/* vramctl.h: the command line over vramd's HTTP API.  Each subcommand is
 * one file with one entry point; they share the HTTP client and printing. */
#ifndef VRAMD_VRAMCTL_H
#define VRAMD_VRAMCTL_H

#include <jansson.h>
#include <stdbool.h>

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

struct vctl {
  const char *socket;  /* vramd's API socket */
  bool json;           /* print JSON with integer bytes */
  long timeout_ms;     /* --timeout, for messages */
  long long deadline_ms; /* CLOCK_MONOTONIC ms by which the command ends */
};

/* A subcommand: noun, verb, entry point and one line of help. */
struct vctl_cmd {
  const char *noun, *verb;
  int (*run)(struct vctl *g, int argc, char **argv);
  const char *usage;
};

int vctl_device_list(struct vctl *g, int argc, char **argv);
int vctl_volume_create(struct vctl *g, int argc, char **argv);
int vctl_volume_list(struct vctl *g, int argc, char **argv);
int vctl_volume_show(struct vctl *g, int argc, char **argv);
int vctl_volume_delete(struct vctl *g, int argc, char **argv);
int vctl_status(struct vctl *g, int argc, char **argv);

/* Send a request; *out gets the parsed JSON body (or NULL).  Returns the
 * HTTP status, or -1 after saying that vramd does not answer. */
long vctl_request(struct vctl *g, const char *method, const char *path,
                  const char *body, json_t **out);
/* Report an API error response (the envelope's message) and return
 * VCTL_FAILED. */
int vctl_api_error(struct vctl *g, long status, json_t *doc);
/* Print a JSON document on stdout and drop it; returns VCTL_OK. */
int vctl_print_json(json_t *doc);
/* Options every command takes, for its getopt_long table. */
#define VCTL_COMMON_OPTS \
  { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }
/* Handle a common option: 'j' (--json), 'h' (--help, prints usage) or a
 * bad one.  Returns -1 to go on, else the exit status. */
int vctl_common_opt(struct vctl *g, int c, const char *usage);
/* Usage error: message, usage on stderr, VCTL_USAGE. */
int vctl_usage_error(const char *usage, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
/* The one volume NAME after the options, checked.  Returns -1 with *name
 * set, else the usage exit status (message printed). */
int vctl_volume_name_arg(int argc, char **argv, const char *usage, const char **name);
/* A read-only command: only --json and --help, no arguments, one GET.
 * Returns -1 with *doc to print as a table, else the exit status (JSON
 * already printed). */
int vctl_simple_get(struct vctl *g, int argc, char **argv, const char *usage,
                    const char *path, json_t **doc);
/* Tables shared by list commands and status. */
void vctl_print_devices(json_t *devs);
void vctl_print_volumes(json_t *vols);
/* Where a volume is: its device path, else its NBD URI. */
const char *vctl_volume_where(json_t *v);
/* Integer member of an object, 0 if missing. */
unsigned long long vctl_u64(json_t *o, const char *key);
/* A JSON string's text, def if it is not a string. */
const char *vctl_text(json_t *v, const char *def);
/* String member of an object, def if missing or not a string. */
const char *vctl_str(json_t *o, const char *key, const char *def);
/* IEC size of an integer member, into buf. */
const char *vctl_size(json_t *o, const char *key, char *buf, size_t len);

#endif
