/* engine-bench.c: in-process engine benchmark, no frontend in the way.
 * Sequential and random reads and writes at several block sizes, on one
 * device and striped over all of them (and, with --mirror N, mirrored over
 * them in N copies), with a verify pass at the end, then for volumes with
 * integrity a timed scrub (with --scrub-load, also beside a 4 KiB random
 * job, in pieces of each size given); with --latency, QD1 latency instead (engine-lat.c). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine-lat.h"
#include "engine.h"
#include "util.h"
#include "volume.h"

#define MAX_BS 16
#define MAX_QD 16
#define MAX_RES (4 * MAX_BS * MAX_QD * 3) /* one, all, mirror */
#define SECTOR 4096u

struct opts {
  uint64_t size;          /* bytes per device */
  double seconds;
  unsigned qd;            /* the largest of qds */
  unsigned qds[MAX_QD];   /* depths to run each job at */
  unsigned nqd;
  uint64_t bs[MAX_BS];
  unsigned nbs;
  uint64_t unit;
  uint64_t extent;
  unsigned types;
  unsigned workers;
  unsigned batch, depth;
  bool shared_ctx;
  unsigned modes;         /* bit VD_SMALL_OFF / VD_SMALL_ON: engine runs to make */
  uint64_t small_max, small_stage;
  bool one_only, all_only;
  unsigned mirror;        /* copies of a mirror to run the jobs on too; 0: none */
  bool latency;           /* QD1 latency jobs instead of the throughput jobs */
  bool scrub_load;        /* scrubs timed beside a 4 KiB job too */
  uint64_t pieces[8];     /* with it: the scrub's piece sizes to try (0: default) */
  unsigned npieces;
  enum vd_idle_mode idle;
  uint64_t idle_max;
  uint64_t poll_ns;
  unsigned small_min, fill;
  bool profile;           /* print where each device's workers spent the job */
  unsigned integ;         /* bit VD_INTEGRITY_*: volumes to run every job on */
};

struct run;

struct slot {
  struct vd_io io;
  unsigned char *buf;
  uint64_t rng;
  struct run *run;
  atomic_int state;       /* SLOT_* */
};

/* A completion may run inside vd_engine_submit (an idle device moves the
 * request on the submitting thread): then it must not submit again from
 * there, or the stack grows with every request.  It marks the slot and
 * slot_go's loop submits the next request. */
enum { SLOT_IDLE, SLOT_SUBMITTING, SLOT_AGAIN };

struct run {
  struct vd_engine *eng;
  struct vd_volume *vol;
  enum vd_op op;
  bool random;
  uint64_t bs;
  atomic_uint_fast64_t next_off;
  atomic_uint_fast64_t ops;
  atomic_int inflight;
  atomic_int errors;
  atomic_bool stop;
  pthread_mutex_t lock;
  pthread_cond_t cv;
};

static const uint64_t fill_word = 0x5a17c0de5eedf00dull;

/* Seconds on the monotonic clock. */
static double now(void)
{
  return (double)vd_now_ns() / 1e9;
}

/* Stamp each sector of buf with its volume offset (rest is fill_word). */
static void stamp(unsigned char *buf, uint64_t off, uint64_t len)
{
  for (uint64_t s = 0; s < len; s += SECTOR) {
    uint64_t v = off + s;
    memcpy(buf + s, &v, sizeof v);
  }
}

/* Count sectors of buf that do not hold what stamp() wrote at off. */
static uint64_t check(const unsigned char *buf, uint64_t off, uint64_t len)
{
  uint64_t bad = 0;
  for (uint64_t s = 0; s < len; s += SECTOR) {
    uint64_t v, w;
    memcpy(&v, buf + s, sizeof v);
    memcpy(&w, buf + s + 8, sizeof w);
    bad += v != off + s || w != fill_word;
  }
  return bad;
}

/* Pick the slot's next offset. */
static uint64_t next_offset(struct slot *s)
{
  struct run *r = s->run;
  uint64_t blocks = r->vol->size / r->bs;
  if (r->random) {
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (s->rng % blocks) * r->bs;
  }
  return (atomic_fetch_add(&r->next_off, 1) % blocks) * r->bs;
}

/* The slot is out of the run: the last thing anyone does with it. */
static void slot_retire(struct slot *s)
{
  struct run *r = s->run;
  pthread_mutex_lock(&r->lock);
  if (atomic_fetch_sub(&r->inflight, 1) == 1)
    pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->lock);
}

/* Submit the slot's next request, again while the last one completed
 * inside vd_engine_submit, and retire it once the run stops. */
static void slot_go(struct slot *s)
{
  for (;;) {
    int st = SLOT_SUBMITTING;
    if (atomic_load(&s->run->stop)) {
      slot_retire(s);
      return;
    }
    s->io.off = next_offset(s);
    if (s->io.op == VD_OP_WRITE)
      stamp(s->buf, s->io.off, s->io.len);
    atomic_store(&s->state, SLOT_SUBMITTING);
    vd_engine_submit(s->run->eng, &s->io);
    /* Not completed yet: slot_done goes on from another thread. */
    if (atomic_compare_exchange_strong(&s->state, &st, SLOT_IDLE))
      return;
  }
}

/* Completion: count, then go again (or retire) unless the submitter is
 * still inside vd_engine_submit, whose loop then does it. */
static void slot_done(struct vd_io *io, int err)
{
  struct slot *s = io->priv;
  struct run *r = s->run;
  int st = SLOT_SUBMITTING;
  if (err)
    atomic_fetch_add(&r->errors, 1);
  atomic_fetch_add(&r->ops, 1);
  if (!atomic_compare_exchange_strong(&s->state, &st, SLOT_AGAIN))
    slot_go(s);
}

/* Run one job for a while; returns ops per second, or -1 on errors. */
static double run_job(struct run *r, struct slot *slots, unsigned qd, double secs)
{
  double t0, t1;
  atomic_store(&r->ops, 0);
  atomic_store(&r->stop, false);
  atomic_store(&r->errors, 0);
  atomic_store(&r->inflight, (int)qd);
  t0 = now();
  for (unsigned i = 0; i < qd; i++) {
    slots[i].io.op = r->op;
    slots[i].io.len = r->bs;
    slots[i].io.target = &r->vol->target;
    slot_go(&slots[i]);
  }
  usleep((useconds_t)(secs * 1e6));
  atomic_store(&r->stop, true);
  pthread_mutex_lock(&r->lock);
  while (atomic_load(&r->inflight) > 0)
    pthread_cond_wait(&r->cv, &r->lock);
  pthread_mutex_unlock(&r->lock);
  t1 = now();
  return atomic_load(&r->errors) ? -1 : (double)atomic_load(&r->ops) / (t1 - t0);
}

/* Write the whole volume with stamped data, or read it and check it. */
static int fill_or_verify(struct vd_engine *eng, struct vd_volume *v, unsigned char *buf,
                          uint64_t chunk, bool verify, uint64_t *bad)
{
  for (uint64_t off = 0; off < v->size; off += chunk) {
    uint64_t n = v->size - off < chunk ? v->size - off : chunk;
    if (!verify)
      stamp(buf, off, n);
    if (vd_engine_rw(eng, &v->target, verify ? VD_OP_READ : VD_OP_WRITE, off, n, buf))
      return -EIO;
    if (verify)
      *bad += check(buf, off, n);
  }
  return 0;
}

/* Peak resident memory of this process, in KiB. */
static long peak_rss_kib(void)
{
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
      break;
  if (f)
    fclose(f);
  return kb;
}

struct result { char cfg[8]; const char *job; uint64_t bs; unsigned qd; double gbs, iops; };

/* Print where each of ndev devices' workers spent a job, from profile
 * snapshots before (a) and after (b) it: per part and as a share of the
 * job's wall time. */
static void print_profile(const char *label, const char *job, unsigned ndev, double secs,
                          const struct vd_engine_profile *a, const struct vd_engine_profile *b)
{
  for (unsigned d = 0; d < ndev; d++) {
#define D(f) ((double)(b[d].f - a[d].f))
    double parts = D(parts) > 0 ? D(parts) : 1, wall = secs * 1e9;
    printf("# profile %s %s dev%u: %.0f batches, %.1f parts each; per part: queue %.2f us, "
           "wait %.2f us, complete %.2f us; %% of time: queue %.0f, wait %.0f, complete %.0f, "
           "poll %.0f, asleep %.0f (%.0f sleeps, %.0f wake-ups sent)\n",
           label, job, d, D(batches), D(batches) > 0 ? D(parts) / D(batches) : 0,
           D(enqueue_ns) / parts / 1e3, D(wait_ns) / parts / 1e3, D(complete_ns) / parts / 1e3,
           100 * D(enqueue_ns) / wall, 100 * D(wait_ns) / wall, 100 * D(complete_ns) / wall,
           100 * D(poll_ns) / wall, 100 * D(sleep_ns) / wall, D(sleeps), D(signals));
#undef D
  }
}

/* Scrubs of one volume, one after another, until stop: those that end
 * before it count. */
struct scrub_loop {
  struct vd_engine *eng;
  struct vd_volume *v;
  uint64_t piece;
  atomic_bool stop;
  unsigned done;
  double t0, t_last;
  int rc;
};

/* The thread of a scrub_loop. */
static void *scrub_loop_main(void *arg)
{
  struct scrub_loop *l = arg;
  char err[256];

  l->t0 = l->t_last = now();
  while (!atomic_load(&l->stop)) {
    struct vd_scrub_ctl sc = { .eng = l->eng, .piece = l->piece };
    if (vd_volume_scrub(&sc, l->v, err, sizeof err) || sc.bad) {
      fprintf(stderr, "engine-bench: scrub under load: %s (%llu bad)\n",
              sc.bad ? "bad blocks" : err, (unsigned long long)sc.bad);
      l->rc = -1;
      break;
    }
    if (atomic_load(&l->stop))
      break;
    l->done++;
    l->t_last = now();
  }
  return NULL;
}

/* The scrub rate while a 4 KiB random job runs (read, then write), and
 * the job's IOPS meanwhile. */
static int scrub_under_load(struct vd_engine *eng, struct vd_volume *v, struct run *r,
                            struct slot *slots, const struct opts *o, const char *label,
                            unsigned ndev)
{
  static const enum vd_op ops[] = { VD_OP_READ, VD_OP_WRITE };
  unsigned np = o->npieces ? o->npieces : 1;

  for (unsigned i = 0; i < 2 * np; i++) {
    struct scrub_loop l = { .eng = eng, .v = v, .piece = o->pieces[i / 2] };
    char psz[32];
    pthread_t th;
    double iops;

    r->op = ops[i % 2];
    r->random = true;
    r->bs = 4096;
    if (pthread_create(&th, NULL, scrub_loop_main, &l))
      return -1;
    iops = run_job(r, slots, o->qds[0], o->seconds);
    atomic_store(&l.stop, true);
    pthread_join(th, NULL);
    if (iops < 0 || l.rc || !l.done)
      return -1;
    printf("# %s: scrub in pieces of %s during 4K rand-%s qd %u: %.2f GB/s (%.2f per device, "
           "%u scrubs), the job %.0f IOPS meanwhile\n", label,
           l.piece ? vd_format_size(l.piece, psz, sizeof psz) : "512 MiB", i % 2 ? "write" : "read",
           o->qds[0],
           (double)v->size * l.done / (l.t_last - l.t0) / 1e9,
           (double)v->size * l.done / (l.t_last - l.t0) / 1e9 / ndev, l.done, iops);
  }
  return 0;
}

/* Benchmark one volume layout (copies > 1: a mirror of that many copies
 * over ndev devices, holding size per device); appends rows to res. */
static int bench_volume(struct vd_pool *pool, struct vd_engine *eng, const struct opts *o,
                        enum vd_integrity integ, const char *label, unsigned ndev,
                        unsigned copies, struct result *res, unsigned *nres)
{
  static const struct { const char *name; enum vd_op op; bool random; } jobs[] = {
    { "seq-write", VD_OP_WRITE, false }, { "seq-read", VD_OP_READ, false },
    { "rand-write", VD_OP_WRITE, true }, { "rand-read", VD_OP_READ, true },
  };
  struct vd_volume_spec spec = { .layout = VD_LAYOUT_STRIPE, .index = -1 };
  struct vd_volume *v;
  struct slot *slots;
  struct run r = { .eng = eng };
  uint64_t maxbs = 0, bad = 0, chunk = 64ull << 20;
  unsigned char *big;
  char err[512], sz[32];
  double t0;
  int rc = 0;

  snprintf(spec.name, sizeof spec.name, "bench-%s", label);
  spec.size = o->size * ndev / copies;
  spec.ndev = ndev;
  spec.stripe_unit = o->unit;
  spec.integrity = integ;
  spec.layout = copies > 1 ? VD_LAYOUT_MIRROR : VD_LAYOUT_STRIPE;
  spec.copies = (int)copies;
  for (unsigned i = 0; i < ndev; i++)
    snprintf(spec.dev_ids[i], VD_DEV_ID_MAX, "%s", vd_device_info(vd_pool_device(pool, i))->id);
  t0 = now();
  if (vd_volume_alloc(pool, NULL, o->extent, &spec, &v, err, sizeof err)) {
    fprintf(stderr, "engine-bench: %s\n", err);
    return -1;
  }
  printf("# %s: %s over %u device(s) in %u cop%s, unit %llu, integrity %s, created and "
         "zeroed in %.2f s\n", label, vd_format_size(v->size, sz, sizeof sz), ndev, copies,
         copies > 1 ? "ies" : "y", (unsigned long long)v->spec.stripe_unit,
         vd_integrity_name(integ), now() - t0);
  for (unsigned i = 0; i < o->nbs; i++)
    maxbs = o->bs[i] > maxbs ? o->bs[i] : maxbs;
  slots = calloc(o->qd, sizeof *slots);
  big = vd_engine_pinned_alloc(eng, chunk);
  if (!slots || !big) {
    fprintf(stderr, "engine-bench: cannot allocate pinned buffers\n");
    rc = -1;
    goto out;
  }
  for (unsigned i = 0; i < o->qd; i++) {
    slots[i].buf = vd_engine_pinned_alloc(eng, maxbs);
    if (!slots[i].buf) {
      fprintf(stderr, "engine-bench: cannot allocate pinned buffers\n");
      rc = -1;
      goto out;
    }
    for (uint64_t w = 0; w < maxbs; w += 8)
      memcpy(slots[i].buf + w, &fill_word, 8);
    slots[i].io.buf = slots[i].buf;
    slots[i].io.done = slot_done;
    slots[i].io.priv = &slots[i];
    slots[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
    slots[i].run = &r;
  }
  for (uint64_t w = 0; w < chunk; w += 8)
    memcpy(big + w, &fill_word, 8);
  t0 = now();
  if (fill_or_verify(eng, v, big, chunk, false, NULL)) {
    rc = -1;
    goto out;
  }
  printf("# %s: fill %.2f GB/s\n", label, (double)v->size / (now() - t0) / 1e9);
  pthread_mutex_init(&r.lock, NULL);
  pthread_cond_init(&r.cv, NULL);
  r.vol = v;
  for (unsigned b = 0; o->latency && b < o->nbs; b++)
    if (lat_engine(eng, v, label, slots[0].buf, o->bs[b], o->seconds, stamp)) {
      rc = -1;
      goto out;
    }
  for (unsigned b = 0; !o->latency && b < o->nbs; b++)
    for (unsigned q = 0; q < o->nqd; q++)
      for (unsigned j = 0; j < sizeof jobs / sizeof jobs[0]; j++) {
        struct vd_engine_profile pa[VD_MAX_DEVICES], pb[VD_MAX_DEVICES];
        double ops;
        r.op = jobs[j].op;
        r.random = jobs[j].random;
        r.bs = o->bs[b];
        for (unsigned d = 0; d < ndev; d++)
          vd_engine_device_profile(eng, d, &pa[d]);
        ops = run_job(&r, slots, o->qds[q], o->seconds);
        if (ops < 0) {
          fprintf(stderr, "engine-bench: I/O errors in %s\n", jobs[j].name);
          rc = -1;
          goto out;
        }
        for (unsigned d = 0; d < ndev; d++)
          vd_engine_device_profile(eng, d, &pb[d]);
        snprintf(res[*nres].cfg, sizeof res[*nres].cfg, "%s", label);
        res[*nres].job = jobs[j].name;
        res[*nres].bs = o->bs[b];
        res[*nres].qd = o->qds[q];
        res[*nres].iops = ops;
        res[*nres].gbs = ops * (double)o->bs[b] / 1e9;
        printf("%-4s %-10s %8s qd %-4u %10.2f GB/s %12.0f IOPS\n", label, jobs[j].name,
               vd_format_size(o->bs[b], sz, sizeof sz), o->qds[q], res[*nres].gbs, ops);
        if (o->profile)
          print_profile(label, jobs[j].name, ndev, o->seconds, pa, pb);
        fflush(stdout);
        (*nres)++;
      }
  t0 = now();
  if (fill_or_verify(eng, v, big, chunk, true, &bad)) {
    rc = -1;
    goto out;
  }
  printf("# %s: verify %s (%llu bad sectors), %.2f GB/s\n", label, bad ? "FAILED" : "ok",
         (unsigned long long)bad, (double)v->size / (now() - t0) / 1e9);
  if (bad)
    rc = -1;
  if (!rc && integ != VD_INTEGRITY_NONE) {
    /* Scrub: every block checked against its checksum on the GPUs. */
    struct vd_scrub_ctl sc = { .eng = eng };
    t0 = now();
    if (vd_volume_scrub(&sc, v, err, sizeof err)) {
      fprintf(stderr, "engine-bench: scrub: %s\n", err);
      rc = -1;
      goto out;
    }
    printf("# %s: scrub of %s: %.2f GB/s (%.2f per device), %llu blocks, %llu bad\n", label,
           vd_format_size(v->size, sz, sizeof sz), (double)v->size / (now() - t0) / 1e9,
           (double)v->size / (now() - t0) / 1e9 / ndev, (unsigned long long)sc.blocks,
           (unsigned long long)sc.bad);
    if (sc.bad)
      rc = -1;
    if (!rc && o->scrub_load && scrub_under_load(eng, v, &r, slots, o, label, ndev))
      rc = -1;
  }
  /* The bare copy overwrites data, so it comes after the verify. */
  for (unsigned b = 0; !rc && o->latency && !strcmp(label, "one") && b < o->nbs; b++)
    if (lat_bare(v, slots[0].buf, o->bs[b], o->seconds))
      rc = -1;
out:
  if (slots)
    for (unsigned i = 0; i < o->qd; i++)
      vd_engine_pinned_free(eng, slots[i].buf);
  vd_engine_pinned_free(eng, big);
  free(slots);
  vd_volume_put(v);
  return rc;
}

/* Parse "4K,64K,1M" into o->bs. */
static int parse_bs_list(const char *s, struct opts *o)
{
  char buf[256], *save = NULL, err[200];
  snprintf(buf, sizeof buf, "%s", s);
  o->nbs = 0;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (o->nbs == MAX_BS || vd_parse_size(t, &o->bs[o->nbs], err, sizeof err) ||
        o->bs[o->nbs] % SECTOR) {
      fprintf(stderr, "engine-bench: bad block size '%s' (multiples of 4K)\n", t);
      return -1;
    }
    o->nbs++;
  }
  return o->nbs ? 0 : -1;
}

/* Parse "1,32,512" into o->qds (each 1..1024) and o->qd, the largest. */
static int parse_qd_list(const char *s, struct opts *o)
{
  char buf[256], *save = NULL, *end;
  snprintf(buf, sizeof buf, "%s", s);
  o->nqd = o->qd = 0;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    unsigned long q = strtoul(t, &end, 10);
    if (o->nqd == MAX_QD || *end || q == 0 || q > 1024) {
      fprintf(stderr, "engine-bench: bad queue depth '%s' (1..1024, at most %d)\n", t, MAX_QD);
      return -1;
    }
    o->qds[o->nqd++] = (unsigned)q;
    o->qd = q > o->qd ? (unsigned)q : o->qd;
  }
  return o->nqd ? 0 : -1;
}

/* Parse a size option or exit. */
static uint64_t size_arg(const char *name, const char *v)
{
  uint64_t n;
  char err[200];
  if (vd_parse_size(v, &n, err, sizeof err)) {
    fprintf(stderr, "engine-bench: --%s: %s\n", name, err);
    exit(2);
  }
  return n;
}

/* Print one engine run's table: one device against all of them. */
static void print_table(const struct result *res, unsigned nres, unsigned nfirst)
{
  if (!nfirst || nres != 2 * nfirst)
    return;
  printf("\n%-10s %8s %5s %12s %12s %12s %12s %8s\n", "job", "bs", "qd", "one GB/s",
         "all GB/s", "one IOPS", "all IOPS", "all/one");
  for (unsigned i = 0; i < nfirst; i++)
    printf("%-10s %8llu %5u %12.2f %12.2f %12.0f %12.0f %8.2f\n", res[i].job,
           (unsigned long long)res[i].bs, res[i].qd, res[i].gbs, res[nfirst + i].gbs,
           res[i].iops, res[nfirst + i].iops, res[nfirst + i].gbs / res[i].gbs);
}

/* Print the striped volume against the mirror over the same devices. */
static void print_mirror(const struct result *all, const struct result *mir, unsigned n)
{
  printf("\n%-10s %8s %5s %12s %12s %12s %12s %10s\n", "job", "bs", "qd", "all GB/s",
         "mirror GB/s", "all IOPS", "mirror IOPS", "mirror/all");
  for (unsigned i = 0; i < n; i++)
    printf("%-10s %8llu %5u %12.2f %12.2f %12.0f %12.0f %10.2f\n", all[i].job,
           (unsigned long long)all[i].bs, all[i].qd, all[i].gbs, mir[i].gbs, all[i].iops,
           mir[i].iops, mir[i].gbs / all[i].gbs);
}

/* Print two runs of the same jobs against each other, row by row: the
 * small-batch path off and on, or volumes without and with checksums. */
static void print_compare(const struct result *off, const struct result *on, unsigned n,
                          const char *a, const char *b)
{
  char ha[32], hb[32], hr[32];
  snprintf(ha, sizeof ha, "%s IOPS", a);
  snprintf(hb, sizeof hb, "%s IOPS", b);
  snprintf(hr, sizeof hr, "%s/%s", b, a);
  printf("\n%-4s %-10s %8s %5s %14s %14s %8s\n", "vol", "job", "bs", "qd", ha, hb, hr);
  for (unsigned i = 0; i < n; i++)
    printf("%-4s %-10s %8llu %5u %14.0f %14.0f %8.2f\n", off[i].cfg, off[i].job,
           (unsigned long long)off[i].bs, off[i].qd, off[i].iops, on[i].iops,
           on[i].iops / off[i].iops);
}

/* Start an engine in one small-batch mode, run the jobs, stop it. */
static int bench_engine(struct vd_pool *pool, const struct opts *o, enum vd_small_mode mode,
                        struct result *res, unsigned *nres)
{
  struct vd_engine_config ec = { 0 };
  struct vd_engine_small_stats st;
  struct vd_engine *eng;
  unsigned ndev = vd_pool_count(pool), nfirst, nall;
  char err[512], a[32], b[32];
  int rc = 0;

  ec.workers_per_device = o->workers;
  ec.batch = o->batch;
  ec.depth = o->depth;
  ec.small = mode;
  ec.small_max = o->small_max;
  ec.small_stage = o->small_stage;
  ec.idle = o->idle;
  ec.idle_max = o->idle_max;
  ec.poll_ns = o->poll_ns;
  ec.small_min = o->small_min;
  ec.fill = o->fill;
  if (vd_engine_start(pool, &ec, &eng, err, sizeof err)) {
    fprintf(stderr, "engine-bench: %s\n", err);
    return -1;
  }
  vd_engine_small_stats(eng, &st);
  printf("# small-batch %s: on %u of %u devices, staging %s pinned + %s device in all\n",
         mode == VD_SMALL_OFF ? "off" : "on", st.devices, ndev,
         vd_format_size(st.stage_bytes, a, sizeof a), vd_format_size(st.scratch_bytes, b, sizeof b));
  /* Without checksums, with them, with parity: the same engine, fresh
   * volumes, each kind against the first; the mirror (without checksums)
   * after the striped volumes. */
  for (unsigned k = 0, first = 3; k < 3 && !rc; k++) {
    static struct result runs[3][MAX_RES];
    struct result *r = first < k ? runs[k] : res;
    unsigned n = 0;
    if (!(o->integ & (1u << k)))
      continue;
    first = first < k ? first : k;
    if (!o->all_only && bench_volume(pool, eng, o, (enum vd_integrity)k, "one", 1, 1, r, &n))
      rc = -1;
    nfirst = n;
    if (!rc && !o->one_only && ndev > 1 &&
        bench_volume(pool, eng, o, (enum vd_integrity)k, "all", ndev, 1, r, &n))
      rc = -1;
    nall = n;
    if (!rc && !o->latency)
      print_table(r, n, nfirst);
    /* The mirror over as many devices as hold whole sets of copies. */
    if (!rc && k == 0 && o->mirror && ndev >= o->mirror &&
        bench_volume(pool, eng, o, VD_INTEGRITY_NONE, "mirror", ndev - ndev % o->mirror,
                     o->mirror, r, &n))
      rc = -1;
    if (!rc && !o->latency && k == 0 && o->mirror && nall > nfirst && n - nall == nall - nfirst)
      print_mirror(r + nfirst, r + nall, nall - nfirst);
    if (r == res)
      *nres = n;
    else if (!rc && n == *nres)
      print_compare(res, r, n, vd_integrity_name((enum vd_integrity)first),
                    vd_integrity_name((enum vd_integrity)k));
  }
  vd_engine_small_stats(eng, &st);
  printf("# small-batch: %llu segments batched in %llu kernel launches; "
         "%llu requests on the idle path\n", (unsigned long long)st.segments,
         (unsigned long long)st.launches, (unsigned long long)st.idle);
  vd_engine_stop(eng);
  return rc;
}

/* --integrity: kinds (none, crc32c, crc32c+parity) separated by commas,
 * "both" (none and crc32c) or "all", into a bit per kind; -EINVAL. */
static int integ_arg(const char *arg, unsigned *out)
{
  static const char *const kinds[] = { "none", "crc32c", "crc32c+parity" };
  char buf[128], *save = NULL;

  *out = 0;
  if (!strcmp(arg, "both") || !strcmp(arg, "all")) {
    *out = !strcmp(arg, "all") ? 7u : 3u;
    return 0;
  }
  snprintf(buf, sizeof buf, "%s", arg);
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    unsigned k = 0;
    while (k < 3 && strcmp(t, kinds[k]))
      k++;
    if (k == 3)
      return -EINVAL;
    *out |= 1u << k;
  }
  return *out ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
  static const struct option lo[] = {
    { "size", 1, NULL, 's' }, { "seconds", 1, NULL, 't' }, { "qd", 1, NULL, 'q' },
    { "bs", 1, NULL, 'b' }, { "unit", 1, NULL, 'u' }, { "extent-size", 1, NULL, 'e' },
    { "device-types", 1, NULL, 'd' }, { "workers", 1, NULL, 'w' },
    { "batch", 1, NULL, 'B' }, { "depth", 1, NULL, 'D' }, { "shared-context", 0, NULL, 'C' },
    { "driver-copies", 1, NULL, 'G' },
    { "one-only", 0, NULL, '1' }, { "all-only", 0, NULL, 'a' },
    { "small-batch", 1, NULL, 'S' }, { "small-max", 1, NULL, 'M' },
    { "small-stage", 1, NULL, 'T' }, { "latency", 0, NULL, 'L' },
    { "idle", 1, NULL, 'I' }, { "idle-max", 1, NULL, 'X' }, { "poll-ns", 1, NULL, 'P' },
    { "profile", 0, NULL, 'R' }, { "small-min", 1, NULL, 'm' },
    { "fill", 1, NULL, 'F' }, { "integrity", 1, NULL, 'i' }, { "mirror", 1, NULL, 'Y' },
    { "scrub-load", 2, NULL, 'Z' }, { NULL, 0, NULL, 0 },
  };
  struct opts o = { .size = 256ull << 20, .seconds = 2, .qd = 32, .qds = { 32 }, .nqd = 1, .unit = 0,
                    .extent = 1ull << 30, .modes = 1u << VD_SMALL_ON,
                    .integ = 1u << VD_INTEGRITY_NONE };
  struct vd_pool_config pc = { 0 };
  struct vd_pool *pool;
  static struct result res[2][MAX_RES];
  unsigned nres[2] = { 0, 0 }, ndev;
  char err[512];
  int c, rc = 0;

  parse_bs_list("4K,64K,1M,4M", &o);
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (c) {
    case 's': o.size = size_arg("size", optarg); break;
    case 't': o.seconds = atof(optarg); break;
    case 'q': if (parse_qd_list(optarg, &o)) return 2; break;
    case 'b': if (parse_bs_list(optarg, &o)) return 2; break;
    case 'u': o.unit = size_arg("unit", optarg); break;
    case 'e': o.extent = size_arg("extent-size", optarg); break;
    case 'd': o.types = !strcmp(optarg, "cpu") ? VD_DEV_CPU : VD_DEV_GPU; break;
    case 'w': o.workers = (unsigned)atoi(optarg); break;
    case 'B': o.batch = (unsigned)atoi(optarg); break;
    case 'D': o.depth = (unsigned)atoi(optarg); break;
    case 'C': o.shared_ctx = true; break;
    case 'G':
      pc.driver_copies = !strcmp(optarg, "per-device") ? VD_DRIVER_PER_DEVICE : VD_DRIVER_SHARED;
      break;
    case '1': o.one_only = true; break;
    case 'a': o.all_only = true; break;
    case 'S':
      if (!strcmp(optarg, "off")) o.modes = 1u << VD_SMALL_OFF;
      else if (!strcmp(optarg, "on")) o.modes = 1u << VD_SMALL_ON;
      else if (!strcmp(optarg, "both")) o.modes = 1u << VD_SMALL_OFF | 1u << VD_SMALL_ON;
      else {
        fprintf(stderr, "engine-bench: --small-batch off|on|both\n");
        return 2;
      }
      break;
    case 'M': o.small_max = size_arg("small-max", optarg); break;
    case 'T': o.small_stage = size_arg("small-stage", optarg); break;
    case 'L': o.latency = true; break;
    case 'Z':
      o.scrub_load = true;
      for (char *tok = optarg ? strtok(optarg, ",") : NULL; tok && o.npieces < 8;
           tok = strtok(NULL, ","))
        o.pieces[o.npieces++] = size_arg("scrub-load", tok);
      break;
    case 'I':
      if (!strcmp(optarg, "spin")) o.idle = VD_IDLE_SPIN;
      else if (!strcmp(optarg, "block")) o.idle = VD_IDLE_BLOCK;
      else if (!strcmp(optarg, "off")) o.idle = VD_IDLE_OFF;
      else {
        fprintf(stderr, "engine-bench: --idle spin|block|off\n");
        return 2;
      }
      break;
    case 'X': o.idle_max = size_arg("idle-max", optarg); break;
    case 'P': o.poll_ns = !strcmp(optarg, "off") ? VD_POLL_OFF : strtoull(optarg, NULL, 10); break;
    case 'R': o.profile = true; break;
    case 'm': o.small_min = (unsigned)atoi(optarg); break;
    case 'F': o.fill = (unsigned)atoi(optarg); break;
    case 'i':
      if (integ_arg(optarg, &o.integ)) {
        fprintf(stderr, "engine-bench: --integrity KIND[,KIND..] of none, crc32c, "
                "crc32c+parity; both (none,crc32c) or all\n");
        return 2;
      }
      break;
    case 'Y':
      o.mirror = (unsigned)atoi(optarg);
      if (o.mirror < 2) {
        fprintf(stderr, "engine-bench: --mirror COPIES takes 2 or more\n");
        return 2;
      }
      break;
    default:
      fprintf(stderr, "Usage: engine-bench [--size PER_DEVICE] [--seconds S] [--qd N[,N...]]\n"
              "  [--bs 4K,64K,1M,4M] [--unit SIZE] [--extent-size SIZE]\n"
              "  [--device-types gpu|cpu] [--workers N] [--batch N] [--depth N]\n"
              "  [--shared-context] [--driver-copies shared|per-device]\n"
              "  [--one-only|--all-only]\n"
              "  [--small-batch off|on|both] [--small-max SIZE] [--small-stage SIZE]\n"
              "  [--latency] [--idle spin|block|off] [--idle-max SIZE]\n"
              "  [--poll-ns NS|off] [--small-min N] [--fill N] [--profile]\n"
              "  [--integrity KIND[,KIND..]|both|all] [--mirror COPIES]\n"
              "  [--scrub-load[=PIECE[,PIECE..]]]\n");
      return 2;
    }
  }
  if (o.seconds <= 0) {
    fprintf(stderr, "engine-bench: --seconds > 0\n");
    return 2;
  }
  pc.types = o.types;
  pc.shared_context = o.shared_ctx;
  if (vd_pool_open(&pc, &pool, err, sizeof err)) {
    fprintf(stderr, "engine-bench: %s\n", err);
    return 1;
  }
  ndev = vd_pool_count(pool);
  for (unsigned i = 0; i < ndev; i++) {
    const struct vd_device_info *in = vd_device_info(vd_pool_device(pool, i));
    printf("# device %s: %s (%s), driver %s\n", in->id, in->name, in->vendor, in->driver);
  }
  printf("# workers %u, batch %u, depth %u, %s (0: engine default)\n", o.workers, o.batch,
         o.depth, o.shared_ctx ? "context per platform" : "context per device");
  printf("# small-max %llu, small-stage %llu per worker, small-min %u, fill %u, poll-ns %llu, "
         "idle path %s up to %llu (0: engine default)\n", (unsigned long long)o.small_max,
         (unsigned long long)o.small_stage, o.small_min, o.fill,
         (unsigned long long)(o.poll_ns == VD_POLL_OFF ? 0 : o.poll_ns),
         o.idle == VD_IDLE_SPIN ? "spin" : o.idle == VD_IDLE_BLOCK ? "block" :
         o.idle == VD_IDLE_OFF ? "off" : "default", (unsigned long long)o.idle_max);
  if (o.latency)
    printf("# QD1 latency, one request at a time, %.1f s per job, %s per device; \"bare\" is\n"
           "# a blocking clEnqueue{Read,Write}Buffer from pinned memory on the first device,\n"
           "# \"bare-poll\" a non-blocking one whose event is polled\n", o.seconds,
           vd_format_size(o.size, err, sizeof err));
  else
    printf("# qd up to %u, %.1f s per job, %s per device\n", o.qd, o.seconds,
           vd_format_size(o.size, err, sizeof err));
  /* Off first, then on: each mode gets a fresh engine and fresh volumes. */
  for (unsigned m = 0; m < 2 && !rc; m++) {
    enum vd_small_mode mode = m ? VD_SMALL_ON : VD_SMALL_OFF;
    if (o.modes & (1u << mode) && bench_engine(pool, &o, mode, res[m], &nres[m]))
      rc = 1;
  }
  if (!rc && nres[0] && nres[0] == nres[1])
    print_compare(res[0], res[1], nres[0], "off", "on");
  printf("# peak RSS %ld KiB\n", peak_rss_kib());
  vd_pool_close(pool);
  return rc;
}
