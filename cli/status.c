/* status.c: vramctl status: the daemon, the pool, devices and volumes. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vramctl.h"

/* "3d 4h", "2h 5m", "4m 10s": how long since the epoch second started. */
static const char *uptime(json_t *root, char *buf, size_t len)
{
  long long s = (long long)time(NULL) - (long long)vctl_u64(root, "started");
  if (!json_is_integer(json_object_get(root, "started")) || s < 0)
    snprintf(buf, len, "?");
  else if (s >= 86400)
    snprintf(buf, len, "%lldd %lldh", s / 86400, s % 86400 / 3600);
  else if (s >= 3600)
    snprintf(buf, len, "%lldh %lldm", s / 3600, s % 3600 / 60);
  else
    snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
  return buf;
}

/* One "name yes/no" item of GET /v1's "safety" object, or "?" if absent. */
static const char *yes_no(json_t *safety, const char *key)
{
  json_t *v = json_object_get(safety, key);
  return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "NO") : "?";
}

/* Swap safety (mlockall, PR_SET_IO_FLUSHER, oom_score_adj) as GET /v1
 * reports it in "safety"; older daemons do not, and say so.  Adds to
 * *warnings what is not in place. */
static void print_safety(json_t *root, int *warnings)
{
  json_t *s = json_object_get(root, "safety");
  if (!json_is_object(s)) {
    printf("swap safety: not reported by this vramd (GET /v1 has no \"safety\")\n");
    return;
  }
  printf("swap safety: mlockall %s, IO_FLUSHER %s, oom_score_adj %lld\n", yes_no(s, "mlocked"),
         yes_no(s, "io_flusher"), json_integer_value(json_object_get(s, "oom_score_adj")));
  *warnings += !json_is_true(json_object_get(s, "mlocked")) +
               !json_is_true(json_object_get(s, "io_flusher")) +
               (json_integer_value(json_object_get(s, "oom_score_adj")) != -1000);
}

/* One frontend's line of "pinned_host": per session or queue, how many. */
static void print_pinned_frontend(const char *name, json_t *f)
{
  char a[32], b[32], c[32];
  const char *per = vctl_str(f, "per", "unit");

  if (!json_is_object(f))
    return;
  printf("  %s: %s per %s", name, vctl_size(f, "staging_bytes", a, sizeof a), per);
  if (json_object_get(f, "max"))
    printf(" x %llu %ss max", vctl_u64(f, "max"), per);
  if (json_object_get(f, "max_per_volume"))
    printf(" x up to %llu per volume", vctl_u64(f, "max_per_volume"));
  printf(" (requests up to %s); %llu now, %s held\n",
         vctl_size(f, "max_request_bytes", b, sizeof b), vctl_u64(f, "now"),
         vctl_size(f, "held_bytes", c, sizeof c));
}

/* Pinned host memory as GET /v1 reports it in "pinned_host": held, the
 * settings' bound, and each part; older daemons do not, and say so. */
static void print_pinned(json_t *root)
{
  json_t *p = json_object_get(root, "pinned_host"), *e = json_object_get(p, "engine");
  char a[32], b[32], c[32];

  if (!json_is_object(p)) {
    printf("pinned host memory: not reported by this vramd (GET /v1 has no \"pinned_host\")\n");
    return;
  }
  printf("pinned host memory: %s held, at most %s with these settings\n",
         vctl_size(p, "held_bytes", a, sizeof a), vctl_size(p, "bound_bytes", b, sizeof b));
  print_pinned_frontend("nbd", json_object_get(p, "nbd"));
  print_pinned_frontend("ublk", json_object_get(p, "ublk"));
  if (json_is_object(e))
    printf("  engine: small-request batching %s, segments up to %s; %s per worker "
           "x %llu workers; %s held\n", json_is_true(json_object_get(e, "small_batch")) ?
           "on" : "off", vctl_size(e, "small_max_bytes", a, sizeof a),
           vctl_size(e, "staging_bytes", b, sizeof b), vctl_u64(e, "workers"),
           vctl_size(e, "held_bytes", c, sizeof c));
  if (json_is_object(json_object_get(p, "save")))
    printf("  save, load, restore: %s per job x %llu jobs at once; %s held\n",
           vctl_size(json_object_get(p, "save"), "staging_bytes", a, sizeof a),
           vctl_u64(json_object_get(p, "save"), "jobs"),
           vctl_size(json_object_get(p, "save"), "held_bytes", c, sizeof c));
}

/* Print " NAME" for each volume on device id in state st; how many. */
static int print_on(json_t *vols, const char *id, const char *st)
{
  size_t j, k;
  json_t *vol, *on;
  int n = 0;

  json_array_foreach(vols, j, vol) {
    if (strcmp(vctl_str(vol, "state", ""), st))
      continue;
    json_array_foreach(json_object_get(vol, "devices"), k, on)
      if (json_is_string(on) && !strcmp(json_string_value(on), id)) {
        printf(" %s", vctl_str(vol, "name", "?"));
        n++;
      }
  }
  return n;
}

/* One warning per lost device, naming the volumes that failed with it
 * and the mirrors that serve on without it. */
static int print_lost(json_t *devs, json_t *vols)
{
  size_t i, j, k;
  json_t *dev, *vol, *on;
  int n = 0;

  json_array_foreach(devs, i, dev) {
    const char *id = vctl_str(dev, "id", "?");
    bool mirrored = false;
    if (!json_is_true(json_object_get(dev, "lost")))
      continue;
    printf("\n  device %s lost: its volumes fail every request with EIO (failed:", id);
    print_on(vols, id, "failed");
    printf("); delete them, and restart vramd once the device is back");
    json_array_foreach(vols, j, vol)
      if (!strcmp(vctl_str(vol, "state", ""), "degraded"))
        json_array_foreach(json_object_get(vol, "devices"), k, on)
          mirrored |= json_is_string(on) && !strcmp(json_string_value(on), id);
    if (mirrored) {
      printf("\n  mirrors that lost a copy on %s serve from the others (degraded:", id);
      print_on(vols, id, "degraded");
      printf("): 'vramctl volume repair' rebuilds the copy");
    }
    n++;
  }
  return n;
}

/* A line per volume whose checksums found something: reads that failed
 * with EIO and blocks the last scrub could not repair; another for bad
 * blocks repaired (by reads, and in the last scrub: a scrub repairs
 * through reads, so the two may count the same block). */
static int print_integrity(json_t *vols)
{
  size_t i;
  json_t *vol;
  int n = 0;

  json_array_foreach(vols, i, vol) {
    json_t *sc = json_object_get(vol, "scrub");
    unsigned long long errs = vctl_u64(vol, "checksum_errors");
    unsigned long long bad = vctl_u64(sc, "last_bad_blocks");
    unsigned long long fixed = vctl_u64(sc, "last_repaired_blocks");
    unsigned long long healed =
        vctl_u64(vol, "checksum_repaired") + vctl_u64(vol, "parity_repaired");
    if (errs || bad > fixed) {
      printf("\n  volume %s: data in VRAM changed since it was written: %llu reads failed "
             "with EIO, the last scrub found %llu bad blocks it could not repair (see "
             "docs/integrity.md)", vctl_str(vol, "name", "?"), errs, bad - fixed);
      n++;
    }
    if (healed || fixed) {
      printf("\n  volume %s: bad blocks were repaired (%llu since start, %llu in the last "
             "scrub): the memory under it changes; watch its device",
             vctl_str(vol, "name", "?"), healed, fixed);
      n++;
    }
  }
  return n;
}

/* A line per device that takes no new volumes but is not lost (draining,
 * drained), holds allocations inside a reserve raised since, or could not
 * give back what another process wanted (a yield with nowhere to go). */
static int print_placement(json_t *devs)
{
  size_t i;
  json_t *dev;
  char b[32];
  int n = 0;

  json_array_foreach(devs, i, dev) {
    const char *st = vctl_str(dev, "state", "active");
    if (strcmp(st, "active") && strcmp(st, "failed") && ++n)
      printf("\n  device %s is %s: it takes no new allocations", vctl_str(dev, "id", "?"), st);
    if (vctl_u64(dev, "inside_reserve_bytes") && ++n)
      printf("\n  device %s holds %s inside its reserve (raised since it was allocated); a "
             "drain moves it", vctl_str(dev, "id", "?"),
             vctl_size(dev, "inside_reserve_bytes", b, sizeof b));
    if (vctl_u64(dev, "yield_short_bytes") && ++n)
      printf("\n  device %s: another process wants %s more than vramd could move elsewhere "
             "(no room); vramd keeps serving it there", vctl_str(dev, "id", "?"),
             vctl_size(dev, "yield_short_bytes", b, sizeof b));
  }
  return n;
}

/* Where NBD clients connect, and whether TCP ones must use TLS. */
static void print_nbd(json_t *root)
{
  const char *tcp = vctl_str(root, "nbd_listen", NULL);
  if (!json_is_string(json_object_get(root, "nbd_socket")))
    return;
  printf("nbd: %s", vctl_str(root, "nbd_socket", "?"));
  if (tcp)
    printf(" and TCP %s", tcp);
  if (json_is_string(json_object_get(root, "nbd_tls")))
    printf(", TLS %s", vctl_str(root, "nbd_tls", "?"));
  printf("\n");
}

/* An NBD TCP listener that serves clients without TLS: one warning. */
static int print_nbd_exposure(json_t *root)
{
  const char *tcp = vctl_str(root, "nbd_listen", NULL), *tls = vctl_str(root, "nbd_tls", "off");
  if (!tcp || !strcmp(tls, "require"))
    return 0;
  if (!strcmp(tls, "on"))
    printf("\n  NBD over TCP (%s) also serves clients that skip TLS (nbd-tls = on): set "
           "nbd-tls = require to refuse them", tcp);
  else
    printf("\n  NBD over TCP (%s) without TLS: anyone who can reach it can read and write "
           "every NBD volume; set nbd-tls = require (vramd.conf(5))", tcp);
  return 1;
}

/* Warnings an operator should act on. */
static void print_warnings(json_t *root, json_t *pool, json_t *devs, json_t *vols,
                           int safety_warnings)
{
  json_t *st = json_object_get(root, "state"), *p = json_object_get(root, "pinned_host");
  char a[32], b[32];
  int n = 0;
  printf("warnings:");
  n += print_lost(devs, vols);
  n += print_placement(devs);
  n += print_integrity(vols);
  n += print_nbd_exposure(root);
  if (json_is_false(json_object_get(st, "saving")) && ++n)
    printf("\n  volume definitions are NOT saved (%s): creates and deletes are refused",
           vctl_str(st, "error", "?"));
  if (vctl_u64(p, "host_ram_bytes") &&
      vctl_u64(p, "bound_bytes") > vctl_u64(p, "host_ram_bytes") && ++n)
    printf("\n  pinned host memory may reach %s, more than the host's %s of RAM: lower "
           "nbd-staging, nbd-max-sessions, small-staging or save-staging",
           vctl_size(p, "bound_bytes", a, sizeof a), vctl_size(p, "host_ram_bytes", b, sizeof b));
  if (json_is_true(json_object_get(root, "cpu_fallback")) && ++n)
    printf("\n  no GPU or accelerator found: volumes use CPU devices (host RAM)");
  if (safety_warnings && ++n)
    printf("\n  swap safety incomplete: do not put swap on vramd volumes (see vramd(8), SYSTEMD)");
  if (vctl_u64(pool, "devices") == 0 && ++n)
    printf("\n  no devices: install an OpenCL driver (ICD) for the GPUs");
  printf("%s\n\n", n ? "" : " none");
}

/* vramctl status. */
static int run(struct vctl *g, int argc, char **argv)
{
  json_t *root = NULL, *pool = NULL, *devs = NULL, *vols = NULL;
  char c1[32], c2[32], c3[32], up[32];
  int rc, safety_warnings = 0;

  if ((rc = vctl_no_opts(g, argc, argv)) >= 0)
    return rc;
  rc = VCTL_FAILED;
  if (vctl_get(g, "/v1", &root) >= 0 || vctl_get(g, "/v1/pool", &pool) >= 0 ||
      vctl_get(g, "/v1/devices", &devs) >= 0 || vctl_get(g, "/v1/volumes", &vols) >= 0)
    goto out_put;
  if (g->json) {
    rc = vctl_print_json(json_pack("{s:O, s:O, s:O, s:O}", "vramd", root, "pool", pool,
                                   "devices", json_object_get(devs, "devices"),
                                   "volumes", json_object_get(vols, "volumes")));
    goto out_put;
  }
  printf("vramd %s on %s, up %s%s\n", vctl_str(root, "version", "?"), g->socket,
         uptime(root, up, sizeof up),
         json_is_true(json_object_get(root, "cpu_fallback")) ? " (CPU devices: no GPU found)" : "");
  print_safety(root, &safety_warnings);
  print_nbd(root);
  print_pinned(root);
  if (json_is_object(json_object_get(root, "state")))
    printf("volume definitions: %s in %s\n",
           json_is_true(json_object_get(json_object_get(root, "state"), "saving")) ?
           "saved" : "NOT saved", vctl_str(json_object_get(root, "state"), "dir", "?"));
  print_warnings(root, pool, json_object_get(devs, "devices"),
                 json_object_get(vols, "volumes"), safety_warnings);
  printf("pool: %llu devices, %s capacity, %s allocated, %s available; %llu volumes",
         vctl_u64(pool, "devices"), vctl_size(pool, "capacity_bytes", c1, sizeof c1),
         vctl_size(pool, "allocated_bytes", c2, sizeof c2),
         vctl_size(pool, "available_bytes", c3, sizeof c3), vctl_u64(pool, "volumes"));
  /* Thin volumes promise more than they hold: say how much, and the ratio. */
  if (vctl_u64(pool, "thin_unbacked_bytes"))
    printf(" of %s virtual (over-commit %.2f)",
           vctl_size(pool, "virtual_bytes", c1, sizeof c1),
           json_number_value(json_object_get(pool, "overcommit_ratio")));
  printf("\n\n");
  vctl_print_devices(json_object_get(devs, "devices"));
  printf("\n");
  vctl_print_volumes(json_object_get(vols, "volumes"));
  rc = VCTL_OK;

out_put:
  json_decref(root);
  json_decref(pool);
  json_decref(devs);
  json_decref(vols);
  return rc;
}

const struct vctl_cmd vctl_cmd_status = {
  "status", NULL, run, "status",
  "Shows vramd's version and uptime, swap safety (mlockall, IO_FLUSHER,\n"
  "oom_score_adj), the NBD listeners and nbd-tls, pinned host memory, warnings\n"
  "to act on, the pool, and the\n"
  "devices and volumes as 'device list' and 'volume list' print them.",
  NULL, 0,
};
