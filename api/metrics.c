/* metrics.c: every vramd metric as Prometheus text, read from the live
 * pool, engine and registry at scrape time (nothing is cached). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api.h"
#include "api-internal.h"
#include "config.h"
#include "export-volume.h"
#include "frontend.h"
#include "pinned.h"
#include "state.h"
#include "vramd.h"

static const char *const op_names[4] = { "read", "write", "write_zeroes", "flush" };
/* The label naming a device is gpu, as in DCGM's exporter: node_exporter's
 * device is a block device (ublkb0), which vramd_volume_info joins on. */
#define GPU_LABEL "gpu=\"%s\""

/* One counter family of bytes moved per device, in one direction. */
static void device_bytes(struct vd_buf *b, struct vramd *d, const char *name,
                         const char *help, bool to_device)
{
  char l[64];
  vd_prom_family(b, name, "counter", help);
  for (unsigned i = 0; i < vd_pool_count(d->pool); i++) {
    uint64_t h2d = 0, d2h = 0;
    vd_engine_device_bytes(d->eng, i, &h2d, &d2h);
    snprintf(l, sizeof l, GPU_LABEL, vd_device_info(vd_pool_device(d->pool, i))->id);
    vd_prom_sample(b, name, l, (double)(to_device ? h2d : d2h));
  }
}

/* A counter per device, from the engine. */
static void device_count(struct vd_buf *b, struct vramd *d, const char *name, const char *help,
                         uint64_t (*get)(const struct vd_engine *eng, unsigned dev))
{
  char l[64];
  vd_prom_family(b, name, "counter", help);
  for (unsigned i = 0; i < vd_pool_count(d->pool); i++) {
    snprintf(l, sizeof l, GPU_LABEL, vd_device_info(vd_pool_device(d->pool, i))->id);
    vd_prom_sample(b, name, l, (double)get(d->eng, i));
  }
}

/* Per-device gauges and counters. */
static void device_metrics(struct vramd *d, struct vd_buf *b)
{
  unsigned n = vd_pool_count(d->pool);
  char l[128];

  static const struct { const char *name, *help; } gauges[] = {
    { "vramd_device_memory_bytes", "Memory the device reports (CL_DEVICE_GLOBAL_MEM_SIZE)." },
    { "vramd_device_capacity_bytes", "Bytes volumes may use on the device (free minus reserve)." },
    { "vramd_device_allocated_bytes", "Bytes held by volume extents on the device." },
    { "vramd_device_reserve_bytes", "Bytes held back on the device for other programs." },
    { "vramd_device_yield_floor_bytes",
      "Free memory vramd leaves other processes on the device (0: not watched)." },
    { "vramd_device_yield_short_bytes",
      "What the last yield could not give back: no other device had room for it." },
  };
  for (unsigned g = 0; g < 6; g++) {
    vd_prom_family(b, gauges[g].name, "gauge", gauges[g].help);
    for (unsigned i = 0; i < n; i++) {
      const struct vd_device *dev = vd_pool_device(d->pool, i);
      const struct vd_device_info *in = vd_device_info(dev);
      uint64_t v = g == 0 ? in->total_bytes : g == 1 ? in->capacity_bytes
                 : g == 2 ? vd_device_allocated(dev) : g == 3 ? in->reserve_bytes
                 : g == 4 ? vd_device_yield_floor(dev) : vd_device_yield_short(dev);
      snprintf(l, sizeof l, GPU_LABEL, in->id);
      vd_prom_sample(b, gauges[g].name, l, (double)v);
    }
  }
  vd_prom_family(b, "vramd_device_lost", "gauge", "1 when the device stopped answering.");
  for (unsigned i = 0; i < n; i++) {
    const struct vd_device *dev = vd_pool_device(d->pool, i);
    snprintf(l, sizeof l, GPU_LABEL, vd_device_info(dev)->id);
    vd_prom_sample(b, "vramd_device_lost", l, vd_device_is_lost(dev));
  }
  /* An enum as Prometheus has them: a series per state, 1 for the one it is in. */
  vd_prom_family(b, "vramd_device_state", "gauge",
                 "1 for the state the device is in (active, draining, drained, failed).");
  for (unsigned i = 0; i < n; i++) {
    const struct vd_device *dev = vd_pool_device(d->pool, i);
    enum vd_dev_state now = vd_device_state(dev);
    for (unsigned st = 0; st < VD_DEV_STATES; st++) {
      snprintf(l, sizeof l, GPU_LABEL ",state=\"%s\"", vd_device_info(dev)->id,
               vd_dev_state_name((enum vd_dev_state)st));
      vd_prom_sample(b, "vramd_device_state", l, st == (unsigned)now);
    }
  }
  device_bytes(b, d, "vramd_device_read_bytes_total",
               "Bytes copied from the device to the host.", false);
  device_bytes(b, d, "vramd_device_written_bytes_total",
               "Bytes copied from the host to the device.", true);
  device_count(b, d, "vramd_device_checksum_errors_total",
               "Blocks whose checksum did not match when read from the device (integrity).",
               vd_engine_device_sum_errors);
  device_count(b, d, "vramd_device_parity_repaired_total",
               "Bad blocks reads on the device rebuilt from parity (integrity crc32c+parity).",
               vd_engine_device_par_repaired);
}

/* One family with one sample per volume, from a per-volume getter. */
static void volume_family(struct vd_buf *b, struct vd_volume **vols, int n,
                          const char *name, const char *type, const char *help,
                          uint64_t (*get)(const struct vd_volume *))
{
  char l[160];
  vd_prom_family(b, name, type, help);
  for (int i = 0; i < n; i++) {
    snprintf(l, sizeof l, "volume=\"%s\"", vols[i]->spec.name);
    vd_prom_sample(b, name, l, (double)get(vols[i]));
  }
}

/* Getters for volume_family. */
static uint64_t vol_size(const struct vd_volume *v) { return v->size; }
static uint64_t vol_read(const struct vd_volume *v) { return atomic_load(&v->stats.bytes[VD_OP_READ]); }
static uint64_t vol_written(const struct vd_volume *v) { return atomic_load(&v->stats.bytes[VD_OP_WRITE]); }
static uint64_t vol_zeroed(const struct vd_volume *v) { return atomic_load(&v->stats.bytes[VD_OP_ZERO]); }
static uint64_t vol_clients(const struct vd_volume *v) { return (uint64_t)atomic_load(&v->clients); }
static uint64_t vol_failed(const struct vd_volume *v) { return vd_volume_failed(v); }
static uint64_t vol_degraded(const struct vd_volume *v) { return !strcmp(vd_volume_state(v), "degraded"); }
static uint64_t vol_copies(const struct vd_volume *v) { return v->target.map.copies > 1 ? v->target.map.copies : 1; }
static uint64_t vol_healthy(const struct vd_volume *v)
{
  return vd_volume_failed(v) ? 0 : vd_mirror_healthy((struct vd_target *)&v->target);
}
static uint64_t vol_allocated(const struct vd_volume *v) { return vd_volume_allocated(v); }
static uint64_t vol_enospc(const struct vd_volume *v) { return atomic_load(&v->target.enospc); }
static uint64_t vol_sum_errors(const struct vd_volume *v) { return atomic_load(&v->target.sum_errors); }
static uint64_t vol_sum_repaired(const struct vd_volume *v) { return atomic_load(&v->target.healed); }
static uint64_t vol_par_repaired(const struct vd_volume *v) { return atomic_load(&v->target.par_repaired); }
static uint64_t vol_scrub_blocks(const struct vd_volume *v) { return atomic_load(&v->scrub.blocks); }
static uint64_t vol_scrub_repaired(const struct vd_volume *v) { return atomic_load(&v->scrub.repaired); }
static uint64_t vol_scrub_bad(const struct vd_volume *v) { return atomic_load(&v->scrub.bad); }
static uint64_t vol_scrub_last_bad(const struct vd_volume *v) { return atomic_load(&v->scrub.last_bad); }
static uint64_t vol_scrub_last(const struct vd_volume *v) { return (uint64_t)atomic_load(&v->scrub.last_time); }

/* A per-volume, per-op counter family: requests or errors. */
static void op_family(struct vd_buf *b, struct vd_volume **vols, int n, const char *name,
                      const char *help, bool errors)
{
  char l[200];
  vd_prom_family(b, name, "counter", help);
  for (int i = 0; i < n; i++)
    for (unsigned op = 0; op < 4; op++) {
      const struct vd_volume_stats *st = &vols[i]->stats;
      snprintf(l, sizeof l, "volume=\"%s\",op=\"%s\"", vols[i]->spec.name, op_names[op]);
      vd_prom_sample(b, name, l, (double)atomic_load(errors ? &st->errors[op] : &st->ops[op]));
    }
}

/* vramd_volume_info = 1 per volume, with what joins it to node_exporter's
 * node_disk_*{device="ublkb0"}: the kernel device's name (sysfs), if any. */
static void volume_info(struct vd_buf *b, struct vd_volume **vols, int n)
{
  char l[400];
  vd_prom_family(b, "vramd_volume_info", "gauge",
                 "1 per volume: its frontend, layout and kernel block device.");
  for (int i = 0; i < n; i++) {
    const char *dev = strrchr(vols[i]->device_path, '/');
    snprintf(l, sizeof l, "volume=\"%s\",frontend=\"%s\",layout=\"%s\",device_path=\"%s\","
             "disk=\"%s\"", vols[i]->spec.name, vd_frontend_name(vols[i]->spec.frontend),
             vd_layout_name(vols[i]->spec.layout), vols[i]->device_path, dev ? dev + 1 : "");
    vd_prom_sample(b, "vramd_volume_info", l, 1);
  }
}

/* vramd_volume_export_info per exported volume: 1 while the kernel
 * serves it, 0 while it is kept but down (a start that failed to make it). */
static void export_info(struct vramd *d, struct vd_buf *b, struct vd_volume **vols, int n)
{
  char l[700], nqn[2 * VD_NQN_MAX + 2], port[16];
  vd_prom_family(b, "vramd_volume_export_info", "gauge",
                 "Per NVMe/TCP export: 1 while the kernel serves it, 0 while it is down.");
  for (int i = 0; i < n; i++) {
    if (!vols[i]->spec.export.nqn[0])
      continue;
    snprintf(l, sizeof l, "volume=\"%s\",nqn=\"%s\",address=\"%s\"", vols[i]->spec.name,
             vd_prom_escape(vols[i]->spec.export.nqn, nqn, sizeof nqn),
             vols[i]->spec.export.address);
    vd_prom_sample(b, "vramd_volume_export_info", l, vramd_export_live(d, vols[i], port));
  }
}

/* Per-volume sizes, counters and latency histograms. */
static void volume_metrics(struct vd_buf *b, struct vd_volume **vols, int n)
{
  char l[200];

  volume_info(b, vols, n);
  volume_family(b, vols, n, "vramd_volume_size_bytes", "gauge", "Volume size.", vol_size);
  volume_family(b, vols, n, "vramd_volume_allocated_bytes", "gauge",
                "VRAM the volume holds: its size when thick, its chunks when thin.", vol_allocated);
  volume_family(b, vols, n, "vramd_volume_enospc_total", "counter",
                "Writes refused because no device had room for a new thin chunk.", vol_enospc);
  volume_family(b, vols, n, "vramd_volume_checksum_errors_total", "counter",
                "Reads that found a block whose checksum did not match (integrity): each "
                "failed with EIO, or on a mirror was served from another copy.", vol_sum_errors);
  volume_family(b, vols, n, "vramd_volume_checksum_repaired_total", "counter",
                "Mirror: ranges with a bad block rewritten on their copy from a copy in sync.",
                vol_sum_repaired);
  volume_family(b, vols, n, "vramd_volume_parity_repaired_total", "counter",
                "Parity: bad blocks reads rebuilt from their group's parity, rewrote and "
                "returned good (integrity crc32c+parity).", vol_par_repaired);
  volume_family(b, vols, n, "vramd_volume_scrub_blocks_total", "counter",
                "Blocks scrubs checked against their checksums.", vol_scrub_blocks);
  volume_family(b, vols, n, "vramd_volume_scrub_bad_blocks_total", "counter",
                "Bad blocks scrubs found (confirmed by a read).", vol_scrub_bad);
  volume_family(b, vols, n, "vramd_volume_scrub_repaired_blocks_total", "counter",
                "Mirror: bad blocks scrubs found and rewrote from a copy in sync.",
                vol_scrub_repaired);
  volume_family(b, vols, n, "vramd_volume_scrub_last_bad_blocks", "gauge",
                "Bad blocks the last finished scrub found.", vol_scrub_last_bad);
  volume_family(b, vols, n, "vramd_volume_scrub_last_time_seconds", "gauge",
                "When the last scrub finished (unix time; 0: never).", vol_scrub_last);
  volume_family(b, vols, n, "vramd_volume_clients", "gauge",
                "Open frontend connections to the volume.", vol_clients);
  volume_family(b, vols, n, "vramd_volume_failed", "gauge",
                "1 when a device of the volume is lost (a mirror: every copy of some byte): "
                "every request gets EIO.", vol_failed);
  volume_family(b, vols, n, "vramd_volume_degraded", "gauge",
                "1 when a mirror serves with a copy out of sync until repaired.", vol_degraded);
  volume_family(b, vols, n, "vramd_volume_copies", "gauge",
                "Copies of each byte the volume keeps (1 unless a mirror).", vol_copies);
  volume_family(b, vols, n, "vramd_volume_copies_healthy", "gauge",
                "Copies in sync of its least covered byte.", vol_healthy);
  volume_family(b, vols, n, "vramd_volume_read_bytes_total", "counter",
                "Bytes read from the volume.", vol_read);
  volume_family(b, vols, n, "vramd_volume_written_bytes_total", "counter",
                "Bytes written to the volume.", vol_written);
  volume_family(b, vols, n, "vramd_volume_zeroed_bytes_total", "counter",
                "Bytes zeroed or trimmed on the volume.", vol_zeroed);
  op_family(b, vols, n, "vramd_volume_requests_total",
            "Requests finished, by operation (failed ones included).", false);
  op_family(b, vols, n, "vramd_volume_errors_total", "Requests that failed, by operation.", true);
  vd_prom_family(b, "vramd_volume_request_duration_seconds", "histogram",
                 "Time from submission to completion of successful requests.");
  for (int i = 0; i < n; i++)
    for (unsigned op = 0; op < 4; op++) {
      uint64_t counts[VD_LAT_BUCKETS];
      for (unsigned k = 0; k < VD_LAT_BUCKETS; k++)
        counts[k] = atomic_load(&vols[i]->stats.lat_count[op][k]);
      snprintf(l, sizeof l, "volume=\"%s\",op=\"%s\"", vols[i]->spec.name, op_names[op]);
      vd_prom_histogram(b, "vramd_volume_request_duration_seconds", l, counts,
                        vd_lat_bounds, VD_LAT_BUCKETS,
                        (double)atomic_load(&vols[i]->stats.lat_sum_ns[op]) / 1e9);
    }
}

/* Connections per frontend: the sum of its volumes' clients. */
static void frontend_metrics(const struct vd_frontend *const *fes, struct vd_buf *b,
                             struct vd_volume **vols, int n)
{
  char l[64];
  vd_prom_family(b, "vramd_frontend_connections", "gauge",
                 "Open client connections, by frontend.");
  for (const struct vd_frontend *const *fe = fes; *fe; fe++) {
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
      if (vols[i]->spec.frontend == (*fe)->kind)
        sum += (uint64_t)atomic_load(&vols[i]->clients);
    snprintf(l, sizeof l, "frontend=\"%s\"", (*fe)->name);
    vd_prom_sample(b, "vramd_frontend_connections", l, (double)sum);
  }
}

/* Count entries of /proc/self/fd. */
static unsigned open_fds(void)
{
  DIR *dir = opendir("/proc/self/fd");
  unsigned n = 0;
  if (!dir)
    return 0;
  while (readdir(dir))
    n++;
  closedir(dir);
  return n > 3 ? n - 3 : 0; /* ".", ".." and the directory's own fd */
}

/* The standard process_* metrics every exporter has. */
static void process_metrics(struct vramd *d, struct vd_buf *b)
{
  struct rusage ru;
  struct rlimit rl;
  unsigned long long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "re");

  if (f) {
    if (fscanf(f, "%llu %llu", &pages, &rss) != 2)
      pages = rss = 0;
    fclose(f);
  }
  getrusage(RUSAGE_SELF, &ru);
  vd_prom_family(b, "process_start_time_seconds", "gauge", "Start time since the epoch.");
  vd_prom_sample(b, "process_start_time_seconds", "", (double)d->started);
  vd_prom_family(b, "process_resident_memory_bytes", "gauge", "Resident memory.");
  vd_prom_sample(b, "process_resident_memory_bytes", "", (double)rss * (double)sysconf(_SC_PAGESIZE));
  vd_prom_family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory.");
  vd_prom_sample(b, "process_virtual_memory_bytes", "", (double)pages * (double)sysconf(_SC_PAGESIZE));
  vd_prom_family(b, "process_cpu_seconds_total", "counter", "User and system CPU time.");
  vd_prom_sample(b, "process_cpu_seconds_total", "",
                 (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  vd_prom_family(b, "process_open_fds", "gauge", "Open file descriptors.");
  vd_prom_sample(b, "process_open_fds", "", open_fds());
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    vd_prom_family(b, "process_max_fds", "gauge", "Limit on open file descriptors.");
    vd_prom_sample(b, "process_max_fds", "", (double)rl.rlim_cur);
  }
}

/* Render the whole scrape. */
void vd_metrics_render(struct vramd *d, struct vd_buf *b)
{
  struct vd_volume **vols = NULL;
  int n = vd_registry_list(&d->reg, &vols);
  uint64_t cap = 0, alloc = 0, virt, unbacked;
  struct vramd_pinned pinned;
  char e[400];

  vd_prom_family(b, "vramd_build_info", "gauge", "Always 1; the labels say which build runs.");
  vd_prom_sample(b, "vramd_build_info", "version=\"" PACKAGE_VERSION "\"", 1);
  device_metrics(d, b);
  for (unsigned i = 0; i < vd_pool_count(d->pool); i++) {
    cap += vd_device_info(vd_pool_device(d->pool, i))->capacity_bytes;
    alloc += vd_device_allocated(vd_pool_device(d->pool, i));
  }
  vd_prom_family(b, "vramd_pool_capacity_bytes", "gauge", "Capacity of every device together.");
  vd_prom_sample(b, "vramd_pool_capacity_bytes", "", (double)cap);
  vd_prom_family(b, "vramd_pool_allocated_bytes", "gauge", "Bytes held by volumes together.");
  vd_prom_sample(b, "vramd_pool_allocated_bytes", "", (double)alloc);
  vd_api_pool_virtual(d, &virt, &unbacked);
  vd_prom_family(b, "vramd_pool_virtual_bytes", "gauge",
                 "Every volume's size together, thin volumes' whole virtual size included.");
  vd_prom_sample(b, "vramd_pool_virtual_bytes", "", (double)virt);
  vd_prom_family(b, "vramd_pool_overcommit_ratio", "gauge",
                 "Virtual size over capacity: above 1, thin volumes promise more than fits.");
  vd_prom_sample(b, "vramd_pool_overcommit_ratio", "", vd_api_overcommit(virt, cap));
  vd_prom_family(b, "vramd_thin_stock_chunks", "gauge",
                 "Zeroed chunks held ready on the device for thin volumes' first writes.");
  for (unsigned i = 0; i < vd_pool_count(d->pool); i++) {
    snprintf(e, sizeof e, GPU_LABEL, vd_device_info(vd_pool_device(d->pool, i))->id);
    vd_prom_sample(b, "vramd_thin_stock_chunks", e, vd_stock_count(d->stock, i));
  }
  vd_prom_family(b, "vramd_pinned_host_bytes", "gauge",
                 "Page-locked host memory held for staging (NBD sessions, ublk queues, "
                 "the engine's small-request batches).");
  vramd_pinned(d, &pinned);
  vd_prom_sample(b, "vramd_pinned_host_bytes", "", (double)pinned.held);
  vd_prom_family(b, "vramd_state_saving", "gauge",
                 "1 while volume definitions are saved; 0 after a save failed (creates "
                 "and deletes are refused until one works).");
  vd_prom_sample(b, "vramd_state_saving", "", vramd_state_health(d, e, sizeof e));
  vd_prom_family(b, "vramd_volumes", "gauge", "Volumes defined.");
  vd_prom_sample(b, "vramd_volumes", "", n < 0 ? 0 : n);
  if (n > 0) {
    volume_metrics(b, vols, n);
    export_info(d, b, vols, n);
    frontend_metrics(d->cfg.frontends, b, vols, n);
  } else {
    frontend_metrics(d->cfg.frontends, b, vols, 0);
  }
  for (int i = 0; i < n; i++)
    vd_volume_put(vols[i]);
  if (n >= 0)
    free(vols);
  process_metrics(d, b);
}
