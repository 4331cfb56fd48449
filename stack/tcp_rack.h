/*
 * tcp_rack.h - RACK loss detection (RFC 8985 §6): per-segment transmit times and the
 * "most recently sent segment that was delivered".
 *
 * A segment is deemed lost when a segment sent sufficiently later was delivered:
 *     xmit_ts(S) + RACK.rtt + RACK.reo_wnd <= now      (S sent before the RACK segment)
 * which is RFC 8985 §6.2 step 5 with RACK.rtt = now - xmit_ts(RACK segment) at delivery.
 *
 * The record of transmit times is a ring of (seq, end, xmit time, retransmitted) entries,
 * one per segment sent, in sequence order and contiguous from the oldest unacknowledged one
 * (new data is always sent at snd_max). A retransmission updates the entries it covers.
 * The ring grows by doubling up to TCP_RACK_MAX_SEGS (no allocation per segment); when it is
 * full, later segments are simply not tracked (RACK then sees less, the DupThresh rule and
 * the RTO still work).
 *
 * Originals were sent in sequence order, so among never-retransmitted segments the lost ones
 * form a prefix of the sequence space: detection keeps a "lost up to" edge and scans forward
 * from it, stopping at the first original not yet overdue (amortised O(1) per ACK). The edge
 * is handed to the SACK scoreboard (tcp_sack_set_rack_lost), whose IsLost()/NextSeg() then
 * treat the holes below it as lost. Retransmitted segments are not marked again (a lost
 * retransmission is left to the RTO).
 *
 * Pure: no clock, no I/O; times are the stack's microseconds, stored as 32 bits (differences
 * of under 35 minutes are exact).
 */
#ifndef USTACK_TCP_RACK_H
#define USTACK_TCP_RACK_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp_sack.h"

#define TCP_RACK_INIT_SEGS 256u
#define TCP_RACK_MAX_SEGS 32768u      /* 32768 * 16 bytes: 512 KiB at most per connection */
#define TCP_RACK_GRANULARITY_US 1000u /* reo_wnd floor: the clock/timer granularity */
#define TCP_TLP_MIN_PTO_US 10000u     /* PTO floor (Linux's tcp_schedule_loss_probe: 10 ms) */
#define TCP_RACK_REO_PERSIST 16u
/* reo_wnd cap in SRTTs (RFC 8985 §6.2.4 says 1; jitter on both paths needs more: the RACK
 * segment's own RTT may be a fast outlier) */
#ifndef TCP_RACK_REO_CAP_SRTTS
#define TCP_RACK_REO_CAP_SRTTS 2u
#endif      /* RFC 8985 §6.2.4: recoveries a raised reo_wnd lasts */

struct tcp_rack_seg {
	uint32_t seq, end;            /* [seq, end) */
	uint32_t xmit_us;             /* low 32 bits of the last transmission time */
	uint8_t retrans;              /* retransmitted at least once */
};

struct tcp_rack {
	struct tcp_rack_seg *ring;    /* NULL until the first segment */
	uint32_t cap, head, count;
	/* RFC 8985 §6.1 RACK.xmit_ts, RACK.end_seq, RACK.rtt */
	bool valid;
	uint32_t xmit_us, end_seq, rtt_us;
	/* §6.2.4 reo_wnd adaptation */
	uint32_t reo_wnd_mult;
	uint32_t reo_wnd_persist;
	uint32_t reo_seen_us;         /* longest reordering seen, in time (see tcp_rack_reo_wnd) */
	bool dsack_round_valid;
	uint32_t dsack_round_end;
	uint64_t reo_deadline_us;     /* §6.3 reordering timer, 0 = none */
	/* §7 TLP */
	uint64_t tlp_deadline_us;     /* probe timeout, 0 = none */
	bool tlp_active;              /* a probe is outstanding (one per episode) */
	bool tlp_retrans;             /* it was a retransmission */
	uint32_t tlp_end_seq;         /* snd_max after the probe (TLP.end_seq) */
	uint32_t tlp_tsval;           /* its TSval */
};

void tcp_rack_init(struct tcp_rack *r);
void tcp_rack_free(struct tcp_rack *r);
/* Forget every transmit record and the RACK segment (RTO: all is retransmitted anew). */
void tcp_rack_reset(struct tcp_rack *r);

/* [seq, end) was sent at now_us: appended when it is new data at the tail, else the covered
 * entries are marked retransmitted with the new time. */
void tcp_rack_on_send(struct tcp_rack *r, uint32_t seq, uint32_t end, uint64_t now_us);

/* RFC 8985 §6.2 steps 1-3 for one ACK: the cumulative ACK (entries below una are dropped)
 * and the SACK blocks; min_rtt_us filters ambiguous deliveries of retransmissions. */
void tcp_rack_on_ack(struct tcp_rack *r, uint32_t una, const struct tcp_sack_block *blocks,
		     int nblocks, uint64_t now_us, uint32_t min_rtt_us);

/* §6.2.4: a D-SACK arrived (snd_una, snd_max now): widen reo_wnd once per round trip. */
void tcp_rack_dsack(struct tcp_rack *r, uint32_t snd_una, uint32_t snd_max);
/* §6.2.4: a recovery ended: after TCP_RACK_REO_PERSIST of them the multiplier goes back to 1. */
void tcp_rack_recovery_done(struct tcp_rack *r);
/* §6.2.4 RACK.reo_wnd: 0 (then the granularity) when no reordering was seen and recovery is
 * under way, else min(mult * max(min_rtt / 4, reo_seen), CAP * srtt). reo_seen is how much later
 * than RACK.rtt allowed an original segment sent before the RACK segment was delivered: on a
 * path with jitter min_rtt can be far below the reordering extent (a frame that skipped the
 * queue), and a window of min_rtt / 4 then marks most reordered segments lost. */
uint32_t tcp_rack_reo_wnd(const struct tcp_rack *r, bool reordering_seen, bool in_recovery,
			  uint32_t min_rtt_us, uint32_t srtt_us);

/* §6.2 step 5 (detect_loss): move lost_end (the edge below which unSACKed, never
 * retransmitted data is lost) forward; first_lost and nlost get the first newly lost sequence
 * and how many segments; returns the time (µs) until the next not-yet-overdue segment
 * sent before the RACK segment becomes overdue, 0 when none (the §6.3 reordering timer). */
uint32_t tcp_rack_detect(const struct tcp_rack *r, const struct tcp_sack_scoreboard *sb,
			 uint64_t now_us, uint32_t reo_wnd_us, uint32_t *lost_end,
			 uint32_t *first_lost, uint32_t *nlost);

/* The start of the last segment sent (for a TLP retransmission); false when none is known. */
bool tcp_rack_last_seg(const struct tcp_rack *r, uint32_t *seq, uint32_t *end);

#endif /* USTACK_TCP_RACK_H */
