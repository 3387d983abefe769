/* health.c: tell a device that is gone from a transfer that failed once.
 * The rule and its reasons: docs/design-decisions.md, "Device loss". */
#include <stdio.h>
#include <time.h>

#include "pool-internal.h"
#include "util.h"

#define PROBES 2             /* failed probes in a row that mean "gone" */
#define PROBE_PAUSE_MS 50    /* between them: past a passing hiccup */
#define VD_CL_NV_FATAL (-9999) /* NVIDIA: a fault that poisoned the context */

/* True for the codes a live queue, buffer or event of ours only returns
 * once the device or its context is unusable. */
bool vd_cl_error_gone(cl_int e)
{
  switch (e) {
  case CL_DEVICE_NOT_AVAILABLE:   /* the device went away */
  case CL_OUT_OF_RESOURCES:       /* NVIDIA after an Xid: sticky */
  case CL_INVALID_DEVICE:
  case CL_INVALID_CONTEXT:
  case CL_INVALID_COMMAND_QUEUE:  /* our queue is live: the runtime lost it */
  case CL_INVALID_MEM_OBJECT:     /* likewise our committed buffer */
  case CL_INVALID_EVENT:
  case VD_CL_NV_FATAL:
    return true;
  default:
    return false;
  }
}

/* Wait for ev; its command's failure (a negative status) is the result. */
cl_int vd_cl_event_wait(cl_event ev)
{
  cl_int rc = clWaitForEvents(1, &ev), st = CL_COMPLETE;
  cl_int info = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);

  if (info == CL_SUCCESS && st < 0)
    return st;
  if (rc != CL_SUCCESS)
    return rc;
  return info;
}

/* Wait for ev by looking every nap_ns, asleep in between, holding none
 * of the driver's locks between looks.  For long commands only: a nap
 * costs about 10 us however short it is asked to be (bench/RESULTS.md,
 * "Waiting inside the driver").  The caller has flushed ev's queue. */
cl_int vd_cl_event_nap(cl_event ev, uint64_t nap_ns)
{
  const struct timespec nap = { (time_t)(nap_ns / 1000000000u), (long)(nap_ns % 1000000000u) };
  cl_int st = CL_QUEUED, rc;

  for (;;) {
    rc = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
    if (rc != CL_SUCCESS || st <= CL_COMPLETE)
      break;
    nanosleep(&nap, NULL);
  }
  return rc != CL_SUCCESS ? rc : st < 0 ? st : CL_SUCCESS;
}

/* One tiny transfer from the committed probe buffer through the admin
 * queue (not the worker's, which may be the one that broke). */
static cl_int probe(struct vd_device *dev)
{
  cl_uint v;
  cl_event ev;
  cl_int rc = clEnqueueReadBuffer(dev->admin, dev->probe, CL_FALSE, 0, sizeof v, &v,
                                  0, NULL, &ev);
  if (rc != CL_SUCCESS)
    return rc;
  clFlush(dev->admin);
  rc = vd_cl_event_wait(ev);
  clReleaseEvent(ev);
  return rc;
}

/* Mark dev lost and say so once, with why. */
void vd_device_declare_lost(struct vd_device *dev, const char *why)
{
  if (vd_device_mark_lost(dev))
    vd_err("%s: device lost: %s; its volumes now fail every request with EIO, mirrors "
           "serve from their other copies (restart vramd once the device is back)",
           dev->info.id, why);
}

/* After a failed transfer: probe, and declare the device lost only when
 * every probe fails with a code that means it is gone. */
bool vd_device_check(struct vd_device *dev, const char *what)
{
  const struct timespec pause = { 0, PROBE_PAUSE_MS * 1000000L };
  cl_int rc = CL_SUCCESS;
  char why[160];

  if (vd_device_is_lost(dev))
    return true;
  pthread_mutex_lock(&dev->probe_lock);
  for (int i = 0; i < PROBES && !vd_device_is_lost(dev); i++) {
    if (i)
      nanosleep(&pause, NULL);
    rc = probe(dev);
    if (!vd_cl_error_gone(rc))
      break;
  }
  pthread_mutex_unlock(&dev->probe_lock);
  if (vd_device_is_lost(dev))
    return true;
  if (vd_cl_error_gone(rc)) {
    snprintf(why, sizeof why, "%s failed, and %d probes in a row failed with %s",
             what, PROBES, vd_cl_strerror(rc));
    vd_device_declare_lost(dev, why);
    return true;
  }
  if (rc == CL_SUCCESS)
    vd_warn_rl("%s: %s failed, but the device answers a probe: only those requests fail",
               dev->info.id, what);
  else
    vd_warn_rl("%s: %s failed, and a probe with %s, which does not mean the device is "
               "gone: only those requests fail", dev->info.id, what, vd_cl_strerror(rc));
  return false;
}
