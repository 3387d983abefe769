/* signals.c: every signal a person or a tool may send.  SIGTERM, SIGINT
 * and SIGQUIT stop vramd through its stop sequence, at any stage of
 * start-up too; SIGHUP re-reads the config file's `verbose`; every other
 * one is logged and ignored.  Faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT) keep their default, a core dump, and so do the kernel's own
 * SIGTRAP and SIGSYS (it unblocks them when it raises them). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"
#include "signals.h"
#include "vramd.h"

/* The signals vramd waits for: blocked in every thread, taken by
 * sigtimedwait in the main thread only. */
static sigset_t handled;

/* Left as they are: faults dump core, the rest are harmless by default.
 * Every other signal is blocked, even one vramd also ignores: the OpenCL
 * runtime's LLVM installs handlers (SIGXFSZ, SIGHUP, SIGUSR1...) that end
 * the process, and a blocked signal never reaches them. */
static const int unhandled[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
                                 SIGCHLD, SIGCONT, SIGWINCH, SIGURG };

/* Block every handled signal; call before any thread starts, since
 * threads inherit the mask. */
void vramd_signals_block(void)
{
  sigfillset(&handled);
  for (size_t i = 0; i < sizeof unhandled / sizeof unhandled[0]; i++)
    sigdelset(&handled, unhandled[i]);
  pthread_sigmask(SIG_BLOCK, &handled, NULL);
  /* A write past a peer's close or a file size limit fails instead. */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
}

/* SIGHUP: re-read the config file; a new `verbose` applies at once
 * (unless --verbose was given), other changes at the next start. */
static void reload(struct vramd *d)
{
  struct vramd_config *c = malloc(sizeof *c);
  char err[512];
  bool verbose;

  if (!c || !d->file_cfg) {
    vd_err("SIGHUP: out of memory; nothing re-read");
    free(c);
    return;
  }
  vramd_config_defaults(c, d->file_cfg->frontends);
  memcpy(c->config_file, d->file_cfg->config_file, sizeof c->config_file);
  if (vramd_config_load(c, c->config_file, false, err, sizeof err)) {
    vd_err("SIGHUP: %s; nothing changed (fix the file and send SIGHUP again)", err);
    goto out_free;
  }
  verbose = c->verbose;
  c->verbose = d->file_cfg->verbose;
  if (memcmp(c, d->file_cfg, sizeof *c))
    vd_warn("SIGHUP: %s changes settings other than verbose; they take effect at the "
            "next start (volumes, sockets and staging cannot change under live clients)",
            c->config_file);
  d->file_cfg->verbose = verbose;
  if (!d->verbose_cli)
    vd_log_max = verbose ? VD_LOG_DEBUG : VD_LOG_INFO;
  vd_info("SIGHUP: re-read %s; verbose is %s%s", c->config_file,
          d->verbose_cli || verbose ? "on" : "off", d->verbose_cli ? " (--verbose)" : "");
out_free:
  free(c);
}

/* Act on one signal; true when it asks vramd to stop. */
static bool handle(struct vramd *d, int sig)
{
  if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
    d->stop_signal = sig;
    return true;
  }
  if (sig == SIGHUP)
    reload(d);
  else
    vd_warn_rl("signal %d (%s) ignored: SIGTERM, SIGINT or SIGQUIT stop vramd, SIGHUP "
               "re-reads verbose from the config file", sig, strsignal(sig));
  return false;
}

/* Wait up to ms for signals and act on each; the stop signal or 0. */
int vramd_signals_wait(struct vramd *d, unsigned ms)
{
  struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
  int sig;

  if (d->stop_signal)
    return d->stop_signal;
  while ((sig = sigtimedwait(&handled, NULL, &ts)) > 0 || (sig < 0 && errno == EINTR)) {
    if (sig > 0 && handle(d, sig))
      return sig;
    ts.tv_sec = ts.tv_nsec = 0; /* then take only what is pending */
  }
  return 0;
}

/* During start-up: true once a stop signal came (pending ones are taken). */
bool vramd_stop_requested(struct vramd *d)
{
  return vramd_signals_wait(d, 0) != 0;
}
