/*
 * test_tcp_cc.c - congestion control arithmetic, Reno and CUBIC
 * (stack/tcp_cc.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "tcp_cc.h"

#define MSS 1000u

/* Deliver one round trip of ACKs: the whole cwnd acknowledged in pieces of
 * ack_bytes, spread evenly over rtt_us. */
static void one_rtt(struct tcp_cc *cc, uint64_t *now, uint32_t rtt_us, uint32_t ack_bytes)
{
	uint32_t window = cc->cwnd, left = window;
	uint32_t nacks = (window + ack_bytes - 1) / ack_bytes;

	while (left > 0) {
		struct tcp_cc_ack ack = {
			.acked = left < ack_bytes ? left : ack_bytes, .rtt_us = rtt_us,
			.srtt_us = rtt_us, .flight = window, .cwnd_limited = true,
		};
		left -= ack.acked;
		*now += rtt_us / nacks;
		ack.now_us = *now;
		tcp_cc_on_ack(cc, &ack);
	}
}

static void ack_bytes(struct tcp_cc *cc, uint32_t n, uint64_t now)
{
	struct tcp_cc_ack ack = {
		.acked = n, .rtt_us = 10000, .srtt_us = 10000, .flight = cc->cwnd,
		.cwnd_limited = true, .now_us = now,
	};
	tcp_cc_on_ack(cc, &ack);
}

/* ---- lookup (setsockopt TCP_CONGESTION) ---- */

Test(tcp_cc, find_by_name)
{
	cr_assert_eq(tcp_cc_find("cubic"), &tcp_cc_cubic_ops);
	cr_assert_eq(tcp_cc_find("reno"), &tcp_cc_reno_ops);
	cr_assert_str_eq(tcp_cc_find("reno")->name, "reno");
	cr_assert_eq(tcp_cc_default(), &tcp_cc_cubic_ops);
}

Test(tcp_cc, find_unknown_fails)
{
	cr_assert_null(tcp_cc_find("bbr"));
	cr_assert_null(tcp_cc_find(""));
	cr_assert_null(tcp_cc_find("CUBIC"));
	cr_assert_null(tcp_cc_find("cubicx"));
	cr_assert_null(tcp_cc_find(NULL));
}

Test(tcp_cc, select_unknown_keeps_algorithm)
{
	struct tcp_cc cc;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	cc.cwnd = 33000;
	cc.ssthresh = 20000;
	cr_assert_eq(tcp_cc_select(&cc, "vegas", 0), -ENOENT);
	cr_assert_str_eq(tcp_cc_name(&cc), "reno");
	cr_assert_eq(tcp_cc_select(&cc, "cubic", 0), 0);
	cr_assert_str_eq(tcp_cc_name(&cc), "cubic");
	cr_assert_eq(cc.cwnd, 33000u);    /* window survives the switch */
	cr_assert_eq(cc.ssthresh, 20000u);
}

/* ---- RFC 6928 initial window ---- */

Test(tcp_cc, initial_window_rfc6928)
{
	cr_assert_eq(tcp_cc_initial_window(1460), 14600u);
	cr_assert_eq(tcp_cc_initial_window(536), 5360u);
	cr_assert_eq(tcp_cc_initial_window(4000), 14600u); /* max(8000, 14600) */
	cr_assert_eq(tcp_cc_initial_window(9000), 18000u); /* 2 * MSS */
	struct tcp_cc cc;
	tcp_cc_init(&cc, NULL, 1460, 0);
	cr_assert_eq(cc.cwnd, 14600u);
	cr_assert_eq(cc.ssthresh, TCP_CC_SSTHRESH_INFINITE);
	cr_assert(tcp_cc_in_slow_start(&cc));
}

/* ---- slow start ---- */

Test(tcp_cc, slow_start_doubles_per_rtt)
{
	struct tcp_cc cc;
	uint64_t now = 0;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	cr_assert_eq(cc.cwnd, 10 * MSS);
	one_rtt(&cc, &now, 10000, MSS);
	cr_assert_eq(cc.cwnd, 20 * MSS);
	one_rtt(&cc, &now, 10000, 2 * MSS); /* delayed ACKs: L = 2 keeps doubling */
	cr_assert_eq(cc.cwnd, 40 * MSS);
}

Test(tcp_cc, slow_start_abc_limit)
{
	struct tcp_cc cc;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	ack_bytes(&cc, 10 * MSS, 0); /* a stretch ACK: at most L = 2 SMSS */
	cr_assert_eq(cc.cwnd, 12 * MSS);
	cc.ss_limit_segs = 0;        /* Linux-like: no limit */
	ack_bytes(&cc, 10 * MSS, 0);
	cr_assert_eq(cc.cwnd, 22 * MSS);
}

Test(tcp_cc, slow_start_stops_at_ssthresh_and_carries_over)
{
	struct tcp_cc cc;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	cc.ssthresh = 11 * MSS;
	cc.ss_limit_segs = 0;
	ack_bytes(&cc, 2 * MSS, 0);
	cr_assert_eq(cc.cwnd, 11 * MSS);
	cr_assert_eq(cc.u.reno.bytes_acked, MSS); /* the other SMSS went to CA */
	cr_assert(!tcp_cc_in_slow_start(&cc));
}

/* ---- Reno congestion avoidance ---- */

Test(tcp_cc, reno_grows_one_mss_per_rtt)
{
	struct tcp_cc cc;
	uint64_t now = 0;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	cc.cwnd = 20 * MSS;
	cc.ssthresh = 10 * MSS;
	for (int rtt = 1; rtt <= 10; rtt++) {
		one_rtt(&cc, &now, 50000, MSS);
		cr_assert_eq(cc.cwnd, (20u + (uint32_t)rtt) * MSS, "after rtt %d", rtt);
	}
	/* delayed ACKs (2 SMSS each): same growth with byte counting */
	for (int rtt = 1; rtt <= 10; rtt++)
		one_rtt(&cc, &now, 50000, 2 * MSS);
	cr_assert_eq(cc.cwnd, 40 * MSS);
}

Test(tcp_cc, no_growth_when_not_cwnd_limited_or_in_recovery)
{
	struct tcp_cc cc;
	struct tcp_cc_ack ack = {.acked = MSS, .now_us = 1, .cwnd_limited = false};

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	tcp_cc_on_ack(&cc, &ack);
	cr_assert_eq(cc.cwnd, 10 * MSS);
	tcp_cc_enter_recovery(&cc, 10 * MSS, true, 0);
	uint32_t w = cc.cwnd;
	ack.cwnd_limited = true;
	tcp_cc_on_ack(&cc, &ack);
	cr_assert_eq(cc.cwnd, w);
}

/* ---- loss: ssthresh and recovery arithmetic ---- */

Test(tcp_cc, reno_ssthresh_on_loss)
{
	struct tcp_cc cc;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	cc.cwnd = 60 * MSS;
	tcp_cc_enter_recovery(&cc, 50 * MSS, true, 0);
	cr_assert_eq(cc.ssthresh, 25 * MSS); /* FlightSize / 2, not cwnd / 2 */
	cr_assert_eq(cc.cwnd, 25 * MSS);
	cr_assert(cc.in_recovery);
	cr_assert_eq(cc.congestion_events, 1u);
	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	tcp_cc_enter_recovery(&cc, 1 * MSS, true, 0);
	cr_assert_eq(cc.ssthresh, 2 * MSS); /* floor */
}

/* RFC 6582 §3.2 / RFC 5681 §3.2, peer without SACK. */
Test(tcp_cc, newreno_inflate_partial_ack_and_exit)
{
	struct tcp_cc cc;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	cc.cwnd = 40 * MSS;
	tcp_cc_enter_recovery(&cc, 40 * MSS, false, 0);
	cr_assert_eq(cc.ssthresh, 20 * MSS);
	cr_assert_eq(cc.cwnd, 23 * MSS); /* ssthresh + 3 SMSS */
	tcp_cc_on_dupack(&cc);
	tcp_cc_on_dupack(&cc);
	cr_assert_eq(cc.cwnd, 25 * MSS);
	tcp_cc_on_partial_ack(&cc, 3 * MSS); /* deflate 3, add back 1 */
	cr_assert_eq(cc.cwnd, 23 * MSS);
	tcp_cc_on_partial_ack(&cc, 500);     /* < SMSS: no add-back */
	cr_assert_eq(cc.cwnd, 23 * MSS - 500);
	tcp_cc_exit_recovery(&cc, 30 * MSS, 0);
	cr_assert_eq(cc.cwnd, 20 * MSS);     /* min(ssthresh, flight + SMSS) */
	cr_assert(!cc.in_recovery);
	/* exit with little in flight: max(FlightSize, SMSS) + SMSS */
	tcp_cc_enter_recovery(&cc, 40 * MSS, false, 0);
	tcp_cc_exit_recovery(&cc, 0, 0);
	cr_assert_eq(cc.cwnd, 2 * MSS);
}

Test(tcp_cc, sack_recovery_does_not_inflate)
{
	struct tcp_cc cc;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	cc.cwnd = 40 * MSS;
	tcp_cc_enter_recovery(&cc, 40 * MSS, true, 0);
	cr_assert_eq(cc.cwnd, 20 * MSS);
	tcp_cc_on_dupack(&cc);
	tcp_cc_on_partial_ack(&cc, 5 * MSS);
	cr_assert_eq(cc.cwnd, 20 * MSS);
}

Test(tcp_cc, rto_loss_window_and_repeated_timeout)
{
	struct tcp_cc cc;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, MSS, 0);
	cc.cwnd = 40 * MSS;
	tcp_cc_enter_recovery(&cc, 40 * MSS, true, 0);
	tcp_cc_on_rto(&cc, 30 * MSS, false, 0);
	cr_assert_eq(cc.cwnd, MSS);
	cr_assert_eq(cc.ssthresh, 15 * MSS);
	cr_assert(!cc.in_recovery);
	tcp_cc_on_rto(&cc, MSS, true, 0); /* same segment again: ssthresh kept */
	cr_assert_eq(cc.ssthresh, 15 * MSS);
	cr_assert_eq(cc.rto_events, 2u);
	tcp_cc_on_rto(&cc, MSS, false, 0);
	cr_assert_eq(cc.ssthresh, 2 * MSS);
}

Test(tcp_cc, idle_restart_and_lost_syn)
{
	struct tcp_cc cc;

	tcp_cc_init(&cc, &tcp_cc_cubic_ops, MSS, 0);
	cc.cwnd = 80 * MSS;
	tcp_cc_restart_after_idle(&cc, 0);
	cr_assert_eq(cc.cwnd, tcp_cc_initial_window(MSS));
	cr_assert_eq(cc.cwnd, 10 * MSS);
	cc.cwnd = 5 * MSS;
	tcp_cc_restart_after_idle(&cc, 0);
	cr_assert_eq(cc.cwnd, 5 * MSS);
	tcp_cc_handshake_retransmitted(&cc);
	cr_assert_eq(cc.cwnd, MSS);
}

Test(tcp_cc, mss_change_keeps_one_segment_minimum)
{
	struct tcp_cc cc;

	tcp_cc_init(&cc, &tcp_cc_reno_ops, 0, 0);
	cr_assert_eq(cc.mss, 536u);
	cc.cwnd = 536;
	tcp_cc_set_mss(&cc, 1460);
	cr_assert_eq(cc.mss, 1460u);
	cr_assert_eq(cc.cwnd, 1460u);
}

/* ---- CUBIC (RFC 9438) ---- */

static double w_cubic(double t, double k, double w_max)
{
	return 0.4 * pow(t - k, 3) + w_max;
}

/* Loss at 100 segments: ssthresh = 0.7 * FlightSize, W_max = 100. */
static void cubic_after_loss_at_100(struct tcp_cc *cc, uint64_t now)
{
	tcp_cc_init(cc, &tcp_cc_cubic_ops, MSS, 0);
	cc->cwnd = 100 * MSS;
	tcp_cc_enter_recovery(cc, 100 * MSS, true, now);
	tcp_cc_exit_recovery(cc, 70 * MSS, now);
}

Test(tcp_cc, cubic_multiplicative_decrease)
{
	struct tcp_cc cc;

	cubic_after_loss_at_100(&cc, 0);
	cr_assert_eq(cc.ssthresh, 70 * MSS);
	cr_assert_eq(cc.cwnd, 70 * MSS);
	cr_assert_float_eq(cc.u.cubic.w_max, 100.0, 1e-9);
	/* floor at 2 SMSS */
	tcp_cc_init(&cc, &tcp_cc_cubic_ops, MSS, 0);
	tcp_cc_enter_recovery(&cc, 2 * MSS, true, 0);
	cr_assert_eq(cc.ssthresh, 2 * MSS);
}

Test(tcp_cc, cubic_k_from_cube_root)
{
	struct tcp_cc cc;

	cubic_after_loss_at_100(&cc, 0);
	ack_bytes(&cc, MSS, 1000); /* first avoidance ACK starts the epoch */
	cr_assert(cc.u.cubic.epoch_started);
	cr_assert_float_eq(cc.u.cubic.k, cbrt((100.0 - 70.0) / 0.4), 1e-9);
	cr_assert_float_eq(cc.u.cubic.cwnd_epoch, 70.0, 1e-9);
	/* a large W_max exercises the root's scaling */
	tcp_cc_init(&cc, &tcp_cc_cubic_ops, 100, 0);
	cc.cwnd = 500000 * 100;
	tcp_cc_enter_recovery(&cc, 500000 * 100, true, 0);
	tcp_cc_exit_recovery(&cc, 500000 * 100, 0);
	ack_bytes(&cc, 100, 1000);
	cr_assert_float_eq(cc.u.cubic.k, cbrt(150000.0 / 0.4), 1e-6);
}

/*
 * Loss at 1000 segments, 100 ms RTT, 20 s: cwnd follows W_cubic(t) =
 * 0.4 (t - K)^3 + 1000 with K = cbrt(300 / 0.4) = 9.09 s: concave up to
 * W_max at t = K, plateau, convex beyond (Reno's estimate stays far below
 * here).  Each ACK aims at W_cubic(t + RTT), so at time t cwnd lies between
 * W_cubic(t) - 1 and W_cubic(t + RTT) + 1 segments.
 */
Test(tcp_cc, cubic_window_follows_formula_over_time)
{
	struct tcp_cc cc;
	const uint32_t rtt = 100000;
	uint64_t now = 5000000;
	bool checked_plateau = false;

	tcp_cc_init(&cc, &tcp_cc_cubic_ops, MSS, 0);
	cc.cwnd = 1000 * MSS;
	tcp_cc_enter_recovery(&cc, 1000 * MSS, true, now);
	tcp_cc_exit_recovery(&cc, 700 * MSS, now);
	cr_assert_eq(cc.cwnd, 700 * MSS);
	double k = cbrt(300.0 / 0.4);
	uint64_t t0 = now + rtt / 700; /* the first ACK starts the epoch */
	for (int round = 0; round < 200; round++) {
		one_rtt(&cc, &now, rtt, MSS);
		cr_assert_eq(cc.u.cubic.t_epoch_us, t0);
		double t = (now - t0) / 1e6;
		double seg = (double)cc.cwnd / MSS;
		double lo = w_cubic(t, k, 1000.0) - 1.0;
		double hi = w_cubic(t + rtt / 1e6, k, 1000.0) + 1.0;
		cr_assert(seg >= lo && seg <= hi, "t=%.2f cwnd=%.2f expected [%.2f, %.2f]",
			  t, seg, lo, hi);
		if (fabs(t - k) < 0.05) {
			cr_assert(fabs(seg - 1000.0) < 2.0, "plateau at K: %.2f", seg);
			checked_plateau = true;
		}
	}
	cr_assert(checked_plateau);
	cr_assert_gt(cc.cwnd, 1500 * MSS); /* convex growth well past W_max */
}

/* Short RTT: Reno's estimate (alpha 0.53 per RTT up to cwnd_prior, then 1)
 * beats the cubic curve, and cwnd follows it (RFC 9438 §4.3). */
Test(tcp_cc, cubic_reno_friendly_region)
{
	struct tcp_cc cc;
	const uint32_t rtt = 5000;
	uint64_t now = 0;
	double alpha = 3.0 * 0.3 / 1.7, w_est = 70.0;

	cubic_after_loss_at_100(&cc, now);
	for (int round = 1; round <= 200; round++) {
		one_rtt(&cc, &now, rtt, MSS);
		w_est += w_est >= 100.0 ? 1.0 : alpha;
	}
	double seg = (double)cc.cwnd / MSS;
	double t = now / 1e6; /* 1 s */
	cr_assert_lt(w_cubic(t, cbrt(75.0), 100.0), 90.0);
	cr_assert(fabs(seg - w_est) <= 2.0, "cwnd %.2f vs W_est %.2f", seg, w_est);
}

/* RFC 9438 §4.7: a loss below the previous W_max lowers W_max further. */
Test(tcp_cc, cubic_fast_convergence)
{
	struct tcp_cc cc;

	cubic_after_loss_at_100(&cc, 0);
	cc.cwnd = 90 * MSS;
	tcp_cc_enter_recovery(&cc, 90 * MSS, true, 0);
	cr_assert_float_eq(cc.u.cubic.w_max, 90.0 * 1.7 / 2.0, 1e-9);
	cr_assert_eq(cc.ssthresh, 63 * MSS);
	/* a loss above W_max simply records the new maximum */
	tcp_cc_exit_recovery(&cc, 63 * MSS, 0);
	cc.cwnd = 120 * MSS;
	tcp_cc_enter_recovery(&cc, 120 * MSS, true, 0);
	cr_assert_float_eq(cc.u.cubic.w_max, 120.0, 1e-9);
}

/* RFC 9438 §4.8: after a timeout, K = 0 and W_max = cwnd at the start of
 * avoidance, so growth is convex from there: W = cwnd_epoch + 0.4 t^3. */
Test(tcp_cc, cubic_after_rto_starts_convex)
{
	struct tcp_cc cc;
	uint64_t now = 0;

	cubic_after_loss_at_100(&cc, 0);
	tcp_cc_on_rto(&cc, 70 * MSS, false, 0);
	cr_assert_eq(cc.cwnd, MSS);
	cr_assert_eq(cc.ssthresh, 49 * MSS); /* 0.7 * FlightSize */
	while (tcp_cc_in_slow_start(&cc))
		one_rtt(&cc, &now, 100000, MSS);
	/* the ACK that crossed ssthresh began avoidance at cwnd = ssthresh */
	cr_assert(cc.u.cubic.epoch_started);
	cr_assert_float_eq(cc.u.cubic.cwnd_epoch, 49.0, 1e-9);
	cr_assert_float_eq(cc.u.cubic.k, 0.0, 1e-12);
	cr_assert_float_eq(cc.u.cubic.w_max, 49.0, 1e-9);
	uint64_t t0 = cc.u.cubic.t_epoch_us;
	/* W_est from 49: alpha 0.53 per RTT until cwnd_prior (70), then 1 */
	double w_est = 49.0, alpha = 3.0 * 0.3 / 1.7;
	for (int i = 0; i < 40; i++) {
		one_rtt(&cc, &now, 100000, MSS);
		w_est += w_est >= 70.0 ? 1.0 : alpha;
		double t = (now - t0) / 1e6, seg = (double)cc.cwnd / MSS;
		double lo = fmax(49.0 + 0.4 * pow(t, 3), w_est) - 2.0;
		double hi = fmax(49.0 + 0.4 * pow(t + 0.1, 3), w_est) + 2.0;
		cr_assert(seg >= lo && seg <= hi, "t=%.2f cwnd=%.2f [%.2f, %.2f]", t, seg, lo, hi);
	}
	/* by now the cubic curve leads: 49 + 0.4 * 4^3 = 74.6 < W_est, so check
	 * that growth after t = 4 s turned cubic */
	for (int i = 0; i < 20; i++)
		one_rtt(&cc, &now, 100000, MSS);
	double t = (now - t0) / 1e6;
	cr_assert_gt(49.0 + 0.4 * pow(t, 3), w_est + 20);
	cr_assert_geq((double)cc.cwnd / MSS, 49.0 + 0.4 * pow(t, 3) - 2.0);
}

Test(tcp_cc, cubic_slow_start_like_reno)
{
	struct tcp_cc cc;
	uint64_t now = 0;

	tcp_cc_init(&cc, &tcp_cc_cubic_ops, MSS, 0);
	one_rtt(&cc, &now, 10000, MSS);
	cr_assert_eq(cc.cwnd, 20 * MSS);
	cr_assert(!cc.u.cubic.epoch_started);
}

/* RFC 9438 §4.2: target is at most 1.5 cwnd, so the window at most grows
 * by half per RTT even when the curve is far ahead (small W_max, 1 s RTT). */
Test(tcp_cc, cubic_target_capped_at_one_and_a_half)
{
	struct tcp_cc cc;
	uint64_t now = 0;
	double max_ratio = 0;

	tcp_cc_init(&cc, &tcp_cc_cubic_ops, MSS, 0);
	tcp_cc_on_rto(&cc, 2 * MSS, false, 0); /* ssthresh = 2 SMSS, cwnd 1 */
	one_rtt(&cc, &now, 1000000, MSS);
	cr_assert(!tcp_cc_in_slow_start(&cc));
	for (int i = 0; i < 8; i++) {
		double before = (double)cc.cwnd / MSS;
		one_rtt(&cc, &now, 1000000, MSS);
		double ratio = (double)cc.cwnd / MSS / before;
		cr_assert_leq(ratio, 1.5 + 1.0 / before, "round %d: %.3f", i, ratio);
		if (ratio > max_ratio)
			max_ratio = ratio;
	}
	cr_assert_geq(max_ratio, 1.4); /* the cap, not the curve, was binding */
}
