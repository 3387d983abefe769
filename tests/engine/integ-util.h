/* integ-util.h: what the integrity engine tests share: requests in
 * flight at once, and the tails of a volume's extents (checksums and
 * parity) read straight from VRAM and computed again on the CPU. */
#ifndef VRAMD_TEST_INTEG_UTIL_H
#define VRAMD_TEST_INTEG_UTIL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine.h"
#include "volume.h"

/* One pool of two PoCL devices and its engine, for test program name:
 * 0, or 1 with a message. */
int integ_open(const char *name, struct vd_pool **pool, struct vd_engine **eng);
/* Close what integ_open opened. */
void integ_close(struct vd_pool *pool, struct vd_engine *eng);

/* xorshift64. */
uint64_t rnd(uint64_t *s);

/* Requests in flight at once, handed to the workers (no idle path). */
struct batch {
  pthread_mutex_t lock;
  pthread_cond_t cv;
  unsigned left;
  struct vd_io io[64];
  int err[64];
};
/* Submit io[0..n) of b at once on eng and wait for all; err[] gets each
 * result. */
void batch_run(struct vd_engine *eng, struct batch *b, unsigned n);

/* A thread writing random 512-byte to 16 KiB pieces below end, until
 * stop: write_loop(&writer). */
struct writer {
  struct vd_engine *eng;
  struct vd_volume *v;
  uint64_t end;
  atomic_bool stop;
  unsigned writes, errors;
};
void *write_loop(void *arg);

/* Blocks whose stored checksum is not the CPU's CRC-32C of the block. */
unsigned tails_sums_wrong(struct vd_volume *v);
/* Parity groups whose stored parity is not the XOR of their blocks
 * (0 for a volume without parity). */
unsigned tails_parity_wrong(struct vd_volume *v);

#endif
