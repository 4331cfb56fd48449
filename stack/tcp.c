/*
 * TCP (RFC 9293): control block lifecycle, demultiplexing tables, port choice (RFC 6056),
 * initial sequence numbers (RFC 6528) and the socket operations (tcp_sock_proto).
 * Segment arrival is tcp_in.c, segment building tcp_out.c, timers tcp_timer.c.
 */
#include <errno.h>
#include <linux/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "arp.h"
#include "icmp.h"
#include "log.h"
#include "sock.h"
#include "stack.h"
#include "tcp_internal.h"

/* send/receive rings: the buffer limits grow up to this when the application did not set
 * SO_SNDBUF/SO_RCVBUF (Linux autotuning, tcp_wmem[2]/tcp_rmem[2] scaled down) */
#define TCP_AUTO_BUF_MAX (4u * 1024 * 1024)

static const char *const tcp_state_names[TCP_NSTATES] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
	"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
	return (unsigned)s < TCP_NSTATES ? tcp_state_names[s] : "?";
}

/* The only writer of c->state (style.md). */
void tcp_set_state(struct tcp_conn *c, enum tcp_state s)
{
	if (c->state == s)
		return;
	TRACE(c->st, &c->trace, true, "state %s => %s", tcp_state_name(c->state), tcp_state_name(s));
	c->state = s;
	if (s >= TCP_SYN_SENT)
		c->had_connection = true;
	/* nothing more will be sent or accepted: a connection waiting out TIME_WAIT (or closed)
	 * gives its ring storage back unless unread data is still in it */
	if (s == TCP_TIME_WAIT || s == TCP_CLOSED) {
		ringbuf_release(&c->sndq);
		ringbuf_release(&c->rcvq);
	}
	if (c->st->exiting)
		pthread_cond_broadcast(&c->st->exit_cond);
}

/* Connections that still have data or a FIN to deliver (us_exit waits for them). */
unsigned tcp_unfinished(struct ustack *st)
{
	struct tcp_conn *c, *tmp;
	unsigned n = 0;

	if (!st->tcp)
		return 0;
	HASH_ITER(hh, st->tcp->conns, c, tmp) {
		switch (c->state) {
		case TCP_SYN_SENT: case TCP_SYN_RECEIVED: case TCP_ESTABLISHED: case TCP_FIN_WAIT_1:
		case TCP_CLOSE_WAIT: case TCP_CLOSING: case TCP_LAST_ACK:
			n++;
			break;
		default:
			break;
		}
	}
	return n;
}

/* ---- keyed hash (SipHash-2-4) for ISNs, timestamp offsets and port offsets ---- */

#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3)                                                        \
	do {                                                                             \
		v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32);        \
		v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;                               \
		v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;                               \
		v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32);        \
	} while (0)

static uint64_t tcp_siphash(const uint8_t key[16], const uint8_t *in, size_t len)
{
	uint64_t k0, k1, m, b = (uint64_t)len << 56;
	uint64_t v0, v1, v2, v3;
	size_t i, full = len & ~(size_t)7;

	memcpy(&k0, key, 8);
	memcpy(&k1, key + 8, 8);
	v0 = k0 ^ 0x736f6d6570736575ull;
	v1 = k1 ^ 0x646f72616e646f6dull;
	v2 = k0 ^ 0x6c7967656e657261ull;
	v3 = k1 ^ 0x7465646279746573ull;
	for (i = 0; i < full; i += 8) {
		memcpy(&m, in + i, 8);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t tcp_tuple_hash(struct ustack *st, const struct tcp_tuple *t, uint8_t domain,
			       bool with_local_port)
{
	uint8_t buf[13];

	memcpy(buf, &t->local_ip, 4);
	memcpy(buf + 4, &t->remote_ip, 4);
	memcpy(buf + 8, &t->remote_port, 2);
	if (with_local_port)
		memcpy(buf + 10, &t->local_port, 2);
	else
		memset(buf + 10, 0, 2);
	buf[12] = domain;
	return tcp_siphash(st->secret, buf, sizeof buf);
}

/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 µs
 * clock. */
uint32_t tcp_isn(struct ustack *st, const struct tcp_tuple *t)
{
	return (uint32_t)(stack_now_us(st) / 4) + (uint32_t)tcp_tuple_hash(st, t, 'I', true);
}

/* RFC 7323 §7.1 / Linux: a per-connection random offset for TSval, from the addresses. */
uint32_t tcp_ts_offset(struct ustack *st, const struct tcp_tuple *t)
{
	struct tcp_tuple a = { t->local_ip, t->remote_ip, 0, 0 };

	return (uint32_t)tcp_tuple_hash(st, &a, 'T', false);
}

/* ---- tables ---- */

int tcp_init(struct ustack *st)
{
	st->tcp = calloc(1, sizeof(*st->tcp));
	if (!st->tcp)
		return -ENOMEM;
	st->tcp->port_counter = (uint32_t)st->secret[2] | ((uint32_t)st->secret[3] << 8);
	return 0;
}

static void tcp_conn_free(struct tcp_conn *c);

void tcp_fini(struct ustack *st)
{
	struct tcp_table *tt = st->tcp;
	struct tcp_conn *c, *tmp;
	struct tcp_listen_entry *e, *etmp;

	if (!tt)
		return;
	/* every conn is hashed or bound; listeners and unbound conns are reached via sockets */
	HASH_ITER(hh, tt->conns, c, tmp) {
		if (c->sock) {
			c->sock->pcb = NULL;
			c->sock = NULL;
		}
		tcp_conn_free(c);
	}
	/* then everything still bound (listeners, bound sockets): a bucket goes with its last conn */
	while (tt->buckets) {
		c = tt->buckets->conns;
		if (c->sock) {
			c->sock->pcb = NULL;
			c->sock = NULL;
		}
		tcp_conn_free(c);
	}
	HASH_ITER(hh, tt->listeners, e, etmp) {
		HASH_DELETE(hh, tt->listeners, e);
		free(e);
	}
	/* remaining buckets were freed with their last conn */
	free(tt);
	st->tcp = NULL;
}

struct tcp_conn *tcp_conn_lookup(struct ustack *st, const struct tcp_tuple *t)
{
	struct tcp_conn *c;

	HASH_FIND(hh, st->tcp->conns, t, sizeof(*t), c);
	return c;
}

int tcp_conn_hash(struct tcp_conn *c)
{
	if (c->hashed)
		return 0;
	if (tcp_conn_lookup(c->st, &c->tuple))
		return -EADDRINUSE;
	HASH_ADD(hh, c->st->tcp->conns, tuple, sizeof(c->tuple), c);
	c->hashed = true;
	c->st->tcp->nconns++;
	return 0;
}

static void tcp_conn_unhash(struct tcp_conn *c)
{
	if (!c->hashed)
		return;
	HASH_DELETE(hh, c->st->tcp->conns, c);
	c->hashed = false;
	c->st->tcp->nconns--;
}

struct tcp_conn *tcp_listener_lookup(struct ustack *st, uint32_t local_ip, uint16_t port)
{
	struct tcp_listen_entry *e;

	HASH_FIND(hh, st->tcp->listeners, &port, sizeof(port), e);
	if (!e)
		return NULL;
	for (struct tcp_conn *l = e->first; l; l = l->listen_next)
		if (l->tuple.local_ip == 0 || l->tuple.local_ip == local_ip)
			return l;
	return NULL;
}

static int tcp_listener_add(struct tcp_conn *c)
{
	struct tcp_table *tt = c->st->tcp;
	struct tcp_listen_entry *e;
	uint16_t port = c->tuple.local_port;

	HASH_FIND(hh, tt->listeners, &port, sizeof(port), e);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->port = port;
		HASH_ADD(hh, tt->listeners, port, sizeof(e->port), e);
	}
	c->listen_next = e->first;
	e->first = c;
	return 0;
}

static void tcp_listener_remove(struct tcp_conn *c)
{
	struct tcp_table *tt = c->st->tcp;
	struct tcp_listen_entry *e;
	uint16_t port = c->tuple.local_port;

	HASH_FIND(hh, tt->listeners, &port, sizeof(port), e);
	if (!e)
		return;
	for (struct tcp_conn **p = &e->first; *p; p = &(*p)->listen_next) {
		if (*p == c) {
			*p = c->listen_next;
			break;
		}
	}
	c->listen_next = NULL;
	if (!e->first) {
		HASH_DELETE(hh, tt->listeners, e);
		free(e);
	}
}

/* ---- binding and port choice ---- */

static struct tcp_bind_bucket *tcp_bucket_find(struct ustack *st, uint16_t port)
{
	struct tcp_bind_bucket *b;

	HASH_FIND(hh, st->tcp->buckets, &port, sizeof(port), b);
	return b;
}

static int tcp_bind_to(struct tcp_conn *c, uint16_t port)
{
	struct tcp_bind_bucket *b = tcp_bucket_find(c->st, port);

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return -ENOMEM;
		b->port = port;
		HASH_ADD(hh, c->st->tcp->buckets, port, sizeof(b->port), b);
	}
	DL_APPEND2(b->conns, c, bind_prev, bind_next);
	c->bucket = b;
	c->tuple.local_port = port;
	return 0;
}

int tcp_child_bind(struct tcp_conn *c, struct tcp_conn *l)
{
	return tcp_bind_to(c, l->tuple.local_port);
}

static void tcp_unbind(struct tcp_conn *c)
{
	struct tcp_bind_bucket *b = c->bucket;

	if (!b)
		return;
	DL_DELETE2(b->conns, c, bind_prev, bind_next);
	c->bucket = NULL;
	if (!b->conns) {
		HASH_DELETE(hh, c->st->tcp->buckets, b);
		free(b);
	}
}

static bool tcp_conn_reuseaddr(const struct tcp_conn *c, bool *reuseport)
{
	*reuseport = c->sock ? c->sock->reuseport : c->reuseport;
	return c->sock ? c->sock->reuseaddr : c->reuseaddr;
}

/* Linux inet_csk_bind_conflict: two sockets on one port conflict when their addresses overlap,
 * unless both set SO_REUSEADDR and the other is not listening, or both set SO_REUSEPORT. */
static bool tcp_bind_conflict(const struct tcp_conn *c, const struct tcp_bind_bucket *b,
			      uint32_t ip, bool listening)
{
	bool rp, rp2;
	bool ra = tcp_conn_reuseaddr(c, &rp);

	for (const struct tcp_conn *o = b->conns; o; o = o->bind_next) {
		bool ra2;
		if (o == c)
			continue;
		if (o->tuple.local_ip && ip && o->tuple.local_ip != ip)
			continue;
		ra2 = tcp_conn_reuseaddr(o, &rp2);
		if (rp && rp2)
			continue;
		if (ra && ra2 && o->state != TCP_LISTEN && !listening)
			continue;
		if (ra && ra2 && o->state != TCP_LISTEN && o->state != TCP_CLOSED)
			continue;
		return true;
	}
	return false;
}

/* RFC 6056 §3.3.3 (Algorithm 3, simple hash-based): offset = F(addresses, remote port,
 * secret); try min + (next + offset) % range, counting next up. A port is suitable for a
 * connection when nobody bound it explicitly and the 4-tuple is unused. */
static int tcp_pick_port_connect(struct tcp_conn *c)
{
	struct ustack *st = c->st;
	uint32_t range = TCP_EPHEMERAL_HIGH - TCP_EPHEMERAL_LOW + 1;
	uint32_t offset = (uint32_t)tcp_tuple_hash(st, &c->tuple, 'P', false);

	for (uint32_t i = 0; i < range; i++) {
		uint16_t port = (uint16_t)(TCP_EPHEMERAL_LOW + (st->tcp->port_counter++ + offset) % range);
		struct tcp_bind_bucket *b = tcp_bucket_find(st, port);
		struct tcp_tuple t = c->tuple;
		bool busy = false;

		if (b)
			for (struct tcp_conn *o = b->conns; o && !busy; o = o->bind_next)
				busy = o->bound_explicitly || o->state == TCP_LISTEN;
		if (busy)
			continue;
		t.local_port = port;
		if (tcp_conn_lookup(st, &t))
			continue;
		return tcp_bind_to(c, port);
	}
	return -EADDRNOTAVAIL;
}

/* bind(port 0) / listen() without bind: a port nobody uses (Linux inet_csk_get_port). */
static int tcp_pick_port_free(struct tcp_conn *c)
{
	struct ustack *st = c->st;
	uint32_t range = TCP_EPHEMERAL_HIGH - TCP_EPHEMERAL_LOW + 1;
	uint32_t offset = (uint32_t)tcp_tuple_hash(st, &c->tuple, 'B', false);

	for (uint32_t i = 0; i < range; i++) {
		uint16_t port = (uint16_t)(TCP_EPHEMERAL_LOW + (st->tcp->port_counter++ + offset) % range);
		if (!tcp_bucket_find(st, port))
			return tcp_bind_to(c, port);
	}
	return -EADDRINUSE;
}

/* ---- control blocks ---- */

struct tcp_conn *tcp_conn_alloc(struct ustack *st, struct sock *s)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->st = st;
	c->sock = s;
	c->state = TCP_CLOSED;
	c->keepidle_s = TCP_KEEPIDLE_DEFAULT_S;
	c->keepintvl_s = TCP_KEEPINTVL_DEFAULT_S;
	c->keepcnt = TCP_KEEPCNT_DEFAULT;
	c->want_ws = c->want_ts = c->want_sack = true;
	c->peer_mss = TCP_DEFAULT_MSS;
	c->rcv_mss = TCP_DEFAULT_MSS;
	c->snd_mss = TCP_DEFAULT_MSS;
	c->reordering = TCP_SACK_DUPTHRESH;
	snprintf(c->cc_name, sizeof c->cc_name, "%s", "cubic");
	tcp_rtt_init(&c->rtt);
	tcp_rack_init(&c->rack);
	tcp_timers_init(c);
	c->start_us = stack_now_us(st);
	return c;
}

static void tcp_conn_free(struct tcp_conn *c)
{
	tcp_timers_stop(c);
	tcp_conn_unhash(c);
	tcp_unbind(c);
	if (c->state == TCP_LISTEN)
		tcp_listener_remove(c);
	ringbuf_free(&c->sndq);
	ringbuf_free(&c->rcvq);
	tcp_rack_free(&c->rack);
	trace_close(&c->trace);
	free(c);
}

/* Receive/send rings (RFC 9293 §3.8.6: the window is what the receive ring can still take).
 * The ring capacity is the largest the limits may grow to; the limits themselves follow
 * SO_RCVBUF/SO_SNDBUF (or autotuning). */
int tcp_conn_buffers(struct tcp_conn *c, int rcvbuf, int sndbuf)
{
	int rc;

	if (!c->rcvq.capacity && (rc = ringbuf_init(&c->rcvq, TCP_AUTO_BUF_MAX)) < 0)
		return rc;
	if (!c->sndq.capacity && (rc = ringbuf_init(&c->sndq, TCP_AUTO_BUF_MAX)) < 0)
		return rc;
	c->rcvbuf_limit = (uint32_t)rcvbuf;
	c->sndbuf_limit = (uint32_t)sndbuf;
	return 0;
}

/* MSS we advertise: MTU - 40 (RFC 9293 §3.7.1, RFC 879), clamped by TCP_MAXSEG. */
void tcp_conn_init_mss(struct tcp_conn *c)
{
	int mtu = c->st->mtu > 0 ? c->st->mtu : 1500;
	uint32_t mss = (uint32_t)mtu - 40;

	if (c->user_mss && c->user_mss < mss)
		mss = c->user_mss;
	c->adv_mss = (uint16_t)mss;
	/* our window scale: enough for the largest receive buffer we may use (RFC 7323 §2.3) */
	c->rcv_wscale = 0;
	while (c->rcv_wscale < TCP_WS_MAX &&
	       (TCP_MAX_WIN_UNSCALED << c->rcv_wscale) < TCP_RCV_WSCALE_COVER)
		c->rcv_wscale++;
}

void tcp_trace_open(struct tcp_conn *c)
{
	if (trace_open(c->st, &c->trace, "tcp", c->tuple.local_ip ? c->tuple.local_ip : c->st->ip_addr,
		       c->tuple.local_port, c->tuple.remote_ip, c->tuple.remote_port) == 0)
		c->trace.start_us = c->start_us;
}

void tcp_wake(struct tcp_conn *c, bool new_data)
{
	if (c->sock)
		sock_readiness(c->st, c->sock, new_data);
	else if (c->listener && c->in_acceptq && c->listener->sock)
		sock_readiness(c->st, c->listener->sock, false);
}

void tcp_conn_error(struct tcp_conn *c, int err)
{
	TRACE(c->st, &c->trace, true, "error %s", strerror(err));
	if (c->sock)
		c->sock->so_error = err;
}

/* Linux tcp_done: CLOSED, both directions shut, timers off, no longer reachable by segments. */
void tcp_conn_done(struct tcp_conn *c)
{
	tcp_set_state(c, TCP_CLOSED);
	c->rcv_shutdown = true;
	c->shut_wr = true;
	tcp_timers_stop(c);
	tcp_conn_unhash(c);
	if (c->listener && !c->in_acceptq)
		tcp_child_unlink(c);
	tcp_wake(c, false);
}

void tcp_child_unlink(struct tcp_conn *c)
{
	struct tcp_conn *l = c->listener;

	if (!l)
		return;
	if (c->in_acceptq) {
		struct tcp_conn **p = &l->acceptq_head, *prev = NULL;
		while (*p && *p != c) {
			prev = *p;
			p = &(*p)->acceptq_next;
		}
		if (*p) {
			*p = c->acceptq_next;
			if (l->acceptq_tail == c)
				l->acceptq_tail = prev;
		}
		c->in_acceptq = false;
		l->acceptq_len--;
	} else {
		l->synq_len--;
	}
	DL_DELETE2(l->children, c, child_prev, child_next);
	c->listener = NULL;
}

void tcp_conn_reap(struct tcp_conn *c)
{
	if (c->state != TCP_CLOSED || c->sock || c->in_acceptq)
		return;
	if (c->listener)
		tcp_child_unlink(c);
	tcp_conn_free(c);
}

bool tcp_child_established(struct tcp_conn *c)
{
	struct tcp_conn *l = c->listener;

	if (!l)
		return true;
	/* Linux sk_acceptq_is_full: more than backlog connections waiting */
	if (l->acceptq_len > l->backlog)
		return false;
	l->synq_len--;
	c->in_acceptq = true;
	c->acceptq_next = NULL;
	if (l->acceptq_tail)
		l->acceptq_tail->acceptq_next = c;
	else
		l->acceptq_head = c;
	l->acceptq_tail = c;
	l->acceptq_len++;
	if (l->sock)
		sock_readiness(c->st, l->sock, true);
	return true;
}

void tcp_child_inherit(struct tcp_conn *child, const struct tcp_conn *l)
{
	child->listener = (struct tcp_conn *)l;
	child->nodelay = l->nodelay;
	child->cork = l->cork;
	child->keepidle_s = l->keepidle_s;
	child->keepintvl_s = l->keepintvl_s;
	child->keepcnt = l->keepcnt;
	child->keepalive = l->keepalive;
	child->linger2_s = l->linger2_s;
	child->user_mss = l->user_mss;
	child->user_rcvbuf = l->user_rcvbuf;
	child->user_sndbuf = l->user_sndbuf;
	child->window_clamp = l->window_clamp;
	child->reuseaddr = l->sock ? l->sock->reuseaddr : l->reuseaddr;
	child->reuseport = l->sock ? l->sock->reuseport : l->reuseport;
	memcpy(child->cc_name, l->cc_name, sizeof child->cc_name);
	DL_APPEND2(((struct tcp_conn *)l)->children, child, child_prev, child_next);
	((struct tcp_conn *)l)->synq_len++;
}

/* ---- congestion control, MSS and buffer sizes ---- */

void tcp_conn_cc_init(struct tcp_conn *c)
{
	tcp_cc_init(&c->cc, tcp_cc_find(c->cc_name), c->snd_mss, stack_now_us(c->st));
}

uint32_t tcp_conn_cwnd_segs(const struct tcp_conn *c)
{
	return c->cc.ops && c->snd_mss ? c->cc.cwnd / c->snd_mss : TCP_INIT_CWND_SEGS;
}

uint32_t tcp_conn_ssthresh_segs(const struct tcp_conn *c)
{
	/* Linux reports TCP_INFINITE_SSTHRESH (0x7fffffff) before the first loss */
	if (!c->cc.ops || c->cc.ssthresh == TCP_CC_SSTHRESH_INFINITE || !c->snd_mss)
		return 0x7fffffffu;
	return c->cc.ssthresh / c->snd_mss;
}

/* RFC 9293 §3.7.1 / RFC 6691: segment data size = min(peer MSS, our MTU - 40) less the
 * options we always send (timestamps: 12), like Linux's mss_cache; TCP_MAXSEG caps it. */
void tcp_conn_set_snd_mss(struct tcp_conn *c)
{
	int mtu = c->st->mtu > 0 ? c->st->mtu : 1500;
	uint32_t mss = c->peer_mss;

	if ((uint32_t)mtu - 40 < mss)
		mss = (uint32_t)mtu - 40;
	if (c->user_mss && c->user_mss < mss)
		mss = c->user_mss;
	if (c->ts_ok)
		mss -= TCP_OPT_TS_LEN + 2;
	if (mss < TCP_MIN_MSS - 40)
		mss = TCP_MIN_MSS - 40;
	c->snd_mss = mss;
	c->rcv_mss = mss < TCP_DEFAULT_MSS ? mss : TCP_DEFAULT_MSS;
	if (c->cc.ops)
		tcp_cc_set_mss(&c->cc, mss);
	tcp_sndbuf_autotune(c);
}

/* Linux grows sk_sndbuf with the congestion window (tcp_sndbuf_expand: about two windows). */
void tcp_sndbuf_autotune(struct tcp_conn *c)
{
	uint64_t want;

	if (c->user_sndbuf || !c->sndq.capacity || !c->cc.ops)
		return;
	want = 2ull * c->cc.cwnd;
	if (want > c->sndq.capacity)
		want = c->sndq.capacity;
	if (want > c->sndbuf_limit)
		c->sndbuf_limit = (uint32_t)want;
}

/* Linux tcp_rcv_space_adjust, simplified: when the application drains what the window
 * allowed in about one round trip, double the receive buffer (up to the ring). */
void tcp_rcvbuf_autotune(struct tcp_conn *c, size_t n)
{
	uint64_t now = stack_now_us(c->st);
	uint32_t rtt = tcp_rtt_srtt_us(&c->rtt);

	if (c->user_rcvbuf)
		return;
	c->rcv_space_copied += n;
	if (!c->rcv_space_start_us) {
		c->rcv_space_start_us = now;
		return;
	}
	if (rtt == 0 || now - c->rcv_space_start_us < rtt)
		return;
	if (c->rcv_space_copied * 2 > c->rcvbuf_limit && c->rcvbuf_limit < c->rcvq.capacity) {
		uint64_t nl = 2ull * c->rcvbuf_limit;
		c->rcvbuf_limit = nl > c->rcvq.capacity ? (uint32_t)c->rcvq.capacity : (uint32_t)nl;
		TRACE(c->st, &c->trace, false, "rcvbuf %u", c->rcvbuf_limit);
	}
	c->rcv_space_copied = 0;
	c->rcv_space_start_us = now;
}

/* ---- socket operations ---- */

static struct tcp_conn *tcp_of(struct sock *s) { return s->pcb; }

static int tcp_create(struct ustack *st, struct sock *s)
{
	struct tcp_conn *c = st->tcp->accepting;

	if (c) {   /* accept(): the struct sock is for an existing child */
		st->tcp->accepting = NULL;
		c->sock = s;
		s->pcb = c;
		return 0;
	}
	c = tcp_conn_alloc(st, s);
	if (!c)
		return -ENOMEM;
	s->pcb = c;
	return 0;
}

static void tcp_abort_children(struct tcp_conn *l)
{
	while (l->children) {
		struct tcp_conn *ch = l->children;
		if (ch->state != TCP_CLOSED)
			tcp_send_active_reset(ch);
		tcp_child_unlink(ch);
		tcp_conn_done(ch);
		tcp_conn_reap(ch);
	}
	l->acceptq_head = l->acceptq_tail = NULL;
	l->acceptq_len = l->synq_len = 0;
}

/* The application closed the socket (RFC 9293 §3.10.4 CLOSE): finish in the background. */
static void tcp_release(struct ustack *st, struct sock *s)
{
	struct tcp_conn *c = tcp_of(s);
	bool unread;

	(void)st;
	s->pcb = NULL;
	if (!c)
		return;
	TRACE(c->st, &c->trace, true, "app close");
	c->sock = NULL;
	c->orphan = true;
	c->reuseaddr = s->reuseaddr;
	c->reuseport = s->reuseport;
	unread = c->rcvq.capacity && ringbuf_len(&c->rcvq) > 0;
	switch (c->state) {
	case TCP_CLOSED:
		break;
	case TCP_LISTEN:
		tcp_abort_children(c);
		tcp_listener_remove(c);
		tcp_set_state(c, TCP_CLOSED);
		break;
	case TCP_SYN_SENT:
		tcp_conn_done(c);
		break;
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
		/* Linux tcp_close: unread data or SO_LINGER 0 → RST (RFC 9293 §3.10.5 ABORT;
		 * RFC 2525 §2.17), else the FIN goes after the queued data */
		if (unread || (s->linger_on && s->linger_secs == 0)) {
			tcp_send_active_reset(c);
			tcp_conn_done(c);
			break;
		}
		c->rcv_shutdown = true;
		c->shut_rd = true;
		if (!c->fin_queued) {
			c->fin_queued = true;
			c->shut_wr = true;
			tcp_set_state(c, c->state == TCP_CLOSE_WAIT ? TCP_LAST_ACK : TCP_FIN_WAIT_1);
		}
		tcp_output(c);
		tcp_timer_update(c);
		break;
	default:   /* CLOSING, LAST_ACK, TIME_WAIT: already closing */
		break;
	}
	tcp_conn_reap(c);
}

static int tcp_bind(struct ustack *st, struct sock *s, const struct sockaddr_in *addr)
{
	struct tcp_conn *c = tcp_of(s);
	uint32_t ip = ntohl(addr->sin_addr.s_addr);
	uint16_t port = ntohs(addr->sin_port);
	struct tcp_bind_bucket *b;

	if (!c)
		return -EINVAL;
	if (addr->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	if (c->state != TCP_CLOSED || c->bucket)
		return -EINVAL;
	if (ip != 0 && !ipv4_is_local(st, ip))
		return -EADDRNOTAVAIL;
	c->tuple.local_ip = ip;
	c->reuseaddr = s->reuseaddr;
	c->reuseport = s->reuseport;
	if (port == 0) {
		int rc = tcp_pick_port_free(c);
		if (rc < 0)
			return rc;
	} else {
		b = tcp_bucket_find(st, port);
		if (b && tcp_bind_conflict(c, b, ip, false))
			return -EADDRINUSE;
		if (tcp_bind_to(c, port) < 0)
			return -ENOMEM;
	}
	c->bound_explicitly = true;
	return 0;
}

/* Replace a connection that is over by a fresh control block (connect() again after a
 * failure, as Linux allows). Options survive. */
static struct tcp_conn *tcp_conn_renew(struct tcp_conn *old)
{
	struct tcp_conn *c = tcp_conn_alloc(old->st, old->sock);

	if (!c)
		return NULL;
	c->nodelay = old->nodelay;
	c->cork = old->cork;
	c->keepalive = old->keepalive;
	c->keepidle_s = old->keepidle_s;
	c->keepintvl_s = old->keepintvl_s;
	c->keepcnt = old->keepcnt;
	c->user_mss = old->user_mss;
	c->user_rcvbuf = old->user_rcvbuf;
	c->user_sndbuf = old->user_sndbuf;
	c->syn_retries = old->syn_retries;
	c->linger2_s = old->linger2_s;
	memcpy(c->cc_name, old->cc_name, sizeof c->cc_name);
	bool rebind = old->bound_explicitly;
	uint16_t port = old->tuple.local_port;
	c->tuple.local_ip = old->tuple.local_ip;
	old->sock->pcb = c;
	old->sock = NULL;
	tcp_conn_free(old);
	if (rebind && tcp_bind_to(c, port) == 0)
		c->bound_explicitly = true;
	return c;
}

static int tcp_connect(struct ustack *st, struct sock *s, const struct sockaddr_in *addr)
{
	struct tcp_conn *c = tcp_of(s);
	uint32_t dst = ntohl(addr->sin_addr.s_addr), next_hop;
	int rc;

	if (!c)
		return -EBADF;
	if (addr->sin_family == AF_UNSPEC) {   /* Linux: connect(AF_UNSPEC) disconnects */
		if (c->state >= TCP_SYN_SENT && c->state != TCP_TIME_WAIT) {
			tcp_send_active_reset(c);
			tcp_conn_done(c);
		}
		return 0;
	}
	switch (c->state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECEIVED:
		return -EALREADY;
	case TCP_LISTEN:
		return -EISCONN;
	case TCP_CLOSED:
		break;
	default:
		if (!c->connect_reported) {
			c->connect_reported = true;
			return 0;
		}
		return -EISCONN;
	}
	if (c->had_connection) {
		if (!c->connect_reported) {    /* report the failure of the previous attempt */
			int err = s->so_error ? s->so_error : ECONNABORTED;
			s->so_error = 0;
			c->connect_reported = true;
			return -err;
		}
		/* the readiness mirror of the old connection is final (sock.h): start afresh */
		if ((rc = sock_mirror_renew(st, s)) < 0)
			return rc;
		c = tcp_conn_renew(c);
		if (!c)
			return -ENOMEM;
	}
	if (dst == 0 || ipv4_is_broadcast(st, dst) || (dst >> 28) == 14)
		return -ENETUNREACH;
	if ((rc = ipv4_route(st, dst, &next_hop)) < 0)
		return rc;
	c->tuple.remote_ip = dst;
	c->tuple.remote_port = ntohs(addr->sin_port);
	c->tuple.local_ip = st->ip_addr;
	c->reuseaddr = s->reuseaddr;
	c->reuseport = s->reuseport;
	c->keepalive = s->keepalive;
	if (!c->bucket) {
		if ((rc = tcp_pick_port_connect(c)) < 0)
			return rc;
	}
	if ((rc = tcp_conn_hash(c)) < 0)
		return -EADDRNOTAVAIL;
	if ((rc = tcp_conn_buffers(c, s->rcvbuf, s->sndbuf)) < 0 ||
	    (rc = sock_mirror_pair(st, s)) < 0) {
		tcp_conn_unhash(c);
		return rc;
	}
	tcp_conn_init_mss(c);
	c->active_open = true;
	c->iss = tcp_isn(st, &c->tuple);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->ts_offset = tcp_ts_offset(st, &c->tuple);
	c->start_us = stack_now_us(st);
	tcp_trace_open(c);
	TRACE(st, &c->trace, false, "app connect %u.%u.%u.%u:%u", dst >> 24, (dst >> 16) & 0xff,
	      (dst >> 8) & 0xff, dst & 0xff, c->tuple.remote_port);
	tcp_conn_cc_init(c);
	tcp_set_state(c, TCP_SYN_SENT);
	STAT_INC(st, tcp_active_opens);
	c->rtt_start_us = stack_now_us(st);
	tcp_send_ctl(c, TCP_FL_SYN, c->iss);
	c->snd_nxt = c->snd_max = c->iss + 1;
	tcp_rtx_restart(c);
	return -EINPROGRESS;
}

static int tcp_listen(struct ustack *st, struct sock *s, int backlog)
{
	struct tcp_conn *c = tcp_of(s);
	int rc;

	if (!c)
		return -EINVAL;
	if (backlog < 0)
		backlog = 0;
	if (backlog > TCP_SOMAXCONN)
		backlog = TCP_SOMAXCONN;
	if (c->state == TCP_LISTEN) {
		c->backlog = backlog;
		return 0;
	}
	if (c->state != TCP_CLOSED || c->had_connection)
		return -EINVAL;
	c->reuseaddr = s->reuseaddr;
	c->reuseport = s->reuseport;
	if (!c->bucket) {
		if ((rc = tcp_pick_port_free(c)) < 0)
			return rc;
	} else if (tcp_bind_conflict(c, c->bucket, c->tuple.local_ip, true)) {
		return -EADDRINUSE;
	}
	if ((rc = sock_mirror_pair(st, s)) < 0)
		return rc;
	if ((rc = tcp_listener_add(c)) < 0)
		return rc;
	c->backlog = backlog;
	c->keepalive = s->keepalive;
	tcp_set_state(c, TCP_LISTEN);
	return 0;
}

static int tcp_accept(struct ustack *st, struct sock *s, struct sock **out)
{
	struct tcp_conn *l = tcp_of(s), *c;
	struct sock *ns;
	int rc;

	if (!l || l->state != TCP_LISTEN)
		return -EINVAL;
	c = l->acceptq_head;
	if (!c)
		return -EAGAIN;
	st->tcp->accepting = c;
	rc = sock_new(st, &tcp_sock_proto, true, s->accept_cloexec, &ns);
	st->tcp->accepting = NULL;
	if (rc < 0)
		return rc;
	tcp_child_unlink(c);
	/* Linux: accepted sockets inherit the listener's socket options */
	ns->rcvbuf = s->rcvbuf;
	ns->sndbuf = s->sndbuf;
	ns->keepalive = c->keepalive;
	ns->reuseaddr = s->reuseaddr;
	ns->linger_on = s->linger_on;
	ns->linger_secs = s->linger_secs;
	if (c->state == TCP_CLOSED && c->reset_err)
		ns->so_error = c->reset_err;
	c->connect_reported = true;
	TRACE(st, &c->trace, true, "app accept");
	*out = ns;
	return 0;
}

/* Bytes the application may still queue (Linux sk_stream_wspace). */
static uint32_t tcp_snd_space(const struct tcp_conn *c)
{
	size_t used = ringbuf_len(&c->sndq);

	return used >= c->sndbuf_limit ? 0 : (uint32_t)(c->sndbuf_limit - used);
}

static ssize_t tcp_sendmsg(struct ustack *st, struct sock *s, const struct iovec *iov, int iovcnt,
			   const struct sockaddr_in *to, int flags)
{
	struct tcp_conn *c = tcp_of(s);
	size_t total = 0, want = 0;
	uint32_t space;

	(void)to;
	for (int i = 0; i < iovcnt; i++)
		want += iov[i].iov_len;
	if (!c)
		return -EPIPE;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (c->state == TCP_SYN_SENT || (c->state == TCP_SYN_RECEIVED && c->active_open))
		return s->so_error ? -s->so_error : -EAGAIN;
	if (s->so_error) {   /* Linux sk_stream_error: the pending error first, then EPIPE */
		int err = s->so_error;
		s->so_error = 0;
		return -err;
	}
	if (c->shut_wr || (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT))
		return -EPIPE;
	space = tcp_snd_space(c);
	if (space == 0 && want > 0) {
		TRACE(st, &c->trace, false, "app send %zu -> EAGAIN", want);
		return -EAGAIN;
	}
	for (int i = 0; i < iovcnt && space > 0; i++) {
		size_t n = iov[i].iov_len < space ? iov[i].iov_len : space;
		size_t w = ringbuf_write(&c->sndq, iov[i].iov_base, n);
		total += w;
		space -= (uint32_t)w;
		if (w < iov[i].iov_len)
			break;
	}
	TRACE(st, &c->trace, true, "app send %zu -> %zu", want, total);
	c->corked_by_more = (flags & MSG_MORE) != 0;
	tcp_output(c);
	tcp_timer_update(c);
	return (ssize_t)total;
}

static ssize_t tcp_recvmsg(struct ustack *st, struct sock *s, const struct iovec *iov, int iovcnt,
			   struct sockaddr_in *from, int flags, int *msg_flags)
{
	struct tcp_conn *c = tcp_of(s);
	size_t avail, n;

	(void)from;
	(void)msg_flags;
	if (!c)
		return 0;
	if (flags & MSG_OOB)
		return -EINVAL;
	if (c->state == TCP_LISTEN)
		return -ENOTCONN;
	avail = c->rcvq.capacity ? ringbuf_len(&c->rcvq) : 0;
	if (avail > 0) {
		if (flags & MSG_PEEK) {
			n = ringbuf_peek_to_iov(&c->rcvq, 0, iov, iovcnt);
		} else if (flags & MSG_TRUNC) {
			size_t want = 0;
			for (int i = 0; i < iovcnt; i++)
				want += iov[i].iov_len;
			n = ringbuf_consume(&c->rcvq, want);
		} else {
			n = ringbuf_read_to_iov(&c->rcvq, iov, iovcnt);
		}
		TRACE(st, &c->trace, false, "app recv -> %zu", n);
		if (!(flags & MSG_PEEK) && n > 0) {
			tcp_rcvbuf_autotune(c, n);
			tcp_maybe_window_update(c);
		}
		return (ssize_t)n;
	}
	/* Linux tcp_recvmsg with nothing copied: EOF, pending error, shutdown, not connected */
	if (c->fin_rcvd)
		return 0;
	if (s->so_error) {
		int err = s->so_error;
		s->so_error = 0;
		return -err;
	}
	if (c->rcv_shutdown)
		return 0;
	if (c->state == TCP_CLOSED)
		return -ENOTCONN;
	return -EAGAIN;
}

static int tcp_shutdown(struct ustack *st, struct sock *s, int how)
{
	struct tcp_conn *c = tcp_of(s);

	(void)st;
	if (!c)
		return -ENOTCONN;
	TRACE(st, &c->trace, true, "app shutdown %s", how == SHUT_RD ? "rd" : how == SHUT_WR ? "wr" : "rdwr");
	if (how == SHUT_RD || how == SHUT_RDWR) {
		c->shut_rd = true;
		c->rcv_shutdown = true;
	}
	if (how == SHUT_WR || how == SHUT_RDWR)
		c->shut_wr = true;
	switch (c->state) {
	case TCP_CLOSED:
		return -ENOTCONN;
	case TCP_LISTEN:
		if (how == SHUT_WR)
			return 0;
		tcp_abort_children(c);
		tcp_listener_remove(c);
		tcp_set_state(c, TCP_CLOSED);
		c->rcv_shutdown = c->shut_wr = true;
		return 0;
	case TCP_SYN_SENT:   /* Linux: disconnect */
		tcp_conn_done(c);
		return 0;
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		/* RFC 9293 §3.10.4 CLOSE for the sending side: FIN after the queued data */
		if (c->shut_wr && !c->fin_queued) {
			c->fin_queued = true;
			tcp_set_state(c, c->state == TCP_CLOSE_WAIT ? TCP_LAST_ACK : TCP_FIN_WAIT_1);
			tcp_output(c);
			tcp_timer_update(c);
		}
		return 0;
	default:
		return 0;
	}
}

/* Linux tcp_poll, bit for bit where the mirror can show it. */
static int tcp_poll_mask(struct ustack *st, struct sock *s)
{
	struct tcp_conn *c = tcp_of(s);
	int mask = 0;

	(void)st;
	if (!c)
		return POLLHUP | POLLOUT;
	if (c->state == TCP_LISTEN)
		return c->acceptq_head ? POLLIN : 0;
	if ((c->rcv_shutdown && c->shut_wr) || c->state == TCP_CLOSED)
		mask |= POLLHUP;
	if (c->rcv_shutdown)
		mask |= POLLIN | POLLRDHUP;
	if (c->state != TCP_SYN_SENT && c->state != TCP_SYN_RECEIVED) {
		size_t avail = c->rcvq.capacity ? ringbuf_len(&c->rcvq) : 0;
		size_t lowat = s->rcvlowat > 1 ? (size_t)s->rcvlowat : 1;
		if (avail >= lowat || (avail > 0 && c->fin_rcvd))
			mask |= POLLIN;
		if (!c->shut_wr) {
			/* sk_stream_is_writeable: free space >= half of what is queued */
			size_t used = c->sndq.capacity ? ringbuf_len(&c->sndq) : 0;
			if (c->state == TCP_CLOSED || tcp_snd_space(c) >= used / 2)
				mask |= POLLOUT;
		} else {
			mask |= POLLOUT;
		}
	}
	if (s->so_error)
		mask |= POLLERR;
	return mask;
}

static int tcp_setsockopt(struct ustack *st, struct sock *s, int level, int name, const void *val,
			  socklen_t len)
{
	struct tcp_conn *c = tcp_of(s);
	int v = 0, rc;

	if (!c)
		return -EINVAL;
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_KEEPALIVE:
			c->keepalive = s->keepalive;
			tcp_keepalive_reset(c);
			return 0;
		case SO_RCVBUF:
		case SO_RCVBUFFORCE:
			c->user_rcvbuf = true;
			if (c->rcvq.capacity)
				c->rcvbuf_limit = (uint32_t)s->rcvbuf;
			return 0;
		case SO_SNDBUF:
		case SO_SNDBUFFORCE:
			c->user_sndbuf = true;
			if (c->sndq.capacity)
				c->sndbuf_limit = (uint32_t)s->sndbuf;
			return 0;
		default:
			return -ENOPROTOOPT;
		}
	}
	if (level != IPPROTO_TCP)
		return -ENOPROTOOPT;
	if (name == TCP_CONGESTION) {
		char namebuf[16] = { 0 };
		size_t n = len < sizeof(namebuf) - 1 ? len : sizeof(namebuf) - 1;
		if (!val)
			return -EFAULT;
		memcpy(namebuf, val, n);
		if (!tcp_cc_find(namebuf))
			return -ENOENT;
		snprintf(c->cc_name, sizeof c->cc_name, "%s", namebuf);
		if (c->cc.ops)
			tcp_cc_select(&c->cc, c->cc_name, stack_now_us(st));
		TRACE(st, &c->trace, true, "app setsockopt TCP_CONGESTION %s", c->cc_name);
		return 0;
	}
	if ((rc = sock_opt_get_int(val, len, &v)) < 0)
		return rc;
	switch (name) {
	case TCP_NODELAY:
		c->nodelay = v != 0;
		if (c->nodelay && c->state >= TCP_ESTABLISHED)
			tcp_output(c);   /* Linux: setting TCP_NODELAY pushes pending data */
		return 0;
	case TCP_CORK:
		c->cork = v != 0;
		if (!c->cork && c->state >= TCP_ESTABLISHED)
			tcp_output(c);
		return 0;
	case TCP_MAXSEG:
		if (v != 0 && (v < TCP_MIN_MSS || v > 65535 - 40))
			return -EINVAL;
		c->user_mss = (uint16_t)v;
		return 0;
	case TCP_KEEPIDLE:
		if (v < 1 || v > 32767)
			return -EINVAL;
		c->keepidle_s = v;
		tcp_keepalive_reset(c);
		return 0;
	case TCP_KEEPINTVL:
		if (v < 1 || v > 32767)
			return -EINVAL;
		c->keepintvl_s = v;
		return 0;
	case TCP_KEEPCNT:
		if (v < 1 || v > 127)
			return -EINVAL;
		c->keepcnt = v;
		return 0;
	case TCP_SYNCNT:
		if (v < 1 || v > 127)
			return -EINVAL;
		c->syn_retries = v;
		return 0;
	case TCP_LINGER2:
		c->linger2_s = v < 0 ? -1 : v;
		return 0;
	case TCP_WINDOW_CLAMP:
		if (v < 0)
			return -EINVAL;
		c->window_clamp = (uint32_t)v;
		return 0;
	case TCP_QUICKACK:
		if (v)
			c->quickacks = TCP_MAX_QUICKACKS;
		return 0;
	case TCP_DEFER_ACCEPT: case TCP_USER_TIMEOUT: case TCP_NOTSENT_LOWAT: case TCP_FASTOPEN:
	case TCP_FASTOPEN_CONNECT: case TCP_THIN_LINEAR_TIMEOUTS: case TCP_INQ:
		return 0;   /* accepted like the kernel; no effect here */
	default:
		return -ENOPROTOOPT;
	}
}

/* Linux's numbering of states in tcp_info (include/net/tcp_states.h). */
static uint8_t tcp_linux_state(enum tcp_state s)
{
	static const uint8_t map[TCP_NSTATES] = { 7, 10, 2, 3, 1, 4, 5, 8, 11, 9, 6 };
	return map[s];
}

void tcp_fill_info(const struct tcp_conn *c, struct tcp_info *ti)
{
	uint64_t now = stack_now_us(c->st);

	memset(ti, 0, sizeof(*ti));
	ti->tcpi_state = tcp_linux_state(c->state);
	ti->tcpi_ca_state = c->in_loss ? 4 : c->in_recovery ? 3 : c->dupacks ? 1 : 0;
	ti->tcpi_retransmits = c->retries;
	ti->tcpi_probes = c->probes;
	ti->tcpi_backoff = c->rtt.backoff;
	if (c->ts_ok)
		ti->tcpi_options |= TCPI_OPT_TIMESTAMPS;
	if (c->sack_ok)
		ti->tcpi_options |= TCPI_OPT_SACK;
	if (c->ws_ok) {
		ti->tcpi_options |= TCPI_OPT_WSCALE;
		ti->tcpi_snd_wscale = c->snd_wscale & 0xf;
		ti->tcpi_rcv_wscale = c->rcv_wscale & 0xf;
	}
	ti->tcpi_rto = tcp_rtt_rto_us(&c->rtt);
	ti->tcpi_ato = TCP_DELACK_MIN_US;
	ti->tcpi_snd_mss = c->snd_mss;
	ti->tcpi_rcv_mss = c->rcv_mss;
	ti->tcpi_unacked = c->snd_mss ? (c->snd_max - c->snd_una + c->snd_mss - 1) / c->snd_mss : 0;
	ti->tcpi_sacked = c->snd_mss ? tcp_sack_sacked_bytes(&c->sb) / c->snd_mss : 0;
	ti->tcpi_lost = c->lost_segs;
	ti->tcpi_retrans = c->retrans_out;
	ti->tcpi_last_data_sent = c->last_tx_data_us ? (uint32_t)((now - c->last_tx_data_us) / 1000) : 0;
	ti->tcpi_last_data_recv = c->last_data_recv_us ? (uint32_t)((now - c->last_data_recv_us) / 1000) : 0;
	ti->tcpi_last_ack_recv = c->last_ack_recv_us ? (uint32_t)((now - c->last_ack_recv_us) / 1000) : 0;
	ti->tcpi_pmtu = (uint32_t)(c->st->mtu > 0 ? c->st->mtu : 1500);
	ti->tcpi_rcv_ssthresh = c->rcvbuf_limit;
	ti->tcpi_rtt = tcp_rtt_srtt_us(&c->rtt);
	ti->tcpi_rttvar = tcp_rtt_rttvar_us(&c->rtt);
	ti->tcpi_snd_ssthresh = tcp_conn_ssthresh_segs(c);
	ti->tcpi_snd_cwnd = tcp_conn_cwnd_segs(c);
	ti->tcpi_advmss = c->adv_mss;
	ti->tcpi_reordering = c->reordering;
	ti->tcpi_rcv_space = c->rcvbuf_limit;
	ti->tcpi_total_retrans = c->total_retrans;
	ti->tcpi_bytes_acked = c->bytes_acked;
	ti->tcpi_bytes_received = c->bytes_received;
	ti->tcpi_segs_out = c->segs_out;
	ti->tcpi_segs_in = c->segs_in;
	ti->tcpi_notsent_bytes = c->sndq.capacity ? (uint32_t)(ringbuf_len(&c->sndq) -
							       (c->snd_max - tcp_sndq_seq(c))) : 0;
	ti->tcpi_min_rtt = c->rtt.min_rtt_us;
	ti->tcpi_data_segs_in = c->data_segs_in;
	ti->tcpi_data_segs_out = c->data_segs_out;
	ti->tcpi_bytes_sent = c->bytes_sent;
	ti->tcpi_bytes_retrans = c->bytes_retrans;
	ti->tcpi_snd_wnd = c->snd_wnd;
}

static int tcp_getsockopt(struct ustack *st, struct sock *s, int level, int name, void *val,
			  socklen_t *len)
{
	struct tcp_conn *c = tcp_of(s);
	struct tcp_info ti;

	(void)st;
	if (level == SOL_SOCKET) {
		if (name == SO_ACCEPTCONN)
			return sock_opt_put_int(val, len, c && c->state == TCP_LISTEN);
		return -ENOPROTOOPT;
	}
	if (level != IPPROTO_TCP)
		return -ENOPROTOOPT;
	if (!c)
		return -EINVAL;
	switch (name) {
	case TCP_NODELAY: return sock_opt_put_int(val, len, c->nodelay);
	case TCP_CORK: return sock_opt_put_int(val, len, c->cork);
	case TCP_MAXSEG:
		/* Linux: the current MSS once connected, else user_mss or the default 536 */
		if (c->state >= TCP_ESTABLISHED)
			return sock_opt_put_int(val, len, (int)c->snd_mss);
		return sock_opt_put_int(val, len, c->user_mss ? c->user_mss : TCP_DEFAULT_MSS);
	case TCP_KEEPIDLE: return sock_opt_put_int(val, len, c->keepidle_s);
	case TCP_KEEPINTVL: return sock_opt_put_int(val, len, c->keepintvl_s);
	case TCP_KEEPCNT: return sock_opt_put_int(val, len, c->keepcnt);
	case TCP_SYNCNT: return sock_opt_put_int(val, len, c->syn_retries ? c->syn_retries : (int)st->cfg.syn_retries);
	case TCP_LINGER2: return sock_opt_put_int(val, len, c->linger2_s ? c->linger2_s : TCP_FIN_TIMEOUT_MS / 1000);
	case TCP_WINDOW_CLAMP: return sock_opt_put_int(val, len, (int)c->window_clamp);
	case TCP_QUICKACK: return sock_opt_put_int(val, len, c->quickacks > 0);
	case TCP_INFO:
		tcp_fill_info(c, &ti);
		return sock_opt_put(val, len, &ti, sizeof(ti));
	case TCP_CONGESTION: {
		char namebuf[16];
		memset(namebuf, 0, sizeof namebuf);
		snprintf(namebuf, sizeof namebuf, "%s", c->cc_name);
		return sock_opt_put(val, len, namebuf, sizeof namebuf);
	}
	default:
		return -ENOPROTOOPT;
	}
}

static int tcp_inq(struct ustack *st, struct sock *s, int *value)
{
	struct tcp_conn *c = tcp_of(s);

	(void)st;
	if (!c || c->state == TCP_LISTEN)
		return -EINVAL;
	*value = c->rcvq.capacity ? (int)ringbuf_len(&c->rcvq) : 0;
	return 0;
}

/* SIOCOUTQ (Linux: write_seq - snd_una): everything in the send ring, sent or not. */
static int tcp_outq(struct ustack *st, struct sock *s, int *value)
{
	struct tcp_conn *c = tcp_of(s);

	(void)st;
	if (!c || c->state == TCP_LISTEN)
		return -EINVAL;
	*value = (int)ringbuf_len(&c->sndq);
	return 0;
}

static int tcp_getname(struct ustack *st, struct sock *s, struct sockaddr_in *addr, bool peer)
{
	struct tcp_conn *c = tcp_of(s);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	if (!c)
		return peer ? -ENOTCONN : 0;
	if (peer) {
		if (!c->tuple.remote_port || c->state == TCP_CLOSED || c->state == TCP_SYN_SENT ||
		    c->state == TCP_LISTEN)
			return -ENOTCONN;
		addr->sin_addr.s_addr = htonl(c->tuple.remote_ip);
		addr->sin_port = htons(c->tuple.remote_port);
		return 0;
	}
	addr->sin_addr.s_addr = htonl(c->hashed || c->tuple.remote_port ? (c->tuple.local_ip ? c->tuple.local_ip : st->ip_addr)
							 : c->tuple.local_ip);
	addr->sin_port = htons(c->tuple.local_port);
	return 0;
}

const struct sock_proto tcp_sock_proto = {
	.type = SOCK_STREAM,
	.protocol = IPPROTO_TCP,
	.create = tcp_create,
	.release = tcp_release,
	.bind = tcp_bind,
	.connect = tcp_connect,
	.listen = tcp_listen,
	.accept = tcp_accept,
	.sendmsg = tcp_sendmsg,
	.recvmsg = tcp_recvmsg,
	.shutdown = tcp_shutdown,
	.poll_mask = tcp_poll_mask,
	.setsockopt = tcp_setsockopt,
	.getsockopt = tcp_getsockopt,
	.inq = tcp_inq,
	.outq = tcp_outq,
	.getname = tcp_getname,
};

/* ---- errors from below ---- */

/* A connection attempt failed or the connection died: report err, CLOSED. */
void tcp_conn_abort(struct tcp_conn *c, int err)
{
	tcp_conn_error(c, err);
	c->reset_err = err;
	tcp_conn_done(c);
}

/* RFC 1122 §4.2.3.9, RFC 5927: ICMP errors. A connection being opened fails (Linux aborts a
 * SYN_SENT/SYN_RECEIVED connection on any unreachable); an established one only records a
 * soft error. The quoted sequence number must be in flight (RFC 5927 §4.1). */
void tcp_icmp_error(struct ustack *st, const struct icmp_error *e)
{
	struct tcp_tuple t = { e->local_ip, e->remote_ip, e->local_port, e->remote_port };
	struct tcp_conn *c;

	if (!st->tcp || !(c = tcp_conn_lookup(st, &t)))
		return;
	if (!seq_between(e->tcp_seq, c->snd_una, c->snd_max))
		return;
	TRACE(st, &c->trace, true, "icmp type=%u code=%u err=%s", e->type, e->code, strerror(e->err));
	if (e->type == ICMP_DEST_UNREACH && e->code == ICMP_UNREACH_NEEDFRAG) {
		/* RFC 1191: lower the MSS to the new path MTU and resend at once */
		if (e->mtu >= 68 && (uint32_t)e->mtu - 40 < c->snd_mss) {
			c->snd_mss = (uint32_t)e->mtu - 40 < TCP_MIN_MSS ? TCP_MIN_MSS : (uint32_t)e->mtu - 40;
			c->snd_nxt = c->snd_una;
			tcp_output(c);
		}
		return;
	}
	if (c->state == TCP_SYN_SENT || (c->state == TCP_SYN_RECEIVED && c->active_open)) {
		tcp_conn_abort(c, e->err);
		tcp_conn_reap(c);
	} else {
		c->soft_error = e->err;
	}
}

/* ARP gave up on dst: connections still opening towards it fail with EHOSTUNREACH. */
void tcp_host_unreachable(struct ustack *st, uint32_t dst)
{
	struct tcp_conn *c, *tmp;

	if (!st->tcp)
		return;
	HASH_ITER(hh, st->tcp->conns, c, tmp) {
		if (c->tuple.remote_ip != dst)
			continue;
		if (c->state == TCP_SYN_SENT) {
			tcp_conn_abort(c, EHOSTUNREACH);
			tcp_conn_reap(c);
		} else {
			c->soft_error = EHOSTUNREACH;
		}
	}
}
