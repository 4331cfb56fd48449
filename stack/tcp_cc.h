/*
 * tcp_cc.h - congestion control: window arithmetic shared by all algorithms
 * plus a table of algorithms (Reno, CUBIC) selectable by name
 * (setsockopt TCP_CONGESTION).
 *
 * Units: cwnd, ssthresh, mss, acked and flight sizes are bytes; times are
 * microseconds (now_us from the stack's injectable clock).  Pure: no I/O, no
 * timers, no allocation; all state lives in struct tcp_cc, one per connection.
 *
 * Who does what:
 *  - this module: initial window (RFC 6928), slow start and congestion
 *    avoidance (RFC 5681 §3.1 with appropriate byte counting, RFC 3465), the
 *    fast recovery window arithmetic (RFC 5681 §3.2, NewReno RFC 6582 §3.2
 *    for peers without SACK, RFC 6675 §5 with SACK), timeouts (RFC 5681 §3.1
 *    eq. 4 and the loss window), restart after idle (RFC 5681 §4.1).
 *  - the algorithm (ops): window growth outside recovery and ssthresh on a
 *    congestion event or timeout.  Reno: RFC 5681.  CUBIC: RFC 9438.
 *  - the caller (tcp_in.c): deciding that loss happened (dupacks, SACK
 *    scoreboard: tcp_sack.h), when recovery ends, what to retransmit.
 *
 * Per ACK that advances snd_una, outside recovery:
 *     tcp_cc_on_ack(&cc, &(struct tcp_cc_ack){ .acked = n, .srtt_us = srtt,
 *                   .rtt_us = sample, .flight = flight_before,
 *                   .cwnd_limited = was_cwnd_limited, .now_us = now });
 * Loss detected (3 dupacks / SACK IsLost):  tcp_cc_enter_recovery(&cc, flight, sack, now)
 * During recovery without SACK: each further dupack tcp_cc_on_dupack();
 *     a partial ACK tcp_cc_on_partial_ack(acked).
 * Recovery point ACKed: tcp_cc_exit_recovery(&cc, flight_after, now).
 * Retransmission timeout: tcp_cc_on_rto(&cc, flight, first_timeout_for_segment?, now).
 */
#ifndef USTACK_TCP_CC_H
#define USTACK_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_CC_NAME_MAX 16              /* like Linux TCP_CA_NAME_MAX */
#define TCP_CC_MAX_CWND ((uint32_t)1 << 30)
#define TCP_CC_SSTHRESH_INFINITE UINT32_MAX
#define TCP_CC_DEFAULT_SS_LIMIT_SEGS 2  /* RFC 3465 §2.2: L = 2 * SMSS */

struct tcp_cc;

/* One ACK's worth of information for window growth. */
struct tcp_cc_ack {
	uint32_t acked;       /* bytes newly acknowledged by this ACK */
	uint32_t rtt_us;      /* RTT sample taken from it, 0 if none */
	uint32_t srtt_us;     /* smoothed RTT now, 0 if unknown */
	uint32_t flight;      /* bytes in flight before the ACK */
	bool cwnd_limited;    /* cwnd, not the application or rwnd, limited sending */
	uint64_t now_us;
};

struct tcp_cc_ops {
	const char *name;
	/* Reset the algorithm's private state (cwnd/ssthresh already set). */
	void (*init)(struct tcp_cc *cc, uint64_t now_us);
	/* Grow cwnd for an ACK outside recovery (slow start or avoidance). */
	void (*on_ack)(struct tcp_cc *cc, const struct tcp_cc_ack *ack);
	/* Loss detected by dupacks/SACK: set cc->ssthresh (and remember
	 * whatever the algorithm needs).  flight = FlightSize in bytes. */
	void (*on_congestion_event)(struct tcp_cc *cc, uint32_t flight, uint64_t now_us);
	/* Retransmission timeout; set cc->ssthresh unless repeated. */
	void (*on_rto)(struct tcp_cc *cc, uint32_t flight, bool repeated, uint64_t now_us);
	/* Fast recovery ended (cwnd already set). */
	void (*on_recovery_exit)(struct tcp_cc *cc, uint64_t now_us);
	/* Sending restarts after an idle period longer than the RTO. */
	void (*on_idle_restart)(struct tcp_cc *cc, uint64_t now_us);
};

struct tcp_cc_reno {
	uint32_t bytes_acked; /* RFC 3465 §2.1 counter in congestion avoidance */
};

/* RFC 9438 §4.1 variables; windows in segments (doubles are fine here). */
struct tcp_cc_cubic {
	double w_max;         /* window before the last reduction; 0 = none */
	double k;             /* seconds to reach w_max from cwnd_epoch */
	double cwnd_epoch;    /* cwnd when the current avoidance stage began */
	double cwnd_prior;    /* cwnd before the last reduction (W_est's alpha switch) */
	double w_est;         /* Reno-friendly estimate (§4.3) */
	double carry;         /* fractional bytes of growth not yet applied */
	uint64_t t_epoch_us;  /* start of the current avoidance stage */
	bool epoch_started;
};

union tcp_cc_priv {
	struct tcp_cc_reno reno;
	struct tcp_cc_cubic cubic;
};

struct tcp_cc {
	const struct tcp_cc_ops *ops;
	uint32_t cwnd;          /* bytes */
	uint32_t ssthresh;      /* bytes; TCP_CC_SSTHRESH_INFINITE at start */
	uint32_t mss;           /* SMSS, bytes */
	uint32_t ss_limit_segs; /* slow start growth cap per ACK (RFC 3465 L); 0 = none */
	bool in_recovery;       /* between enter_recovery and exit_recovery / RTO */
	bool inflating;         /* NewReno window inflation (recovery without SACK) */
	uint32_t congestion_events;
	uint32_t rto_events;
	union tcp_cc_priv u;
	/* undo (tcp_cc_save_undo / tcp_cc_undo): the state before the last reduction */
	bool undo_saved;
	uint32_t undo_cwnd, undo_ssthresh;
	union tcp_cc_priv undo_u;
};

extern const struct tcp_cc_ops tcp_cc_reno_ops;
extern const struct tcp_cc_ops tcp_cc_cubic_ops;

/* Algorithm by exact name ("reno", "cubic"); NULL if unknown or name is NULL. */
const struct tcp_cc_ops *tcp_cc_find(const char *name);
/* The default for new connections: CUBIC, as on Linux. */
const struct tcp_cc_ops *tcp_cc_default(void);

/* RFC 6928 §2: IW = min(10 * MSS, max(2 * MSS, 14600)). */
uint32_t tcp_cc_initial_window(uint32_t mss);

/* Start a connection: cwnd = IW, ssthresh = infinite (RFC 5681 §3.1).
 * ops NULL means the default. */
void tcp_cc_init(struct tcp_cc *cc, const struct tcp_cc_ops *ops, uint32_t mss,
		 uint64_t now_us);
/* setsockopt(TCP_CONGESTION): switch algorithm keeping cwnd and ssthresh.
 * Returns 0, or -ENOENT (unknown name; nothing changes) like Linux. */
int tcp_cc_select(struct tcp_cc *cc, const char *name, uint64_t now_us);
/* The effective MSS changed (handshake done, PMTU). */
void tcp_cc_set_mss(struct tcp_cc *cc, uint32_t mss);

/* Window growth for an ACK of new data; nothing during recovery or when
 * the sender was not cwnd-limited (RFC 7661 §4.1 spirit, RFC 9438 §5.8). */
void tcp_cc_on_ack(struct tcp_cc *cc, const struct tcp_cc_ack *ack);

/* Enter fast recovery: the algorithm sets ssthresh; cwnd = ssthresh, plus
 * 3 * SMSS of inflation when the peer does not do SACK (RFC 5681 §3.2
 * step 4 / RFC 6582 §3.2 step 2; RFC 6675 §5 step 4.2 with SACK). */
void tcp_cc_enter_recovery(struct tcp_cc *cc, uint32_t flight, bool sack, uint64_t now_us);
/* RFC 5681 §3.2 step 4: another dupack during NewReno recovery: cwnd += SMSS. */
void tcp_cc_on_dupack(struct tcp_cc *cc);
/* RFC 6582 §3.2 step 5 partial ACK (NewReno only): deflate cwnd by the
 * bytes acked, add back SMSS if at least SMSS was acked. */
void tcp_cc_on_partial_ack(struct tcp_cc *cc, uint32_t acked);
/* RFC 6582 §3.2 step 5 full ACK: cwnd = min(ssthresh, max(FlightSize, SMSS)
 * + SMSS), FlightSize measured after the ACK. */
void tcp_cc_exit_recovery(struct tcp_cc *cc, uint32_t flight, uint64_t now_us);

/* RFC 5681 §3.1: timeout. ssthresh from the algorithm (kept when repeated:
 * the same segment timed out before), cwnd = loss window = 1 SMSS. */
void tcp_cc_on_rto(struct tcp_cc *cc, uint32_t flight, bool repeated, uint64_t now_us);
/* Before a reduction (fast recovery, RTO) that may prove spurious: remember cwnd, ssthresh
 * and the algorithm's state (Linux prior_cwnd / prior_ssthresh). */
void tcp_cc_save_undo(struct tcp_cc *cc);
/* RFC 2883 §4 / RFC 3522 §1: the reduction was caused by reordering or delay, not loss:
 * cwnd = max(cwnd, saved), ssthresh = max(ssthresh, saved), the algorithm's state back,
 * recovery over.  Returns false (nothing changes) when nothing was saved. */
bool tcp_cc_undo(struct tcp_cc *cc);

/* RFC 5681 §4.1: idle longer than the RTO: cwnd = min(cwnd, IW). */
void tcp_cc_restart_after_idle(struct tcp_cc *cc, uint64_t now_us);
/* RFC 5681 §3.1: the SYN or SYN-ACK was lost: start with one segment. */
void tcp_cc_handshake_retransmitted(struct tcp_cc *cc);

/* Slow start step for algorithms: cwnd += min(acked, L * SMSS), stopping at
 * ssthresh; returns the acked bytes left over for congestion avoidance. */
uint32_t tcp_cc_slow_start(struct tcp_cc *cc, uint32_t acked);

static inline bool tcp_cc_in_slow_start(const struct tcp_cc *cc) { return cc->cwnd < cc->ssthresh; }
static inline const char *tcp_cc_name(const struct tcp_cc *cc) { return cc->ops->name; }

#endif /* USTACK_TCP_CC_H */
