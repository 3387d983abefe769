/* thread.c: names for vramd's threads, so top -H, perf and gdb say which
 * thread is the GPU worker and which the socket reader. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np */
#endif
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

/* Start a joinable thread with a stack of stack bytes rather than glibc's
 * default (RLIMIT_STACK, 8 MiB), which mlockall would lock whole.
 * Returns pthread_create's error number. */
int vd_thread_start(pthread_t *t, size_t stack, void *(*fn)(void *), void *arg)
{
  pthread_attr_t a;
  int rc = pthread_attr_init(&a);
  if (rc)
    return rc;
  rc = pthread_attr_setstacksize(&a, stack);
  if (!rc)
    rc = pthread_create(t, &a, fn, arg);
  pthread_attr_destroy(&a);
  return rc;
}
