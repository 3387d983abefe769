/* cl-calls: how the OpenCL driver's cost per small transfer changes when
 * threads drive several devices at once, with no vramd code in the way.
 * For k = 1 .. number of devices, k threads each own one device (its own
 * context, in-order queue, device buffer and pinned 4 KiB host buffer) and
 * for a fixed time enqueue non-blocking 4 KiB writes (or reads) in rounds
 * of 32, then wait for the round.  It prints calls per second per thread
 * and in all: if the driver let threads on different devices run
 * independently, k threads would make k times the calls of one.
 *
 * --kernel enqueues a tiny kernel launch (with its argument set) instead
 * of a copy: what vramd's batch path pays per batch.
 *
 * --batch replays the driver calls of one whole engine batch of a single
 * 4 KiB write, one batch at a time: upload the staging, launch the
 * scatter kernel, enqueue a marker, flush, poll the marker until it has
 * run, release it.  --no-marker polls the launch's own event instead.
 * With one batch per device in flight (the engine's case once a queue
 * depth is spread over several devices), batches/s per thread bounds the
 * engine's batch rate on that many devices.
 *
 * --xfer SIZE (e.g. 4M) sets the size of each copy, and the table adds
 * GB/s: with large copies, what the host's PCIe and memory give all the
 * devices at once, the ceiling of large transfers on several GPUs.
 *
 * --processes drives each device from a process of its own instead of a
 * thread: if k processes scale where k threads do not, the bound is a
 * lock the driver shares within one process, not the devices or the bus.
 *
 * --dlmopen LIB gives each thread's device a private copy of the vendor's
 * OpenCL library (dlmopen into a new link namespace, platform from its
 * clIcdGetPlatformIDsKHR; the ICD loader dispatches every later call by
 * object): threads in one process, but no driver state shared between
 * them.  If that scales as processes do, one process can too.
 *
 * --shared-host makes every device copy from the first device's pinned
 * host buffer (as vramd's staging is shared by all devices); with
 * --dlmopen it is pinned only for the first copy of the driver, unless
 * --register also wraps it in a CL_MEM_USE_HOST_PTR buffer in each other
 * device's context (and maps it), which may pin it there too.
 *
 * --blocker MODE[,MODE..] asks whether a thread that waits inside the
 * driver keeps the others out.  Beside the measured threads, one more
 * thread on device 0 (same context, a queue of its own) runs a kernel of
 * one work-group for about a millisecond, over and over, and waits for
 * each run: block (clWaitForEvents), finish (clFinish), read (a blocking
 * 4-byte read queued behind it), nap (its status every 20 us, asleep in
 * between) or spin (its status, without pause); none runs no such thread.
 * All devices' threads run at once, and each mode's calls/s is given
 * against none's.
 *
 * Usage: cl-calls [--device-types gpu|cpu] [--seconds S] [--xfer SIZE]
 *                 [--read|--kernel|--batch [--no-marker]]
 *                 [--processes | --dlmopen LIB [--shared-host [--register]]]
 *                 [--blocker MODE[,MODE..]] */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <CL/cl_ext.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEV 16
#define ROUND 32
static size_t XFER = 4096;     /* bytes per transfer (--xfer) */
static unsigned SLOTS = 1024;  /* device buffer: SLOTS transfers, offsets spread over it */

struct dev {
  cl_device_id id;
  cl_context ctx;
  cl_command_queue q;
  cl_mem buf, host, reg;
  cl_program prog;
  cl_kernel k;
  void *hp;
  pthread_t t;
  double secs;
  bool read, kernel, batch, marker;
  atomic_bool *go;
  unsigned long long calls;
  int err;
};

/* Seconds on the monotonic clock. */
static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *src =
  "__kernel void bump(__global uint *b, uint slot) { b[slot * 1024 + get_global_id(0)] += 1; }\n"
  "__kernel void spin(__global uint *b, uint n) {\n"
  "  uint x = get_global_id(0);\n"
  "  for (uint i = 0; i < n; i++) x = x * 1664525u + 1013904223u;\n"
  "  if (x == 1u) b[0] = x;\n"
  "}\n";

/* Set one device up: context, queue, buffers, the kernel; 0 or the CL error. */
static cl_int dev_open(struct dev *d)
{
  cl_int rc;
  d->ctx = clCreateContext(NULL, 1, &d->id, NULL, NULL, &rc);
  if (rc) return rc;
  d->q = clCreateCommandQueueWithProperties(d->ctx, d->id, NULL, &rc);
  if (rc) return rc;
  d->buf = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, (size_t)XFER * SLOTS, NULL, &rc);
  if (rc) return rc;
  d->host = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, XFER, NULL, &rc);
  if (rc) return rc;
  d->hp = clEnqueueMapBuffer(d->q, d->host, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, XFER,
                             0, NULL, NULL, &rc);
  if (rc) return rc;
  memset(d->hp, 0x5a, XFER);
  d->prog = clCreateProgramWithSource(d->ctx, 1, &src, NULL, &rc);
  if (rc) return rc;
  rc = clBuildProgram(d->prog, 1, &d->id, "", NULL, NULL);
  if (rc) return rc;
  d->k = clCreateKernel(d->prog, "bump", &rc);
  if (rc) return rc;
  return clFinish(d->q);
}

/* One engine-like batch: upload, launch, marker, flush, poll; 0 or the
 * CL error. */
static cl_int one_batch(struct dev *d, unsigned slot)
{
  size_t g = 64, l = 64;
  cl_uint s = slot;
  cl_int st = CL_QUEUED, rc;
  cl_event ev = NULL, kev = NULL;

  rc = clEnqueueWriteBuffer(d->q, d->buf, CL_FALSE, (size_t)slot * XFER, XFER, d->hp, 0,
                            NULL, NULL);
  if (!rc) rc = clSetKernelArg(d->k, 0, sizeof d->buf, &d->buf);
  if (!rc) rc = clSetKernelArg(d->k, 1, sizeof s, &s);
  if (!rc) rc = clEnqueueNDRangeKernel(d->q, d->k, 1, NULL, &g, &l, 0, NULL,
                                       d->marker ? NULL : &kev);
  if (!rc && d->marker) rc = clEnqueueMarkerWithWaitList(d->q, 0, NULL, &ev);
  if (!d->marker) ev = kev;
  if (!rc) rc = clFlush(d->q);
  while (!rc && st > CL_COMPLETE)
    rc = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
  if (ev)
    clReleaseEvent(ev);
  return rc ? rc : st;
}

/* Thread: rounds of ROUND small transfers until the time is up. */
static void *drive(void *arg)
{
  struct dev *d = arg;
  unsigned slot = 0;
  double end;
  while (!atomic_load(d->go))
    ;
  end = now() + d->secs;
  while (now() < end && !d->err) {
    for (int i = 0; i < ROUND && !d->err; i++, slot = (slot + 37) % SLOTS)
      if (d->batch) {
        d->err = one_batch(d, slot);
      } else if (d->kernel) {
        size_t g = 64, l = 64;
        cl_uint s = slot;
        d->err = clSetKernelArg(d->k, 0, sizeof d->buf, &d->buf);
        if (!d->err)
          d->err = clSetKernelArg(d->k, 1, sizeof s, &s);
        if (!d->err)
          d->err = clEnqueueNDRangeKernel(d->q, d->k, 1, NULL, &g, &l, 0, NULL, NULL);
      } else
        d->err = d->read ? clEnqueueReadBuffer(d->q, d->buf, CL_FALSE, (size_t)slot * XFER, XFER,
                                             d->hp, 0, NULL, NULL)
                       : clEnqueueWriteBuffer(d->q, d->buf, CL_FALSE, (size_t)slot * XFER, XFER,
                                              d->hp, 0, NULL, NULL);
    if (!d->err)
      d->err = clFinish(d->q);
    d->calls += ROUND;
  }
  return NULL;
}

/* Drive devices 0 .. k-1 at once, a thread each, for secs; their calls/s
 * in all, or -1 with a message. */
static double drive_devices(struct dev *dev, cl_uint k, double secs)
{
  atomic_bool go = false;
  double all = 0;
  cl_uint started = 0;

  for (; started < k; started++) {
    dev[started].calls = 0;
    dev[started].err = 0;
    dev[started].secs = secs;
    dev[started].go = &go;
    if (pthread_create(&dev[started].t, NULL, drive, &dev[started]))
      break;
  }
  atomic_store(&go, true);
  for (cl_uint i = 0; i < started; i++) {
    pthread_join(dev[i].t, NULL);
    all += dev[i].calls / secs;
  }
  if (started < k) {
    fprintf(stderr, "cl-calls: cannot start a thread\n");
    return -1;
  }
  for (cl_uint i = 0; i < k; i++)
    if (dev[i].err) {
      fprintf(stderr, "cl-calls: device %u: OpenCL error %d\n", i, dev[i].err);
      return -1;
    }
  return all;
}

/* --dlmopen: device i of a private copy of the vendor library lib, in a
 * link namespace of its own; 0 or -1 with a message. */
static int private_device(const char *lib, cl_device_type types, cl_uint i, cl_device_id *out)
{
  void *h = dlmopen(LM_ID_NEWLM, lib, RTLD_NOW | RTLD_LOCAL);
  clIcdGetPlatformIDsKHR_fn get;
  void *(*ext)(const char *);
  cl_device_id ids[MAX_DEV];
  cl_platform_id plat;
  cl_uint n = 0;

  if (!h) {
    fprintf(stderr, "cl-calls: dlmopen %s: %s\n", lib, dlerror());
    return -1;
  }
  /* As the ICD loader finds it: through the library's own
   * clGetExtensionFunctionAddress. */
  ext = (void *(*)(const char *))dlsym(h, "clGetExtensionFunctionAddress");
  get = ext ? (clIcdGetPlatformIDsKHR_fn)ext("clIcdGetPlatformIDsKHR") : NULL;
  if (!get || get(1, &plat, &n) != CL_SUCCESS || !n) {
    fprintf(stderr, "cl-calls: %s: no platform from clIcdGetPlatformIDsKHR\n", lib);
    return -1;
  }
  if (clGetDeviceIDs(plat, types, MAX_DEV, ids, &n) != CL_SUCCESS || n <= i) {
    fprintf(stderr, "cl-calls: %s: no device %u in its private copy\n", lib, i);
    return -1;
  }
  *out = ids[i];
  return 0;
}

/* The devices of the given types, in platform order; how many. */
static cl_uint find_devices(cl_device_type types, struct dev *dev)
{
  cl_platform_id plat[8];
  cl_uint np = 0, nd = 0;

  memset(dev, 0, sizeof *dev * MAX_DEV);
  if (clGetPlatformIDs(8, plat, &np) != CL_SUCCESS)
    np = 0;
  for (cl_uint p = 0; p < np && nd < MAX_DEV; p++) {
    cl_device_id ids[MAX_DEV];
    cl_uint n = 0;
    if (clGetDeviceIDs(plat[p], types, MAX_DEV - nd, ids, &n) != CL_SUCCESS)
      continue;
    for (cl_uint i = 0; i < n; i++)
      dev[nd++].id = ids[i];
  }
  return nd;
}

/* What the processes of --processes share: a start line and their counts. */
struct shared {
  atomic_uint ready;
  atomic_bool go;
  cl_uint nd;
  unsigned long long calls[MAX_DEV];
  int err[MAX_DEV];
};

/* Child i of --processes: open device i, wait for the start, drive it. */
static void child(struct shared *sh, cl_uint i, cl_device_type types, double secs,
                  bool read, bool kernel, bool batch, bool marker)
{
  static struct dev dev[MAX_DEV];
  struct dev *d = &dev[i];

  if (find_devices(types, dev) <= i || (sh->err[i] = dev_open(d)) != 0) {
    if (!sh->err[i])
      sh->err[i] = -1;
    atomic_fetch_add(&sh->ready, 1);
    _exit(1);
  }
  d->secs = secs;
  d->read = read;
  d->kernel = kernel;
  d->batch = batch;
  d->marker = marker;
  d->go = &sh->go;
  atomic_fetch_add(&sh->ready, 1);
  drive(d);
  sh->calls[i] = d->calls;
  sh->err[i] = d->err;
  _exit(d->err ? 1 : 0);
}

/* --processes: for k = 1 .. devices, k processes each drive one device.
 * The parent never touches OpenCL: a driver initialised before fork() is
 * not usable in the child. */
static int run_processes(cl_device_type types, double secs, bool read, bool kernel,
                         bool batch, bool marker)
{
  struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  double one = 0;
  pid_t pid;

  if (sh == MAP_FAILED)
    return 1;
  pid = fork();
  if (pid == 0) {
    static struct dev dev[MAX_DEV];
    sh->nd = find_devices(types, dev);
    _exit(0);
  }
  if (pid < 0 || waitpid(pid, NULL, 0) < 0 || !sh->nd) {
    fprintf(stderr, "cl-calls: no OpenCL device of that type\n");
    return 1;
  }
  printf("# cl-calls --processes: %s, one process per device, %.1f s\n",
         batch ? "whole batches" : kernel ? "kernel launches" : read ? "reads" : "writes", secs);
  printf("%-8s %14s %14s %10s %10s\n", "procs", "calls/s each", "calls/s all", "all/one",
         "GB/s all");
  for (cl_uint k = 1; k <= sh->nd; k++) {
    double all = 0;
    atomic_store(&sh->ready, 0);
    atomic_store(&sh->go, false);
    memset(sh->calls, 0, sizeof sh->calls);
    memset(sh->err, 0, sizeof sh->err);
    for (cl_uint i = 0; i < k; i++) {
      pid = fork();
      if (pid == 0)
        child(sh, i, types, secs, read, kernel, batch, marker);
      if (pid < 0) {
        fprintf(stderr, "cl-calls: cannot fork\n");
        return 1;
      }
    }
    while (atomic_load(&sh->ready) < k)
      usleep(1000);
    atomic_store(&sh->go, true);
    while (wait(NULL) > 0)
      ;
    for (cl_uint i = 0; i < k; i++) {
      if (sh->err[i]) {
        fprintf(stderr, "cl-calls: device %u: OpenCL error %d\n", i, sh->err[i]);
        return 1;
      }
      all += sh->calls[i] / secs;
    }
    if (k == 1)
      one = all;
    printf("%-8u %14.0f %14.0f %10.2f %10.2f\n", k, all / k, all, all / one,
           batch || kernel ? 0.0 : all * (double)XFER / 1e9);
  }
  return 0;
}

enum { B_NONE, B_BLOCK, B_FINISH, B_READ, B_NAP, B_SPIN, B_MODES };
static const char *const bmode_name[B_MODES] = { "none", "block", "finish", "read", "nap",
                                                 "spin" };

/* --blocker: the waiting thread, on device 0's context. */
struct blocker {
  struct dev *d;
  cl_command_queue q;
  cl_kernel k;
  cl_uint iters;         /* spin loop length for about 1 ms */
  int mode;
  atomic_bool stop;
  unsigned long long runs;
  double run_s;          /* one run, alone */
  int err;
  pthread_t t;
};

/* Queue one spin run; its event, or NULL with b->err set. */
static cl_event spin_run(struct blocker *b)
{
  size_t g = 64, l = 64;
  cl_event ev = NULL;
  b->err = clSetKernelArg(b->k, 0, sizeof b->d->buf, &b->d->buf);
  if (!b->err)
    b->err = clSetKernelArg(b->k, 1, sizeof b->iters, &b->iters);
  if (!b->err)
    b->err = clEnqueueNDRangeKernel(b->q, b->k, 1, NULL, &g, &l, 0, NULL, &ev);
  return b->err ? NULL : ev;
}

/* Wait for ev as the mode says; 0 or the CL error. */
static cl_int blocker_wait(struct blocker *b, cl_event ev)
{
  const struct timespec nap = { 0, 20000 };
  cl_int st = CL_QUEUED, rc;
  cl_uint v;

  switch (b->mode) {
  case B_BLOCK:
    rc = clFlush(b->q);
    return rc ? rc : clWaitForEvents(1, &ev);
  case B_FINISH:
    return clFinish(b->q);
  case B_READ:
    return clEnqueueReadBuffer(b->q, b->d->buf, CL_TRUE, 0, sizeof v, &v, 0, NULL, NULL);
  default:
    rc = clFlush(b->q);
    while (!rc) {
      rc = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
      if (rc || st <= CL_COMPLETE)
        break;
      if (b->mode == B_NAP)
        nanosleep(&nap, NULL);
    }
    return rc ? rc : st < 0 ? st : 0;
  }
}

/* Thread: spin runs, each waited for, until told to stop. */
static void *blocker_main(void *arg)
{
  struct blocker *b = arg;
  while (!atomic_load(&b->stop) && !b->err) {
    cl_event ev = spin_run(b);
    if (!ev)
      break;
    b->err = blocker_wait(b, ev);
    clReleaseEvent(ev);
    b->runs++;
  }
  return NULL;
}

/* Make the blocker's queue and kernel on d, and size its run to about a
 * millisecond; 0 or the CL error. */
static cl_int blocker_open(struct blocker *b, struct dev *d)
{
  cl_int rc;
  b->d = d;
  b->q = clCreateCommandQueueWithProperties(d->ctx, d->id, NULL, &rc);
  if (!rc)
    b->k = clCreateKernel(d->prog, "spin", &rc);
  b->iters = 1;
  if (!rc) {
    cl_event ev = spin_run(b); /* the first run pays for setting up */
    if (!ev)
      return b->err;
    rc = clWaitForEvents(1, &ev);
    clReleaseEvent(ev);
  }
  for (b->iters = 1u << 12; !rc; b->iters *= 2) {
    double t0 = now();
    cl_event ev = spin_run(b);
    if (!ev)
      return b->err;
    rc = clWaitForEvents(1, &ev);
    clReleaseEvent(ev);
    b->run_s = now() - t0;
    if (b->run_s >= 1e-3 || b->iters >= 1u << 30)
      break;
  }
  return rc;
}

/* --blocker: each mode beside all devices' threads at once; 0 or 1. */
static int run_blocker(struct dev *dev, cl_uint nd, const bool *modes, double secs)
{
  struct blocker b = { 0 };
  double base = 0;
  cl_int rc = blocker_open(&b, &dev[0]);

  if (rc) {
    fprintf(stderr, "cl-calls: cannot set the blocker up: OpenCL error %d\n", rc);
    return 1;
  }
  printf("# blocker on device 0: one work-group spinning %u steps, %.2f ms a run alone\n",
         b.iters, b.run_s * 1e3);
  printf("%-8s %8s %14s %10s %14s\n", "blocker", "threads", "calls/s all", "vs none",
         "blocker runs/s");
  for (int m = 0; m < B_MODES; m++) {
    double all;
    if (!modes[m])
      continue;
    b.mode = m;
    b.runs = 0;
    b.err = 0;
    atomic_store(&b.stop, false);
    if (m != B_NONE && pthread_create(&b.t, NULL, blocker_main, &b)) {
      fprintf(stderr, "cl-calls: cannot start a thread\n");
      return 1;
    }
    all = drive_devices(dev, nd, secs);
    atomic_store(&b.stop, true);
    if (m != B_NONE)
      pthread_join(b.t, NULL);
    if (all < 0)
      return 1;
    if (b.err) {
      fprintf(stderr, "cl-calls: blocker: OpenCL error %d\n", b.err);
      return 1;
    }
    if (m == B_NONE)
      base = all; /* the first mode run, when asked for */
    printf("%-8s %8u %14.0f %10.2f %14.0f\n", bmode_name[m], nd, all, base ? all / base : 0.0,
           b.runs / secs);
  }
  return 0;
}

/* Parse --blocker's list into modes; 0 or -1. */
static int parse_blocker(const char *arg, bool *modes)
{
  char buf[128], *save = NULL;
  snprintf(buf, sizeof buf, "%s", arg);
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int m = 0;
    while (m < B_MODES && strcmp(t, bmode_name[m]))
      m++;
    if (m == B_MODES)
      return -1;
    modes[m] = true;
  }
  return 0;
}

int main(int argc, char **argv)
{
  cl_device_type types = CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR;
  double secs = 2, one = 0;
  bool read = false, kernel = false, batch = false, marker = true, procs = false;
  const char *lib = NULL;
  bool shared_host = false, reg = false, blocker = false, modes[B_MODES] = { false };
  static struct dev dev[MAX_DEV];
  cl_uint nd;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--read")) read = true;
    else if (!strcmp(argv[i], "--kernel")) kernel = true;
    else if (!strcmp(argv[i], "--batch")) batch = true;
    else if (!strcmp(argv[i], "--no-marker")) marker = false;
    else if (!strcmp(argv[i], "--processes")) procs = true;
    else if (!strcmp(argv[i], "--dlmopen") && i + 1 < argc) lib = argv[++i];
    else if (!strcmp(argv[i], "--shared-host")) shared_host = true;
    else if (!strcmp(argv[i], "--register")) reg = true;
    else if (!strcmp(argv[i], "--blocker") && i + 1 < argc) {
      blocker = true;
      if (parse_blocker(argv[++i], modes)) {
        fprintf(stderr, "cl-calls: --blocker takes none,block,finish,read,nap,spin\n");
        return 2;
      }
    }
    else if (!strcmp(argv[i], "--xfer") && i + 1 < argc) {
      char *end;
      unsigned long long v = strtoull(argv[++i], &end, 10);
      v <<= *end == 'K' ? 10 : *end == 'M' ? 20 : 0;
      if (v < 4096 || v > (256ull << 20) || v % 4096) {
        fprintf(stderr, "cl-calls: --xfer takes 4K to 256M in 4K steps\n");
        return 2;
      }
      XFER = v;
      SLOTS = XFER >= (1u << 20) ? 16 : 1024;
    }
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) secs = atof(argv[++i]);
    else if (!strcmp(argv[i], "--device-types") && i + 1 < argc)
      types = !strcmp(argv[++i], "cpu") ? CL_DEVICE_TYPE_CPU : types;
    else {
      fprintf(stderr, "Usage: cl-calls [--device-types gpu|cpu] [--seconds S]\n"
              "                [--xfer SIZE] [--read|--kernel|--batch [--no-marker]]\n"
              "                [--processes | --dlmopen LIB [--shared-host [--register]]]\n"
              "                [--blocker MODE[,MODE..]]\n");
      return 2;
    }
  }
  if (procs)
    return run_processes(types, secs, read, kernel, batch, marker);
  nd = find_devices(types, dev);
  if (!nd) {
    fprintf(stderr, "cl-calls: no OpenCL device of that type\n");
    return 1;
  }
  for (cl_uint i = 0; lib && i < nd; i++)
    if (private_device(lib, types, i, &dev[i].id))
      return 1;
  if (lib)
    printf("# cl-calls --dlmopen %s: a private copy of the library per device\n", lib);
  for (cl_uint i = 0; i < nd; i++) {
    cl_int rc = dev_open(&dev[i]);
    if (rc) {
      fprintf(stderr, "cl-calls: device %u: OpenCL error %d\n", i, rc);
      return 1;
    }
  }
  for (cl_uint i = 1; shared_host && i < nd; i++) {
    cl_int rc = CL_SUCCESS;
    if (reg) {
      dev[i].reg = clCreateBuffer(dev[i].ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, XFER,
                                  dev[0].hp, &rc);
      if (!rc)
        clEnqueueMapBuffer(dev[i].q, dev[i].reg, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, XFER,
                           0, NULL, NULL, &rc);
    }
    if (rc) {
      fprintf(stderr, "cl-calls: device %u: cannot register the shared buffer: %d\n", i, rc);
      return 1;
    }
    dev[i].hp = dev[0].hp;
  }
  if (shared_host)
    printf("# cl-calls: every device copies from device 0's pinned buffer%s\n",
           reg ? ", registered in each context (CL_MEM_USE_HOST_PTR)" : "");
  if (batch)
    printf("# cl-calls: whole batches of one 4 KiB write (upload, launch, %s, flush, poll), "
           "one at a time, %.1f s\n", marker ? "marker" : "no marker", secs);
  else if (kernel)
    printf("# cl-calls: kernel launches (64 work-items, 2 arguments set), rounds of %d, %.1f s\n",
           ROUND, secs);
  else
    printf("# cl-calls: non-blocking %zu KiB %s from pinned memory, rounds of %d, %.1f s\n",
           XFER >> 10, read ? "reads" : "writes", ROUND, secs);
  for (cl_uint i = 0; i < nd; i++) {
    dev[i].read = read;
    dev[i].kernel = kernel;
    dev[i].batch = batch;
    dev[i].marker = marker;
  }
  if (blocker)
    return run_blocker(dev, nd, modes, secs);
  printf("%-8s %14s %14s %10s %10s\n", "threads", "calls/s each", "calls/s all", "all/one",
         "GB/s all");
  for (cl_uint k = 1; k <= nd; k++) {
    double all = drive_devices(dev, k, secs);
    if (all < 0)
      return 1;
    if (k == 1)
      one = all;
    printf("%-8u %14.0f %14.0f %10.2f %10.2f\n", k, all / k, all, all / one,
           batch || kernel ? 0.0 : all * (double)XFER / 1e9);
  }
  return 0;
}
