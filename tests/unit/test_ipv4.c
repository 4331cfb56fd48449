/*
 * test_ipv4.c - IPv4 input validation (every malformed length), address checks, routing,
 * output (TTL, ID, DF) and fragmentation of large datagrams.
 *
 * ICMP echo is the probe: a well-formed echo request gets a reply, so "the datagram was
 * accepted" is observable, and each malformed variant must produce no reply and one count.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arp.h"
#include "frames.h"
#include "ipv4.h"
#include "pkt.h"
#include "stack.h"

#define OUR_IP FRAMES_IP(192, 0, 2, 2)
#define PEER_IP FRAMES_IP(192, 0, 2, 1)
#define GW_IP FRAMES_IP(192, 0, 2, 254)
#define FAR_IP FRAMES_IP(198, 51, 100, 7)

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct ustack *st;
static uint8_t frame[FRAMES_MAX];
static uint8_t out[FRAMES_MAX];
static uint8_t l4[FRAMES_MAX];

static void learn_peer(uint32_t ip, const uint8_t mac[6])
{
	struct frames_arp a = { .op = 1, .spa = ip, .tpa = OUR_IP };
	size_t n;

	memcpy(a.sha, mac, 6);
	n = frames_eth_arp(frame, bcast, &a);
	stack_input_frame(st, frame, n, 0);
	cr_assert_gt(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);   /* our ARP reply */
}

static void setup_mtu(int mtu)
{
	st = stack_create_test(OUR_IP, 24, our_mac, mtu);
	cr_assert_not_null(st);
	learn_peer(PEER_IP, peer_mac);
}

static void setup(void) { setup_mtu(1500); }

static void teardown(void)
{
	stack_destroy(st);
	pkt_pool_drain();
}

static struct frames_parsed pop_frame(void)
{
	struct frames_parsed f;
	size_t n = netdev_memory_pop(&st->netdev, out, sizeof(out));

	cr_assert_gt(n, 0, "expected a frame");
	cr_assert(frames_parse(out, n, &f), "unparsable frame");
	return f;
}

static void assert_nothing_sent(void)
{
	cr_assert_eq(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0, "unexpected frame");
}

/* A valid Ethernet + IPv4 + ICMP echo request from PEER_IP to dst; returns the frame length. */
static size_t build_echo(uint32_t src, uint32_t dst, size_t data_len)
{
	uint8_t data[2048];
	struct frames_ipv4 ip = frames_ipv4_defaults(src, dst, FRAMES_PROTO_ICMP);

	for (size_t i = 0; i < data_len; i++)
		data[i] = (uint8_t)(i * 7);
	ip.payload = l4;
	ip.payload_len = frames_icmp_echo(l4, true, 0x4242, 1, data, data_len);
	return frames_eth_ipv4(frame, our_mac, peer_mac, &ip);
}

#define IP (frame + FRAMES_ETH_LEN)

static void assert_echo_replied(void)
{
	struct frames_parsed f = pop_frame();

	cr_assert_eq(f.proto, FRAMES_PROTO_ICMP);
	cr_assert_eq(f.l4[0], 0, "echo reply");
	cr_assert(f.l4_csum_ok);
	assert_nothing_sent();
}

TestSuite(ipv4_input, .init = setup, .fini = teardown);

Test(ipv4_input, valid_datagram_is_accepted)
{
	size_t n = build_echo(PEER_IP, OUR_IP, 32);

	stack_input_frame(st, frame, n, 0);
	assert_echo_replied();
	cr_assert_eq(st->counters.ip_rx, 1);
}

Test(ipv4_input, every_length_shorter_than_header_is_dropped)
{
	size_t n = build_echo(PEER_IP, OUR_IP, 0);

	(void)n;
	for (size_t len = 0; len < 20; len++)
		stack_input_frame(st, frame, FRAMES_ETH_LEN + len, 0);
	cr_assert_eq(st->counters.ip_drop_short, 20);
	assert_nothing_sent();
}

Test(ipv4_input, bad_version_is_dropped)
{
	size_t n = build_echo(PEER_IP, OUR_IP, 8);

	IP[0] = 0x65;   /* version 6, IHL 5 */
	frames_ipv4_fix_csum(IP);
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ip_drop_version, 1);
	assert_nothing_sent();
}

Test(ipv4_input, ihl_below_five_is_dropped)
{
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		size_t n = build_echo(PEER_IP, OUR_IP, 8);
		IP[0] = (uint8_t)(0x40 | ihl);
		stack_input_frame(st, frame, n, 0);
	}
	cr_assert_eq(st->counters.ip_drop_ihl, 5);
	assert_nothing_sent();
}

Test(ipv4_input, ihl_beyond_frame_is_dropped)
{
	/* 20-byte header + 8-byte ICMP = 28 bytes; claim IHL 8 (32) and 15 (60) */
	size_t n = build_echo(PEER_IP, OUR_IP, 0);

	IP[0] = 0x48;
	stack_input_frame(st, frame, n, 0);
	IP[0] = 0x4f;
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ip_drop_ihl, 2);
	assert_nothing_sent();
}

Test(ipv4_input, total_length_below_header_is_dropped)
{
	for (uint16_t tl = 0; tl < 20; tl++) {
		size_t n = build_echo(PEER_IP, OUR_IP, 8);
		frames_put16(IP + 2, tl);
		frames_ipv4_fix_csum(IP);
		stack_input_frame(st, frame, n, 0);
	}
	cr_assert_eq(st->counters.ip_drop_total_len, 20);
	assert_nothing_sent();
}

Test(ipv4_input, total_length_beyond_frame_is_dropped)
{
	size_t n = build_echo(PEER_IP, OUR_IP, 8);

	frames_put16(IP + 2, (uint16_t)(n - FRAMES_ETH_LEN + 1));
	frames_ipv4_fix_csum(IP);
	stack_input_frame(st, frame, n, 0);
	frames_put16(IP + 2, 0xffff);
	frames_ipv4_fix_csum(IP);
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ip_drop_total_len, 2);
	assert_nothing_sent();
}

Test(ipv4_input, bad_header_checksum_is_dropped)
{
	size_t n = build_echo(PEER_IP, OUR_IP, 8);

	frames_corrupt(IP, 8, 0x01);   /* TTL changed, checksum stale */
	stack_input_frame(st, frame, n, 0);
	n = build_echo(PEER_IP, OUR_IP, 8);
	frames_corrupt(IP, 11, 0x80);  /* the checksum itself */
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ip_drop_checksum, 2);
	assert_nothing_sent();
	/* the checksum flags from the kernel concern L4 only: the IP header is always checked */
	stack_input_frame(st, frame, n, 0x1 | 0x2);
	cr_assert_eq(st->counters.ip_drop_checksum, 3);
	assert_nothing_sent();
}

Test(ipv4_input, options_are_skipped_and_counted)
{
	uint8_t data[16], opts[8] = { 1, 1, 1, 0, 0, 0, 0, 0 };   /* NOP NOP NOP EOL + padding */
	struct frames_ipv4 ip = frames_ipv4_defaults(PEER_IP, OUR_IP, FRAMES_PROTO_ICMP);
	size_t n;

	memset(data, 0x5a, sizeof(data));
	ip.options = opts;
	ip.options_len = sizeof(opts);
	ip.payload = l4;
	ip.payload_len = frames_icmp_echo(l4, true, 7, 9, data, sizeof(data));
	n = frames_eth_ipv4(frame, our_mac, peer_mac, &ip);
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ip_opts_rx, 1);

	struct frames_parsed f = pop_frame();
	cr_assert_eq(f.l4[0], 0);
	cr_assert_eq(f.l4_len, 8 + sizeof(data), "payload found after the options");
	cr_assert_arr_eq(f.l4 + 8, data, sizeof(data));
}

Test(ipv4_input, ethernet_padding_is_trimmed)
{
	size_t n = build_echo(PEER_IP, OUR_IP, 2);   /* 14 + 20 + 10 = 44 bytes */

	cr_assert_lt(n, 60);
	memset(frame + n, 0xa5, 60 - n);
	stack_input_frame(st, frame, 60, 0);
	struct frames_parsed f = pop_frame();
	cr_assert_eq(f.l4_len, 10, "the reply echoes the datagram, not the padding");
	cr_assert(f.l4_csum_ok);
}

Test(ipv4_input, not_for_us_is_ignored)
{
	size_t n = build_echo(PEER_IP, FRAMES_IP(192, 0, 2, 77), 8);

	stack_input_frame(st, frame, n, 0);
	n = build_echo(PEER_IP, FRAMES_IP(224, 0, 0, 1), 8);
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ip_drop_not_for_us, 2);
	assert_nothing_sent();
}

Test(ipv4_input, broadcasts_are_ours_but_echo_to_them_is_ignored)
{
	size_t n = build_echo(PEER_IP, FRAMES_IP(192, 0, 2, 255), 8);

	stack_input_frame(st, frame, n, 0);
	n = build_echo(PEER_IP, 0xffffffffu, 8);
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ip_drop_not_for_us, 0);
	cr_assert_eq(st->counters.icmp_rx, 2, "delivered");
	cr_assert_eq(st->counters.icmp_drop_broadcast, 2, "Linux ignores broadcast echo");
	assert_nothing_sent();
}

Test(ipv4_input, martian_sources_are_dropped)
{
	const uint32_t martians[] = { OUR_IP, 0xffffffffu, FRAMES_IP(192, 0, 2, 255),
				      FRAMES_IP(224, 0, 0, 5), FRAMES_IP(127, 0, 0, 1), 0 };

	for (size_t i = 0; i < sizeof(martians) / sizeof(martians[0]); i++) {
		size_t n = build_echo(martians[i], OUR_IP, 8);
		stack_input_frame(st, frame, n, 0);
	}
	cr_assert_eq(st->counters.ip_drop_src, sizeof(martians) / sizeof(martians[0]));
	assert_nothing_sent();
}

Test(ipv4_input, unknown_protocol_gets_protocol_unreachable)
{
	uint8_t payload[40];
	struct frames_ipv4 ip = frames_ipv4_defaults(PEER_IP, OUR_IP, 47);
	size_t n;

	memset(payload, 0x33, sizeof(payload));
	ip.payload = payload;
	ip.payload_len = sizeof(payload);
	n = frames_eth_ipv4(frame, our_mac, peer_mac, &ip);
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ip_drop_proto, 1);

	struct frames_parsed f = pop_frame();
	cr_assert_eq(f.proto, FRAMES_PROTO_ICMP);
	cr_assert_eq(f.dst, PEER_IP);
	cr_assert_eq(f.l4[0], 3);
	cr_assert_eq(f.l4[1], 2, "protocol unreachable");
	cr_assert(f.l4_csum_ok);
	cr_assert_eq(f.l4_len, 8 + 20 + sizeof(payload), "quotes the whole small datagram");
	cr_assert_arr_eq(f.l4 + 8, IP, 20 + sizeof(payload));
}

Test(ipv4_input, bits_after_total_length_change_nothing)
{
	/* random garbage after the datagram, in frames of every length up to 200 bytes */
	size_t n = build_echo(PEER_IP, OUR_IP, 8);

	for (size_t extra = 0; extra < 150; extra++) {
		frame[n + extra] = (uint8_t)(extra * 31);
		stack_input_frame(st, frame, n + extra + 1, 0);
		assert_echo_replied();
	}
}

TestSuite(ipv4_output, .init = setup, .fini = teardown);

static struct pkt *payload_pkt(size_t len)
{
	struct pkt *p = pkt_alloc(len);
	uint8_t *d;

	cr_assert_not_null(p);
	d = pkt_put(p, len);
	cr_assert_not_null(d);
	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i ^ (i >> 8));
	return p;
}

Test(ipv4_output, header_fields)
{
	cr_assert_eq(ipv4_output(st, payload_pkt(100), 0, PEER_IP, 17, 0), 0);
	struct frames_parsed f = pop_frame();

	cr_assert_eq(f.ip_hdr_len, 20);
	cr_assert_eq(f.ip_total_len, 120);
	cr_assert_eq(f.ttl, 64);
	cr_assert_eq(f.proto, 17);
	cr_assert_eq(f.src, OUR_IP);
	cr_assert_eq(f.dst, PEER_IP);
	cr_assert(f.ip_csum_ok);
	cr_assert_not(f.df);
	cr_assert_not(f.mf);
	cr_assert_eq(f.frag_offset, 0);
	cr_assert_arr_eq(f.eth_dst, peer_mac, 6);
	uint16_t id1 = f.id;

	cr_assert_eq(ipv4_output(st, payload_pkt(10), 0, PEER_IP, 6, IPV4_OUT_DF), 0);
	f = pop_frame();
	cr_assert(f.df, "DF for TCP");
	cr_assert_neq(f.id, id1, "a new ID per datagram");
	cr_assert_eq(st->counters.ip_tx, 2);
}

Test(ipv4_output, routing)
{
	uint32_t nh = 0;

	cr_assert_eq(ipv4_route(st, PEER_IP, &nh), 0);
	cr_assert_eq(nh, PEER_IP);
	cr_assert_eq(ipv4_route(st, FAR_IP, &nh), -ENETUNREACH, "no gateway configured");
	cr_assert_eq(ipv4_output(st, payload_pkt(10), 0, FAR_IP, 17, 0), -ENETUNREACH);
	cr_assert_eq(st->counters.ip_drop_no_route, 1);
	assert_nothing_sent();

	st->gateway = GW_IP;
	cr_assert_eq(ipv4_route(st, FAR_IP, &nh), 0);
	cr_assert_eq(nh, GW_IP);
	cr_assert_eq(ipv4_route(st, PEER_IP, &nh), 0);
	cr_assert_eq(nh, PEER_IP, "on-link stays direct with a gateway");
	cr_assert_eq(ipv4_output(st, payload_pkt(10), 0, FAR_IP, 17, 0), 0);
	struct frames_parsed f = pop_frame();
	cr_assert_eq(f.ethertype, FRAMES_ETH_ARP, "the gateway is resolved, not the destination");
	cr_assert_eq(frames_get32(f.arp + 24), GW_IP);
}

Test(ipv4_output, address_predicates)
{
	cr_assert(ipv4_is_local(st, OUR_IP));
	cr_assert_not(ipv4_is_local(st, PEER_IP));
	cr_assert(ipv4_is_broadcast(st, 0xffffffffu));
	cr_assert(ipv4_is_broadcast(st, FRAMES_IP(192, 0, 2, 255)));
	cr_assert_not(ipv4_is_broadcast(st, FRAMES_IP(192, 0, 3, 255)));
	cr_assert_not(ipv4_is_broadcast(st, PEER_IP));
}

Test(ipv4_output, oversized_datagrams_are_refused)
{
	cr_assert_eq(ipv4_output(st, payload_pkt(65516), 0, PEER_IP, 17, 0), -EMSGSIZE);
	cr_assert_eq(ipv4_output(st, payload_pkt(1481), 0, PEER_IP, 6, IPV4_OUT_DF), -EMSGSIZE);
	assert_nothing_sent();
	cr_assert_eq(ipv4_output(st, payload_pkt(1480), 0, PEER_IP, 6, IPV4_OUT_DF), 0);
	cr_assert_eq(pop_frame().ip_total_len, 1500, "exactly the MTU needs no fragmenting");
}

/* Pop every fragment of one datagram, check the RFC 791 rules, reassemble, compare. */
static void check_fragments(size_t payload_len, int mtu)
{
	static struct frames_parsed frags[200];
	static uint8_t bufs[200][2048];
	static uint8_t whole[70000];
	size_t count = 0, expect_chunk = ((size_t)mtu - 20) & ~(size_t)7;

	for (;;) {
		size_t n = netdev_memory_pop(&st->netdev, bufs[count], sizeof(bufs[count]));
		if (!n)
			break;
		cr_assert(frames_parse(bufs[count], n, &frags[count]));
		struct frames_parsed *f = &frags[count];
		cr_assert(f->ip_csum_ok);
		cr_assert_leq(f->ip_total_len, (size_t)mtu);
		cr_assert_eq(f->frag_offset, count * expect_chunk, "fragment %zu offset", count);
		cr_assert_eq(f->id, frags[0].id, "one ID for all fragments");
		cr_assert_eq(f->ttl, 64);
		if (f->mf)
			cr_assert_eq(f->l4_len, expect_chunk, "non-last fragments are full and 8-aligned");
		count++;
		cr_assert_lt(count, 200);
	}
	cr_assert_eq(count, (payload_len + expect_chunk - 1) / expect_chunk);
	cr_assert_not(frags[count - 1].mf, "the last fragment clears MF");
	for (size_t i = 0; i + 1 < count; i++)
		cr_assert(frags[i].mf);
	cr_assert_eq(frames_reassemble(frags, count, whole, sizeof(whole)), payload_len);
	for (size_t i = 0; i < payload_len; i++)
		cr_assert_eq(whole[i], (uint8_t)(i ^ (i >> 8)), "byte %zu", i);
	cr_assert_eq(st->counters.ip_frag_tx, count);
}

Test(ipv4_output, fragments_4000_bytes_at_1500)
{
	cr_assert_eq(ipv4_output(st, payload_pkt(4000), 0, PEER_IP, 17, 0), 0);
	check_fragments(4000, 1500);   /* 1480 + 1480 + 1040 */
}

Test(ipv4_output, fragments_largest_datagram)
{
	cr_assert_eq(ipv4_output(st, payload_pkt(65515), 0, PEER_IP, 17, 0), 0);
	check_fragments(65515, 1500);
}

Test(ipv4_output, fragments_at_odd_mtu)
{
	teardown();
	setup_mtu(1006);   /* (1006 - 20) & ~7 = 984 bytes per fragment */
	cr_assert_eq(ipv4_output(st, payload_pkt(3000), 0, PEER_IP, 17, 0), 0);
	check_fragments(3000, 1006);
}

Test(ipv4_output, fragments_at_minimum_mtu)
{
	teardown();
	setup_mtu(576);
	cr_assert_eq(ipv4_output(st, payload_pkt(65515), 0, PEER_IP, 17, 0), 0);
	check_fragments(65515, 576);
}

Test(ipv4_output, fragments_queue_while_resolving)
{
	/* a 64 KiB datagram to an unresolved host: all fragments wait for ARP and survive */
	const uint8_t other_mac[6] = { 0x02, 0, 0, 0, 0, 0x33 };
	struct frames_arp a = { .op = 2, .spa = FRAMES_IP(192, 0, 2, 33), .tpa = OUR_IP };
	size_t n;

	cr_assert_eq(ipv4_output(st, payload_pkt(65515), 0, FRAMES_IP(192, 0, 2, 33), 17, 0), 0);
	cr_assert_eq(pop_frame().ethertype, FRAMES_ETH_ARP);
	memcpy(a.sha, other_mac, 6);
	memcpy(a.tha, our_mac, 6);
	n = frames_eth_arp(frame, our_mac, &a);
	stack_input_frame(st, frame, n, 0);
	check_fragments(65515, 1500);
	cr_assert_eq(st->counters.arp_queue_drops, 0);
}
