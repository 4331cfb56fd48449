/*
 * test_icmp.c - ICMP (stack/icmp.c): echo replies (also fragmented), error generation and
 * its rate limits, parsing of received errors (errno mapping, truncated quotes), and a
 * mutation fuzz of the whole receive path with exact-size buffers (run under ASan).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "icmp.h"
#include "ipv4.h"
#include "pkt.h"
#include "stack.h"

#define OUR_IP FRAMES_IP(192, 0, 2, 2)
#define PEER_IP FRAMES_IP(192, 0, 2, 1)

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct ustack *st;
static uint8_t frame[FRAMES_MAX];
static uint8_t out[FRAMES_MAX];
static uint8_t l4[FRAMES_MAX];
static uint8_t dgram[FRAMES_MAX];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void learn_peer(void)
{
	struct frames_arp a = { .op = 1, .spa = PEER_IP, .tpa = OUR_IP };
	size_t n;

	memcpy(a.sha, peer_mac, 6);
	n = frames_eth_arp(frame, bcast, &a);
	stack_input_frame(st, frame, n, 0);
	cr_assert_gt(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);
}

static void setup(void)
{
	st = stack_create_test(OUR_IP, 24, our_mac, 1500);
	cr_assert_not_null(st);
	learn_peer();
}

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

static size_t count_sent(void)
{
	size_t count = 0;

	while (netdev_memory_pop(&st->netdev, out, sizeof(out)) > 0)
		count++;
	return count;
}

static void inject_icmp(uint32_t src, uint32_t dst, size_t icmp_len, uint32_t flags)
{
	size_t n = frames_eth_ipv4_l4(frame, our_mac, peer_mac, src, dst, FRAMES_PROTO_ICMP, l4,
				      icmp_len);

	stack_input_frame(st, frame, n, flags);
}

/* The ipv4_info ipv4_input would give for the datagram at d (for icmp_send_* calls). */
static struct ipv4_info info_of(const uint8_t *d)
{
	struct ipv4_info ip;

	memset(&ip, 0, sizeof(ip));
	ip.src = frames_get32(d + 12);
	ip.dst = frames_get32(d + 16);
	ip.proto = d[9];
	ip.ttl = d[8];
	ip.id = frames_get16(d + 4);
	ip.hdr = d;
	ip.hdr_len = (size_t)(d[0] & 0x0f) * 4;
	ip.total_len = frames_get16(d + 2);
	ip.to_broadcast = false;
	return ip;
}

/* A UDP datagram src:sport -> dst:dport with payload_len bytes into dgram. */
static size_t make_udp_dgram(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			     size_t payload_len)
{
	static uint8_t payload[FRAMES_MAX];
	struct frames_ipv4 ip = frames_ipv4_defaults(src, dst, FRAMES_PROTO_UDP);

	for (size_t i = 0; i < payload_len; i++)
		payload[i] = (uint8_t)(i + 1);
	ip.payload = l4;
	ip.payload_len = frames_udp(l4, src, dst, sport, dport, payload, payload_len);
	return frames_ipv4(dgram, &ip);
}

TestSuite(icmp_echo, .init = setup, .fini = teardown);

Test(icmp_echo, reply_copies_identifier_sequence_and_data)
{
	uint8_t data[56];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xa0 + i);
	size_t len = frames_icmp_echo(l4, true, 0xbeef, 0x0102, data, sizeof(data));
	inject_icmp(PEER_IP, OUR_IP, len, 0);

	struct frames_parsed f = pop_frame();
	cr_assert_arr_eq(f.eth_dst, peer_mac, 6);
	cr_assert_eq(f.src, OUR_IP);
	cr_assert_eq(f.dst, PEER_IP);
	cr_assert_eq(f.ttl, 64);
	cr_assert_eq(f.proto, FRAMES_PROTO_ICMP);
	cr_assert_eq(f.l4_len, len);
	cr_assert_eq(f.l4[0], 0, "echo reply");
	cr_assert_eq(f.l4[1], 0);
	cr_assert(f.l4_csum_ok);
	cr_assert_eq(frames_get16(f.l4 + 4), 0xbeef);
	cr_assert_eq(frames_get16(f.l4 + 6), 0x0102);
	cr_assert_arr_eq(f.l4 + 8, data, sizeof(data));
	cr_assert_eq(st->counters.icmp_echo_replied, 1);
	assert_nothing_sent();
}

Test(icmp_echo, empty_echo_is_answered)
{
	size_t len = frames_icmp_echo(l4, true, 1, 2, NULL, 0);

	inject_icmp(PEER_IP, OUR_IP, len, 0);
	struct frames_parsed f = pop_frame();
	cr_assert_eq(f.l4_len, 8);
	cr_assert(f.l4_csum_ok);
}

/* ping -s 4000: the request arrives in three fragments, the reply leaves in three. */
Test(icmp_echo, fragmented_4000_byte_echo)
{
	static uint8_t data[4000], whole[8000];
	static uint8_t bufs[8][2048];
	struct frames_parsed frags[8];
	size_t len, count = 0, n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3);
	len = frames_icmp_echo(l4, true, 0x1234, 77, data, sizeof(data));
	for (size_t off = 0; off < len; off += 1480) {
		struct frames_ipv4 ip = frames_ipv4_defaults(PEER_IP, OUR_IP, FRAMES_PROTO_ICMP);
		ip.id = 0x5555;
		ip.frag_offset = (uint16_t)off;
		ip.mf = off + 1480 < len;
		ip.payload = l4 + off;
		ip.payload_len = ip.mf ? 1480 : len - off;
		n = frames_eth_ipv4(frame, our_mac, peer_mac, &ip);
		stack_input_frame(st, frame, n, 0);
	}
	while ((n = netdev_memory_pop(&st->netdev, bufs[count], sizeof(bufs[count]))) > 0) {
		cr_assert(frames_parse(bufs[count], n, &frags[count]));
		cr_assert_leq(n, 1514);
		count++;
		cr_assert_lt(count, 8);
	}
	cr_assert_eq(count, 3);
	cr_assert_eq(frames_reassemble(frags, count, whole, sizeof(whole)), len);
	cr_assert_eq(whole[0], 0);
	cr_assert_eq(frames_csum(whole, len, 0), 0);
	cr_assert_eq(frames_get16(whole + 4), 0x1234);
	cr_assert_eq(frames_get16(whole + 6), 77);
	cr_assert_arr_eq(whole + 8, data, sizeof(data));
}

Test(icmp_echo, bad_checksum_is_dropped_unless_kernel_verified)
{
	size_t len = frames_icmp_echo(l4, true, 1, 1, "abcdef", 6);

	l4[9] ^= 0xff;
	inject_icmp(PEER_IP, OUR_IP, len, 0);
	cr_assert_eq(st->counters.icmp_drop_checksum, 1);
	assert_nothing_sent();
	inject_icmp(PEER_IP, OUR_IP, len, PKT_F_CSUM_VALID);
	cr_assert_eq(st->counters.icmp_drop_checksum, 1, "the flag means verified");
	struct frames_parsed f = pop_frame();
	cr_assert(f.l4_csum_ok, "the reply's checksum is computed afresh");
}

Test(icmp_echo, short_messages_are_dropped)
{
	frames_icmp_echo(l4, true, 1, 1, NULL, 0);
	for (size_t len = 0; len < 8; len++)
		inject_icmp(PEER_IP, OUR_IP, len, PKT_F_CSUM_VALID);
	cr_assert_eq(st->counters.icmp_drop_short, 8);
	assert_nothing_sent();
}

Test(icmp_echo, replies_and_unknown_types_are_not_answered)
{
	size_t len = frames_icmp_echo(l4, false, 1, 1, "x", 1);

	inject_icmp(PEER_IP, OUR_IP, len, 0);
	len = frames_icmp(l4, 13, 0, 0, "012345678901", 12);   /* timestamp */
	inject_icmp(PEER_IP, OUR_IP, len, 0);
	len = frames_icmp(l4, 4, 0, 0, NULL, 0);                /* source quench */
	inject_icmp(PEER_IP, OUR_IP, len, 0);
	cr_assert_eq(st->counters.icmp_drop_type, 3);
	assert_nothing_sent();
}

TestSuite(icmp_unreach, .init = setup, .fini = teardown);

Test(icmp_unreach, port_unreachable_quotes_datagram)
{
	make_udp_dgram(PEER_IP, OUR_IP, 40000, 9, 12);
	struct ipv4_info ip = info_of(dgram);

	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	struct frames_parsed f = pop_frame();
	cr_assert_eq(f.proto, FRAMES_PROTO_ICMP);
	cr_assert_eq(f.src, OUR_IP);
	cr_assert_eq(f.dst, PEER_IP);
	cr_assert_eq(f.l4[0], 3);
	cr_assert_eq(f.l4[1], 3);
	cr_assert_eq(frames_get32(f.l4 + 4), 0, "unused field zero");
	cr_assert(f.l4_csum_ok);
	cr_assert_eq(f.l4_len, 8 + ip.total_len);
	cr_assert_arr_eq(f.l4 + 8, dgram, ip.total_len);
	cr_assert_eq(st->counters.icmp_unreach_tx, 1);
	assert_nothing_sent();
}

Test(icmp_unreach, quote_is_limited_to_576_byte_reply)
{
	make_udp_dgram(PEER_IP, OUR_IP, 40000, 9, 1000);
	struct ipv4_info ip = info_of(dgram);

	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	struct frames_parsed f = pop_frame();
	cr_assert_eq(f.ip_total_len, 576);
	cr_assert_eq(f.l4_len, 556);
	cr_assert(f.l4_csum_ok);
	cr_assert_arr_eq(f.l4 + 8, dgram, 548);
}

Test(icmp_unreach, never_about_broadcasts_fragments_errors_or_bad_sources)
{
	struct ipv4_info ip;

	make_udp_dgram(PEER_IP, FRAMES_IP(192, 0, 2, 255), 1, 2, 4);
	ip = info_of(dgram);
	ip.to_broadcast = true;
	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);

	make_udp_dgram(PEER_IP, OUR_IP, 1, 2, 4);
	frames_put16(dgram + 6, 0x2000 | 185);   /* a fragment at offset 1480 */
	ip = info_of(dgram);
	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);

	make_udp_dgram(0, OUR_IP, 1, 2, 4);
	ip = info_of(dgram);
	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);

	make_udp_dgram(FRAMES_IP(224, 1, 1, 1), OUR_IP, 1, 2, 4);
	ip = info_of(dgram);
	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);

	/* an ICMP error about an ICMP error */
	struct frames_ipv4 fi = frames_ipv4_defaults(PEER_IP, OUR_IP, FRAMES_PROTO_ICMP);
	fi.payload = l4;
	fi.payload_len = frames_icmp(l4, 3, 3, 0, "quotequotequotequotequotequote", 30);
	frames_ipv4(dgram, &fi);
	ip = info_of(dgram);
	icmp_send_unreachable(st, ICMP_UNREACH_PROTO, &ip);

	/* ICMP with no type byte to look at */
	fi.payload_len = 0;
	frames_ipv4(dgram, &fi);
	ip = info_of(dgram);
	icmp_send_unreachable(st, ICMP_UNREACH_PROTO, &ip);

	assert_nothing_sent();
	cr_assert_eq(st->counters.icmp_unreach_tx, 0);

	/* but an error about an echo request is fine */
	fi.payload_len = frames_icmp_echo(l4, true, 1, 1, NULL, 0);
	frames_ipv4(dgram, &fi);
	ip = info_of(dgram);
	icmp_send_unreachable(st, ICMP_UNREACH_PROTO, &ip);
	cr_assert_eq(pop_frame().l4[0], 3);
}

/* Per destination: a burst of ICMP_RATE_PEER_BURST, then one per ICMP_RATE_PEER_MS. */
Test(icmp_unreach, rate_limited_per_destination)
{
	make_udp_dgram(PEER_IP, OUR_IP, 40000, 9, 4);
	struct ipv4_info ip = info_of(dgram);

	for (int i = 0; i < 10; i++)
		icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	cr_assert_eq(count_sent(), ICMP_RATE_PEER_BURST);
	cr_assert_eq(st->counters.icmp_rate_limited, 10 - ICMP_RATE_PEER_BURST);

	stack_advance_clock(st, ICMP_RATE_PEER_MS * 1000 - 1000);
	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	cr_assert_eq(count_sent(), 0, "not refilled yet");
	stack_advance_clock(st, 1000);
	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	cr_assert_eq(count_sent(), 1, "one token per interval");

	/* another destination has its own bucket */
	make_udp_dgram(FRAMES_IP(192, 0, 2, 50), OUR_IP, 40000, 9, 4);
	ip = info_of(dgram);
	icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	cr_assert_eq(st->counters.icmp_unreach_tx, ICMP_RATE_PEER_BURST + 2);

	/* a long pause refills only up to the burst */
	make_udp_dgram(PEER_IP, OUR_IP, 40000, 9, 4);
	ip = info_of(dgram);
	stack_advance_clock(st, 3600ull * 1000000);
	netdev_memory_clear(&st->netdev);
	learn_peer();   /* the ARP entry aged out meanwhile */
	for (int i = 0; i < 10; i++)
		icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	cr_assert_eq(count_sent(), ICMP_RATE_PEER_BURST);
}

/* Globally: at most ICMP_RATE_GLOBAL_BURST at once, refilled at ICMP_RATE_GLOBAL_PER_SEC. */
Test(icmp_unreach, rate_limited_globally)
{
	struct ipv4_info ip;
	uint32_t host = 10;

	for (int i = 0; i < ICMP_RATE_GLOBAL_BURST + 10; i++) {
		make_udp_dgram(FRAMES_IP(192, 0, 2, host++), OUR_IP, 40000, 9, 4);
		ip = info_of(dgram);
		icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	}
	cr_assert_eq(st->counters.icmp_unreach_tx, ICMP_RATE_GLOBAL_BURST);
	cr_assert_eq(st->counters.icmp_rate_limited, 10);

	stack_advance_clock(st, 5 * 1000000 / ICMP_RATE_GLOBAL_PER_SEC);   /* 5 tokens */
	for (int i = 0; i < 10; i++) {
		make_udp_dgram(FRAMES_IP(192, 0, 2, host++), OUR_IP, 40000, 9, 4);
		ip = info_of(dgram);
		icmp_send_unreachable(st, ICMP_UNREACH_PORT, &ip);
	}
	cr_assert_eq(st->counters.icmp_unreach_tx, ICMP_RATE_GLOBAL_BURST + 5);
}

Test(icmp_unreach, echo_replies_are_not_rate_limited)
{
	size_t len = frames_icmp_echo(l4, true, 1, 1, "x", 1);

	for (int i = 0; i < 200; i++)
		inject_icmp(PEER_IP, OUR_IP, len, 0);
	cr_assert_eq(count_sent(), 200);
	cr_assert_eq(st->counters.icmp_rate_limited, 0);
}

TestSuite(icmp_error_in, .init = setup, .fini = teardown);

/* An ICMP error of type/code quoting dgram's first quote_len bytes, into l4. */
static size_t make_error(uint8_t type, uint8_t code, uint32_t rest, size_t quote_len)
{
	return frames_icmp(l4, type, code, rest, dgram, quote_len);
}

Test(icmp_error_in, port_unreachable_for_udp)
{
	struct icmp_error e;
	uint8_t proto = 0;

	make_udp_dgram(OUR_IP, PEER_IP, 5000, 53, 10);
	size_t len = make_error(3, 3, 0, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), 0);
	cr_assert_eq(proto, FRAMES_PROTO_UDP);
	cr_assert_eq(e.type, 3);
	cr_assert_eq(e.code, 3);
	cr_assert_eq(e.err, ECONNREFUSED);
	cr_assert(e.fatal);
	cr_assert_eq(e.local_ip, OUR_IP);
	cr_assert_eq(e.remote_ip, PEER_IP);
	cr_assert_eq(e.local_port, 5000);
	cr_assert_eq(e.remote_port, 53);
}

/* Linux's icmp_err_convert, code by code. */
Test(icmp_error_in, unreachable_codes_map_like_linux)
{
	const struct { int err; bool fatal; } expect[16] = {
		{ ENETUNREACH, false }, { EHOSTUNREACH, false }, { ENOPROTOOPT, true },
		{ ECONNREFUSED, true }, { EMSGSIZE, false },     { EOPNOTSUPP, false },
		{ ENETUNREACH, true },  { EHOSTDOWN, true },     { ENONET, true },
		{ ENETUNREACH, true },  { EHOSTUNREACH, true },  { ENETUNREACH, false },
		{ EHOSTUNREACH, false }, { EHOSTUNREACH, true }, { EHOSTUNREACH, true },
		{ EHOSTUNREACH, true },
	};
	struct icmp_error e;
	uint8_t proto;

	make_udp_dgram(OUR_IP, PEER_IP, 5000, 53, 10);
	for (uint8_t code = 0; code < 16; code++) {
		size_t len = make_error(3, code, 0, 28);
		cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), 0, "code %u", code);
		cr_assert_eq(e.err, expect[code].err, "code %u", code);
		cr_assert_eq(e.fatal, expect[code].fatal, "code %u", code);
	}
	size_t len = make_error(3, 16, 0, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), -EOPNOTSUPP);
}

Test(icmp_error_in, fragmentation_needed_carries_mtu)
{
	struct icmp_error e;
	uint8_t proto;

	make_udp_dgram(OUR_IP, PEER_IP, 5000, 53, 10);
	size_t len = make_error(3, 4, 1400, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), 0);
	cr_assert_eq(e.err, EMSGSIZE);
	cr_assert_eq(e.mtu, 1400);
	cr_assert_not(e.fatal);
}

Test(icmp_error_in, time_exceeded_and_parameter_problem)
{
	struct icmp_error e;
	uint8_t proto;

	make_udp_dgram(OUR_IP, PEER_IP, 5000, 53, 10);
	size_t len = make_error(11, 0, 0, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), 0);
	cr_assert_eq(e.err, EHOSTUNREACH);
	cr_assert_not(e.fatal);
	len = make_error(12, 0, 0x14000000, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), 0);
	cr_assert_eq(e.err, EPROTO);
	cr_assert(e.fatal);
	len = make_error(5, 0, PEER_IP, 28);   /* redirect: not an error for sockets */
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), -EOPNOTSUPP);
}

Test(icmp_error_in, tcp_quote_gives_sequence_number)
{
	struct frames_tcp t = { .sport = 41000, .dport = 80, .seq = 0xdeadbeef, .ack = 1,
				.flags = FRAMES_TCP_SYN, .window = 1000 };
	struct frames_ipv4 ip = frames_ipv4_defaults(OUR_IP, PEER_IP, FRAMES_PROTO_TCP);
	struct icmp_error e;
	uint8_t proto, seg[64];

	ip.payload = seg;
	ip.payload_len = frames_tcp(seg, OUR_IP, PEER_IP, &t);
	frames_ipv4(dgram, &ip);
	size_t len = make_error(3, 1, 0, 28);   /* exactly 8 bytes of TCP: ports and seq */
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), 0);
	cr_assert_eq(proto, FRAMES_PROTO_TCP);
	cr_assert_eq(e.local_port, 41000);
	cr_assert_eq(e.remote_port, 80);
	cr_assert_eq(e.tcp_seq, 0xdeadbeef);
	cr_assert_eq(e.err, EHOSTUNREACH);
}

Test(icmp_error_in, truncated_or_foreign_quotes_are_rejected)
{
	struct icmp_error e;
	uint8_t proto;
	size_t len;

	make_udp_dgram(OUR_IP, PEER_IP, 5000, 53, 10);
	for (size_t q = 0; q < 28; q++) {
		len = make_error(3, 3, 0, q);
		cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), -EINVAL, "quote %zu", q);
	}
	for (size_t n = 0; n < 8; n++)
		cr_assert_eq(icmp_parse_error(st, l4, n, &e, &proto), -EINVAL);

	/* IHL 6 claims a 24-byte header: 24 + 8 > 28 quoted bytes */
	dgram[0] = 0x46;
	len = make_error(3, 3, 0, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), -EINVAL);
	dgram[0] = 0x44;   /* IHL below 5 */
	len = make_error(3, 3, 0, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), -EINVAL);
	dgram[0] = 0x65;   /* version 6 */
	len = make_error(3, 3, 0, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), -EINVAL);

	/* not about a datagram we sent */
	make_udp_dgram(FRAMES_IP(192, 0, 2, 9), PEER_IP, 5000, 53, 10);
	len = make_error(3, 3, 0, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), -EINVAL);

	/* about a non-first fragment: no transport header to read */
	make_udp_dgram(OUR_IP, PEER_IP, 5000, 53, 10);
	frames_put16(dgram + 6, 0x0010);
	len = make_error(3, 3, 0, 28);
	cr_assert_eq(icmp_parse_error(st, l4, len, &e, &proto), -EINVAL);
}

Test(icmp_error_in, received_errors_are_counted)
{
	make_udp_dgram(OUR_IP, PEER_IP, 5000, 53, 10);
	size_t len = make_error(3, 3, 0, 27);
	inject_icmp(PEER_IP, OUR_IP, len, 0);
	cr_assert_eq(st->counters.icmp_drop_quote, 1);
	cr_assert_eq(st->counters.icmp_unreach_rx, 0);

	len = make_error(3, 3, 0, 38);
	inject_icmp(PEER_IP, OUR_IP, len, 0);
	cr_assert_eq(st->counters.icmp_unreach_rx, 1);
	cr_assert_eq(st->counters.icmp_drop_quote, 1);

	/* errors sent to a broadcast address are ignored */
	inject_icmp(PEER_IP, FRAMES_IP(192, 0, 2, 255), len, 0);
	cr_assert_eq(st->counters.icmp_drop_broadcast, 1);
	cr_assert_eq(st->counters.icmp_unreach_rx, 1);
	assert_nothing_sent();   /* never an error about an error */
}

/* Random mutations of valid frames, each in a heap buffer of exactly its length, so any
 * read past the end is an ASan error. Nothing may crash; replies must be well-formed. */
Test(icmp_error_in, mutation_fuzz_of_receive_path)
{
	size_t base_len[4];
	static uint8_t bases[4][2048];

	make_udp_dgram(OUR_IP, PEER_IP, 5000, 53, 40);
	base_len[0] = frames_eth_ipv4_l4(bases[0], our_mac, peer_mac, PEER_IP, OUR_IP,
					 FRAMES_PROTO_ICMP, l4, make_error(3, 3, 0, 68));
	base_len[1] = frames_eth_ipv4_l4(bases[1], our_mac, peer_mac, PEER_IP, OUR_IP,
					 FRAMES_PROTO_ICMP, l4,
					 frames_icmp_echo(l4, true, 1, 2, "0123456789", 10));
	struct frames_ipv4 ip = frames_ipv4_defaults(PEER_IP, OUR_IP, FRAMES_PROTO_ICMP);
	ip.mf = true;
	ip.payload = l4;
	ip.payload_len = 64;
	base_len[2] = frames_eth_ipv4(bases[2], our_mac, peer_mac, &ip);
	struct frames_arp a = { .op = 1, .spa = PEER_IP, .tpa = OUR_IP };
	memcpy(a.sha, peer_mac, 6);
	base_len[3] = frames_eth_arp(bases[3], bcast, &a);

	for (int round = 0; round < 20000; round++) {
		int b = (int)(rng_next() % 4);
		size_t len = base_len[b];
		uint8_t *f;
		switch (rng_next() % 3) {
		case 0: len = rng_next() % (len + 1); break;     /* truncate */
		case 1: len += rng_next() % 32; break;           /* trailing junk */
		default: break;
		}
		f = malloc(len ? len : 1);
		cr_assert_not_null(f);
		memcpy(f, bases[b], len < base_len[b] ? len : base_len[b]);
		for (size_t i = base_len[b]; i < len; i++)
			f[i] = (uint8_t)rng_next();
		for (int k = rng_next() % 4; k > 0 && len > FRAMES_ETH_LEN; k--)
			f[FRAMES_ETH_LEN + rng_next() % (len - FRAMES_ETH_LEN)] ^= (uint8_t)(1u << (rng_next() % 8));
		if (len >= FRAMES_ETH_LEN + 20 && (rng_next() & 1) &&
		    len >= FRAMES_ETH_LEN + (size_t)(f[FRAMES_ETH_LEN] & 0x0f) * 4)
			frames_ipv4_fix_csum(f + FRAMES_ETH_LEN);   /* reach deeper than the checksum */
		stack_input_frame(st, f, len, rng_next() % 2 ? PKT_F_CSUM_VALID : 0);
		free(f);
		size_t n;
		while ((n = netdev_memory_pop(&st->netdev, out, sizeof(out))) > 0) {
			struct frames_parsed pf;
			cr_assert(frames_parse(out, n, &pf), "the stack sent a malformed frame");
			if (pf.ip)
				cr_assert(pf.ip_csum_ok);
		}
		if (round % 1000 == 0)
			stack_advance_clock(st, 31ull * 1000000);   /* expire reassembly */
	}
}
