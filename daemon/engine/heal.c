/* heal.c: rewrite a mirror's bad blocks from a copy in sync.
 *
 * A read that meets a checksum mismatch on one copy is served from
 * another (mirror.c) and notes the range here; so does a scrub for each
 * bad block it finds.  A heal then reads each noted range from a copy in
 * sync (the noted legs avoided, the read's own checksums checked) and
 * writes it to the noted legs only.  Both run with the target paused:
 * a client write to the range either finished before (and both copies
 * hold it) or waits until after, so the heal never puts older data over
 * newer.  The copy stays in sync throughout: one bad block is not a lost
 * device.  A range no copy in sync can give (bad everywhere) is counted
 * and left: its reads fail with EIO until it is written. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine-internal.h"
#include "util.h"

/* Note a bad range; a full list marks the legs stale for a repair. */
void vd_mirror_heal_note(struct vd_target *t, uint64_t legs, uint64_t off, uint64_t len)
{
  bool full;

  pthread_mutex_lock(&t->heal_lock);
  full = t->nheal == VD_HEAL_MAX;
  for (unsigned i = 0; !full && i < t->nheal; i++)
    if (t->heal[i].off == off && t->heal[i].len == len) {
      t->heal[i].legs |= legs;
      legs = 0;
      break;
    }
  if (!full && legs)
    t->heal[t->nheal++] = (struct vd_heal){ legs, off, len };
  pthread_mutex_unlock(&t->heal_lock);
  if (full)
    vd_mirror_mark(t, legs);
}

/* One range: read from a copy in sync, write to the bad legs. */
static int heal_one(struct vd_engine *eng, struct vd_target *t, const struct vd_heal *h,
                    struct vd_io *io, void *buf)
{
  int rc;

  *io = (struct vd_io){ .target = t, .op = VD_OP_READ, .off = h->off, .len = h->len,
                        .buf = buf, .through = true, .exclude = h->legs };
  rc = vd_engine_wait_io(eng, io);
  if (rc)
    return rc;
  *io = (struct vd_io){ .target = t, .op = VD_OP_WRITE, .off = h->off, .len = h->len,
                        .buf = buf, .through = true, .only = h->legs };
  return vd_engine_wait_io(eng, io);
}

/* Rewrite every noted range (see engine.h). */
unsigned vd_mirror_heal(struct vd_engine *eng, struct vd_target *t)
{
  struct vd_heal list[VD_HEAL_MAX];
  struct vd_io *io;
  unsigned n, done = 0;

  pthread_mutex_lock(&t->heal_lock);
  n = t->nheal;
  memcpy(list, t->heal, n * sizeof *list);
  t->nheal = 0;
  pthread_mutex_unlock(&t->heal_lock);
  if (!n)
    return 0;
  io = calloc(1, sizeof *io);
  vd_target_pause(t);
  for (unsigned i = 0; i < n; i++) {
    void *buf = io ? malloc(list[i].len) : NULL;
    int rc = buf ? heal_one(eng, t, &list[i], io, buf) : -ENOMEM;
    free(buf);
    if (!rc) {
      done++;
      continue;
    }
    atomic_fetch_add(&t->heal_failed, 1);
    vd_warn_rl("volume %s: the %llu bytes at %llu could not be rewritten on their bad copy: "
               "%s", t->label ? t->label : "?", (unsigned long long)list[i].len,
               (unsigned long long)list[i].off,
               rc == -EIO ? "no copy in sync reads back good; reads of them fail with EIO "
                            "until they are written" : "out of host memory");
  }
  vd_target_resume(eng, t);
  atomic_fetch_add(&t->healed, done);
  free(io);
  if (done)
    vd_info_rl("volume %s: %u range%s rewritten from a good copy", t->label ? t->label : "?",
               done, done == 1 ? "" : "s");
  return done;
}
