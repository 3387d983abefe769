/* config.c: vramd.conf and command-line settings.  Every option has a
 * config key of the same name; the command line wins. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nbd/nbd.h"
#include "vramd.h"

#define DEFAULT_EXTENT_SIZE (1ull << 30)

/* Size settings: their range, and the multiple each must be and why. */
static const struct size_setting {
  const char *key;
  size_t off;           /* of the uint64_t in struct vramd_config */
  uint64_t min, max, multiple;
  const char *why;
} size_settings[] = {
  /* Staging is handed out in chunks. */
  { "nbd-staging", offsetof(struct vramd_config, nbd_staging), NBD_STAGING_MIN,
    NBD_STAGING_MAX, NBD_CHUNK, "the staging chunk" },
  /* The batch kernel takes any length; past 64 KiB batching only loses
   * (it already does at 32 KiB on H200) and crowds a batch's slot. */
  { "small-max", offsetof(struct vramd_config, small_max), 512, 64u << 10, 512,
    "a sector" },
  /* Cut into one slot per batch in flight (up to 16): whole 4 KiB pages. */
  { "small-staging", offsetof(struct vramd_config, small_staging), 1u << 20, 64u << 20,
    64u << 10, "each batch in flight gets whole 4K pages" },
};

/* One kernel NBD connection per online CPU, up to NBD_ATTACH_CONNS_AUTO:
 * the kernel maps each CPU's requests to one connection. */
static unsigned default_attach_connections(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > NBD_ATTACH_CONNS_AUTO ? NBD_ATTACH_CONNS_AUTO : (unsigned)n;
}

/* Built-in defaults, as DESIGN.md lists them. */
void vramd_config_defaults(struct vramd_config *c)
{
  memset(c, 0, sizeof *c);
  snprintf(c->config_file, sizeof c->config_file, "%s", SYSCONFDIR "/vramd/vramd.conf");
  snprintf(c->api_socket, sizeof c->api_socket, "/run/vramd/vramd.sock");
  snprintf(c->nbd_socket, sizeof c->nbd_socket, "/run/vramd/nbd.sock");
  snprintf(c->metrics_listen, sizeof c->metrics_listen, "127.0.0.1:9855");
  snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/vramd");
  c->extent_size = DEFAULT_EXTENT_SIZE;
  c->nbd_staging = NBD_STAGING_DEFAULT;
  c->nbd_max_sessions = NBD_SESSIONS_DEFAULT;
  c->nbd_attach_connections = default_attach_connections();
  c->small_batch = true;
  c->small_max = VD_SMALL_MAX_DEFAULT;
  c->small_staging = VD_SMALL_STAGE_DEFAULT;
}

/* Copy a string setting, refusing values that do not fit. */
static int set_str(char *dst, size_t len, const char *key, const char *v,
                   char *err, size_t errlen)
{
  if (strlen(v) >= len) {
    snprintf(err, errlen, "%s: value is longer than %zu characters", key, len - 1);
    return -EINVAL;
  }
  memcpy(dst, v, strlen(v) + 1);
  return 0;
}

/* Parse "gpu,accelerator,cpu" into a type mask. */
static int parse_types(const char *v, unsigned *out, char *err, size_t errlen)
{
  char buf[128], *save = NULL, *tok;
  unsigned mask = 0;
  if (strlen(v) >= sizeof buf)
    goto bad;
  strcpy(buf, v);
  for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (!strcmp(tok, "gpu")) mask |= VD_DEV_GPU;
    else if (!strcmp(tok, "accelerator")) mask |= VD_DEV_ACCEL;
    else if (!strcmp(tok, "cpu")) mask |= VD_DEV_CPU;
    else goto bad;
  }
  if (!mask)
    goto bad;
  *out = mask;
  return 0;
bad:
  snprintf(err, errlen, "device-types: '%s' is not a list of gpu, accelerator, cpu", v);
  return -EINVAL;
}

/* A size as it would be typed: "128K", "4M", "512". */
static const char *short_size(uint64_t n, char *buf, size_t len)
{
  static const char suffix[] = "KMGT";
  int i = -1;
  while (i < 3 && n && n % 1024 == 0) {
    n /= 1024;
    i++;
  }
  if (i < 0)
    snprintf(buf, len, "%llu", (unsigned long long)n);
  else
    snprintf(buf, len, "%llu%c", (unsigned long long)n, suffix[i]);
  return buf;
}

/* Parse a size setting of the table, checking range and multiple. */
static int parse_sized(const struct size_setting *ss, struct vramd_config *c,
                       const char *v, char *err, size_t errlen)
{
  char e[200], a[32], b[32];
  uint64_t n;

  if (vd_parse_size(v, &n, e, sizeof e)) {
    snprintf(err, errlen, "%s: %s", ss->key, e);
    return -EINVAL;
  }
  if (n < ss->min || n > ss->max) {
    snprintf(err, errlen, "%s: '%s' is out of range (%s to %s)", ss->key, v,
             short_size(ss->min, a, sizeof a), short_size(ss->max, b, sizeof b));
    return -EINVAL;
  }
  if (n % ss->multiple) {
    snprintf(err, errlen, "%s: '%s' is not a multiple of %s (%s)", ss->key, v,
             short_size(ss->multiple, a, sizeof a), ss->why);
    return -EINVAL;
  }
  *(uint64_t *)((char *)c + ss->off) = n;
  return 0;
}

/* Refuse a volume whose name or index an earlier one has: only one of
 * them could be created. */
static int volume_clash(const struct vramd_config *c, const struct vd_volume_spec *s,
                        char *err, size_t errlen)
{
  for (unsigned i = 0; i < c->nvolumes; i++) {
    if (!strcmp(c->volumes[i].name, s->name)) {
      snprintf(err, errlen, "volume: '%s' is defined twice", s->name);
      return -EINVAL;
    }
    if (s->index >= 0 && c->volumes[i].index == s->index &&
        c->volumes[i].frontend == s->frontend) {
      snprintf(err, errlen, "volume: index %d is given to both '%s' and '%s'", s->index,
               c->volumes[i].name, s->name);
      return -EINVAL;
    }
  }
  return 0;
}

/* Apply one setting by its option name. */
int vramd_config_set(struct vramd_config *c, const char *key, const char *v,
                     char *err, size_t errlen)
{
  char e[200];
  if (!strcmp(key, "api-socket"))
    return set_str(c->api_socket, sizeof c->api_socket, key, v, err, errlen);
  if (!strcmp(key, "nbd-socket"))
    return set_str(c->nbd_socket, sizeof c->nbd_socket, key, v, err, errlen);
  if (!strcmp(key, "nbd-listen"))
    return set_str(c->nbd_listen, sizeof c->nbd_listen, key, v, err, errlen);
  if (!strcmp(key, "metrics-listen"))
    return set_str(c->metrics_listen, sizeof c->metrics_listen, key, v, err, errlen);
  if (!strcmp(key, "state-dir"))
    return set_str(c->state_dir, sizeof c->state_dir, key, v, err, errlen);
  if (!strcmp(key, "device-types"))
    return parse_types(v, &c->device_types, err, errlen);
  if (!strcmp(key, "workers"))
    return vd_parse_uint(key, v, 0, 64, &c->workers, err, errlen);
  if (!strcmp(key, "nbd-max-sessions"))
    return vd_parse_uint(key, v, 1, NBD_SESSIONS_MAX, &c->nbd_max_sessions, err, errlen);
  if (!strcmp(key, "nbd-attach-connections"))
    return vd_parse_uint(key, v, 1, NBD_ATTACH_CONNS_MAX, &c->nbd_attach_connections, err,
                         errlen);
  if (!strcmp(key, "small-batch"))
    return vd_parse_switch(key, v, &c->small_batch, err, errlen);
  for (size_t i = 0; i < sizeof size_settings / sizeof size_settings[0]; i++)
    if (!strcmp(key, size_settings[i].key))
      return parse_sized(&size_settings[i], c, v, err, errlen);
  if (!strcmp(key, "verbose"))
    return vd_parse_switch(key, v, &c->verbose, err, errlen);
  if (!strcmp(key, "reserve") || !strcmp(key, "extent-size")) {
    uint64_t n;
    if (!strcmp(v, "0") && !strcmp(key, "reserve")) {
      n = 0;
    } else if (vd_parse_size(v, &n, e, sizeof e)) {
      snprintf(err, errlen, "%s: %s", key, e);
      return -EINVAL;
    }
    if (key[0] == 'r') {
      c->reserve = n;
      c->reserve_set = true;
    } else if (n % VD_SECTOR) {
      snprintf(err, errlen, "extent-size: must be a multiple of 4 KiB");
      return -EINVAL;
    } else {
      c->extent_size = n;
    }
    return 0;
  }
  if (!strcmp(key, "volume")) {
    if (c->nvolumes >= VD_MAX_CLI_VOLUMES) {
      snprintf(err, errlen, "volume: at most %d volumes can be defined", VD_MAX_CLI_VOLUMES);
      return -EINVAL;
    }
    if (vd_spec_from_text(v, &c->volumes[c->nvolumes], err, errlen) ||
        volume_clash(c, &c->volumes[c->nvolumes], err, errlen))
      return -EINVAL;
    c->nvolumes++;
    return 0;
  }
  snprintf(err, errlen, "unknown setting '%s'", key);
  return -EINVAL;
}

/* Trim spaces at both ends, in place. */
static char *trim(char *s)
{
  char *e;
  while (isspace((unsigned char)*s))
    s++;
  e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

/* Read one line of at most len - 1 bytes, without its newline: 1 read,
 * 0 at the end of the file, -E2BIG too long, -EILSEQ a NUL byte in it,
 * -errno a read error. */
static int read_line(FILE *f, char *line, size_t len)
{
  size_t n = 0;
  int ch;

  while ((ch = getc(f)) != EOF && ch != '\n') {
    if (ch == '\0')
      return -EILSEQ;
    if (n + 1 >= len)
      return -E2BIG;
    line[n++] = (char)ch;
  }
  line[n] = '\0';
  if (ferror(f))
    return errno ? -errno : -EIO;
  return ch == EOF && n == 0 ? 0 : 1;
}

/* Open the config file without blocking on a FIFO; NULL with err filled
 * when it cannot be read or is not a file (a character device such as
 * /dev/null is read: it ends at once). */
static FILE *open_config(const char *path, bool must_exist, char *err, size_t errlen, int *rc)
{
  struct stat st;
  FILE *f;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

  *rc = 0;
  if (fd < 0) {
    if (errno != ENOENT || must_exist) {
      *rc = -errno;
      snprintf(err, errlen, "%s: %s", path, strerror(errno));
    }
    return NULL;
  }
  if (fstat(fd, &st) || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
    close(fd);
    *rc = -EINVAL;
    snprintf(err, errlen, "%s: not a regular file (a folder, FIFO or socket)", path);
    return NULL;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  f = fdopen(fd, "r");
  if (!f) {
    *rc = -errno;
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    close(fd);
  }
  return f;
}

/* Read "key = value" lines; '#' starts a comment. */
int vramd_config_load(struct vramd_config *c, const char *path, bool must_exist,
                      char *err, size_t errlen)
{
  char line[1024], e[512];
  unsigned lineno = 0;
  int rc, got;
  FILE *f = open_config(path, must_exist, err, errlen, &rc);

  if (!f)
    return rc;
  while ((got = read_line(f, line, sizeof line)) > 0) {
    char *s, *eq, *hash;
    lineno++;
    if ((hash = strchr(line, '#')))
      *hash = '\0';
    s = trim(line);
    if (!*s)
      continue;
    eq = strchr(s, '=');
    if (!eq) {
      snprintf(err, errlen, "%s:%u: expected 'key = value'", path, lineno);
      got = -EINVAL;
      break;
    }
    *eq = '\0';
    if (vramd_config_set(c, trim(s), trim(eq + 1), e, sizeof e)) {
      snprintf(err, errlen, "%s:%u: %s", path, lineno, e);
      got = -EINVAL;
      break;
    }
  }
  if (got == -E2BIG)
    snprintf(err, errlen, "%s:%u: line is longer than %zu bytes", path, lineno + 1,
             sizeof line - 1);
  else if (got == -EILSEQ)
    snprintf(err, errlen, "%s:%u: line holds a NUL byte (is this a text file?)", path,
             lineno + 1);
  else if (got < 0 && got != -EINVAL)
    snprintf(err, errlen, "%s: cannot be read: %s", path, strerror(-got));
  fclose(f);
  return got < 0 ? -EINVAL : 0;
}
