/*
 * TCP output: segment building with options (RFC 9293 §3.1-3.2, RFC 7323, RFC 2018), what to
 * send when (Nagle RFC 9293 §3.7.4, cork, sender SWS avoidance §3.8.6.2.1, congestion and
 * receive windows), retransmission of one segment, resets and challenge ACKs.
 * Every segment is built in a pkt from pkt_alloc() with the data copied straight from the
 * send ring, then handed to ipv4_output (which consumes it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "checksum.h"
#include "ipv4.h"
#include "stack.h"
#include "tcp_internal.h"
#include "ustack/wire/bytes.h"

#define TCP_OOW_ACK_INTERVAL_US 500000   /* Linux net.ipv4.tcp_invalid_ratelimit */

uint32_t tcp_sndq_seq(const struct tcp_conn *c)
{
	/* the SYN occupies ISS; data starts at ISS + 1 */
	return c->snd_una == c->iss ? c->iss + 1 : c->snd_una;
}

uint32_t tcp_flight(const struct tcp_conn *c)
{
	return c->snd_nxt - c->snd_una;
}

uint32_t tcp_ts_now(const struct tcp_conn *c)
{
	return (uint32_t)(stack_now_ms(c->st)) + c->ts_offset;
}

static uint32_t tcp_rcv_space(const struct tcp_conn *c)
{
	size_t used = c->rcvq.capacity ? ringbuf_len(&c->rcvq) : 0;
	uint32_t space = used >= c->rcvbuf_limit ? 0 : (uint32_t)(c->rcvbuf_limit - used);

	if (c->window_clamp && space > c->window_clamp)
		space = c->window_clamp;
	/* what the window field can express (RFC 7323 §2.3) */
	uint32_t max = TCP_MAX_WIN_UNSCALED << (c->ws_ok ? c->rcv_wscale : 0);
	if (space > max)
		space = max;
	return space;
}

/* RFC 9293 §3.8.6.2.2 (receiver SWS avoidance) and "advertise only what the buffer can take":
 * the right edge moves only by at least min(buffer/2, MSS), and never moves left. */
uint32_t tcp_rcv_window(struct tcp_conn *c)
{
	uint32_t space = tcp_rcv_space(c);
	uint32_t cur = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t step = c->rcvbuf_limit / 2 < c->adv_mss ? c->rcvbuf_limit / 2 : c->adv_mss;

	if (space > cur && space - cur >= step)
		return space;
	return cur;
}

/* The window field for a segment, and the edge it advertises (RFC 7323 §2.3: SYNs unscaled). */
static uint16_t tcp_window_field(struct tcp_conn *c, bool syn)
{
	uint32_t wnd = tcp_rcv_window(c);
	uint32_t field;

	if (syn) {
		field = wnd > TCP_MAX_WIN_UNSCALED ? TCP_MAX_WIN_UNSCALED : wnd;
		c->rcv_adv = c->rcv_nxt + field;
		return (uint16_t)field;
	}
	if (c->ws_ok) {
		uint32_t cur = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
		/* keeping the old edge: round up so it does not move left */
		field = wnd == cur ? (wnd + (1u << c->rcv_wscale) - 1) >> c->rcv_wscale
				   : wnd >> c->rcv_wscale;
		if (field > TCP_MAX_WIN_UNSCALED)
			field = TCP_MAX_WIN_UNSCALED;
		wnd = field << c->rcv_wscale;
	} else {
		field = wnd > TCP_MAX_WIN_UNSCALED ? TCP_MAX_WIN_UNSCALED : wnd;
		wnd = field;
	}
	if (seq_gt(c->rcv_nxt + wnd, c->rcv_adv) || !seq_gt(c->rcv_adv, c->rcv_nxt))
		c->rcv_adv = c->rcv_nxt + wnd;
	return (uint16_t)field;
}

static void tcp_flags_str(uint8_t f, char *buf)
{
	char *p = buf;

	if (f & TCP_FL_SYN) *p++ = 'S';
	if (f & TCP_FL_FIN) *p++ = 'F';
	if (f & TCP_FL_RST) *p++ = 'R';
	if (f & TCP_FL_PSH) *p++ = 'P';
	if (f & TCP_FL_ACK) *p++ = '.';
	*p = '\0';
}

/* Trace line for a segment, in or out: `in  S. seq=… ack=… win=… len=… opts=…`. */
void tcp_trace_segment(struct tcp_conn *c, const char *dir, uint8_t flags, uint32_t seq,
		       uint32_t ack, uint32_t win, uint32_t len, const uint8_t *opts, size_t optlen)
{
	char fl[8], ob[160];
	size_t o = 0, i = 0;

	if (!trace_on(&c->trace))
		return;
	tcp_flags_str(flags, fl);
	ob[0] = '\0';
	while (i < optlen && o < sizeof ob - 40) {
		uint8_t kind = opts[i];
		uint8_t olen = i + 1 < optlen ? opts[i + 1] : 0;
		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (olen < 2 || i + olen > optlen)
			break;
		const char *sep = o ? "," : "";
		if (kind == TCP_OPT_MSS && olen == 4)
			o += (size_t)snprintf(ob + o, sizeof ob - o, "%smss:%u", sep, wire_get16(opts + i + 2));
		else if (kind == TCP_OPT_WS && olen == 3)
			o += (size_t)snprintf(ob + o, sizeof ob - o, "%sws:%u", sep, opts[i + 2]);
		else if (kind == TCP_OPT_SACK_PERM)
			o += (size_t)snprintf(ob + o, sizeof ob - o, "%ssack", sep);
		else if (kind == TCP_OPT_TS && olen == 10)
			o += (size_t)snprintf(ob + o, sizeof ob - o, "%sts:%u/%u", sep,
					      wire_get32(opts + i + 2), wire_get32(opts + i + 6));
		else if (kind == TCP_OPT_SACK) {
			o += (size_t)snprintf(ob + o, sizeof ob - o, "%ssack%s", sep, "");
			for (size_t b = i + 2; b + 8 <= (size_t)(i + olen) && o < sizeof ob - 24; b += 8)
				o += (size_t)snprintf(ob + o, sizeof ob - o, ":%u-%u", wire_get32(opts + b),
						      wire_get32(opts + b + 4));
		} else
			o += (size_t)snprintf(ob + o, sizeof ob - o, "%sopt%u", sep, kind);
		i += olen;
	}
	trace_event(c->st, &c->trace, false, "%s %s seq=%u ack=%u win=%u len=%u%s%s", dir,
		    fl[0] ? fl : "-", seq, ack, win, len, o ? " opts=" : "", ob);
}

/* Options of a SYN / SYN-ACK, in Linux's order: MSS, SACK-permitted, timestamps, NOP, WS. */
static size_t tcp_syn_options(struct tcp_conn *c, uint8_t *o, bool synack)
{
	size_t n = 0;
	bool ts = synack ? c->ts_ok : c->want_ts;
	bool sack = synack ? c->sack_ok : c->want_sack;
	bool ws = synack ? c->ws_ok : c->want_ws;

	o[n++] = TCP_OPT_MSS;
	o[n++] = TCP_OPT_MSS_LEN;
	wire_put16(o + n, c->adv_mss);
	n += 2;
	if (sack && ts) {
		o[n++] = TCP_OPT_SACK_PERM;
		o[n++] = TCP_OPT_SACK_PERM_LEN;
	} else if (sack) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_SACK_PERM;
		o[n++] = TCP_OPT_SACK_PERM_LEN;
	}
	if (ts) {
		if (!sack) {
			o[n++] = TCP_OPT_NOP;
			o[n++] = TCP_OPT_NOP;
		}
		o[n++] = TCP_OPT_TS;
		o[n++] = TCP_OPT_TS_LEN;
		wire_put32(o + n, tcp_ts_now(c));
		wire_put32(o + n + 4, synack ? c->ts_recent : 0);
		n += 8;
	}
	if (ws) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_WS;
		o[n++] = TCP_OPT_WS_LEN;
		o[n++] = c->rcv_wscale;
	}
	return n;
}

/* Options of other segments: timestamps (RFC 7323 §3) and SACK blocks (RFC 2018 §3). */
static size_t tcp_data_options(struct tcp_conn *c, uint8_t *o, bool with_sack)
{
	size_t n = 0;

	if (c->ts_ok) {
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_NOP;
		o[n++] = TCP_OPT_TS;
		o[n++] = TCP_OPT_TS_LEN;
		wire_put32(o + n, tcp_ts_now(c));
		wire_put32(o + n + 4, c->ts_recent);
		n += 8;
	}
	if (with_sack && c->sack_ok && (!tcp_asm_empty(&c->asm_) || c->asm_.dsack_valid)) {
		struct tcp_sack_block blocks[TCP_SACK_MAX_BLOCKS];
		int nb = tcp_asm_sack_blocks(&c->asm_, blocks, c->ts_ok ? 3 : 4, true);
		if (nb > 0) {
			o[n++] = TCP_OPT_NOP;
			o[n++] = TCP_OPT_NOP;
			o[n++] = TCP_OPT_SACK;
			o[n++] = (uint8_t)(2 + 8 * nb);
			for (int i = 0; i < nb; i++) {
				wire_put32(o + n, blocks[i].left);
				wire_put32(o + n + 4, blocks[i].right);
				n += 8;
			}
			tcp_asm_dsack_clear(&c->asm_);
		}
	}
	return n;
}

/* Build and send one segment of c: [seq, seq + len) of the send ring (data_seq is the
 * sequence number of the ring's first byte). Returns 0 or -errno. */
static int tcp_xmit(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint32_t len)
{
	struct ustack *st = c->st;
	uint8_t opts[TCP_OPT_SPACE_MAX];
	size_t optlen, hlen;
	struct pkt *p;
	uint8_t *h;
	uint16_t win;
	uint32_t ack = (flags & TCP_FL_ACK) ? c->rcv_nxt : 0;
	int rc;

	if (flags & TCP_FL_SYN)
		optlen = tcp_syn_options(c, opts, (flags & TCP_FL_ACK) != 0);
	else
		optlen = tcp_data_options(c, opts, (flags & TCP_FL_ACK) && !(flags & TCP_FL_RST));
	hlen = TCP_HDR_MIN + optlen;
	p = pkt_alloc(hlen + len);
	if (!p)
		return -ENOBUFS;
	h = pkt_put(p, hlen + len);
	win = (flags & TCP_FL_RST) ? 0 : tcp_window_field(c, (flags & TCP_FL_SYN) != 0);
	wire_put16(h + TCP_OFF_SPORT, c->tuple.local_port);
	wire_put16(h + TCP_OFF_DPORT, c->tuple.remote_port);
	wire_put32(h + TCP_OFF_SEQ, seq);
	wire_put32(h + TCP_OFF_ACK, ack);
	h[TCP_OFF_DOFF] = (uint8_t)((hlen / 4) << 4);
	h[TCP_OFF_FLAGS] = flags;
	wire_put16(h + TCP_OFF_WIN, win);
	wire_put16(h + TCP_OFF_CSUM, 0);
	wire_put16(h + TCP_OFF_URG, 0);
	memcpy(h + TCP_HDR_MIN, opts, optlen);
	if (len > 0) {
		uint32_t off = seq - tcp_sndq_seq(c);
		size_t got = ringbuf_peek(&c->sndq, off, h + hlen, len);
		if (got != len) {
			pkt_free(p);
			return -EINVAL;
		}
	}
	uint32_t sum = csum_pseudo_ipv4(c->tuple.local_ip, c->tuple.remote_ip, IPPROTO_TCP,
					(uint16_t)(hlen + len));
	wire_put16(h + TCP_OFF_CSUM, csum_fold(csum_partial(h, hlen + len, sum)));

	tcp_trace_segment(c, "out", flags, seq, ack, win, len, opts, optlen);
	if (c->sack_ok && c->state >= TCP_ESTABLISHED && !(flags & (TCP_FL_SYN | TCP_FL_RST)))
		tcp_rack_on_send(&c->rack, seq, seq + len + ((flags & TCP_FL_FIN) ? 1u : 0u),
				 stack_now_us(st));   /* RFC 8985 §6.1: per-segment xmit_ts */
	STAT_INC(st, tcp_tx);
	c->segs_out++;
	if (len) {
		c->data_segs_out++;
		c->bytes_sent += len;
		c->last_tx_data_us = stack_now_us(st);
	}
	if (flags & TCP_FL_ACK) {
		c->ack_pending = false;
		c->ack_now = false;
		c->rcv_unacked = 0;
		c->last_ack_sent = c->rcv_nxt;
		if (c->quickacks)
			c->quickacks--;
		tcp_dack_cancel(c);
	}
	rc = ipv4_output(st, p, c->tuple.local_ip, c->tuple.remote_ip, IPPROTO_TCP, IPV4_OUT_DF);
	if (rc == -EHOSTUNREACH || rc == -ENETUNREACH)
		c->soft_error = -rc;
	return rc;
}

int tcp_send_ctl(struct tcp_conn *c, uint8_t flags, uint32_t seq)
{
	return tcp_xmit(c, seq, flags, 0);
}

void tcp_send_ack(struct tcp_conn *c)
{
	tcp_xmit(c, c->snd_nxt, TCP_FL_ACK, 0);
}

/* RFC 5961 §7 and Linux's per-connection limit (tcp_invalid_ratelimit): at most one challenge
 * or out-of-window ACK per 500 ms. Returns true when one may be sent now. */
static bool tcp_oow_ack_allowed(struct tcp_conn *c)
{
	uint64_t now = stack_now_us(c->st);

	if (c->last_oow_ack_us && now - c->last_oow_ack_us < TCP_OOW_ACK_INTERVAL_US)
		return false;
	c->last_oow_ack_us = now;
	return true;
}

void tcp_send_challenge_ack(struct tcp_conn *c)
{
	if (!tcp_oow_ack_allowed(c)) {
		TRACE(c->st, &c->trace, false, "challenge ack rate-limited");
		return;
	}
	STAT_INC(c->st, tcp_challenge_acks);
	TRACE(c->st, &c->trace, false, "challenge ack");
	tcp_send_ack(c);
}

/* Duplicate ACK for an unacceptable segment (RFC 9293 §3.10.7.4 first); pure ACKs are rate
 * limited like Linux's tcp_oow_rate_limited, segments with data are always answered. */
void tcp_send_dupack(struct tcp_conn *c, const struct tcp_seg *seg)
{
	if (seg->len == 0 && !(seg->flags & TCP_FL_SYN) && !tcp_oow_ack_allowed(c))
		return;
	tcp_send_ack(c);
}

/* RFC 9293 §3.10.7.1 / §3.10.7.2: a reset for a segment that has no connection. */
void tcp_send_reset_reply(struct ustack *st, const struct tcp_seg *seg)
{
	struct pkt *p;
	uint8_t *h;
	uint32_t seq, ack;
	uint8_t flags;

	if (seg->flags & TCP_FL_RST)
		return;
	if (seg->flags & TCP_FL_ACK) {
		seq = seg->ack;
		ack = 0;
		flags = TCP_FL_RST;
	} else {
		seq = 0;
		ack = seg->seq + tcp_seg_seqlen(seg);
		flags = TCP_FL_RST | TCP_FL_ACK;
	}
	p = pkt_alloc(TCP_HDR_MIN);
	if (!p)
		return;
	h = pkt_put(p, TCP_HDR_MIN);
	memset(h, 0, TCP_HDR_MIN);
	wire_put16(h + TCP_OFF_SPORT, seg->dport);
	wire_put16(h + TCP_OFF_DPORT, seg->sport);
	wire_put32(h + TCP_OFF_SEQ, seq);
	wire_put32(h + TCP_OFF_ACK, ack);
	h[TCP_OFF_DOFF] = (TCP_HDR_MIN / 4) << 4;
	h[TCP_OFF_FLAGS] = flags;
	uint32_t sum = csum_pseudo_ipv4(seg->dst, seg->src, IPPROTO_TCP, TCP_HDR_MIN);
	wire_put16(h + TCP_OFF_CSUM, csum_fold(csum_partial(h, TCP_HDR_MIN, sum)));
	STAT_INC(st, tcp_tx);
	STAT_INC(st, tcp_rst_tx);
	ipv4_output(st, p, seg->dst, seg->src, IPPROTO_TCP, IPV4_OUT_DF);
}

/* RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST> (with ACK like Linux). */
void tcp_send_active_reset(struct tcp_conn *c)
{
	if (c->state < TCP_SYN_RECEIVED || c->state == TCP_TIME_WAIT)
		return;
	STAT_INC(c->st, tcp_rst_tx);
	tcp_xmit(c, c->snd_nxt, TCP_FL_RST | TCP_FL_ACK, 0);
}

static uint32_t tcp_cwnd(const struct tcp_conn *c)
{
	return c->cc.ops ? c->cc.cwnd : TCP_INIT_CWND_SEGS * c->snd_mss;
}

/* Account a (re)transmission of [seq, seq+len): statistics, Karn, and what undo needs
 * (which bytes were ever retransmitted, how many retransmissions the episode made, the TSval
 * of its first one for Eifel detection, RFC 3522 §2). */
static void tcp_account_retrans(struct tcp_conn *c, uint32_t seq, uint32_t len)
{
	STAT_INC(c->st, tcp_retrans);
	c->total_retrans++;
	c->retrans_out++;
	c->bytes_retrans += len;
	c->rtt_timing = false;   /* Karn (RFC 6298 §3) */
	if (c->state < TCP_ESTABLISHED)
		return;
	c->rexmit_high = seq_max(c->rexmit_high, seq + len);
	if (!c->undo_valid)
		return;
	if (c->undo_retrans++ == 0) {
		c->episode_tsval = tcp_ts_now(c);
		c->episode_start_us = stack_now_us(c->st);
	}
	if (!c->retrans_ts_valid) {
		c->retrans_ts_valid = true;
		c->retrans_tsval = tcp_ts_now(c);
	}
}

void tcp_retransmit_one(struct tcp_conn *c, uint32_t seq, uint32_t max_len, const char *reason)
{
	uint32_t data_end = tcp_sndq_seq(c) + (uint32_t)ringbuf_len(&c->sndq);
	uint32_t len = 0;
	uint8_t flags = TCP_FL_ACK;

	if (c->state == TCP_SYN_SENT) {
		TRACE(c->st, &c->trace, false, "retransmit seq=%u len=0 reason=%s", c->iss, reason);
		tcp_account_retrans(c, c->iss, 0);
		tcp_xmit(c, c->iss, TCP_FL_SYN, 0);
		return;
	}
	if (c->state == TCP_SYN_RECEIVED && c->snd_una == c->iss) {
		TRACE(c->st, &c->trace, false, "retransmit seq=%u len=0 reason=%s", c->iss, reason);
		tcp_account_retrans(c, c->iss, 0);
		tcp_xmit(c, c->iss, TCP_FL_SYN | TCP_FL_ACK, 0);
		return;
	}
	if (seq_lt(seq, data_end)) {
		len = data_end - seq;
		if (len > max_len)
			len = max_len;
		if (len > c->snd_mss)
			len = c->snd_mss;
	}
	if (c->fin_sent && seq + len == c->fin_seq && seq_lt(seq + len, c->snd_max) &&
	    (len < c->snd_mss || len == 0))
		flags |= TCP_FL_FIN;
	if (len == 0 && !(flags & TCP_FL_FIN))
		return;
	if (len)
		flags |= TCP_FL_PSH * (seq + len == data_end);
	TRACE(c->st, &c->trace, false, "retransmit seq=%u len=%u reason=%s", seq, len, reason);
	tcp_account_retrans(c, seq, len);
	tcp_xmit(c, seq, flags, len);
}

/* Sender-side silly window avoidance and Nagle (RFC 9293 §3.7.4, §3.8.6.2.1): may a
 * segment of len bytes (less than a full one) go now? */
static bool tcp_small_segment_ok(const struct tcp_conn *c, uint32_t len, uint32_t avail,
				 bool fin_follows)
{
	if (len < avail) {
		/* limited by the peer's window: only if that is at least half its largest */
		return len >= c->max_snd_wnd / 2 && c->max_snd_wnd > 0;
	}
	if (fin_follows)
		return true;
	if ((c->cork || c->corked_by_more))
		return false;
	if (!c->nodelay && c->snd_nxt != c->snd_una)
		return false;   /* Nagle: small data waits while data is unacknowledged */
	return true;
}

/* RFC 6675 §4 SetPipe() / RFC 8985: with SACK, data the peer SACKed or that RACK deems lost
 * has left the network: it does not count against cwnd while loss detection (DupThresh or
 * RACK's reordering window) is still deciding about a hole, so sending does not stall. Bytes
 * of snd_una..snd_nxt not in the pipe; 0 without SACK information or after an RTO. */
static uint32_t tcp_flight_not_in_pipe(const struct tcp_conn *c)
{
	uint32_t flight = tcp_flight(c), pipe;

	if (!c->sack_ok || c->in_loss || c->snd_nxt != c->snd_max ||
	    tcp_sack_sacked_bytes(&c->sb) == 0)
		return 0;
	pipe = tcp_sack_pipe(&c->sb, c->snd_max, c->snd_mss);
	return pipe < flight ? flight - pipe : 0;
}

/* Send new data (and the FIN) from snd_nxt as the windows allow. Returns segments sent.
 * probe (RFC 8985 §7.3): one segment regardless of cwnd, Nagle and cork. */
static int tcp_output_data(struct tcp_conn *c, bool probe)
{
	uint32_t not_in_pipe = tcp_flight_not_in_pipe(c);
	int sent = 0;

	for (;;) {
		uint32_t seq_base = tcp_sndq_seq(c);
		uint32_t data_end = seq_base + (uint32_t)ringbuf_len(&c->sndq);
		uint32_t wnd_end = c->snd_una + c->snd_wnd;
		uint32_t flight = tcp_flight(c) - not_in_pipe;
		uint32_t cwnd = tcp_cwnd(c);
		uint32_t avail, len, room;
		uint8_t flags = TCP_FL_ACK;
		bool fin_follows;

		if (seq_lt(c->snd_nxt, data_end)) {
			avail = data_end - c->snd_nxt;
			len = avail < c->snd_mss ? avail : c->snd_mss;
			room = seq_gt(wnd_end, c->snd_nxt) ? wnd_end - c->snd_nxt : 0;
			if (len > room)
				len = room;
			if (c->in_recovery && c->sack_ok)
				break;   /* SACK recovery sends through tcp_sack_recovery_send */
			room = cwnd > flight ? cwnd - flight : 0;
			if (len == 0 || (room < len && !probe))
				break;   /* receive window closed (persist) or cwnd-limited */
			fin_follows = c->fin_queued && c->snd_nxt + len == data_end;
			if (len < c->snd_mss && !probe &&
			    !tcp_small_segment_ok(c, len, avail, fin_follows))
				break;
			if (c->snd_nxt + len == data_end)
				flags |= TCP_FL_PSH;
			if (fin_follows)
				flags |= TCP_FL_FIN;
		} else if (c->fin_queued && c->snd_nxt == data_end &&
			   (!c->fin_sent || seq_lt(c->snd_nxt, c->snd_max))) {
			len = 0;
			flags |= TCP_FL_FIN;
		} else {
			break;
		}
		bool retrans = seq_lt(c->snd_nxt, c->snd_max);
		if (retrans) {
			TRACE(c->st, &c->trace, false, "retransmit seq=%u len=%u reason=rto", c->snd_nxt, len);
			tcp_account_retrans(c, c->snd_nxt, len);
		} else if (len && !c->rtt_timing) {
			c->rtt_timing = true;
			c->rtt_seq = c->snd_nxt + len;
			c->rtt_start_us = stack_now_us(c->st);
		}
		if (flags & TCP_FL_FIN) {
			c->fin_sent = true;
			c->fin_seq = c->snd_nxt + len;
		}
		if (tcp_xmit(c, c->snd_nxt, flags, len) == -ENOBUFS)
			break;
		c->snd_nxt += len + ((flags & TCP_FL_FIN) ? 1 : 0);
		if (seq_gt(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		sent++;
		if (!c->rtx_deadline_us)
			tcp_rtx_restart(c);   /* RFC 6298 §5.1 */
		if (probe)
			break;
	}
	return sent;
}

/* RFC 6675 §5 (C): while cwnd - pipe >= 1 SMSS, send what NextSeg() names. */
void tcp_sack_recovery_send(struct tcp_conn *c)
{
	uint32_t pipe = tcp_sack_pipe(&c->sb, c->snd_max, c->snd_mss);
	uint32_t data_end = tcp_sndq_seq(c) + (uint32_t)ringbuf_len(&c->sndq);
	struct tcp_sack_seg seg;

	for (int guard = 0; guard < 1024 && tcp_cwnd(c) >= pipe + c->snd_mss; guard++) {
		uint32_t wnd_end = c->snd_una + c->snd_wnd;
		uint32_t new_bytes = seq_lt(c->snd_max, data_end) ? data_end - c->snd_max : 0;
		uint32_t room = seq_gt(wnd_end, c->snd_max) ? wnd_end - c->snd_max : 0;
		if (new_bytes > room)
			new_bytes = room;
		if (!tcp_sack_next_seg(&c->sb, c->snd_max, c->snd_mss, new_bytes, &seg) || seg.len == 0)
			break;
		if (seg.kind == TCP_SACK_SEG_NEW) {
			c->snd_nxt = c->snd_max;
			tcp_xmit(c, seg.seq, TCP_FL_ACK | (seg.seq + seg.len == data_end ? TCP_FL_PSH : 0),
				 seg.len);
			c->snd_nxt = c->snd_max = seg.seq + seg.len;
		} else {
			STAT_INC(c->st, tcp_retrans_sack);
			tcp_retransmit_one(c, seg.seq, seg.len, "sack");
		}
		tcp_sack_mark_sent(&c->sb, &seg);
		pipe += seg.len;
	}
}

void tcp_output(struct tcp_conn *c)
{
	int sent = 0;

	switch (c->state) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT_1:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		if (c->in_recovery && c->sack_ok)
			tcp_sack_recovery_send(c);
		sent = tcp_output_data(c, false);
		if (sent)
			tcp_tlp_schedule(c);   /* RFC 8985 §7.2: new data sent */
		break;
	case TCP_SYN_RECEIVED:
		/* RFC 9293 §3.10.4: a FIN asked for in SYN_RECEIVED waits until established */
		break;
	default:
		break;
	}
	if (!sent && c->ack_now && c->state >= TCP_SYN_RECEIVED)
		tcp_send_ack(c);
	tcp_timer_update(c);
}

/* RFC 8985 §7.3: the probe timeout expired with data outstanding and no ACK since: send one
 * segment of new data if the receive window allows, else retransmit the last segment. Either
 * way the ACK it elicits carries SACK information RACK can use (§7.4 handles the ACK). */
void tcp_tlp_expired(struct tcp_conn *c)
{
	struct tcp_rack *r = &c->rack;
	uint32_t seq = c->snd_max, end = c->snd_max;

	r->tlp_deadline_us = 0;
	if (!c->sack_ok || c->in_recovery || c->in_loss || r->tlp_active ||
	    c->snd_una == c->snd_max || c->state < TCP_ESTABLISHED || c->state == TCP_TIME_WAIT)
		return;
	if (seq_lt(c->snd_nxt, c->snd_max) || tcp_output_data(c, true) == 0) {
		if (!tcp_rack_last_seg(r, &seq, &end) || seq_lt(seq, c->snd_una))
			seq = c->snd_max - (tcp_flight(c) < c->snd_mss ? tcp_flight(c) : c->snd_mss);
		tcp_retransmit_one(c, seq, c->snd_mss, "tlp");
		end = c->snd_max;
		r->tlp_retrans = true;
	} else {
		r->tlp_retrans = false;
	}
	r->tlp_active = true;
	r->tlp_end_seq = c->snd_max;
	r->tlp_tsval = tcp_ts_now(c);
	STAT_INC(c->st, tcp_tlp_probes);
	TRACE(c->st, &c->trace, false, "tlp probe seq=%u end=%u new=%d", seq, end, !r->tlp_retrans);
	tcp_rtx_restart(c);   /* §7.3: the RTO guards the probe */
}

/* After the application read: announce a window that opened a lot (Linux tcp_cleanup_rbuf:
 * the new window is at least twice the advertised one), so a stalled sender resumes. */
void tcp_maybe_window_update(struct tcp_conn *c)
{
	uint32_t cur, space;

	if (c->state < TCP_ESTABLISHED || c->state == TCP_TIME_WAIT || c->fin_rcvd)
		return;
	cur = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	space = tcp_rcv_window(c);
	if (space > cur && space - cur >= c->adv_mss && space >= 2 * cur) {
		TRACE(c->st, &c->trace, false, "window update %u -> %u", cur, space);
		tcp_send_ack(c);
	}
}

void tcp_send_window_probe(struct tcp_conn *c)
{
	uint32_t data_end = tcp_sndq_seq(c) + (uint32_t)ringbuf_len(&c->sndq);

	if (!seq_lt(c->snd_nxt, data_end))
		return;
	TRACE(c->st, &c->trace, false, "probe seq=%u len=1 reason=probe", c->snd_nxt);
	c->rtt_timing = false;
	if (tcp_xmit(c, c->snd_nxt, TCP_FL_ACK, 1) == -ENOBUFS)
		return;
	c->snd_nxt++;
	if (seq_gt(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	tcp_rtx_restart(c);
}
