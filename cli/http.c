/* http.c: HTTP over vramd's Unix socket with libcurl, JSON in and out, and
 * the helpers every subcommand prints with. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "vramctl.h"

struct reply {
  char *s;
  size_t len, cap;
  bool too_large;
};

/* Collect the response body, up to VCTL_MAX_REPLY: a server that never
 * ends its reply must not grow vramctl without bound. */
static size_t on_data(char *p, size_t size, size_t n, void *cls)
{
  struct reply *r = cls;
  size_t add = size * n;
  char *s;

  if (add > VCTL_MAX_REPLY - r->len) {
    r->too_large = true;
    return 0; /* curl stops with CURLE_WRITE_ERROR */
  }
  if (r->len + add >= r->cap) {
    size_t cap = r->cap ? r->cap : 16384;
    while (cap <= r->len + add)
      cap *= 2;
    if (!(s = realloc(r->s, cap)))
      return 0;
    r->s = s;
    r->cap = cap;
  }
  memcpy(r->s + r->len, p, add);
  r->len += add;
  r->s[r->len] = '\0';
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

/* Milliseconds left of the command's deadline; 0 when it has passed. */
static long time_left_ms(const struct vctl *g)
{
  long long now = (long long)(vd_now_ns() / 1000000);
  return now < g->deadline_ms ? (long)(g->deadline_ms - now) : 0;
}

/* Say that vramd took longer than the deadline. */
static void timed_out(const struct vctl *g)
{
  fprintf(stderr,
          "vramctl: vramd did not answer within %.3g s on %s (it may be stuck or very\n"
          "busy); --timeout SECONDS or VRAMCTL_TIMEOUT allows longer.\n",
          g->timeout_ms / 1000.0, g->socket);
}

/* A failed transfer, in words that say what to do. */
static void transfer_failed(const struct vctl *g, CURL *c, CURLcode cc,
                            const struct reply *r)
{
  long os_errno = 0;
  curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
  if (cc == CURLE_COULDNT_CONNECT && (os_errno == EAGAIN || os_errno == EWOULDBLOCK))
    fprintf(stderr, "vramctl: vramd is busy: the queue of connections waiting on %s is "
            "full; try again in a few seconds\n", g->socket);
  else if (cc == CURLE_COULDNT_CONNECT)
    not_running(g, os_errno ? strerror((int)os_errno) : curl_easy_strerror(cc));
  else if (cc == CURLE_OPERATION_TIMEDOUT)
    timed_out(g);
  else if (cc == CURLE_WRITE_ERROR && r->too_large)
    fprintf(stderr, "vramctl: the reply on %s passed %u MiB and was cut off: that is not "
            "vramd, or it is broken\n", g->socket, VCTL_MAX_REPLY >> 20);
  else if (cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR)
    fprintf(stderr, "vramctl: vramd closed the connection on %s without an answer (%s); "
            "it may be stopping or busy: try again\n", g->socket, curl_easy_strerror(cc));
  else
    fprintf(stderr, "vramctl: request to vramd on %s failed: %s\n", g->socket,
            curl_easy_strerror(cc));
}

/* A socket path that fits in sockaddr_un, else say so. */
static bool socket_path_ok(const struct vctl *g)
{
  size_t n = strlen(g->socket), max = sizeof ((struct sockaddr_un *)0)->sun_path - 1;
  if (n && n <= max)
    return true;
  fprintf(stderr, "vramctl: the socket path '%.60s%s' is %zu bytes; a Unix socket path "
          "holds 1 to %zu: give a shorter one with --socket or VRAMCTL_SOCKET\n",
          g->socket, n > 60 ? "..." : "", n, max);
  return false;
}

/* A copy of s with every control character (C0, DEL, and C1 in UTF-8)
 * as '?', or NULL when s has none: a hostile or broken server must not
 * reach the terminal with escape sequences through what vramctl prints. */
static char *defanged(const char *s, size_t len)
{
  char *t = malloc(len + 1);
  size_t o = 0;
  bool changed = false;

  if (!t)
    return NULL;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
        (unsigned char)s[i + 1] <= 0x9f)
      i++; /* U+0080 to U+009F: two bytes, one '?' */
    else if (c >= 0x20 && c != 0x7f) {
      t[o++] = (char)c;
      continue;
    }
    t[o++] = '?';
    changed = true;
  }
  t[o] = '\0';
  if (!changed) {
    free(t);
    return NULL;
  }
  return t;
}

/* Replace the control characters in every string and key of doc. */
static void defang(json_t *doc)
{
  const char *key;
  json_t *v, *tmp;
  size_t i;
  char *t;

  if (json_is_string(doc)) {
    if ((t = defanged(json_string_value(doc), json_string_length(doc)))) {
      json_string_set(doc, t);
      free(t);
    }
  } else if (json_is_array(doc)) {
    json_array_foreach(doc, i, v)
      defang(v);
  } else if (json_is_object(doc)) {
    json_object_foreach_safe(doc, tmp, key, v) {
      defang(v);
      if ((t = defanged(key, strlen(key)))) {
        json_object_set(doc, t, v);
        json_object_del(doc, key);
        free(t);
      }
    }
  }
}

/* One request to the API. */
long vctl_request(struct vctl *g, const char *method, const char *path,
                  const char *body, json_t **out)
{
  struct reply r = { 0 };
  struct curl_slist *hdr = NULL;
  char url[512];
  long status = -1, left;
  CURLcode cc;
  CURL *c;

  *out = NULL;
  if (!socket_path_ok(g))
    return -1;
  if (!(left = time_left_ms(g))) {
    timed_out(g);
    return -1;
  }
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
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (body) {
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  }
  cc = curl_easy_perform(c);
  if (cc != CURLE_OK) {
    transfer_failed(g, c, cc, &r);
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (r.len && (*out = json_loadb(r.s, r.len, 0, NULL)))
      defang(*out);
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

/* Print an API error's message, in vramctl's words. */
int vctl_api_error(struct vctl *g, long status, json_t *doc)
{
  json_t *e = json_object_get(doc, "error");
  char msg[1024];
  if (g->json && doc)
    vctl_print_json(json_incref(doc));
  if (e)
    fprintf(stderr, "vramctl: %s\n",
            vctl_cli_words(vctl_str(e, "message", "unknown error"), msg, sizeof msg));
  else
    fprintf(stderr, "vramctl: vramd answered HTTP %ld\n", status);
  json_decref(doc);
  return VCTL_FAILED;
}

/* GET that must answer 200. */
int vctl_get(struct vctl *g, const char *path, json_t **doc)
{
  long st = vctl_request(g, "GET", path, NULL, doc);
  if (st < 0)
    return VCTL_FAILED;
  if (st != 200) {
    vctl_api_error(g, st, *doc);
    *doc = NULL;
    return VCTL_FAILED;
  }
  return -1;
}

/* GET path and print the document: as JSON, or with print. */
int vctl_show(struct vctl *g, const char *path, void (*print)(json_t *doc))
{
  json_t *doc;
  int rc;

  if ((rc = vctl_get(g, path, &doc)) >= 0)
    return rc;
  if (g->json)
    return vctl_print_json(doc);
  print(doc);
  json_decref(doc);
  return VCTL_OK;
}

/* JSON on stdout. */
int vctl_print_json(json_t *doc)
{
  json_dumpf(doc, stdout, JSON_INDENT(2));
  putchar('\n');
  json_decref(doc);
  return VCTL_OK;
}

/* Integer member or 0. */
unsigned long long vctl_u64(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  return json_is_integer(v) && json_integer_value(v) > 0 ? (unsigned long long)json_integer_value(v) : 0;
}

/* A JSON string's text, or def for anything else (never NULL for %s). */
const char *vctl_text(json_t *v, const char *def)
{
  return json_is_string(v) ? json_string_value(v) : def;
}

/* String member or def. */
const char *vctl_str(json_t *o, const char *key, const char *def)
{
  return vctl_text(json_object_get(o, key), def);
}

/* A byte count member in IEC units. */
const char *vctl_size(json_t *o, const char *key, char *buf, size_t len)
{
  return vd_format_size(vctl_u64(o, key), buf, len);
}

/* Array of ids joined with ','. */
const char *vctl_join_ids(json_t *arr, char *buf, size_t len)
{
  size_t i, off = 0;
  json_t *id;
  buf[0] = '\0';
  json_array_foreach(arr, i, id) {
    int n = snprintf(buf + off, len - off, "%s%s", i ? "," : "", vctl_text(id, "?"));
    if (n < 0 || (size_t)n >= len - off) {
      snprintf(buf + (off < len - 4 ? off : len - 4), 4, "...");
      break;
    }
    off += (size_t)n;
  }
  return buf;
}
