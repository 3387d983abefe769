/* main.c: vramd's entry point: options, start-up order and shutdown. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "frontend.h"
#include "elastic.h"
#include "integrity.h"
#include "frontends.h"
#include "list.h"
#include "persist.h"
#include "export-volume.h"
#include "pinned.h"
#include "safety.h"
#include "service.h"
#include "settings.h"
#include "signals.h"
#include "state.h"
#include "vramd.h"

/* The daemon's own options; the frontends' keys are added after them. */
static const struct option daemon_opts[] = {
  { "config", required_argument, NULL, 'c' },
  { "api-socket", required_argument, NULL, 1 },
  { "metrics-listen", required_argument, NULL, 1 },
  { "state-dir", required_argument, NULL, 1 },
  { "nvme-nqn-prefix", required_argument, NULL, 1 },
  { "device-types", required_argument, NULL, 1 },
  { "reserve", required_argument, NULL, 1 },
  { "extent-size", required_argument, NULL, 1 },
  { "workers", required_argument, NULL, 1 },
  { "small-batch", required_argument, NULL, 1 },
  { "write-ack", required_argument, NULL, 1 },
  { "scrub-interval", required_argument, NULL, 1 },
  { "scrub-rate", required_argument, NULL, 1 },
  { "driver-copies", required_argument, NULL, 1 },
  { "small-max", required_argument, NULL, 1 },
  { "small-staging", required_argument, NULL, 1 },
  { "save-staging", required_argument, NULL, 1 },
  { "thin-chunk", required_argument, NULL, 1 },
  { "thin-stock", required_argument, NULL, 1 },
  { "yield-floor", required_argument, NULL, 1 },
  { "volume", required_argument, NULL, 1 },
  { "verbose", no_argument, NULL, 'v' },
  { "list-devices", no_argument, NULL, 'l' },
  { "json", no_argument, NULL, 'j' },
  { "version", no_argument, NULL, 'V' },
  { "help", no_argument, NULL, 'h' },
};
#define DAEMON_OPTS (sizeof daemon_opts / sizeof daemon_opts[0])

/* One option of --help: its value's form and its built-in default. */
static void usage_option(FILE *f, const struct vramd_config *def, const char *key,
                         const char *arg)
{
  char d[160];
  int n = fprintf(f, "  --%s%s%s", key, arg ? " " : "", arg ? arg : "");
  if (!vramd_config_show(def, key, d, sizeof d))
    fprintf(f, "%*sdefault: %s", n < 38 ? 38 - n : 1, "", d);
  fputc('\n', f);
}

/* Print usage to f: every option with its built-in default (from the
 * settings, as vramd_config_defaults() sets them), the daemon's, then
 * each frontend's. */
static void usage(FILE *f)
{
  static struct vramd_config def; /* large; --help runs before any thread */

  vramd_config_defaults(&def, vd_frontends);
  fprintf(f,
    "Usage: vramd [OPTION]...\n"
    "       vramd --list-devices [--json] [--device-types ...]\n"
    "       vramd --version\n"
    "Every option but --config, --list-devices, --json, --version and --help is\n"
    "also a vramd.conf(5) key; vramd(8) says what each does.\n"
    "Options:\n");
  for (size_t i = 0; i < DAEMON_OPTS; i++)
    usage_option(f, &def, daemon_opts[i].name, vramd_config_arg(daemon_opts[i].name));
  fprintf(f, "  SPEC: name=N,size=S[,layout=stripe|concat|mirror][,devices=all|ID+ID][,unit=S]\n"
             "        [,copies=N][,frontend=nbd|ublk|none][,attach=1][,provisioning=thick|thin]\n"
             "        [,index=N]\n");
  for (unsigned i = 0; vd_frontends[i]; i++) {
    const struct vd_frontend_settings *fs = vd_frontends[i]->settings;
    if (!fs)
      continue;
    fprintf(f, "%s:\n", fs->help);
    for (unsigned k = 0; fs->keys[k]; k++)
      usage_option(f, &def, fs->keys[k], fs->args ? fs->args[k] : NULL);
  }
}
/* Every frontend's keys fit after the daemon's (and the end marker). */
#define MAX_OPTS (DAEMON_OPTS + 32)

/* The long options: the daemon's, then each frontend's config keys
 * (each takes a value); false when they do not fit. */
static bool build_opts(struct option opts[MAX_OPTS])
{
  size_t n = DAEMON_OPTS;

  memcpy(opts, daemon_opts, sizeof daemon_opts);
  for (const struct vd_frontend *const *fe = vd_frontends; *fe; fe++)
    for (const char *const *k = (*fe)->settings ? (*fe)->settings->keys : NULL; k && *k; k++) {
      if (n + 1 >= MAX_OPTS)
        return false;
      opts[n++] = (struct option){ *k, required_argument, NULL, 1 };
    }
  opts[n] = (struct option){ NULL, 0, NULL, 0 };
  return true;
}

/* Parse the command line over the config file's settings, keeping the
 * file's own for SIGHUP.  Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct vramd *d)
{
  struct vramd_config *cfg = &d->cfg;
  struct option long_opts[MAX_OPTS];
  char err[512];
  const char *config = NULL;
  int c, idx;

  if (!build_opts(long_opts)) {
    fprintf(stderr, "vramd: the frontends have more options than fit; raise MAX_OPTS\n");
    return 1;
  }
  /* First pass: only --config, so the file is read before other flags. */
  opterr = 0;
  while ((c = getopt_long(argc, argv, "c:vh", long_opts, &idx)) != -1)
    if (c == 'c')
      config = optarg;
  vramd_config_defaults(cfg, vd_frontends);
  if (config)
    snprintf(cfg->config_file, sizeof cfg->config_file, "%s", config);
  if (vramd_config_load(cfg, cfg->config_file, config != NULL, err, sizeof err)) {
    fprintf(stderr, "vramd: %s\n", err);
    return 2;
  }
  d->file_cfg = malloc(sizeof *d->file_cfg);
  if (!d->file_cfg) {
    fprintf(stderr, "vramd: out of memory\n");
    return 1;
  }
  memcpy(d->file_cfg, cfg, sizeof *cfg);
  optind = 1;
  opterr = 1;
  while ((c = getopt_long(argc, argv, "c:vh", long_opts, &idx)) != -1) {
    switch (c) {
    case 'c': break;
    case 1:
      if (vramd_config_set(cfg, long_opts[idx].name, optarg, err, sizeof err)) {
        fprintf(stderr, "vramd: --%s\n", err);
        return 2;
      }
      break;
    case 'v': cfg->verbose = d->verbose_cli = true; break;
    case 'l': cfg->list_devices = true; break;
    case 'j': cfg->json = true; break;
    case 'V': printf("vramd %s\n", PACKAGE_VERSION); return 0;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "vramd: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  /* --json shapes --list-devices' output; alone it would start a daemon
   * that a script meant to ask a question of. */
  if (cfg->json && !cfg->list_devices) {
    fprintf(stderr, "vramd: --json goes with --list-devices (vramd --list-devices --json)\n");
    return 2;
  }
  return -1;
}

/* Create the volumes named in the config and on the command line,
 * stopping early when a stop signal comes. */
static void create_configured(struct vramd *d)
{
  char err[512];
  for (unsigned i = 0; i < d->cfg.nvolumes && !vramd_stop_requested(d); i++)
    if (vramd_volume_create(d, &d->cfg.volumes[i], NULL, NULL, err, sizeof err))
      vd_err("volume %s: %s", d->cfg.volumes[i].name, err);
    else
      vd_info("volume %s created", d->cfg.volumes[i].name);
}

/* Warn when the settings let vramd pin more host memory than the host
 * has (GET /v1 and `vramctl status` show it too). */
static void check_pinned_bound(struct vramd *d)
{
  struct vramd_pinned p;
  char a[32], b[32];

  vramd_pinned(d, &p);
  if (p.host_ram && p.bound > p.host_ram)
    vd_warn("pinned host memory: these settings let vramd pin up to %s, more than the "
            "host's %s of RAM; lower nbd-staging, nbd-max-sessions, small-staging or "
            "save-staging",
            vd_format_size(p.bound, a, sizeof a), vd_format_size(p.host_ram, b, sizeof b));
}

/* Recreate saved volumes and serve the API on the sockets vramd_listen
 * made, which the API then owns (*api_fd and *metrics_fd become -1); -1
 * with err on failure, 0 without serving when a stop signal came. */
static int start_management(struct vramd *d, int *api_fd, int *metrics_fd,
                            char *err, size_t errlen)
{
  int rc;
  if (vramd_state_load(d) == -EINTR || vramd_stop_requested(d))
    return 0;
  vramd_exports_start(d);
  rc = vd_api_start(d, *api_fd, *metrics_fd, &d->api, err, errlen);
  *api_fd = *metrics_fd = -1;
  return rc ? -1 : 0;
}

/* Serve signals until a stop signal, feeding the watchdog and
 * refreshing STATUS. */
static int wait_for_stop(struct vramd *d)
{
  unsigned ms = vramd_tick_ms();
  for (;;) {
    int sig = vramd_signals_wait(d, ms);
    if (sig)
      return sig;
    vramd_notify_watchdog();
    vramd_notify_status(d, NULL);
  }
}

/* Delete every volume, disconnecting clients; their definitions stay
 * saved (no commit). */
static void delete_all(struct vramd *d)
{
  struct vd_volume **vols;
  char err[512];
  int n = vd_registry_list(&d->reg, &vols);
  for (int i = 0; i < n; i++) {
    if (vramd_volume_delete(d, vols[i]->spec.name, true, NULL, err, sizeof err))
      vd_err("volume %s: %s", vols[i]->spec.name, err);
    vd_volume_put(vols[i]);
  }
  if (n >= 0)
    free(vols);
}

int main(int argc, char **argv)
{
  struct vramd d = { .admin_lock = PTHREAD_MUTEX_INITIALIZER,
                     .move_lock = PTHREAD_MUTEX_INITIALIZER,
                     .state_lock = PTHREAD_MUTEX_INITIALIZER };
  struct vd_pool_config pc = { 0 };
  struct vd_engine_config ec = { 0 };
  const char *nbd_socket, *nbd_listen;
  char err[512];
  int rc, api_fd = -1, metrics_fd = -1;

  /* Per-connection state and staging (128 KiB and up) come and go with
   * connections: a fixed threshold keeps them mmapped, so freeing returns
   * them to the kernel instead of leaving them in a thread's malloc arena
   * (glibc's moving threshold would: RSS then grows with connection churn). */
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
  vramd_jobs_init(&d.jobs);
  rc = parse_args(argc, argv, &d);
  if (rc >= 0)
    goto out_cfg;
  if (d.cfg.verbose)
    vd_log_max = VD_LOG_DEBUG;
  if (vramd_journal_start())
    vd_debug("logging to the journal ($JOURNAL_STREAM is stderr), with VOLUME=, DEVICE=, JOB=");
  nbd_socket = vramd_config_str(&d.cfg, "nbd-socket");
  nbd_listen = vramd_config_str(&d.cfg, "nbd-listen");
  vd_debug("settings: config %s, api %s, nbd %s, nbd-listen %s, metrics %s, state %s",
           d.cfg.config_file, d.cfg.api_socket, nbd_socket ? nbd_socket : "off",
           nbd_listen && nbd_listen[0] ? nbd_listen : "off", d.cfg.metrics_listen,
           d.cfg.state_dir);
  /* Before any thread starts, since threads inherit the mask; a short
   * --list-devices keeps the default (a signal ends it). */
  if (!d.cfg.list_devices) {
    vramd_signals_block();
    vd_safety_early(&d.safety);
  }
  pc.types = d.cfg.device_types;
  pc.reserve = d.cfg.reserve;
  pc.reserve_set = d.cfg.reserve_set;
  pc.driver_copies = d.cfg.driver_copies;
  if (vd_pool_open(&pc, &d.pool, err, sizeof err)) {
    vd_err("%s", err);
    rc = 1;
    goto out_cfg;
  }
  if (d.cfg.list_devices) {
    rc = vd_list_devices(d.pool, d.cfg.json) ? 1 : 0;
    goto out_pool;
  }
  rc = 0;
  if (vramd_stop_requested(&d))
    goto out_pool;
  ec.workers_per_device = d.cfg.workers;
  ec.small = d.cfg.small_batch ? VD_SMALL_ON : VD_SMALL_OFF;
  ec.write_ack = d.cfg.write_ack_queued ? VD_ACK_QUEUED : VD_ACK_LANDED;
  ec.small_max = d.cfg.small_max;
  ec.small_stage = d.cfg.small_staging;
  if (vd_engine_start(d.pool, &ec, &d.eng, err, sizeof err)) {
    vd_err("%s", err);
    rc = 1;
    goto out_pool;
  }
  vd_safety_lock_memory(&d.safety);
  vd_registry_init(&d.reg);
  if (vd_copier_open(d.pool, NULL, 2 * VD_COPY_PIECE_DEFAULT, &d.copier, err, sizeof err)) {
    vd_err("cannot set up copies between devices: %s", err);
    rc = 1;
    goto out_engine;
  }
  for (unsigned i = 0; i < vd_pool_count(d.pool); i++)
    vd_device_set_yield_floor(vd_pool_device(d.pool, i), d.cfg.yield_floor);
  if (vd_stock_new(d.pool, d.cfg.thin_chunk, &d.stock) ||
      vd_keeper_start(d.pool, d.stock, d.eng, &d.reg, d.cfg.thin_stock, &d.keeper)) {
    vd_err("cannot start the keeper of thin volumes");
    rc = 1;
    goto out_engine;
  }
  vd_keeper_set_yield(d.keeper, vramd_yield, &d);
  vd_keeper_set_tick(d.keeper, vramd_scrub_tick, &d);
  d.host = (struct vd_frontend_host){ .eng = d.eng, .reg = &d.reg };
  d.started = time(NULL);
  vramd_state_prepare(&d);
  /* The API and metrics sockets first: a port in use stops vramd before
   * any device is exposed. */
  if (vramd_listen(&d, &api_fd, &metrics_fd, err, sizeof err)) {
    vd_err("%s", err);
    rc = 1;
    goto out_frontends;
  }
  if (vramd_frontends_start(&d, err, sizeof err)) {
    vd_err("%s", err);
    rc = 1;
    goto out_frontends;
  }
  check_pinned_bound(&d);
  create_configured(&d);
  if (start_management(&d, &api_fd, &metrics_fd, err, sizeof err)) {
    vd_err("%s", err);
    rc = 1;
    goto out_frontends;
  }
  if (!d.stop_signal) {
    vd_info("ready: %u devices, %u volumes", vd_pool_count(d.pool), d.reg.count);
    vramd_notify_status(&d, "READY=1\n");
  }
  vd_info("signal %d: stopping%s", wait_for_stop(&d),
          d.api ? "" : " before start-up was done");
  vramd_notify_stopping();

out_frontends:
  /* No new requests, then stop the jobs (each at a safe point: they may
   * be moving a volume's data), then drain I/O, then free VRAM last. */
  vd_api_stop(d.api);
  vramd_jobs_stop(&d.jobs);
  if (api_fd >= 0)
    close(api_fd);
  if (metrics_fd >= 0)
    close(metrics_fd);
  vramd_unlisten(&d);
  vramd_exports_stop(&d); /* nvmet holds the devices open */
  vramd_frontends_stop(&d);
  vramd_persist_save_all(&d); /* clients are gone: nothing changes under it */
  delete_all(&d);
out_engine:
  vd_keeper_stop(d.keeper);
  vd_stock_free(d.stock);
  vd_copier_close(d.copier);
  vd_engine_stop(d.eng);
out_pool:
  if (d.stop_signal && !d.eng)
    vd_info("signal %d: stopping before start-up was done", d.stop_signal);
  vd_pool_close(d.pool);
out_cfg:
  free(d.file_cfg);
#if defined(__SANITIZE_ADDRESS__)
  /* An exit handler of the OpenCL runtime ends the process before
   * LeakSanitizer's own one would run: check for leaks here instead. */
  __lsan_do_leak_check();
#endif
  return rc;
}
