/*
 * UDP unit tests: a memory-netdev stack at 192.0.2.2/24, crafted Ethernet/IPv4/UDP frames
 * from the peer 192.0.2.1 fed through stack_input_frame, sent frames read back with
 * netdev_memory_pop, sockets driven through udp_sock_proto's operations.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>

#include "arp.h"
#include "counters.h"
#include "frames.h"
#include "icmp.h"
#include "pkt.h"
#include "sock.h"
#include "stack.h"
#include "udp.h"
#include "ustack/wire/udp.h"

#define OUR_IP 0xc0000202u     /* 192.0.2.2 */
#define PEER_IP 0xc0000201u    /* 192.0.2.1 */
#define OTHER_IP 0xc0000209u   /* 192.0.2.9 */
#define SUBNET_BCAST 0xc00002ffu

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct ustack *st;
static uint8_t frame[FRAMES_MAX];
static uint8_t l4[FRAMES_MAX];
static uint8_t out[FRAMES_MAX];
static struct frames_parsed sent;   /* the last frame pop_udp() parsed */

static void setup(void)
{
	st = stack_create_test(OUR_IP, 24, our_mac, 1500);
	cr_assert_not_null(st);
}

static void teardown(void)
{
	stack_destroy(st);
	pkt_pool_drain();
}

TestSuite(udp_demux, .init = setup, .fini = teardown);
TestSuite(udp_bind, .init = setup, .fini = teardown);
TestSuite(udp_connect, .init = setup, .fini = teardown);
TestSuite(udp_recv, .init = setup, .fini = teardown);
TestSuite(udp_send, .init = setup, .fini = teardown);
TestSuite(udp_checksum, .init = setup, .fini = teardown);
TestSuite(udp_malformed, .init = setup, .fini = teardown);
TestSuite(udp_rcvbuf, .init = setup, .fini = teardown);
TestSuite(udp_icmp, .init = setup, .fini = teardown);
TestSuite(udp_opts, .init = setup, .fini = teardown);

/* ---- frame building (tests/unit/frames.h: its own checksum code, not the stack's) ---- */

enum csum_mode { CSUM_GOOD, CSUM_BAD, CSUM_NONE };

struct dgram {
	uint32_t src, dst;
	uint16_t sport, dport;
	const void *data;
	size_t len;
	enum csum_mode csum;
	int ulen_delta;        /* added to the UDP length field */
	size_t ip_extra;       /* bytes inside the IP payload after the UDP datagram */
	size_t truncate_ip;    /* IP payload cut to this many bytes (0 = no cut) */
};

static size_t build_dgram(uint8_t *f, const struct dgram *d)
{
	bool bcast = d->dst == SUBNET_BCAST || d->dst == 0xffffffffu;
	size_t ulen = frames_udp(l4, d->src, d->dst, d->sport, d->dport, d->data, d->len);
	struct frames_ipv4 ip = frames_ipv4_defaults(d->src, d->dst, FRAMES_PROTO_UDP);

	if (d->csum == CSUM_NONE)
		frames_put16(l4 + 6, 0);
	else if (d->csum == CSUM_BAD)
		frames_corrupt(l4, 6, 0x5a);
	frames_put16(l4 + 4, (uint16_t)((int)ulen + d->ulen_delta));
	memset(l4 + ulen, 0xee, d->ip_extra);
	ip.payload = l4;
	ip.payload_len = d->truncate_ip ? d->truncate_ip : ulen + d->ip_extra;
	return frames_eth_ipv4(f, bcast ? bcast_mac : our_mac, peer_mac, &ip);
}

static void inject(const struct dgram *d, uint32_t flags)
{
	size_t n = build_dgram(frame, d);

	stack_input_frame(st, frame, n, flags);
}

static void inject_simple(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
			  const char *text)
{
	struct dgram d = { .src = src, .dst = dst, .sport = sport, .dport = dport, .data = text,
			   .len = strlen(text) };
	inject(&d, 0);
}

/* The peer asks for our MAC: we answer and learn its address (no ARP wait on sends). */
static void learn_peer(void)
{
	struct frames_arp a = { .op = 1, .spa = PEER_IP, .tpa = OUR_IP };
	size_t n;

	memcpy(a.sha, peer_mac, 6);
	n = frames_eth_arp(frame, bcast_mac, &a);
	stack_input_frame(st, frame, n, 0);
	netdev_memory_clear(&st->netdev);
}

/* ---- sockets ---- */

static struct sock *new_sock(void)
{
	struct sock *s = NULL;

	cr_assert_eq(sock_new(st, &udp_sock_proto, true, true, &s), 0);
	return s;
}

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(ip);
	a.sin_port = htons(port);
	return a;
}

static int do_bind(struct sock *s, uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = sin_of(ip, port);

	return udp_sock_proto.bind(st, s, &a);
}

static int do_connect(struct sock *s, uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = sin_of(ip, port);

	return udp_sock_proto.connect(st, s, &a);
}

static struct sockaddr_in local_of(struct sock *s)
{
	struct sockaddr_in a;

	cr_assert_eq(udp_sock_proto.getname(st, s, &a, false), 0);
	return a;
}

static ssize_t do_sendto(struct sock *s, const void *buf, size_t len, uint32_t ip,
			 uint16_t port, int flags)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct sockaddr_in a = sin_of(ip, port);

	return udp_sock_proto.sendmsg(st, s, &iov, 1, ip || port ? &a : NULL, flags);
}

static ssize_t do_recv(struct sock *s, void *buf, size_t len, int flags, int *msg_flags,
		       struct sockaddr_in *from)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	int mf = 0;
	ssize_t n = udp_sock_proto.recvmsg(st, s, &iov, 1, from, flags, &mf);

	if (msg_flags)
		*msg_flags = mf;
	return n;
}

static int poll_mask(struct sock *s)
{
	return udp_sock_proto.poll_mask(st, s);
}

/* Pop and parse the next sent frame into `sent`; returns a pointer to its UDP header when it
 * is an unfragmented IPv4/UDP datagram whose checksums verify, else NULL. */
static const uint8_t *pop_udp(void)
{
	size_t n = netdev_memory_pop(&st->netdev, out, sizeof(out));

	if (n == 0 || !frames_parse(out, n, &sent) || !sent.ip || sent.proto != FRAMES_PROTO_UDP ||
	    sent.mf || sent.frag_offset || !sent.ip_csum_ok || !sent.l4_csum_ok || sent.l4_len < 8)
		return NULL;
	return sent.l4;
}

static void recv_expect(struct sock *s, const char *text, uint32_t src, uint16_t sport)
{
	char buf[256];
	struct sockaddr_in from;
	ssize_t n = do_recv(s, buf, sizeof(buf), 0, NULL, &from);

	cr_assert_eq(n, (ssize_t)strlen(text), "recv gave %zd, expected \"%s\"", n, text);
	cr_assert(memcmp(buf, text, (size_t)n) == 0);
	cr_assert_eq(ntohl(from.sin_addr.s_addr), src);
	cr_assert_eq(ntohs(from.sin_port), sport);
}

static void recv_nothing(struct sock *s)
{
	char buf[64];

	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, NULL), -EAGAIN);
	cr_assert_eq(poll_mask(s) & POLLIN, 0);
}

/* The next sent frame is an ICMP port unreachable to the peer quoting sport -> dport. */
static void pop_icmp_port_unreachable(uint16_t sport, uint16_t dport)
{
	size_t n = netdev_memory_pop(&st->netdev, out, sizeof(out));
	const uint8_t *quoted;

	cr_assert(frames_parse(out, n, &sent) && sent.ip, "no IPv4 frame sent");
	cr_assert_eq(sent.proto, FRAMES_PROTO_ICMP);
	cr_assert_eq(sent.dst, PEER_IP);
	cr_assert(sent.l4_csum_ok);
	cr_assert_geq(sent.l4_len, 8 + 20 + 8);
	cr_assert_eq(sent.l4[0], ICMP_DEST_UNREACH);
	cr_assert_eq(sent.l4[1], ICMP_UNREACH_PORT);
	quoted = sent.l4 + 8 + (sent.l4[8] & 0x0f) * 4;
	cr_assert_eq(frames_get16(quoted), sport);
	cr_assert_eq(frames_get16(quoted + 2), dport);
}

/* ---- demultiplexing ---- */

Test(udp_demux, unicast_to_bound_socket)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	recv_nothing(s);
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "hello");
	cr_assert(poll_mask(s) & POLLIN);
	recv_expect(s, "hello", PEER_IP, 7000);
	recv_nothing(s);
	cr_assert_eq(st->counters.udp_rx, 1);
}

Test(udp_demux, connected_preferred_over_wildcard)
{
	struct sock *wild = new_sock(), *conn = new_sock();

	wild->reuseaddr = conn->reuseaddr = true;
	cr_assert_eq(do_bind(wild, 0, 5000), 0);
	cr_assert_eq(do_bind(conn, 0, 5000), 0);
	cr_assert_eq(do_connect(conn, PEER_IP, 7000), 0);

	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "to-conn");
	inject_simple(PEER_IP, 7001, OUR_IP, 5000, "other-port");
	inject_simple(OTHER_IP, 7000, OUR_IP, 5000, "other-host");
	recv_expect(conn, "to-conn", PEER_IP, 7000);
	recv_nothing(conn);
	recv_expect(wild, "other-port", PEER_IP, 7001);
	recv_expect(wild, "other-host", OTHER_IP, 7000);
	recv_nothing(wild);
}

Test(udp_demux, specific_address_beats_wildcard_in_either_order)
{
	for (int order = 0; order < 2; order++) {
		struct sock *wild = new_sock(), *exact = new_sock();
		uint16_t port = (uint16_t)(5100 + order);

		wild->reuseaddr = exact->reuseaddr = true;
		if (order == 0) {
			cr_assert_eq(do_bind(wild, 0, port), 0);
			cr_assert_eq(do_bind(exact, OUR_IP, port), 0);
		} else {
			cr_assert_eq(do_bind(exact, OUR_IP, port), 0);
			cr_assert_eq(do_bind(wild, 0, port), 0);
		}
		inject_simple(PEER_IP, 7000, OUR_IP, port, "x");
		recv_expect(exact, "x", PEER_IP, 7000);
		recv_nothing(wild);
	}
}

Test(udp_demux, connected_socket_filters_other_peers)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	learn_peer();
	inject_simple(PEER_IP, 7001, OUR_IP, 5000, "wrong peer port");
	recv_nothing(s);
	cr_assert_eq(st->counters.udp_drop_no_port, 1);
	/* nobody else on the port: the kernel answers port unreachable */
	pop_icmp_port_unreachable(7001, 5000);
}

Test(udp_demux, unbound_port_sends_icmp_port_unreachable_quoting_datagram)
{
	learn_peer();
	inject_simple(PEER_IP, 7000, OUR_IP, 4444, "anyone?");
	cr_assert_eq(st->counters.udp_drop_no_port, 1);
	pop_icmp_port_unreachable(7000, 4444);
}

Test(udp_demux, broadcast_reaches_every_matching_socket_and_no_icmp)
{
	struct sock *any = new_sock(), *unicast = new_sock(), *bcast = new_sock();

	any->reuseaddr = unicast->reuseaddr = bcast->reuseaddr = true;
	cr_assert_eq(do_bind(any, 0, 6000), 0);
	cr_assert_eq(do_bind(unicast, OUR_IP, 6000), 0);
	cr_assert_eq(do_bind(bcast, SUBNET_BCAST, 6000), 0);

	inject_simple(PEER_IP, 7000, SUBNET_BCAST, 6000, "subnet");
	recv_expect(any, "subnet", PEER_IP, 7000);
	recv_expect(bcast, "subnet", PEER_IP, 7000);
	recv_nothing(unicast);

	inject_simple(PEER_IP, 7000, 0xffffffffu, 6000, "limited");
	recv_expect(any, "limited", PEER_IP, 7000);
	recv_nothing(bcast);
	recv_nothing(unicast);

	/* a broadcast to a port nobody holds: silently dropped */
	inject_simple(PEER_IP, 7000, SUBNET_BCAST, 6001, "nobody");
	cr_assert_eq(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);
	cr_assert_eq(st->counters.udp_drop_bcast_no_port, 1);
}

Test(udp_demux, reuseport_group_spreads_peers_and_keeps_each_on_one_socket)
{
	struct sock *a = new_sock(), *b = new_sock();
	int got_a = 0, got_b = 0;
	char buf[16];

	a->reuseport = b->reuseport = true;
	cr_assert_eq(do_bind(a, 0, 5300), 0);
	cr_assert_eq(do_bind(b, 0, 5300), 0);
	for (int i = 0; i < 64; i++) {
		inject_simple(PEER_IP, (uint16_t)(10000 + i), OUR_IP, 5300, "p");
		inject_simple(PEER_IP, (uint16_t)(10000 + i), OUR_IP, 5300, "p");
		int na = 0, nb = 0;
		while (do_recv(a, buf, sizeof(buf), 0, NULL, NULL) >= 0)
			na++;
		while (do_recv(b, buf, sizeof(buf), 0, NULL, NULL) >= 0)
			nb++;
		/* both datagrams of one peer went to the same socket */
		cr_assert((na == 2 && nb == 0) || (na == 0 && nb == 2), "peer %d split %d/%d", i,
			  na, nb);
		got_a += na;
		got_b += nb;
	}
	cr_assert_gt(got_a, 0);
	cr_assert_gt(got_b, 0);
}

/* ---- bind ---- */

Test(udp_bind, port_zero_picks_distinct_ephemeral_ports)
{
	uint16_t ports[20];

	for (int i = 0; i < 20; i++) {
		struct sock *s = new_sock();
		struct sockaddr_in a;

		cr_assert_eq(do_bind(s, 0, 0), 0);
		a = local_of(s);
		ports[i] = ntohs(a.sin_port);
		cr_assert_geq(ports[i], UDP_EPHEMERAL_LOW);
		cr_assert_leq(ports[i], UDP_EPHEMERAL_HIGH);
		for (int j = 0; j < i; j++)
			cr_assert_neq(ports[i], ports[j]);
	}
	/* randomised start (RFC 6056): not simply consecutive */
	bool all_consecutive = true;
	for (int i = 1; i < 20; i++)
		if (ports[i] != ports[i - 1] + 1)
			all_consecutive = false;
	cr_assert(!all_consecutive);
}

Test(udp_bind, same_port_conflicts_without_reuseaddr)
{
	struct sock *a = new_sock(), *b = new_sock(), *c = new_sock();

	cr_assert_eq(do_bind(a, 0, 5000), 0);
	cr_assert_eq(do_bind(b, 0, 5000), -EADDRINUSE);
	cr_assert_eq(do_bind(b, OUR_IP, 5000), -EADDRINUSE);
	/* only one side with SO_REUSEADDR is not enough */
	c->reuseaddr = true;
	cr_assert_eq(do_bind(c, 0, 5000), -EADDRINUSE);
	/* a failed bind leaves the socket unbound */
	cr_assert_eq(do_bind(b, 0, 5001), 0);
}

Test(udp_bind, reuseaddr_on_both_allows_sharing)
{
	struct sock *a = new_sock(), *b = new_sock();

	a->reuseaddr = b->reuseaddr = true;
	cr_assert_eq(do_bind(a, 0, 5000), 0);
	cr_assert_eq(do_bind(b, 0, 5000), 0);
}

Test(udp_bind, reuseport_on_both_allows_sharing)
{
	struct sock *a = new_sock(), *b = new_sock();

	a->reuseport = b->reuseport = true;
	cr_assert_eq(do_bind(a, OUR_IP, 5000), 0);
	cr_assert_eq(do_bind(b, OUR_IP, 5000), 0);
}

Test(udp_bind, distinct_specific_addresses_share_a_port)
{
	struct sock *a = new_sock(), *b = new_sock(), *c = new_sock();

	cr_assert_eq(do_bind(a, OUR_IP, 5000), 0);
	cr_assert_eq(do_bind(b, SUBNET_BCAST, 5000), 0);
	/* but INADDR_ANY overlaps both */
	cr_assert_eq(do_bind(c, 0, 5000), -EADDRINUSE);
}

Test(udp_bind, address_must_be_ours_any_or_broadcast)
{
	struct sock *s = new_sock();
	struct sockaddr_in a = sin_of(OUR_IP, 5000);

	cr_assert_eq(do_bind(s, OTHER_IP, 5000), -EADDRNOTAVAIL);
	cr_assert_eq(do_bind(s, 0x7f000001u, 5000), -EADDRNOTAVAIL);
	a.sin_family = AF_INET6;
	cr_assert_eq(udp_sock_proto.bind(st, s, &a), -EAFNOSUPPORT);
	cr_assert_eq(do_bind(s, 0xffffffffu, 5000), 0);
}

Test(udp_bind, second_bind_is_einval)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(do_bind(s, 0, 5001), -EINVAL);
	cr_assert_eq(ntohs(local_of(s).sin_port), 5000);
}

Test(udp_bind, first_send_binds_implicitly_then_bind_is_einval)
{
	struct sock *s = new_sock();
	struct sockaddr_in a;

	learn_peer();
	cr_assert_eq(ntohs(local_of(s).sin_port), 0);
	cr_assert_eq(do_sendto(s, "x", 1, PEER_IP, 9, 0), 1);
	a = local_of(s);
	cr_assert_geq(ntohs(a.sin_port), UDP_EPHEMERAL_LOW);
	cr_assert_leq(ntohs(a.sin_port), UDP_EPHEMERAL_HIGH);
	cr_assert_eq(a.sin_addr.s_addr, htonl(0));
	cr_assert_eq(do_bind(s, 0, 5000), -EINVAL);
}

Test(udp_bind, close_releases_port)
{
	struct sock *a = new_sock(), *b = new_sock();

	cr_assert_eq(do_bind(a, 0, 5000), 0);
	udp_sock_proto.release(st, a);
	sock_free(st, a);
	cr_assert_eq(do_bind(b, 0, 5000), 0);
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "after close");
	recv_expect(b, "after close", PEER_IP, 7000);
}

/* ---- connect / disconnect ---- */

Test(udp_connect, implicit_bind_and_names)
{
	struct sock *s = new_sock();
	struct sockaddr_in a;

	cr_assert_eq(udp_sock_proto.getname(st, s, &a, true), -ENOTCONN);
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	a = local_of(s);
	cr_assert_eq(ntohl(a.sin_addr.s_addr), OUR_IP);
	cr_assert_geq(ntohs(a.sin_port), UDP_EPHEMERAL_LOW);
	cr_assert_eq(udp_sock_proto.getname(st, s, &a, true), 0);
	cr_assert_eq(ntohl(a.sin_addr.s_addr), PEER_IP);
	cr_assert_eq(ntohs(a.sin_port), 7000);
}

Test(udp_connect, disconnect_forgets_peer_and_autobound_port)
{
	struct sock *s = new_sock();
	struct sockaddr_in unspec, a;

	memset(&unspec, 0, sizeof(unspec));
	unspec.sin_family = AF_UNSPEC;
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	cr_assert_eq(udp_sock_proto.connect(st, s, &unspec), 0);
	cr_assert_eq(udp_sock_proto.getname(st, s, &a, true), -ENOTCONN);
	a = local_of(s);
	cr_assert_eq(a.sin_port, 0);
	cr_assert_eq(a.sin_addr.s_addr, 0);
	cr_assert_eq(do_sendto(s, "x", 1, 0, 0, 0), -EDESTADDRREQ);
}

Test(udp_connect, disconnect_keeps_explicit_bind)
{
	struct sock *s = new_sock();
	struct sockaddr_in unspec, a;

	memset(&unspec, 0, sizeof(unspec));
	unspec.sin_family = AF_UNSPEC;
	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	cr_assert_eq(ntohl(local_of(s).sin_addr.s_addr), OUR_IP);
	cr_assert_eq(udp_sock_proto.connect(st, s, &unspec), 0);
	a = local_of(s);
	cr_assert_eq(ntohs(a.sin_port), 5000);
	cr_assert_eq(a.sin_addr.s_addr, 0);   /* the address came from connect: reset */
	/* unconnected again: any peer reaches it */
	inject_simple(OTHER_IP, 8000, OUR_IP, 5000, "anyone");
	recv_expect(s, "anyone", OTHER_IP, 8000);
}

Test(udp_connect, reconnect_changes_peer)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	cr_assert_eq(do_connect(s, OTHER_IP, 7001), 0);
	learn_peer();
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "old");
	recv_nothing(s);
	inject_simple(OTHER_IP, 7001, OUR_IP, 5000, "new");
	recv_expect(s, "new", OTHER_IP, 7001);
}

Test(udp_connect, unreachable_network_and_bad_family)
{
	struct sock *s = new_sock();
	struct sockaddr_in a = sin_of(PEER_IP, 7000);

	/* no gateway: off-link destinations have no route */
	cr_assert_eq(do_connect(s, 0x08080808u, 53), -ENETUNREACH);
	a.sin_family = AF_INET6;
	cr_assert_eq(udp_sock_proto.connect(st, s, &a), -EAFNOSUPPORT);
}

Test(udp_connect, broadcast_needs_so_broadcast)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_connect(s, SUBNET_BCAST, 7000), -EACCES);
	s->broadcast = true;
	cr_assert_eq(do_connect(s, SUBNET_BCAST, 7000), 0);
}

/* ---- receive ---- */

Test(udp_recv, peek_trunc_and_boundaries)
{
	struct sock *s = new_sock();
	char buf[64];
	int mf, inq;
	ssize_t n;

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "first-datagram");
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "second");
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "3");

	cr_assert_eq(udp_sock_proto.inq(st, s, &inq), 0);
	cr_assert_eq(inq, 14);
	/* MSG_PEEK leaves it queued */
	n = do_recv(s, buf, sizeof(buf), MSG_PEEK, &mf, NULL);
	cr_assert_eq(n, 14);
	cr_assert_eq(mf & MSG_TRUNC, 0);
	/* peeking into a short buffer: MSG_TRUNC in msg_flags, the copied count returned */
	n = do_recv(s, buf, 5, MSG_PEEK, &mf, NULL);
	cr_assert_eq(n, 5);
	cr_assert(mf & MSG_TRUNC);
	/* MSG_TRUNC as a flag returns the real length */
	n = do_recv(s, buf, 5, MSG_PEEK | MSG_TRUNC, &mf, NULL);
	cr_assert_eq(n, 14);
	/* a short read consumes the whole datagram: the rest is discarded */
	n = do_recv(s, buf, 5, 0, &mf, NULL);
	cr_assert_eq(n, 5);
	cr_assert(memcmp(buf, "first", 5) == 0);
	cr_assert(mf & MSG_TRUNC);
	cr_assert_eq(udp_sock_proto.inq(st, s, &inq), 0);
	cr_assert_eq(inq, 6);
	recv_expect(s, "second", PEER_IP, 7000);
	n = do_recv(s, buf, sizeof(buf), MSG_TRUNC, &mf, NULL);
	cr_assert_eq(n, 1);
	cr_assert_eq(mf & MSG_TRUNC, 0);
	recv_nothing(s);
	cr_assert_eq(udp_sock_proto.inq(st, s, &inq), 0);
	cr_assert_eq(inq, 0);
}

static short app_fd_revents(struct sock *s)
{
	struct pollfd pfd = { .fd = s->app_fd, .events = POLLIN | POLLOUT };

	cr_assert_geq(poll(&pfd, 1, 0), 0);
	return pfd.revents;
}

Test(udp_recv, readiness_mirror_follows_the_queue)
{
	struct sock *s = new_sock();
	char buf[16];

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(app_fd_revents(s) & POLLIN, 0);
	cr_assert(app_fd_revents(s) & POLLOUT);
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "one");
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "two");
	cr_assert(app_fd_revents(s) & POLLIN);
	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, NULL), 3);
	cr_assert(app_fd_revents(s) & POLLIN, "a datagram is still queued");
	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, NULL), 3);
	cr_assert_eq(app_fd_revents(s) & POLLIN, 0);
}

Test(udp_recv, scatter_into_iovecs)
{
	struct sock *s = new_sock();
	char a[3], b[4], c[10];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	int mf = 0;

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "abcdefghij");
	cr_assert_eq(udp_sock_proto.recvmsg(st, s, iov, 3, NULL, 0, &mf), 10);
	cr_assert(memcmp(a, "abc", 3) == 0);
	cr_assert(memcmp(b, "defg", 4) == 0);
	cr_assert(memcmp(c, "hij", 3) == 0);
	cr_assert_eq(mf, 0);
}

Test(udp_recv, zero_length_datagram)
{
	struct sock *s = new_sock();
	char buf[8];
	struct sockaddr_in from;

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "");
	cr_assert(poll_mask(s) & POLLIN);
	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, &from), 0);
	cr_assert_eq(ntohs(from.sin_port), 7000);
	recv_nothing(s);
}

Test(udp_recv, ring_wraps_over_many_datagrams)
{
	struct sock *s = new_sock();
	static uint8_t payload[1400], buf[1500];

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	/* far more bytes than the ring holds, read as they come: records wrap around the end */
	for (int i = 0; i < 999; i++) {
		struct dgram d = { .src = PEER_IP, .dst = OUR_IP, .sport = 7000, .dport = 5000,
				   .data = payload, .len = 1000 + (size_t)(i % 400) };
		memset(payload, i & 0xff, sizeof(payload));
		inject(&d, 0);
		if (i % 3 != 2)
			continue;
		for (int k = 0; k < 3; k++) {
			size_t want = 1000 + (size_t)((i - 2 + k) % 400);
			ssize_t n = do_recv(s, buf, sizeof(buf), 0, NULL, NULL);
			cr_assert_eq(n, (ssize_t)want);
			cr_assert_eq(buf[0], (uint8_t)(i - 2 + k));
			cr_assert_eq(buf[want - 1], (uint8_t)(i - 2 + k));
		}
	}
	recv_nothing(s);
	cr_assert_eq(st->counters.udp_drop_rcvbuf, 0);
}

Test(udp_recv, shutdown_read_reports_eof)
{
	struct sock *s = new_sock();
	char buf[8];

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	/* unconnected: the directions are shut anyway, but ENOTCONN (Linux) */
	cr_assert_eq(udp_sock_proto.shutdown(st, s, SHUT_RD), -ENOTCONN);
	cr_assert(poll_mask(s) & POLLRDHUP);
	cr_assert(poll_mask(s) & POLLIN);
	cr_assert_eq(poll_mask(s) & POLLHUP, 0);
	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, NULL), 0);
	cr_assert_eq(do_recv(s, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL), -EAGAIN);
	cr_assert_eq(udp_sock_proto.shutdown(st, s, 7), -EINVAL);
}

Test(udp_recv, shutdown_write_gives_epipe)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	cr_assert_eq(udp_sock_proto.shutdown(st, s, SHUT_WR), 0);
	cr_assert_eq(do_sendto(s, "x", 1, 0, 0, 0), -EPIPE);
	cr_assert_eq(udp_sock_proto.shutdown(st, s, SHUT_RD), 0);
	cr_assert(poll_mask(s) & POLLHUP);
}

/* ---- checksums ---- */

static void inject_csum(enum csum_mode mode, uint32_t flags, const char *text)
{
	struct dgram d = { .src = PEER_IP, .dst = OUR_IP, .sport = 7000, .dport = 5000,
			   .data = text, .len = strlen(text), .csum = mode };
	inject(&d, flags);
}

Test(udp_checksum, good_accepted)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject_csum(CSUM_GOOD, 0, "good");
	recv_expect(s, "good", PEER_IP, 7000);
	cr_assert_eq(st->counters.udp_drop_checksum, 0);
}

Test(udp_checksum, bad_dropped_without_icmp)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	learn_peer();
	inject_csum(CSUM_BAD, 0, "bad");
	recv_nothing(s);
	cr_assert_eq(st->counters.udp_drop_checksum, 1);
	/* a corrupt datagram to a closed port is not answered either */
	struct dgram d = { .src = PEER_IP, .dst = OUR_IP, .sport = 7000, .dport = 4444,
			   .data = "x", .len = 1, .csum = CSUM_BAD };
	inject(&d, 0);
	cr_assert_eq(st->counters.udp_drop_checksum, 2);
	cr_assert_eq(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);
}

Test(udp_checksum, zero_means_none)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject_csum(CSUM_NONE, 0, "unchecked");
	recv_expect(s, "unchecked", PEER_IP, 7000);
}

Test(udp_checksum, kernel_flags_trusted)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	/* CHECKSUM_PARTIAL from a veth peer: the field holds only the pseudo-header sum */
	inject_csum(CSUM_BAD, PKT_F_CSUM_PARTIAL, "partial");
	recv_expect(s, "partial", PEER_IP, 7000);
	inject_csum(CSUM_BAD, PKT_F_CSUM_VALID, "valid");
	recv_expect(s, "valid", PEER_IP, 7000);
	cr_assert_eq(st->counters.udp_drop_checksum, 0);
}

/* ---- malformed lengths ---- */

Test(udp_malformed, udp_length_beyond_ip_payload)
{
	struct sock *s = new_sock();
	struct dgram d = { .src = PEER_IP, .dst = OUR_IP, .sport = 7000, .dport = 5000,
			   .data = "abcd", .len = 4, .csum = CSUM_NONE, .ulen_delta = 1 };

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject(&d, 0);
	recv_nothing(s);
	cr_assert_eq(st->counters.udp_drop_len, 1);
}

Test(udp_malformed, udp_length_below_header)
{
	struct sock *s = new_sock();
	struct dgram d = { .src = PEER_IP, .dst = OUR_IP, .sport = 7000, .dport = 5000,
			   .data = "abcd", .len = 4, .csum = CSUM_NONE, .ulen_delta = -5 };

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject(&d, 0);
	recv_nothing(s);
	cr_assert_eq(st->counters.udp_drop_len, 1);
}

Test(udp_malformed, ip_payload_shorter_than_header)
{
	struct sock *s = new_sock();
	struct dgram d = { .src = PEER_IP, .dst = OUR_IP, .sport = 7000, .dport = 5000,
			   .csum = CSUM_NONE, .truncate_ip = 7 };

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject(&d, 0);
	recv_nothing(s);
	cr_assert_eq(st->counters.udp_drop_short, 1);
}

Test(udp_malformed, udp_length_below_ip_payload_is_trimmed)
{
	struct sock *s = new_sock();
	struct dgram d = { .src = PEER_IP, .dst = OUR_IP, .sport = 7000, .dport = 5000,
			   .data = "abcd", .len = 4, .csum = CSUM_GOOD, .ip_extra = 6 };

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject(&d, 0);
	recv_expect(s, "abcd", PEER_IP, 7000);
}

/* ---- sending ---- */

Test(udp_send, datagram_on_the_wire)
{
	struct sock *s = new_sock();
	const uint8_t *u;

	learn_peer();
	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(do_sendto(s, "payload", 7, PEER_IP, 7000, 0), 7);
	u = pop_udp();
	cr_assert_not_null(u, "no valid UDP frame sent");
	cr_assert(memcmp(sent.eth_dst, peer_mac, 6) == 0);
	cr_assert_eq(sent.src, OUR_IP);
	cr_assert_eq(sent.dst, PEER_IP);
	cr_assert_eq(frames_get16(u + UDP_OFF_SRC_PORT), 5000);
	cr_assert_eq(frames_get16(u + UDP_OFF_DST_PORT), 7000);
	cr_assert_eq(frames_get16(u + UDP_OFF_LEN), UDP_HDR_LEN + 7);
	/* always checksummed (pop_udp verified it with frames.h's own code) */
	cr_assert_neq(frames_get16(u + UDP_OFF_CSUM), 0);
	cr_assert(memcmp(u + UDP_HDR_LEN, "payload", 7) == 0);
	cr_assert_eq(st->counters.udp_tx, 1);
}

Test(udp_send, gathers_iovecs_and_zero_length)
{
	struct sock *s = new_sock();
	char ab[] = "ab", cde[] = "cde";
	struct iovec iov[3] = { { ab, 2 }, { NULL, 0 }, { cde, 3 } };
	struct sockaddr_in to = sin_of(PEER_IP, 7000);
	const uint8_t *u;

	learn_peer();
	cr_assert_eq(udp_sock_proto.sendmsg(st, s, iov, 3, &to, 0), 5);
	u = pop_udp();
	cr_assert_not_null(u);
	cr_assert(memcmp(u + UDP_HDR_LEN, "abcde", 5) == 0);
	cr_assert_eq(udp_sock_proto.sendmsg(st, s, iov, 0, &to, 0), 0);
	u = pop_udp();
	cr_assert_not_null(u);
	cr_assert_eq(frames_get16(u + UDP_OFF_LEN), UDP_HDR_LEN);
}

Test(udp_send, unconnected_without_address_is_edestaddrreq)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_sendto(s, "x", 1, 0, 0, 0), -EDESTADDRREQ);
	cr_assert_eq(do_sendto(s, "x", 1, PEER_IP, 0, 0), -EINVAL);
}

Test(udp_send, sendto_on_connected_socket_goes_to_given_address)
{
	struct sock *s = new_sock();
	const uint8_t *u;

	learn_peer();
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	cr_assert_eq(do_sendto(s, "a", 1, 0, 0, 0), 1);
	u = pop_udp();
	cr_assert_not_null(u);
	cr_assert_eq(frames_get16(u + UDP_OFF_DST_PORT), 7000);
	cr_assert_eq(do_sendto(s, "b", 1, PEER_IP, 7001, 0), 1);
	u = pop_udp();
	cr_assert_not_null(u);
	cr_assert_eq(frames_get16(u + UDP_OFF_DST_PORT), 7001);
}

Test(udp_send, broadcast_needs_so_broadcast)
{
	struct sock *s = new_sock();
	const uint8_t *u;

	cr_assert_eq(do_sendto(s, "x", 1, SUBNET_BCAST, 7000, 0), -EACCES);
	cr_assert_eq(do_sendto(s, "x", 1, 0xffffffffu, 7000, 0), -EACCES);
	cr_assert_eq(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);
	s->broadcast = true;
	cr_assert_eq(do_sendto(s, "x", 1, 0xffffffffu, 7000, 0), 1);
	u = pop_udp();
	cr_assert_not_null(u);
	cr_assert(memcmp(sent.eth_dst, bcast_mac, 6) == 0);
	cr_assert_eq(sent.dst, 0xffffffffu);
}

Test(udp_send, broadcast_is_looped_back_to_local_listeners)
{
	struct sock *tx = new_sock(), *rx = new_sock();
	uint16_t tx_port;

	cr_assert_eq(do_bind(rx, 0, 6000), 0);
	tx->broadcast = true;
	cr_assert_eq(do_sendto(tx, "hi all", 6, SUBNET_BCAST, 6000, 0), 6);
	tx_port = ntohs(local_of(tx).sin_port);
	recv_expect(rx, "hi all", OUR_IP, tx_port);
}

Test(udp_send, own_address_is_delivered_locally)
{
	struct sock *a = new_sock(), *b = new_sock();

	cr_assert_eq(do_bind(b, 0, 6000), 0);
	cr_assert_eq(do_bind(a, 0, 6001), 0);
	cr_assert_eq(do_sendto(a, "to me", 5, OUR_IP, 6000, 0), 5);
	recv_expect(b, "to me", OUR_IP, 6001);
	cr_assert_eq(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);
	/* a connected sender to a closed local port learns ECONNREFUSED, as over loopback */
	cr_assert_eq(do_connect(a, OUR_IP, 6999), 0);
	cr_assert_eq(do_sendto(a, "x", 1, 0, 0, 0), 1);
	cr_assert(poll_mask(a) & POLLERR);
	cr_assert_eq(do_sendto(a, "x", 1, 0, 0, 0), -ECONNREFUSED);
}

Test(udp_send, size_limits)
{
	struct sock *s = new_sock();
	static uint8_t big[70000], whole[70000];
	static uint8_t frag_store[64][1600];
	static struct frames_parsed frags[64];
	size_t nfrags = 0, n, total;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	learn_peer();
	cr_assert_eq(do_sendto(s, big, UDP_MAX_PAYLOAD + 1, PEER_IP, 7000, 0), -EMSGSIZE);
	cr_assert_eq(do_sendto(s, big, 70000, PEER_IP, 7000, 0), -EMSGSIZE);
	cr_assert_eq(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);
	/* the largest datagram goes out, fragmented to the MTU */
	cr_assert_eq(do_sendto(s, big, UDP_MAX_PAYLOAD, PEER_IP, 7000, 0), UDP_MAX_PAYLOAD);
	while ((n = netdev_memory_pop(&st->netdev, frag_store[nfrags], 1600)) > 0) {
		cr_assert_leq(n, FRAMES_ETH_LEN + 1500);
		cr_assert(frames_parse(frag_store[nfrags], n, &frags[nfrags]));
		cr_assert_lt(++nfrags, 64);
	}
	cr_assert_gt(nfrags, 1);
	total = frames_reassemble(frags, nfrags, whole, sizeof(whole));
	cr_assert_eq(total, UDP_HDR_LEN + UDP_MAX_PAYLOAD);
	cr_assert_eq(frames_get16(whole + UDP_OFF_LEN), UDP_HDR_LEN + UDP_MAX_PAYLOAD);
	cr_assert(memcmp(whole + UDP_HDR_LEN, big, UDP_MAX_PAYLOAD) == 0);
	cr_assert_eq(frames_csum(whole, total, frames_pseudo(OUR_IP, PEER_IP, FRAMES_PROTO_UDP,
							     (uint16_t)total)), 0);
}

Test(udp_send, oob_not_supported)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_sendto(s, "x", 1, PEER_IP, 7000, MSG_OOB), -EOPNOTSUPP);
}

Test(udp_send, always_writable)
{
	struct sock *s = new_sock();

	cr_assert(poll_mask(s) & POLLOUT);
	cr_assert_eq(poll_mask(s) & (POLLIN | POLLERR | POLLHUP), 0);
}

/* ---- receive buffer ---- */

Test(udp_rcvbuf, small_datagram_flood_is_bounded)
{
	struct sock *s = new_sock();
	int queued = 0;
	char buf[16];

	s->rcvbuf = 4608;
	cr_assert_eq(do_bind(s, 0, 5000), 0);
	for (int i = 0; i < 200; i++)
		inject_simple(PEER_IP, 7000, OUR_IP, 5000, "");
	while (do_recv(s, buf, sizeof(buf), 0, NULL, NULL) == 0)
		queued++;
	cr_assert_gt(queued, 0);
	/* each zero-length datagram is charged its overhead: far fewer than 200 fit */
	cr_assert_lt(queued, 20, "queued %d empty datagrams in 4608 bytes", queued);
	cr_assert_eq(st->counters.udp_drop_rcvbuf, (uint64_t)(200 - queued));
	/* drained: room again */
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "again");
	recv_expect(s, "again", PEER_IP, 7000);
}

Test(udp_rcvbuf, bytes_bounded_by_so_rcvbuf)
{
	struct sock *s = new_sock();
	static uint8_t payload[1000], buf[1000];
	size_t bytes = 0;
	ssize_t n;

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	for (int i = 0; i < 1000; i++) {
		struct dgram d = { .src = PEER_IP, .dst = OUR_IP, .sport = 7000, .dport = 5000,
				   .data = payload, .len = sizeof(payload) };
		inject(&d, 0);
	}
	cr_assert_gt(st->counters.udp_drop_rcvbuf, 0);
	while ((n = do_recv(s, buf, sizeof(buf), 0, NULL, NULL)) > 0)
		bytes += (size_t)n;
	cr_assert_leq(bytes, (size_t)SOCK_DEFAULT_UDP_RCVBUF + sizeof(payload));
	cr_assert_geq(bytes, (size_t)SOCK_DEFAULT_UDP_RCVBUF / 2);
}

Test(udp_rcvbuf, datagram_larger_than_buffer_fits_only_an_empty_queue)
{
	struct sock *s = new_sock();
	static uint8_t payload[4000], buf[4000];
	struct dgram d = { .src = PEER_IP, .dst = OUR_IP, .sport = 7000, .dport = 5000,
			   .data = payload, .len = sizeof(payload) };

	s->rcvbuf = 2304;   /* Linux's minimum */
	cr_assert_eq(do_bind(s, 0, 5000), 0);
	memset(payload, 7, sizeof(payload));
	/* Linux admits a datagram while the charge is within SO_RCVBUF, whatever its size */
	inject(&d, 0);
	inject(&d, 0);
	cr_assert_eq(st->counters.udp_drop_rcvbuf, 1);
	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, NULL), (ssize_t)sizeof(payload));
	cr_assert_eq(buf[sizeof(buf) - 1], 7);
	recv_nothing(s);
	inject(&d, 0);
	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, NULL), (ssize_t)sizeof(payload));
	cr_assert_eq(st->counters.udp_drop_rcvbuf, 1);
}

/* ---- ICMP errors ---- */

/* An ICMP error from the peer quoting a datagram we sent local_port -> remote. */
static void inject_icmp_error(uint8_t type, uint8_t code, uint16_t local_port, uint32_t remote,
			      uint16_t remote_port)
{
	uint8_t quote[20 + 8], icmp[64];
	struct frames_ipv4 inner = frames_ipv4_defaults(OUR_IP, remote, FRAMES_PROTO_UDP);
	uint8_t udp[8];
	size_t qlen, mlen, n;

	frames_put16(udp, local_port);
	frames_put16(udp + 2, remote_port);
	frames_put16(udp + 4, 8);
	frames_put16(udp + 6, 0);
	inner.payload = udp;
	inner.payload_len = sizeof(udp);
	qlen = frames_ipv4(quote, &inner);
	mlen = frames_icmp(icmp, type, code, 0, quote, qlen);
	n = frames_eth_ipv4_l4(frame, our_mac, peer_mac, PEER_IP, OUR_IP, FRAMES_PROTO_ICMP, icmp,
			       mlen);
	stack_input_frame(st, frame, n, 0);
}

Test(udp_icmp, port_unreachable_gives_econnrefused_once_on_recv)
{
	struct sock *s = new_sock();
	char buf[8];

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	inject_icmp_error(ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 5000, PEER_IP, 7000);
	cr_assert(poll_mask(s) & POLLERR);
	cr_assert_eq(s->so_error, ECONNREFUSED);
	/* the app fd shows POLLERR (waking a blocked reader), not POLLIN, like the kernel's */
	cr_assert(app_fd_revents(s) & POLLERR);
	cr_assert_eq(app_fd_revents(s) & POLLIN, 0);
	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, NULL), -ECONNREFUSED);
	cr_assert_eq(poll_mask(s) & POLLERR, 0);
	cr_assert_eq(app_fd_revents(s) & (POLLIN | POLLERR), 0);
	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, NULL), -EAGAIN);
}

Test(udp_icmp, port_unreachable_reported_on_send_before_sending)
{
	struct sock *s = new_sock();

	learn_peer();
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	inject_icmp_error(ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, ntohs(local_of(s).sin_port),
			  PEER_IP, 7000);
	cr_assert_eq(do_sendto(s, "x", 1, 0, 0, 0), -ECONNREFUSED);
	cr_assert_eq(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);
	cr_assert_eq(do_sendto(s, "x", 1, 0, 0, 0), 1);
}

Test(udp_icmp, error_comes_before_queued_data_then_data)
{
	struct sock *s = new_sock();
	char buf[8];

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "data");
	inject_icmp_error(ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 5000, PEER_IP, 7000);
	cr_assert_eq(do_recv(s, buf, sizeof(buf), 0, NULL, NULL), -ECONNREFUSED);
	recv_expect(s, "data", PEER_IP, 7000);
}

Test(udp_icmp, unconnected_socket_ignores_errors)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	inject_icmp_error(ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 5000, PEER_IP, 7000);
	cr_assert_eq(s->so_error, 0);
	cr_assert_eq(poll_mask(s) & POLLERR, 0);
}

Test(udp_icmp, soft_errors_need_ip_recverr)
{
	struct sock *s = new_sock();
	int one = 1;

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	inject_icmp_error(ICMP_DEST_UNREACH, ICMP_UNREACH_HOST, 5000, PEER_IP, 7000);
	inject_icmp_error(ICMP_TIME_EXCEEDED, 0, 5000, PEER_IP, 7000);
	cr_assert_eq(s->so_error, 0);
	cr_assert_eq(udp_sock_proto.setsockopt(st, s, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)),
		     0);
	inject_icmp_error(ICMP_DEST_UNREACH, ICMP_UNREACH_HOST, 5000, PEER_IP, 7000);
	cr_assert_eq(s->so_error, EHOSTUNREACH);
}

Test(udp_icmp, error_for_another_peer_is_not_ours)
{
	struct sock *s = new_sock();

	cr_assert_eq(do_bind(s, 0, 5000), 0);
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	inject_icmp_error(ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, 5000, PEER_IP, 7001);
	cr_assert_eq(s->so_error, 0);
}

Test(udp_icmp, arp_failure_is_soft_like_linux)
{
	struct sock *plain = new_sock(), *recverr = new_sock();
	int one = 1;

	cr_assert_eq(do_connect(plain, OTHER_IP, 7000), 0);
	cr_assert_eq(do_connect(recverr, OTHER_IP, 7000), 0);
	cr_assert_eq(udp_sock_proto.setsockopt(st, recverr, IPPROTO_IP, IP_RECVERR, &one,
					       sizeof(one)), 0);
	udp_host_unreachable(st, OTHER_IP);
	cr_assert_eq(plain->so_error, 0);
	cr_assert_eq(recverr->so_error, EHOSTUNREACH);
	cr_assert(poll_mask(recverr) & POLLERR);
}

/* ---- options ---- */

Test(udp_opts, ip_ttl_and_tos)
{
	struct sock *s = new_sock();
	int v = 0, bad = 0;
	socklen_t len = sizeof(v);

	cr_assert_eq(udp_sock_proto.getsockopt(st, s, IPPROTO_IP, IP_TTL, &v, &len), 0);
	cr_assert_eq(v, 64);
	v = 5;
	cr_assert_eq(udp_sock_proto.setsockopt(st, s, IPPROTO_IP, IP_TTL, &v, sizeof(v)), 0);
	cr_assert_eq(udp_sock_proto.setsockopt(st, s, IPPROTO_IP, IP_TTL, &bad, sizeof(bad)),
		     -EINVAL);
	len = sizeof(v);
	cr_assert_eq(udp_sock_proto.getsockopt(st, s, IPPROTO_IP, IP_TTL, &v, &len), 0);
	cr_assert_eq(v, 5);
	v = 0x10;
	cr_assert_eq(udp_sock_proto.setsockopt(st, s, IPPROTO_IP, IP_TOS, &v, sizeof(v)), 0);
	len = sizeof(v);
	cr_assert_eq(udp_sock_proto.getsockopt(st, s, IPPROTO_IP, IP_TOS, &v, &len), 0);
	cr_assert_eq(v, 0x10);
}

Test(udp_opts, pmtudisc_do_refuses_what_needs_fragmenting)
{
	struct sock *s = new_sock();
	static uint8_t buf[1500];
	int v = IP_PMTUDISC_DO, mtu = 0;
	socklen_t len = sizeof(mtu);
	const uint8_t *u;

	learn_peer();
	cr_assert_eq(udp_sock_proto.getsockopt(st, s, IPPROTO_IP, IP_MTU, &mtu, &len), -ENOTCONN);
	cr_assert_eq(udp_sock_proto.setsockopt(st, s, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)),
		     0);
	cr_assert_eq(do_connect(s, PEER_IP, 7000), 0);
	len = sizeof(mtu);
	cr_assert_eq(udp_sock_proto.getsockopt(st, s, IPPROTO_IP, IP_MTU, &mtu, &len), 0);
	cr_assert_eq(mtu, 1500);
	cr_assert_eq(do_sendto(s, buf, 1473, 0, 0, 0), -EMSGSIZE);
	cr_assert_eq(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);
	cr_assert_eq(do_sendto(s, buf, 1472, 0, 0, 0), 1472);
	u = pop_udp();
	cr_assert_not_null(u);
	cr_assert(sent.df);
	v = 99;
	cr_assert_eq(udp_sock_proto.setsockopt(st, s, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)),
		     -EINVAL);
}

Test(udp_opts, unknown_options_are_enoprotoopt)
{
	struct sock *s = new_sock();
	int v = 1;
	socklen_t len = sizeof(v);

	cr_assert_eq(udp_sock_proto.setsockopt(st, s, IPPROTO_IP, IP_MULTICAST_IF, &v,
					       sizeof(v)), -ENOPROTOOPT);
	cr_assert_eq(udp_sock_proto.setsockopt(st, s, IPPROTO_UDP, 1, &v, sizeof(v)),
		     -ENOPROTOOPT);
	cr_assert_eq(udp_sock_proto.getsockopt(st, s, IPPROTO_TCP, 1, &v, &len), -ENOPROTOOPT);
}

/* ---- through the us_* API (sock.c's argument checks and dispatch) ---- */

static void api_setup(void)
{
	setup();
	ustack_global = st;
}

static void api_teardown(void)
{
	ustack_global = NULL;
	teardown();
}

TestSuite(udp_api, .init = api_setup, .fini = api_teardown);

Test(udp_api, bind_receive_reply_close)
{
	struct us_sock *us;
	struct sockaddr_in a = sin_of(0, 5000), from;
	socklen_t fromlen = sizeof(from), alen = sizeof(a);
	char buf[32];
	struct iovec iov = { buf, sizeof(buf) };
	int mf = -1, inq = -1;
	const uint8_t *u;

	learn_peer();
	cr_assert_eq(us_socket(SOCK_DGRAM, 0, true, &us), 0);
	cr_assert_eq(us_bind(us, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(us_getsockname(us, (struct sockaddr *)&a, &alen), 0);
	cr_assert_eq(ntohs(a.sin_port), 5000);
	cr_assert_eq(us_recvmsg(us, &iov, 1, NULL, NULL, 0, &mf), -EAGAIN);
	inject_simple(PEER_IP, 7000, OUR_IP, 5000, "ping");
	cr_assert_eq(us_ioctl_inq(us, &inq), 0);
	cr_assert_eq(inq, 4);
	cr_assert(us_poll_mask(us) & POLLIN);
	cr_assert_eq(us_recvmsg(us, &iov, 1, (struct sockaddr *)&from, &fromlen, 0, &mf), 4);
	cr_assert_eq(fromlen, sizeof(from));
	cr_assert_eq(from.sin_family, AF_INET);
	cr_assert_eq(ntohl(from.sin_addr.s_addr), PEER_IP);
	cr_assert_eq(ntohs(from.sin_port), 7000);
	cr_assert_eq(mf, 0);
	iov.iov_len = 4;
	memcpy(buf, "pong", 4);
	cr_assert_eq(us_sendmsg(us, &iov, 1, (struct sockaddr *)&from, sizeof(from), 0), 4);
	u = pop_udp();
	cr_assert_not_null(u);
	cr_assert_eq(frames_get16(u + UDP_OFF_DST_PORT), 7000);
	cr_assert(memcmp(u + UDP_HDR_LEN, "pong", 4) == 0);
	cr_assert_eq(us_close(us), 0);
	/* the port is free again */
	cr_assert_eq(us_socket(SOCK_DGRAM, IPPROTO_UDP, true, &us), 0);
	a = sin_of(0, 5000);
	cr_assert_eq(us_bind(us, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(us_close(us), 0);
}

Test(udp_api, so_error_reads_and_clears_the_icmp_error)
{
	struct us_sock *us;
	struct sockaddr_in a = sin_of(PEER_IP, 7000), peer;
	socklen_t plen = sizeof(peer), elen = sizeof(int);
	int err = -1;

	cr_assert_eq(us_socket(SOCK_DGRAM, 0, true, &us), 0);
	cr_assert_eq(us_getpeername(us, (struct sockaddr *)&peer, &plen), -ENOTCONN);
	cr_assert_eq(us_connect(us, (struct sockaddr *)&a, sizeof(a)), 0);
	plen = sizeof(peer);
	cr_assert_eq(us_getpeername(us, (struct sockaddr *)&peer, &plen), 0);
	cr_assert_eq(ntohs(peer.sin_port), 7000);
	inject_icmp_error(ICMP_DEST_UNREACH, ICMP_UNREACH_PORT,
			  ntohs(local_of((struct sock *)us).sin_port), PEER_IP, 7000);
	cr_assert(us_poll_mask(us) & POLLERR);
	cr_assert_eq(us_getsockopt(us, SOL_SOCKET, SO_ERROR, &err, &elen), 0);
	cr_assert_eq(err, ECONNREFUSED);
	cr_assert_eq(us_poll_mask(us) & POLLERR, 0);
	cr_assert_eq(us_close(us), 0);
}

Test(udp_api, so_rcvbuf_bounds_the_queue)
{
	struct us_sock *us;
	struct sockaddr_in a = sin_of(0, 5000);
	int small = 1, got = 0;
	socklen_t len = sizeof(got);

	cr_assert_eq(us_socket(SOCK_DGRAM, 0, true, &us), 0);
	cr_assert_eq(us_bind(us, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(us_setsockopt(us, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	cr_assert_eq(us_getsockopt(us, SOL_SOCKET, SO_RCVBUF, &got, &len), 0);
	for (int i = 0; i < 50; i++)
		inject_simple(PEER_IP, 7000, OUR_IP, 5000, "flood");
	cr_assert_gt(st->counters.udp_drop_rcvbuf, 0);
	cr_assert_lt(st->counters.udp_rx_queued, 50);
	cr_assert_leq((st->counters.udp_rx_queued - 1) * (5 + 768), (uint64_t)got,
		      "queued %llu with SO_RCVBUF %d",
		      (unsigned long long)st->counters.udp_rx_queued, got);
	cr_assert_eq(us_close(us), 0);
}
