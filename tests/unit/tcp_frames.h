/*
 * tcp_frames.h - TCP test harness on top of frames.h: a memory-netdev stack at 192.0.2.2/24,
 * a scripted peer 192.0.2.1 whose segments are built with frames.h (its own checksum code),
 * sockets driven through tcp_sock_proto, and a parser for the segments the stack sends.
 *
 * Include from one tests/unit/test_tcp_*.c; everything is static.
 */
#ifndef USTACK_TESTS_TCP_FRAMES_H
#define USTACK_TESTS_TCP_FRAMES_H

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "pkt.h"
#include "sock.h"
#include "stack.h"
#include "tcp.h"
#include "tcp_internal.h"

#define OUR_IP 0xc0000202u     /* 192.0.2.2 */
#define PEER_IP 0xc0000201u    /* 192.0.2.1 */
#define PEER_PORT 40000
#define SRV_PORT 8080
#define PEER_ISS 1000000u

static const uint8_t tf_our_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t tf_peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t tf_bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct ustack *st;
static uint8_t tf_frame[FRAMES_MAX];
static uint8_t tf_l4[FRAMES_MAX];
static uint8_t tf_out[FRAMES_MAX];

/* A segment the stack sent, parsed. */
struct tseg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint32_t len;
	const uint8_t *data;
	bool csum_ok;
	bool has_mss, has_ws, sack_perm, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	int nsack;
	uint32_t sack[4][2];
};

/* Options the scripted peer puts in its segments. */
struct peer_opts {
	bool mss, ws, sack_perm, ts;
	uint16_t mss_val;
	uint8_t ws_val;
	uint32_t tsval, tsecr;
	int nsack;
	uint32_t sack[4][2];
};

static inline void tf_setup(void)
{
	struct frames_arp a = { .op = 1, .spa = PEER_IP, .tpa = OUR_IP };
	size_t n;

	st = stack_create_test(OUR_IP, 24, tf_our_mac, 1500);
	cr_assert_not_null(st);
	if (getenv("TF_TRACE"))
		snprintf(st->cfg.trace_dir, sizeof st->cfg.trace_dir, "%s", getenv("TF_TRACE"));
	/* the peer asks for our MAC: we learn its address, no ARP wait on sends */
	memcpy(a.sha, tf_peer_mac, 6);
	n = frames_eth_arp(tf_frame, tf_bcast_mac, &a);
	stack_input_frame(st, tf_frame, n, 0);
	netdev_memory_clear(&st->netdev);
}

static inline void tf_teardown(void)
{
	stack_destroy(st);
	pkt_pool_drain();
}

static inline size_t tf_options(uint8_t *o, const struct peer_opts *po)
{
	size_t n = 0;

	if (!po)
		return 0;
	if (po->mss) {
		o[n++] = 2; o[n++] = 4;
		frames_put16(o + n, po->mss_val ? po->mss_val : 1460);
		n += 2;
	}
	if (po->sack_perm) {
		o[n++] = 1; o[n++] = 1; o[n++] = 4; o[n++] = 2;
	}
	if (po->ts) {
		o[n++] = 1; o[n++] = 1; o[n++] = 8; o[n++] = 10;
		frames_put32(o + n, po->tsval);
		frames_put32(o + n + 4, po->tsecr);
		n += 8;
	}
	if (po->ws) {
		o[n++] = 1; o[n++] = 3; o[n++] = 3; o[n++] = po->ws_val;
	}
	if (po->nsack) {
		o[n++] = 1; o[n++] = 1; o[n++] = 5; o[n++] = (uint8_t)(2 + 8 * po->nsack);
		for (int i = 0; i < po->nsack; i++) {
			frames_put32(o + n, po->sack[i][0]);
			frames_put32(o + n + 4, po->sack[i][1]);
			n += 8;
		}
	}
	while (n % 4)
		o[n++] = 0;
	return n;
}

/* Inject a segment from the peer (PEER_IP:sport → OUR_IP:dport). */
static inline void tf_inject_ports(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
			    uint32_t ack, uint16_t win, const struct peer_opts *po,
			    const void *data, size_t len)
{
	uint8_t opts[40];
	struct frames_tcp t = { .sport = sport, .dport = dport, .seq = seq, .ack = ack,
				.flags = flags, .window = win };
	size_t l4len, n;

	t.options_len = tf_options(opts, po);
	t.options = opts;
	t.payload = data;
	t.payload_len = len;
	l4len = frames_tcp(tf_l4, PEER_IP, OUR_IP, &t);
	n = frames_eth_ipv4_l4(tf_frame, tf_our_mac, tf_peer_mac, PEER_IP, OUR_IP,
			       FRAMES_PROTO_TCP, tf_l4, l4len);
	stack_input_frame(st, tf_frame, n, 0);
}

static inline bool tf_parse_tcp(const uint8_t *f, size_t n, struct tseg *s)
{
	struct frames_parsed p;
	size_t hl;

	memset(s, 0, sizeof(*s));
	if (!frames_parse(f, n, &p) || !p.ip || p.proto != FRAMES_PROTO_TCP || p.l4_len < 20)
		return false;
	const uint8_t *h = p.l4;
	s->sport = frames_get16(h);
	s->dport = frames_get16(h + 2);
	s->seq = frames_get32(h + 4);
	s->ack = frames_get32(h + 8);
	hl = (size_t)(h[12] >> 4) * 4;
	s->flags = h[13];
	s->win = frames_get16(h + 14);
	s->csum_ok = p.l4_csum_ok;
	s->data = h + hl;
	s->len = (uint32_t)(p.l4_len - hl);
	for (size_t i = 20; i < hl;) {
		uint8_t k = h[i];
		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		uint8_t l = h[i + 1];
		if (k == 2) { s->has_mss = true; s->mss = frames_get16(h + i + 2); }
		if (k == 3) { s->has_ws = true; s->ws = h[i + 2]; }
		if (k == 4) s->sack_perm = true;
		if (k == 8) { s->has_ts = true; s->tsval = frames_get32(h + i + 2); s->tsecr = frames_get32(h + i + 6); }
		if (k == 5)
			for (size_t b = i + 2; b + 8 <= i + l && s->nsack < 4; b += 8, s->nsack++) {
				s->sack[s->nsack][0] = frames_get32(h + b);
				s->sack[s->nsack][1] = frames_get32(h + b + 4);
			}
		if (l < 2)
			break;
		i += l;
	}
	return true;
}

/* The next TCP segment the stack sent (ARP frames skipped); false if none. Its data stays
 * valid until the next pop. */
static inline bool tf_pop(struct tseg *s)
{
	size_t n;

	while ((n = netdev_memory_pop(&st->netdev, tf_out, sizeof tf_out)) > 0)
		if (tf_parse_tcp(tf_out, n, s))
			return true;
	memset(s, 0, sizeof(*s));
	return false;
}

static inline int tf_count_sent(void)
{
	struct tseg s;
	int n = 0;

	while (tf_pop(&s))
		n++;
	return n;
}

/* ---- sockets ---- */

static inline struct sock *tf_socket(void)
{
	struct sock *s = NULL;

	cr_assert_eq(sock_new(st, &tcp_sock_proto, false, true, &s), 0);
	return s;
}

static inline struct sockaddr_in tf_sin(uint32_t ip, uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(ip);
	a.sin_port = htons(port);
	return a;
}

static inline int tf_connect(struct sock *s, uint16_t port)
{
	struct sockaddr_in a = tf_sin(PEER_IP, port);
	return tcp_sock_proto.connect(st, s, &a);
}

static inline ssize_t tf_send(struct sock *s, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };
	return tcp_sock_proto.sendmsg(st, s, &iov, 1, NULL, 0);
}

static inline ssize_t tf_recv(struct sock *s, void *buf, size_t len, int flags)
{
	struct iovec iov = { buf, len };
	int mf = 0;
	return tcp_sock_proto.recvmsg(st, s, &iov, 1, NULL, flags, &mf);
}

static inline struct tcp_conn *tf_conn(struct sock *s) { return s->pcb; }

static inline int tf_poll(struct sock *s) { return tcp_sock_proto.poll_mask(st, s); }

static inline void tf_close(struct sock *s)
{
	tcp_sock_proto.release(st, s);
	sock_free(st, s);
}

/* Active open: connect, answer the SYN with a SYN-ACK (po options), take the ACK.
 * Returns the socket; *iss gets our ISS. */
static inline struct sock *tf_establish_active(const struct peer_opts *po, uint32_t *iss, uint16_t win)
{
	struct sock *s = tf_socket();
	struct tseg syn, ack;

	cr_assert_eq(tf_connect(s, SRV_PORT), -EINPROGRESS);
	cr_assert(tf_pop(&syn), "no SYN sent");
	cr_assert_eq(syn.flags, FRAMES_TCP_SYN);
	tf_inject_ports(SRV_PORT, syn.sport, FRAMES_TCP_SYN | FRAMES_TCP_ACK, PEER_ISS, syn.seq + 1,
			win, po, NULL, 0);
	cr_assert(tf_pop(&ack), "no ACK of the SYN-ACK");
	cr_assert_eq(ack.flags, FRAMES_TCP_ACK);
	cr_assert_eq(ack.ack, PEER_ISS + 1);
	cr_assert_eq(tf_conn(s)->state, TCP_ESTABLISHED);
	if (iss)
		*iss = syn.seq;
	return s;
}

static inline struct sock *tf_listen(uint16_t port, int backlog)
{
	struct sock *l = tf_socket();
	struct sockaddr_in a = tf_sin(0, port);

	cr_assert_eq(tcp_sock_proto.bind(st, l, &a), 0);
	cr_assert_eq(tcp_sock_proto.listen(st, l, backlog), 0);
	return l;
}

/* Passive open from the peer's port pport: SYN, our SYN-ACK, the peer's ACK, accept. */
static inline struct sock *tf_establish_passive(struct sock *l, uint16_t pport, const struct peer_opts *po,
					 uint32_t *iss, uint16_t win)
{
	struct tseg sa;
	struct sock *c = NULL;

	tf_inject_ports(pport, SRV_PORT, FRAMES_TCP_SYN, PEER_ISS, 0, win, po, NULL, 0);
	cr_assert(tf_pop(&sa), "no SYN-ACK");
	cr_assert_eq(sa.flags, FRAMES_TCP_SYN | FRAMES_TCP_ACK);
	cr_assert_eq(sa.ack, PEER_ISS + 1);
	struct peer_opts ack_po = { 0 };
	if (po && po->ts) {
		ack_po.ts = true;
		ack_po.tsval = po->tsval + 1;
		ack_po.tsecr = sa.tsval;
	}
	tf_inject_ports(pport, SRV_PORT, FRAMES_TCP_ACK, PEER_ISS + 1, sa.seq + 1, win,
			po ? &ack_po : NULL, NULL, 0);
	cr_assert_eq(tcp_sock_proto.accept(st, l, &c), 0);
	if (iss)
		*iss = sa.seq;
	return c;
}

#endif
