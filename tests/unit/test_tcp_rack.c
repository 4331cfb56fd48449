/*
 * RACK-TLP (RFC 8985): the transmit record and detection rule of tcp_rack.c on their own, and
 * a connection with SACK against a scripted peer on the virtual clock: losses found by time
 * instead of three duplicate ACKs, reordering inside the window left alone, the reordering
 * timer, and the tail loss probe turning a would-be RTO into fast recovery.
 */
#include "tcp_frames.h"

#include "tcp_rack.h"

#define MS 1000ull
#define SEG 1000u      /* the peer's MSS: one segment is 1000 bytes (no timestamps) */

TestSuite(tcp_rack, .init = tf_setup, .fini = tf_teardown);
TestSuite(tcp_tlp, .init = tf_setup, .fini = tf_teardown);
TestSuite(tcp_rack_record);

/* ---- the record on its own ---- */

static struct tcp_sack_scoreboard board_with(uint32_t una, uint32_t left, uint32_t right)
{
	struct tcp_sack_scoreboard sb;
	struct tcp_sack_block b = { left, right };

	tcp_sack_init(&sb, una);
	tcp_sack_update(&sb, una, right, &b, left != right, NULL);
	return sb;
}

Test(tcp_rack_record, grows_past_initial_size_and_drops_acked)
{
	struct tcp_rack r;
	uint32_t base = 0xfffff000u, seq, end;   /* across the 2^32 wrap as well */

	tcp_rack_init(&r);
	for (uint32_t i = 0; i < 3 * TCP_RACK_INIT_SEGS; i++)
		tcp_rack_on_send(&r, base + i * 100, base + (i + 1) * 100, 1000 + i);
	cr_expect_eq(r.count, 3 * TCP_RACK_INIT_SEGS);
	cr_assert(tcp_rack_last_seg(&r, &seq, &end));
	cr_expect_eq(end, base + 3 * TCP_RACK_INIT_SEGS * 100);
	tcp_rack_on_ack(&r, base + 250, NULL, 0, 5000, 1);
	cr_expect_eq(r.count, 3 * TCP_RACK_INIT_SEGS - 2, "the straddling entry stays");
	cr_expect(r.valid);
	cr_expect_eq(r.end_seq, base + 200, "RACK segment: the last one fully delivered");
	cr_expect_eq(r.rtt_us, 5000 - 1001);
	tcp_rack_free(&r);
}

Test(tcp_rack_record, detect_marks_prefix_and_times_the_rest)
{
	struct tcp_rack r;
	struct tcp_sack_scoreboard sb;
	struct tcp_sack_block b = { 4000, 5000 };
	uint32_t lost_end = 0, first = 0, nlost = 0, wait;

	tcp_rack_init(&r);
	/* segments 0..4 of 1000 bytes, sent at 0, 10, 20, 30, 40 ms */
	for (uint32_t i = 0; i < 5; i++)
		tcp_rack_on_send(&r, i * 1000, (i + 1) * 1000, i * 10 * MS);
	sb = board_with(0, 4000, 5000);
	/* segment 4 SACKed at 60 ms: RACK.rtt = 20 ms */
	tcp_rack_on_ack(&r, 0, &b, 1, 60 * MS, 1);
	cr_assert(r.valid);
	cr_expect_eq(r.rtt_us, 20 * MS);
	/* reo_wnd 5 ms: sent at or before 35 ms - 20 ms ... i.e. xmit + 25 ms <= 60 ms */
	wait = tcp_rack_detect(&r, &sb, 60 * MS, 5 * MS, &lost_end, &first, &nlost);
	cr_expect_eq(nlost, 4, "segments 0..3 sent 25 ms or more before now");
	cr_expect_eq(first, 0);
	cr_expect_eq(lost_end, 4000);
	cr_expect_eq(wait, 0);
	/* with a 25 ms window only segments 0..1 are overdue; segment 2 waits 5 ms more */
	lost_end = 0;
	wait = tcp_rack_detect(&r, &sb, 60 * MS, 25 * MS, &lost_end, &first, &nlost);
	cr_expect_eq(nlost, 2);
	cr_expect_eq(lost_end, 2000);
	cr_expect_eq(wait, 5 * MS);
	tcp_rack_free(&r);
}

Test(tcp_rack_record, retransmission_is_not_marked_again_and_ambiguous_ack_ignored)
{
	struct tcp_rack r;
	uint32_t lost_end = 0, first = 0, nlost = 0;
	struct tcp_sack_scoreboard sb = board_with(0, 2000, 3000);
	struct tcp_sack_block b = { 2000, 3000 };

	tcp_rack_init(&r);
	for (uint32_t i = 0; i < 3; i++)
		tcp_rack_on_send(&r, i * 1000, (i + 1) * 1000, 0);
	tcp_rack_on_send(&r, 0, 1000, 50 * MS);          /* segment 0 retransmitted */
	/* the cumulative ACK of segment 0 comes 1 ms after its retransmission: for the original */
	tcp_rack_on_ack(&r, 1000, NULL, 0, 51 * MS, 20 * MS);
	cr_expect(!r.valid, "RFC 8985 §6.2 step 2: ambiguous, not a RACK sample");
	tcp_rack_on_ack(&r, 1000, &b, 1, 60 * MS, 20 * MS);
	cr_assert(r.valid);
	tcp_rack_on_send(&r, 1000, 2000, 61 * MS);       /* segment 1 retransmitted */
	tcp_rack_detect(&r, &sb, 200 * MS, 1 * MS, &lost_end, &first, &nlost);
	cr_expect_eq(nlost, 0, "a retransmitted segment is left to the RTO");
	tcp_rack_free(&r);
}

Test(tcp_rack_record, reo_wnd_adapts_to_dsack_and_reordering_seen)
{
	struct tcp_rack r;

	tcp_rack_init(&r);
	cr_expect_eq(tcp_rack_reo_wnd(&r, false, true, 40 * MS, 50 * MS), TCP_RACK_GRANULARITY_US,
		     "no reordering seen, in recovery: 0 (the granularity)");
	cr_expect_eq(tcp_rack_reo_wnd(&r, true, false, 40 * MS, 50 * MS), 10 * MS);
	tcp_rack_dsack(&r, 100, 5000);
	tcp_rack_dsack(&r, 200, 6000);                    /* same round: no second step */
	cr_expect_eq(tcp_rack_reo_wnd(&r, true, false, 40 * MS, 50 * MS), 20 * MS);
	tcp_rack_dsack(&r, 5000, 9000);
	cr_expect_eq(tcp_rack_reo_wnd(&r, true, false, 40 * MS, 50 * MS), 30 * MS);
	for (unsigned i = 0; i < TCP_RACK_REO_PERSIST; i++)
		tcp_rack_recovery_done(&r);
	cr_expect_eq(tcp_rack_reo_wnd(&r, true, false, 40 * MS, 50 * MS), 10 * MS,
		     "back to min_rtt / 4 after %u recoveries", TCP_RACK_REO_PERSIST);
	cr_expect_eq(tcp_rack_reo_wnd(&r, true, false, 400 * MS, 50 * MS), 50 * MS * TCP_RACK_REO_CAP_SRTTS,
		     "capped by SRTT");
	tcp_rack_free(&r);
}

/* ---- a connection ---- */

/* Active open with SACK and MSS 1000, the SYN-ACK 20 ms after the SYN: SRTT = min_rtt = 20 ms,
 * RTO 200 ms (the floor). *base gets the first data sequence number. */
static struct sock *rack_conn_opts(uint32_t *base, bool ts)
{
	struct peer_opts po = { .mss = true, .mss_val = SEG, .sack_perm = true, .ts = ts, .tsval = 1 };
	struct sock *s = tf_socket();
	struct tseg syn, ack;

	cr_assert_eq(tf_connect(s, SRV_PORT), -EINPROGRESS);
	cr_assert(tf_pop(&syn));
	stack_advance_clock(st, 20 * MS);
	tf_inject_ports(SRV_PORT, syn.sport, FRAMES_TCP_SYN | FRAMES_TCP_ACK, PEER_ISS, syn.seq + 1,
			65535, &po, NULL, 0);
	cr_assert(tf_pop(&ack));
	cr_assert_eq(tf_conn(s)->state, TCP_ESTABLISHED);
	cr_assert(tf_conn(s)->sack_ok);
	cr_assert_eq(tf_conn(s)->snd_mss, ts ? SEG - 12 : SEG);
	cr_assert_eq(tf_conn(s)->rtt.srtt_us, 20 * MS);
	*base = syn.seq + 1;
	return s;
}

static struct sock *rack_conn(uint32_t *base)
{
	return rack_conn_opts(base, false);
}

/* The peer acknowledges ack, echoing tsecr (timestamps on). */
static void peer_ack_ts(struct sock *s, uint32_t ack, uint32_t tsecr)
{
	struct peer_opts po = { .ts = true, .tsval = 2, .tsecr = tsecr };

	tf_inject_ports(SRV_PORT, tf_conn(s)->tuple.local_port, FRAMES_TCP_ACK, PEER_ISS + 1, ack,
			65535, &po, NULL, 0);
}

static void peer_sack1(struct sock *s, uint32_t ack, uint32_t left, uint32_t right)
{
	struct peer_opts po = { .nsack = left != right };

	po.sack[0][0] = left;
	po.sack[0][1] = right;
	tf_inject_ports(SRV_PORT, tf_conn(s)->tuple.local_port, FRAMES_TCP_ACK, PEER_ISS + 1, ack,
			65535, &po, NULL, 0);
}

/* Data segments the stack sent starting below *high (retransmissions) go to rtx; new data
 * moves *high. Returns the number of retransmissions. */
static int pop_data(uint32_t *high, struct tseg *rtx, int max)
{
	struct tseg seg;
	int n = 0;

	while (tf_pop(&seg)) {
		if (seg.len == 0)
			continue;
		if (seq_lt(seg.seq, *high)) {
			if (n < max)
				rtx[n++] = seg;
		} else {
			*high = seg.seq + seg.len;
		}
	}
	return n;
}

/* Segment 0 is sent 10 ms before segments 1 and 2; segment 1 is SACKed 20 ms after it left.
 * One duplicate ACK is far below DupThresh (3), but segment 0 left 30 ms ago, more than
 * RACK.rtt (20 ms) + reo_wnd (min_rtt / 4 = 5 ms): lost, retransmitted at once. */
Test(tcp_rack, loss_detected_without_three_dupacks)
{
	static uint8_t data[3 * SEG];
	struct tseg rtx[8];
	uint32_t b, high;
	struct sock *s = rack_conn(&b);
	struct tcp_conn *c = tf_conn(s);

	high = b;
	tf_send(s, data, SEG);
	cr_assert_eq(pop_data(&high, rtx, 8), 0);
	stack_advance_clock(st, 10 * MS);
	tf_send(s, data, 2 * SEG);
	cr_assert_eq(pop_data(&high, rtx, 8), 0);
	cr_assert_eq(high, b + 3 * SEG);
	stack_advance_clock(st, 20 * MS);
	peer_sack1(s, b, b + SEG, b + 2 * SEG);   /* one duplicate ACK */
	cr_assert_eq(pop_data(&high, rtx, 8), 1);
	cr_expect_eq(rtx[0].seq, b);
	cr_expect_eq(rtx[0].len, SEG);
	cr_expect(c->in_recovery);
	cr_expect_eq(st->counters.tcp_rack_lost, 1);
	cr_expect_eq(st->counters.tcp_rto_fired, 0);
	cr_expect(c->cc.cwnd < TCP_INIT_CWND_SEGS * SEG, "congestion response: %u", c->cc.cwnd);
}

/* All three segments leave together and segment 0 is overtaken by 1 and 2 (SACKed 20 ms later),
 * then arrives 3 ms after them: within reo_wnd (5 ms), so nothing is retransmitted. */
Test(tcp_rack, reordering_within_reo_wnd_not_marked_lost)
{
	static uint8_t data[3 * SEG];
	struct tseg rtx[8];
	uint32_t b, high;
	struct sock *s = rack_conn(&b);
	struct tcp_conn *c = tf_conn(s);
	uint32_t cwnd0 = c->cc.cwnd;

	high = b;
	tf_send(s, data, sizeof data);
	pop_data(&high, rtx, 8);
	stack_advance_clock(st, 20 * MS);
	peer_sack1(s, b, b + SEG, b + 2 * SEG);
	peer_sack1(s, b, b + SEG, b + 3 * SEG);
	cr_expect_eq(pop_data(&high, rtx, 8), 0);
	cr_expect(c->rack.reo_deadline_us != 0, "the reordering timer runs");
	stack_advance_clock(st, 3 * MS);
	peer_sack1(s, b + 3 * SEG, 0, 0);
	cr_expect_eq(pop_data(&high, rtx, 8), 0);
	stack_advance_clock(st, 10 * MS);
	cr_expect_eq(pop_data(&high, rtx, 8), 0, "and the timer does nothing afterwards");
	cr_expect_eq(st->counters.tcp_rack_lost, 0);
	cr_expect(!c->in_recovery);
	cr_expect_eq(c->cc.cwnd, cwnd0);
	cr_expect_eq(c->rack.reo_deadline_us, 0);
}

/* The same overtaking, but segment 0 never arrives: RFC 8985 §6.3, the reordering timer fires
 * at xmit + RACK.rtt + reo_wnd (25 ms) and RACK marks it, long before the 200 ms RTO. */
Test(tcp_rack, reordering_timer_fires_and_marks)
{
	static uint8_t data[3 * SEG];
	struct tseg rtx[8];
	uint32_t b, high;
	struct sock *s = rack_conn(&b);
	struct tcp_conn *c = tf_conn(s);

	high = b;
	tf_send(s, data, sizeof data);
	pop_data(&high, rtx, 8);
	stack_advance_clock(st, 20 * MS);
	peer_sack1(s, b, b + SEG, b + 2 * SEG);
	peer_sack1(s, b, b + SEG, b + 3 * SEG);
	cr_assert_eq(pop_data(&high, rtx, 8), 0);
	cr_assert_eq(c->rack.reo_deadline_us, stack_now_us(st) + 5 * MS);
	stack_advance_clock(st, 4 * MS);
	cr_expect_eq(pop_data(&high, rtx, 8), 0, "not before the deadline");
	stack_advance_clock(st, 1 * MS);
	cr_assert_eq(pop_data(&high, rtx, 8), 1, "the timer fired and RACK marked segment 0");
	cr_expect_eq(rtx[0].seq, b);
	cr_expect(c->in_recovery);
	cr_expect_eq(st->counters.tcp_rack_lost, 1);
	cr_expect_eq(st->counters.tcp_rto_fired, 0);
}

/* RFC 8985 §7: segments 2 and 3 of four are lost at the tail: no SACK can come. The ACK of
 * 0..1 (20 ms) arms the PTO at 2·SRTT; it expires, the last segment is retransmitted as a
 * probe; its SACK lets RACK mark segment 2: fast recovery, no RTO. */
Test(tcp_tlp, tail_loss_probe_then_fast_recovery)
{
	static uint8_t data[4 * SEG];
	struct tseg rtx[8];
	uint32_t b, high;
	struct sock *s = rack_conn(&b);
	struct tcp_conn *c = tf_conn(s);
	uint64_t t_ack;

	high = b;
	tf_send(s, data, sizeof data);
	pop_data(&high, rtx, 8);
	stack_advance_clock(st, 20 * MS);
	peer_sack1(s, b + 2 * SEG, 0, 0);
	t_ack = stack_now_us(st);
	cr_assert_eq(c->rack.tlp_deadline_us, t_ack + 2 * c->rtt.srtt_us,
		     "PTO = 2·SRTT (%u us)", c->rtt.srtt_us);
	stack_advance_clock(st, 2 * c->rtt.srtt_us - 1000);
	cr_expect_eq(pop_data(&high, rtx, 8), 0);
	stack_advance_clock(st, 1000);
	cr_assert_eq(pop_data(&high, rtx, 8), 1, "the probe");
	cr_expect_eq(rtx[0].seq, b + 3 * SEG, "the last segment");
	cr_expect_eq(st->counters.tcp_tlp_probes, 1);
	cr_expect(c->rack.tlp_active);
	/* one probe per episode */
	stack_advance_clock(st, 15 * MS);
	cr_expect_eq(pop_data(&high, rtx, 8), 0);
	/* its SACK, a round trip after it */
	stack_advance_clock(st, 5 * MS);
	peer_sack1(s, b + 2 * SEG, b + 3 * SEG, b + 4 * SEG);
	cr_assert_eq(pop_data(&high, rtx, 8), 1);
	cr_expect_eq(rtx[0].seq, b + 2 * SEG, "RACK: segment 2 lost");
	cr_expect(c->in_recovery);
	cr_expect_eq(st->counters.tcp_rack_lost, 1);
	peer_sack1(s, b + 4 * SEG, 0, 0);
	cr_expect(!c->in_recovery);
	cr_expect_eq(c->snd_una, b + 4 * SEG);
	cr_expect_eq(st->counters.tcp_rto_fired, 0, "no RTO at all");
}

/* New data waiting (held back by cwnd) is what the probe sends, not a retransmission. */
Test(tcp_tlp, probe_sends_new_data_when_available)
{
	static uint8_t data[14 * SEG];
	struct tseg rtx[16];
	uint32_t b, high;
	struct sock *s = rack_conn(&b);
	struct tcp_conn *c = tf_conn(s);

	high = b;
	tf_send(s, data, sizeof data);
	cr_assert_eq(pop_data(&high, rtx, 16), 0);
	cr_assert_eq(high, b + TCP_INIT_CWND_SEGS * SEG, "cwnd-limited at the initial window");
	stack_advance_clock(st, 20 * MS);
	peer_sack1(s, b + SEG, 0, 0);                      /* one ACK, then silence */
	high = b + 12 * SEG;                               /* what that ACK let out */
	pop_data(&high, rtx, 16);
	uint32_t before = c->snd_max;
	stack_advance_clock(st, 2 * c->rtt.srtt_us);
	cr_expect_eq(pop_data(&high, rtx, 16), 0, "no retransmission");
	cr_expect_eq(c->snd_max, before + SEG, "one new segment");
	cr_expect_eq(st->counters.tcp_tlp_probes, 1);
	cr_expect(!c->rack.tlp_retrans);
}

/* RFC 8985 §7.4: one segment lost at the tail; with one segment in flight the PTO includes
 * the delayed-ACK allowance and is capped by the RTO, so the probe goes out at the RTO's time
 * instead of it. answer_probe: the ACK echoes the probe's TSval (the original was lost: the
 * probe repaired a loss, the window is reduced once) or the original's (nothing was lost). */
static void tail_probe_answered(bool answer_probe)
{
	static uint8_t data[3 * SEG];
	struct tseg segs[8], last = { 0 };
	uint32_t b, mss, n = 0;
	struct sock *s = rack_conn_opts(&b, true);
	struct tcp_conn *c = tf_conn(s);
	uint32_t cwnd0, ssthresh0 = c->cc.ssthresh;

	mss = c->snd_mss;
	tf_send(s, data, 3 * mss);
	while (n < 8 && tf_pop(&segs[n]))
		if (segs[n].len)
			last = segs[n++];
	cr_assert_eq(n, 3);
	stack_advance_clock(st, 20 * MS);
	peer_ack_ts(s, b + 2 * mss, segs[1].tsval);
	cwnd0 = c->cc.cwnd;
	cr_assert_eq(c->rack.tlp_deadline_us, c->rtx_deadline_us,
		     "PTO = 2·SRTT + delayed-ACK time, capped by the RTO");
	stack_advance_clock(st, c->rtx_deadline_us - stack_now_us(st));
	struct tseg probe;
	cr_assert(tf_pop(&probe));
	cr_expect_eq(probe.seq, b + 2 * mss);
	cr_expect_eq(probe.len, mss);
	cr_expect_eq(st->counters.tcp_tlp_probes, 1);
	cr_expect_eq(st->counters.tcp_rto_fired, 0, "the probe, not the RTO");
	stack_advance_clock(st, 20 * MS);
	peer_ack_ts(s, b + 3 * mss, answer_probe ? probe.tsval : last.tsval);
	cr_expect(!c->rack.tlp_active);
	if (answer_probe) {
		cr_expect_eq(st->counters.tcp_tlp_recovered, 1);
		cr_expect(c->cc.cwnd < cwnd0, "cwnd %u after %u", c->cc.cwnd, cwnd0);
		cr_expect(c->cc.ssthresh != ssthresh0);
	} else {
		cr_expect_eq(st->counters.tcp_tlp_recovered, 0);
		cr_expect(c->cc.cwnd >= cwnd0);
		cr_expect_eq(c->cc.ssthresh, ssthresh0);
	}
	cr_expect_eq(c->snd_una, b + 3 * mss);
}

Test(tcp_tlp, probe_that_repaired_a_loss_reduces_the_window)
{
	tail_probe_answered(true);
}

Test(tcp_tlp, probe_for_nothing_lost_keeps_the_window)
{
	tail_probe_answered(false);
}

/* RFC 6675 §4 pipe: while RACK waits out the reordering window for segment 0, the two segments
 * SACKed above it have left the network and free cwnd for two new ones (without that the
 * sender stalls for RACK.rtt + reo_wnd at every hole). */
Test(tcp_rack, sacked_data_frees_cwnd_while_a_hole_waits)
{
	static uint8_t data[20 * SEG];
	struct tseg rtx[16];
	uint32_t b, high;
	struct sock *s = rack_conn(&b);
	struct tcp_conn *c = tf_conn(s);

	high = b;
	tf_send(s, data, sizeof data);
	cr_assert_eq(pop_data(&high, rtx, 16), 0);
	cr_assert_eq(high, b + TCP_INIT_CWND_SEGS * SEG);
	stack_advance_clock(st, 20 * MS);
	peer_sack1(s, b, b + SEG, b + 3 * SEG);
	cr_expect_eq(pop_data(&high, rtx, 16), 0, "segment 0 not yet deemed lost");
	cr_expect(c->rack.reo_deadline_us != 0);
	cr_expect(!c->in_recovery);
	cr_expect_eq(high, b + (TCP_INIT_CWND_SEGS + 2) * SEG, "two new segments for two SACKed");
}
