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

#include "frontend.h"
#include "settings.h"

#define DEFAULT_EXTENT_SIZE (1ull << 30)

/* Size settings: their range, and the multiple each must be and why. */
static const struct size_setting {
  const char *key;
  size_t off;           /* of the uint64_t in struct vramd_config */
  struct vd_size_rule rule;
} size_settings[] = {
  /* The batch kernel takes any length; past 64 KiB batching only loses
   * (it already does at 32 KiB on H200) and crowds a batch's slot. */
  { "small-max", offsetof(struct vramd_config, small_max), { 512, 64u << 10, 512, "a sector" } },
  /* Cut into one slot per batch in flight (up to 16): whole 4 KiB pages. */
  { "small-staging", offsetof(struct vramd_config, small_staging),
    { 1u << 20, 64u << 20, 64u << 10, "each batch in flight gets whole 4K pages" } },
  /* One 1M unit per read or write in flight, at least two (save.c). */
  { "save-staging", offsetof(struct vramd_config, save_staging),
    { 2u << 20, 256u << 20, 1u << 20, "each read or write in flight gets a 1M unit" } },
  /* Whole stripe rows of the largest unit; past 1G a discard rarely frees one. */
  /* A background scrub's pace, per second: at least a 64 MiB piece. */
  { "scrub-rate", offsetof(struct vramd_config, scrub_rate),
    { 64u << 20, UINT64_C(1) << 50, 1u << 20, "a whole number of M per second" } },
  { "thin-chunk", offsetof(struct vramd_config, thin_chunk),
    { 1u << 20, 1u << 30, 1u << 20, "a chunk holds whole 1M stripe units" } },
};

/* The NQN prefix of exports: vramd's own naming authority, then this
 * host's name, so that hosts exporting the same volume name differ. */
static void default_prefix(char *buf, size_t len)
{
  char host[65] = "localhost";
  gethostname(host, sizeof host - 1);
  for (char *p = host; *p; p++)
    if (*p == ':' || *p == '/' || isspace((unsigned char)*p))
      *p = '-';
  snprintf(buf, len, "nqn.2026-11.org.vramd:%s", host);
}

/* A prefix under which "<prefix>:<volume>" is an NQN of at most 223 bytes. */
static int set_prefix(const char *key, const char *v, struct vramd_config *c, char *err,
                      size_t errlen)
{
  char nqn[VD_NQN_MAX + 2], why[300];

  if (strlen(v) >= sizeof c->nqn_prefix) {
    snprintf(err, errlen, "%s: at most %zu bytes, so that ':' and a volume name fit in an "
             "NQN's 223", key, sizeof c->nqn_prefix - 1);
    return -EINVAL;
  }
  snprintf(nqn, sizeof nqn, "%s:v", v);
  if (!vd_nqn_valid(nqn, why, sizeof why)) {
    snprintf(err, errlen, "%s '%s' does not make NQNs: %s", key, v, why);
    return -EINVAL;
  }
  snprintf(c->nqn_prefix, sizeof c->nqn_prefix, "%s", v);
  return 0;
}

/* Built-in defaults, as etc/vramd.conf and vramd(8) list them; each
 * frontend sets its own. */
void vramd_config_defaults(struct vramd_config *c, const struct vd_frontend *const *frontends)
{
  memset(c, 0, sizeof *c);
  snprintf(c->config_file, sizeof c->config_file, "%s", SYSCONFDIR "/vramd/vramd.conf");
  snprintf(c->api_socket, sizeof c->api_socket, "/run/vramd/vramd.sock");
  snprintf(c->metrics_listen, sizeof c->metrics_listen, "127.0.0.1:9855");
  snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/vramd");
  default_prefix(c->nqn_prefix, sizeof c->nqn_prefix);
  c->extent_size = DEFAULT_EXTENT_SIZE;
  c->workers = VD_WORKERS_DEFAULT;
  c->small_batch = true;
  c->write_ack_queued = VD_ACK_DEFAULT_MODE == VD_ACK_QUEUED;
  c->small_max = VD_SMALL_MAX_DEFAULT;
  c->small_staging = VD_SMALL_STAGE_DEFAULT;
  c->save_staging = VD_SAVE_STAGING_DEFAULT;
  c->thin_chunk = VD_THIN_CHUNK_DEFAULT;
  c->scrub_interval = VRAMD_SCRUB_INTERVAL_DEFAULT;
  c->scrub_rate = VRAMD_SCRUB_RATE_DEFAULT;
  c->thin_stock = VD_THIN_STOCK_DEFAULT;
  c->frontends = frontends;
  for (unsigned i = 0; frontends && frontends[i]; i++)
    if (frontends[i]->settings)
      frontends[i]->settings->defaults(&c->fe[i]);
}

/* Hand a key the daemon does not know to the frontend it belongs to. */
static int frontend_config_set(struct vramd_config *c, const char *key, const char *v,
                               char *err, size_t errlen)
{
  for (unsigned i = 0; c->frontends && c->frontends[i]; i++) {
    const struct vd_frontend_settings *fs = c->frontends[i]->settings;
    int rc = fs ? fs->config(&c->fe[i], key, v, err, errlen) : VD_CONFIG_NOT_MINE;
    if (rc != VD_CONFIG_NOT_MINE)
      return rc;
  }
  snprintf(err, errlen, "unknown setting '%s'", key);
  return -EINVAL;
}

/* Ask each frontend for a string setting. */
const char *vramd_config_str(const struct vramd_config *c, const char *key)
{
  for (unsigned i = 0; c->frontends && c->frontends[i]; i++) {
    const struct vd_frontend_settings *fs = c->frontends[i]->settings;
    const char *v = fs ? fs->get_str(&c->fe[i], key) : NULL;
    if (v)
      return v;
  }
  return NULL;
}

/* driver-copies values, by enum vd_driver_copies. */
static const char *const copies_names[] = { "shared", "per-device" };

/* The form of each daemon option's value, for --help. */
static const struct { const char *key, *arg; } args[] = {
  { "config", "FILE" }, { "api-socket", "PATH" }, { "metrics-listen", "HOST:PORT|off" },
  { "state-dir", "DIR" }, { "device-types", "gpu,accelerator,cpu" }, { "reserve", "SIZE" },
  { "extent-size", "SIZE" }, { "workers", "N" }, { "small-batch", "on|off" },
  { "write-ack", "queued|landed" }, { "scrub-interval", "DURATION|off" },
  { "scrub-rate", "SIZE" }, { "driver-copies", "shared|per-device" },
  { "small-max", "SIZE" }, { "small-staging", "SIZE" }, { "thin-chunk", "SIZE" },
  { "thin-stock", "N" }, { "yield-floor", "SIZE|off" }, { "volume", "SPEC" },
  { "nvme-nqn-prefix", "NQN" },
};

/* The form of a daemon option's value; NULL for a flag. */
const char *vramd_config_arg(const char *key)
{
  for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
    if (!strcmp(args[i].key, key))
      return args[i].arg;
  return NULL;
}

/* A type mask as "gpu,accelerator,cpu" would give it. */
static void show_types(unsigned mask, char *buf, size_t len)
{
  snprintf(buf, len, "%s%s%s%s%s", mask & VD_DEV_GPU ? "gpu" : "",
           mask & VD_DEV_GPU && mask & (VD_DEV_ACCEL | VD_DEV_CPU) ? "," : "",
           mask & VD_DEV_ACCEL ? "accelerator" : "",
           mask & VD_DEV_ACCEL && mask & VD_DEV_CPU ? "," : "", mask & VD_DEV_CPU ? "cpu" : "");
}

/* The NQN prefix, with the host's name as the word HOSTNAME while it is
 * the built-in one (what vramd(8) says). */
static void show_prefix(const struct vramd_config *c, char *buf, size_t len)
{
  char def[sizeof c->nqn_prefix];
  default_prefix(def, sizeof def);
  if (strcmp(def, c->nqn_prefix))
    snprintf(buf, len, "%s", c->nqn_prefix);
  else
    snprintf(buf, len, "nqn.2026-11.org.vramd:HOSTNAME");
}

/* A daemon setting's value as --help shows it; -ENOENT for another key. */
static int daemon_show(const struct vramd_config *c, const char *key, char *buf, size_t len)
{
  const char *str = !strcmp(key, "config") ? c->config_file :
                    !strcmp(key, "api-socket") ? c->api_socket :
                    !strcmp(key, "metrics-listen") ? c->metrics_listen :
                    !strcmp(key, "state-dir") ? c->state_dir : NULL;
  bool on = !strcmp(key, "small-batch") ? c->small_batch : c->verbose;

  if (str)
    snprintf(buf, len, "%s", str);
  else if (!strcmp(key, "nvme-nqn-prefix"))
    show_prefix(c, buf, len);
  else if (!strcmp(key, "device-types") && !c->device_types)
    snprintf(buf, len, "gpu,accelerator; cpu when there is neither");
  else if (!strcmp(key, "device-types"))
    show_types(c->device_types, buf, len);
  else if (!strcmp(key, "reserve") && !c->reserve_set)
    snprintf(buf, len, "auto; the larger of 1G and 5%% of a GPU, a quarter of a CPU "
             "device's free memory");
  else if (!strcmp(key, "reserve"))
    vd_size_typed(c->reserve, buf, len);
  else if (!strcmp(key, "extent-size"))
    vd_size_typed(c->extent_size, buf, len);
  else if (!strcmp(key, "workers"))
    snprintf(buf, len, "%u", c->workers);
  else if (!strcmp(key, "thin-stock"))
    snprintf(buf, len, "%u", c->thin_stock);
  else if (!strcmp(key, "yield-floor") && !c->yield_floor)
    snprintf(buf, len, "off");
  else if (!strcmp(key, "yield-floor"))
    vd_size_typed(c->yield_floor, buf, len);
  else if (!strcmp(key, "volume") && !c->nvolumes)
    snprintf(buf, len, "none");
  else if (!strcmp(key, "volume"))
    snprintf(buf, len, "%u volumes", c->nvolumes);
  else if (!strcmp(key, "small-batch") || !strcmp(key, "verbose"))
    snprintf(buf, len, "%s", on ? "on" : "off");
  else if (!strcmp(key, "write-ack"))
    snprintf(buf, len, "%s", c->write_ack_queued ? "queued" : "landed");
  else if (!strcmp(key, "scrub-interval"))
    vd_duration_typed(c->scrub_interval, buf, len);
  else if (!strcmp(key, "driver-copies"))
    snprintf(buf, len, "%s", copies_names[c->driver_copies]);
  else
    return -ENOENT;
  return 0;
}

/* A setting's value as --help shows it: the daemon's, else a frontend's. */
int vramd_config_show(const struct vramd_config *c, const char *key, char *buf, size_t len)
{
  for (size_t i = 0; i < sizeof size_settings / sizeof size_settings[0]; i++)
    if (!strcmp(key, size_settings[i].key)) {
      vd_size_typed(*(const uint64_t *)(const void *)((const char *)c + size_settings[i].off),
                    buf, len);
      return 0;
    }
  if (!daemon_show(c, key, buf, len))
    return 0;
  for (unsigned i = 0; c->frontends && c->frontends[i]; i++) {
    const struct vd_frontend_settings *fs = c->frontends[i]->settings;
    if (fs && fs->show && !fs->show(&c->fe[i], key, buf, len))
      return 0;
  }
  return -ENOENT;
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
    return vd_setting_str(key, v, c->api_socket, sizeof c->api_socket, err, errlen);
  if (!strcmp(key, "metrics-listen"))
    return vd_setting_str(key, v, c->metrics_listen, sizeof c->metrics_listen, err, errlen);
  if (!strcmp(key, "state-dir"))
    return vd_setting_str(key, v, c->state_dir, sizeof c->state_dir, err, errlen);
  if (!strcmp(key, "nvme-nqn-prefix"))
    return set_prefix(key, v, c, err, errlen);
  if (!strcmp(key, "device-types"))
    return parse_types(v, &c->device_types, err, errlen);
  if (!strcmp(key, "workers"))
    return vd_setting_uint(key, v, 0, 64, &c->workers, err, errlen);
  if (!strcmp(key, "thin-stock"))
    return vd_setting_uint(key, v, 1, 64, &c->thin_stock, err, errlen);
  if (!strcmp(key, "small-batch"))
    return vd_setting_switch(key, v, &c->small_batch, err, errlen);
  if (!strcmp(key, "driver-copies")) {
    for (int i = 0; i < 2; i++)
      if (!strcmp(v, copies_names[i])) {
        c->driver_copies = i;
        return 0;
      }
    snprintf(err, errlen, "%s: '%s' is neither 'shared' nor 'per-device'", key, v);
    return -EINVAL;
  }
  if (!strcmp(key, "scrub-interval"))
    return vd_setting_duration(key, v, 366 * 86400, &c->scrub_interval, err, errlen);
  if (!strcmp(key, "write-ack")) {
    if (strcmp(v, "queued") && strcmp(v, "landed")) {
      snprintf(err, errlen, "%s: '%s' is neither 'queued' nor 'landed'", key, v);
      return -EINVAL;
    }
    c->write_ack_queued = !strcmp(v, "queued");
    return 0;
  }
  for (size_t i = 0; i < sizeof size_settings / sizeof size_settings[0]; i++)
    if (!strcmp(key, size_settings[i].key))
      return vd_setting_size(key, v, &size_settings[i].rule,
                             (uint64_t *)((char *)c + size_settings[i].off), err, errlen);
  if (!strcmp(key, "verbose"))
    return vd_setting_switch(key, v, &c->verbose, err, errlen);
  if (!strcmp(key, "yield-floor")) {
    if (!strcmp(v, "0") || !strcmp(v, "off")) {
      c->yield_floor = 0;
      return 0;
    }
    if (vd_parse_size(v, &c->yield_floor, e, sizeof e)) {
      snprintf(err, errlen, "%s: %s", key, e);
      return -EINVAL;
    }
    return 0;
  }
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
  return frontend_config_set(c, key, v, err, errlen);
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
