/*
 * test_tcp_sack.c - sender SACK scoreboard, RFC 6675 (stack/tcp_sack.h).
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "tcp_sack.h"
#include "tcp_seq.h"

#define SMSS 1000u
/* Ten 1000-byte segments; segment 5 straddles 0xffffffff -> 0. */
#define BASE (0u - 5000u)
#define S(i) (BASE + (uint32_t)(i) * SMSS)

static struct tcp_sack_result ack_with(struct tcp_sack_scoreboard *sb, uint32_t ack,
				       uint32_t snd_max, int n, ...)
{
	struct tcp_sack_block blocks[TCP_SACK_MAX_BLOCKS];
	struct tcp_sack_result res;
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		blocks[i].left = va_arg(ap, uint32_t);
		blocks[i].right = va_arg(ap, uint32_t);
	}
	va_end(ap);
	tcp_sack_update(sb, ack, snd_max, blocks, n, &res);
	return res;
}

/*
 * The worked scenario: S0 and S3 lost, everything else arrives; one fast
 * retransmission, a rule-3 and a rule-1 retransmission, a rescue, recovery
 * ends when the last byte is ACKed.  Sequence numbers wrap inside S5.
 */
Test(tcp_sack, worked_recovery_scenario)
{
	struct tcp_sack_scoreboard sb;
	struct tcp_sack_result res;
	struct tcp_sack_seg seg;
	uint32_t snd_max = S(10);
	unsigned dupacks = 0;

	tcp_sack_init(&sb, BASE);

	res = ack_with(&sb, BASE, snd_max, 1, S(1), S(2));
	cr_assert(res.is_dupack);
	cr_assert_eq(res.newly_sacked, 1000u);
	dupacks += res.is_dupack;
	res = ack_with(&sb, BASE, snd_max, 1, S(1), S(3));
	cr_assert_eq(res.newly_sacked, 1000u);
	dupacks += res.is_dupack;
	cr_assert(!tcp_sack_loss_detected(&sb, dupacks, SMSS)); /* 2000 not > 2000 */
	res = ack_with(&sb, BASE, snd_max, 2, S(4), S(5), S(1), S(3));
	dupacks += res.is_dupack;
	cr_assert_eq(dupacks, 3u);
	cr_assert_eq(sb.count, 2);
	cr_assert_eq(tcp_sack_sacked_bytes(&sb), 3000u);
	cr_assert_eq(tcp_sack_highest_sacked(&sb), S(5));

	/* IsLost: S0 has 3000 SACKed bytes above, S3 only 1000 */
	cr_assert(tcp_sack_is_lost(&sb, S(0), SMSS));
	cr_assert(!tcp_sack_is_lost(&sb, S(3), SMSS));
	/* pipe: S0 lost (0) + S3 hole 1000 + S5..S10 5000 */
	cr_assert_eq(tcp_sack_pipe(&sb, snd_max, SMSS), 6000u);

	cr_assert(tcp_sack_may_enter_recovery(&sb));
	cr_assert(tcp_sack_loss_detected(&sb, dupacks, SMSS));
	tcp_sack_enter_recovery(&sb, snd_max);
	cr_assert(!tcp_sack_may_enter_recovery(&sb));
	tcp_sack_first_retransmit(&sb, snd_max, SMSS, &seg);
	cr_assert_eq(seg.kind, TCP_SACK_SEG_FIRST);
	cr_assert_eq(seg.seq, S(0));
	cr_assert_eq(seg.len, 1000u);
	tcp_sack_mark_sent(&sb, &seg);
	/* the retransmission is in flight: pipe grows by 1000 */
	cr_assert_eq(tcp_sack_pipe(&sb, snd_max, SMSS), 7000u);

	/* rule 2 wins over rule 3 when new data may be sent */
	cr_assert(tcp_sack_next_seg(&sb, snd_max, SMSS, 5000, &seg));
	cr_assert_eq(seg.kind, TCP_SACK_SEG_NEW);
	cr_assert_eq(seg.seq, S(10));
	cr_assert_eq(seg.len, 1000u);
	/* with nothing new: rule 3, the unSACKed hole at S3 */
	cr_assert(tcp_sack_next_seg(&sb, snd_max, SMSS, 0, &seg));
	cr_assert_eq(seg.kind, TCP_SACK_SEG_UNSACKED);
	cr_assert_eq(seg.seq, S(3));
	cr_assert_eq(seg.len, 1000u);

	/* S5 (across the wrap) and S6 arrive: S3 now IsLost -> rule 1 */
	ack_with(&sb, BASE, snd_max, 3, S(5), S(6), S(4), S(5), S(1), S(3));
	cr_assert_eq(sb.count, 2);
	cr_assert(!tcp_sack_is_lost(&sb, S(3), SMSS));
	ack_with(&sb, BASE, snd_max, 2, S(4), S(7), S(1), S(3));
	cr_assert(tcp_sack_is_lost(&sb, S(3), SMSS));
	cr_assert(tcp_sack_next_seg(&sb, snd_max, SMSS, 0, &seg));
	cr_assert_eq(seg.kind, TCP_SACK_SEG_LOST);
	cr_assert_eq(seg.seq, S(3));
	tcp_sack_mark_sent(&sb, &seg);
	cr_assert_eq(sb.high_rxt, S(4));
	/* S0: retx 1000; S3: retx 1000; S7..S10: 3000 */
	cr_assert_eq(tcp_sack_pipe(&sb, snd_max, SMSS), 5000u);
	/* nothing left: rescue not allowed before S0's retransmission is ACKed */
	cr_assert(!tcp_sack_next_seg(&sb, snd_max, SMSS, 0, &seg));
	cr_assert_eq(seg.kind, TCP_SACK_SEG_NONE);

	/* the S0 retransmission arrives: cumulative ACK to S3 */
	res = ack_with(&sb, S(3), snd_max, 1, S(4), S(7));
	cr_assert_eq(res.newly_acked, 3000u);
	cr_assert(!res.is_dupack);
	cr_assert(!res.recovery_done);
	cr_assert_eq(sb.count, 1);
	/* rule 4: one rescue ending at the highest unSACKed byte */
	cr_assert(tcp_sack_next_seg(&sb, snd_max, SMSS, 0, &seg));
	cr_assert_eq(seg.kind, TCP_SACK_SEG_RESCUE);
	cr_assert_eq(seg.seq, S(9));
	cr_assert_eq(seg.len, 1000u);
	uint32_t high_rxt_before = sb.high_rxt;
	tcp_sack_mark_sent(&sb, &seg);
	cr_assert_eq(sb.high_rxt, high_rxt_before, "rescue must not move HighRxt");
	cr_assert(!tcp_sack_next_seg(&sb, snd_max, SMSS, 0, &seg));

	res = ack_with(&sb, snd_max, snd_max, 0);
	cr_assert(res.recovery_done);
	cr_assert(!sb.in_recovery);
	cr_assert_eq(sb.count, 0);
	cr_assert_eq(tcp_sack_pipe(&sb, snd_max, SMSS), 0u);
	cr_assert(tcp_sack_may_enter_recovery(&sb));
}

Test(tcp_sack, is_lost_by_three_discontiguous_ranges)
{
	struct tcp_sack_scoreboard sb;

	tcp_sack_init(&sb, 0xfffffff0u);
	ack_with(&sb, 0xfffffff0u, 100, 3, 0xfffffff8u, 0xfffffff9u, 2u, 3u, 10u, 11u);
	cr_assert_eq(sb.count, 3);
	cr_assert(tcp_sack_is_lost(&sb, 0xfffffff0u, SMSS)); /* 3 ranges above */
	cr_assert(!tcp_sack_is_lost(&sb, 0xfffffffau, SMSS)); /* 2 ranges above */
	cr_assert(!tcp_sack_is_lost(&sb, 5u, SMSS));
}

Test(tcp_sack, is_lost_by_bytes_counts_partial_range)
{
	struct tcp_sack_scoreboard sb;

	tcp_sack_init(&sb, 0);
	ack_with(&sb, 0, 10000, 1, 1000u, 4000u);
	cr_assert(tcp_sack_is_lost(&sb, 999, SMSS));   /* 3000 above */
	cr_assert(tcp_sack_is_lost(&sb, 1500, SMSS));  /* 2499 above */
	cr_assert(!tcp_sack_is_lost(&sb, 1999, SMSS)); /* 2000 above: not more */
}

/* RFC 2883 §4: the two D-SACK forms are counted and not recorded. */
Test(tcp_sack, dsack_detected_and_ignored)
{
	struct tcp_sack_scoreboard sb;
	struct tcp_sack_result res;

	tcp_sack_init(&sb, 1000);
	/* first block below the cumulative ACK */
	res = ack_with(&sb, 2000, 9000, 1, 1500u, 1800u);
	cr_assert(res.dsack);
	cr_assert_eq(res.newly_acked, 1000u);
	cr_assert_eq(sb.count, 0);
	/* first block inside the second */
	res = ack_with(&sb, 2000, 9000, 2, 3000u, 3500u, 3000u, 4000u);
	cr_assert(res.dsack);
	cr_assert_eq(sb.count, 1);
	cr_assert_eq(sb.ranges[0].left, 3000u);
	cr_assert_eq(sb.ranges[0].right, 4000u);
	cr_assert_eq(res.newly_sacked, 1000u);
	cr_assert_eq(sb.dsacks, 2u);
	/* a normal first block is not a D-SACK */
	res = ack_with(&sb, 2000, 9000, 2, 5000u, 5500u, 3000u, 4000u);
	cr_assert(!res.dsack);
	cr_assert_eq(sb.count, 2);
}

Test(tcp_sack, invalid_blocks_ignored_and_clipped)
{
	struct tcp_sack_scoreboard sb;
	struct tcp_sack_result res;

	tcp_sack_init(&sb, 0xffffff00u);
	res = ack_with(&sb, 0xffffff00u, 0x100u, 4,
		       0x10u, 0x10u,               /* empty */
		       0x80u, 0x200u,              /* beyond snd_max */
		       0xffffff80u, 0xffffffa0u,   /* fine, across nothing */
		       0x50u, 0x40u);              /* reversed */
	cr_assert_eq(res.invalid_blocks, 3);
	cr_assert_eq(sb.invalid, 3u);
	cr_assert_eq(sb.count, 1);
	/* a later block that reaches below snd_una is clipped to it */
	res = ack_with(&sb, 0xffffff40u, 0x100u, 2, 0x0u, 0x10u, 0xffffff20u, 0xffffff90u);
	cr_assert(!res.dsack);
	cr_assert_eq(sb.ranges[0].left, 0xffffff40u);
	cr_assert_eq(sb.ranges[0].right, 0xffffffa0u);
	cr_assert_eq(sb.ranges[1].left, 0x0u);
	cr_assert_eq(tcp_sack_sacked_bytes(&sb), 0x60u + 0x10u);
	/* block entirely below snd_una in second position: invalid */
	res = ack_with(&sb, 0xffffff40u, 0x100u, 2, 0x20u, 0x30u, 0xffffff00u, 0xffffff10u);
	cr_assert_eq(res.invalid_blocks, 1);
}

Test(tcp_sack, cumulative_ack_trims_ranges)
{
	struct tcp_sack_scoreboard sb;

	tcp_sack_init(&sb, 0xfffffc00u);
	ack_with(&sb, 0xfffffc00u, 0x1000u, 2, 0xfffffe00u, 0x200u, 0x400u, 0x500u);
	cr_assert_eq(tcp_sack_sacked_bytes(&sb), 0x400u + 0x100u);
	ack_with(&sb, 0x100u, 0x1000u, 0);
	cr_assert_eq(sb.ranges[0].left, 0x100u);
	cr_assert_eq(tcp_sack_sacked_bytes(&sb), 0x100u + 0x100u);
	cr_assert(tcp_sack_is_sacked(&sb, 0x1ffu));
	cr_assert(!tcp_sack_is_sacked(&sb, 0x200u));
	ack_with(&sb, 0x480u, 0x1000u, 0);
	cr_assert_eq(sb.count, 1);
	cr_assert_eq(tcp_sack_sacked_bytes(&sb), 0x80u);
	cr_assert_eq(tcp_sack_highest_sacked(&sb), 0x500u);
}

Test(tcp_sack, full_board_forgets_highest)
{
	struct tcp_sack_scoreboard sb;
	struct tcp_sack_block blk;

	tcp_sack_init(&sb, 0);
	for (uint32_t i = 0; i < TCP_SACK_SCOREBOARD_RANGES; i++) {
		blk.left = 100 + i * 100;
		blk.right = blk.left + 10;
		tcp_sack_update(&sb, 0, 100000, &blk, 1, NULL);
	}
	cr_assert_eq(sb.count, TCP_SACK_SCOREBOARD_RANGES);
	uint32_t top = tcp_sack_highest_sacked(&sb);
	/* a new highest block is dropped */
	blk.left = 90000;
	blk.right = 90010;
	tcp_sack_update(&sb, 0, 100000, &blk, 1, NULL);
	cr_assert_eq(tcp_sack_highest_sacked(&sb), top);
	cr_assert_eq(sb.overflows, 1u);
	/* a new low block replaces the highest */
	blk.left = 50;
	blk.right = 60;
	tcp_sack_update(&sb, 0, 100000, &blk, 1, NULL);
	cr_assert_eq(sb.count, TCP_SACK_SCOREBOARD_RANGES);
	cr_assert_eq(sb.ranges[0].left, 50u);
	cr_assert_lt(tcp_sack_highest_sacked(&sb), top);
	cr_assert_eq(sb.overflows, 2u);
	cr_assert_eq(tcp_sack_sacked_bytes(&sb), 10u * TCP_SACK_SCOREBOARD_RANGES);
	/* a merging block needs no slot */
	blk.left = 60;
	blk.right = 100;
	tcp_sack_update(&sb, 0, 100000, &blk, 1, NULL);
	cr_assert_eq(sb.count, TCP_SACK_SCOREBOARD_RANGES - 1);
}

/* RFC 6675 §5.1 / RFC 2018 §8. */
Test(tcp_sack, rto_resets_and_holds_off_recovery)
{
	struct tcp_sack_scoreboard sb;

	tcp_sack_init(&sb, 0);
	ack_with(&sb, 0, 10000, 3, 1000u, 2000u, 3000u, 4000u, 5000u, 6000u);
	tcp_sack_enter_recovery(&sb, 10000);
	tcp_sack_on_rto(&sb, 10000);
	cr_assert(!sb.in_recovery);
	cr_assert_eq(sb.count, 0);
	cr_assert_eq(tcp_sack_sacked_bytes(&sb), 0u);
	cr_assert_eq(tcp_sack_pipe(&sb, 10000, SMSS), 10000u);
	cr_assert(!tcp_sack_may_enter_recovery(&sb));
	ack_with(&sb, 9999, 12000, 0);
	cr_assert(!tcp_sack_may_enter_recovery(&sb));
	ack_with(&sb, 10000, 12000, 0);
	cr_assert(tcp_sack_may_enter_recovery(&sb));
}

Test(tcp_sack, first_retransmit_stops_at_sacked_data)
{
	struct tcp_sack_scoreboard sb;
	struct tcp_sack_seg seg;

	tcp_sack_init(&sb, 100);
	ack_with(&sb, 100, 5000, 1, 400u, 600u);
	tcp_sack_first_retransmit(&sb, 5000, SMSS, &seg);
	cr_assert_eq(seg.seq, 100u);
	cr_assert_eq(seg.len, 300u);
	tcp_sack_init(&sb, 100);
	tcp_sack_first_retransmit(&sb, 350, SMSS, &seg);
	cr_assert_eq(seg.len, 250u);
}

/*
 * SetPipe and IsLost computed per hole must equal RFC 6675's per-octet
 * definitions, for random scoreboards and HighRxt values across the wrap.
 */
#define WIN 3000u
static uint64_t rng = 0xda3e39cb94b95bdbull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

Test(tcp_sack, pipe_and_islost_match_octet_definition)
{
	static uint8_t sacked[WIN];
	const uint32_t smss = 100;

	for (int round = 0; round < 300; round++) {
		struct tcp_sack_scoreboard sb;
		uint32_t una = 0u - 1500u + rnd() % 200;
		int nblocks = 1 + rnd() % 12;

		memset(sacked, 0, sizeof(sacked));
		tcp_sack_init(&sb, una);
		for (int i = 0; i < nblocks; i++) {
			struct tcp_sack_block b;
			uint32_t off = rnd() % WIN, len = 1 + rnd() % 250;

			if (off + len > WIN)
				len = WIN - off;
			b.left = una + off;
			b.right = una + off + len;
			tcp_sack_update(&sb, una, una + WIN, &b, 1, NULL);
			memset(sacked + off, 1, len);
		}
		struct tcp_sack_seg rx = {una, rnd() % WIN, TCP_SACK_SEG_LOST};
		tcp_sack_enter_recovery(&sb, una + WIN);
		tcp_sack_mark_sent(&sb, &rx);

		uint32_t want_pipe = 0, total = 0;
		for (uint32_t o = 0; o < WIN; o++)
			total += sacked[o];
		cr_assert_eq(tcp_sack_sacked_bytes(&sb), total);
		for (uint32_t o = 0; o < WIN; o++) {
			unsigned runs = 0;
			uint32_t bytes = 0;

			for (uint32_t p = o + 1; p < WIN; p++) {
				bytes += sacked[p];
				if (sacked[p] && (p == o + 1 || !sacked[p - 1]))
					runs++;
			}
			bool lost = runs >= TCP_SACK_DUPTHRESH ||
				    bytes > (TCP_SACK_DUPTHRESH - 1) * smss;
			if (!sacked[o]) {
				cr_assert_eq(tcp_sack_is_lost(&sb, una + o, smss), lost,
					     "round %d octet %u", round, o);
				if (!lost)
					want_pipe++;
				if (o < rx.len)
					want_pipe++;
			}
		}
		cr_assert_eq(tcp_sack_pipe(&sb, una + WIN, smss), want_pipe, "round %d", round);
	}
}

/* §5 (4.3) sets RescueRxt to the first retransmission's last byte; rule 4
 * needs HighACK > RescueRxt, i.e. snd_una beyond that byte + 1. */
Test(tcp_sack, rescue_waits_until_first_retransmission_acked_past)
{
	struct tcp_sack_scoreboard sb;
	struct tcp_sack_seg seg;
	uint32_t snd_max = S(10);

	tcp_sack_init(&sb, BASE);
	ack_with(&sb, BASE, snd_max, 1, S(2), S(5));
	tcp_sack_enter_recovery(&sb, snd_max);
	tcp_sack_first_retransmit(&sb, snd_max, SMSS, &seg);
	cr_assert_eq(seg.len, 1000u);
	tcp_sack_mark_sent(&sb, &seg);
	/* S1 is lost too (3000 SACKed above): rule 1 */
	cr_assert(tcp_sack_next_seg(&sb, snd_max, SMSS, 0, &seg));
	cr_assert_eq(seg.kind, TCP_SACK_SEG_LOST);
	cr_assert_eq(seg.seq, S(1));
	tcp_sack_mark_sent(&sb, &seg);
	/* ACK exactly to the end of the first retransmission: no rescue yet */
	ack_with(&sb, S(1), snd_max, 1, S(2), S(5));
	cr_assert(!tcp_sack_next_seg(&sb, snd_max, SMSS, 0, &seg));
	/* one byte further: the rescue covers the top of the window */
	ack_with(&sb, S(1) + 1, snd_max, 1, S(2), S(5));
	cr_assert(tcp_sack_next_seg(&sb, snd_max, SMSS, 0, &seg));
	cr_assert_eq(seg.kind, TCP_SACK_SEG_RESCUE);
	cr_assert_eq(seg.seq + seg.len, snd_max);
}

/* RFC 6675 §2: DupThresh follows the reordering degree; IsLost, SetPipe and the loss trigger
 * all use it. */
Test(tcp_sack, dupthresh_adapts_islost_and_trigger)
{
	struct tcp_sack_scoreboard sb;

	tcp_sack_init(&sb, S(0));
	cr_expect_eq(sb.dupthresh, TCP_SACK_DUPTHRESH);
	ack_with(&sb, S(0), S(10), 1, S(1), S(5));          /* 4 segments above S0 */
	cr_expect(tcp_sack_is_lost(&sb, S(0), SMSS));
	cr_expect(tcp_sack_loss_detected(&sb, 1, SMSS));
	cr_expect_eq(tcp_sack_pipe(&sb, S(10), SMSS), 5 * SMSS, "S0 lost: only S5..S9 in flight");
	tcp_sack_set_dupthresh(&sb, 6);
	cr_expect(!tcp_sack_is_lost(&sb, S(0), SMSS), "4 segments of reordering are tolerated");
	cr_expect(!tcp_sack_loss_detected(&sb, 5, SMSS));
	cr_expect(tcp_sack_loss_detected(&sb, 6, SMSS));
	cr_expect_eq(tcp_sack_pipe(&sb, S(10), SMSS), 6 * SMSS);
	ack_with(&sb, S(0), S(10), 1, S(1), S(7));
	cr_expect(tcp_sack_is_lost(&sb, S(0), SMSS), "6 segments above: more than DupThresh - 1");
}

/* The lowest byte SACKed for the first time (the sender's reordering check uses it). */
Test(tcp_sack, new_sack_low_reports_first_new_byte)
{
	struct tcp_sack_scoreboard sb;
	struct tcp_sack_result r;

	tcp_sack_init(&sb, S(0));
	r = ack_with(&sb, S(0), S(10), 1, S(4), S(5));
	cr_expect(r.has_new_sack);
	cr_expect_eq(r.new_sack_low, S(4));
	r = ack_with(&sb, S(0), S(10), 1, S(4), S(5));     /* repeated: nothing new */
	cr_expect(!r.has_new_sack);
	r = ack_with(&sb, S(0), S(10), 2, S(4), S(7), S(2), S(3));
	cr_expect(r.has_new_sack);
	cr_expect_eq(r.new_sack_low, S(2), "the lower of two new blocks");
	r = ack_with(&sb, S(0), S(10), 1, S(1), S(7));     /* fills S1 and S3 */
	cr_expect_eq(r.new_sack_low, S(1));
	r = ack_with(&sb, S(0), S(10), 1, S(1), S(9));     /* extends upward from S7 */
	cr_expect_eq(r.new_sack_low, S(7));
	r = ack_with(&sb, S(1), S(10), 2, S(0), S(1), S(1), S(9));   /* D-SACK below the ACK */
	cr_expect(r.dsack);
	cr_expect_eq(r.dsack_block.left, S(0));
	cr_expect_eq(r.dsack_block.right, S(1));
	cr_expect(!r.has_new_sack);
}
