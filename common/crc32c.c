/* crc32c.c: CRC-32C on the CPU, slicing by 8. */
#include <pthread.h>

#include "crc32c.h"

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* Fill the eight slicing tables once. */
static void table_init(void)
{
  for (unsigned i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int b = 0; b < 8; b++)
      c = c & 1 ? (c >> 1) ^ VD_CRC32C_POLY : c >> 1;
    table[0][i] = c;
  }
  for (unsigned k = 1; k < 8; k++)
    for (unsigned i = 0; i < 256; i++)
      table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
}

/* One entry of a slicing table. */
uint32_t vd_crc32c_table(unsigned k, unsigned i)
{
  pthread_once(&table_once, table_init);
  return table[k & 7][i & 0xff];
}

/* A little-endian 32-bit word at p, on any host. */
static uint32_t le32(const unsigned char *p)
{
  return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* CRC-32C: bytes one at a time to 8-byte alignment, then 8 at a time. */
uint32_t vd_crc32c(uint32_t crc, const void *buf, size_t len)
{
  const unsigned char *p = buf;
  uint32_t c = ~crc;

  pthread_once(&table_once, table_init);
  for (; len && ((uintptr_t)p & 7); len--)
    c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  for (; len >= 8; len -= 8, p += 8) {
    uint32_t a = le32(p) ^ c, b = le32(p + 4);
    c = table[7][a & 0xff] ^ table[6][(a >> 8) & 0xff] ^ table[5][(a >> 16) & 0xff] ^
        table[4][a >> 24] ^ table[3][b & 0xff] ^ table[2][(b >> 8) & 0xff] ^
        table[1][(b >> 16) & 0xff] ^ table[0][b >> 24];
  }
  for (; len; len--)
    c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

/* Carry-less multiplication, reduced bit by bit (as zlib's multmodp). */
uint32_t vd_crc32c_mul(uint32_t a, uint32_t b)
{
  uint32_t p = 0;

  for (uint32_t m = 1u << 31; m; m >>= 1) {
    if (a & m)
      p ^= b;
    b = b & 1 ? (b >> 1) ^ VD_CRC32C_POLY : b >> 1;
  }
  return p;
}

/* Square and multiply over the bits of 8 n. */
uint32_t vd_crc32c_shift(uint64_t n)
{
  uint32_t p = 1u << 31, b = 1u << 30; /* x^0, x^1 */

  for (uint64_t k = n << 3; k; k >>= 1) {
    if (k & 1)
      p = vd_crc32c_mul(p, b);
    b = vd_crc32c_mul(b, b);
  }
  return p;
}

/* The initial value and final xor cancel out: only A's CRC moves. */
uint32_t vd_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
  return vd_crc32c_mul(vd_crc32c_shift(len2), crc1) ^ crc2;
}
