/*
 * TCP timers: two stack_timers per connection.
 *
 *  `timer`       the one deadline that matters now, chosen by tcp_next_deadline():
 *                 - TIME_WAIT: 2·MSL (st->cfg.time_wait_ms), then CLOSED (RFC 9293 §3.10.8);
 *                 - retransmission: RFC 6298 RTO with backoff, SYN/SYN-ACK retries, and the
 *                   zero-window probe once a probe byte is outstanding;
 *                 - while the RTO runs, two earlier deadlines may stand in for it (RFC 8985):
 *                   the RACK reordering timeout (§6.3) and the tail loss probe timeout (§7.2);
 *                 - persist: the send window is zero and data waits (RFC 9293 §3.8.6.1);
 *                 - FIN_WAIT_2 of an orphan: give up after 60 s (Linux tcp_fin_timeout);
 *                 - keepalive: idle time, then probes (RFC 1122 §4.2.3.6, Linux defaults).
 *                These are mutually exclusive by state, so one timer serves them all. It is
 *                re-armed lazily: when the deadline moves later the timer stays, fires early
 *                and re-arms itself (no timer churn per ACK).
 *  `dack_timer`  the delayed ACK (40 ms, Linux's TCP_DELACK_MIN; RFC 9293 §3.8.6.3 < 500 ms).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "stack.h"
#include "tcp_internal.h"

static const char *const tcp_timer_names[] = {
	"none", "retransmit", "persist", "keepalive", "fin_wait_2", "time_wait", "rack", "tlp",
};

static void tcp_timer_fired(struct ustack *st, struct stack_timer *t);
static void tcp_dack_fired(struct ustack *st, struct stack_timer *t);

void tcp_timers_init(struct tcp_conn *c)
{
	stack_timer_init(c->st, &c->timer, tcp_timer_fired);
	stack_timer_init(c->st, &c->dack_timer, tcp_dack_fired);
}

void tcp_timers_stop(struct tcp_conn *c)
{
	stack_timer_cancel(&c->timer);
	stack_timer_cancel(&c->dack_timer);
	c->timer_kind = TCP_TIMER_NONE;
	c->rtx_deadline_us = c->persist_deadline_us = 0;
	c->tw_deadline_us = c->fw2_deadline_us = 0;
}

uint64_t tcp_keepalive_deadline(const struct tcp_conn *c)
{
	if (!c->keepalive || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT &&
			      c->state != TCP_FIN_WAIT_2))
		return 0;
	if (c->ka_probes == 0)
		return c->last_rx_us + (uint64_t)c->keepidle_s * 1000000;
	return c->ka_last_probe_us + (uint64_t)c->keepintvl_s * 1000000;
}

uint64_t tcp_next_deadline(const struct tcp_conn *c, enum tcp_timer_kind *kind)
{
	uint64_t d;

	*kind = TCP_TIMER_NONE;
	if (c->state == TCP_CLOSED || c->state == TCP_LISTEN)
		return 0;
	if (c->state == TCP_TIME_WAIT) {
		*kind = TCP_TIMER_TIME_WAIT;
		return c->tw_deadline_us;
	}
	if (c->rtx_deadline_us) {
		/* RFC 8985 §6.3 / §7.2: the reordering and probe timeouts come before the RTO */
		d = c->rtx_deadline_us;
		*kind = TCP_TIMER_RETRANSMIT;
		if (c->rack.reo_deadline_us && c->rack.reo_deadline_us < d) {
			d = c->rack.reo_deadline_us;
			*kind = TCP_TIMER_RACK_REO;
		}
		if (c->rack.tlp_deadline_us && c->rack.tlp_deadline_us <= d) {
			d = c->rack.tlp_deadline_us;
			*kind = TCP_TIMER_TLP;
		}
		return d;
	}
	if (c->persist_deadline_us) {
		*kind = TCP_TIMER_PERSIST;
		return c->persist_deadline_us;
	}
	if (c->fw2_deadline_us && c->state == TCP_FIN_WAIT_2) {
		*kind = TCP_TIMER_FIN_WAIT_2;
		return c->fw2_deadline_us;
	}
	d = tcp_keepalive_deadline(c);
	if (d)
		*kind = TCP_TIMER_KEEPALIVE;
	return d;
}

/* The persist timer runs while the peer's window is zero, data waits, nothing is in flight. */
static void tcp_persist_refresh(struct tcp_conn *c)
{
	bool want = c->state >= TCP_ESTABLISHED && c->state != TCP_TIME_WAIT && c->snd_wnd == 0 &&
		    c->snd_una == c->snd_max && c->sndq.capacity &&
		    seq_lt(c->snd_nxt, tcp_sndq_seq(c) + (uint32_t)ringbuf_len(&c->sndq));

	if (!want)
		c->persist_deadline_us = 0;
	else if (!c->persist_deadline_us)
		c->persist_deadline_us = stack_now_us(c->st) + tcp_rtt_rto_us(&c->rtt);
}

void tcp_timer_update(struct tcp_conn *c)
{
	enum tcp_timer_kind kind;
	uint64_t d, now = stack_now_us(c->st);

	tcp_persist_refresh(c);
	d = tcp_next_deadline(c, &kind);
	if (!d) {
		stack_timer_cancel(&c->timer);
		c->timer_kind = TCP_TIMER_NONE;
		return;
	}
	if (kind != c->timer_kind && kind != TCP_TIMER_RETRANSMIT && kind != TCP_TIMER_RACK_REO &&
	    kind != TCP_TIMER_TLP)
		TRACE(c->st, &c->trace, true, "timer %s armed %llums", tcp_timer_names[kind],
		      (unsigned long long)(d > now ? (d - now) / 1000 : 0));
	if (!stack_timer_armed(&c->timer) || c->timer.deadline_us > d || kind != c->timer_kind)
		stack_timer_arm(&c->timer, d > now ? d - now : 0);
	c->timer_kind = kind;
}

void tcp_rtx_restart(struct tcp_conn *c)
{
	c->rtx_deadline_us = stack_now_us(c->st) + tcp_rtt_rto_us(&c->rtt);
	tcp_timer_update(c);
}

void tcp_rtx_stop(struct tcp_conn *c)
{
	c->rtx_deadline_us = 0;
	c->rack.reo_deadline_us = c->rack.tlp_deadline_us = 0;
	tcp_timer_update(c);
}

/* RFC 8985 §7.2: PTO = 2·SRTT, plus the peer's delayed-ACK time when one segment is in
 * flight, and never after the RTO would fire. Armed when new data goes out or an ACK
 * arrives, while no recovery and no other probe is under way. */
void tcp_tlp_schedule(struct tcp_conn *c)
{
	struct tcp_rack *r = &c->rack;
	uint64_t now = stack_now_us(c->st), pto;

	r->tlp_deadline_us = 0;
	if (!c->sack_ok || c->in_recovery || c->in_loss || r->tlp_active ||
	    c->snd_una == c->snd_max || !c->rtx_deadline_us || c->snd_wnd == 0)
		return;
	pto = c->rtt.srtt_us ? 2ull * c->rtt.srtt_us : TCP_RTT_DEFAULT_INITIAL_RTO_US;
	if (tcp_flight(c) <= c->snd_mss)
		pto += TCP_DELACK_MAX_US;
	if (pto < TCP_TLP_MIN_PTO_US)
		pto = TCP_TLP_MIN_PTO_US;
	r->tlp_deadline_us = now + pto < c->rtx_deadline_us ? now + pto : c->rtx_deadline_us;
	tcp_timer_update(c);
}

void tcp_dack_schedule(struct tcp_conn *c)
{
	if (!stack_timer_armed(&c->dack_timer))
		stack_timer_arm(&c->dack_timer, TCP_DELACK_MIN_US);
}

void tcp_dack_cancel(struct tcp_conn *c)
{
	stack_timer_cancel(&c->dack_timer);
}

void tcp_enter_time_wait(struct tcp_conn *c)
{
	tcp_set_state(c, TCP_TIME_WAIT);
	c->rtx_deadline_us = c->persist_deadline_us = c->fw2_deadline_us = 0;
	c->tw_deadline_us = stack_now_us(c->st) + (uint64_t)c->st->cfg.time_wait_ms * 1000;
	c->timer_kind = TCP_TIMER_NONE;   /* trace the (re)arming */
	tcp_dack_cancel(c);
	tcp_timer_update(c);
}

/* FIN_WAIT_2 reached (our FIN acknowledged): an orphan waits at most tcp_fin_timeout. */
void tcp_fin_wait_2_entered(struct tcp_conn *c)
{
	if (!c->orphan)
		return;
	if (c->linger2_s < 0) {   /* Linux TCP_LINGER2 < 0: no FIN_WAIT_2 at all */
		tcp_send_active_reset(c);
		tcp_conn_done(c);
		return;
	}
	c->fw2_deadline_us = stack_now_us(c->st) +
		(c->linger2_s > 0 ? (uint64_t)c->linger2_s * 1000000 : (uint64_t)TCP_FIN_TIMEOUT_MS * 1000);
	tcp_timer_update(c);
}

void tcp_keepalive_reset(struct tcp_conn *c)
{
	c->ka_probes = 0;
	c->last_rx_us = stack_now_us(c->st);
	tcp_timer_update(c);
}

/* RFC 6298 §5.4-5.7 and RFC 9293 §3.8.3 (R2 / SYN retries). */
void tcp_rto_expired(struct tcp_conn *c)
{
	struct ustack *st = c->st;
	int limit;

	c->rtx_deadline_us = 0;
	STAT_INC(st, tcp_rto_fired);
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
		limit = c->state == TCP_SYN_SENT || c->active_open
			? (c->syn_retries ? c->syn_retries : (int)st->cfg.syn_retries)
			: TCP_SYNACK_RETRIES;
		if (c->retries >= limit) {
			if (c->active_open)
				tcp_conn_abort(c, ETIMEDOUT);
			else
				tcp_conn_done(c);   /* a child: the SYN queue forgets it */
			return;
		}
		c->retries++;
		tcp_rtt_backoff(&c->rtt);
		STAT_INC(st, tcp_retrans_rto);
		tcp_retransmit_one(c, c->iss, 0, "rto");
		tcp_rtx_restart(c);
		return;
	}
	if (c->snd_una == c->snd_max)
		return;
	limit = c->orphan ? TCP_ORPHAN_RETRIES : TCP_RETRIES2;
	if (c->retries >= limit) {
		tcp_conn_abort(c, c->soft_error ? c->soft_error : ETIMEDOUT);
		return;
	}
	c->retries++;
	tcp_rtt_backoff(&c->rtt);
	if (c->snd_wnd == 0 && c->snd_max - c->snd_una <= 1 + (c->fin_sent ? 1u : 0u)) {
		/* the outstanding byte is a zero-window probe: probe again, no congestion signal */
		c->probes++;
		STAT_INC(st, tcp_zero_window_probes);
		tcp_retransmit_one(c, c->snd_una, 1, "probe");
		tcp_rtx_restart(c);
		return;
	}
	/* Linux tcp_enter_loss: a timeout while DupThresh segments were SACKed but no recovery
	 * began means the reordering degree is overestimated: back to the RFC 6675 default. */
	if (!c->in_recovery && c->reordering > TCP_SACK_DUPTHRESH &&
	    tcp_sack_sacked_bytes(&c->sb) >= TCP_SACK_DUPTHRESH * c->snd_mss)
		tcp_set_reordering(c, TCP_SACK_DUPTHRESH, "rto");
	tcp_undo_start(c);
	tcp_rack_reset(&c->rack);   /* RFC 8985 §6.3: everything is retransmitted anew */
	/* RFC 5681 §3.1 / RFC 6675 §5.1: timeout — loss window, go back to SND.UNA */
	tcp_cc_on_rto(&c->cc, c->snd_max - c->snd_una, c->retries > 1, stack_now_us(st));
	TRACE(st, &c->trace, false, "cc rto cwnd=%u ssthresh=%u rto=%uus", c->cc.cwnd, c->cc.ssthresh,
	      tcp_rtt_rto_us(&c->rtt));
	if (c->sack_ok)
		tcp_sack_on_rto(&c->sb, c->snd_max);
	c->in_recovery = false;
	c->in_loss = true;
	c->recover = c->snd_max;
	c->dupacks = 0;
	c->lost_segs++;
	STAT_INC(st, tcp_retrans_rto);
	c->snd_nxt = c->snd_una;
	tcp_rtx_restart(c);
	tcp_output(c);
}

/* RFC 9293 §3.8.6.1: the window is zero and data waits — send one byte beyond it. */
static void tcp_persist_expired(struct tcp_conn *c)
{
	c->persist_deadline_us = 0;
	c->probes++;
	STAT_INC(c->st, tcp_zero_window_probes);
	tcp_send_window_probe(c);
}

/* RFC 1122 §4.2.3.6: a keepalive probe is SEG.SEQ = SND.NXT - 1 with no data. */
static void tcp_keepalive_expired(struct tcp_conn *c)
{
	if (c->ka_probes >= c->keepcnt) {
		tcp_send_active_reset(c);
		tcp_conn_abort(c, ETIMEDOUT);
		return;
	}
	c->ka_probes++;
	c->ka_last_probe_us = stack_now_us(c->st);
	STAT_INC(c->st, tcp_keepalive_probes);
	TRACE(c->st, &c->trace, false, "keepalive probe %u", c->ka_probes);
	tcp_send_ctl(c, TCP_FL_ACK, c->snd_una - 1);
}

static void tcp_timer_fired(struct ustack *st, struct stack_timer *t)
{
	struct tcp_conn *c = (struct tcp_conn *)((char *)t - offsetof(struct tcp_conn, timer));
	enum tcp_timer_kind kind;
	uint64_t now = stack_now_us(st), d = tcp_next_deadline(c, &kind);

	if (!d)
		return;
	if (d > now) {   /* the deadline moved later since the timer was armed */
		stack_timer_arm(&c->timer, d - now);
		c->timer_kind = kind;
		return;
	}
	c->timer_kind = TCP_TIMER_NONE;
	TRACE(st, &c->trace, true, "timer %s fired", tcp_timer_names[kind]);
	switch (kind) {
	case TCP_TIMER_RETRANSMIT:
		tcp_rto_expired(c);
		break;
	case TCP_TIMER_RACK_REO:
		c->rack.reo_deadline_us = 0;
		tcp_rack_check(c);
		tcp_output(c);
		break;
	case TCP_TIMER_TLP:
		tcp_tlp_expired(c);
		break;
	case TCP_TIMER_PERSIST:
		tcp_persist_expired(c);
		break;
	case TCP_TIMER_KEEPALIVE:
		tcp_keepalive_expired(c);
		break;
	case TCP_TIMER_FIN_WAIT_2:
		tcp_conn_done(c);
		break;
	case TCP_TIMER_TIME_WAIT:
		STAT_INC(st, tcp_time_wait_expired);
		tcp_conn_done(c);
		break;
	default:
		break;
	}
	if (c->state != TCP_CLOSED)
		tcp_timer_update(c);
	tcp_wake(c, false);
	tcp_conn_reap(c);
}

static void tcp_dack_fired(struct ustack *st, struct stack_timer *t)
{
	struct tcp_conn *c = (struct tcp_conn *)((char *)t - offsetof(struct tcp_conn, dack_timer));

	(void)st;
	if (c->ack_pending && c->state >= TCP_ESTABLISHED && c->state != TCP_CLOSED) {
		TRACE(st, &c->trace, false, "timer delack fired");
		tcp_send_ack(c);
	}
}
