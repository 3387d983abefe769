/* progcache.c: build a device's program from a binary that an earlier
 * start saved, so that the driver's OpenCL C compiler is not loaded (and,
 * under mlockall, not locked into memory) on every start after the first.
 *
 * A cache file is <dir>/kernel-<key>.bin, where key hashes the source, the
 * build options, the device's name and vendor and the driver's version: a
 * new driver or new kernel source simply misses.  The file starts with a
 * header that repeats the key and the binary's length, so a truncated or
 * foreign file is rejected before the driver sees it; a binary the driver
 * refuses falls back to source, which then rewrites the file.  Files are
 * written to a temporary name and renamed, mode 0600, in a directory only
 * vramd's user may write (the state directory's "kernels"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progcache.h"
#include "util.h"

#define MAGIC "VRAMDKC1"
#define MAX_BINARY (64u << 20)

struct header {
  char magic[8];
  uint64_t key;
  uint64_t len;
};

/* FNV-1a over a string, continuing from h. */
static uint64_t fnv(uint64_t h, const char *s)
{
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ull;
  }
  return h * 0x100000001b3ull; /* a separator, so "ab"+"c" differs from "a"+"bc" */
}

/* Append a device string parameter to the key; false if it cannot be read. */
static bool key_param(uint64_t *h, cl_device_id dev, cl_device_info what)
{
  char buf[256];
  if (clGetDeviceInfo(dev, what, sizeof buf, buf, NULL) != CL_SUCCESS)
    return false;
  buf[sizeof buf - 1] = '\0';
  *h = fnv(*h, buf);
  return true;
}

/* The cache key of src built with opts for dev; 0 if it cannot be made. */
static uint64_t cache_key(cl_device_id dev, const char *src, const char *opts)
{
  uint64_t h = fnv(fnv(0xcbf29ce484222325ull, src), opts);
  if (!key_param(&h, dev, CL_DEVICE_NAME) || !key_param(&h, dev, CL_DEVICE_VENDOR) ||
      !key_param(&h, dev, CL_DRIVER_VERSION) || !key_param(&h, dev, CL_DEVICE_VERSION))
    return 0;
  return h ? h : 1;
}

/* Read the cached binary for key from path into a new buffer; NULL on a
 * miss or a file that is not ours (wrong owner, writable by others,
 * wrong header). */
static unsigned char *load(const char *path, uint64_t key, size_t *len)
{
  struct header h;
  struct stat st;
  unsigned char *b = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    return NULL;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 022) || read(fd, &h, sizeof h) != (ssize_t)sizeof h ||
      memcmp(h.magic, MAGIC, sizeof h.magic) || h.key != key || !h.len ||
      h.len > MAX_BINARY || (uint64_t)st.st_size != sizeof h + h.len)
    goto out_close;
  b = malloc(h.len);
  if (b && read(fd, b, h.len) != (ssize_t)h.len) {
    free(b);
    b = NULL;
  }
  if (b)
    *len = h.len;
out_close:
  close(fd);
  return b;
}

/* Write prog's binary for key to path, through a temporary file. */
static void save(cl_program prog, const char *dir, const char *path, uint64_t key)
{
  struct header h = { MAGIC, key, 0 };
  unsigned char *b = NULL;
  char tmp[512];
  size_t len = 0;
  bool ok;
  int fd;

  if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
      !len || len > MAX_BINARY || !(b = malloc(len)))
    goto out_free;
  if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof b, &b, NULL) != CL_SUCCESS)
    goto out_free;
  if (vd_mkdir_p(dir, 0700))
    goto out_free;
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    goto out_free;
  h.len = len;
  ok = write(fd, &h, sizeof h) == (ssize_t)sizeof h && write(fd, b, len) == (ssize_t)len &&
       fsync(fd) == 0;
  if (close(fd) || !ok || rename(tmp, path))
    unlink(tmp);
out_free:
  free(b);
}

/* Create and build a program for dev from the cache dir when it holds one
 * for this source, else from source (saving it there).  NULL with *rc
 * and the program (for its build log) in *failed when the source build
 * fails; *cached says where it came from. */
cl_program vd_program_build(cl_context ctx, cl_device_id dev, const char *src,
                            const char *opts, const char *dir, bool *cached,
                            cl_program *failed, cl_int *rc)
{
  uint64_t key = dir && dir[0] ? cache_key(dev, src, opts) : 0;
  char path[512] = "";
  unsigned char *bin = NULL;
  cl_program prog;
  size_t len = 0;

  *cached = false;
  *failed = NULL;
  if (key && (size_t)snprintf(path, sizeof path, "%s/kernel-%016llx.bin", dir,
                              (unsigned long long)key) < sizeof path)
    bin = load(path, key, &len);
  if (bin) {
    cl_int st = CL_SUCCESS;
    const unsigned char *b = bin;
    prog = clCreateProgramWithBinary(ctx, 1, &dev, &len, &b, &st, rc);
    free(bin);
    if (*rc == CL_SUCCESS && st == CL_SUCCESS &&
        (*rc = clBuildProgram(prog, 1, &dev, opts, NULL, NULL)) == CL_SUCCESS) {
      *cached = true;
      return prog;
    }
    vd_info("the cached kernel binary %s was refused (%s): building from source", path,
            vd_cl_strerror(*rc != CL_SUCCESS ? *rc : st));
    if (prog)
      clReleaseProgram(prog);
  }
  prog = clCreateProgramWithSource(ctx, 1, &src, NULL, rc);
  if (*rc != CL_SUCCESS)
    return NULL;
  *rc = clBuildProgram(prog, 1, &dev, opts, NULL, NULL);
  if (*rc != CL_SUCCESS) {
    *failed = prog;
    return NULL;
  }
  if (key && path[0])
    save(prog, dir, path, key);
  return prog;
}
