/*
 * test_checksum.c - the Internet checksum (stack/checksum.c) against RFC 1071's worked
 * example, a well-known IPv4 header, and an independent implementation (frames.h).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "checksum.h"
#include "frames.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static uint16_t fold16(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 2ddf0, folded ddf2. */
Test(checksum, rfc1071_example)
{
	const uint8_t data[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	cr_assert_eq(fold16(csum_partial(data, sizeof(data), 0)), 0xddf2);
	cr_assert_eq(csum_fold(csum_partial(data, sizeof(data), 0)), (uint16_t)~0xddf2);
	cr_assert_eq(csum_compute(data, sizeof(data)), 0x220d);
}

/* RFC 1071 §2(B): the sum is independent of where it is split (at even boundaries). */
Test(checksum, incremental_equals_whole)
{
	uint8_t buf[1000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng_next();
	for (size_t split = 0; split <= sizeof(buf); split += 2) {
		uint32_t s = csum_partial(buf + split, sizeof(buf) - split, csum_partial(buf, split, 0));
		cr_assert_eq(csum_fold(s), csum_compute(buf, sizeof(buf)), "split %zu", split);
	}
}

Test(checksum, odd_length_pads_with_zero)
{
	const uint8_t one[] = { 0x01 };
	const uint8_t three[] = { 0xab, 0xcd, 0xef };
	const uint8_t three_padded[] = { 0xab, 0xcd, 0xef, 0x00 };

	cr_assert_eq(fold16(csum_partial(one, 1, 0)), 0x0100);
	/* abcd + ef00 = 19acd → 9ace → inverted 6531 */
	cr_assert_eq(csum_compute(three, 3), 0x6531);
	cr_assert_eq(csum_compute(three, 3), csum_compute(three_padded, 4));
}

Test(checksum, empty_and_all_ones)
{
	uint8_t ff[65536];

	cr_assert_eq(csum_compute(NULL, 0), 0xffff);
	memset(ff, 0xff, sizeof(ff));
	/* 0xffff words sum to "negative zero": the checksum is 0 */
	cr_assert_eq(csum_compute(ff, sizeof(ff)), frames_csum(ff, sizeof(ff), 0));
	cr_assert_eq(csum_compute(ff, sizeof(ff)), 0);
}

/* The classic example header: 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7. */
Test(checksum, ipv4_header_known_value)
{
	uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			  0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };

	cr_assert_eq(csum_compute(h, sizeof(h)), 0, "a valid header sums to zero");
	h[10] = h[11] = 0;
	cr_assert_eq(csum_compute(h, sizeof(h)), 0xb861);
}

Test(checksum, matches_independent_implementation)
{
	static uint8_t buf[9000];

	for (int round = 0; round < 500; round++) {
		size_t len = rng_next() % sizeof(buf);
		uint32_t init = rng_next() & 0xffff;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rng_next();
		cr_assert_eq(csum_fold(csum_partial(buf, len, init)), frames_csum(buf, len, init),
			     "len %zu init %u", len, init);
	}
}

Test(checksum, pseudo_header)
{
	uint32_t src = FRAMES_IP(192, 0, 2, 1), dst = FRAMES_IP(192, 0, 2, 2);

	/* 12 bytes: c000 0201 c000 0202 0011 0010 */
	uint32_t expect = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 0x0011 + 0x0010;
	cr_assert_eq(fold16(csum_pseudo_ipv4(src, dst, 17, 16)), fold16(expect));
	for (int round = 0; round < 200; round++) {
		uint32_t a = rng_next() << 16 ^ rng_next(), b = rng_next() << 16 ^ rng_next();
		uint16_t len = (uint16_t)rng_next();
		uint8_t proto = (uint8_t)rng_next();
		cr_assert_eq(fold16(csum_pseudo_ipv4(a, b, proto, len)),
			     fold16(frames_pseudo(a, b, proto, len)));
	}
}

/* A UDP datagram built by frames.h verifies with the stack's functions, and a flipped bit
 * anywhere is caught. */
Test(checksum, udp_with_pseudo_header_verifies)
{
	uint8_t udp[64];
	uint32_t src = FRAMES_IP(192, 0, 2, 1), dst = FRAMES_IP(192, 0, 2, 2);
	size_t n = frames_udp(udp, src, dst, 5000, 53, "odd-length!", 11);

	cr_assert_eq(n, 19);
	cr_assert_eq(csum_fold(csum_partial(udp, n, csum_pseudo_ipv4(src, dst, 17, (uint16_t)n))), 0);
	for (size_t i = 0; i < n; i++) {
		udp[i] ^= 0x10;
		cr_assert_neq(csum_fold(csum_partial(udp, n, csum_pseudo_ipv4(src, dst, 17, (uint16_t)n))),
			      0, "flip at %zu undetected", i);
		udp[i] ^= 0x10;
	}
}
