/* vram-hog: another process that wants VRAM, as a GPU job would.  It
 * allocates GIB gibibytes on one OpenCL device in 1 GiB buffers, writing
 * each so the memory is committed, prints when it has them (wall-clock
 * seconds, for bench/elastic.sh to time a yield against), holds them
 * until SIGTERM or SIGINT, and frees them.  A buffer the driver refuses
 * is retried every 50 ms for up to --wait seconds: that is the time a
 * yield takes to make room.
 *
 * Usage: vram-hog [--device-types gpu|cpu] [--device N] --gib GIB [--wait S] */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GIB (1ull << 30)
#define MAX_BUF 1024

static volatile sig_atomic_t stop;

/* Stop holding. */
static void on_signal(int sig)
{
  (void)sig;
  stop = 1;
}

/* Wall-clock seconds. */
static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One committed buffer of GIB bytes, or NULL when the driver refuses. */
static cl_mem one_gib(cl_context ctx, cl_command_queue q)
{
  static const cl_uint pattern = 0x5a5a5a5a;
  cl_int rc;
  cl_mem m = clCreateBuffer(ctx, CL_MEM_READ_WRITE, GIB, NULL, &rc);
  if (rc != CL_SUCCESS)
    return NULL;
  rc = clEnqueueFillBuffer(q, m, &pattern, sizeof pattern, 0, GIB, 0, NULL, NULL);
  if (rc == CL_SUCCESS)
    rc = clFinish(q);
  if (rc != CL_SUCCESS) {
    clReleaseMemObject(m);
    return NULL;
  }
  return m;
}

int main(int argc, char **argv)
{
  cl_device_type type = CL_DEVICE_TYPE_GPU;
  unsigned dev = 0, gib = 0, n = 0;
  double wait_s = 30, t0, t_first_refusal = 0;
  cl_platform_id plats[16];
  cl_device_id devs[64];
  cl_uint np = 0, nd = 0, seen = 0;
  cl_device_id want = NULL;
  cl_mem bufs[MAX_BUF];
  cl_context ctx;
  cl_command_queue q;
  cl_int rc;

  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--device-types"))
      type = !strcmp(argv[i + 1], "cpu") ? CL_DEVICE_TYPE_CPU : CL_DEVICE_TYPE_GPU;
    else if (!strcmp(argv[i], "--device"))
      dev = (unsigned)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--gib"))
      gib = (unsigned)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--wait"))
      wait_s = atof(argv[i + 1]);
    else {
      fprintf(stderr, "usage: vram-hog [--device-types gpu|cpu] [--device N] --gib GIB "
                      "[--wait S]\n");
      return 2;
    }
  }
  if (!gib || gib > MAX_BUF) {
    fprintf(stderr, "vram-hog: --gib from 1 to %d\n", MAX_BUF);
    return 2;
  }
  clGetPlatformIDs(16, plats, &np);
  for (cl_uint p = 0; p < np && !want; p++)
    if (clGetDeviceIDs(plats[p], type, 64, devs, &nd) == CL_SUCCESS)
      for (cl_uint k = 0; k < nd && !want; k++, seen++)
        if (seen == dev)
          want = devs[k];
  if (!want) {
    fprintf(stderr, "vram-hog: no device %u\n", dev);
    return 1;
  }
  ctx = clCreateContext(NULL, 1, &want, NULL, NULL, &rc);
  q = rc == CL_SUCCESS ? clCreateCommandQueueWithProperties(ctx, want, NULL, &rc) : NULL;
  if (rc != CL_SUCCESS) {
    fprintf(stderr, "vram-hog: no context or queue (%d)\n", rc);
    return 1;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  t0 = now();
  printf("vram-hog: start %.3f\n", t0);
  fflush(stdout);
  while (n < gib && !stop) {
    bufs[n] = one_gib(ctx, q);
    if (bufs[n]) {
      n++;
      continue;
    }
    if (!t_first_refusal)
      t_first_refusal = now();
    if (now() - t0 > wait_s)
      break;
    usleep(50000);
  }
  printf("vram-hog: holds %u of %u GiB at %.3f: %.3f s after start; first refusal %.3f s "
         "after start\n", n, gib, now(), now() - t0, t_first_refusal ? t_first_refusal - t0 : 0.0);
  fflush(stdout);
  while (!stop)
    pause();
  for (unsigned i = 0; i < n; i++)
    clReleaseMemObject(bufs[i]);
  clReleaseCommandQueue(q);
  clReleaseContext(ctx);
  return n == gib ? 0 : 1;
}
