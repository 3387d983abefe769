/* clock.c: the monotonic clock in nanoseconds, for latencies and timeouts. */
#include <time.h>

#include "util.h"

/* Monotonic nanoseconds since an arbitrary start. */
uint64_t vd_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
