#include "checksum.h"

/* RFC 1071 §4.1: sum 16-bit big-endian words; an odd last byte is padded with zero. */
uint32_t csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *bytes = data;
	uint64_t acc = sum;
	size_t i = 0;

	for (; i + 1 < len; i += 2)
		acc += (uint32_t)((bytes[i] << 8) | bytes[i + 1]);
	if (i < len)
		acc += (uint32_t)(bytes[i] << 8);
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

/* RFC 768 / RFC 9293 §3.1: source, destination, zero, protocol, transport length. */
uint32_t csum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len)
{
	uint64_t acc = (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + proto + l4_len;
	while (acc >> 16)
		acc = (acc & 0xffffu) + (acc >> 16);
	return (uint32_t)acc;
}

uint16_t csum_compute(const void *data, size_t len)
{
	return csum_fold(csum_partial(data, len, 0));
}
