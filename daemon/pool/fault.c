/* fault.c: the test hooks' countdowns: armed through POST /v1/faults,
 * counted down by the pool's allocations and the engine's transfers. */
#include <stdatomic.h>
#include <stdlib.h>

#include "fault.h"

static atomic_uint alloc_countdown; /* see vd_fault_alloc_after */
static atomic_uint io_countdown;    /* see vd_fault_io_after */
static _Atomic uint64_t taken[64];  /* see vd_fault_take, by pool index */

/* Test hooks act only under VRAMD_FAULTS=1. */
bool vd_faults_enabled(void)
{
  const char *e = getenv("VRAMD_FAULTS");
  return e && e[0] == '1' && !e[1];
}

/* Count one event down; true on the armed one. */
static bool tick(atomic_uint *countdown)
{
  unsigned n = atomic_load(countdown);
  while (n) {
    if (atomic_compare_exchange_weak(countdown, &n, n - 1))
      return n == 1;
  }
  return false;
}

/* Arm the allocation hook when the environment allows it. */
void vd_fault_alloc_after(unsigned n)
{
  if (vd_faults_enabled())
    atomic_store(&alloc_countdown, n);
}

/* One allocation: whether the armed fault is this one. */
bool vd_fault_alloc_now(void)
{
  return tick(&alloc_countdown);
}

/* Arm the transfer hook when the environment allows it. */
void vd_fault_io_after(unsigned n)
{
  if (vd_faults_enabled())
    atomic_store(&io_countdown, n);
}

/* One device part: whether the armed fault is this one. */
bool vd_fault_io_now(void)
{
  return tick(&io_countdown);
}

/* Arm the free-memory hook for one device. */
void vd_fault_take(unsigned dev, uint64_t bytes)
{
  if (vd_faults_enabled() && dev < 64)
    atomic_store(&taken[dev], bytes);
}

/* What the hook says another process holds on dev. */
uint64_t vd_fault_taken(unsigned dev)
{
  return dev < 64 ? atomic_load(&taken[dev]) : 0;
}

static atomic_uint unit_delay_ms; /* see vd_fault_unit_delay */

/* Arm the save and load delay when the environment allows it. */
void vd_fault_unit_delay(unsigned ms)
{
  if (vd_faults_enabled())
    atomic_store(&unit_delay_ms, ms);
}

/* Milliseconds each save or load unit waits before it starts. */
unsigned vd_fault_unit_delay_ms(void)
{
  return atomic_load(&unit_delay_ms);
}

static atomic_bool direct_refused; /* see vd_fault_refuse_direct */

/* Arm the O_DIRECT refusal when the environment allows it. */
void vd_fault_refuse_direct(bool on)
{
  if (vd_faults_enabled())
    atomic_store(&direct_refused, on);
}

/* True when image files are to be opened as if O_DIRECT were refused. */
bool vd_fault_direct_refused(void)
{
  return atomic_load(&direct_refused);
}
