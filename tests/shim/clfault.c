/* clfault.c: an LD_PRELOAD library for tests that makes the OpenCL calls
 * on one device fail as a lost or flaky device makes them fail.  vramd
 * links libOpenCL (the ICD loader) dynamically, so these definitions come
 * first and pass through to the loader's (dlsym RTLD_NEXT) until armed.
 *
 * Armed by the file named in $VD_CLFAULT_FILE, one line:
 *   MODE INDEX CODE [FUNCTION]
 * MODE  lost: from now on every call on the device fails, for good (the
 *             file may go; another line loses another device too);
 *       once: the next call on the device fails, and the file is removed.
 * INDEX the device's place in its platform's clGetDeviceIDs list.
 * CODE  an OpenCL error name (CL_DEVICE_NOT_AVAILABLE, ...) or number.
 * FUNCTION  only calls of these functions fail (a comma-separated list).
 * Enqueues (a map returns NULL), clFinish, clFlush and clWaitForEvents
 * return CODE; in lost mode clGetEventInfo also reports CODE as the
 * command's status, as a runtime reports a command that failed on the
 * device.  Each firing is
 * logged on stderr with "clfault:". */
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEVS 64

struct arm {
  bool on;
  bool once;
  unsigned index;
  cl_int code;
  char fn[128];         /* functions, comma-separated; "" = every one */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct arm armed;        /* the file's arm */
static struct arm lost[64];     /* the lost ones latched, by index */
static bool any_lost;
static struct stat seen;        /* the file armed was read from */
static struct { cl_device_id id; unsigned index; } devs[MAX_DEVS];
static unsigned ndevs;

/* The loader's definition of name; abort if there is none. */
static void *real(const char *name)
{
  void *p = dlsym(RTLD_NEXT, name);
  if (!p) {
    fprintf(stderr, "clfault: no %s after this library: %s\n", name, dlerror());
    abort();
  }
  return p;
}
/* The next definition of f, looked up once per call site. */
#define REAL(f) ({                                                       \
    static _Atomic(__typeof__(&f)) r_;                                   \
    __typeof__(&f) p_ = atomic_load_explicit(&r_, memory_order_acquire); \
    if (!p_) {                                                           \
      p_ = (__typeof__(&f))real(#f);                                     \
      atomic_store_explicit(&r_, p_, memory_order_release);              \
    }                                                                    \
    p_; })

/* An error code by name or number; 0 if neither. */
static cl_int parse_code(const char *s)
{
  static const struct { const char *name; cl_int code; } names[] = {
    { "CL_DEVICE_NOT_AVAILABLE", CL_DEVICE_NOT_AVAILABLE },
    { "CL_MEM_OBJECT_ALLOCATION_FAILURE", CL_MEM_OBJECT_ALLOCATION_FAILURE },
    { "CL_OUT_OF_RESOURCES", CL_OUT_OF_RESOURCES },
    { "CL_OUT_OF_HOST_MEMORY", CL_OUT_OF_HOST_MEMORY },
    { "CL_INVALID_CONTEXT", CL_INVALID_CONTEXT },
    { "CL_INVALID_COMMAND_QUEUE", CL_INVALID_COMMAND_QUEUE },
    { "CL_INVALID_MEM_OBJECT", CL_INVALID_MEM_OBJECT },
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(s, names[i].name))
      return names[i].code;
  return (cl_int)strtol(s, NULL, 0);
}

/* Re-read the file if it changed; lock held. */
static void refresh(void)
{
  const char *path = getenv("VD_CLFAULT_FILE");
  char mode[16], code[64], fn[128] = "";
  struct stat st;
  unsigned index;
  FILE *f;

  if (!path || stat(path, &st) != 0) {
    armed.on = false;
    return;
  }
  if (armed.on && st.st_ino == seen.st_ino && st.st_size == seen.st_size &&
      st.st_mtim.tv_sec == seen.st_mtim.tv_sec && st.st_mtim.tv_nsec == seen.st_mtim.tv_nsec)
    return;
  f = fopen(path, "re");
  if (!f)
    return;
  armed.on = fscanf(f, "%15s %u %63s %127s", mode, &index, code, fn) >= 3 &&
             (!strcmp(mode, "lost") || !strcmp(mode, "once")) && parse_code(code) < 0;
  fclose(f);
  if (!armed.on)
    return; /* half written, or wrong: read it again next call */
  seen = st;
  armed.once = !strcmp(mode, "once");
  armed.index = index;
  armed.code = parse_code(code);
  snprintf(armed.fn, sizeof armed.fn, "%s", fn);
  if (!armed.once && index < 64 && !lost[index].on) {
    lost[index] = armed;
    any_lost = true;
    fprintf(stderr, "clfault: device %u lost: %s now fail%s with %d\n", index,
            fn[0] ? fn : "its OpenCL calls", fn[0] ? "s" : "", (int)armed.code);
  }
}

/* The device's place in its platform's list; MAX_DEVS if unknown. */
static unsigned dev_index(cl_device_id d)
{
  cl_platform_id plat;
  cl_device_id ids[MAX_DEVS];
  cl_uint n = 0;

  if (!d)
    return MAX_DEVS;
  for (unsigned i = 0; i < ndevs; i++)
    if (devs[i].id == d)
      return devs[i].index;
  if (clGetDeviceInfo(d, CL_DEVICE_PLATFORM, sizeof plat, &plat, NULL) != CL_SUCCESS ||
      clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, MAX_DEVS, ids, &n) != CL_SUCCESS)
    return MAX_DEVS;
  for (cl_uint i = 0; i < n && i < MAX_DEVS; i++)
    if (ids[i] == d && ndevs < MAX_DEVS) {
      devs[ndevs].id = d;
      devs[ndevs].index = i;
      return devs[ndevs++].index;
    }
  return MAX_DEVS;
}

/* True if fn is in the comma-separated list (or the list is empty). */
static bool fn_in(const char *list, const char *fn)
{
  size_t n = strlen(fn);
  if (!list[0])
    return true;
  for (const char *p = list; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
    if (!strncmp(p, fn, n) && (p[n] == ',' || p[n] == '\0'))
      return true;
  return false;
}

/* True if an armed fault covers this call of fn on device d; *code then
 * holds the error.  once_ok: a one-off fault may take this call. */
static bool should_fail(cl_device_id d, const char *fn, bool once_ok, cl_int *code)
{
  bool fail = false;
  unsigned idx;

  pthread_mutex_lock(&lock);
  refresh();
  if (!any_lost && !armed.on)
    goto out_unlock;
  idx = dev_index(d);
  if (idx < 64 && lost[idx].on && fn_in(lost[idx].fn, fn)) {
    *code = lost[idx].code;
    fail = true;
  } else if (armed.on && armed.once && once_ok && idx == armed.index &&
             fn_in(armed.fn, fn) &&
             unlink(getenv("VD_CLFAULT_FILE")) == 0) {
    armed.on = false;
    *code = armed.code;
    fail = true;
    fprintf(stderr, "clfault: device %u: one %s fails with %d\n", idx, fn, (int)*code);
  }
out_unlock:
  pthread_mutex_unlock(&lock);
  return fail;
}

/* The device a queue feeds. */
static cl_device_id queue_dev(cl_command_queue q)
{
  cl_device_id d = NULL;
  if (!q || clGetCommandQueueInfo(q, CL_QUEUE_DEVICE, sizeof d, &d, NULL) != CL_SUCCESS)
    return NULL;
  return d;
}

/* The device an event's command ran on (NULL for user events). */
static cl_device_id event_dev(cl_event ev)
{
  cl_command_queue q = NULL;
  if (!ev || REAL(clGetEventInfo)(ev, CL_EVENT_COMMAND_QUEUE, sizeof q, &q, NULL) != CL_SUCCESS)
    return NULL;
  return queue_dev(q);
}

/* Fail with the armed code if a fault covers this queue call. */
#define FAULT_ON_QUEUE(q, fn)                                            \
  do {                                                                   \
    cl_int code_;                                                        \
    if (should_fail(queue_dev(q), fn, true, &code_))                     \
      return code_;                                                      \
  } while (0)

cl_int clEnqueueReadBuffer(cl_command_queue q, cl_mem b, cl_bool blocking, size_t off,
                           size_t size, void *ptr, cl_uint n, const cl_event *wait, cl_event *ev)
{
  FAULT_ON_QUEUE(q, __func__);
  return REAL(clEnqueueReadBuffer)(q, b, blocking, off, size, ptr, n, wait, ev);
}

cl_int clEnqueueWriteBuffer(cl_command_queue q, cl_mem b, cl_bool blocking, size_t off,
                            size_t size, const void *ptr, cl_uint n, const cl_event *wait,
                            cl_event *ev)
{
  FAULT_ON_QUEUE(q, __func__);
  return REAL(clEnqueueWriteBuffer)(q, b, blocking, off, size, ptr, n, wait, ev);
}

cl_int clEnqueueReadBufferRect(cl_command_queue q, cl_mem b, cl_bool blocking,
                               const size_t *bo, const size_t *ho, const size_t *region,
                               size_t brow, size_t bslice, size_t hrow, size_t hslice,
                               void *ptr, cl_uint n, const cl_event *wait, cl_event *ev)
{
  FAULT_ON_QUEUE(q, __func__);
  return REAL(clEnqueueReadBufferRect)(q, b, blocking, bo, ho, region, brow, bslice, hrow,
                                       hslice, ptr, n, wait, ev);
}

cl_int clEnqueueWriteBufferRect(cl_command_queue q, cl_mem b, cl_bool blocking,
                                const size_t *bo, const size_t *ho, const size_t *region,
                                size_t brow, size_t bslice, size_t hrow, size_t hslice,
                                const void *ptr, cl_uint n, const cl_event *wait, cl_event *ev)
{
  FAULT_ON_QUEUE(q, __func__);
  return REAL(clEnqueueWriteBufferRect)(q, b, blocking, bo, ho, region, brow, bslice, hrow,
                                        hslice, ptr, n, wait, ev);
}

cl_int clEnqueueFillBuffer(cl_command_queue q, cl_mem b, const void *pat, size_t patlen,
                           size_t off, size_t size, cl_uint n, const cl_event *wait,
                           cl_event *ev)
{
  FAULT_ON_QUEUE(q, __func__);
  return REAL(clEnqueueFillBuffer)(q, b, pat, patlen, off, size, n, wait, ev);
}

cl_int clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dims, const size_t *goff,
                              const size_t *gsize, const size_t *lsize, cl_uint n,
                              const cl_event *wait, cl_event *ev)
{
  FAULT_ON_QUEUE(q, __func__);
  return REAL(clEnqueueNDRangeKernel)(q, k, dims, goff, gsize, lsize, n, wait, ev);
}

cl_int clEnqueueMarkerWithWaitList(cl_command_queue q, cl_uint n, const cl_event *wait,
                                   cl_event *ev)
{
  FAULT_ON_QUEUE(q, __func__);
  return REAL(clEnqueueMarkerWithWaitList)(q, n, wait, ev);
}

void *clEnqueueMapBuffer(cl_command_queue q, cl_mem b, cl_bool blocking, cl_map_flags flags,
                         size_t off, size_t size, cl_uint n, const cl_event *wait, cl_event *ev,
                         cl_int *err)
{
  cl_int code;
  if (should_fail(queue_dev(q), __func__, true, &code)) {
    if (err)
      *err = code;
    return NULL;
  }
  return REAL(clEnqueueMapBuffer)(q, b, blocking, flags, off, size, n, wait, ev, err);
}

cl_int clFinish(cl_command_queue q)
{
  FAULT_ON_QUEUE(q, __func__);
  return REAL(clFinish)(q);
}

cl_int clFlush(cl_command_queue q)
{
  FAULT_ON_QUEUE(q, __func__);
  return REAL(clFlush)(q);
}

cl_int clWaitForEvents(cl_uint n, const cl_event *evs)
{
  cl_int rc = REAL(clWaitForEvents)(n, evs), code;
  for (cl_uint i = 0; evs && i < n; i++)
    if (should_fail(event_dev(evs[i]), __func__, true, &code))
      return CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST;
  return rc;
}

cl_int clGetEventInfo(cl_event ev, cl_event_info what, size_t size, void *value,
                      size_t *size_ret)
{
  cl_int rc = REAL(clGetEventInfo)(ev, what, size, value, size_ret), code;
  /* A one-off fault never takes a status: vramd reads it more than once. */
  if (rc == CL_SUCCESS && what == CL_EVENT_COMMAND_EXECUTION_STATUS && value &&
      size >= sizeof(cl_int) && should_fail(event_dev(ev), __func__, false, &code))
    *(cl_int *)value = code;
  return rc;
}
