/* cl-bare: what the OpenCL driver alone costs in host memory (and, read
 * from outside with nvidia-smi, in device memory): a context and a queue
 * per device and nothing else, optionally locked the way vramd locks
 * itself, optionally with vramd's batch kernel built.  It prints one line,
 * then waits for SIGTERM or SIGINT so that bench/mem-bench.sh can read its
 * /proc/PID/smaps next to vramd's in the same run.
 *
 * --binary FILE (with --kernel): build from FILE, the program binary a
 * first run saved there, instead of from source, and list the driver
 * libraries mapped: whether a cached binary keeps the compiler out.
 *
 * Usage: cl-bare [--device-types gpu|cpu|all] [--shared-context]
 *                [--lock none|all|onfault] [--kernel [--binary FILE]] */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels.h"

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#define MAX_DEV 64

struct opts {
  cl_device_type types;
  bool shared, kernel;
  int lock; /* mlockall flags, 0: none */
  const char *binary; /* program binary cache file, or NULL */
};

/* Parse the command line into o; false on a bad argument. */
static bool parse(int argc, char **argv, struct opts *o)
{
  o->types = CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--shared-context")) {
      o->shared = true;
    } else if (!strcmp(a, "--kernel")) {
      o->kernel = true;
    } else if (!strcmp(a, "--binary") && i + 1 < argc) {
      o->binary = v;
      i++;
    } else if (!strcmp(a, "--device-types")) {
      o->types = !strcmp(v, "cpu") ? CL_DEVICE_TYPE_CPU
               : !strcmp(v, "all") ? CL_DEVICE_TYPE_ALL
               : CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR;
      i++;
    } else if (!strcmp(a, "--lock")) {
      o->lock = !strcmp(v, "all") ? MCL_CURRENT | MCL_FUTURE
              : !strcmp(v, "onfault") ? MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT : 0;
      if (strcmp(v, "all") && strcmp(v, "onfault") && strcmp(v, "none"))
        return false;
      i++;
    } else {
      return false;
    }
  }
  return true;
}

/* Print the driver libraries (paths holding "nvidia" or "pocl") this
 * process has mapped, one line. */
static void print_libs(void)
{
  FILE *f = fopen("/proc/self/maps", "re");
  char line[512], seen[4096] = "";
  printf("cl-bare: libraries:");
  while (f && fgets(line, sizeof line, f)) {
    char *path = strchr(line, '/');
    if (!path || (!strstr(path, "nvidia") && !strstr(path, "pocl")))
      continue;
    path[strcspn(path, "\n")] = '\0';
    if (strstr(seen, path) || strlen(seen) + strlen(path) + 2 > sizeof seen)
      continue;
    strcat(strcat(seen, " "), path);
    printf(" %s", strrchr(path, '/') + 1);
  }
  if (f)
    fclose(f);
  printf("\n");
}

/* Print VmRSS, VmHWM and VmLck of this process on one line. */
static void print_status(unsigned ndev, unsigned nctx)
{
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];

  printf("cl-bare: %u devices, %u contexts:", ndev, nctx);
  while (f && fgets(line, sizeof line, f)) {
    unsigned long kb;
    char name[32];
    if (sscanf(line, "%31[^:]: %lu kB", name, &kb) == 2 &&
        (!strcmp(name, "VmRSS") || !strcmp(name, "VmHWM") || !strcmp(name, "VmLck")))
      printf(" %s %lu kB", name, kb);
  }
  if (f)
    fclose(f);
  printf("\n");
  fflush(stdout);
}

/* Read a whole file into a new buffer; NULL if it cannot. */
static unsigned char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  unsigned char *b = NULL;
  long n;
  if (!f)
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (b = malloc((size_t)n)) != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  if (b)
    *len = (size_t)n;
  fclose(f);
  return b;
}

/* Save a built program's binary for one device to path. */
static void save_binary(cl_program p, const char *path)
{
  size_t len = 0;
  unsigned char *b;
  FILE *f;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
      !len || !(b = malloc(len)))
    return;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof b, &b, NULL) == CL_SUCCESS &&
      (f = fopen(path, "wb")) != NULL) {
    fwrite(b, 1, len, f);
    fclose(f);
  }
  free(b);
}

/* Build vramd's batch kernel for one device, from bin (a cached binary)
 * when it can be read, else from source, saving the binary to bin;
 * false if it fails. */
static bool build_kernel(cl_context ctx, cl_device_id d, const char *bin)
{
  const char *src = vd_kernel_source;
  size_t len = 0;
  unsigned char *b = bin ? slurp(bin, &len) : NULL;
  cl_int rc, st;
  cl_program p = b ? clCreateProgramWithBinary(ctx, 1, &d, &len, (const unsigned char **)&b,
                                               &st, &rc)
                   : clCreateProgramWithSource(ctx, 1, &src, NULL, &rc);
  printf("cl-bare: kernel from %s\n", b ? "the cached binary" : "source");
  free(b);
  if (rc != CL_SUCCESS)
    return false;
  rc = clBuildProgram(p, 1, &d, "", NULL, NULL);
  if (rc == CL_SUCCESS && bin && !len)
    save_binary(p, bin);
  if (rc == CL_SUCCESS) {
    cl_kernel k = clCreateKernel(p, VD_KERNEL_NAME, &rc);
    if (rc == CL_SUCCESS)
      clReleaseKernel(k);
  }
  /* Kept, as vramd keeps its program for the daemon's life. */
  return rc == CL_SUCCESS;
}

int main(int argc, char **argv)
{
  struct opts o = { 0 };
  cl_platform_id plats[16];
  cl_uint nplat = 0;
  unsigned ndev = 0, nctx = 0;
  sigset_t set;
  int sig;

  if (!parse(argc, argv, &o)) {
    fprintf(stderr, "usage: cl-bare [--device-types gpu|cpu|all] [--shared-context] "
            "[--lock none|all|onfault] [--kernel]\n");
    return 2;
  }
  /* Signals are waited for, not handled: block them before any driver thread. */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  if (clGetPlatformIDs(16, plats, &nplat) != CL_SUCCESS)
    nplat = 0;
  for (cl_uint p = 0; p < nplat && p < 16; p++) {
    cl_device_id ids[MAX_DEV];
    cl_uint n = 0;
    cl_context shared = NULL;
    cl_int rc;
    if (clGetDeviceIDs(plats[p], o.types, MAX_DEV - ndev, ids, &n) != CL_SUCCESS || !n)
      continue;
    cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties)plats[p], 0 };
    if (o.shared) {
      shared = clCreateContext(props, n, ids, NULL, NULL, &rc);
      if (rc != CL_SUCCESS) {
        fprintf(stderr, "cl-bare: cannot create a context over %u devices (%d)\n", n, rc);
        return 1;
      }
      nctx++;
    }
    for (cl_uint i = 0; i < n; i++) {
      cl_context ctx = shared;
      if (!ctx) {
        ctx = clCreateContext(props, 1, &ids[i], NULL, NULL, &rc);
        if (rc != CL_SUCCESS) {
          fprintf(stderr, "cl-bare: cannot create a context (%d)\n", rc);
          return 1;
        }
        nctx++;
      }
      /* A queue makes the driver commit the device (NVIDIA: its CUDA context). */
      cl_command_queue q = clCreateCommandQueueWithProperties(ctx, ids[i], NULL, &rc);
      if (rc != CL_SUCCESS) {
        fprintf(stderr, "cl-bare: cannot create a queue (%d)\n", rc);
        return 1;
      }
      clFinish(q);
      if (o.kernel && !build_kernel(ctx, ids[i], o.binary))
        fprintf(stderr, "cl-bare: the batch kernel does not build on device %u\n", ndev);
      ndev++;
    }
  }
  if (!ndev) {
    fprintf(stderr, "cl-bare: no OpenCL device of these types\n");
    return 1;
  }
  if (o.lock && mlockall(o.lock) != 0)
    perror("cl-bare: mlockall");
  print_status(ndev, nctx);
  if (o.binary)
    print_libs();
  sigwait(&set, &sig);
  /* Contexts and queues go with the process, as the driver's own do. */
  return 0;
}
