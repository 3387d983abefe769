/* imgio.h: the data path between a volume and an image file (imgio.c),
 * for save, load and restore (save.c).  io_uring reads and writes the
 * file (O_DIRECT when the file system takes it, into registered pinned
 * staging) while the engine copies other units to or from the GPUs: one
 * unit per staging slot, every slot busy at once. */
#ifndef VRAMD_IMGIO_H
#define VRAMD_IMGIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define VD_IMG_UNIT (1u << 20)           /* bytes per slot, and per tracked piece */
#define VD_IMG_ALIGN 4096u               /* O_DIRECT offsets, lengths and buffers */

struct vd_img;

/* Which way a pass moves data. */
enum vd_img_dir { VD_IMG_SAVE, VD_IMG_LOAD };

/* What a pass does with a unit that holds only zeros (known without I/O,
 * or found so once read): nothing (the destination reads as zeros
 * already), write the zeros, punch a hole in the file (a saved unit that
 * held data before), or ZERO the volume's range (a thin volume gives its
 * chunk back). */
enum vd_img_zeros { VD_IMG_SKIP, VD_IMG_WRITE, VD_IMG_PUNCH, VD_IMG_DISCARD };

/* One pass over a list of units. */
struct vd_img_pass {
  enum vd_img_dir dir;
  enum vd_img_zeros zeros;
  bool through;                 /* engine requests enter a paused target */
  uint64_t file_size;           /* LOAD: bytes past this read as zeros */
  /* The next unit (off, len within the volume); false when none is left. */
  bool (*next)(void *arg, uint64_t *off, uint64_t *len);
  /* True when the unit is known to hold only zeros without reading it
   * (a thin range with no chunk, a hole in the file). */
  bool (*known_zero)(void *arg, uint64_t off, uint64_t len);
  bool (*cancelled)(void *arg);  /* polled before each unit starts */
  void (*progress)(void *arg, uint64_t bytes);
  void *arg;
  /* Not NULL: sums[off / VD_IMG_UNIT] gets each unit's vd_img_sum (0 for
   * zeros), for the checksum of a persisted image. */
  uint64_t *sums;
};

/* A ring and staging for moving between target t and file fd (direct:
 * opened O_DIRECT).  staging is rounded down to whole units, at least 2.
 * 0, or -errno with err saying what to do. */
int vd_img_open(struct vd_engine *eng, struct vd_target *t, int fd, bool direct,
                uint64_t staging, struct vd_img **out, char *err, size_t errlen);
void vd_img_close(struct vd_img *x);
/* Pinned bytes it holds. */
uint64_t vd_img_staging(const struct vd_img *x);

/* Run a pass until its units are done, it is cancelled (-ECANCELED) or an
 * I/O fails (-errno with err naming the file or the volume); what is in
 * flight always completes first. */
int vd_img_run(struct vd_img *x, const struct vd_img_pass *p, char *err, size_t errlen);

/* A unit's checksum: each 8-byte word times an odd number of its place,
 * summed; 0 for zeros, changed by any flipped bit.  len: a multiple of 8. */
uint64_t vd_img_sum(const void *p, size_t len);
/* An image's checksum from its units' sums, each mixed with its place. */
uint64_t vd_img_total(const uint64_t *sums, uint64_t nunits);

/* True when len bytes at p are all zero. */
bool vd_img_is_zero(const void *p, size_t len);

#endif
