/*
 * TCP input (RFC 9293 §3.10.7 "SEGMENT ARRIVES"): validation and demultiplexing in
 * tcp_input(), then tcp_input_listen(), tcp_input_syn_sent(), tcp_input_time_wait() or
 * tcp_process(), which follows §3.10.7.4 step by step. RFC 5961 (blind in-window attacks),
 * RFC 7323 (PAWS, timestamps, window scale), RFC 2018/6675 (SACK), RFC 5681/6582 (fast
 * retransmit, NewReno) and RFC 6298 (RTT) are applied where those steps call for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "sock.h"
#include "stack.h"
#include "tcp_internal.h"
#include "ustack/wire/bytes.h"

/* ---- parsing ---- */

static int tcp_parse_options(const uint8_t *o, size_t len, struct tcp_seg *seg)
{
	size_t i = 0;

	while (i < len) {
		uint8_t kind = o[i], olen;
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -EBADMSG;
		olen = o[i + 1];
		if (olen < 2 || i + olen > len)
			return -EBADMSG;
		switch (kind) {
		case TCP_OPT_MSS:
			if (olen == TCP_OPT_MSS_LEN) {
				seg->has_mss = true;
				seg->mss = wire_get16(o + i + 2);
			}
			break;
		case TCP_OPT_WS:
			if (olen == TCP_OPT_WS_LEN) {
				seg->has_ws = true;
				/* RFC 7323 §2.3: a shift above 14 is used as 14 */
				seg->ws = o[i + 2] > TCP_WS_MAX ? TCP_WS_MAX : o[i + 2];
			}
			break;
		case TCP_OPT_SACK_PERM:
			if (olen == TCP_OPT_SACK_PERM_LEN)
				seg->sack_perm = true;
			break;
		case TCP_OPT_TS:
			if (olen == TCP_OPT_TS_LEN) {
				seg->has_ts = true;
				seg->tsval = wire_get32(o + i + 2);
				seg->tsecr = wire_get32(o + i + 6);
			}
			break;
		case TCP_OPT_SACK:
			if (olen >= 10 && (olen - 2) % 8 == 0) {
				for (size_t b = i + 2; b + 8 <= i + olen && seg->nsack < TCP_SACK_MAX_BLOCKS;
				     b += 8) {
					seg->sack[seg->nsack].left = wire_get32(o + b);
					seg->sack[seg->nsack].right = wire_get32(o + b + 4);
					seg->nsack++;
				}
			}
			break;
		default:
			break;   /* RFC 9293 §3.2: unknown options are skipped by length */
		}
		i += olen;
	}
	return 0;
}

/* Parse and check a segment of len bytes at h. Returns 0, -EINVAL (short), -EPROTO (data
 * offset) or -EBADMSG (options). */
int tcp_parse(const uint8_t *h, size_t len, const struct ipv4_info *ip, struct tcp_seg *seg)
{
	size_t hl;

	memset(seg, 0, sizeof(*seg));
	if (len < TCP_HDR_MIN)
		return -EINVAL;
	hl = tcp_hdr_len(h);
	if (hl < TCP_HDR_MIN || hl > len)
		return -EPROTO;
	seg->src = ip->src;
	seg->dst = ip->dst;
	seg->sport = wire_get16(h + TCP_OFF_SPORT);
	seg->dport = wire_get16(h + TCP_OFF_DPORT);
	seg->seq = wire_get32(h + TCP_OFF_SEQ);
	seg->ack = wire_get32(h + TCP_OFF_ACK);
	seg->flags = h[TCP_OFF_FLAGS];
	seg->wnd = wire_get16(h + TCP_OFF_WIN);
	seg->data = h + hl;
	seg->len = (uint32_t)(len - hl);
	return tcp_parse_options(h + TCP_HDR_MIN, hl - TCP_HDR_MIN, seg);
}

void tcp_apply_syn_options(struct tcp_conn *c, const struct tcp_seg *seg)
{
	c->peer_mss = seg->has_mss ? seg->mss : TCP_DEFAULT_MSS;
	if (c->peer_mss < 64)
		c->peer_mss = 64;
	c->ws_ok = c->want_ws && seg->has_ws;
	c->snd_wscale = c->ws_ok ? seg->ws : 0;
	if (!c->ws_ok)
		c->rcv_wscale = 0;
	c->ts_ok = c->want_ts && seg->has_ts;
	if (c->ts_ok) {
		c->ts_recent = seg->tsval;
		c->ts_recent_stamp_ms = stack_now_ms(c->st);
	}
	c->sack_ok = c->want_sack && seg->sack_perm;
	tcp_conn_set_snd_mss(c);
}

/* Both sides synchronized: sequence state shared by the two ways into ESTABLISHED. */
static void tcp_synchronized(struct tcp_conn *c, const struct tcp_seg *seg)
{
	tcp_sack_init(&c->sb, c->iss + 1);
	tcp_sack_set_dupthresh(&c->sb, c->reordering);
	c->rexmit_high = c->iss + 1;
	c->snd_wl1 = seg->seq;
	c->snd_wl2 = seg->ack;
	c->last_rx_us = stack_now_us(c->st);
}

/* ---- LISTEN (RFC 9293 §3.10.7.2) ---- */

void tcp_input_listen(struct ustack *st, struct tcp_conn *l, const struct tcp_seg *seg,
		      const uint8_t *opts, size_t optlen)
{
	struct tcp_conn *c;
	int rcvbuf = l->sock ? l->sock->rcvbuf : SOCK_DEFAULT_RCVBUF;
	int sndbuf = l->sock ? l->sock->sndbuf : SOCK_DEFAULT_SNDBUF;

	/* first: check for a RST — ignore it */
	if (seg->flags & TCP_FL_RST)
		return;
	/* second: check for an ACK — <SEQ=SEG.ACK><CTL=RST> */
	if (seg->flags & TCP_FL_ACK) {
		tcp_send_reset_reply(st, seg);
		return;
	}
	/* third: check for a SYN (a SYN-FIN is dropped, like Linux) */
	if (!(seg->flags & TCP_FL_SYN) || (seg->flags & TCP_FL_FIN))
		return;
	/* full queues behave like Linux without syncookies: drop the SYN, no RST */
	if (l->acceptq_len > l->backlog || l->synq_len > l->backlog) {
		STAT_INC(st, tcp_listen_overflow);
		STAT_INC(st, tcp_syn_drop);
		return;
	}
	c = tcp_conn_alloc(st, NULL);
	if (!c) {
		STAT_INC(st, tcp_syn_drop);
		return;
	}
	c->tuple.local_ip = seg->dst;
	c->tuple.remote_ip = seg->src;
	c->tuple.local_port = seg->dport;
	c->tuple.remote_port = seg->sport;
	if (tcp_conn_hash(c) < 0 || tcp_conn_buffers(c, rcvbuf, sndbuf) < 0) {
		ringbuf_free(&c->rcvq);
		ringbuf_free(&c->sndq);
		free(c);
		STAT_INC(st, tcp_syn_drop);
		return;
	}
	tcp_child_inherit(c, l);
	if (tcp_child_bind(c, l) < 0) {
		tcp_conn_done(c);
		tcp_conn_reap(c);
		STAT_INC(st, tcp_syn_drop);
		return;
	}
	tcp_conn_init_mss(c);
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	tcp_asm_init(&c->asm_, c->rcv_nxt);
	tcp_apply_syn_options(c, seg);
	c->iss = tcp_isn(st, &c->tuple);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->snd_wnd = seg->wnd;   /* RFC 7323 §2.2: the SYN's window is never scaled */
	c->max_snd_wnd = c->snd_wnd;
	c->ts_offset = tcp_ts_offset(st, &c->tuple);
	tcp_conn_cc_init(c);
	tcp_trace_open(c);
	tcp_trace_segment(c, "in ", seg->flags, seg->seq, seg->ack, seg->wnd, seg->len, opts, optlen);
	tcp_set_state(c, TCP_LISTEN);
	tcp_set_state(c, TCP_SYN_RECEIVED);
	STAT_INC(st, tcp_passive_opens);
	c->rtt_start_us = stack_now_us(st);
	tcp_send_ctl(c, TCP_FL_SYN | TCP_FL_ACK, c->iss);
	c->snd_nxt = c->snd_max = c->iss + 1;
	tcp_rtx_restart(c);
}

/* ---- receiving data and FIN (steps seven and eight) ---- */

/* RFC 9293 §3.10.7.4 eighth: the FIN is next in sequence: EOF for the application. */
static void tcp_rx_fin(struct tcp_conn *c)
{
	c->fin_pending = false;
	tcp_asm_advance(&c->asm_, 1);
	c->rcv_nxt = tcp_asm_rcv_nxt(&c->asm_);
	c->fin_rcvd = true;
	c->rcv_shutdown = true;
	c->ack_now = true;
	c->rx_new_data = true;
	switch (c->state) {
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
		tcp_set_state(c, TCP_CLOSE_WAIT);
		break;
	case TCP_FIN_WAIT_1:
		/* our FIN not yet acknowledged (else we would be in FIN_WAIT_2): simultaneous close */
		tcp_set_state(c, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT_2:
		tcp_enter_time_wait(c);
		break;
	default:
		break;
	}
}

/* RFC 5681 §4.2 / RFC 9293 §3.8.6.3: ACK now or later. */
static void tcp_ack_policy(struct tcp_conn *c, uint32_t in_order_bytes, bool out_of_order)
{
	if (!c->got_data) {
		/* Linux: quick-ACK mode for the first data of a connection */
		c->got_data = true;
		c->quickacks = TCP_MAX_QUICKACKS;
	}
	if (out_of_order) {
		c->ack_now = true;   /* RFC 5681 §4.2: out-of-order or hole-filling data */
		return;
	}
	c->rcv_unacked += in_order_bytes;
	if (c->quickacks > 0 || c->rcv_unacked > c->rcv_mss)
		c->ack_now = true;   /* quick ACK, or a second full segment (RFC 9293 §3.8.6.3) */
	else
		c->ack_pending = true;
}

/* RFC 9293 §3.10.7.4 seventh: place the text in the receive ring; the assembler tells which
 * bytes became contiguous. Returns false if the segment's right end was cut by the window. */
static bool tcp_rx_data(struct tcp_conn *c, const struct tcp_seg *seg)
{
	uint32_t seq = seg->seq, len = seg->len, old = c->rcv_nxt, skip = 0, ready = 0;
	uint32_t wnd_end = seq_gt(c->rcv_adv, old) ? c->rcv_adv : old;
	bool was_holes = !tcp_asm_empty(&c->asm_), trimmed = false;

	if (seg->flags & TCP_FL_SYN)
		seq++;   /* a SYN-ACK carrying data (simultaneous open) */
	if (len == 0)
		return true;
	/* trim the right end to the window and the ring (RFC 9293 §3.10.7.4) */
	if (seq_gt(seq + len, wnd_end)) {
		len = seq_gt(wnd_end, seq) ? wnd_end - seq : 0;
		trimmed = true;
	}
	if (len > 0 && (size_t)(seq + len - old) > ringbuf_space(&c->rcvq) && seq_gt(seq + len, old)) {
		uint32_t room = (uint32_t)ringbuf_space(&c->rcvq);
		len = seq_gt(old + room, seq) ? old + room - seq : 0;
		trimmed = true;
	}
	c->data_segs_in++;
	c->last_data_recv_us = stack_now_us(c->st);
	if (len == 0) {
		c->ack_now = true;
		return !trimmed;
	}
	if (seq_lt(seq, old))
		skip = old - seq;
	if (skip >= len) {
		STAT_INC(c->st, tcp_dup_rx);
		tcp_asm_add(&c->asm_, seq, len, &ready);   /* remembered as a D-SACK block */
		c->ack_now = true;
		return !trimmed;
	}
	if (tcp_asm_add(&c->asm_, seq, len, &ready) < 0) {
		STAT_INC(c->st, tcp_ooo_rx);
		c->ack_now = true;
		return false;
	}
	ringbuf_write_at(&c->rcvq, seq + skip - old, seg->data + (seq - seg->seq) + skip, len - skip);
	if (len > c->rcv_mss)
		c->rcv_mss = len < c->adv_mss ? len : c->adv_mss;
	if (ready) {
		ringbuf_commit(&c->rcvq, ready);
		c->rcv_nxt = tcp_asm_rcv_nxt(&c->asm_);
		c->bytes_received += ready;
		c->rx_new_data = true;
	} else {
		STAT_INC(c->st, tcp_ooo_rx);
	}
	tcp_ack_policy(c, ready, seq != old || was_holes);
	if (c->fin_pending && c->rcv_nxt == c->fin_seq_rcvd)
		tcp_rx_fin(c);
	return !trimmed;
}

/* Steps seven and eight for a segment whose ACK was processed. */
static void tcp_rx_text_and_fin(struct tcp_conn *c, const struct tcp_seg *seg)
{
	bool whole = true;

	switch (c->state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
		/* Linux: data for an application that closed (or shut reading) and is gone → RST */
		if (c->orphan && seg->len > 0 && seq_gt(seg->seq + seg->len, c->rcv_nxt)) {
			tcp_send_active_reset(c);
			tcp_conn_abort(c, ECONNRESET);
			return;
		}
		whole = tcp_rx_data(c, seg);
		break;
	default:
		/* CLOSE_WAIT, CLOSING, LAST_ACK: the peer already sent its FIN; ignore text */
		break;
	}
	/* eighth: check the FIN bit */
	if (!(seg->flags & TCP_FL_FIN) || !whole)
		return;
	if (c->fin_rcvd) {
		c->ack_now = true;   /* a retransmitted FIN: acknowledge again */
		return;
	}
	uint32_t fin_at = seg->seq + seg->len + ((seg->flags & TCP_FL_SYN) ? 1 : 0);
	if (fin_at == c->rcv_nxt) {
		tcp_rx_fin(c);
	} else if (seq_gt(fin_at, c->rcv_nxt)) {
		c->fin_pending = true;
		c->fin_seq_rcvd = fin_at;
		c->ack_now = true;
	}
}

/* ---- the ACK (step five) ---- */

static bool tcp_our_fin_acked(const struct tcp_conn *c)
{
	return c->fin_sent && seq_gt(c->snd_una, c->fin_seq);
}

static void tcp_trace_cc(struct tcp_conn *c, const char *why)
{
	TRACE(c->st, &c->trace, false, "cc %s cwnd=%u ssthresh=%u", why, c->cc.cwnd,
	      c->cc.ssthresh == TCP_CC_SSTHRESH_INFINITE ? 0 : c->cc.ssthresh);
}

/* ---- reordering and undo ---- */

void tcp_set_reordering(struct tcp_conn *c, uint32_t degree, const char *why)
{
	if (degree < 1)
		degree = 1;
	if (degree > TCP_MAX_REORDERING)
		degree = TCP_MAX_REORDERING;
	if (degree == c->reordering)
		return;
	c->reordering = degree;
	tcp_sack_set_dupthresh(&c->sb, degree);
	TRACE(c->st, &c->trace, false, "reorder degree=%u reason=%s", degree, why);
}

/* RFC 6675 §2 (DupThresh may follow the path's reordering; Linux tcp_check_sack_reordering):
 * data at low arrived after data up to fack that was sent after it, so the path reorders by
 * fack - low bytes. Raise the degree to cover that distance. */
static void tcp_reorder_seen(struct tcp_conn *c, uint32_t low, uint32_t fack)
{
	uint32_t mss = c->snd_mss, dist;

	if (!seq_lt(low, fack) || mss == 0)
		return;
	STAT_INC(c->st, tcp_reorder_detected);
	dist = fack - low;
	if (dist > (uint64_t)c->reordering * mss)
		tcp_set_reordering(c, (uint32_t)(((uint64_t)dist + mss - 1) / mss), "reordered");
}

/* Which data this ACK delivered that had never been retransmitted although later data was
 * already SACKed (prior_fack): a hole filled by the original segment, i.e. reordering. */
static void tcp_check_reordering(struct tcp_conn *c, const struct tcp_sack_result *res,
				 uint32_t prior_una, uint32_t prior_fack)
{
	uint32_t low = prior_fack;

	/* seq_lt(x, prior_fack): x lay below data the peer had already SACKed */
	if (res->newly_acked && seq_lt(prior_una, prior_fack) && seq_geq(prior_una, c->rexmit_high))
		low = prior_una;
	if (res->has_new_sack && seq_lt(res->new_sack_low, low) &&
	    seq_geq(res->new_sack_low, c->rexmit_high))
		low = res->new_sack_low;
	if (seq_lt(low, prior_fack))
		tcp_reorder_seen(c, low, seq_max(prior_fack, tcp_sack_highest_sacked(&c->sb)));
}

void tcp_undo_start(struct tcp_conn *c)
{
	if (c->in_recovery || c->in_loss)
		return;
	tcp_cc_save_undo(&c->cc);
	c->undo_valid = true;
	c->undo_marker = c->snd_una;
	c->undo_retrans = 0;
	/* RFC 3522 §2 compares with the first retransmission of the oldest outstanding data,
	 * which an earlier episode may have made */
	if (!seq_gt(c->rexmit_high, c->snd_una))
		c->retrans_ts_valid = false;
}

/* RFC 2883 §4 / RFC 3522 §1 response: every retransmission of the episode was spurious:
 * restore the window of before it and end recovery (Linux tcp_try_undo_recovery / _dsack). */
static void tcp_undo(struct tcp_conn *c, const char *why)
{
	c->undo_valid = false;
	if (!tcp_cc_undo(&c->cc))
		return;
	if (c->in_recovery) {
		c->in_recovery = false;
		c->dupacks = 0;
		c->retrans_out = 0;
		c->sb.in_recovery = false;   /* RecoveryPoint stays: no new episode before it */
	}
	if (c->in_loss && seq_lt(c->snd_nxt, c->snd_max))
		c->snd_nxt = c->snd_max;   /* RFC 4015 §3.2: resume with new data, not go-back-N */
	c->in_loss = false;
	STAT_INC(c->st, tcp_undo);
	TRACE(c->st, &c->trace, false, "undo cwnd=%u ssthresh=%u reason=%s", c->cc.cwnd,
	      c->cc.ssthresh == TCP_CC_SSTHRESH_INFINITE ? 0 : c->cc.ssthresh, why);
}

/* RFC 3522 §2 (Eifel detection): the ACK echoes a timestamp older than the episode's first
 * retransmission, so it was sent for the original transmission. */
static bool tcp_acks_original(const struct tcp_conn *c, const struct tcp_seg *seg)
{
	return c->undo_valid && c->retrans_ts_valid && c->ts_ok && seg->has_ts &&
	       seg->tsecr != 0 && seq_lt(seg->tsecr, c->retrans_tsval);
}

/* The episode ended (or an ACK after an RTO arrived): undo it if the ACK shows the originals
 * got through, and take the reordering that caused it (undo_marker overtaken up to prior_fack). */
static void tcp_try_undo_eifel(struct tcp_conn *c, const struct tcp_seg *seg, uint32_t prior_fack)
{
	if (!tcp_acks_original(c, seg))
		return;
	STAT_INC(c->st, tcp_spurious_retrans);
	if (c->sack_ok)
		tcp_reorder_seen(c, c->undo_marker, prior_fack);
	tcp_undo(c, "ts");
}

/* RFC 3708 §3 caveat: a D-SACK may report a retransmission made before this episode. With
 * timestamps the ACK echoes the duplicate's TSval (RFC 7323 §4.3), which is at least the
 * episode's first retransmission's; without them it cannot come back within one RTT. */
static bool tcp_dsack_in_episode(const struct tcp_conn *c, const struct tcp_seg *seg)
{
	if (c->ts_ok && seg->has_ts)
		return !seq_lt(seg->tsecr, c->episode_tsval);
	return stack_now_us(c->st) - c->episode_start_us >= c->rtt.min_rtt_us;
}

/* RFC 2883 §4 / RFC 3708 §3: a D-SACK for data retransmitted in this episode: that
 * retransmission was not needed. When all of them are reported, undo the episode. */
static void tcp_dsack_received(struct tcp_conn *c, const struct tcp_seg *seg,
			       const struct tcp_sack_block *b, uint32_t fack)
{
	uint32_t segs;

	if (!seq_lt(b->left, b->right) || seq_gt(b->right, c->snd_max) ||
	    !seq_lt(b->left, c->rexmit_high))
		return;   /* malformed, or never retransmitted: a duplicate made by the network */
	STAT_INC(c->st, tcp_spurious_retrans);
	tcp_reorder_seen(c, b->left, fack);
	if (!c->undo_valid || seq_lt(b->left, c->undo_marker) ||
	    c->undo_retrans == 0 || !tcp_dsack_in_episode(c, seg))
		return;
	segs = c->snd_mss ? (b->right - b->left + c->snd_mss - 1) / c->snd_mss : 1;
	c->undo_retrans -= segs < c->undo_retrans ? segs : c->undo_retrans;
	if (c->undo_retrans == 0)
		tcp_undo(c, "dsack");
}

/* Loss detected by duplicate ACKs or SACK: fast retransmit and recovery (RFC 5681 §3.2,
 * RFC 6582 §3.2 step 2, RFC 6675 §5 step 4). */
static void tcp_enter_fast_recovery(struct tcp_conn *c)
{
	uint32_t flight = c->snd_max - c->snd_una;

	tcp_undo_start(c);
	tcp_cc_enter_recovery(&c->cc, flight, c->sack_ok, stack_now_us(c->st));
	c->in_recovery = true;
	c->recover = c->snd_max;
	c->lost_segs++;
	STAT_INC(c->st, tcp_retrans_fast);
	tcp_trace_cc(c, "recovery");
	if (c->sack_ok) {
		struct tcp_sack_seg s;
		tcp_sack_enter_recovery(&c->sb, c->snd_max);
		tcp_sack_first_retransmit(&c->sb, c->snd_max, c->snd_mss, &s);
		if (s.len == 0) {
			s.seq = c->snd_una;
			s.len = c->snd_mss;
		}
		tcp_retransmit_one(c, s.seq, s.len, "fast");
		tcp_sack_mark_sent(&c->sb, &s);
		tcp_sack_recovery_send(c);
	} else {
		tcp_retransmit_one(c, c->snd_una, c->snd_mss, "fast");
	}
	tcp_rtx_restart(c);
}

static void tcp_exit_recovery(struct tcp_conn *c)
{
	c->in_recovery = false;
	c->dupacks = 0;
	c->retrans_out = 0;
	tcp_cc_exit_recovery(&c->cc, c->snd_max - c->snd_una, stack_now_us(c->st));
	tcp_rack_recovery_done(&c->rack);
	tcp_trace_cc(c, "recovered");
}

/* ---- RACK-TLP (RFC 8985) ---- */

void tcp_rack_check(struct tcp_conn *c)
{
	uint64_t now = stack_now_us(c->st);
	uint32_t reo, wait, lost_end = c->sb.rack_lost_end, first = 0, nlost = 0;

	c->rack.reo_deadline_us = 0;
	if (!c->sack_ok || c->state < TCP_ESTABLISHED || c->in_loss || c->snd_una == c->snd_max)
		return;
	/* §6.2.4: the window grows with the reordering seen (the degree, D-SACKs) */
	reo = tcp_rack_reo_wnd(&c->rack, c->reordering > TCP_SACK_DUPTHRESH, c->in_recovery,
			       c->rtt.min_rtt_us, c->rtt.srtt_us);
	wait = tcp_rack_detect(&c->rack, &c->sb, now, reo, &lost_end, &first, &nlost);
	tcp_sack_set_rack_lost(&c->sb, lost_end);
	if (wait)
		c->rack.reo_deadline_us = now + wait;   /* §6.3 reordering timer */
	if (nlost) {
		STAT_ADD(c->st, tcp_rack_lost, nlost);
		TRACE(c->st, &c->trace, false, "rack lost seq=%u segs=%u reo_wnd=%uus reason=rack",
		      first, nlost, reo);
		/* §6.2 / RFC 6675 §5: the congestion response once per round, as for DupThresh */
		if (!c->in_recovery && tcp_sack_may_enter_recovery(&c->sb) &&
		    tcp_sack_is_lost(&c->sb, c->snd_una, c->snd_mss))
			tcp_enter_fast_recovery(c);
	}
	tcp_timer_update(c);
}

/* RFC 8985 §7.4: the ACK of a loss probe. A retransmitted probe whose own copy was acknowledged
 * (its TSval echoed, or the ACK went past it without a D-SACK) repaired a real loss: reduce the
 * window once (like a recovery that ends at once). A D-SACK for it means nothing was lost. */
static void tcp_tlp_ack(struct tcp_conn *c, const struct tcp_seg *seg,
			const struct tcp_sack_result *res, uint32_t flight_before)
{
	struct tcp_rack *r = &c->rack;
	bool recovered;

	if (!r->tlp_active)
		return;
	if (res->dsack && r->tlp_retrans) {
		r->tlp_active = false;
		return;
	}
	if (seq_lt(c->snd_una, r->tlp_end_seq))
		return;
	r->tlp_active = false;
	if (!r->tlp_retrans || c->in_recovery || c->in_loss)
		return;
	if (c->ts_ok && seg->has_ts)
		recovered = !seq_lt(seg->tsecr, r->tlp_tsval);
	else
		recovered = seq_gt(c->snd_una, r->tlp_end_seq);
	if (!recovered)
		return;
	STAT_INC(c->st, tcp_tlp_recovered);
	c->lost_segs++;
	tcp_cc_enter_recovery(&c->cc, flight_before, true, stack_now_us(c->st));
	tcp_cc_exit_recovery(&c->cc, c->snd_max - c->snd_una, stack_now_us(c->st));
	TRACE(c->st, &c->trace, false, "tlp recovered seq=%u cwnd=%u ssthresh=%u", r->tlp_end_seq,
	      c->cc.cwnd, c->cc.ssthresh);
}

/* An ACK in [SND.UNA, SND.MAX]: update the send side. */
static void tcp_ack(struct tcp_conn *c, const struct tcp_seg *seg)
{
	struct ustack *st = c->st;
	uint64_t now = stack_now_us(st);
	uint32_t ack = seg->ack, new_wnd = (uint32_t)seg->wnd << c->snd_wscale;
	uint32_t flight_before = c->snd_max - c->snd_una;
	uint32_t prior_una = c->snd_una, prior_fack = tcp_sack_highest_sacked(&c->sb);
	struct tcp_sack_result res;
	bool window_changed = new_wnd != c->snd_wnd;

	memset(&res, 0, sizeof res);
	c->last_ack_recv_us = now;
	if (c->sack_ok && c->state >= TCP_ESTABLISHED) {
		tcp_sack_update(&c->sb, ack, c->snd_max, seg->sack, seg->nsack, &res);
		tcp_check_reordering(c, &res, prior_una, prior_fack);
		if (res.dsack) {
			tcp_rack_dsack(&c->rack, c->snd_una, c->snd_max);
			tcp_dsack_received(c, seg, &res.dsack_block,
					   seq_max(prior_fack, tcp_sack_highest_sacked(&c->sb)));
		}
		/* RFC 8985 §6.2 steps 1-3 */
		tcp_rack_on_ack(&c->rack, ack, seg->sack, seg->nsack, now, c->rtt.min_rtt_us);
	}

	if (seq_gt(ack, c->snd_una)) {
		uint32_t data_seq = tcp_sndq_seq(c);
		uint32_t data_end = data_seq + (uint32_t)ringbuf_len(&c->sndq);
		uint32_t acked_end = seq_lt(ack, data_end) ? ack : data_end;
		uint32_t acked_data = seq_gt(acked_end, data_seq) ? acked_end - data_seq : 0;
		uint32_t acked = ack - c->snd_una;
		uint32_t rtt_sample = 0;

		ringbuf_consume(&c->sndq, acked_data);
		c->bytes_acked += acked_data;
		c->snd_una = ack;
		if (seq_lt(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		c->retries = 0;
		c->probes = 0;
		/* RFC 6298 §2-3: one timed segment at a time, Karn's rule via rtt_timing */
		if (c->rtt_timing && seq_geq(ack, c->rtt_seq)) {
			rtt_sample = (uint32_t)(now - c->rtt_start_us);
			c->rtt_timing = false;
			tcp_rtt_sample(&c->rtt, rtt_sample);
			TRACE(st, &c->trace, false, "rtt sample=%uus srtt=%uus rttvar=%uus rto=%uus",
			      rtt_sample, c->rtt.srtt_us, c->rtt.rttvar_us, tcp_rtt_rto_us(&c->rtt));
		}
		if (seq_lt(c->rexmit_high, ack))
			c->rexmit_high = ack;   /* stays within 2^31 of snd_una */
		if (c->in_recovery) {
			bool full = seq_geq(ack, c->recover) || res.recovery_done;
			if (full) {
				tcp_exit_recovery(c);
				tcp_try_undo_eifel(c, seg, prior_fack);
			} else if (!c->sack_ok) {
				/* RFC 6582 §3.2 step 5: partial ACK — retransmit the next hole */
				tcp_cc_on_partial_ack(&c->cc, acked);
				tcp_retransmit_one(c, c->snd_una, c->snd_mss, "fast");
				tcp_rtx_restart(c);
			}
		} else {
			struct tcp_cc_ack a = {
				.acked = acked, .rtt_us = rtt_sample, .srtt_us = c->rtt.srtt_us,
				.flight = flight_before,
				.cwnd_limited = flight_before + c->snd_mss >= c->cc.cwnd || c->in_loss,
				.now_us = now,
			};
			uint32_t before = c->cc.cwnd;
			tcp_cc_on_ack(&c->cc, &a);
			if (c->cc.cwnd != before && trace_on(&c->trace) && (c->cc.cwnd / c->snd_mss != before / c->snd_mss))
				tcp_trace_cc(c, "ack");
			if (c->in_loss)
				tcp_try_undo_eifel(c, seg, prior_fack);
			if (c->in_loss && seq_geq(ack, c->recover))
				c->in_loss = false;
		}
		c->dupacks = 0;
		if (c->snd_una == c->snd_max) {
			c->retrans_out = 0;
			tcp_rtx_stop(c);
		} else {
			tcp_rtx_restart(c);   /* RFC 6298 §5.3 */
		}
		tcp_sndbuf_autotune(c);
		c->wake_writer = true;
	} else if (ack == c->snd_una && c->snd_una != c->snd_max) {
		/* RFC 5681 §2 duplicate ACK (RFC 6675: or new SACK information) */
		bool dup = (seg->len == 0 && !(seg->flags & (TCP_FL_SYN | TCP_FL_FIN)) && !window_changed) ||
			   (c->sack_ok && res.newly_sacked > 0);
		if (dup) {
			c->dupacks++;
			if (c->in_recovery) {
				if (c->sack_ok)
					tcp_sack_recovery_send(c);
				else
					tcp_cc_on_dupack(&c->cc);   /* RFC 5681 §3.2 step 4 */
			} else if (c->sack_ok) {
				if (tcp_sack_may_enter_recovery(&c->sb) &&
				    tcp_sack_loss_detected(&c->sb, c->dupacks, c->snd_mss))
					tcp_enter_fast_recovery(c);
			} else if (c->dupacks == c->reordering &&
				   (seq_gt(c->snd_una - 1, c->recover) || c->recover == 0 ||
				    seq_geq(c->snd_una, c->recover))) {
				tcp_enter_fast_recovery(c);   /* RFC 6582 §3.2 step 2 */
			}
		}
	}

	/* RFC 9293 §3.10.7.4 fifth (ESTABLISHED): update the send window */
	if (seq_lt(c->snd_wl1, seg->seq) || (c->snd_wl1 == seg->seq && seq_leq(c->snd_wl2, ack))) {
		if (window_changed)
			TRACE(st, &c->trace, false, "snd_wnd %u", new_wnd);
		if (c->snd_wnd == 0 && new_wnd > 0 && c->sock)
			c->wake_writer = true;
		c->snd_wnd = new_wnd;
		c->snd_wl1 = seg->seq;
		c->snd_wl2 = ack;
		if (new_wnd > c->max_snd_wnd)
			c->max_snd_wnd = new_wnd;
		if (new_wnd > 0)
			c->persist_deadline_us = 0;
	}
	if (c->sack_ok && c->state >= TCP_ESTABLISHED) {
		tcp_tlp_ack(c, seg, &res, flight_before);
		tcp_rack_check(c);
		if (seq_gt(ack, prior_una))
			tcp_tlp_schedule(c);   /* RFC 8985 §7.2: new data acknowledged */
	}
}

/* ---- SYN_SENT (RFC 9293 §3.10.7.3) ---- */

static void tcp_input_syn_sent(struct tcp_conn *c, const struct tcp_seg *seg)
{
	bool ack_ok = false;

	/* first: check the ACK bit */
	if (seg->flags & TCP_FL_ACK) {
		if (seq_leq(seg->ack, c->iss) || seq_gt(seg->ack, c->snd_max)) {
			tcp_send_reset_reply(c->st, seg);   /* never answers a RST */
			return;
		}
		ack_ok = true;
	}
	/* second: check the RST bit (RFC 5961 §3: acceptable only if it acknowledges our SYN) */
	if (seg->flags & TCP_FL_RST) {
		if (ack_ok) {
			STAT_INC(c->st, tcp_rst_rx);
			tcp_conn_abort(c, ECONNREFUSED);
		}
		return;
	}
	/* third: security — not used */
	/* fourth: check the SYN bit */
	if (!(seg->flags & TCP_FL_SYN))
		return;   /* fifth: neither SYN nor RST: drop */
	c->irs = seg->seq;
	c->rcv_nxt = seg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	tcp_asm_init(&c->asm_, c->rcv_nxt);
	tcp_apply_syn_options(c, seg);
	tcp_conn_cc_init(c);
	c->snd_wnd = seg->wnd;   /* RFC 7323 §2.2: not scaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	if (ack_ok) {
		c->snd_una = seg->ack;
		tcp_rtx_stop(c);
	}
	if (seq_gt(c->snd_una, c->iss)) {
		if (c->retries == 0) {
			uint32_t sample = (uint32_t)(stack_now_us(c->st) - c->rtt_start_us);
			tcp_rtt_sample(&c->rtt, sample);
			TRACE(c->st, &c->trace, false, "rtt sample=%uus srtt=%uus rttvar=%uus rto=%uus",
			      sample, c->rtt.srtt_us, c->rtt.rttvar_us, tcp_rtt_rto_us(&c->rtt));
		} else {
			tcp_rtt_reset_backoff(&c->rtt);
		}
		c->retries = 0;
		tcp_synchronized(c, seg);
		tcp_set_state(c, TCP_ESTABLISHED);
		c->wake_writer = true;
		c->ack_now = true;
		/* sixth and on: data or FIN riding on the SYN-ACK */
		tcp_rx_text_and_fin(c, seg);
		tcp_output(c);
	} else {
		/* simultaneous open: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> */
		tcp_set_state(c, TCP_SYN_RECEIVED);
		c->snd_wl1 = seg->seq;
		tcp_send_ctl(c, TCP_FL_SYN | TCP_FL_ACK, c->iss);
		tcp_rtx_restart(c);
	}
}

/* ---- TIME_WAIT ---- */

/* RFC 9293 §3.10.7.4 for TIME_WAIT with RFC 6191 (timestamps) / RFC 1122 §4.2.2.13 for a new
 * SYN. Returns true when the SYN may open a new connection (c is then closed). */
static bool tcp_input_time_wait(struct tcp_conn *c, const struct tcp_seg *seg)
{
	uint32_t rcv_wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	bool paws_ok = !(c->ts_ok && seg->has_ts) || !seq_lt(seg->tsval, c->ts_recent);

	if ((seg->flags & (TCP_FL_SYN | TCP_FL_ACK | TCP_FL_RST)) == TCP_FL_SYN) {
		bool newer = (c->ts_ok && seg->has_ts) ? seq_gt(seg->tsval, c->ts_recent)
						       : seq_gt(seg->seq, c->rcv_nxt);
		if (newer) {
			TRACE(c->st, &c->trace, true, "new SYN in TIME_WAIT accepted");
			tcp_conn_done(c);
			return true;
		}
	}
	if (!paws_ok && !(seg->flags & TCP_FL_RST)) {
		STAT_INC(c->st, tcp_drop_paws);
		tcp_send_ack(c);
		return false;
	}
	if (!seq_segment_acceptable(seg->seq, tcp_seg_seqlen(seg), c->rcv_nxt, rcv_wnd)) {
		if (!(seg->flags & TCP_FL_RST)) {
			/* a retransmitted FIN (or any old segment): ACK, restart 2·MSL (Linux) */
			tcp_send_ack(c);
			tcp_enter_time_wait(c);
		}
		return false;
	}
	if (seg->flags & TCP_FL_RST) {
		if (seg->seq == c->rcv_nxt) {
			STAT_INC(c->st, tcp_rst_rx);
			tcp_conn_done(c);
		} else {
			tcp_send_challenge_ack(c);
		}
		return false;
	}
	if (seg->flags & TCP_FL_SYN) {
		tcp_send_challenge_ack(c);
		return false;
	}
	if (!(seg->flags & TCP_FL_ACK))
		return false;   /* fifth: no ACK bit, drop */
	if (seg->flags & TCP_FL_FIN) {
		tcp_send_ack(c);
		tcp_enter_time_wait(c);
	}
	return false;
}

/* ---- synchronized states (RFC 9293 §3.10.7.4) ---- */

/* RFC 2883 §4: data wholly below RCV.NXT arrived again (a spurious retransmission or a
 * network duplicate): remember it as the D-SACK block of the ACK that answers it. */
static void tcp_note_duplicate(struct tcp_conn *c, const struct tcp_seg *seg)
{
	uint32_t ready;

	if (seg->len == 0 || !seq_leq(seg->seq + seg->len, c->rcv_nxt))
		return;
	STAT_INC(c->st, tcp_dup_rx);
	if (c->sack_ok)
		tcp_asm_add(&c->asm_, seg->seq, seg->len, &ready);
}

static void tcp_process(struct tcp_conn *c, const struct tcp_seg *seg)
{
	struct ustack *st = c->st;
	uint32_t seqlen = tcp_seg_seqlen(seg);
	uint32_t rcv_wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;

	/* SYN_RECEIVED: the peer retransmitted its SYN — send our SYN-ACK again */
	if (c->state == TCP_SYN_RECEIVED && (seg->flags & (TCP_FL_SYN | TCP_FL_ACK | TCP_FL_RST)) ==
	    TCP_FL_SYN && seg->seq == c->irs) {
		tcp_retransmit_one(c, c->iss, 0, "syn");
		return;
	}

	/* simultaneous open: the peer's SYN-ACK acknowledges our SYN-ACK (Linux treats it as
	 * that ACK; RFC 9293 Figure 7 line 6) */
	if (c->state == TCP_SYN_RECEIVED && c->active_open &&
	    (seg->flags & (TCP_FL_SYN | TCP_FL_ACK | TCP_FL_RST)) == (TCP_FL_SYN | TCP_FL_ACK) &&
	    seg->seq + 1 == c->rcv_nxt && seg->ack == c->snd_max) {
		struct tcp_seg plain = *seg;
		plain.seq++;
		plain.flags &= (uint8_t)~TCP_FL_SYN;
		tcp_process(c, &plain);
		return;
	}

	/* RFC 7323 §5.3 R1: PAWS — an old timestamp makes the segment unacceptable */
	if (c->ts_ok && seg->has_ts && !(seg->flags & TCP_FL_RST) && seq_lt(seg->tsval, c->ts_recent) &&
	    stack_now_ms(st) - c->ts_recent_stamp_ms < TCP_PAWS_IDLE_MS) {
		STAT_INC(st, tcp_drop_paws);
		TRACE(st, &c->trace, false, "paws drop tsval=%u ts_recent=%u", seg->tsval, c->ts_recent);
		tcp_send_dupack(c, seg);
		return;
	}

	/* first: check the sequence number */
	if (!seq_segment_acceptable(seg->seq, seqlen, c->rcv_nxt, rcv_wnd)) {
		STAT_INC(st, tcp_drop_out_of_window);
		if (seg->flags & TCP_FL_RST)
			return;
		if (seg->flags & TCP_FL_SYN) {
			tcp_send_challenge_ack(c);   /* RFC 5961 §4.2 */
			return;
		}
		tcp_note_duplicate(c, seg);
		tcp_send_dupack(c, seg);
		return;
	}
	/* RFC 7323 §4.3: TS.Recent follows the segment that covers the last ACK we sent */
	if (c->ts_ok && seg->has_ts && seq_geq(seg->tsval, c->ts_recent) &&
	    seq_leq(seg->seq, c->last_ack_sent)) {
		c->ts_recent = seg->tsval;
		c->ts_recent_stamp_ms = stack_now_ms(st);
	}

	/* second: check the RST bit (RFC 9293 §3.10.7.4; RFC 5961 §3.2) */
	if (seg->flags & TCP_FL_RST) {
		if (seg->seq != c->rcv_nxt) {
			tcp_send_challenge_ack(c);   /* in window but not exact */
			return;
		}
		STAT_INC(st, tcp_rst_rx);
		if (c->state == TCP_SYN_RECEIVED && !c->active_open)
			tcp_conn_done(c);            /* back to LISTEN: the child just goes away */
		else if (c->state == TCP_SYN_RECEIVED)
			tcp_conn_abort(c, ECONNREFUSED);
		else if (c->state == TCP_CLOSE_WAIT)
			tcp_conn_abort(c, EPIPE);    /* Linux tcp_reset */
		else
			tcp_conn_abort(c, ECONNRESET);
		return;
	}

	/* third: check security and precedence — not used (RFC 9293 §3.10.7.4 note) */

	/* fourth: check the SYN bit (RFC 5961 §4.2: challenge ACK whatever the sequence) */
	if (seg->flags & TCP_FL_SYN) {
		if (c->state == TCP_SYN_RECEIVED && !c->active_open) {
			tcp_conn_done(c);            /* passive open: return to LISTEN */
			return;
		}
		tcp_send_challenge_ack(c);
		return;
	}

	/* fifth: check the ACK field */
	if (!(seg->flags & TCP_FL_ACK))
		return;
	if (c->state == TCP_SYN_RECEIVED) {
		if (!seq_gt(seg->ack, c->snd_una) || seq_gt(seg->ack, c->snd_max)) {
			tcp_send_reset_reply(st, seg);
			return;
		}
		/* Linux: accept queue full → drop the ACK, the child stays in SYN_RECEIVED */
		if (c->listener && c->listener->acceptq_len > c->listener->backlog) {
			STAT_INC(st, tcp_listen_overflow);
			return;
		}
		if (c->retries == 0) {
			uint32_t sample = (uint32_t)(stack_now_us(st) - c->rtt_start_us);
			tcp_rtt_sample(&c->rtt, sample);
		}
		c->retries = 0;
		tcp_synchronized(c, seg);
		c->snd_wnd = (uint32_t)seg->wnd << c->snd_wscale;
		c->max_snd_wnd = c->snd_wnd;
		tcp_set_state(c, TCP_ESTABLISHED);
		if (c->listener)
			tcp_child_established(c);
		c->wake_writer = true;
		/* fall through to ESTABLISHED processing */
	}
	/* RFC 5961 §5.2: acceptable ACKs are SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT */
	if (seq_gt(seg->ack, c->snd_max) || seq_lt(seg->ack, c->snd_una - c->max_snd_wnd)) {
		tcp_send_challenge_ack(c);
		return;
	}
	if (seq_lt(seg->ack, c->snd_una))
		; /* an old duplicate ACK: ignore it, go on with the text (RFC 9293) */
	else
		tcp_ack(c, seg);
	switch (c->state) {
	case TCP_FIN_WAIT_1:
		if (tcp_our_fin_acked(c)) {
			tcp_set_state(c, TCP_FIN_WAIT_2);
			tcp_fin_wait_2_entered(c);
		}
		break;
	case TCP_CLOSING:
		if (!tcp_our_fin_acked(c))
			return;   /* otherwise ignore the segment */
		tcp_enter_time_wait(c);
		break;
	case TCP_LAST_ACK:
		if (tcp_our_fin_acked(c))
			tcp_conn_done(c);
		return;
	default:
		break;
	}
	if (c->state == TCP_CLOSED)
		return;

	/* sixth: check the URG bit — urgent data is delivered inline (RFC 6093) */

	/* seventh and eighth: segment text, FIN */
	tcp_rx_text_and_fin(c, seg);
}

/* ---- entry ---- */

void tcp_input(struct ustack *st, struct pkt *p, const struct ipv4_info *ip)
{
	struct tcp_seg seg;
	struct tcp_tuple t;
	struct tcp_conn *c;
	size_t len = p->len;
	int rc;

	STAT_INC(st, tcp_rx);
	if (len < TCP_HDR_MIN) {
		STAT_INC(st, tcp_drop_short);
		return;
	}
	/* RFC 9293 §3.10.7: segments to or from broadcast/multicast addresses are dropped */
	if (ip->to_broadcast || ipv4_is_broadcast(st, ip->src) || (ip->src >> 28) == 14 ||
	    (ip->dst >> 28) == 14) {
		STAT_INC(st, tcp_drop_no_conn);
		return;
	}
	/* RFC 9293 §3.1: checksum over the pseudo-header, unless the kernel vouched for it */
	if (!(ip->pkt_flags & (PKT_F_CSUM_VALID | PKT_F_CSUM_PARTIAL)) &&
	    csum_fold(csum_partial(p->data, len, csum_pseudo_ipv4(ip->src, ip->dst, IPPROTO_TCP,
								   (uint16_t)len))) != 0) {
		STAT_INC(st, tcp_drop_checksum);
		return;
	}
	rc = tcp_parse(p->data, len, ip, &seg);
	if (rc == -EPROTO) {
		STAT_INC(st, tcp_drop_offset);
		return;
	}
	if (rc < 0) {
		STAT_INC(st, tcp_drop_options);
		return;
	}
	const uint8_t *opts = p->data + TCP_HDR_MIN;
	size_t optlen = tcp_hdr_len(p->data) - TCP_HDR_MIN;

	t.local_ip = ip->dst;
	t.remote_ip = ip->src;
	t.local_port = seg.dport;
	t.remote_port = seg.sport;
	c = tcp_conn_lookup(st, &t);
	if (!c) {
		struct tcp_conn *l = tcp_listener_lookup(st, ip->dst, seg.dport);
		if (l) {
			tcp_input_listen(st, l, &seg, opts, optlen);
			return;
		}
		/* RFC 9293 §3.10.7.1: CLOSED — reset anything but a reset */
		STAT_INC(st, tcp_drop_no_conn);
		tcp_send_reset_reply(st, &seg);
		return;
	}
	c->segs_in++;
	c->last_rx_us = stack_now_us(st);
	c->ka_probes = 0;
	c->rx_new_data = false;
	c->wake_writer = false;
	tcp_trace_segment(c, "in ", seg.flags, seg.seq, seg.ack, seg.wnd, seg.len, opts, optlen);
	switch (c->state) {
	case TCP_SYN_SENT:
		tcp_input_syn_sent(c, &seg);
		break;
	case TCP_TIME_WAIT:
		if (tcp_input_time_wait(c, &seg)) {
			struct tcp_conn *l = tcp_listener_lookup(st, ip->dst, seg.dport);
			tcp_conn_reap(c);
			if (l)
				tcp_input_listen(st, l, &seg, opts, optlen);
			else
				tcp_send_reset_reply(st, &seg);
			return;
		}
		break;
	default:
		tcp_process(c, &seg);
		break;
	}
	if (c->state != TCP_CLOSED) {
		tcp_output(c);
		if (c->ack_pending && !c->ack_now)
			tcp_dack_schedule(c);
	}
	tcp_wake(c, c->rx_new_data);
	tcp_conn_reap(c);
}
