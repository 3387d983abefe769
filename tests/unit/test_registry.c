/* test_registry.c: daemon/volume/registry.c: names kept in order and unique,
 * references taken by get and list, handed over by remove, and the last
 * put frees.  Volumes are bare structs: vd_volume_free is stubbed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/volume/registry.c"
#include "runner.h"

static int freed;

/* Stub: count the volumes freed. */
void vd_volume_free(struct vd_volume *v)
{
  freed++;
  free(v);
}

/* A bare volume named name holding one reference. */
static struct vd_volume *vol(const char *name)
{
  struct vd_volume *v = calloc(1, sizeof *v);
  snprintf(v->spec.name, sizeof v->spec.name, "%s", name);
  atomic_init(&v->refs, 1);
  return v;
}

/* Names in list order, joined by spaces. */
static const char *names(struct vd_registry *r)
{
  static char buf[128];
  buf[0] = '\0';
  for (struct vd_volume *v = r->head; v; v = v->next)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? " " : "",
             v->spec.name);
  return buf;
}

/* Added in any order, listed by name; a second of a name is refused. */
static void test_add_order(void)
{
  struct vd_registry r;
  struct vd_volume *b = vol("b"), *a = vol("a"), *c = vol("c"), *a2 = vol("a");

  vd_registry_init(&r);
  CU_ASSERT_EQUAL(vd_registry_add(&r, b), 0);
  CU_ASSERT_EQUAL(vd_registry_add(&r, c), 0);
  CU_ASSERT_EQUAL(vd_registry_add(&r, a), 0);
  CU_ASSERT_EQUAL(vd_registry_add(&r, a2), -EEXIST);
  CU_ASSERT_STRING_EQUAL(names(&r), "a b c");
  CU_ASSERT_EQUAL(r.count, 3);
  freed = 0;
  vd_volume_put(a2);
  for (const char *n = "abc"; *n; n++) {
    char name[2] = { *n, 0 };
    vd_volume_put(vd_registry_remove(&r, name));
  }
  CU_ASSERT_EQUAL(freed, 4);
  CU_ASSERT(r.count == 0 && !r.head);
}

/* get references; remove hands the registry's reference over; the
 * volume lives until the last holder puts it. */
static void test_refs(void)
{
  struct vd_registry r;
  struct vd_volume *v = vol("v"), *got;

  vd_registry_init(&r);
  CU_ASSERT_EQUAL(vd_registry_add(&r, v), 0);
  CU_ASSERT_PTR_NULL(vd_registry_get(&r, "w"));
  got = vd_registry_get(&r, "v");
  CU_ASSERT_PTR_EQUAL(got, v);
  CU_ASSERT_EQUAL(atomic_load(&v->refs), 2);
  freed = 0;
  CU_ASSERT_PTR_EQUAL(vd_registry_remove(&r, "v"), v);
  CU_ASSERT_PTR_NULL(vd_registry_remove(&r, "v"));
  CU_ASSERT_PTR_NULL(vd_registry_get(&r, "v"));
  CU_ASSERT_EQUAL(r.count, 0);
  vd_volume_put(v); /* the registry's, handed over by remove */
  CU_ASSERT_EQUAL(freed, 0);
  vd_volume_put(got);
  CU_ASSERT_EQUAL(freed, 1);
  vd_volume_put(NULL);
  CU_ASSERT_EQUAL(freed, 1);
}

/* list is a snapshot with a reference on each: a volume removed meanwhile
 * stays valid until the snapshot is put. */
static void test_list(void)
{
  struct vd_registry r;
  struct vd_volume **arr;
  int n;

  vd_registry_init(&r);
  n = vd_registry_list(&r, &arr);
  CU_ASSERT_EQUAL(n, 0);
  free(arr);
  vd_registry_add(&r, vol("y"));
  vd_registry_add(&r, vol("x"));
  n = vd_registry_list(&r, &arr);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  CU_ASSERT_STRING_EQUAL(arr[0]->spec.name, "x");
  CU_ASSERT_STRING_EQUAL(arr[1]->spec.name, "y");
  freed = 0;
  vd_volume_put(vd_registry_remove(&r, "x"));
  CU_ASSERT_EQUAL(freed, 0);
  CU_ASSERT_STRING_EQUAL(arr[0]->spec.name, "x");
  for (int i = 0; i < n; i++)
    vd_volume_put(arr[i]);
  free(arr);
  CU_ASSERT_EQUAL(freed, 1);
  vd_volume_put(vd_registry_remove(&r, "y"));
  CU_ASSERT_EQUAL(freed, 2);
}

static const struct vd_test tests[] = {
  { "names in order, each once", test_add_order },
  { "references through get and remove", test_refs },
  { "a list holds its volumes", test_list },
  { NULL, NULL },
};

VD_TEST_ONE_SUITE("registry", tests);
