/* pool-internal.h: the pool's own structures, shared by its files. */
#ifndef VRAMD_POOL_INTERNAL_H
#define VRAMD_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "pool-cl.h"

#define VD_POOL_MAX 64
#define VD_POOL_ALIGN 4096u

/* Extension constants, defined here since older headers lack some. */
#define VD_CL_DEVICE_UUID_KHR 0x106A
#define VD_CL_DEVICE_PCI_BUS_INFO_KHR 0x410F
#define VD_CL_DEVICE_PCI_BUS_ID_NV 0x4008
#define VD_CL_DEVICE_PCI_SLOT_ID_NV 0x4009
#define VD_CL_DEVICE_PCI_DOMAIN_ID_NV 0x400A
#define VD_CL_DEVICE_TOPOLOGY_AMD 0x4037
#define VD_CL_DEVICE_GLOBAL_FREE_MEMORY_AMD 0x4039

struct vd_device {
  struct vd_device_info info;
  cl_device_id cl;
  bool private_driver;      /* cl comes from a private copy of the driver */
  cl_context ctx;
  cl_command_queue admin;   /* zero-fills new extents; carries probes */
  cl_mem probe;             /* 4 KiB, committed at start: health.c reads it */
  pthread_mutex_t lock;     /* serialises capacity checks */
  pthread_mutex_t probe_lock; /* one probe at a time */
  _Atomic uint64_t allocated; /* bytes in live extents */
  atomic_bool lost;         /* see vd_device_mark_lost */
  unsigned ncpu;            /* CPU devices sharing host memory (free_now) */
  _Atomic uint64_t yield_floor; /* free memory to leave other processes; 0: off */
  _Atomic uint64_t yield_short; /* what the last yield could not give back */
  atomic_int state;         /* active, draining or drained; set under lock */
};

struct vd_extent {
  struct vd_device *dev;
  cl_mem mem;
  uint64_t bytes;           /* of data */
  uint64_t sums;            /* of the checksum tail after the data; 0: none */
  uint64_t parity;          /* of the parity after the checksums; 0: none */
  struct vd_extent *next;   /* on a stock or a list of retired chunks */
};

struct vd_pool {
  struct vd_device *dev[VD_POOL_MAX];
  unsigned ndev;
  cl_context ctx[VD_POOL_MAX];
  unsigned nctx;
  bool cpu_fallback;
  struct vd_nvml_watch *watch; /* NULL: no GPU NVML can see */
};

/* What volumes may use of free bytes with reserve held back, in whole
 * pages (devstate.c). */
uint64_t vd_capacity_of(uint64_t free_bytes, uint64_t reserve);

/* Free bytes on the NVIDIA GPU at pci_bus_id via NVML, loaded on demand.
 * Returns 0, or -ENOENT when NVML or the device is not there. */
int vd_nvml_free(const char *pci_bus_id, uint64_t *free_bytes);

/* NVML return codes vramd acts on (nvml.h's nvmlReturn_t). */
#define VD_NVML_SUCCESS 0
#define VD_NVML_ERROR_UNINITIALIZED 1
#define VD_NVML_ERROR_INVALID_ARGUMENT 2
#define VD_NVML_ERROR_NOT_SUPPORTED 3
#define VD_NVML_ERROR_NO_PERMISSION 4
#define VD_NVML_ERROR_NOT_FOUND 6
#define VD_NVML_ERROR_FUNCTION_NOT_FOUND 13
#define VD_NVML_ERROR_GPU_IS_LOST 15
#define VD_NVML_ERROR_RESET_REQUIRED 16

enum vd_nvml_verdict {
  VD_NVML_FINE,         /* the GPU answered */
  VD_NVML_LOST,         /* gone: mark it lost */
  VD_NVML_UNWATCHABLE,  /* NVML cannot watch it: stop asking */
  VD_NVML_UNSURE,       /* no verdict this time: ask again */
};
/* What an NVML return code says about the GPU asked (pure). */
enum vd_nvml_verdict vd_nvml_judge(int rc);
/* NVML's handle of the GPU at pci_bus_id, or NULL without NVML or GPU. */
void *vd_nvml_handle(const char *pci_bus_id);
/* Ask a GPU one cheap question (its memory use): NVML's return code. */
int vd_nvml_query(void *handle);

/* Poll NVML for the pool's GPUs (watch.c); NULL when it sees none of them. */
struct vd_nvml_watch *vd_nvml_watch_start(struct vd_pool *pool);
void vd_nvml_watch_stop(struct vd_nvml_watch *w);

/* driver-copy.c: device i of platform plat (clGetDeviceIDs order for
 * mask) from a private copy of the platform's vendor library, checked to
 * be the device like; NULL when none can be had. */
cl_device_id vd_driver_private_device(cl_platform_id plat, cl_device_type mask, cl_uint i,
                                      cl_device_id like);

#endif
