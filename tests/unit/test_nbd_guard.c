/* test_nbd_guard.c: the caps on NBD connections still negotiating: room
 * is made from the newcomer's own peer at its cap, else from the peer
 * holding the most; busy entries are never dropped; deadlines expire
 * oldest first. */
#include <string.h>

#include "../../frontends/nbd/guard.c"
#include "runner.h"

#define MAX 6
#define PER_PEER 3

static struct nbd_guard g;
static struct nbd_gent e[16];

/* A peer key: uid u. */
static struct vd_peer uid(uint32_t u)
{
  struct vd_peer k = { .kind = VD_PEER_UID };
  memcpy(k.b, &u, sizeof u);
  return k;
}

/* Add entry i for k with deadline t, asserting there was room. */
static void add(int i, struct vd_peer k, uint64_t t)
{
  struct nbd_gent *victim;
  CU_ASSERT_EQUAL(nbd_guard_room(&g, &k, &victim), NBD_ROOM_FREE);
  CU_ASSERT_EQUAL(nbd_guard_add(&g, &e[i], &k, t), 0);
}

static void setup(void)
{
  CU_ASSERT_EQUAL(nbd_guard_init(&g, MAX, PER_PEER), 0);
}

/* A peer at its cap loses its own oldest, never another peer's. */
static void test_per_peer(void)
{
  struct vd_peer a = uid(0), b = uid(1000);
  struct nbd_gent *victim;

  setup();
  add(0, a, 10);
  add(1, b, 11);
  add(2, a, 12);
  add(3, a, 13);
  CU_ASSERT_EQUAL(nbd_guard_room(&g, &a, &victim), NBD_ROOM_PEER);
  CU_ASSERT_PTR_EQUAL(victim, &e[0]);
  CU_ASSERT_EQUAL(nbd_guard_add(&g, &e[4], &a, 14), -ENOSPC); /* no room made */
  nbd_guard_del(&g, victim);
  CU_ASSERT_EQUAL(nbd_guard_add(&g, &e[4], &a, 14), 0);
  /* b is untouched by a's flood and still has room. */
  CU_ASSERT_EQUAL(nbd_guard_room(&g, &b, &victim), NBD_ROOM_FREE);
  CU_ASSERT_EQUAL(g.n, 4);
  /* Busy entries (setting up a session) are skipped. */
  e[2].busy = true;
  CU_ASSERT_EQUAL(nbd_guard_room(&g, &a, &victim), NBD_ROOM_PEER);
  CU_ASSERT_PTR_EQUAL(victim, &e[3]);
  e[3].busy = e[4].busy = true;
  CU_ASSERT_EQUAL(nbd_guard_room(&g, &a, &victim), NBD_ROOM_NONE);
  nbd_guard_fini(&g);
}

/* All taken: the peer with the most gives way; among equals, the oldest. */
static void test_all(void)
{
  struct vd_peer a = uid(1), b = uid(2), c = uid(3), d = uid(4);
  struct nbd_gent *victim;

  setup();
  add(0, b, 10);
  add(1, a, 11);
  add(2, a, 12);
  add(3, b, 13);
  add(4, c, 14);
  add(5, a, 15);
  CU_ASSERT_EQUAL(nbd_guard_room(&g, &d, &victim), NBD_ROOM_ALL);
  CU_ASSERT_PTR_EQUAL(victim, &e[1]); /* a holds 3 */
  nbd_guard_del(&g, victim);
  add(6, d, 16);
  /* a and b hold 2 each: b's oldest is older. */
  CU_ASSERT_EQUAL(nbd_guard_room(&g, &c, &victim), NBD_ROOM_ALL);
  CU_ASSERT_PTR_EQUAL(victim, &e[0]);
  CU_ASSERT_PTR_EQUAL(nbd_guard_largest(&g), &e[0]);
  nbd_guard_fini(&g);
}

/* Deadlines: oldest first, busy ones skipped; a peer's slot is reused. */
static void test_deadlines(void)
{
  struct vd_peer a = uid(7), b = uid(8);

  setup();
  CU_ASSERT_EQUAL(nbd_guard_next_deadline(&g), 0);
  CU_ASSERT_PTR_NULL(nbd_guard_expired(&g, 1000));
  add(0, a, 10);
  add(1, b, 20);
  add(2, a, 30);
  CU_ASSERT_EQUAL(nbd_guard_next_deadline(&g), 10);
  CU_ASSERT_PTR_NULL(nbd_guard_expired(&g, 9));
  CU_ASSERT_PTR_EQUAL(nbd_guard_expired(&g, 10), &e[0]);
  e[0].busy = true;
  CU_ASSERT_EQUAL(nbd_guard_next_deadline(&g), 20);
  CU_ASSERT_PTR_NULL(nbd_guard_expired(&g, 15));
  CU_ASSERT_PTR_EQUAL(nbd_guard_expired(&g, 25), &e[1]);
  nbd_guard_del(&g, &e[1]);
  nbd_guard_del(&g, &e[0]);
  CU_ASSERT_PTR_EQUAL(nbd_guard_expired(&g, 100), &e[2]);
  nbd_guard_del(&g, &e[2]);
  CU_ASSERT(g.n == 0 && !g.oldest && !g.newest);
  for (unsigned i = 0; i < MAX; i++)
    CU_ASSERT_EQUAL(g.peers[i].n, 0);
  /* MAX distinct peers fit: each takes a slot of the table. */
  for (int i = 0; i < MAX; i++)
    add(i, uid(100 + (uint32_t)i), 40);
  CU_ASSERT_EQUAL(g.n, MAX);
  nbd_guard_fini(&g);
}

static const struct vd_test tests[] = {
  { "per-peer cap", test_per_peer },
  { "cap on all", test_all },
  { "deadlines", test_deadlines },
  { NULL, NULL },
};

VD_TEST_ONE_SUITE("nbd_guard", tests);
