/*
 * tcp_seq.h - wrap-safe TCP sequence number arithmetic.
 *
 * RFC 9293 §3.4: sequence numbers live in a 32-bit space that wraps, so every
 * comparison is made modulo 2^32: a < b means "b is less than 2^31 ahead of a".
 * Never compare two sequence numbers with a raw < or >; use these helpers.
 *
 * All functions are pure and static inline; no state, no I/O.
 */
#ifndef USTACK_TCP_SEQ_H
#define USTACK_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

/* Signed distance b -> a: positive when a is ahead of b (modulo 2^32). */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline bool seq_lt(uint32_t a, uint32_t b)  { return seq_diff(a, b) < 0; }
static inline bool seq_leq(uint32_t a, uint32_t b) { return seq_diff(a, b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b)  { return seq_diff(a, b) > 0; }
static inline bool seq_geq(uint32_t a, uint32_t b) { return seq_diff(a, b) >= 0; }

static inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
static inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

/*
 * seq lies in [start, start + len).  Unsigned offset arithmetic, so it is
 * exact for any len up to 2^32 - 1 and false for len == 0 (RFC 9293
 * §3.10.7.4 acceptability tests are built from this).
 */
static inline bool seq_in_window(uint32_t seq, uint32_t start, uint32_t len)
{
	return (uint32_t)(seq - start) < len;
}

/* seq lies in the closed interval [lo, hi] (lo <= hi in sequence space). */
static inline bool seq_between(uint32_t seq, uint32_t lo, uint32_t hi)
{
	return (uint32_t)(seq - lo) <= (uint32_t)(hi - lo);
}

/*
 * Segment [seq, seq + len) overlaps the window [start, start + wnd): the
 * four-case acceptability test of RFC 9293 §3.10.7.4 (first: check the
 * sequence number), including the zero-length segment and zero window cases.
 */
static inline bool seq_segment_acceptable(uint32_t seq, uint32_t len,
					  uint32_t start, uint32_t wnd)
{
	if (len == 0) {
		if (wnd == 0)
			return seq == start;
		return seq_in_window(seq, start, wnd);
	}
	if (wnd == 0)
		return false;
	return seq_in_window(seq, start, wnd) ||
	       seq_in_window(seq + len - 1, start, wnd);
}

#endif /* USTACK_TCP_SEQ_H */
