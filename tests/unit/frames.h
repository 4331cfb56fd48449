/*
 * frames.h - crafted Ethernet / ARP / IPv4 / ICMP / UDP / TCP frames for unit tests, and a
 * parser for the frames the stack sends.
 *
 * Independent of the stack's own code on purpose (its own checksum, its own field offsets),
 * so a test compares the stack against a second implementation. Everything is static inline;
 * include it from any tests/unit/test_*.c.
 *
 * Builders write into a caller buffer (FRAMES_MAX bytes is always enough) and return the
 * number of bytes written. Addresses and ports are host order. Typical use:
 *
 *	uint8_t f[FRAMES_MAX], udp[2048];
 *	size_t ulen = frames_udp(udp, PEER_IP, OUR_IP, 5000, 7, "hi", 2);
 *	struct frames_ipv4 ip = frames_ipv4_defaults(PEER_IP, OUR_IP, FRAMES_PROTO_UDP);
 *	ip.payload = udp; ip.payload_len = ulen;
 *	size_t n = frames_eth_ipv4(f, OUR_MAC, PEER_MAC, &ip);
 *	stack_input_frame(st, f, n, 0);
 *
 * To corrupt a field: build, change bytes (frames_put16 …), and either leave the checksum
 * stale (bad-checksum tests) or fix it (frames_ipv4_fix_csum) to test the field alone.
 */
#ifndef USTACK_TESTS_FRAMES_H
#define USTACK_TESTS_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FRAMES_MAX 70000
#define FRAMES_ETH_LEN 14
#define FRAMES_ETH_IPV4 0x0800
#define FRAMES_ETH_ARP 0x0806
#define FRAMES_PROTO_ICMP 1
#define FRAMES_PROTO_TCP 6
#define FRAMES_PROTO_UDP 17

#define FRAMES_TCP_FIN 0x01
#define FRAMES_TCP_SYN 0x02
#define FRAMES_TCP_RST 0x04
#define FRAMES_TCP_PSH 0x08
#define FRAMES_TCP_ACK 0x10
#define FRAMES_TCP_URG 0x20

/* a.b.c.d in host order */
#define FRAMES_IP(a, b, c, d) \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* ---- bytes ---- */

static inline void frames_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void frames_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t frames_get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint32_t frames_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Flip bits of one byte (corruption tests). */
static inline void frames_corrupt(uint8_t *buf, size_t off, uint8_t xor_mask)
{
	buf[off] ^= xor_mask;
}

/* ---- checksums (RFC 1071), written independently of stack/checksum.c ---- */

/* Unfolded one's-complement sum of 16-bit big-endian words (odd byte padded with zero). */
static inline uint32_t frames_sum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *b = data;
	uint64_t acc = sum;

	while (len >= 2) {
		acc += (uint32_t)b[0] << 8 | b[1];
		b += 2;
		len -= 2;
	}
	if (len)
		acc += (uint32_t)b[0] << 8;
	while (acc > 0xffffffffu)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

/* Folded and inverted: the value a checksum field holds. */
static inline uint16_t frames_csum(const void *data, size_t len, uint32_t sum)
{
	uint32_t s = frames_sum(data, len, sum);

	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline uint32_t frames_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	uint8_t ph[12];

	frames_put32(ph, src);
	frames_put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = proto;
	frames_put16(ph + 10, len);
	return frames_sum(ph, sizeof(ph), 0);
}

/* ---- Ethernet ---- */

static inline size_t frames_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
				uint16_t ethertype)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	frames_put16(buf + 12, ethertype);
	return FRAMES_ETH_LEN;
}

/* ---- ARP (RFC 826, Ethernet/IPv4) ---- */

struct frames_arp {
	uint16_t op;            /* 1 request, 2 reply */
	uint8_t sha[6];
	uint32_t spa;
	uint8_t tha[6];
	uint32_t tpa;
};

static inline size_t frames_arp(uint8_t *buf, const struct frames_arp *a)
{
	frames_put16(buf, 1);          /* Ethernet */
	frames_put16(buf + 2, 0x0800); /* IPv4 */
	buf[4] = 6;
	buf[5] = 4;
	frames_put16(buf + 6, a->op);
	memcpy(buf + 8, a->sha, 6);
	frames_put32(buf + 14, a->spa);
	memcpy(buf + 18, a->tha, 6);
	frames_put32(buf + 24, a->tpa);
	return 28;
}

static inline size_t frames_eth_arp(uint8_t *buf, const uint8_t dst_mac[6],
				    const struct frames_arp *a)
{
	size_t n = frames_eth(buf, dst_mac, a->sha, FRAMES_ETH_ARP);

	return n + frames_arp(buf + n, a);
}

/* ---- IPv4 (RFC 791) ---- */

struct frames_ipv4 {
	uint32_t src, dst;
	uint8_t proto, ttl, tos;
	uint16_t id;
	bool df, mf;
	uint16_t frag_offset;          /* in bytes (a multiple of 8 for a valid fragment) */
	const uint8_t *options;        /* raw option bytes, a multiple of 4, at most 40 */
	size_t options_len;
	const uint8_t *payload;        /* may point into the output buffer (memmove) */
	size_t payload_len;
};

static inline struct frames_ipv4 frames_ipv4_defaults(uint32_t src, uint32_t dst, uint8_t proto)
{
	struct frames_ipv4 ip;

	memset(&ip, 0, sizeof(ip));
	ip.src = src;
	ip.dst = dst;
	ip.proto = proto;
	ip.ttl = 64;
	ip.id = 0x1234;
	return ip;
}

/* Recompute the header checksum of the IPv4 header at h (after changing a field). */
static inline void frames_ipv4_fix_csum(uint8_t *h)
{
	size_t hl = (size_t)(h[0] & 0x0f) * 4;

	frames_put16(h + 10, 0);
	frames_put16(h + 10, frames_csum(h, hl, 0));
}

/* Header, options and payload with a correct checksum; returns the datagram length. */
static inline size_t frames_ipv4(uint8_t *buf, const struct frames_ipv4 *ip)
{
	size_t hl = 20 + ip->options_len;
	size_t total = hl + ip->payload_len;

	if (ip->payload_len)
		memmove(buf + hl, ip->payload, ip->payload_len);
	buf[0] = (uint8_t)(0x40 | (hl / 4));
	buf[1] = ip->tos;
	frames_put16(buf + 2, (uint16_t)total);
	frames_put16(buf + 4, ip->id);
	frames_put16(buf + 6, (uint16_t)((ip->df ? 0x4000 : 0) | (ip->mf ? 0x2000 : 0) |
					 ((ip->frag_offset / 8) & 0x1fff)));
	buf[8] = ip->ttl;
	buf[9] = ip->proto;
	frames_put32(buf + 12, ip->src);
	frames_put32(buf + 16, ip->dst);
	if (ip->options_len)
		memcpy(buf + 20, ip->options, ip->options_len);
	frames_ipv4_fix_csum(buf);
	return total;
}

static inline size_t frames_eth_ipv4(uint8_t *buf, const uint8_t dst_mac[6],
				     const uint8_t src_mac[6], const struct frames_ipv4 *ip)
{
	size_t n = frames_eth(buf, dst_mac, src_mac, FRAMES_ETH_IPV4);

	return n + frames_ipv4(buf + n, ip);
}

/* ---- transports; checksums include the pseudo-header where the protocol has one ---- */

static inline size_t frames_udp(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t sport,
				uint16_t dport, const void *payload, size_t len)
{
	uint16_t ulen = (uint16_t)(8 + len);
	uint16_t c;

	if (len)
		memmove(buf + 8, payload, len);
	frames_put16(buf, sport);
	frames_put16(buf + 2, dport);
	frames_put16(buf + 4, ulen);
	frames_put16(buf + 6, 0);
	c = frames_csum(buf, ulen, frames_pseudo(src, dst, FRAMES_PROTO_UDP, ulen));
	frames_put16(buf + 6, c ? c : 0xffff);   /* RFC 768: a computed 0 is sent as all ones */
	return ulen;
}

struct frames_tcp {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;                 /* FRAMES_TCP_* */
	uint16_t window, urg;
	const uint8_t *options;        /* raw option bytes, a multiple of 4, at most 40 */
	size_t options_len;
	const uint8_t *payload;
	size_t payload_len;
};

static inline size_t frames_tcp(uint8_t *buf, uint32_t src, uint32_t dst,
				const struct frames_tcp *t)
{
	size_t hl = 20 + t->options_len;
	size_t total = hl + t->payload_len;

	if (t->payload_len)
		memmove(buf + hl, t->payload, t->payload_len);
	frames_put16(buf, t->sport);
	frames_put16(buf + 2, t->dport);
	frames_put32(buf + 4, t->seq);
	frames_put32(buf + 8, t->ack);
	buf[12] = (uint8_t)((hl / 4) << 4);
	buf[13] = t->flags;
	frames_put16(buf + 14, t->window);
	frames_put16(buf + 16, 0);
	frames_put16(buf + 18, t->urg);
	if (t->options_len)
		memcpy(buf + 20, t->options, t->options_len);
	frames_put16(buf + 16, frames_csum(buf, total,
					   frames_pseudo(src, dst, FRAMES_PROTO_TCP, (uint16_t)total)));
	return total;
}

/* ICMP message: type, code, the 32-bit rest-of-header, then payload; checksum over it all. */
static inline size_t frames_icmp(uint8_t *buf, uint8_t type, uint8_t code, uint32_t rest,
				 const void *payload, size_t len)
{
	if (len)
		memmove(buf + 8, payload, len);
	buf[0] = type;
	buf[1] = code;
	frames_put16(buf + 2, 0);
	frames_put32(buf + 4, rest);
	frames_put16(buf + 2, frames_csum(buf, 8 + len, 0));
	return 8 + len;
}

static inline size_t frames_icmp_echo(uint8_t *buf, bool request, uint16_t id, uint16_t seq,
				      const void *data, size_t len)
{
	return frames_icmp(buf, request ? 8 : 0, 0, ((uint32_t)id << 16) | seq, data, len);
}

/* Whole frame: Ethernet + IPv4 (defaults: TTL 64, ID 0x1234, no flags) + given L4 bytes. */
static inline size_t frames_eth_ipv4_l4(uint8_t *buf, const uint8_t dst_mac[6],
					const uint8_t src_mac[6], uint32_t src, uint32_t dst,
					uint8_t proto, const uint8_t *l4, size_t l4_len)
{
	struct frames_ipv4 ip = frames_ipv4_defaults(src, dst, proto);

	ip.payload = l4;
	ip.payload_len = l4_len;
	return frames_eth_ipv4(buf, dst_mac, src_mac, &ip);
}

/* ---- parsing what the stack sent ---- */

struct frames_parsed {
	size_t len;
	uint8_t eth_dst[6], eth_src[6];
	uint16_t ethertype;
	const uint8_t *arp;            /* ARP header (28 bytes checked), or NULL */
	const uint8_t *ip;             /* IPv4 header, or NULL */
	size_t ip_hdr_len, ip_total_len;
	uint32_t src, dst;
	uint8_t proto, ttl, tos;
	uint16_t id;
	bool df, mf;
	uint16_t frag_offset;          /* bytes */
	bool ip_csum_ok;
	const uint8_t *l4;             /* IP payload */
	size_t l4_len;
	bool l4_csum_ok;               /* ICMP/UDP/TCP checksum (unfragmented datagrams only) */
};

/* False when the frame is not a well-formed Ethernet + (ARP | IPv4) frame. */
static inline bool frames_parse(const uint8_t *f, size_t len, struct frames_parsed *out)
{
	memset(out, 0, sizeof(*out));
	out->len = len;
	if (len < FRAMES_ETH_LEN)
		return false;
	memcpy(out->eth_dst, f, 6);
	memcpy(out->eth_src, f + 6, 6);
	out->ethertype = frames_get16(f + 12);
	f += FRAMES_ETH_LEN;
	len -= FRAMES_ETH_LEN;
	if (out->ethertype == FRAMES_ETH_ARP) {
		if (len < 28)
			return false;
		out->arp = f;
		return true;
	}
	if (out->ethertype != FRAMES_ETH_IPV4 || len < 20 || (f[0] >> 4) != 4)
		return false;
	out->ip = f;
	out->ip_hdr_len = (size_t)(f[0] & 0x0f) * 4;
	out->ip_total_len = frames_get16(f + 2);
	if (out->ip_hdr_len < 20 || out->ip_total_len < out->ip_hdr_len || out->ip_total_len > len)
		return false;
	out->tos = f[1];
	out->id = frames_get16(f + 4);
	out->df = (f[6] & 0x40) != 0;
	out->mf = (f[6] & 0x20) != 0;
	out->frag_offset = (uint16_t)((frames_get16(f + 6) & 0x1fff) * 8);
	out->ttl = f[8];
	out->proto = f[9];
	out->src = frames_get32(f + 12);
	out->dst = frames_get32(f + 16);
	out->ip_csum_ok = frames_csum(f, out->ip_hdr_len, 0) == 0;
	out->l4 = f + out->ip_hdr_len;
	out->l4_len = out->ip_total_len - out->ip_hdr_len;
	if (!out->mf && out->frag_offset == 0) {
		uint32_t pseudo = out->proto == FRAMES_PROTO_ICMP
					  ? 0
					  : frames_pseudo(out->src, out->dst, out->proto,
							  (uint16_t)out->l4_len);
		out->l4_csum_ok = frames_csum(out->l4, out->l4_len, pseudo) == 0;
	}
	return true;
}

/* Reassemble fragments parsed with frames_parse (any order) into payload (cap bytes); the
 * frames they point into must still be alive (pop each into its own buffer).
 * Returns the datagram's payload length, or 0 if the set has a hole, overlaps or disagrees. */
static inline size_t frames_reassemble(const struct frames_parsed *frags, size_t n,
				       uint8_t *payload, size_t cap)
{
	size_t total = 0, covered = 0;

	for (size_t i = 0; i < n; i++) {
		size_t end = frags[i].frag_offset + frags[i].l4_len;
		if (!frags[i].mf) {
			if (total && total != end)
				return 0;
			total = end;
		}
		if (end > cap)
			return 0;
		memcpy(payload + frags[i].frag_offset, frags[i].l4, frags[i].l4_len);
		covered += frags[i].l4_len;
	}
	return covered == total ? total : 0;
}

#endif
