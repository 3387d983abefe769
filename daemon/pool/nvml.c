/* nvml.c: ask NVIDIA's management library for free memory.  It is loaded
 * with dlopen so that vramd needs no NVIDIA package to build or run. */
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

/* Free memory of the GPU at a PCI bus id. */
int vd_nvml_free(const char *pci_bus_id, uint64_t *free_bytes)
{
  void *dev;
  struct nvml_memory mem;

  if (!pci_bus_id || !pci_bus_id[0])
    return -ENOENT;
  pthread_once(&once, load);
  if (!by_pci || !meminfo || by_pci(pci_bus_id, &dev) != 0 || meminfo(dev, &mem) != 0)
    return -ENOENT;
  *free_bytes = mem.free;
  return 0;
}
