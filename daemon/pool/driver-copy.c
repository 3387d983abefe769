/* driver-copy.c: a private copy of a platform's vendor library for one
 * device.
 *
 * NVIDIA's OpenCL driver serialises calls on different devices through a
 * lock it shares within a process: four threads on four H200s make 2-2.4
 * times the small calls of one, four processes (or four threads whose
 * devices come from four copies of the library) 3.6-4.3 times
 * (bench/RESULTS.md, "The driver's lock").  A copy loaded with dlmopen()
 * into a link namespace of its own shares no state with the others; the
 * ICD loader dispatches every call by its object, so once a device comes
 * from a copy, everything made on it (context, queues, buffers, events)
 * goes to that copy without further care.
 *
 * The library behind a platform is not named by the loader: it is found
 * as the loader finds it (the .icd files of $OCL_ICD_VENDORS or
 * /etc/OpenCL/vendors, or $OCL_ICD_FILENAMES), by asking each for its
 * platforms and matching name, vendor and version.  A copy is never
 * unloaded: vendor libraries do not survive dlclose() reliably. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dlmopen, LM_ID_NEWLM */
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool-cl.h"
#include "pool-internal.h"
#include "util.h"

#define MAX_LIBS 16

/* A library's clIcdGetPlatformIDsKHR, as the loader gets it. */
typedef cl_int (*icd_platforms_fn)(cl_uint, cl_platform_id *, cl_uint *);

/* A platform string, "" on failure. */
static void plat_string(cl_platform_id p, cl_platform_info what, char *buf, size_t len)
{
  size_t got = 0;
  if (clGetPlatformInfo(p, what, len, buf, &got) != CL_SUCCESS)
    got = 0;
  buf[got < len ? got : len - 1] = '\0';
}

/* True when a and b are the same platform of the same driver. */
static bool same_platform(cl_platform_id a, cl_platform_id b)
{
  static const cl_platform_info what[] = { CL_PLATFORM_NAME, CL_PLATFORM_VENDOR,
                                           CL_PLATFORM_VERSION };
  for (size_t i = 0; i < sizeof what / sizeof what[0]; i++) {
    char x[256], y[256];
    plat_string(a, what[i], x, sizeof x);
    plat_string(b, what[i], y, sizeof y);
    if (!x[0] || strcmp(x, y))
      return false;
  }
  return true;
}

/* Load a private copy of lib and return its first platform like plat,
 * or NULL (the copy stays loaded either way: see the top comment). */
static cl_platform_id private_platform(const char *lib, cl_platform_id plat)
{
  void *h = dlmopen(LM_ID_NEWLM, lib, RTLD_NOW | RTLD_LOCAL);
  void *(*ext)(const char *);
  icd_platforms_fn get;
  cl_platform_id p[8];
  cl_uint n = 0;

  if (!h) {
    vd_debug("driver copy: %s: %s", lib, dlerror());
    return NULL;
  }
  ext = (void *(*)(const char *))dlsym(h, "clGetExtensionFunctionAddress");
  get = ext ? (icd_platforms_fn)ext("clIcdGetPlatformIDsKHR") : NULL;
  if (!get || get(8, p, &n) != CL_SUCCESS)
    return NULL;
  for (cl_uint i = 0; i < n && i < 8; i++)
    if (same_platform(p[i], plat))
      return p[i];
  return NULL;
}

/* The vendor libraries the loader would load, into libs; how many. */
static unsigned vendor_libs(char libs[][256], unsigned max)
{
  const char *names = getenv("OCL_ICD_FILENAMES");
  const char *dir = getenv("OCL_ICD_VENDORS");
  unsigned n = 0;
  DIR *d;

  if (names && *names) {
    char *copy = strdup(names), *save = NULL;
    for (char *s = copy ? strtok_r(copy, ":", &save) : NULL; s && n < max;
         s = strtok_r(NULL, ":", &save))
      snprintf(libs[n++], 256, "%s", s);
    free(copy);
    return n;
  }
  if (!dir || !*dir)
    dir = "/etc/OpenCL/vendors";
  d = opendir(dir);
  if (!d)
    return 0;
  for (struct dirent *e; (e = readdir(d)) != NULL && n < max;) {
    size_t len = strlen(e->d_name);
    char path[512];
    FILE *f;
    if (len < 5 || strcmp(e->d_name + len - 4, ".icd"))
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    f = fopen(path, "r");
    if (!f)
      continue;
    if (fgets(libs[n], 256, f)) {
      libs[n][strcspn(libs[n], "\r\n")] = '\0';
      n += libs[n][0] != '\0';
    }
    fclose(f);
  }
  closedir(d);
  return n;
}

/* Device i (in clGetDeviceIDs order for mask) of platform plat, from a
 * private copy of its library; like must be the same device as the
 * shared copy gives it (name and UUID compared).  NULL when no copy can
 * be had: the caller keeps the shared one.  Called from one thread (the
 * pool's start). */
cl_device_id vd_driver_private_device(cl_platform_id plat, cl_device_type mask, cl_uint i,
                                      cl_device_id like)
{
  /* The library found for the last platform asked about: later devices
   * load only that one (each load takes one of glibc's 16 namespaces). */
  static char found[256];
  static cl_platform_id found_for;
  char libs[MAX_LIBS][256];
  unsigned n;

  if (found_for == plat && found[0]) {
    memcpy(libs[0], found, sizeof libs[0]);
    n = 1;
  } else {
    n = vendor_libs(libs, MAX_LIBS);
  }
  for (unsigned k = 0; k < n; k++) {
    cl_platform_id p = private_platform(libs[k], plat);
    cl_device_id ids[VD_POOL_MAX];
    cl_uint nd = 0;
    char a[256], b[256];

    if (!p)
      continue;
    memcpy(found, libs[k], sizeof found);
    found_for = plat;
    if (clGetDeviceIDs(p, mask, VD_POOL_MAX, ids, &nd) != CL_SUCCESS || i >= nd)
      return NULL;
    if (clGetDeviceInfo(ids[i], CL_DEVICE_NAME, sizeof a, a, NULL) != CL_SUCCESS ||
        clGetDeviceInfo(like, CL_DEVICE_NAME, sizeof b, b, NULL) != CL_SUCCESS ||
        strcmp(a, b))
      return NULL;
    {
      unsigned char u1[16], u2[16];
      if (clGetDeviceInfo(ids[i], VD_CL_DEVICE_UUID_KHR, sizeof u1, u1, NULL) == CL_SUCCESS &&
          clGetDeviceInfo(like, VD_CL_DEVICE_UUID_KHR, sizeof u2, u2, NULL) == CL_SUCCESS &&
          memcmp(u1, u2, sizeof u1))
        return NULL;
    }
    return ids[i];
  }
  return NULL;
}

struct vd_pin_share {
  void *ptr;
  cl_mem mem[VD_POOL_MAX];          /* CL_MEM_USE_HOST_PTR over ptr, mapped */
  cl_command_queue q[VD_POOL_MAX];  /* the device's admin queue that mapped it */
};

/* True when a and b are driven by different copies of the driver. */
static bool other_copy(const struct vd_device *a, const struct vd_device *b)
{
  return a != b && (a->private_driver || b->private_driver);
}

/* Pinned memory is pinned only in the copy of the driver that allocated
 * it: to the others it is pageable, and transfers from it run at a third
 * of the speed (bench/RESULTS.md).  A CL_MEM_USE_HOST_PTR buffer over it,
 * mapped once, makes NVIDIA's driver pin it in that copy too. */
struct vd_pin_share *vd_pool_share_pinned(struct vd_pool *pool, const struct vd_device *owner,
                                          void *ptr, size_t bytes)
{
  struct vd_pin_share *s = NULL;

  for (unsigned i = 0; i < pool->ndev; i++) {
    struct vd_device *d = pool->dev[i];
    cl_int rc;
    if (!other_copy(d, owner) || vd_device_is_lost(d) || !d->admin)
      continue;
    if (!s && !(s = calloc(1, sizeof *s)))
      return NULL;
    s->ptr = ptr;
    s->mem[i] = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, ptr, &rc);
    if (rc == CL_SUCCESS &&
        clEnqueueMapBuffer(d->admin, s->mem[i], CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes,
                           0, NULL, NULL, &rc) && rc == CL_SUCCESS) {
      s->q[i] = d->admin;
      continue;
    }
    vd_warn_rl("%s: cannot pin %zu bytes of host memory in its copy of the driver (%s): "
               "its transfers from them run slower", d->info.id, bytes, vd_cl_strerror(rc));
    if (s->mem[i])
      clReleaseMemObject(s->mem[i]);
    s->mem[i] = NULL;
  }
  return s;
}

/* Undo vd_pool_share_pinned. */
void vd_pool_unshare_pinned(struct vd_pin_share *s)
{
  if (!s)
    return;
  for (unsigned i = 0; i < VD_POOL_MAX; i++)
    if (s->mem[i]) {
      clEnqueueUnmapMemObject(s->q[i], s->mem[i], s->ptr, 0, NULL, NULL);
      clFinish(s->q[i]);
      clReleaseMemObject(s->mem[i]);
    }
  free(s);
}
