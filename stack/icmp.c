/*
 * ICMP (RFC 792; host requirements RFC 1122 §3.2.2): echo replies, error generation with
 * Linux-like rate limits, and parsing of received errors for UDP and TCP.
 *
 * Rate limiting (RFC 1122 §3.2.2 "SHOULD limit"), as Linux does for the types in its
 * icmp_ratemask (destination unreachable, source quench, time exceeded, parameter problem;
 * echo replies are not limited):
 *  - per destination: a bucket of ICMP_RATE_PEER_BURST tokens refilled at one per
 *    ICMP_RATE_PEER_MS (Linux: icmp_ratelimit 1000 ms, XRLIM_BURST_FACTOR 6). The buckets
 *    live in a small direct-mapped table indexed by a hash of the address; a collision
 *    gives the newcomer a fresh bucket (Linux's inet_peer cache also forgets peers), the
 *    global bucket below still bounds the total;
 *  - globally: ICMP_RATE_GLOBAL_PER_SEC messages per second, bursts of
 *    ICMP_RATE_GLOBAL_BURST (Linux: icmp_msgs_per_sec 1000, icmp_msgs_burst 50).
 * A message must find a token in both; only then are both charged.
 */
#include "icmp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "stack.h"
#include "ustack/wire/bytes.h"
#include "ustack/wire/ipv4.h"

#define ICMP_PEER_SLOTS 256
/* RFC 1812 §4.3.2.3 (and Linux): an error quotes as much of the offending datagram as keeps
 * the whole reply within 576 bytes. */
#define ICMP_ERROR_MAX_LEN 576
#define ICMP_QUOTE_MAX (ICMP_ERROR_MAX_LEN - IPV4_HDR_MIN - ICMP_HDR_LEN)

struct icmp_peer_bucket {
	uint32_t addr;
	bool used;
	uint64_t credit_us;    /* time-denominated tokens: one message costs ICMP_RATE_PEER_MS */
	uint64_t last_us;
};

struct icmp_state {
	uint64_t global_credit_us;
	uint64_t global_last_us;
	struct icmp_peer_bucket peers[ICMP_PEER_SLOTS];
};

#define ICMP_GLOBAL_COST_US (1000000u / ICMP_RATE_GLOBAL_PER_SEC)
#define ICMP_GLOBAL_CAP_US ((uint64_t)ICMP_GLOBAL_COST_US * ICMP_RATE_GLOBAL_BURST)
#define ICMP_PEER_COST_US ((uint64_t)ICMP_RATE_PEER_MS * 1000)
#define ICMP_PEER_CAP_US (ICMP_PEER_COST_US * ICMP_RATE_PEER_BURST)

int icmp_init(struct ustack *st)
{
	st->icmp = calloc(1, sizeof(*st->icmp));
	if (!st->icmp)
		return -ENOMEM;
	st->icmp->global_credit_us = ICMP_GLOBAL_CAP_US;
	st->icmp->global_last_us = stack_now_us(st);
	return 0;
}

void icmp_fini(struct ustack *st)
{
	free(st->icmp);
	st->icmp = NULL;
}

static uint64_t icmp_refill(uint64_t credit, uint64_t *last, uint64_t now, uint64_t cap)
{
	if (now > *last)
		credit += now - *last;
	*last = now;
	return credit > cap ? cap : credit;
}

static struct icmp_peer_bucket *icmp_peer(struct icmp_state *is, uint32_t addr, uint64_t now)
{
	uint32_t h = addr * 2654435761u;   /* Knuth's multiplicative hash */
	struct icmp_peer_bucket *b = &is->peers[h >> 24];

	if (!b->used || b->addr != addr) {
		b->used = true;
		b->addr = addr;
		b->credit_us = ICMP_PEER_CAP_US;
		b->last_us = now;
	}
	return b;
}

/* RFC 1122 §3.2.2: true when an error to dst may be sent now (and charges for it). */
static bool icmp_rate_allow(struct ustack *st, uint32_t dst)
{
	struct icmp_state *is = st->icmp;
	uint64_t now = stack_now_us(st);
	struct icmp_peer_bucket *b;

	is->global_credit_us = icmp_refill(is->global_credit_us, &is->global_last_us, now,
					   ICMP_GLOBAL_CAP_US);
	b = icmp_peer(is, dst, now);
	b->credit_us = icmp_refill(b->credit_us, &b->last_us, now, ICMP_PEER_CAP_US);
	if (is->global_credit_us < ICMP_GLOBAL_COST_US || b->credit_us < ICMP_PEER_COST_US) {
		STAT_INC(st, icmp_rate_limited);
		return false;
	}
	is->global_credit_us -= ICMP_GLOBAL_COST_US;
	b->credit_us -= ICMP_PEER_COST_US;
	return true;
}

static bool icmp_type_is_error(uint8_t type)
{
	switch (type) {
	case ICMP_DEST_UNREACH:
	case ICMP_SOURCE_QUENCH:
	case ICMP_REDIRECT:
	case ICMP_TIME_EXCEEDED:
	case ICMP_PARAM_PROBLEM:
		return true;
	default:
		return false;
	}
}

/* RFC 1122 §3.2.2: an ICMP error MUST NOT be sent about an ICMP error, a datagram sent to a
 * broadcast or multicast address, a fragment other than the first, or a datagram whose
 * source does not name a single host. */
static bool icmp_error_allowed(const struct ustack *st, const struct ipv4_info *ip)
{
	if (ip->to_broadcast || ip->hdr_len < IPV4_HDR_MIN || ip->total_len < ip->hdr_len)
		return false;
	if ((ip->dst >> 28) == 0xe || ip->src == 0 || (ip->src >> 28) >= 0xe ||
	    ipv4_is_broadcast(st, ip->src))
		return false;
	if (wire_get16(ip->hdr + IPV4_OFF_FRAG) & IPV4_FRAG_OFFSET_MASK)
		return false;
	if (ip->proto == IPV4_PROTO_ICMP) {
		/* the inner type must be readable and not an error itself */
		if (ip->total_len < ip->hdr_len + 1 || icmp_type_is_error(ip->hdr[ip->hdr_len]))
			return false;
	}
	return true;
}

void icmp_send_error(struct ustack *st, uint8_t type, uint8_t code, uint32_t info,
		     const struct ipv4_info *ip)
{
	size_t quote = ip->total_len > ICMP_QUOTE_MAX ? ICMP_QUOTE_MAX : ip->total_len;
	struct pkt *p;
	uint8_t *m;

	if (!icmp_error_allowed(st, ip) || !icmp_rate_allow(st, ip->src))
		return;
	p = pkt_alloc(ICMP_HDR_LEN + quote);
	if (!p)
		return;
	m = pkt_put(p, ICMP_HDR_LEN + quote);
	m[ICMP_OFF_TYPE] = type;
	m[ICMP_OFF_CODE] = code;
	wire_put16(m + ICMP_OFF_CSUM, 0);
	wire_put32(m + 4, info);
	memcpy(m + ICMP_HDR_LEN, ip->hdr, quote);
	wire_put16(m + ICMP_OFF_CSUM, csum_compute(m, ICMP_HDR_LEN + quote));
	STAT_INC(st, icmp_tx);
	if (type == ICMP_DEST_UNREACH)
		STAT_INC(st, icmp_unreach_tx);
	else if (type == ICMP_TIME_EXCEEDED)
		STAT_INC(st, icmp_time_exceeded_tx);
	ipv4_output(st, p, st->ip_addr, ip->src, IPV4_PROTO_ICMP, 0);
}

void icmp_send_unreachable(struct ustack *st, uint8_t code, const struct ipv4_info *ip)
{
	icmp_send_error(st, ICMP_DEST_UNREACH, code, 0, ip);
}

/* RFC 792 "Echo or Echo Reply Message", RFC 1122 §3.2.2.6: the reply carries the request's
 * identifier, sequence number and data unchanged; it goes back from the address the
 * request was sent to. A large request arrives reassembled; ipv4_output fragments the reply. */
static void icmp_echo_reply(struct ustack *st, const struct pkt *req, const struct ipv4_info *ip)
{
	struct pkt *p = pkt_alloc(req->len);
	uint8_t *m;

	if (!p)
		return;
	m = pkt_put(p, req->len);
	if (!m) {
		pkt_free(p);
		return;
	}
	memcpy(m, req->data, req->len);
	m[ICMP_OFF_TYPE] = ICMP_ECHO_REPLY;
	wire_put16(m + ICMP_OFF_CSUM, 0);
	wire_put16(m + ICMP_OFF_CSUM, csum_compute(m, req->len));
	STAT_INC(st, icmp_echo_replied);
	STAT_INC(st, icmp_tx);
	ipv4_output(st, p, ip->dst, ip->src, IPV4_PROTO_ICMP, 0);
}

/* Linux's icmp_err_convert: the errno and hardness of each destination-unreachable code
 * (RFC 1122 §3.2.2.1: net, host and source-route failures are soft). */
static const struct {
	int err;
	bool fatal;
} icmp_unreach_errors[] = {
	[ICMP_UNREACH_NET] = { ENETUNREACH, false },
	[ICMP_UNREACH_HOST] = { EHOSTUNREACH, false },
	[ICMP_UNREACH_PROTO] = { ENOPROTOOPT, true },
	[ICMP_UNREACH_PORT] = { ECONNREFUSED, true },
	[ICMP_UNREACH_NEEDFRAG] = { EMSGSIZE, false },
	[ICMP_UNREACH_SRCFAIL] = { EOPNOTSUPP, false },
	[ICMP_UNREACH_NET_UNKNOWN] = { ENETUNREACH, true },
	[ICMP_UNREACH_HOST_UNKNOWN] = { EHOSTDOWN, true },
	[ICMP_UNREACH_ISOLATED] = { ENONET, true },
	[ICMP_UNREACH_NET_PROHIB] = { ENETUNREACH, true },
	[ICMP_UNREACH_HOST_PROHIB] = { EHOSTUNREACH, true },
	[ICMP_UNREACH_TOSNET] = { ENETUNREACH, false },
	[ICMP_UNREACH_TOSHOST] = { EHOSTUNREACH, false },
	[ICMP_UNREACH_FILTER_PROHIB] = { EHOSTUNREACH, true },
	[ICMP_UNREACH_HOST_PRECEDENCE] = { EHOSTUNREACH, true },
	[ICMP_UNREACH_PRECEDENCE_CUTOFF] = { EHOSTUNREACH, true },
};

/* Fill e->err / e->fatal / e->mtu from the message; false for codes Linux ignores. */
static bool icmp_error_convert(const uint8_t *m, struct icmp_error *e)
{
	switch (e->type) {
	case ICMP_DEST_UNREACH:
		if (e->code >= sizeof(icmp_unreach_errors) / sizeof(icmp_unreach_errors[0]))
			return false;
		e->err = icmp_unreach_errors[e->code].err;
		e->fatal = icmp_unreach_errors[e->code].fatal;
		if (e->code == ICMP_UNREACH_NEEDFRAG)
			e->mtu = wire_get16(m + ICMP_OFF_MTU);   /* RFC 1191 §4 */
		return true;
	case ICMP_TIME_EXCEEDED:
		e->err = EHOSTUNREACH;
		e->fatal = false;
		return true;
	case ICMP_PARAM_PROBLEM:
		e->err = EPROTO;
		e->fatal = true;
		return true;
	default:
		return false;
	}
}

/* RFC 792: the error quotes the offending datagram's IP header and at least 8 bytes of its
 * transport header (ports, and TCP's sequence number). */
int icmp_parse_error(const struct ustack *st, const uint8_t *m, size_t len,
		     struct icmp_error *e, uint8_t *inner_proto)
{
	const uint8_t *inner, *l4;
	size_t inner_len, ihl;

	if (len < ICMP_HDR_LEN)
		return -EINVAL;
	inner = m + ICMP_HDR_LEN;
	inner_len = len - ICMP_HDR_LEN;
	if (inner_len < IPV4_HDR_MIN || (inner[IPV4_OFF_VER_IHL] >> 4) != 4)
		return -EINVAL;
	ihl = (size_t)(inner[IPV4_OFF_VER_IHL] & 0x0f) * 4;
	if (ihl < IPV4_HDR_MIN || ihl + 8 > inner_len ||
	    (wire_get16(inner + IPV4_OFF_FRAG) & IPV4_FRAG_OFFSET_MASK))
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	e->type = m[ICMP_OFF_TYPE];
	e->code = m[ICMP_OFF_CODE];
	e->local_ip = wire_get32(inner + IPV4_OFF_SRC);
	e->remote_ip = wire_get32(inner + IPV4_OFF_DST);
	if (!ipv4_is_local(st, e->local_ip))
		return -EINVAL;
	if (!icmp_error_convert(m, e))
		return -EOPNOTSUPP;
	l4 = inner + ihl;
	e->local_port = wire_get16(l4);
	e->remote_port = wire_get16(l4 + 2);
	*inner_proto = inner[IPV4_OFF_PROTO];
	if (*inner_proto == IPV4_PROTO_TCP)
		e->tcp_seq = wire_get32(l4 + 4);
	return 0;
}

/* RFC 1122 §3.2.2: an error is passed to the transport named in the quoted header. */
static void icmp_error_input(struct ustack *st, const uint8_t *m, size_t len)
{
	struct icmp_error e;
	uint8_t proto = 0;
	int rc = icmp_parse_error(st, m, len, &e, &proto);

	if (rc == -EINVAL) {
		STAT_INC(st, icmp_drop_quote);
		return;
	}
	if (rc < 0) {
		STAT_INC(st, icmp_drop_type);
		return;
	}
	if (e.type == ICMP_DEST_UNREACH)
		STAT_INC(st, icmp_unreach_rx);
	switch (proto) {
	case IPV4_PROTO_UDP:
		udp_icmp_error(st, &e);
		break;
	case IPV4_PROTO_TCP:
		tcp_icmp_error(st, &e);
		break;
	default:
		STAT_INC(st, icmp_drop_type);
		break;
	}
}

void icmp_input(struct ustack *st, struct pkt *p, const struct ipv4_info *ip)
{
	const uint8_t *m = p->data;

	STAT_INC(st, icmp_rx);
	if (p->len < ICMP_HDR_LEN) {
		STAT_INC(st, icmp_drop_short);
		return;
	}
	/* RFC 792: the checksum covers the whole message; trust the kernel's verdict flags */
	if (!(p->flags & (PKT_F_CSUM_VALID | PKT_F_CSUM_PARTIAL)) && csum_compute(m, p->len) != 0) {
		STAT_INC(st, icmp_drop_checksum);
		return;
	}
	/* RFC 1122 §3.2.2.6: echo to a broadcast address may be ignored (Linux:
	 * icmp_echo_ignore_broadcasts=1); nothing else is accepted from a broadcast either. */
	if (ip->to_broadcast) {
		STAT_INC(st, icmp_drop_broadcast);
		return;
	}
	switch (m[ICMP_OFF_TYPE]) {
	case ICMP_ECHO_REQUEST:
		icmp_echo_reply(st, p, ip);
		break;
	case ICMP_DEST_UNREACH:
	case ICMP_TIME_EXCEEDED:
	case ICMP_PARAM_PROBLEM:
		icmp_error_input(st, m, p->len);
		break;
	default:
		/* echo replies (no ping sockets), source quench (RFC 6633: ignore), redirects … */
		STAT_INC(st, icmp_drop_type);
		break;
	}
}
