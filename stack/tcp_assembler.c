/*
 * tcp_assembler.c - out-of-order range tracking and SACK block generation
 * (see tcp_assembler.h).
 */
#include "tcp_assembler.h"

#include <errno.h>
#include <string.h>

#include "tcp_seq.h"

_Static_assert(TCP_ASM_MAX_RANGES <= 32, "selection mask is 32 bits");
_Static_assert(TCP_ASM_MAX_RANGES < 256, "count is a uint8_t");

void tcp_asm_init(struct tcp_assembler *a, uint32_t rcv_nxt)
{
	memset(a, 0, sizeof(*a));
	a->rcv_nxt = rcv_nxt;
}

static void remove_ranges(struct tcp_assembler *a, unsigned first, unsigned n)
{
	memmove(&a->ranges[first], &a->ranges[first + n],
		(a->count - first - n) * sizeof(a->ranges[0]));
	a->count -= (uint8_t)n;
}

/* The first range now starting at rcv_nxt becomes in-order data. */
static uint32_t pop_contiguous_front(struct tcp_assembler *a)
{
	uint32_t gained;

	if (a->count == 0 || a->ranges[0].start != a->rcv_nxt)
		return 0;
	gained = a->ranges[0].end - a->rcv_nxt;
	a->rcv_nxt = a->ranges[0].end;
	remove_ranges(a, 0, 1);
	return gained;
}

/* RFC 2883 §4: the first piece of [start, end) already held in a range
 * overlapping it (ranges first..last); false if none overlaps. */
static bool find_duplicate(const struct tcp_assembler *a, unsigned first, unsigned last,
			   uint32_t start, uint32_t end, struct tcp_sack_block *dup)
{
	for (unsigned k = first; k <= last && k < a->count; k++) {
		uint32_t lo = seq_max(start, a->ranges[k].start);
		uint32_t hi = seq_min(end, a->ranges[k].end);

		if (seq_lt(lo, hi)) {
			dup->left = lo;
			dup->right = hi;
			return true;
		}
	}
	return false;
}

int tcp_asm_add(struct tcp_assembler *a, uint32_t seq, uint32_t len, uint32_t *advanced)
{
	struct tcp_sack_block dup = {0, 0};
	bool has_dup = false;
	uint32_t end = seq + len;
	unsigned first, last;

	*advanced = 0;
	if (len == 0)
		return 0;
	if (len >= 0x80000000u)
		return -EINVAL;

	/* Data below rcv_nxt was delivered already. */
	if (seq_lt(seq, a->rcv_nxt)) {
		has_dup = true;
		dup.left = seq;
		dup.right = seq_min(end, a->rcv_nxt);
		if (seq_leq(end, a->rcv_nxt)) {
			a->clock++;
			a->dsack = dup;
			a->dsack_valid = true;
			return 0;
		}
		seq = a->rcv_nxt;
		len = end - seq;
	}

	/* Ranges first..last overlap or touch [seq, end). */
	for (first = 0; first < a->count; first++)
		if (seq_geq(a->ranges[first].end, seq))
			break;
	last = first;
	while (last < a->count && seq_leq(a->ranges[last].start, end))
		last++;

	if (!has_dup && last > first)
		has_dup = find_duplicate(a, first, last - 1, seq, end, &dup);

	if (last > first) {
		/* Merge into ranges[first], dropping the others it swallowed. */
		struct tcp_asm_range *r = &a->ranges[first];

		r->start = seq_min(seq, r->start);
		r->end = seq_max(end, a->ranges[last - 1].end);
		remove_ranges(a, first + 1, last - first - 1);
		r->stamp = ++a->clock;
	} else if (first == 0 && seq == a->rcv_nxt) {
		/* In order and touching nothing: the fast path, no slot needed. */
		a->clock++;
		a->rcv_nxt = end;
		*advanced = len;
		a->dsack = dup;
		a->dsack_valid = has_dup;
		return 0;
	} else {
		if (a->count == TCP_ASM_MAX_RANGES)
			return -ENOSPC;
		memmove(&a->ranges[first + 1], &a->ranges[first],
			(a->count - first) * sizeof(a->ranges[0]));
		a->ranges[first].start = seq;
		a->ranges[first].end = end;
		a->ranges[first].stamp = ++a->clock;
		a->count++;
	}

	a->dsack = dup;
	a->dsack_valid = has_dup;
	*advanced = pop_contiguous_front(a);
	return 0;
}

uint32_t tcp_asm_advance(struct tcp_assembler *a, uint32_t n)
{
	unsigned below = 0;

	a->rcv_nxt += n;
	while (below < a->count && seq_leq(a->ranges[below].end, a->rcv_nxt))
		below++;
	remove_ranges(a, 0, below);
	if (a->count > 0 && seq_lt(a->ranges[0].start, a->rcv_nxt))
		a->ranges[0].start = a->rcv_nxt;
	return pop_contiguous_front(a);
}

/* Index of the most recently extended range not yet in *taken, or -1. */
static int most_recent_range(const struct tcp_assembler *a, uint32_t taken)
{
	int best = -1;
	uint32_t best_age = 0;

	for (unsigned k = 0; k < a->count; k++) {
		uint32_t age = a->clock - a->ranges[k].stamp;

		if (taken & (1u << k))
			continue;
		if (best < 0 || age < best_age) {
			best = (int)k;
			best_age = age;
		}
	}
	return best;
}

/* RFC 2018 §4 (block order), RFC 2883 §4 (D-SACK first). */
int tcp_asm_sack_blocks(const struct tcp_assembler *a, struct tcp_sack_block *out,
			int max, bool with_dsack)
{
	uint32_t taken = 0;
	int n = 0;

	if (with_dsack && a->dsack_valid && n < max)
		out[n++] = a->dsack;
	while (n < max) {
		int k = most_recent_range(a, taken);

		if (k < 0)
			break;
		taken |= 1u << k;
		out[n].left = a->ranges[k].start;
		out[n].right = a->ranges[k].end;
		n++;
	}
	return n;
}

void tcp_asm_dsack_clear(struct tcp_assembler *a)
{
	a->dsack_valid = false;
}

uint32_t tcp_asm_highest(const struct tcp_assembler *a)
{
	return a->count ? a->ranges[a->count - 1].end : a->rcv_nxt;
}

uint32_t tcp_asm_ooo_bytes(const struct tcp_assembler *a)
{
	uint32_t total = 0;

	for (unsigned k = 0; k < a->count; k++)
		total += a->ranges[k].end - a->ranges[k].start;
	return total;
}
