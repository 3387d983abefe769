/* registry.c: the set of live volumes, by name, with reference counts so
 * that a volume outlives its removal while requests still hold it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "volume.h"

/* Set up an empty registry. */
void vd_registry_init(struct vd_registry *r)
{
  pthread_mutex_init(&r->lock, NULL);
  r->head = NULL;
  r->count = 0;
}

/* Find by name; caller holds the lock. */
static struct vd_volume **find_locked(struct vd_registry *r, const char *name)
{
  struct vd_volume **pp;
  for (pp = &r->head; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->spec.name, name) == 0)
      break;
  return pp;
}

/* Insert a volume, keeping the list in name order. */
int vd_registry_add(struct vd_registry *r, struct vd_volume *v)
{
  struct vd_volume **pp;
  pthread_mutex_lock(&r->lock);
  if (*find_locked(r, v->spec.name)) {
    pthread_mutex_unlock(&r->lock);
    return -EEXIST;
  }
  for (pp = &r->head; *pp && strcmp((*pp)->spec.name, v->spec.name) < 0; pp = &(*pp)->next)
    ;
  v->next = *pp;
  *pp = v;
  r->count++;
  pthread_mutex_unlock(&r->lock);
  return 0;
}

/* Look up and reference a volume. */
struct vd_volume *vd_registry_get(struct vd_registry *r, const char *name)
{
  struct vd_volume *v;
  pthread_mutex_lock(&r->lock);
  v = *find_locked(r, name);
  if (v)
    vd_volume_get(v);
  pthread_mutex_unlock(&r->lock);
  return v;
}

/* Unlink a volume and hand the registry's reference to the caller. */
struct vd_volume *vd_registry_remove(struct vd_registry *r, const char *name)
{
  struct vd_volume **pp, *v;
  pthread_mutex_lock(&r->lock);
  pp = find_locked(r, name);
  v = *pp;
  if (v) {
    *pp = v->next;
    v->next = NULL;
    r->count--;
  }
  pthread_mutex_unlock(&r->lock);
  return v;
}

/* Snapshot the registry with a reference on each volume. */
int vd_registry_list(struct vd_registry *r, struct vd_volume ***out)
{
  struct vd_volume **arr;
  unsigned n = 0;
  pthread_mutex_lock(&r->lock);
  arr = calloc(r->count ? r->count : 1, sizeof *arr);
  if (!arr) {
    pthread_mutex_unlock(&r->lock);
    return -ENOMEM;
  }
  for (struct vd_volume *v = r->head; v; v = v->next) {
    vd_volume_get(v);
    arr[n++] = v;
  }
  pthread_mutex_unlock(&r->lock);
  *out = arr;
  return (int)n;
}

/* Take a reference. */
void vd_volume_get(struct vd_volume *v)
{
  atomic_fetch_add(&v->refs, 1);
}

/* Drop a reference; the last one frees the volume and its VRAM. */
void vd_volume_put(struct vd_volume *v)
{
  if (v && atomic_fetch_sub(&v->refs, 1) == 1)
    vd_volume_free(v);
}
