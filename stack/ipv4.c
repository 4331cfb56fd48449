/*
 * IPv4 (RFC 791; host requirements RFC 1122 §3.2.1, §3.3): validation of every received
 * header before any field is trusted, demultiplexing to ICMP/UDP/TCP (through reassembly
 * when fragmented), and output with routing, IP ID, TTL 64 and fragmentation.
 */
#include "ipv4.h"

#include <errno.h>
#include <string.h>

#include "arp.h"
#include "checksum.h"
#include "icmp.h"
#include "stack.h"
#include "tcp.h"
#include "udp.h"
#include "ustack/wire/bytes.h"
#include "ustack/wire/ipv4.h"

static uint32_t ipv4_netmask(const struct ustack *st)
{
	return st->ip_netmask;
}

bool ipv4_is_local(const struct ustack *st, uint32_t addr)
{
	return addr == st->ip_addr;
}

/* RFC 1122 §3.2.1.3: the limited broadcast and the directed broadcast of our subnet (none on
 * /31 and /32 links, RFC 3021). */
bool ipv4_is_broadcast(const struct ustack *st, uint32_t addr)
{
	uint32_t mask = ipv4_netmask(st);

	if (addr == IPV4_BROADCAST)
		return true;
	if (mask == 0xffffffffu || mask == 0xfffffffeu)
		return false;
	return (addr & mask) == (st->ip_addr & mask) && (addr & ~mask) == ~mask;
}

static bool ipv4_is_multicast(uint32_t addr)
{
	return (addr >> 28) == 0xe;
}

/* RFC 1122 §3.2.1.3 / §3.3.1: a host sends to on-link destinations directly and to everything
 * else through its gateway. */
int ipv4_route(const struct ustack *st, uint32_t dst, uint32_t *next_hop)
{
	uint32_t mask = ipv4_netmask(st);

	if (dst == 0)
		return -ENETUNREACH;
	if (dst == IPV4_BROADCAST || ipv4_is_multicast(dst) ||
	    (dst & mask) == (st->ip_addr & mask)) {
		*next_hop = dst;
		return 0;
	}
	if (st->gateway) {
		*next_hop = st->gateway;
		return 0;
	}
	return -ENETUNREACH;
}

/* RFC 1122 §3.2.1.3: a source address must name a single host: not 0 (except DHCP-style
 * 0.0.0.0 → 255.255.255.255), not a broadcast or multicast address, not loopback, and not
 * ours (Linux drops these as martians). */
static bool ipv4_src_is_martian(const struct ustack *st, uint32_t src, uint32_t dst)
{
	if (src == 0)
		return dst != IPV4_BROADCAST;
	return ipv4_is_broadcast(st, src) || ipv4_is_multicast(src) || (src >> 24) == 127 ||
	       (src >> 28) == 0xf || ipv4_is_local(st, src);
}

void ipv4_deliver(struct ustack *st, struct pkt *p, const struct ipv4_info *ip)
{
	if (!pkt_pull(p, ip->hdr_len))
		return;
	switch (ip->proto) {
	case IPV4_PROTO_ICMP:
		icmp_input(st, p, ip);
		break;
	case IPV4_PROTO_UDP:
		udp_input(st, p, ip);
		break;
	case IPV4_PROTO_TCP:
		/* TCP is unicast only (RFC 9293 §3.9.1 / RFC 1122 §4.2.3.10). */
		if (ip->to_broadcast) {
			STAT_INC(st, ip_drop_not_for_us);
			break;
		}
		tcp_input(st, p, ip);
		break;
	default:
		/* RFC 1122 §3.2.2.1: protocol unreachable for a transport we do not have. */
		STAT_INC(st, ip_drop_proto);
		icmp_send_unreachable(st, ICMP_UNREACH_PROTO, ip);
		break;
	}
}

/* RFC 791 §3.1, RFC 1122 §3.2.1.1–3.2.1.8: check every length before reading what it covers. */
void ipv4_input(struct ustack *st, struct pkt *p)
{
	const uint8_t *h = p->data;
	struct ipv4_info ip;
	size_t hdr_len, total_len;
	uint16_t frag;

	STAT_INC(st, ip_rx);
	if (p->len < IPV4_HDR_MIN) {
		STAT_INC(st, ip_drop_short);
		return;
	}
	/* §3.2.1.1: version must be 4 */
	if ((h[IPV4_OFF_VER_IHL] >> 4) != 4) {
		STAT_INC(st, ip_drop_version);
		return;
	}
	hdr_len = (size_t)(h[IPV4_OFF_VER_IHL] & 0x0f) * 4;
	if (hdr_len < IPV4_HDR_MIN || hdr_len > p->len) {
		STAT_INC(st, ip_drop_ihl);
		return;
	}
	total_len = wire_get16(h + IPV4_OFF_TOTAL_LEN);
	if (total_len < hdr_len || total_len > p->len) {
		STAT_INC(st, ip_drop_total_len);
		return;
	}
	/* §3.2.1.2: verify the header checksum; a bad one is silently discarded */
	if (csum_compute(h, hdr_len) != 0) {
		STAT_INC(st, ip_drop_checksum);
		return;
	}
	/* Ethernet pads short frames to 60 bytes: what follows total length is not ours */
	p->len = total_len;

	memset(&ip, 0, sizeof(ip));
	ip.src = wire_get32(h + IPV4_OFF_SRC);
	ip.dst = wire_get32(h + IPV4_OFF_DST);
	ip.proto = h[IPV4_OFF_PROTO];
	ip.ttl = h[IPV4_OFF_TTL];
	ip.tos = h[IPV4_OFF_TOS];
	ip.id = wire_get16(h + IPV4_OFF_ID);
	ip.hdr = h;
	ip.hdr_len = hdr_len;
	ip.total_len = total_len;
	ip.pkt_flags = p->flags;

	/* §3.2.1.3: ours, the subnet broadcast, or the limited broadcast */
	ip.to_broadcast = ipv4_is_broadcast(st, ip.dst);
	if (!ipv4_is_local(st, ip.dst) && !ip.to_broadcast) {
		STAT_INC(st, ip_drop_not_for_us);
		return;
	}
	if (ipv4_src_is_martian(st, ip.src, ip.dst)) {
		STAT_INC(st, ip_drop_src);
		return;
	}
	/* §3.2.1.8: options are legal; a host that implements none of them passes over them */
	if (hdr_len > IPV4_HDR_MIN)
		STAT_INC(st, ip_opts_rx);

	frag = wire_get16(h + IPV4_OFF_FRAG);
	if (frag & (IPV4_FRAG_MF | IPV4_FRAG_OFFSET_MASK)) {
		ipv4_frag_input(st, p, &ip);
		return;
	}
	ipv4_deliver(st, p, &ip);
}

static void ipv4_write_header(struct ustack *st, uint8_t *h, size_t total_len, uint16_t id,
			      uint16_t frag, uint8_t proto, uint32_t src, uint32_t dst)
{
	h[IPV4_OFF_VER_IHL] = 0x45;
	h[IPV4_OFF_TOS] = 0;
	wire_put16(h + IPV4_OFF_TOTAL_LEN, (uint16_t)total_len);
	wire_put16(h + IPV4_OFF_ID, id);
	wire_put16(h + IPV4_OFF_FRAG, frag);
	h[IPV4_OFF_TTL] = IPV4_DEFAULT_TTL;
	h[IPV4_OFF_PROTO] = proto;
	wire_put16(h + IPV4_OFF_CSUM, 0);
	wire_put32(h + IPV4_OFF_SRC, src);
	wire_put32(h + IPV4_OFF_DST, dst);
	wire_put16(h + IPV4_OFF_CSUM, csum_compute(h, IPV4_HDR_MIN));
	STAT_INC(st, ip_tx);
}

/* RFC 791 §3.2 "Fragmentation": every fragment but the last carries a multiple of 8 bytes and
 * MF; each is a new pooled packet with a copy of the header and its slice of the payload. */
static int ipv4_fragment(struct ustack *st, struct pkt *p, uint32_t src, uint32_t dst,
			 uint8_t proto, uint16_t id, uint32_t next_hop)
{
	size_t max_chunk = ((size_t)st->mtu - IPV4_HDR_MIN) & ~(size_t)7;
	size_t off = 0;
	int rc = 0;

	if (max_chunk < 8) {
		STAT_INC(st, ip_frag_fail);
		pkt_free(p);
		return -EMSGSIZE;
	}
	while (off < p->len) {
		size_t chunk = p->len - off > max_chunk ? max_chunk : p->len - off;
		bool last = off + chunk == p->len;
		struct pkt *f = pkt_alloc(IPV4_HDR_MIN + chunk);
		uint8_t *h;

		if (!f) {
			STAT_INC(st, ip_frag_fail);
			rc = -ENOBUFS;
			break;
		}
		memcpy(pkt_put(f, chunk), p->data + off, chunk);
		h = pkt_push(f, IPV4_HDR_MIN);
		ipv4_write_header(st, h, IPV4_HDR_MIN + chunk, id,
				  (uint16_t)((last ? 0 : IPV4_FRAG_MF) | (off / 8)), proto, src, dst);
		STAT_INC(st, ip_frag_tx);
		rc = arp_output(st, f, next_hop);
		if (rc < 0)
			break;
		off += chunk;
	}
	pkt_free(p);
	return rc;
}

int ipv4_output(struct ustack *st, struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto,
		unsigned flags)
{
	uint32_t next_hop;
	uint16_t id;
	uint8_t *h;
	int rc;

	rc = ipv4_route(st, dst, &next_hop);
	if (rc < 0) {
		STAT_INC(st, ip_drop_no_route);
		pkt_free(p);
		return rc;
	}
	if (src == 0)
		src = st->ip_addr;
	if (p->len > IPV4_MAX_DATAGRAM - IPV4_HDR_MIN) {
		pkt_free(p);
		return -EMSGSIZE;
	}
	id = st->ip_next_id++;
	if (IPV4_HDR_MIN + p->len > (size_t)st->mtu) {
		/* RFC 1122 §3.3.3: a host may fragment what it sends, unless told not to */
		if (flags & IPV4_OUT_DF) {
			STAT_INC(st, ip_frag_fail);
			pkt_free(p);
			return -EMSGSIZE;
		}
		return ipv4_fragment(st, p, src, dst, proto, id, next_hop);
	}
	h = pkt_push(p, IPV4_HDR_MIN);
	if (!h) {
		pkt_free(p);
		return -ENOBUFS;
	}
	ipv4_write_header(st, h, p->len, id, (flags & IPV4_OUT_DF) ? IPV4_FRAG_DF : 0, proto,
			  src, dst);
	return arp_output(st, p, next_hop);
}
