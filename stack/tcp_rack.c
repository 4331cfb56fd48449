/*
 * tcp_rack.c - RACK transmit records and loss detection (RFC 8985 §6; see tcp_rack.h).
 */
#include "tcp_rack.h"

#include <stdlib.h>
#include <string.h>

#include "tcp_seq.h"

void tcp_rack_init(struct tcp_rack *r)
{
	memset(r, 0, sizeof(*r));
	r->reo_wnd_mult = 1;
}

void tcp_rack_free(struct tcp_rack *r)
{
	free(r->ring);
	r->ring = NULL;
	r->cap = r->head = r->count = 0;
}

void tcp_rack_reset(struct tcp_rack *r)
{
	r->head = r->count = 0;
	r->valid = false;
	r->reo_deadline_us = 0;
	r->tlp_deadline_us = 0;
	r->tlp_active = false;
}

static struct tcp_rack_seg *seg_at(const struct tcp_rack *r, uint32_t i)
{
	return &r->ring[(r->head + i) % r->cap];
}

/* The first entry whose end lies above seq (count when none). */
static uint32_t first_ending_after(const struct tcp_rack *r, uint32_t seq)
{
	uint32_t lo = 0, hi = r->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (seq_gt(seg_at(r, mid)->end, seq))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Double the ring (linearised); false when at the limit or out of memory. */
static bool grow(struct tcp_rack *r)
{
	uint32_t cap = r->cap ? r->cap * 2 : TCP_RACK_INIT_SEGS;
	struct tcp_rack_seg *ring;

	if (cap > TCP_RACK_MAX_SEGS)
		return false;
	ring = malloc((size_t)cap * sizeof(*ring));
	if (!ring)
		return false;
	for (uint32_t i = 0; i < r->count; i++)
		ring[i] = *seg_at(r, i);
	free(r->ring);
	r->ring = ring;
	r->cap = cap;
	r->head = 0;
	return true;
}

static void mark_retransmitted(struct tcp_rack *r, uint32_t seq, uint32_t end, uint32_t now32)
{
	for (uint32_t i = first_ending_after(r, seq); i < r->count; i++) {
		struct tcp_rack_seg *e = seg_at(r, i);

		if (!seq_lt(e->seq, end))
			break;
		e->xmit_us = now32;
		e->retrans = 1;
	}
}

void tcp_rack_on_send(struct tcp_rack *r, uint32_t seq, uint32_t end, uint64_t now_us)
{
	uint32_t now32 = (uint32_t)now_us;
	struct tcp_rack_seg *e;

	if (!seq_lt(seq, end))
		return;
	if (r->count > 0 && seq_lt(seq, seg_at(r, r->count - 1)->end)) {
		mark_retransmitted(r, seq, end, now32);
		return;
	}
	/* new data: only contiguous with the tail (a full ring stopped the record) */
	if (r->count > 0 && seg_at(r, r->count - 1)->end != seq)
		return;
	if (r->count == r->cap && !grow(r))
		return;
	e = seg_at(r, r->count++);
	e->seq = seq;
	e->end = end;
	e->xmit_us = now32;
	e->retrans = 0;
}

/* RFC 8985 §6.2 RACK_sent_after(t1, seq1, t2, seq2) */
static bool sent_after(uint32_t t1, uint32_t end1, uint32_t t2, uint32_t end2)
{
	int32_t d = (int32_t)(t1 - t2);

	return d > 0 || (d == 0 && seq_gt(end1, end2));
}

/* §6.2 steps 2-3: e was delivered; make it the RACK segment if it was sent later. */
static void delivered(struct tcp_rack *r, const struct tcp_rack_seg *e, uint32_t now32,
		      uint32_t min_rtt_us)
{
	uint32_t rtt = now32 - e->xmit_us;

	/* step 2: an ACK sooner than min_rtt after a retransmission was for the original */
	if (e->retrans && rtt < min_rtt_us)
		return;
	/* an original sent before the RACK segment arrived after it: reordering, by this much */
	if (!e->retrans && r->valid && sent_after(r->xmit_us, r->end_seq, e->xmit_us, e->end) &&
	    rtt > r->rtt_us && rtt - r->rtt_us > r->reo_seen_us)
		r->reo_seen_us = rtt - r->rtt_us;
	if (r->valid && !sent_after(e->xmit_us, e->end, r->xmit_us, r->end_seq))
		return;
	r->valid = true;
	r->xmit_us = e->xmit_us;
	r->end_seq = e->end;
	r->rtt_us = rtt;
}

void tcp_rack_on_ack(struct tcp_rack *r, uint32_t una, const struct tcp_sack_block *blocks,
		     int nblocks, uint64_t now_us, uint32_t min_rtt_us)
{
	uint32_t now32 = (uint32_t)now_us;

	while (r->count > 0 && seq_leq(seg_at(r, 0)->end, una)) {
		delivered(r, seg_at(r, 0), now32, min_rtt_us);
		r->head = (r->head + 1) % r->cap;
		r->count--;
	}
	/* The newest original in a block was sent last of it; retransmissions inside a block
	 * are not looked for (RACK then knows a little less, never more). */
	for (int b = 0; b < nblocks; b++) {
		uint32_t i = first_ending_after(r, blocks[b].right - 1);
		const struct tcp_rack_seg *e;

		if (!seq_lt(blocks[b].left, blocks[b].right) || !seq_gt(blocks[b].left, una))
			continue;
		if (i < r->count && seg_at(r, i)->end == blocks[b].right)
			e = seg_at(r, i);
		else if (i > 0 && i <= r->count)
			e = seg_at(r, i - 1);
		else
			continue;
		if (seq_geq(e->seq, blocks[b].left) && seq_leq(e->end, blocks[b].right))
			delivered(r, e, now32, min_rtt_us);
	}
}

void tcp_rack_dsack(struct tcp_rack *r, uint32_t snd_una, uint32_t snd_max)
{
	if (r->dsack_round_valid && seq_lt(snd_una, r->dsack_round_end))
		return;
	r->dsack_round_valid = true;
	r->dsack_round_end = snd_max;
	if (r->reo_wnd_mult < 64)
		r->reo_wnd_mult++;
	r->reo_wnd_persist = TCP_RACK_REO_PERSIST;
}

void tcp_rack_recovery_done(struct tcp_rack *r)
{
	if (r->reo_wnd_persist > 0 && --r->reo_wnd_persist == 0) {
		r->reo_wnd_mult = 1;
		r->reo_seen_us /= 2;
	}
}

uint32_t tcp_rack_reo_wnd(const struct tcp_rack *r, bool reordering_seen, bool in_recovery,
			  uint32_t min_rtt_us, uint32_t srtt_us)
{
	uint64_t wnd;

	if (!reordering_seen && in_recovery)
		return TCP_RACK_GRANULARITY_US;
	wnd = (uint64_t)r->reo_wnd_mult *
	      (min_rtt_us / 4 > r->reo_seen_us ? min_rtt_us / 4 : r->reo_seen_us);
	if (srtt_us && wnd > (uint64_t)TCP_RACK_REO_CAP_SRTTS * srtt_us)
		wnd = (uint64_t)TCP_RACK_REO_CAP_SRTTS * srtt_us;
	return wnd < TCP_RACK_GRANULARITY_US ? TCP_RACK_GRANULARITY_US : (uint32_t)wnd;
}

uint32_t tcp_rack_detect(const struct tcp_rack *r, const struct tcp_sack_scoreboard *sb,
			 uint64_t now_us, uint32_t reo_wnd_us, uint32_t *lost_end,
			 uint32_t *first_lost, uint32_t *nlost)
{
	uint32_t now32 = (uint32_t)now_us, wait = (uint32_t)((uint64_t)r->rtt_us + reo_wnd_us);

	*nlost = 0;
	if (!r->valid)
		return 0;
	if (seq_lt(*lost_end, sb->snd_una))
		*lost_end = sb->snd_una;
	for (uint32_t i = first_ending_after(r, *lost_end); i < r->count; i++) {
		const struct tcp_rack_seg *e = seg_at(r, i);
		uint32_t elapsed = now32 - e->xmit_us;

		if (!sent_after(r->xmit_us, r->end_seq, e->xmit_us, e->end))
			break;   /* sent after the RACK segment: so is every later original */
		if (!e->retrans && !tcp_sack_is_sacked(sb, e->seq)) {
			if (elapsed < wait)
				return wait - elapsed;   /* §6.3: not yet; the timer will tell */
			if ((*nlost)++ == 0)
				*first_lost = seq_max(e->seq, sb->snd_una);
		}
		*lost_end = e->end;
	}
	return 0;
}

bool tcp_rack_last_seg(const struct tcp_rack *r, uint32_t *seq, uint32_t *end)
{
	if (r->count == 0)
		return false;
	*seq = seg_at(r, r->count - 1)->seq;
	*end = seg_at(r, r->count - 1)->end;
	return true;
}
