/* http.c: HTTP over vramd's Unix socket with libcurl, JSON in and out, and
 * the helpers every subcommand prints with. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vramctl.h"

struct reply {
  char *s;
  size_t len;
};

/* Collect the response body. */
static size_t on_data(char *p, size_t size, size_t n, void *cls)
{
  struct reply *r = cls;
  size_t add = size * n;
  char *s = realloc(r->s, r->len + add + 1);
  if (!s)
    return 0;
  memcpy(s + r->len, p, add);
  r->len += add;
  s[r->len] = '\0';
  r->s = s;
  return add;
}

/* Say that vramd does not answer, and how to start it. */
static void not_running(const struct vctl *g, const char *why)
{
  struct stat st;
  bool exists = stat(g->socket, &st) == 0;
  fprintf(stderr,
          "vramctl: vramd is not running: nothing answers on %s (%s).\n"
          "Start it with 'systemctl start vramd.socket' (or 'systemctl start vramd'),\n"
          "or run 'vramd --api-socket %s' yourself; use --socket PATH or VRAMCTL_SOCKET\n"
          "if it listens elsewhere.\n",
          g->socket, exists ? why : "no such socket", g->socket);
}

/* One request to the API. */
long vctl_request(struct vctl *g, const char *method, const char *path,
                  const char *body, json_t **out)
{
  struct reply r = { 0 };
  struct curl_slist *hdr = NULL;
  char url[512];
  long status = -1;
  CURLcode cc;
  CURL *c;

  *out = NULL;
  c = curl_easy_init();
  if (!c) {
    fprintf(stderr, "vramctl: cannot initialise libcurl\n");
    return -1;
  }
  snprintf(url, sizeof url, "http://localhost%s", path);
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, g->socket);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (body) {
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  }
  cc = curl_easy_perform(c);
  if (cc == CURLE_COULDNT_CONNECT) {
    not_running(g, curl_easy_strerror(cc));
  } else if (cc != CURLE_OK) {
    fprintf(stderr, "vramctl: request to vramd failed: %s\n", curl_easy_strerror(cc));
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (r.len)
      *out = json_loadb(r.s, r.len, 0, NULL);
    if (r.len && !*out) {
      fprintf(stderr, "vramctl: vramd sent a reply that is not JSON (HTTP %ld)\n", status);
      status = -1;
    }
  }
  free(r.s);
  curl_slist_free_all(hdr);
  curl_easy_cleanup(c);
  return status;
}

/* Print an API error's message. */
int vctl_api_error(struct vctl *g, long status, json_t *doc)
{
  json_t *e = json_object_get(doc, "error");
  if (g->json && doc)
    vctl_print_json(json_incref(doc));
  if (e)
    fprintf(stderr, "vramctl: %s\n", vctl_str(e, "message", "unknown error"));
  else
    fprintf(stderr, "vramctl: vramd answered HTTP %ld\n", status);
  json_decref(doc);
  return VCTL_FAILED;
}

/* JSON on stdout. */
int vctl_print_json(json_t *doc)
{
  json_dumpf(doc, stdout, JSON_INDENT(2));
  putchar('\n');
  json_decref(doc);
  return VCTL_OK;
}

/* Options shared by every command. */
int vctl_common_opt(struct vctl *g, int c, const char *usage)
{
  switch (c) {
  case 'j':
    g->json = true;
    return -1;
  case 'h':
    printf("Usage: vramctl %s\n", usage);
    return VCTL_OK;
  default:
    fprintf(stderr, "Usage: vramctl %s\n", usage);
    return VCTL_USAGE;
  }
}

/* A usage error with a message. */
int vctl_usage_error(const char *usage, const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "vramctl: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nUsage: vramctl %s\n", usage);
  return VCTL_USAGE;
}

/* The single volume NAME argument, validated like the daemon does. */
int vctl_volume_name_arg(int argc, char **argv, const char *usage, const char **name)
{
  char err[256];
  if (optind + 1 != argc)
    return vctl_usage_error(usage, "give exactly one volume NAME");
  if (!vd_name_valid(argv[optind], err, sizeof err))
    return vctl_usage_error(usage, "%s", err);
  *name = argv[optind];
  return -1;
}

/* Integer member or 0. */
unsigned long long vctl_u64(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  return json_is_integer(v) && json_integer_value(v) > 0 ? (unsigned long long)json_integer_value(v) : 0;
}

/* String member or def. */
const char *vctl_str(json_t *o, const char *key, const char *def)
{
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : def;
}

/* A byte count member in IEC units. */
const char *vctl_size(json_t *o, const char *key, char *buf, size_t len)
{
  return vd_format_size(vctl_u64(o, key), buf, len);
}

/* A read-only command: only --json and --help, no arguments, one GET. */
int vctl_simple_get(struct vctl *g, int argc, char **argv, const char *usage,
                    const char *path, json_t **doc)
{
  static const struct option opts[] = { VCTL_COMMON_OPTS, { NULL, 0, NULL, 0 } };
  long st;
  int c, rc;

  while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1)
    if ((rc = vctl_common_opt(g, c, usage)) >= 0)
      return rc;
  if (optind < argc)
    return vctl_usage_error(usage, "unexpected argument '%s'", argv[optind]);
  st = vctl_request(g, "GET", path, NULL, doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 200)
    return vctl_api_error(g, st, *doc);
  if (g->json)
    return vctl_print_json(*doc);
  return -1;
}
