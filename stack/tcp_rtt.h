/*
 * tcp_rtt.h - round-trip time estimator and retransmission timeout
 * (RFC 6298), in microseconds.
 *
 *   first sample R:   SRTT = R, RTTVAR = R / 2                      (§2.2)
 *   later samples R:  RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|,
 *                     SRTT   = 7/8 SRTT   + 1/8 R  (RTTVAR first)   (§2.3)
 *   RTO = SRTT + max(G, 4 * RTTVAR), then clamped to [min_rto, max_rto]
 *   before any sample: RTO = initial_rto (1 s)                      (§2.1)
 *   on each expiry:   RTO doubles, up to max_rto ("back off")        (§5.5)
 *
 * Defaults: G = 1 ms, min_rto = 200 ms (Linux's TCP_RTO_MIN; RFC 6298 §2.4
 * says SHOULD round up to 1 s), max_rto = 120 s (Linux's TCP_RTO_MAX; §2.5
 * allows a maximum of at least 60 s), initial 1 s.  All configurable.
 *
 * Karn's algorithm (§3) is the caller's job: take no sample from an ACK that
 * covers a retransmitted segment, unless the sample comes from the timestamp
 * option.  With timestamps (RFC 7323 §4), R = now - TSecr of an ACK that
 * advances SND.UNA; that is valid even for retransmissions, since TSecr names
 * the transmission that was received.  RFC 7323 Appendix G notes that feeding
 * every ACK to the RFC 6298 gains shortens RTTVAR's memory; take one sample
 * per RTT (per window of data), as Linux effectively does.
 * tcp_rtt_sample_allowed() encodes the Karn rule for the caller.
 *
 * A sample recomputes the RTO and clears the backoff (RFC 6298 §5, the note
 * after rule 5.7: the RTO "collapses" back after a new measurement).  Pure:
 * no clock, no timers.
 */
#ifndef USTACK_TCP_RTT_H
#define USTACK_TCP_RTT_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_RTT_DEFAULT_MIN_RTO_US      200000u    /* 200 ms */
#define TCP_RTT_DEFAULT_MAX_RTO_US      120000000u /* 120 s */
#define TCP_RTT_DEFAULT_INITIAL_RTO_US  1000000u   /* 1 s, RFC 6298 §2.1 */
#define TCP_RTT_DEFAULT_GRANULARITY_US  1000u      /* 1 ms */
#define TCP_RTT_FALLBACK_RTO_US         3000000u   /* 3 s, RFC 6298 §5.7 */

struct tcp_rtt {
	uint32_t srtt_us;       /* 0 until the first sample */
	uint32_t rttvar_us;
	uint32_t rto_us;        /* base RTO, without backoff, clamped */
	uint32_t latest_us;     /* most recent sample */
	uint32_t min_rtt_us;    /* smallest sample seen (0 = none) */
	uint32_t samples;       /* samples taken */
	uint8_t backoff;        /* expiries since the last sample */
	bool has_sample;
	/* configuration */
	uint32_t min_rto_us;
	uint32_t max_rto_us;
	uint32_t granularity_us;
};

/* Defaults above; RTO = initial RTO. */
void tcp_rtt_init(struct tcp_rtt *rtt);
/* Change the clamp (e.g. a TCP_RTO_MIN-like option); min <= max, both > 0.
 * Returns 0 or -EINVAL.  Recomputes the RTO. */
int tcp_rtt_set_limits(struct tcp_rtt *rtt, uint32_t min_rto_us, uint32_t max_rto_us);

/* Feed one measurement in microseconds (0 is taken as 1).  Resets backoff. */
void tcp_rtt_sample(struct tcp_rtt *rtt, uint32_t measured_us);

/* Karn (RFC 6298 §3) with the RFC 7323 §4.1 exception. */
static inline bool tcp_rtt_sample_allowed(bool acked_segment_was_retransmitted,
					  bool from_timestamp_echo)
{
	return from_timestamp_echo || !acked_segment_was_retransmitted;
}

/* The retransmission timer expired: double the RTO (§5.5), capped. */
void tcp_rtt_backoff(struct tcp_rtt *rtt);
/* Forget the backoff without a sample (new connection state etc.). */
void tcp_rtt_reset_backoff(struct tcp_rtt *rtt);

/* RFC 6298 §5.7: the SYN (or SYN-ACK) was retransmitted and no sample was
 * taken: after the handshake use an RTO of 3 s if the current one is lower. */
void tcp_rtt_handshake_retransmitted(struct tcp_rtt *rtt);

/* Timer value to arm now: base RTO << backoff, at most max_rto. */
uint32_t tcp_rtt_rto_us(const struct tcp_rtt *rtt);
static inline uint32_t tcp_rtt_srtt_us(const struct tcp_rtt *rtt) { return rtt->srtt_us; }
static inline uint32_t tcp_rtt_rttvar_us(const struct tcp_rtt *rtt) { return rtt->rttvar_us; }

#endif /* USTACK_TCP_RTT_H */
