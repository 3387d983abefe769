/* swap-worker MIB SECONDS SEED: the swap soak's load (tests/kernel/
 * guest-swap-soak.sh).  Fills MIB MiB of anonymous memory with random,
 * never-zero pages (6.12 keeps zero pages out of swap), then for SECONDS
 * touches random pages: each is checked against what was last written
 * there, and half of them are rewritten with new contents, so pages keep
 * going out to swap and coming back.  A page's contents follow from
 * (SEED, page, generation), so a check regenerates them and compares every
 * byte.  At the end every page is checked once more.  Prints one summary
 * line; exit 0 only when every check matched. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS (PAGE / sizeof(uint64_t))

/* splitmix64: a well-mixed 64-bit hash, also the page-contents generator. */
static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The contents of page PG at generation GEN; no word is ever zero. */
static void fill(uint64_t *p, uint64_t seed, size_t pg, uint32_t gen)
{
  uint64_t s = mix(seed ^ mix(pg ^ ((uint64_t)gen << 40)));
  for (size_t i = 0; i < WORDS; i++) {
    s = mix(s);
    p[i] = s | 1;
  }
}

/* True when page PG holds what generation GEN wrote. */
static int check(const uint64_t *p, uint64_t seed, size_t pg, uint32_t gen)
{
  uint64_t want[WORDS];
  fill(want, seed, pg, gen);
  return memcmp(p, want, PAGE) == 0;
}

/* Seconds on the monotonic clock. */
static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Report the first few bad pages, count them all. */
static void bad_page(size_t pg, uint32_t gen, unsigned long *bad)
{
  if (++*bad <= 5)
    fprintf(stderr, "swap-worker %d: page %zu (generation %u) does not hold what was written\n",
            (int)getpid(), pg, gen);
}

int main(int argc, char **argv)
{
  if (argc != 4) {
    fprintf(stderr, "usage: swap-worker MIB SECONDS SEED\n");
    return 2;
  }
  size_t pages = strtoull(argv[1], NULL, 10) * (1048576 / PAGE);
  double secs = strtod(argv[2], NULL);
  uint64_t seed = strtoull(argv[3], NULL, 10), rnd = mix(seed);
  if (!pages || secs < 0) {
    fprintf(stderr, "swap-worker: MIB must be > 0 and SECONDS >= 0\n");
    return 2;
  }
  uint8_t *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint32_t *gen = calloc(pages, sizeof(*gen));
  if (mem == MAP_FAILED || !gen) {
    perror("swap-worker: cannot allocate the working set");
    return 2;
  }
  for (size_t pg = 0; pg < pages; pg++)
    fill((uint64_t *)(mem + pg * PAGE), seed, pg, 0);

  unsigned long checked = 0, written = 0, bad = 0;
  double t0 = now(), end = t0 + secs;
  while (now() < end) {
    for (int i = 0; i < 256; i++) {
      rnd = mix(rnd);
      size_t pg = rnd % pages;
      uint64_t *p = (uint64_t *)(mem + pg * PAGE);
      if (!check(p, seed, pg, gen[pg]))
        bad_page(pg, gen[pg], &bad);
      checked++;
      if (rnd >> 63) {
        fill(p, seed, pg, ++gen[pg]);
        written++;
      }
    }
  }
  for (size_t pg = 0; pg < pages; pg++, checked++)
    if (!check((uint64_t *)(mem + pg * PAGE), seed, pg, gen[pg]))
      bad_page(pg, gen[pg], &bad);
  printf("swap-worker %d: %zu MiB, %.0f s, %lu page checks, %lu rewrites, %lu bad\n",
         (int)getpid(), pages * PAGE / 1048576, now() - t0, checked, written, bad);
  free(gen);
  munmap(mem, pages * PAGE);
  return bad ? 1 : 0;
}
