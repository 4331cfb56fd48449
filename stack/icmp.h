/* ICMP (RFC 792, RFC 1122 §3.2.2): echo replies, destination unreachable in and out. */
#ifndef USTACK_ICMP_H
#define USTACK_ICMP_H

#include <stdbool.h>
#include <stdint.h>

#include "ipv4.h"
#include "pkt.h"
#include "ustack/wire/icmp.h"   /* types, codes, offsets */

struct ustack;

int icmp_init(struct ustack *st);
void icmp_fini(struct ustack *st);
/* p->data at the ICMP header. */
void icmp_input(struct ustack *st, struct pkt *p, const struct ipv4_info *ip);
/* Send a destination unreachable quoting the datagram described by ip (its header and as much
 * of its payload as fits a 576-byte reply, like Linux; RFC 792 asks for at least 8 bytes),
 * rate-limited (RFC 1122 §3.2.2; like Linux's icmp_ratelimit). Never for broadcasts,
 * fragments other than the first, or ICMP errors. */
void icmp_send_unreachable(struct ustack *st, uint8_t code, const struct ipv4_info *ip);
/* Any ICMP error (destination unreachable, time exceeded …) with the same rules; info is the
 * 32-bit rest-of-header (the next-hop MTU in its low 16 bits for "fragmentation needed"). */
void icmp_send_error(struct ustack *st, uint8_t type, uint8_t code, uint32_t info,
		     const struct ipv4_info *ip);
/* ICMP rate limits (Linux defaults): every error to one destination costs ICMP_RATE_PEER_MS
 * from a per-destination bucket of ICMP_RATE_PEER_BURST tokens (icmp_ratelimit = 1000 ms,
 * XRLIM_BURST_FACTOR 6); all errors together at most ICMP_RATE_GLOBAL_PER_SEC, bursts of
 * ICMP_RATE_GLOBAL_BURST (icmp_msgs_per_sec, icmp_msgs_burst). */
#define ICMP_RATE_PEER_MS 1000
#define ICMP_RATE_PEER_BURST 6
#define ICMP_RATE_GLOBAL_PER_SEC 1000
#define ICMP_RATE_GLOBAL_BURST 50

/* ICMP errors delivered to the transports: the quoted datagram's addresses and ports (host
 * order; "local" is ours). err is the errno the socket should see (ECONNREFUSED,
 * EHOSTUNREACH, ENETUNREACH, EMSGSIZE …); mtu is set for "fragmentation needed". */
struct icmp_error {
	uint32_t local_ip, remote_ip;
	uint16_t local_port, remote_port;
	uint8_t type, code;
	int err;
	uint16_t mtu;
	uint32_t tcp_seq;   /* TCP: the quoted sequence number */
	bool fatal;         /* a hard error in Linux's icmp_err_convert table (net/host/proto/port
			     * unreachable, parameter problem …); time exceeded and
			     * "fragmentation needed" are soft */
};
/* Parse a received error (m at the ICMP header, len bytes): fills e and the quoted
 * datagram's protocol. -EINVAL: truncated or malformed quote, or not about a datagram of
 * ours; -EOPNOTSUPP: a type or code that is not passed on (Linux ignores them too). */
int icmp_parse_error(const struct ustack *st, const uint8_t *m, size_t len,
		     struct icmp_error *e, uint8_t *inner_proto);
void udp_icmp_error(struct ustack *st, const struct icmp_error *e);
void tcp_icmp_error(struct ustack *st, const struct icmp_error *e);

#endif
