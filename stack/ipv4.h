/*
 * IPv4 (RFC 791, RFC 1122 §3.2.1): input validation and demultiplexing, output with routing
 * (on-link or via the gateway), IP ID, TTL 64, fragmentation of datagrams larger than the MTU.
 * Reassembly lives in ipv4_frag.c.
 */
#ifndef USTACK_IPV4_H
#define USTACK_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

struct ustack;

#define IPV4_HDR_MIN 20
#define IPV4_DEFAULT_TTL 64
#define IPV4_BROADCAST 0xffffffffu

/* What the transport layers learn of the datagram that carried their segment. */
struct ipv4_info {
	uint32_t src, dst;        /* host order */
	uint8_t proto, ttl, tos;
	uint16_t id;
	const uint8_t *hdr;       /* the IP header as received; the payload follows it */
	size_t hdr_len;
	size_t total_len;         /* header + payload, as validated */
	uint32_t pkt_flags;       /* PKT_F_CSUM_* of the frame (reassembled: 0) */
	bool to_broadcast;        /* addressed to a broadcast address */
};

/* p->data at the IP header (Ethernet header pulled). */
void ipv4_input(struct ustack *st, struct pkt *p);

#define IPV4_OUT_DF 0x1u  /* set Don't Fragment (TCP) */
/* p->data at the transport header. src 0 = our address. Fragments when larger than the MTU
 * (unless DF: then -EMSGSIZE). Consumes p. Returns 0 or -errno (-EHOSTUNREACH, -ENETUNREACH,
 * -EMSGSIZE, -ENOBUFS). */
int ipv4_output(struct ustack *st, struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto,
		unsigned flags);

/* Next hop for dst: dst itself when on-link, else the gateway; -ENETUNREACH if none. */
int ipv4_route(const struct ustack *st, uint32_t dst, uint32_t *next_hop);
bool ipv4_is_local(const struct ustack *st, uint32_t addr);
bool ipv4_is_broadcast(const struct ustack *st, uint32_t addr);

/* Reassembly (ipv4_frag.c). RFC 791 §3.2 / RFC 815; overlapping fragments are dropped whole
 * (RFC 5722's rule, applied to IPv4 as Linux does), memory capped, timeout 30 s. */
int ipv4_frag_init(struct ustack *st);
void ipv4_frag_fini(struct ustack *st);
/* Takes a fragment (p->data at the IP header, already validated). When a datagram completes,
 * it is handed to the transport through ipv4_deliver(). */
void ipv4_frag_input(struct ustack *st, struct pkt *p, const struct ipv4_info *ip);
#define IPV4_FRAG_TIMEOUT_MS 30000
#define IPV4_FRAG_MEM_MAX (4u * 1024 * 1024)

/* Hand a complete datagram (p->data at the IP header) to ICMP/UDP/TCP. */
void ipv4_deliver(struct ustack *st, struct pkt *p, const struct ipv4_info *ip);

#endif
