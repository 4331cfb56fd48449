/*
 * tcp_rtt.c - RFC 6298 estimator (see tcp_rtt.h).
 */
#include "tcp_rtt.h"

#include <errno.h>
#include <string.h>

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

/* RFC 6298 §2.2/§2.3: RTO = SRTT + max(G, K * RTTVAR), K = 4; §2.4/§2.5 clamp. */
static void compute_rto(struct tcp_rtt *rtt)
{
	uint64_t var_term = 4ull * rtt->rttvar_us;

	if (var_term < rtt->granularity_us)
		var_term = rtt->granularity_us;
	rtt->rto_us = (uint32_t)clamp_u64((uint64_t)rtt->srtt_us + var_term,
					  rtt->min_rto_us, rtt->max_rto_us);
}

void tcp_rtt_init(struct tcp_rtt *rtt)
{
	memset(rtt, 0, sizeof(*rtt));
	rtt->min_rto_us = TCP_RTT_DEFAULT_MIN_RTO_US;
	rtt->max_rto_us = TCP_RTT_DEFAULT_MAX_RTO_US;
	rtt->granularity_us = TCP_RTT_DEFAULT_GRANULARITY_US;
	/* RFC 6298 §2.1: until a sample is taken, RTO = 1 s */
	rtt->rto_us = TCP_RTT_DEFAULT_INITIAL_RTO_US;
}

int tcp_rtt_set_limits(struct tcp_rtt *rtt, uint32_t min_rto_us, uint32_t max_rto_us)
{
	if (min_rto_us == 0 || min_rto_us > max_rto_us)
		return -EINVAL;
	rtt->min_rto_us = min_rto_us;
	rtt->max_rto_us = max_rto_us;
	if (rtt->has_sample)
		compute_rto(rtt);
	else
		rtt->rto_us = (uint32_t)clamp_u64(TCP_RTT_DEFAULT_INITIAL_RTO_US,
						  min_rto_us, max_rto_us);
	return 0;
}

void tcp_rtt_sample(struct tcp_rtt *rtt, uint32_t r)
{
	if (r == 0)
		r = 1;
	rtt->latest_us = r;
	if (rtt->min_rtt_us == 0 || r < rtt->min_rtt_us)
		rtt->min_rtt_us = r;
	rtt->samples++;
	if (!rtt->has_sample) {
		/* RFC 6298 §2.2 */
		rtt->srtt_us = r;
		rtt->rttvar_us = r / 2;
		rtt->has_sample = true;
	} else {
		/* RFC 6298 §2.3: RTTVAR uses the SRTT before this update */
		uint32_t err = rtt->srtt_us > r ? rtt->srtt_us - r : r - rtt->srtt_us;

		rtt->rttvar_us = (uint32_t)((3ull * rtt->rttvar_us + err) / 4);
		rtt->srtt_us = (uint32_t)((7ull * rtt->srtt_us + r) / 8);
	}
	rtt->backoff = 0;
	compute_rto(rtt);
}

/* RFC 6298 §5.5 */
void tcp_rtt_backoff(struct tcp_rtt *rtt)
{
	if (rtt->backoff < 31 && tcp_rtt_rto_us(rtt) < rtt->max_rto_us)
		rtt->backoff++;
}

void tcp_rtt_reset_backoff(struct tcp_rtt *rtt)
{
	rtt->backoff = 0;
}

/* RFC 6298 §5.7 */
void tcp_rtt_handshake_retransmitted(struct tcp_rtt *rtt)
{
	if (!rtt->has_sample && rtt->rto_us < TCP_RTT_FALLBACK_RTO_US)
		rtt->rto_us = (uint32_t)clamp_u64(TCP_RTT_FALLBACK_RTO_US,
						  rtt->min_rto_us, rtt->max_rto_us);
	rtt->backoff = 0;
}

uint32_t tcp_rtt_rto_us(const struct tcp_rtt *rtt)
{
	uint64_t rto = (uint64_t)rtt->rto_us << rtt->backoff;

	return (uint32_t)clamp_u64(rto, 0, rtt->max_rto_us);
}
