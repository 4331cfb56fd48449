/*
 * test_ipv4_frag.c - IPv4 reassembly (stack/ipv4_frag.c): fragment orders, overlaps and
 * duplicates, the 30 s timeout with ICMP time exceeded, the memory cap, bad fragments.
 *
 * The datagrams are ICMP echo requests: a completed reassembly is visible as an echo reply
 * carrying the same data.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "frames.h"
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
static uint8_t msg[FRAMES_MAX];   /* the whole ICMP message being fragmented */
static size_t msg_len;

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void setup(void)
{
	struct frames_arp a = { .op = 1, .spa = PEER_IP, .tpa = OUR_IP };
	size_t n;

	st = stack_create_test(OUR_IP, 24, our_mac, 1500);
	cr_assert_not_null(st);
	memcpy(a.sha, peer_mac, 6);
	n = frames_eth_arp(frame, bcast, &a);
	stack_input_frame(st, frame, n, 0);
	cr_assert_gt(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0);
}

static void teardown(void)
{
	stack_destroy(st);
	pkt_pool_drain();
}

/* An echo request of data_len bytes whose data depends on seed. */
static void make_echo(size_t data_len, uint8_t seed)
{
	static uint8_t data[FRAMES_MAX];

	for (size_t i = 0; i < data_len; i++)
		data[i] = (uint8_t)(i * 13 + seed);
	msg_len = frames_icmp_echo(msg, true, 0x77, seed, data, data_len);
}

/* Send msg[start, end) as one fragment of datagram id. */
static void send_frag(uint16_t id, size_t start, size_t end, bool more)
{
	struct frames_ipv4 ip = frames_ipv4_defaults(PEER_IP, OUR_IP, FRAMES_PROTO_ICMP);
	size_t n;

	ip.id = id;
	ip.mf = more;
	ip.frag_offset = (uint16_t)start;
	ip.payload = msg + start;
	ip.payload_len = end - start;
	n = frames_eth_ipv4(frame, our_mac, peer_mac, &ip);
	stack_input_frame(st, frame, n, 0);
}

/* Split msg into chunk-byte fragments and send them in the order given by order[]. */
static void send_in_order(uint16_t id, size_t chunk, const size_t *order, size_t count)
{
	for (size_t k = 0; k < count; k++) {
		size_t i = order[k], start = i * chunk;
		size_t end = start + chunk < msg_len ? start + chunk : msg_len;
		send_frag(id, start, end, end < msg_len);
	}
}

static size_t frag_count(size_t chunk) { return (msg_len + chunk - 1) / chunk; }

/* Collect the reply's fragments, reassemble them, compare with the request. */
static void assert_echo_reply_matches(void)
{
	static struct frames_parsed frags[64];
	static uint8_t bufs[64][2048];
	static uint8_t whole[FRAMES_MAX];
	size_t count = 0, n;

	while ((n = netdev_memory_pop(&st->netdev, bufs[count], sizeof(bufs[count]))) > 0) {
		cr_assert(frames_parse(bufs[count], n, &frags[count]));
		cr_assert_eq(frags[count].proto, FRAMES_PROTO_ICMP);
		count++;
		cr_assert_lt(count, 64);
	}
	cr_assert_gt(count, 0, "no echo reply");
	cr_assert_eq(frames_reassemble(frags, count, whole, sizeof(whole)), msg_len);
	cr_assert_eq(whole[0], 0, "echo reply");
	cr_assert_eq(frames_csum(whole, msg_len, 0), 0, "reply checksum");
	cr_assert_arr_eq(whole + 4, msg + 4, msg_len - 4, "identifier, sequence, data echoed");
}

static void assert_nothing_sent(void)
{
	cr_assert_eq(netdev_memory_pop(&st->netdev, out, sizeof(out)), 0, "unexpected frame");
}

TestSuite(ipv4_frag, .init = setup, .fini = teardown);

Test(ipv4_frag, in_order)
{
	size_t order[8];

	make_echo(4000, 1);
	for (size_t i = 0; i < frag_count(1480); i++)
		order[i] = i;
	send_in_order(100, 1480, order, frag_count(1480));
	cr_assert_eq(st->counters.ipfrag_reassembled, 1);
	assert_echo_reply_matches();
}

Test(ipv4_frag, reversed)
{
	size_t order[8], count;

	make_echo(4000, 2);
	count = frag_count(1480);
	for (size_t i = 0; i < count; i++)
		order[i] = count - 1 - i;
	send_in_order(101, 1480, order, count);
	cr_assert_eq(st->counters.ipfrag_reassembled, 1);
	assert_echo_reply_matches();
}

Test(ipv4_frag, random_orders_and_sizes)
{
	static size_t order[2000];
	const size_t chunks[] = { 8, 16, 64, 512, 1480 };

	for (int round = 0; round < 20; round++) {
		size_t chunk = chunks[round % 5];
		size_t len = 100 + rng_next() % (chunk == 8 ? 900 : 9000);
		make_echo(len, (uint8_t)round);
		size_t count = frag_count(chunk);
		for (size_t i = 0; i < count; i++)
			order[i] = i;
		for (size_t i = count - 1; i > 0; i--) {   /* Fisher-Yates */
			size_t j = rng_next() % (i + 1), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		send_in_order((uint16_t)(200 + round), chunk, order, count);
		cr_assert_eq(st->counters.ipfrag_reassembled, (uint64_t)round + 1,
			     "round %d chunk %zu len %zu", round, chunk, len);
		assert_echo_reply_matches();
	}
	cr_assert_eq(st->counters.ipfrag_drop_bad, 0);
}

Test(ipv4_frag, overlap_drops_whole_datagram)
{
	make_echo(4000, 3);
	send_frag(300, 0, 1480, true);
	send_frag(300, 1472, 2960, true);   /* overlaps the first by 8 bytes */
	cr_assert_eq(st->counters.ipfrag_drop_overlap, 1);
	send_frag(300, 2960, msg_len, false);
	send_frag(300, 1480, 2960, true);
	cr_assert_eq(st->counters.ipfrag_reassembled, 0, "the earlier pieces were discarded");
	assert_nothing_sent();

	/* a clean copy under another ID still works */
	send_frag(301, 0, 1480, true);
	send_frag(301, 1480, 2960, true);
	send_frag(301, 2960, msg_len, false);
	cr_assert_eq(st->counters.ipfrag_reassembled, 1);
	assert_echo_reply_matches();
}

Test(ipv4_frag, overlap_spanning_a_hole_edge)
{
	make_echo(4000, 4);
	send_frag(310, 1480, 2960, true);
	send_frag(310, 0, 1488, true);   /* fills the hole and 8 bytes past it */
	cr_assert_eq(st->counters.ipfrag_drop_overlap, 1);
	send_frag(310, 2960, msg_len, false);
	cr_assert_eq(st->counters.ipfrag_reassembled, 0);
	assert_nothing_sent();
}

/* Linux's policy: a fragment entirely inside received data is a duplicate, dropped alone. */
Test(ipv4_frag, duplicates_are_tolerated)
{
	make_echo(4000, 5);
	send_frag(320, 0, 1480, true);
	send_frag(320, 0, 1480, true);
	send_frag(320, 8, 800, true);     /* a sub-range of data already received */
	cr_assert_eq(st->counters.ipfrag_drop_dup, 2);
	send_frag(320, 2960, msg_len, false);
	send_frag(320, 2960, msg_len, false);
	cr_assert_eq(st->counters.ipfrag_drop_dup, 3);
	send_frag(320, 1480, 2960, true);
	cr_assert_eq(st->counters.ipfrag_reassembled, 1);
	cr_assert_eq(st->counters.ipfrag_drop_overlap, 0);
	assert_echo_reply_matches();
}

Test(ipv4_frag, timeout_frees_and_sends_time_exceeded)
{
	struct frames_parsed f;
	size_t n;

	make_echo(4000, 6);
	send_frag(330, 0, 1480, true);
	send_frag(330, 2960, msg_len, false);
	stack_advance_clock(st, (uint64_t)IPV4_FRAG_TIMEOUT_MS * 1000 - 1);
	assert_nothing_sent();
	cr_assert_eq(st->counters.ipfrag_drop_timeout, 0);
	stack_advance_clock(st, 1);
	cr_assert_eq(st->counters.ipfrag_drop_timeout, 1);

	n = netdev_memory_pop(&st->netdev, out, sizeof(out));
	cr_assert_gt(n, 0, "ICMP time exceeded expected");
	cr_assert(frames_parse(out, n, &f));
	cr_assert_eq(f.proto, FRAMES_PROTO_ICMP);
	cr_assert_eq(f.dst, PEER_IP);
	cr_assert_eq(f.l4[0], 11, "time exceeded");
	cr_assert_eq(f.l4[1], 1, "fragment reassembly time exceeded");
	cr_assert(f.l4_csum_ok);
	/* the quote is the first fragment's header (MF set, offset 0) and its data */
	const uint8_t *q = f.l4 + 8;
	cr_assert_eq(q[0], 0x45);
	cr_assert_eq(frames_get16(q + 4), 330);
	cr_assert_eq(frames_get16(q + 6), 0x2000);
	cr_assert_eq(frames_get32(q + 12), PEER_IP);
	cr_assert_eq(frames_csum(q, 20, 0), 0, "the quoted header is intact");
	cr_assert_geq(f.l4_len, 8 + 20 + 8);
	cr_assert_leq(f.ip_total_len, 576);
	cr_assert_arr_eq(q + 20, msg, f.l4_len - 28);
	assert_nothing_sent();

	/* the datagram is gone: the missing middle now completes nothing */
	send_frag(330, 1480, 2960, true);
	cr_assert_eq(st->counters.ipfrag_reassembled, 0);
	assert_nothing_sent();
}

Test(ipv4_frag, timeout_without_first_fragment_is_silent)
{
	make_echo(4000, 7);
	send_frag(340, 1480, 2960, true);
	send_frag(340, 2960, msg_len, false);
	stack_advance_clock(st, (uint64_t)IPV4_FRAG_TIMEOUT_MS * 1000);
	cr_assert_eq(st->counters.ipfrag_drop_timeout, 1);
	assert_nothing_sent();   /* RFC 1122 §3.3.2: only when fragment zero arrived */
}

Test(ipv4_frag, memory_cap_refuses_new_datagrams)
{
	/* Each datagram gets only its last fragment, at offset 64000: a ~64 KiB buffer. */
	static uint8_t tail[16];
	struct frames_ipv4 ip = frames_ipv4_defaults(PEER_IP, OUR_IP, FRAMES_PROTO_UDP);
	size_t n, sent = 0;

	ip.frag_offset = 64000;
	ip.payload = tail;
	ip.payload_len = sizeof(tail);
	while (st->counters.ipfrag_drop_mem == 0 && sent < 1000) {
		ip.id = (uint16_t)(1000 + sent);
		n = frames_eth_ipv4(frame, our_mac, peer_mac, &ip);
		stack_input_frame(st, frame, n, 0);
		sent++;
	}
	cr_assert_eq(st->counters.ipfrag_drop_mem, 1);
	cr_assert_geq(sent, IPV4_FRAG_MEM_MAX / 66000, "the cap is not hit early");
	cr_assert_leq(sent, IPV4_FRAG_MEM_MAX / 64000 + 1, "the cap is enforced");

	/* while (nearly) full, a large datagram cannot be reassembled */
	uint64_t drops = st->counters.ipfrag_drop_mem;
	make_echo(60000, 8);
	for (size_t off = 0; off < msg_len; off += 1480)
		send_frag(50000, off, off + 1480 < msg_len ? off + 1480 : msg_len,
			  off + 1480 < msg_len);
	cr_assert_eq(st->counters.ipfrag_reassembled, 0);
	cr_assert_gt(st->counters.ipfrag_drop_mem, drops);
	assert_nothing_sent();

	/* after the timeout everything is freed and reassembly works again */
	stack_advance_clock(st, (uint64_t)IPV4_FRAG_TIMEOUT_MS * 1000);
	netdev_memory_clear(&st->netdev);
	make_echo(2000, 8);
	send_frag(50001, 0, 1480, true);
	send_frag(50001, 1480, msg_len, false);
	cr_assert_eq(st->counters.ipfrag_reassembled, 1);
	assert_echo_reply_matches();
}

Test(ipv4_frag, inconsistent_ends_are_dropped)
{
	make_echo(4000, 9);
	send_frag(350, 0, 1480, true);
	send_frag(350, 1480, 2960, true);
	send_frag(350, 1480, 1600, false);   /* ends before data already received */
	cr_assert_eq(st->counters.ipfrag_drop_bad, 1);
	send_frag(350, 2960, msg_len, false);
	send_frag(350, 2960, msg_len - 8, false);   /* a second, different end */
	cr_assert_eq(st->counters.ipfrag_drop_bad, 1, "complete already: a new datagram");
	cr_assert_eq(st->counters.ipfrag_reassembled, 1);
	assert_echo_reply_matches();
}

Test(ipv4_frag, data_beyond_known_end_is_dropped)
{
	make_echo(4000, 10);
	send_frag(360, 2960, msg_len, false);
	send_frag(360, 2960, msg_len + 8, true);   /* beyond the end: corrupt */
	send_frag(360, 1480, 2000, false);         /* a second end */
	cr_assert_eq(st->counters.ipfrag_drop_bad, 2);
	send_frag(360, 0, 1480, true);
	send_frag(360, 1480, 2960, true);
	cr_assert_eq(st->counters.ipfrag_reassembled, 1);
	assert_echo_reply_matches();
}

Test(ipv4_frag, empty_and_oversized_fragments_are_dropped)
{
	static uint8_t big[1480];
	struct frames_ipv4 ip = frames_ipv4_defaults(PEER_IP, OUR_IP, FRAMES_PROTO_UDP);
	size_t n;

	ip.mf = true;
	ip.frag_offset = 8;
	n = frames_eth_ipv4(frame, our_mac, peer_mac, &ip);   /* no payload */
	stack_input_frame(st, frame, n, 0);
	ip.mf = false;
	ip.frag_offset = 65528 & ~7;   /* 65528 + 1480 > 65535 */
	ip.payload = big;
	ip.payload_len = sizeof(big);
	n = frames_eth_ipv4(frame, our_mac, peer_mac, &ip);
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ipfrag_drop_bad, 2);
	cr_assert_eq(st->counters.ipfrag_rx, 2);
	assert_nothing_sent();
}

Test(ipv4_frag, reassembled_datagram_over_65535_is_dropped)
{
	/* payload 65515 fits only a 20-byte header; with 40 bytes of options it does not */
	static uint8_t chunk[1480];
	uint8_t opts[40];
	struct frames_ipv4 ip = frames_ipv4_defaults(PEER_IP, OUR_IP, FRAMES_PROTO_UDP);
	size_t n, off;

	memset(opts, 1, sizeof(opts));   /* NOPs */
	ip.id = 400;
	for (off = 0; off < 65512; off += 1480) {
		size_t len = 65512 - off < 1480 ? 65512 - off : 1480;
		ip.options = off == 0 ? opts : NULL;
		ip.options_len = off == 0 ? sizeof(opts) : 0;
		ip.frag_offset = (uint16_t)off;
		ip.mf = off + len < 65512;
		ip.payload = chunk;
		ip.payload_len = len;
		n = frames_eth_ipv4(frame, our_mac, peer_mac, &ip);
		stack_input_frame(st, frame, n, 0);
	}
	cr_assert_eq(st->counters.ipfrag_reassembled, 0);
	cr_assert_eq(st->counters.ipfrag_drop_bad, 1);
}

Test(ipv4_frag, unaligned_middle_fragment_is_trimmed)
{
	make_echo(3000, 11);
	send_frag(370, 0, 1483, true);   /* 3 extra bytes: trimmed to 1480 like Linux */
	send_frag(370, 1480, 2960, true);
	send_frag(370, 2960, msg_len, false);
	cr_assert_eq(st->counters.ipfrag_reassembled, 1);
	assert_echo_reply_matches();
}

Test(ipv4_frag, same_id_different_source_does_not_mix)
{
	make_echo(4000, 12);
	send_frag(380, 0, 1480, true);
	send_frag(380, 1480, 2960, true);
	/* the last piece from another host (also known to us) is another datagram */
	struct frames_ipv4 ip = frames_ipv4_defaults(FRAMES_IP(192, 0, 2, 9), OUR_IP,
						     FRAMES_PROTO_ICMP);
	ip.id = 380;
	ip.frag_offset = 2960;
	ip.payload = msg + 2960;
	ip.payload_len = msg_len - 2960;
	size_t n = frames_eth_ipv4(frame, our_mac, peer_mac, &ip);
	stack_input_frame(st, frame, n, 0);
	cr_assert_eq(st->counters.ipfrag_reassembled, 0);
	send_frag(380, 2960, msg_len, false);
	cr_assert_eq(st->counters.ipfrag_reassembled, 1);
	assert_echo_reply_matches();
}
