/*
 * tcp_sack.c - sender-side SACK scoreboard (RFC 6675; see tcp_sack.h).
 */
#include "tcp_sack.h"

#include <string.h>

#include "tcp_seq.h"

_Static_assert(TCP_SACK_SCOREBOARD_RANGES < 256, "count is a uint8_t");

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

void tcp_sack_init(struct tcp_sack_scoreboard *sb, uint32_t snd_una)
{
	memset(sb, 0, sizeof(*sb));
	sb->snd_una = snd_una;
	sb->high_rxt = snd_una;
	sb->recovery_point = snd_una;
	sb->rack_lost_end = snd_una;
	sb->dupthresh = TCP_SACK_DUPTHRESH;
}

void tcp_sack_set_dupthresh(struct tcp_sack_scoreboard *sb, uint32_t segs)
{
	sb->dupthresh = segs ? segs : 1;
}

static void remove_ranges(struct tcp_sack_scoreboard *sb, unsigned first, unsigned n)
{
	for (unsigned k = first; k < first + n; k++)
		sb->sacked_bytes -= sb->ranges[k].right - sb->ranges[k].left;
	memmove(&sb->ranges[first], &sb->ranges[first + n],
		(sb->count - first - n) * sizeof(sb->ranges[0]));
	sb->count -= (uint8_t)n;
}

/* Cumulative ACK moved to ack: forget ranges below it, clip the one across. */
static void advance_una(struct tcp_sack_scoreboard *sb, uint32_t ack)
{
	unsigned below = 0;

	sb->snd_una = ack;
	while (below < sb->count && seq_leq(sb->ranges[below].right, ack))
		below++;
	remove_ranges(sb, 0, below);
	if (sb->count > 0 && seq_lt(sb->ranges[0].left, ack)) {
		sb->sacked_bytes -= ack - sb->ranges[0].left;
		sb->ranges[0].left = ack;
	}
	sb->high_rxt = seq_max(sb->high_rxt, ack);
	sb->rack_lost_end = seq_max(sb->rack_lost_end, ack);
	/* Keep RecoveryPoint from going stale (2^31 later it would look ahead). */
	if (!sb->in_recovery && seq_gt(ack, sb->recovery_point))
		sb->recovery_point = ack;
}

/* Add [left, right) (already validated), merging with touching ranges.  When
 * the board is full the highest range is forgotten: that data then counts as
 * in flight, the conservative direction.  *new_low gets the lowest byte of the
 * block that was not SACKed before (right when none). */
static void insert_range(struct tcp_sack_scoreboard *sb, uint32_t left, uint32_t right,
			 uint32_t *new_low)
{
	unsigned first, last;

	for (first = 0; first < sb->count; first++)
		if (seq_geq(sb->ranges[first].right, left))
			break;
	last = first;
	while (last < sb->count && seq_leq(sb->ranges[last].left, right))
		last++;

	*new_low = left;
	if (last > first && !seq_lt(left, sb->ranges[first].left))
		*new_low = seq_min(sb->ranges[first].right, right);
	if (last > first) {
		struct tcp_sack_block merged = {
			.left = seq_min(left, sb->ranges[first].left),
			.right = seq_max(right, sb->ranges[last - 1].right),
		};

		remove_ranges(sb, first + 1, last - first - 1);
		sb->sacked_bytes -= sb->ranges[first].right - sb->ranges[first].left;
		sb->ranges[first] = merged;
		sb->sacked_bytes += merged.right - merged.left;
		return;
	}
	if (sb->count == TCP_SACK_SCOREBOARD_RANGES) {
		sb->overflows++;
		if (first == sb->count) {
			*new_low = right;
			return; /* the new block is the highest: forget it */
		}
		remove_ranges(sb, sb->count - 1u, 1);
	}
	memmove(&sb->ranges[first + 1], &sb->ranges[first],
		(sb->count - first) * sizeof(sb->ranges[0]));
	sb->ranges[first].left = left;
	sb->ranges[first].right = right;
	sb->count++;
	sb->sacked_bytes += right - left;
}

/* RFC 2883 §4: a D-SACK block is the first one, and either lies below the
 * cumulative ACK or inside the second block. */
static bool is_dsack(const struct tcp_sack_block *blocks, int n, uint32_t ack)
{
	if (n < 1)
		return false;
	if (seq_lt(blocks[0].left, ack))
		return true;
	return n >= 2 && seq_geq(blocks[0].left, blocks[1].left) &&
	       seq_leq(blocks[0].right, blocks[1].right);
}

/* RFC 2018 §3 / RFC 6675 §4 Update(). */
void tcp_sack_update(struct tcp_sack_scoreboard *sb, uint32_t ack, uint32_t snd_max,
		     const struct tcp_sack_block *blocks, int n, struct tcp_sack_result *res)
{
	struct tcp_sack_result r;
	uint32_t before;
	int i = 0;

	memset(&r, 0, sizeof(r));
	if (seq_gt(ack, sb->snd_una)) {
		r.newly_acked = ack - sb->snd_una;
		advance_una(sb, ack);
	}
	before = sb->sacked_bytes;

	if (is_dsack(blocks, n, ack)) {
		r.dsack = true;
		r.dsack_block = blocks[0];
		sb->dsacks++;
		i = 1;
	}
	for (; i < n; i++) {
		uint32_t left = blocks[i].left, right = blocks[i].right, new_low;

		/* RFC 2018 §3: [left, right) must lie within snd_una..snd_max. */
		if (!seq_lt(left, right) || seq_leq(right, sb->snd_una) ||
		    seq_gt(right, snd_max)) {
			r.invalid_blocks++;
			continue;
		}
		insert_range(sb, seq_max(left, sb->snd_una), right, &new_low);
		if (seq_lt(new_low, right) &&
		    (!r.has_new_sack || seq_lt(new_low, r.new_sack_low))) {
			r.has_new_sack = true;
			r.new_sack_low = new_low;
		}
	}
	sb->invalid += r.invalid_blocks;

	/* Merging may only grow the total; an overflow may shrink it. */
	if (sb->sacked_bytes > before)
		r.newly_sacked = sb->sacked_bytes - before;
	/* RFC 6675 §2: outstanding data, new SACK information, no ACK advance. */
	r.is_dupack = r.newly_acked == 0 && r.newly_sacked > 0 && sb->snd_una != snd_max;
	if (sb->in_recovery && seq_geq(sb->snd_una, sb->recovery_point)) {
		sb->in_recovery = false;
		r.recovery_done = true;
	}
	if (res)
		*res = r;
}

/* RFC 6675 §4 IsLost(). */
bool tcp_sack_is_lost(const struct tcp_sack_scoreboard *sb, uint32_t seq, uint32_t smss)
{
	unsigned ranges_above = 0;
	uint32_t bytes_above = 0;

	for (unsigned k = 0; k < sb->count; k++) {
		const struct tcp_sack_block *b = &sb->ranges[k];

		if (seq_leq(b->right, seq + 1))
			continue; /* nothing above seq in this range */
		if (seq_gt(b->left, seq)) {
			ranges_above++;
			bytes_above += b->right - b->left;
		} else {
			bytes_above += b->right - (seq + 1);
		}
	}
	return ranges_above >= sb->dupthresh ||
	       bytes_above > (uint64_t)(sb->dupthresh - 1) * smss || seq_lt(seq, sb->rack_lost_end);
}

/* IsLost() is the same for every byte of the hole just below range k: the
 * SACKed data above it is ranges k..count-1 (bytes_above of them). */
static bool hole_lost_by_dupthresh(const struct tcp_sack_scoreboard *sb, unsigned k,
				   uint32_t bytes_above, uint32_t smss)
{
	return sb->count - k >= sb->dupthresh ||
	       bytes_above > (uint64_t)(sb->dupthresh - 1) * smss;
}

/* The hole starting at hole_start is lost (at least its first byte, for RACK). */
static bool hole_is_lost(const struct tcp_sack_scoreboard *sb, unsigned k, uint32_t hole_start,
			 uint32_t bytes_above, uint32_t smss)
{
	return hole_lost_by_dupthresh(sb, k, bytes_above, smss) ||
	       seq_lt(hole_start, sb->rack_lost_end);
}

/* RFC 6675 §4 SetPipe(), one hole at a time instead of one octet. */
uint32_t tcp_sack_pipe(const struct tcp_sack_scoreboard *sb, uint32_t snd_max, uint32_t smss)
{
	uint32_t pipe = 0, hole_start = sb->snd_una, bytes_above = sb->sacked_bytes;

	for (unsigned k = 0; k <= sb->count; k++) {
		uint32_t hole_end = k < sb->count ? sb->ranges[k].left : snd_max;
		bool lost = k < sb->count && hole_is_lost(sb, k, hole_start, bytes_above, smss);

		if (seq_lt(hole_start, hole_end)) {
			/* (a) not lost: the original is still in flight */
			if (!lost)
				pipe += hole_end - hole_start;
			/* (b) retransmitted: the retransmission is in flight */
			if (seq_lt(hole_start, sb->high_rxt))
				pipe += seq_min(hole_end, sb->high_rxt) - hole_start;
		}
		if (k < sb->count) {
			bytes_above -= sb->ranges[k].right - sb->ranges[k].left;
			hole_start = sb->ranges[k].right;
		}
	}
	return pipe;
}

static void make_seg(struct tcp_sack_seg *seg, uint32_t seq, uint32_t len,
		     enum tcp_sack_seg_kind kind)
{
	seg->seq = seq;
	seg->len = len;
	seg->kind = kind;
}

/* NextSeg rules (1) and (3): the first unSACKed byte at or above high_rxt
 * and below the highest SACKed byte, in a lost hole if need_lost. */
static bool find_hole_seg(const struct tcp_sack_scoreboard *sb, uint32_t smss,
			  bool need_lost, struct tcp_sack_seg *seg)
{
	uint32_t hole_start = sb->snd_una, bytes_above = sb->sacked_bytes;

	for (unsigned k = 0; k < sb->count; k++) {
		uint32_t hole_end = sb->ranges[k].left;
		uint32_t from = seq_max(hole_start, sb->high_rxt);

		if (need_lost && seq_lt(from, hole_end) &&
		    !hole_lost_by_dupthresh(sb, k, bytes_above, smss))
			hole_end = seq_min(hole_end, seq_max(from, sb->rack_lost_end));   /* RACK only */
		if (seq_lt(from, hole_end)) {
			make_seg(seg, from, min_u32(hole_end - from, smss),
				 need_lost ? TCP_SACK_SEG_LOST : TCP_SACK_SEG_UNSACKED);
			return true;
		}
		bytes_above -= sb->ranges[k].right - sb->ranges[k].left;
		hole_start = sb->ranges[k].right;
	}
	return false;
}

/* NextSeg rule (4): a segment ending at the highest unSACKed byte. */
static bool find_rescue_seg(const struct tcp_sack_scoreboard *sb, uint32_t snd_max,
			    uint32_t smss, struct tcp_sack_seg *seg)
{
	uint32_t hole_start, hole_end;

	if (!sb->in_recovery)
		return false;
	if (sb->rescue_valid && !seq_gt(sb->snd_una, sb->rescue_rxt))
		return false;
	if (sb->count == 0) {
		hole_start = sb->snd_una;
		hole_end = snd_max;
	} else if (seq_lt(sb->ranges[sb->count - 1].right, snd_max)) {
		hole_start = sb->ranges[sb->count - 1].right;
		hole_end = snd_max;
	} else {
		hole_start = sb->count > 1 ? sb->ranges[sb->count - 2].right : sb->snd_una;
		hole_end = sb->ranges[sb->count - 1].left;
	}
	if (!seq_lt(hole_start, hole_end))
		return false;
	hole_start = seq_max(hole_start, hole_end - smss);
	make_seg(seg, hole_start, hole_end - hole_start, TCP_SACK_SEG_RESCUE);
	return true;
}

/* RFC 6675 §4 NextSeg(). */
bool tcp_sack_next_seg(const struct tcp_sack_scoreboard *sb, uint32_t snd_max,
		       uint32_t smss, uint32_t sendable_new, struct tcp_sack_seg *seg)
{
	make_seg(seg, 0, 0, TCP_SACK_SEG_NONE);
	if (smss == 0)
		return false;
	/* (1) lost and not yet retransmitted */
	if (find_hole_seg(sb, smss, true, seg))
		return true;
	/* (2) new data, if the application has some and the window allows */
	if (sendable_new > 0) {
		make_seg(seg, snd_max, min_u32(sendable_new, smss), TCP_SACK_SEG_NEW);
		return true;
	}
	/* (3) unSACKed below the highest SACK, not yet retransmitted */
	if (find_hole_seg(sb, smss, false, seg))
		return true;
	/* (4) one rescue retransmission per recovery */
	return find_rescue_seg(sb, snd_max, smss, seg);
}

void tcp_sack_mark_sent(struct tcp_sack_scoreboard *sb, const struct tcp_sack_seg *seg)
{
	uint32_t end = seg->seq + seg->len;

	switch (seg->kind) {
	case TCP_SACK_SEG_FIRST:
		/* (4.3): HighRxt and RescueRxt both to the segment's end */
		sb->high_rxt = seq_max(sb->high_rxt, end);
		sb->rescue_rxt = end;
		sb->rescue_valid = true;
		break;
	case TCP_SACK_SEG_LOST:
	case TCP_SACK_SEG_UNSACKED:
		/* (C.2) */
		sb->high_rxt = seq_max(sb->high_rxt, end);
		break;
	case TCP_SACK_SEG_RESCUE:
		/* rule (4): RescueRxt = RecoveryPoint; HighRxt unchanged */
		sb->rescue_rxt = sb->recovery_point;
		sb->rescue_valid = true;
		break;
	case TCP_SACK_SEG_NEW:
	case TCP_SACK_SEG_NONE:
		break;
	}
}

bool tcp_sack_loss_detected(const struct tcp_sack_scoreboard *sb, unsigned dupacks,
			    uint32_t smss)
{
	return dupacks >= sb->dupthresh || tcp_sack_is_lost(sb, sb->snd_una, smss);
}

bool tcp_sack_may_enter_recovery(const struct tcp_sack_scoreboard *sb)
{
	return !sb->in_recovery && seq_geq(sb->snd_una, sb->recovery_point);
}

void tcp_sack_enter_recovery(struct tcp_sack_scoreboard *sb, uint32_t snd_max)
{
	sb->in_recovery = true;
	sb->recovery_point = snd_max;
	sb->high_rxt = sb->snd_una;
	sb->rescue_valid = false;
}

void tcp_sack_first_retransmit(const struct tcp_sack_scoreboard *sb, uint32_t snd_max,
			       uint32_t smss, struct tcp_sack_seg *seg)
{
	uint32_t stop = sb->count ? sb->ranges[0].left : snd_max;
	uint32_t len = seq_lt(sb->snd_una, stop) ? stop - sb->snd_una : 0;

	make_seg(seg, sb->snd_una, min_u32(len, smss), TCP_SACK_SEG_FIRST);
}

void tcp_sack_on_rto(struct tcp_sack_scoreboard *sb, uint32_t snd_max)
{
	remove_ranges(sb, 0, sb->count);
	sb->sacked_bytes = 0;
	sb->in_recovery = false;
	sb->recovery_point = snd_max;
	sb->high_rxt = sb->snd_una;
	sb->rack_lost_end = sb->snd_una;
	sb->rescue_valid = false;
}

void tcp_sack_set_rack_lost(struct tcp_sack_scoreboard *sb, uint32_t lost_end)
{
	if (seq_gt(lost_end, sb->rack_lost_end))
		sb->rack_lost_end = lost_end;
}

uint32_t tcp_sack_highest_sacked(const struct tcp_sack_scoreboard *sb)
{
	return sb->count ? sb->ranges[sb->count - 1].right : sb->snd_una;
}

bool tcp_sack_is_sacked(const struct tcp_sack_scoreboard *sb, uint32_t seq)
{
	for (unsigned k = 0; k < sb->count; k++)
		if (seq_in_window(seq, sb->ranges[k].left,
				  sb->ranges[k].right - sb->ranges[k].left))
			return true;
	return false;
}
