/* fault.h: test hooks that make allocations and transfers fail on
 * purpose (POST /v1/faults); inert unless VRAMD_FAULTS=1. */
#ifndef VRAMD_FAULT_H
#define VRAMD_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/* True when VRAMD_FAULTS=1 is in the environment: test hooks only act
 * then, so a production daemon cannot be made to fail on purpose. */
bool vd_faults_enabled(void);

/* Fail the n-th extent allocation from now (0 = off).  Only honoured
 * when vd_faults_enabled(). */
void vd_fault_alloc_after(unsigned n);
/* Called once per extent allocation: true when this one is to fail. */
bool vd_fault_alloc_now(void);

/* Fail the n-th device part the engine queues from now with EIO, as a
 * failed transfer would (0 = off).  Only honoured when
 * vd_faults_enabled(). */
void vd_fault_io_after(unsigned n);
/* Called once per device part: true when this one is to fail. */
bool vd_fault_io_now(void);

/* Pretend another process took bytes of pool device dev's memory: its
 * free-memory query answers that much less (0 = none).  Only honoured
 * when vd_faults_enabled(). */
void vd_fault_take(unsigned dev, uint64_t bytes);
uint64_t vd_fault_taken(unsigned dev);

/* Make each unit of a save, load or restore wait ms before it starts
 * (0 = off), so that a test can cancel one midway.  Only honoured when
 * vd_faults_enabled(). */
void vd_fault_unit_delay(unsigned ms);
unsigned vd_fault_unit_delay_ms(void);

/* Open image files as on a file system that refuses O_DIRECT (tmpfs
 * before Linux 6.6), so a test takes the buffered path.  Only honoured
 * when vd_faults_enabled(). */
void vd_fault_refuse_direct(bool on);
bool vd_fault_direct_refused(void);

#endif
