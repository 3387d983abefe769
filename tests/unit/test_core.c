/* test_core.c: daemon/core.c's create rolls back: a frontend whose add
 * fails, a state file that cannot be saved or a name taken meanwhile
 * leave the pool, the registry and the state file as they were.  The
 * real registry; the pool, state file and frontend are stubs that count. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/core.c"
#include "../../daemon/volume/registry.c"
#include "runner.h"
#include "state.h"

static struct vramd d;
static int allocated;       /* volumes the stub pool holds */
static int saves, save_rc;  /* state saves, and what the next returns */
static bool saved_has_v;    /* the state file as last saved holds the new volume */
static int add_rc, removes; /* what the frontend's add returns; removes done */
static bool add_steals;     /* add registers another volume of the name */

/* Stub pool: a bare volume, counted. */
int vd_volume_alloc_ctl(struct vd_pool *pool, struct vd_stock *stock, uint64_t extent_size,
                        const struct vd_volume_spec *spec, const struct vd_alloc_ctl *ctl,
                        struct vd_volume **out, char *err, size_t errlen)
{
  struct vd_volume *v = calloc(1, sizeof *v);
  (void)pool, (void)stock, (void)extent_size, (void)ctl, (void)err, (void)errlen;
  v->spec = *spec;
  atomic_init(&v->refs, 1);
  allocated++;
  *out = v;
  return 0;
}

/* Stub pool: give the volume back. */
void vd_volume_free(struct vd_volume *v)
{
  allocated--;
  free(v);
}

/* Stub state file: remember whether the new volume is in it. */
int vramd_state_save(struct vramd *dd, const struct vd_volume *add, const char *skip,
                     char *err, size_t errlen)
{
  (void)dd, (void)skip;
  saves++;
  if (save_rc) {
    snprintf(err, errlen, "state file: disk full");
    return save_rc;
  }
  saved_has_v = add != NULL;
  return 0;
}

/* Stub persist.c: no volume here has persist set (persist.sh tests it). */
void vramd_persist_load(struct vramd *dd, struct vd_volume *v)
{
  (void)dd, (void)v;
}

/* Stub export-volume.c: no volume here is exported (the kernel tests
 * delete exported ones). */
int vramd_export_withdraw(struct vramd *dd, struct vd_volume *v, bool force, char *err,
                          size_t errlen)
{
  (void)dd, (void)v, (void)force, (void)err, (void)errlen;
  return 0;
}

/* A volume named name, for add_steals. */
static struct vd_volume *bare(const char *name)
{
  struct vd_volume *v = calloc(1, sizeof *v);
  snprintf(v->spec.name, sizeof v->spec.name, "%s", name);
  atomic_init(&v->refs, 1);
  allocated++;
  return v;
}

/* Stub frontend add: fail, or let another create win the name. */
static int fake_add(const struct vd_frontend_host *h, struct vd_volume *v, char *err,
                    size_t errlen)
{
  if (add_steals)
    vd_registry_add(h->reg, bare(v->spec.name));
  if (add_rc)
    snprintf(err, errlen, "fake: cannot expose '%s'", v->spec.name);
  return add_rc;
}

/* Stub frontend remove: count. */
static int fake_remove(const struct vd_frontend_host *h, struct vd_volume *v, bool force,
                       char *err, size_t errlen)
{
  (void)h, (void)v, (void)force, (void)err, (void)errlen;
  removes++;
  return 0;
}

static const struct vd_frontend fake = {
  .kind = VD_FRONTEND_NBD, .name = "fake", .add = fake_add, .remove = fake_remove,
};

/* Stub of frontends.c's lookup: only NBD is built in. */
const struct vd_frontend *vramd_frontend(const struct vramd *dd, enum vd_frontend_kind kind)
{
  (void)dd;
  return kind == VD_FRONTEND_NBD ? &fake : NULL;
}

/* Stub: the frontend's name. */
const char *vd_frontend_name(enum vd_frontend_kind k)
{
  return k == VD_FRONTEND_NBD ? "nbd" : "ublk";
}

/* Stubs for vramd_device_fail, which these tests do not call. */
struct vd_device *vd_pool_find(struct vd_pool *pool, const char *id)
{
  (void)pool, (void)id;
  return NULL;
}
bool vd_device_mark_lost(struct vd_device *dev)
{
  (void)dev;
  return false;
}

/* A fresh daemon with one volume "keep" already made. */
static int setup(void)
{
  struct vd_volume_spec s = { .name = "keep", .frontend = VD_FRONTEND_NBD };
  char err[128];
  memset(&d, 0, sizeof d);
  vd_registry_init(&d.reg);
  d.host.reg = &d.reg;
  pthread_mutex_init(&d.admin_lock, NULL);
  return vramd_volume_create(&d, &s, vramd_state_save, NULL, err, sizeof err);
}

/* Reset the stubs' switches and counters. */
static void reset(void)
{
  saves = save_rc = add_rc = removes = 0;
  add_steals = false;
  saved_has_v = false;
}

/* The registry holds exactly "keep", the pool exactly its volume. */
static void assert_unchanged(void)
{
  struct vd_volume *v;
  CU_ASSERT_EQUAL(d.reg.count, 1);
  CU_ASSERT_PTR_NULL(vd_registry_get(&d.reg, "new"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(v = vd_registry_get(&d.reg, "keep"));
  vd_volume_put(v);
  CU_ASSERT_EQUAL(allocated, 1);
  CU_ASSERT_FALSE(saved_has_v);
}

/* A frontend whose add fails: its error, nothing left behind. */
static void test_add_fails(void)
{
  struct vd_volume_spec s = { .name = "new", .frontend = VD_FRONTEND_NBD };
  struct vd_volume *out = NULL;
  char err[128] = "";

  reset();
  add_rc = -ENODEV;
  CU_ASSERT_EQUAL(vramd_volume_create(&d, &s, vramd_state_save, &out, err, sizeof err), -ENODEV);
  CU_ASSERT_STRING_EQUAL(err, "fake: cannot expose 'new'");
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_EQUAL(saves, 2); /* saved with it, then put back */
  CU_ASSERT_EQUAL(removes, 0);
  assert_unchanged();
}

/* A state file that cannot be saved: the frontend never sees the volume. */
static void test_save_fails(void)
{
  struct vd_volume_spec s = { .name = "new", .frontend = VD_FRONTEND_NBD };
  char err[128] = "";

  reset();
  save_rc = -ENOSPC;
  CU_ASSERT_EQUAL(vramd_volume_create(&d, &s, vramd_state_save, NULL, err, sizeof err), -ENOSPC);
  CU_ASSERT_STRING_EQUAL(err, "state file: disk full");
  CU_ASSERT_EQUAL(saves, 1);
  assert_unchanged();
}

/* The name taken while the frontend added it: withdrawn again, forced. */
static void test_name_taken(void)
{
  struct vd_volume_spec s = { .name = "new", .frontend = VD_FRONTEND_NBD };
  struct vd_volume *other;
  char err[128] = "";

  reset();
  add_steals = true;
  CU_ASSERT_EQUAL(vramd_volume_create(&d, &s, vramd_state_save, NULL, err, sizeof err), -EEXIST);
  CU_ASSERT_STRING_EQUAL(err, "volume 'new' already exists");
  CU_ASSERT_EQUAL(removes, 1);
  CU_ASSERT_EQUAL(saves, 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(other = vd_registry_remove(&d.reg, "new"));
  vd_volume_put(other);
  assert_unchanged();
}

/* A frontend not built in, and a name in use: refused before anything. */
static void test_refused_early(void)
{
  struct vd_volume_spec s = { .name = "new", .frontend = VD_FRONTEND_UBLK };
  char err[128] = "";

  reset();
  CU_ASSERT_EQUAL(vramd_volume_create(&d, &s, vramd_state_save, NULL, err, sizeof err), -EOPNOTSUPP);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'ublk' is not available"));
  snprintf(s.name, sizeof s.name, "keep");
  s.frontend = VD_FRONTEND_NBD;
  CU_ASSERT_EQUAL(vramd_volume_create(&d, &s, vramd_state_save, NULL, err, sizeof err), -EEXIST);
  CU_ASSERT_EQUAL(saves, 0);
  assert_unchanged();
}

/* The control: a create that works is registered, exposed and saved. */
static void test_create_works(void)
{
  struct vd_volume_spec s = { .name = "new", .frontend = VD_FRONTEND_NBD };
  struct vd_volume *out = NULL;
  char err[128] = "";

  reset();
  CU_ASSERT_EQUAL_FATAL(vramd_volume_create(&d, &s, vramd_state_save, &out, err, sizeof err), 0);
  CU_ASSERT_EQUAL(d.reg.count, 2);
  CU_ASSERT(saved_has_v);
  CU_ASSERT_EQUAL(atomic_load(&out->refs), 2);
  vd_volume_put(out);
  CU_ASSERT_EQUAL(vramd_volume_delete(&d, "new", false, vramd_state_save, err, sizeof err), 0);
  CU_ASSERT_EQUAL(removes, 1);
  CU_ASSERT_EQUAL(allocated, 1);
}

static const struct vd_test tests[] = {
  { "a frontend whose add fails", test_add_fails },
  { "a state file that cannot be saved", test_save_fails },
  { "the name taken meanwhile", test_name_taken },
  { "refused before anything is made", test_refused_early },
  { "a create that works", test_create_works },
  { NULL, NULL },
};

static const struct vd_suite suites[] = {
  { .name = "core create rollback", .tests = { tests }, .init = setup },
  { .name = NULL },
};

VD_TEST_PROGRAM(suites, NULL, NULL);
