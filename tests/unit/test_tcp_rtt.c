/*
 * test_tcp_rtt.c - RFC 6298 estimator (stack/tcp_rtt.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "tcp_rtt.h"

Test(tcp_rtt, initial_rto_is_one_second)
{
	struct tcp_rtt r;

	tcp_rtt_init(&r);
	cr_assert_eq(tcp_rtt_rto_us(&r), 1000000u);
	cr_assert(!r.has_sample);
	cr_assert_eq(tcp_rtt_srtt_us(&r), 0u);
}

/* Values worked by hand from RFC 6298 §2.2 and §2.3 (G = 1 ms, K = 4). */
Test(tcp_rtt, hand_computed_sequence)
{
	struct tcp_rtt r;

	tcp_rtt_init(&r);
	/* R = 100 ms: SRTT 100, RTTVAR 50, RTO = 100 + 4*50 = 300 ms */
	tcp_rtt_sample(&r, 100000);
	cr_assert_eq(tcp_rtt_srtt_us(&r), 100000u);
	cr_assert_eq(tcp_rtt_rttvar_us(&r), 50000u);
	cr_assert_eq(tcp_rtt_rto_us(&r), 300000u);
	/* R = 200 ms: RTTVAR = (3*50 + |100-200|)/4 = 62.5; SRTT = (7*100+200)/8
	 * = 112.5; RTO = 112.5 + 250 = 362.5 ms */
	tcp_rtt_sample(&r, 200000);
	cr_assert_eq(tcp_rtt_rttvar_us(&r), 62500u);
	cr_assert_eq(tcp_rtt_srtt_us(&r), 112500u);
	cr_assert_eq(tcp_rtt_rto_us(&r), 362500u);
	/* R = 80 ms: RTTVAR = (187.5 + 32.5)/4 = 55; SRTT = (787.5 + 80)/8 =
	 * 108.4375 -> 108437 us; RTO = 108437 + 220000 */
	tcp_rtt_sample(&r, 80000);
	cr_assert_eq(tcp_rtt_rttvar_us(&r), 55000u);
	cr_assert_eq(tcp_rtt_srtt_us(&r), 108437u);
	cr_assert_eq(tcp_rtt_rto_us(&r), 328437u);
	cr_assert_eq(r.latest_us, 80000u);
	cr_assert_eq(r.min_rtt_us, 80000u);
	cr_assert_eq(r.samples, 3u);
}

Test(tcp_rtt, min_rto_clamp_200ms)
{
	struct tcp_rtt r;

	tcp_rtt_init(&r);
	tcp_rtt_sample(&r, 1000); /* 1 + max(1, 2) = 3 ms -> 200 ms */
	cr_assert_eq(tcp_rtt_rto_us(&r), 200000u);
}

Test(tcp_rtt, granularity_floor_when_rttvar_decays)
{
	struct tcp_rtt r;

	tcp_rtt_init(&r);
	cr_assert_eq(tcp_rtt_set_limits(&r, 1000, 60000000), 0);
	for (int i = 0; i < 100; i++)
		tcp_rtt_sample(&r, 10000);
	cr_assert_eq(tcp_rtt_srtt_us(&r), 10000u);
	cr_assert_eq(tcp_rtt_rttvar_us(&r), 0u);
	cr_assert_eq(tcp_rtt_rto_us(&r), 11000u); /* SRTT + G */
}

Test(tcp_rtt, max_rto_clamp)
{
	struct tcp_rtt r;

	tcp_rtt_init(&r);
	tcp_rtt_sample(&r, 100000000); /* 100 s + 4 * 50 s -> 120 s */
	cr_assert_eq(tcp_rtt_rto_us(&r), 120000000u);
}

/* RFC 6298 §5.5: doubling, capped at 120 s, until a sample resets it. */
Test(tcp_rtt, backoff_doubles_and_caps)
{
	static const uint32_t expect[] = {
		300000, 600000, 1200000, 2400000, 4800000, 9600000, 19200000,
		38400000, 76800000, 120000000, 120000000, 120000000,
	};
	struct tcp_rtt r;

	tcp_rtt_init(&r);
	tcp_rtt_sample(&r, 100000);
	for (unsigned i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		cr_assert_eq(tcp_rtt_rto_us(&r), expect[i], "step %u", i);
		tcp_rtt_backoff(&r);
	}
	cr_assert_eq(r.backoff, 9); /* stops counting once capped */
	tcp_rtt_sample(&r, 100000);
	cr_assert_eq(r.backoff, 0);
	cr_assert_lt(tcp_rtt_rto_us(&r), 1000000u);
}

Test(tcp_rtt, backoff_from_initial_rto)
{
	struct tcp_rtt r;
	uint32_t want = 1000000;

	tcp_rtt_init(&r);
	for (int i = 0; i < 7; i++) { /* 1, 2, 4, ... 64 s */
		cr_assert_eq(tcp_rtt_rto_us(&r), want);
		tcp_rtt_backoff(&r);
		want *= 2;
	}
	cr_assert_eq(tcp_rtt_rto_us(&r), 120000000u); /* 128 s capped */
	tcp_rtt_reset_backoff(&r);
	cr_assert_eq(tcp_rtt_rto_us(&r), 1000000u);
}

Test(tcp_rtt, limits_validated_and_applied)
{
	struct tcp_rtt r;

	tcp_rtt_init(&r);
	cr_assert_eq(tcp_rtt_set_limits(&r, 0, 100), -EINVAL);
	cr_assert_eq(tcp_rtt_set_limits(&r, 200, 100), -EINVAL);
	cr_assert_eq(tcp_rtt_set_limits(&r, 2000000, 60000000), 0);
	cr_assert_eq(tcp_rtt_rto_us(&r), 2000000u); /* initial 1 s raised to min */
	tcp_rtt_sample(&r, 100000);
	cr_assert_eq(tcp_rtt_rto_us(&r), 2000000u);
	cr_assert_eq(tcp_rtt_set_limits(&r, 100000, 60000000), 0);
	cr_assert_eq(tcp_rtt_rto_us(&r), 300000u);
}

Test(tcp_rtt, syn_retransmitted_gives_three_seconds)
{
	struct tcp_rtt r;

	tcp_rtt_init(&r);
	tcp_rtt_backoff(&r);
	tcp_rtt_handshake_retransmitted(&r);
	cr_assert_eq(tcp_rtt_rto_us(&r), 3000000u);
	/* a sample taken meanwhile (timestamps) wins */
	tcp_rtt_init(&r);
	tcp_rtt_sample(&r, 100000);
	tcp_rtt_handshake_retransmitted(&r);
	cr_assert_eq(tcp_rtt_rto_us(&r), 300000u);
}

Test(tcp_rtt, zero_sample_counts_as_one_us)
{
	struct tcp_rtt r;

	tcp_rtt_init(&r);
	tcp_rtt_sample(&r, 0);
	cr_assert_eq(tcp_rtt_srtt_us(&r), 1u);
	cr_assert(r.has_sample);
}

Test(tcp_rtt, karn_rule)
{
	cr_assert(tcp_rtt_sample_allowed(false, false));
	cr_assert(!tcp_rtt_sample_allowed(true, false));
	cr_assert(tcp_rtt_sample_allowed(true, true));
	cr_assert(tcp_rtt_sample_allowed(false, true));
}

/* Against the real-valued RFC formulas: integer rounding stays within a few us. */
Test(tcp_rtt, tracks_real_valued_formula)
{
	struct tcp_rtt r;
	double srtt = 0, rttvar = 0;
	uint64_t s = 12345;

	tcp_rtt_init(&r);
	cr_assert_eq(tcp_rtt_set_limits(&r, 1, 4000000000u), 0);
	for (int i = 0; i < 5000; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t sample = 1000 + (uint32_t)((s >> 33) % 500000);

		if (i == 0) {
			srtt = sample;
			rttvar = sample / 2.0;
		} else {
			rttvar = 0.75 * rttvar + 0.25 * fabs(srtt - sample);
			srtt = 0.875 * srtt + 0.125 * sample;
		}
		tcp_rtt_sample(&r, sample);
		cr_assert_leq(fabs(srtt - r.srtt_us), 8.0, "srtt %f vs %u", srtt, r.srtt_us);
		cr_assert_leq(fabs(rttvar - r.rttvar_us), 8.0);
		double rto = srtt + fmax(1000.0, 4 * rttvar);
		cr_assert_leq(fabs(rto - tcp_rtt_rto_us(&r)), 40.0);
	}
}
