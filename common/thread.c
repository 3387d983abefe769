/* thread.c: names for vramd's threads, so top -H, perf and gdb say which
 * thread is the GPU worker and which the socket reader. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

/* Name the calling thread (the kernel keeps 15 characters). */
void vd_thread_name(const char *fmt, ...)
{
  char name[16];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  pthread_setname_np(pthread_self(), name);
}
