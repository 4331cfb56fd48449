/*
 * test_tcp_seq.c - wrap-safe sequence comparisons (stack/tcp_seq.h).
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "tcp_seq.h"

/* Deterministic xorshift so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

Test(tcp_seq, ordinary_order)
{
	cr_assert(seq_lt(1, 2));
	cr_assert(!seq_lt(2, 1));
	cr_assert(!seq_lt(5, 5));
	cr_assert(seq_leq(5, 5));
	cr_assert(seq_gt(9, 3));
	cr_assert(seq_geq(9, 9));
	cr_assert(!seq_geq(3, 9));
}

Test(tcp_seq, order_across_wrap)
{
	/* 0xffffff00 comes before 0x100 once the counter wrapped. */
	cr_assert(seq_lt(0xffffff00u, 0x100u));
	cr_assert(seq_leq(0xffffff00u, 0x100u));
	cr_assert(seq_gt(0x100u, 0xffffff00u));
	cr_assert(seq_geq(0x100u, 0xffffff00u));
	cr_assert(!seq_gt(0xffffff00u, 0x100u));
	cr_assert(seq_lt(0xffffffffu, 0u));
	cr_assert(seq_gt(0u, 0xffffffffu));
	cr_assert_eq(seq_diff(0u, 0xffffffffu), 1);
	cr_assert_eq(seq_diff(0xffffffffu, 0u), -1);
}

Test(tcp_seq, max_min_across_wrap)
{
	cr_assert_eq(seq_max(0xfffffff0u, 0x10u), 0x10u);
	cr_assert_eq(seq_min(0xfffffff0u, 0x10u), 0xfffffff0u);
	cr_assert_eq(seq_max(0x10u, 0xfffffff0u), 0x10u);
	cr_assert_eq(seq_min(7, 7), 7u);
}

/* Random pairs with a known signed distance (|d| < 2^31) against the model. */
Test(tcp_seq, matches_unwrapped_model)
{
	for (int i = 0; i < 200000; i++) {
		uint32_t base = rng_next();
		int32_t d = (int32_t)(rng_next() & 0x7fffffffu) * ((i & 1) ? 1 : -1);
		uint32_t a = base + (uint32_t)d;

		if (d == INT32_MIN)
			continue;
		cr_assert_eq(seq_lt(a, base), d < 0, "a=%u base=%u d=%d", a, base, d);
		cr_assert_eq(seq_leq(a, base), d <= 0);
		cr_assert_eq(seq_gt(a, base), d > 0);
		cr_assert_eq(seq_geq(a, base), d >= 0);
		cr_assert_eq(seq_diff(a, base), d);
		cr_assert_eq(seq_max(a, base), d > 0 ? a : base);
	}
}

Test(tcp_seq, in_window_straddling_zero)
{
	uint32_t start = 0xfffffff0u;

	cr_assert(seq_in_window(0xfffffff0u, start, 0x20));
	cr_assert(seq_in_window(0xffffffffu, start, 0x20));
	cr_assert(seq_in_window(0u, start, 0x20));
	cr_assert(seq_in_window(0xfu, start, 0x20));
	cr_assert(!seq_in_window(0x10u, start, 0x20)); /* right edge excluded */
	cr_assert(!seq_in_window(0xffffffefu, start, 0x20));
	cr_assert(!seq_in_window(start, start, 0)); /* empty window */
}

Test(tcp_seq, between_is_closed_interval)
{
	cr_assert(seq_between(0xfffffffeu, 0xfffffffeu, 3));
	cr_assert(seq_between(3, 0xfffffffeu, 3));
	cr_assert(seq_between(0, 0xfffffffeu, 3));
	cr_assert(!seq_between(4, 0xfffffffeu, 3));
	cr_assert(!seq_between(0xfffffffdu, 0xfffffffeu, 3));
}

/* RFC 9293 §3.10.7.4: the four rows of the acceptability table. */
Test(tcp_seq, segment_acceptability_table)
{
	uint32_t rcv_nxt = 0xfffffffcu;

	/* len 0, wnd 0: only seq == RCV.NXT */
	cr_assert(seq_segment_acceptable(rcv_nxt, 0, rcv_nxt, 0));
	cr_assert(!seq_segment_acceptable(rcv_nxt + 1, 0, rcv_nxt, 0));
	/* len 0, wnd > 0 */
	cr_assert(seq_segment_acceptable(rcv_nxt + 7, 0, rcv_nxt, 8));
	cr_assert(!seq_segment_acceptable(rcv_nxt + 8, 0, rcv_nxt, 8));
	/* len > 0, wnd 0: never */
	cr_assert(!seq_segment_acceptable(rcv_nxt, 1, rcv_nxt, 0));
	/* len > 0, wnd > 0: either end inside; window straddles zero */
	cr_assert(seq_segment_acceptable(rcv_nxt - 4, 5, rcv_nxt, 8)); /* tail inside */
	cr_assert(!seq_segment_acceptable(rcv_nxt - 4, 4, rcv_nxt, 8)); /* all old */
	cr_assert(seq_segment_acceptable(rcv_nxt + 7, 100, rcv_nxt, 8)); /* head inside */
	cr_assert(!seq_segment_acceptable(rcv_nxt + 8, 1, rcv_nxt, 8));
}
