/* The Internet checksum (RFC 1071) and the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1). */
#ifndef USTACK_CHECKSUM_H
#define USTACK_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* One's-complement sum of data, added to an initial partial sum (not folded, not inverted). */
uint32_t csum_partial(const void *data, size_t len, uint32_t sum);
/* Fold a partial sum to 16 bits and invert: the value to store in a checksum field
 * (network byte order when stored with memcpy of the big-endian bytes; see csum_store). */
uint16_t csum_fold(uint32_t sum);
/* Partial sum of the IPv4 pseudo-header; addresses host order. */
uint32_t csum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len);
/* Checksum over data (e.g. an IP header): 0 when a received header with its checksum is valid. */
uint16_t csum_compute(const void *data, size_t len);

#endif
