/* crc32c.h: CRC-32C (Castagnoli) on the CPU: the reference the GPU kernels
 * are checked against, and the tables their source is built with. */
#ifndef VRAMD_CRC32C_H
#define VRAMD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The reflected polynomial (iSCSI, ext4, btrfs). */
#define VD_CRC32C_POLY 0x82f63b78u

/* CRC-32C of len bytes, continuing from crc (0 to start): standard
 * initial value and final xor, so vd_crc32c(0, "123456789", 9) is
 * 0xe3069283. */
uint32_t vd_crc32c(uint32_t crc, const void *buf, size_t len);

/* Entry i of slicing table k (0..7): table 0 is the byte-wise table;
 * table k advances a byte through k more zero bytes. */
uint32_t vd_crc32c_table(unsigned k, unsigned i);

/* a(x) b(x) modulo the polynomial, both reflected (x^0 is bit 31). */
uint32_t vd_crc32c_mul(uint32_t a, uint32_t b);

/* x^(8 n) modulo the polynomial: multiplying a CRC's state by it
 * advances the state over n zero bytes. */
uint32_t vd_crc32c_shift(uint64_t n);

/* The CRC-32C of A then B from crc1 of A and crc2 of B (len2 bytes):
 * how the GPU kernels join the pieces of a block that several
 * work-items checked. */
uint32_t vd_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

#endif
