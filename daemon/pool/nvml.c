/* nvml.c: ask NVIDIA's management library for free memory and whether a
 * GPU is still there.  It is loaded with dlopen so that vramd needs no
 * NVIDIA package to build or run. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "pool-internal.h"

struct nvml_memory { unsigned long long total, free, used; };
typedef int (*nvml_init_fn)(void);
typedef int (*nvml_by_pci_fn)(const char *, void **);
typedef int (*nvml_meminfo_fn)(void *, struct nvml_memory *);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static nvml_by_pci_fn by_pci;
static nvml_meminfo_fn meminfo;

/* Load NVML once; leaves the pointers NULL if it is not there. */
static void load(void)
{
  void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  nvml_init_fn init;
  if (!h)
    return;
  init = (nvml_init_fn)dlsym(h, "nvmlInit_v2");
  if (!init || init() != 0) {
    dlclose(h);
    return;
  }
  by_pci = (nvml_by_pci_fn)dlsym(h, "nvmlDeviceGetHandleByPciBusId_v2");
  meminfo = (nvml_meminfo_fn)dlsym(h, "nvmlDeviceGetMemoryInfo");
}

/* What NVML's answer to a query says about the GPU. */
enum vd_nvml_verdict vd_nvml_judge(int rc)
{
  switch (rc) {
  case VD_NVML_SUCCESS:
    return VD_NVML_FINE;
  case VD_NVML_ERROR_GPU_IS_LOST:      /* fallen off the bus */
  case VD_NVML_ERROR_RESET_REQUIRED:   /* unusable until reset */
    return VD_NVML_LOST;
  case VD_NVML_ERROR_UNINITIALIZED:
  case VD_NVML_ERROR_INVALID_ARGUMENT:
  case VD_NVML_ERROR_NOT_SUPPORTED:
  case VD_NVML_ERROR_NO_PERMISSION:
  case VD_NVML_ERROR_NOT_FOUND:
  case VD_NVML_ERROR_FUNCTION_NOT_FOUND:
    return VD_NVML_UNWATCHABLE;        /* asking again cannot help */
  default:
    return VD_NVML_UNSURE;             /* timeouts, UNKNOWN: ask next time */
  }
}

/* NVML's handle of the GPU at a PCI bus id, or NULL. */
void *vd_nvml_handle(const char *pci_bus_id)
{
  void *dev;
  if (!pci_bus_id || !pci_bus_id[0])
    return NULL;
  pthread_once(&once, load);
  if (!by_pci || !meminfo || by_pci(pci_bus_id, &dev) != VD_NVML_SUCCESS)
    return NULL;
  return dev;
}

/* One cheap question to a GPU: NVML's return code. */
int vd_nvml_query(void *handle)
{
  struct nvml_memory mem;
  return meminfo(handle, &mem);
}

/* Free memory of the GPU at a PCI bus id. */
int vd_nvml_free(const char *pci_bus_id, uint64_t *free_bytes)
{
  void *dev = vd_nvml_handle(pci_bus_id);
  struct nvml_memory mem;

  if (!dev || meminfo(dev, &mem) != VD_NVML_SUCCESS)
    return -ENOENT;
  *free_bytes = mem.free;
  return 0;
}
