/* pool.c: enumerate OpenCL devices and size what each can hold. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "pool-cl.h"
#include "pool-internal.h"
#include "util.h"

#define MAX_PLATFORMS 16

/* Read a string property of a device into buf ("" on failure). */
static void dev_string(cl_device_id d, cl_device_info what, char *buf,
                       size_t len)
{
  size_t got = 0;
  if (clGetDeviceInfo(d, what, len, buf, &got) != CL_SUCCESS)
    got = 0;
  buf[got < len ? got : len - 1] = '\0';
}

/* Read a fixed-size property; false when the driver refuses it. */
static bool dev_value(cl_device_id d, cl_device_info what, void *v, size_t len)
{
  return clGetDeviceInfo(d, what, len, v, NULL) == CL_SUCCESS;
}

/* True if the device's extension string names ext. */
static bool dev_has_ext(cl_device_id d, const char *ext)
{
  char buf[8192];
  size_t n = strlen(ext);
  dev_string(d, CL_DEVICE_EXTENSIONS, buf, sizeof buf);
  for (const char *p = buf; (p = strstr(p, ext)) != NULL; p += n)
    if ((p == buf || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
      return true;
  return false;
}

/* Fill uuid and PCI bus id from whichever extension the driver has. */
static void dev_identity(cl_device_id d, struct vd_device_info *in)
{
  unsigned char uuid[16];
  if (dev_has_ext(d, "cl_khr_device_uuid") &&
      dev_value(d, VD_CL_DEVICE_UUID_KHR, uuid, sizeof uuid)) {
    snprintf(in->uuid, sizeof in->uuid,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
             uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
  }
  if (dev_has_ext(d, "cl_khr_pci_bus_info")) {
    struct { cl_uint domain, bus, device, function; } pci;
    if (dev_value(d, VD_CL_DEVICE_PCI_BUS_INFO_KHR, &pci, sizeof pci))
      snprintf(in->pci_bus_id, sizeof in->pci_bus_id, "%04x:%02x:%02x.%x",
               pci.domain & 0xffff, pci.bus & 0xff, pci.device & 0x1f, pci.function & 7);
  }
  if (!in->pci_bus_id[0] && dev_has_ext(d, "cl_nv_device_attribute_query")) {
    cl_uint bus, slot, domain = 0;
    if (dev_value(d, VD_CL_DEVICE_PCI_BUS_ID_NV, &bus, sizeof bus) &&
        dev_value(d, VD_CL_DEVICE_PCI_SLOT_ID_NV, &slot, sizeof slot)) {
      dev_value(d, VD_CL_DEVICE_PCI_DOMAIN_ID_NV, &domain, sizeof domain);
      snprintf(in->pci_bus_id, sizeof in->pci_bus_id, "%04x:%02x:%02x.%x",
               domain & 0xffff, bus & 0xff, (slot >> 3) & 0x1f, slot & 7);
    }
  }
  if (!in->pci_bus_id[0] && dev_has_ext(d, "cl_amd_device_attribute_query")) {
    union { struct { cl_uint type, data[5]; } raw;
            struct { cl_uint type; char unused[17]; cl_char bus, device, function; } pcie; } topo;
    if (dev_value(d, VD_CL_DEVICE_TOPOLOGY_AMD, &topo, sizeof topo) && topo.raw.type == 1)
      snprintf(in->pci_bus_id, sizeof in->pci_bus_id, "0000:%02x:%02x.%x",
               (unsigned)(unsigned char)topo.pcie.bus, (unsigned)topo.pcie.device & 0x1f,
               (unsigned)topo.pcie.function & 7);
  }
}

/* MemAvailable from /proc/meminfo, in bytes (0 if unreadable). */
static uint64_t host_mem_available(void)
{
  FILE *f = fopen("/proc/meminfo", "re");
  char line[256];
  unsigned long long kb = 0;
  if (!f)
    return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
      break;
  fclose(f);
  return (uint64_t)kb * 1024;
}

/* Free memory on one device as its driver says now (CPU devices: their
 * share of the host's available memory), and where the figure came from;
 * 0 when nothing says. */
static uint64_t query_free(struct vd_device *dev, unsigned ncpu, const char **source)
{
  struct vd_device_info *in = &dev->info;
  uint64_t free_b = 0;

  *source = "total";
  if (in->type == VD_DEV_CPU) {
    /* CPU devices all share host RAM: split what is available between them. */
    free_b = host_mem_available() / (ncpu ? ncpu : 1);
    if (free_b) {
      *source = free_b < in->total_bytes ? "meminfo" : "total";
      return free_b < in->total_bytes ? free_b : in->total_bytes;
    }
  } else if (vd_nvml_free(in->pci_bus_id, &free_b) == 0) {
    *source = "nvml";
    return free_b < in->total_bytes ? free_b : in->total_bytes;
  } else if (dev_has_ext(dev->cl, "cl_amd_device_attribute_query")) {
    size_t kb[2] = { 0, 0 };
    if (dev_value(dev->cl, VD_CL_DEVICE_GLOBAL_FREE_MEMORY_AMD, kb, sizeof kb) && kb[0]) {
      *source = "amd";
      return (uint64_t)kb[0] * 1024;
    }
  }
  return 0;
}

/* Work out free memory and capacity for one device. */
static void dev_capacity(struct vd_device *dev, const struct vd_pool_config *cfg,
                         unsigned ncpu)
{
  struct vd_device_info *in = &dev->info;
  uint64_t free_b = query_free(dev, ncpu, &in->free_source);

  dev->ncpu = ncpu;
  in->free_bytes = free_b ? free_b : in->total_bytes;
  if (cfg->reserve_set)
    in->reserve_bytes = cfg->reserve;
  else if (in->type == VD_DEV_CPU)
    in->reserve_bytes = in->free_bytes / 4;   /* leave the host room to live */
  else /* 1 GiB or 5%, whichever is more, for the display and the driver */
    in->reserve_bytes = in->total_bytes / 20 > (1ull << 30) ? in->total_bytes / 20 : (1ull << 30);
  in->capacity_bytes = vd_capacity_of(in->free_bytes, in->reserve_bytes);
}

/* Short type prefix for stable ids. */
static const char *type_prefix(unsigned type)
{
  return type == VD_DEV_GPU ? "gpu" : type == VD_DEV_ACCEL ? "acc" : "cpu";
}

/* Map a device's CL type to ours. */
static unsigned dev_type(cl_device_id d)
{
  cl_device_type t = 0;
  dev_value(d, CL_DEVICE_TYPE, &t, sizeof t);
  if (t & CL_DEVICE_TYPE_GPU) return VD_DEV_GPU;
  if (t & CL_DEVICE_TYPE_ACCELERATOR) return VD_DEV_ACCEL;
  return VD_DEV_CPU;
}

/* Collect devices of the given types from every platform into pool. */
static int collect(struct vd_pool *pool, const struct vd_pool_config *cfg,
                   unsigned types, char *err, size_t errlen)
{
  cl_platform_id plats[MAX_PLATFORMS];
  cl_uint nplat = 0;
  cl_device_type mask = 0;
  unsigned counters[8] = { 0 };

  if (types & VD_DEV_GPU) mask |= CL_DEVICE_TYPE_GPU;
  if (types & VD_DEV_ACCEL) mask |= CL_DEVICE_TYPE_ACCELERATOR;
  if (types & VD_DEV_CPU) mask |= CL_DEVICE_TYPE_CPU;

  if (clGetPlatformIDs(MAX_PLATFORMS, plats, &nplat) != CL_SUCCESS || nplat == 0) {
    snprintf(err, errlen, "no OpenCL platform found (is an ICD installed? "
             "on a host without a GPU, install pocl-opencl-icd)");
    return -ENODEV;
  }
  for (cl_uint p = 0; p < nplat && p < MAX_PLATFORMS; p++) {
    cl_device_id ids[VD_POOL_MAX];
    cl_uint n = 0;
    char pname[64];
    cl_context ctx;
    cl_int rc;

    if (clGetDeviceIDs(plats[p], mask, VD_POOL_MAX, ids, &n) != CL_SUCCESS || n == 0)
      continue;
    if (n > VD_POOL_MAX - pool->ndev)
      n = VD_POOL_MAX - pool->ndev;
    /* A context over several devices commits every one of them (NVIDIA:
     * a CUDA context each, about 500 MiB of VRAM), so it is made only
     * when it is the one all devices share. */
    ctx = clCreateContext((cl_context_properties[]){ CL_CONTEXT_PLATFORM,
                            (cl_context_properties)plats[p], 0 },
                          cfg->shared_context ? n : 1, ids, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) {
      vd_warn("platform %u: cannot create a context (%s), skipping its devices",
              p, vd_cl_strerror(rc));
      continue;
    }
    pool->ctx[pool->nctx++] = ctx;
    if (clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL) != CL_SUCCESS)
      strcpy(pname, "?");
    pname[sizeof pname - 1] = '\0';
    for (cl_uint i = 0; i < n; i++) {
      struct vd_device *dev = calloc(1, sizeof *dev);
      cl_ulong v;
      if (!dev) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
      }
      pthread_mutex_init(&dev->lock, NULL);
      pthread_mutex_init(&dev->probe_lock, NULL);
      dev->cl = ids[i];
      dev->ctx = ctx;
      if (!cfg->shared_context && i > 0) {
        /* Separate contexts keep one device's driver locks off another's
         * (measured: bench/RESULTS.md), and a private copy of the driver
         * the locks it shares within a process (driver-copy.c). */
        if (cfg->driver_copies == VD_DRIVER_PER_DEVICE) {
          cl_device_id own = vd_driver_private_device(plats[p], mask, i, ids[i]);
          if (own) {
            dev->cl = own;
            dev->private_driver = true;
          } else {
            vd_warn("platform %u, device %u: no private copy of its driver; it shares "
                    "the first one's (calls on several devices contend for its locks)", p, i);
          }
        }
        /* A private platform is unknown to the ICD loader, which checks
         * a context's CL_CONTEXT_PLATFORM: such a context is made by
         * device alone, dispatched through the device's copy. */
        dev->ctx = clCreateContext(dev->private_driver ? NULL : (cl_context_properties[]){
                                     CL_CONTEXT_PLATFORM, (cl_context_properties)plats[p], 0 },
                                   1, &dev->cl, NULL, NULL, &rc);
        if (rc != CL_SUCCESS) {
          vd_warn("platform %u, device %u: cannot create a context (%s), skipping it",
                  p, i, vd_cl_strerror(rc));
          pthread_mutex_destroy(&dev->probe_lock);
          pthread_mutex_destroy(&dev->lock);
          free(dev);
          continue;
        }
        pool->ctx[pool->nctx++] = dev->ctx;
      }
      dev->info.index = pool->ndev;
      dev->info.type = dev_type(ids[i]);
      snprintf(dev->info.id, sizeof dev->info.id, "%s%u",
               type_prefix(dev->info.type), counters[dev->info.type]++);
      snprintf(dev->info.platform, sizeof dev->info.platform, "%s", pname);
      dev_string(ids[i], CL_DEVICE_VENDOR, dev->info.vendor, sizeof dev->info.vendor);
      dev_string(ids[i], CL_DEVICE_NAME, dev->info.name, sizeof dev->info.name);
      dev_string(ids[i], CL_DRIVER_VERSION, dev->info.driver, sizeof dev->info.driver);
      dev_identity(ids[i], &dev->info);
      if (dev_value(ids[i], CL_DEVICE_GLOBAL_MEM_SIZE, &v, sizeof v))
        dev->info.total_bytes = v;
      if (dev_value(ids[i], CL_DEVICE_MAX_MEM_ALLOC_SIZE, &v, sizeof v))
        dev->info.max_alloc_bytes = v & ~(uint64_t)(VD_POOL_ALIGN - 1);
      pool->dev[pool->ndev++] = dev;
    }
  }
  {
    unsigned ncpu = 0;
    for (unsigned i = 0; i < pool->ndev; i++)
      ncpu += pool->dev[i]->info.type == VD_DEV_CPU;
    for (unsigned i = 0; i < pool->ndev; i++)
      dev_capacity(pool->dev[i], cfg, ncpu);
  }
  {
    unsigned own = 0;
    for (unsigned i = 0; i < pool->ndev; i++)
      own += pool->dev[i]->private_driver;
    if (own)
      vd_info("pool: %u of %u devices on a private copy of their driver", own, pool->ndev);
  }
  vd_debug("pool: %u devices in %u OpenCL contexts", pool->ndev, pool->nctx);
  return 0;
}

/* Free the devices and contexts that collect() made. */
static void release(struct vd_pool *pool)
{
  for (unsigned i = 0; i < pool->ndev; i++) {
    if (pool->dev[i]->probe)
      clReleaseMemObject(pool->dev[i]->probe);
    if (pool->dev[i]->admin)
      clReleaseCommandQueue(pool->dev[i]->admin);
    pthread_mutex_destroy(&pool->dev[i]->probe_lock);
    pthread_mutex_destroy(&pool->dev[i]->lock);
    free(pool->dev[i]);
  }
  for (unsigned i = 0; i < pool->nctx; i++)
    clReleaseContext(pool->ctx[i]);
  pool->ndev = pool->nctx = 0;
}

/* Give each device the queue used to zero new extents, and the buffer
 * health.c probes (zeroed now, so a probe never has to allocate). */
static int make_admin_queues(struct vd_pool *pool, char *err, size_t errlen)
{
  for (unsigned i = 0; i < pool->ndev; i++) {
    struct vd_device *dev = pool->dev[i];
    const cl_uint zero = 0;
    cl_int rc;
    dev->admin = clCreateCommandQueueWithProperties(dev->ctx, dev->cl, NULL, &rc);
    if (rc != CL_SUCCESS) {
      snprintf(err, errlen, "%s: cannot create a command queue: %s",
               dev->info.id, vd_cl_strerror(rc));
      return -EIO;
    }
    dev->probe = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, VD_POOL_ALIGN, NULL, &rc);
    if (rc == CL_SUCCESS)
      rc = clEnqueueFillBuffer(dev->admin, dev->probe, &zero, sizeof zero, 0, VD_POOL_ALIGN,
                               0, NULL, NULL);
    if (rc == CL_SUCCESS)
      rc = clFinish(dev->admin);
    if (rc != CL_SUCCESS) {
      snprintf(err, errlen, "%s: cannot make its 4 KiB health probe buffer: %s",
               dev->info.id, vd_cl_strerror(rc));
      return -EIO;
    }
  }
  return 0;
}

/* Open the pool: enumerate, fall back to CPU when needed, size devices. */
int vd_pool_open(const struct vd_pool_config *cfg, struct vd_pool **out,
                 char *err, size_t errlen)
{
  struct vd_pool *pool = calloc(1, sizeof *pool);
  unsigned types = cfg->types ? cfg->types : (VD_DEV_GPU | VD_DEV_ACCEL);
  int rc;

  if (!pool) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  rc = collect(pool, cfg, types, err, errlen);
  if (rc == 0 && pool->ndev == 0 && cfg->types == 0) {
    vd_warn("no GPU or accelerator found: falling back to CPU OpenCL devices; "
            "volumes will live in host RAM, which only makes sense for testing");
    pool->cpu_fallback = true;
    rc = collect(pool, cfg, VD_DEV_CPU, err, errlen);
  }
  if (rc == 0 && pool->ndev == 0) {
    snprintf(err, errlen, "no OpenCL device of the requested types was found");
    rc = -ENODEV;
  }
  if (rc == 0)
    rc = make_admin_queues(pool, err, errlen);
  if (rc) {
    release(pool);
    free(pool);
    return rc;
  }
  pool->watch = vd_nvml_watch_start(pool);
  *out = pool;
  return 0;
}

/* Release every device and context. */
void vd_pool_close(struct vd_pool *pool)
{
  if (!pool)
    return;
  vd_nvml_watch_stop(pool->watch);
  release(pool);
  free(pool);
}

bool vd_pool_cpu_fallback(const struct vd_pool *pool) { return pool->cpu_fallback; }
unsigned vd_pool_count(const struct vd_pool *pool) { return pool->ndev; }

/* The i-th device, or NULL past the end. */
struct vd_device *vd_pool_device(struct vd_pool *pool, unsigned i)
{
  return i < pool->ndev ? pool->dev[i] : NULL;
}

/* Look a device up by its id. */
struct vd_device *vd_pool_find(struct vd_pool *pool, const char *id)
{
  for (unsigned i = 0; i < pool->ndev; i++)
    if (strcmp(pool->dev[i]->info.id, id) == 0)
      return pool->dev[i];
  return NULL;
}

const struct vd_device_info *vd_device_info(const struct vd_device *dev) { return &dev->info; }
cl_device_id vd_device_cl(const struct vd_device *dev) { return dev->cl; }
cl_context vd_device_context(const struct vd_device *dev) { return dev->ctx; }

/* Bytes allocated on a device. */
uint64_t vd_device_allocated(const struct vd_device *dev)
{
  return atomic_load_explicit(&dev->allocated, memory_order_relaxed);
}

/* Capacity minus allocation; nothing on a device that takes no new
 * extents (lost, draining, drained). */
uint64_t vd_device_available(const struct vd_device *dev)
{
  uint64_t a = vd_device_allocated(dev), cap = dev->info.capacity_bytes;
  if (vd_device_state(dev) != VD_DEV_ACTIVE)
    return 0;
  return a < cap ? cap - a : 0;
}

/* Mark a device lost; the engine and volumes check the flag. */
bool vd_device_mark_lost(struct vd_device *dev)
{
  return !atomic_exchange(&dev->lost, true);
}

/* Whether the device was marked lost. */
bool vd_device_is_lost(const struct vd_device *dev)
{
  return atomic_load_explicit(&dev->lost, memory_order_relaxed);
}

/* Free memory now, less what the test hook says another process took. */
int vd_device_free_now(struct vd_device *dev, uint64_t *free_bytes)
{
  const char *source;
  uint64_t f = query_free(dev, dev->ncpu, &source), taken = vd_fault_taken(dev->info.index);

  if (!f)
    return -ENOTSUP;
  *free_bytes = f > taken ? f - taken : 0;
  return 0;
}

void vd_device_set_yield_floor(struct vd_device *dev, uint64_t bytes) { atomic_store(&dev->yield_floor, bytes); }
uint64_t vd_device_yield_floor(const struct vd_device *dev) { return atomic_load(&dev->yield_floor); }
void vd_device_set_yield_short(struct vd_device *dev, uint64_t bytes) { atomic_store(&dev->yield_short, bytes); }
uint64_t vd_device_yield_short(const struct vd_device *dev) { return atomic_load(&dev->yield_short); }
