/*
 * test_arp.c - ARP (stack/arp.c): answers, the RFC 826 merge rule, resolution with retries
 * and the pending queue, ageing, gratuitous ARP, malformed input.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "arp.h"
#include "frames.h"
#include "ipv4.h"
#include "pkt.h"
#include "stack.h"

#define OUR_IP FRAMES_IP(192, 0, 2, 2)
#define PEER_IP FRAMES_IP(192, 0, 2, 1)
#define OTHER_IP FRAMES_IP(192, 0, 2, 77)

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t peer_mac2[6] = { 0x02, 0, 0, 0, 0, 0x11 };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t zero_mac[6];

static struct ustack *st;
static uint8_t frame[FRAMES_MAX];
static uint8_t out[FRAMES_MAX];

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

static void inject_arp(uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6],
		       uint32_t tpa, const uint8_t eth_dst[6])
{
	struct frames_arp a = { .op = op, .spa = spa, .tpa = tpa };
	size_t n;

	memcpy(a.sha, sha, 6);
	memcpy(a.tha, tha, 6);
	n = frames_eth_arp(frame, eth_dst, &a);
	stack_input_frame(st, frame, n, 0);
}

/* Pop the next sent frame and parse it; fails the test when none was sent. */
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

/* Send one IPv4 datagram (payload: a marker byte) to dst through ipv4_output. */
static int send_marker(uint32_t dst, uint8_t marker)
{
	struct pkt *p = pkt_alloc(16);

	cr_assert_not_null(p);
	memset(pkt_put(p, 16), marker, 16);
	return ipv4_output(st, p, 0, dst, 253, 0);
}

static void assert_arp_request_for(const struct frames_parsed *f, uint32_t target,
				   const uint8_t eth_dst[6])
{
	cr_assert_eq(f->ethertype, FRAMES_ETH_ARP);
	cr_assert_arr_eq(f->eth_dst, eth_dst, 6);
	cr_assert_arr_eq(f->eth_src, our_mac, 6);
	cr_assert_eq(frames_get16(f->arp + 0), 1);
	cr_assert_eq(frames_get16(f->arp + 2), 0x0800);
	cr_assert_eq(f->arp[4], 6);
	cr_assert_eq(f->arp[5], 4);
	cr_assert_eq(frames_get16(f->arp + 6), 1, "opcode request");
	cr_assert_arr_eq(f->arp + 8, our_mac, 6);
	cr_assert_eq(frames_get32(f->arp + 14), OUR_IP);
	cr_assert_eq(frames_get32(f->arp + 24), target);
}

TestSuite(arp, .init = setup, .fini = teardown);

Test(arp, request_for_us_is_answered)
{
	inject_arp(1, peer_mac, PEER_IP, zero_mac, OUR_IP, bcast);
	struct frames_parsed f = pop_frame();

	cr_assert_eq(f.ethertype, FRAMES_ETH_ARP);
	cr_assert_arr_eq(f.eth_dst, peer_mac, 6);
	cr_assert_arr_eq(f.eth_src, our_mac, 6);
	cr_assert_eq(frames_get16(f.arp + 6), 2, "opcode reply");
	cr_assert_arr_eq(f.arp + 8, our_mac, 6, "sender MAC is ours");
	cr_assert_eq(frames_get32(f.arp + 14), OUR_IP);
	cr_assert_arr_eq(f.arp + 18, peer_mac, 6, "target MAC is the asker");
	cr_assert_eq(frames_get32(f.arp + 24), PEER_IP);
	cr_assert_eq(st->counters.arp_requests_answered, 1);
	assert_nothing_sent();

	/* RFC 826: we are the target, so the sender's mapping was added */
	uint8_t mac[6];
	cr_assert(arp_lookup(st, PEER_IP, mac));
	cr_assert_arr_eq(mac, peer_mac, 6);
}

Test(arp, padded_request_is_answered)
{
	struct frames_arp a = { .op = 1, .spa = PEER_IP, .tpa = OUR_IP };
	size_t n;

	memcpy(a.sha, peer_mac, 6);
	n = frames_eth_arp(frame, bcast, &a);
	memset(frame + n, 0xee, 60 - n);   /* Ethernet minimum-size padding */
	stack_input_frame(st, frame, 60, 0);
	cr_assert_eq(pop_frame().ethertype, FRAMES_ETH_ARP);
	cr_assert_eq(st->counters.arp_requests_answered, 1);
}

Test(arp, request_for_other_is_ignored)
{
	uint8_t mac[6];

	inject_arp(1, peer_mac, PEER_IP, zero_mac, OTHER_IP, bcast);
	assert_nothing_sent();
	cr_assert_eq(st->counters.arp_drop_not_for_us, 1);
	cr_assert_eq(st->counters.arp_requests_answered, 0);
	cr_assert_not(arp_lookup(st, PEER_IP, mac), "not the target: nothing new is learnt");
}

/* RFC 826 merge rule: an entry we have is refreshed by any packet from that sender. */
Test(arp, merge_updates_existing_entry_even_when_not_target)
{
	uint8_t mac[6];

	inject_arp(1, peer_mac, PEER_IP, zero_mac, OUR_IP, bcast);
	pop_frame();
	inject_arp(1, peer_mac2, PEER_IP, zero_mac, OTHER_IP, bcast);
	assert_nothing_sent();
	cr_assert(arp_lookup(st, PEER_IP, mac));
	cr_assert_arr_eq(mac, peer_mac2, 6);
}

Test(arp, reply_fills_cache_and_flushes_queue_in_order)
{
	uint8_t mac[6];

	cr_assert_eq(send_marker(PEER_IP, 0xa1), 0);
	cr_assert_eq(send_marker(PEER_IP, 0xa2), 0);
	cr_assert_eq(send_marker(PEER_IP, 0xa3), 0);
	struct frames_parsed f = pop_frame();
	assert_arp_request_for(&f, PEER_IP, bcast);
	cr_assert_arr_eq(f.arp + 18, zero_mac, 6);
	assert_nothing_sent();   /* one request, packets wait */
	cr_assert_not(arp_lookup(st, PEER_IP, mac));

	inject_arp(2, peer_mac, PEER_IP, our_mac, OUR_IP, our_mac);
	cr_assert_eq(st->counters.arp_replies_rx, 1);
	cr_assert(arp_lookup(st, PEER_IP, mac));
	cr_assert_arr_eq(mac, peer_mac, 6);
	for (uint8_t m = 0xa1; m <= 0xa3; m++) {
		f = pop_frame();
		cr_assert_eq(f.ethertype, FRAMES_ETH_IPV4);
		cr_assert_arr_eq(f.eth_dst, peer_mac, 6);
		cr_assert_eq(f.dst, PEER_IP);
		cr_assert_eq(f.l4[0], m, "queued packets leave oldest first");
	}
	assert_nothing_sent();

	/* resolved: the next packet goes straight out */
	cr_assert_eq(send_marker(PEER_IP, 0xb0), 0);
	f = pop_frame();
	cr_assert_eq(f.ethertype, FRAMES_ETH_IPV4);
	cr_assert_eq(f.l4[0], 0xb0);
}

Test(arp, retries_every_second_then_unreachable)
{
	struct frames_parsed f;

	cr_assert_eq(send_marker(PEER_IP, 1), 0);
	f = pop_frame();
	assert_arp_request_for(&f, PEER_IP, bcast);
	for (int i = 1; i < ARP_MAX_TRIES; i++) {
		stack_advance_clock(st, ARP_RETRY_MS * 1000 - 1);
		assert_nothing_sent();
		stack_advance_clock(st, 1);
		f = pop_frame();
		assert_arp_request_for(&f, PEER_IP, bcast);
	}
	cr_assert_eq(st->counters.arp_resolve_timeouts, 0);
	stack_advance_clock(st, ARP_RETRY_MS * 1000);
	assert_nothing_sent();   /* no 4th request; the queued packet is dropped */
	cr_assert_eq(st->counters.arp_resolve_timeouts, 1);
	stack_advance_clock(st, 10 * 1000000);
	assert_nothing_sent();

	/* a later packet starts a fresh resolution (like Linux after NUD_FAILED) */
	cr_assert_eq(send_marker(PEER_IP, 2), 0);
	f = pop_frame();
	assert_arp_request_for(&f, PEER_IP, bcast);
	inject_arp(2, peer_mac, PEER_IP, our_mac, OUR_IP, our_mac);
	f = pop_frame();
	cr_assert_eq(f.l4[0], 2, "only the new packet; the old one was dropped");
	assert_nothing_sent();
}

Test(arp, queue_is_bounded_and_drops_oldest)
{
	for (int i = 0; i < ARP_QUEUE_MAX + 5; i++)
		cr_assert_eq(send_marker(PEER_IP, (uint8_t)i), 0);
	cr_assert_eq(st->counters.arp_queue_drops, 5);
	pop_frame();   /* the request */
	assert_nothing_sent();
	inject_arp(2, peer_mac, PEER_IP, our_mac, OUR_IP, our_mac);
	for (int i = 5; i < ARP_QUEUE_MAX + 5; i++) {
		struct frames_parsed f = pop_frame();
		cr_assert_eq(f.l4[0], (uint8_t)i);
	}
	assert_nothing_sent();
}

/* Ageing: REACHABLE for ARP_REACHABLE_MS, then stale (still used, re-probed by unicast on
 * use); an entry that stays unanswered is removed. */
Test(arp, stale_entry_is_reprobed_on_use_then_removed)
{
	uint8_t mac[6];
	struct frames_parsed f;

	inject_arp(1, peer_mac, PEER_IP, zero_mac, OUR_IP, bcast);
	pop_frame();
	stack_advance_clock(st, (uint64_t)ARP_REACHABLE_MS * 1000);
	cr_assert(arp_lookup(st, PEER_IP, mac), "stale entries are still usable");

	cr_assert_eq(send_marker(PEER_IP, 7), 0);
	f = pop_frame();
	assert_arp_request_for(&f, PEER_IP, peer_mac);   /* unicast probe */
	f = pop_frame();
	cr_assert_eq(f.ethertype, FRAMES_ETH_IPV4, "the packet still went out");
	cr_assert_arr_eq(f.eth_dst, peer_mac, 6);
	for (int i = 1; i < ARP_MAX_TRIES; i++) {
		stack_advance_clock(st, ARP_RETRY_MS * 1000);
		f = pop_frame();
		assert_arp_request_for(&f, PEER_IP, peer_mac);
	}
	stack_advance_clock(st, ARP_RETRY_MS * 1000);
	assert_nothing_sent();
	cr_assert_not(arp_lookup(st, PEER_IP, mac), "unanswered probes remove the entry");
}

Test(arp, probe_answered_keeps_entry)
{
	uint8_t mac[6];

	inject_arp(1, peer_mac, PEER_IP, zero_mac, OUR_IP, bcast);
	pop_frame();
	stack_advance_clock(st, (uint64_t)ARP_REACHABLE_MS * 1000);
	cr_assert_eq(send_marker(PEER_IP, 7), 0);
	pop_frame();
	pop_frame();
	inject_arp(2, peer_mac, PEER_IP, our_mac, OUR_IP, our_mac);
	stack_advance_clock(st, (uint64_t)ARP_MAX_TRIES * ARP_RETRY_MS * 1000 + 1);
	assert_nothing_sent();
	cr_assert(arp_lookup(st, PEER_IP, mac));
}

Test(arp, unused_entry_ages_out)
{
	uint8_t mac[6];

	inject_arp(1, peer_mac, PEER_IP, zero_mac, OUR_IP, bcast);
	pop_frame();
	stack_advance_clock(st, (uint64_t)ARP_REACHABLE_MS * 1000 - 1);
	cr_assert(arp_lookup(st, PEER_IP, mac));
	stack_advance_clock(st, 200ull * 1000 * 1000);
	cr_assert_not(arp_lookup(st, PEER_IP, mac));
	cr_assert_eq(st->counters.arp_cache_expired, 1);
	assert_nothing_sent();
}

Test(arp, gratuitous_announce)
{
	arp_announce(st);
	struct frames_parsed f = pop_frame();

	assert_arp_request_for(&f, OUR_IP, bcast);   /* sender and target are both us */
	cr_assert_arr_eq(f.arp + 18, zero_mac, 6);
	assert_nothing_sent();
}

Test(arp, gratuitous_from_peer_refreshes_known_entry)
{
	uint8_t mac[6];

	inject_arp(1, peer_mac, PEER_IP, zero_mac, OUR_IP, bcast);
	pop_frame();
	inject_arp(1, peer_mac2, PEER_IP, zero_mac, PEER_IP, bcast);
	assert_nothing_sent();
	cr_assert(arp_lookup(st, PEER_IP, mac));
	cr_assert_arr_eq(mac, peer_mac2, 6);
}

Test(arp, malformed_frames_are_counted_and_ignored)
{
	struct frames_arp a = { .op = 1, .spa = PEER_IP, .tpa = OUR_IP };
	size_t n;
	uint8_t mac[6];

	memcpy(a.sha, peer_mac, 6);
	n = frames_eth_arp(frame, bcast, &a);
	for (size_t len = FRAMES_ETH_LEN; len < n; len++)
		stack_input_frame(st, frame, len, 0);
	cr_assert_eq(st->counters.arp_drop_short, n - FRAMES_ETH_LEN);

	struct { size_t off; uint8_t val; } bad[] = {
		{ FRAMES_ETH_LEN + 1, 6 },    /* hardware type 6 */
		{ FRAMES_ETH_LEN + 2, 0x86 }, /* protocol type 0x8600 */
		{ FRAMES_ETH_LEN + 4, 8 },    /* hardware length 8 */
		{ FRAMES_ETH_LEN + 5, 16 },   /* protocol length 16 */
		{ FRAMES_ETH_LEN + 7, 3 },    /* opcode 3 (RARP) */
		{ FRAMES_ETH_LEN + 8, 0x01 }, /* multicast sender MAC */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = frames_eth_arp(frame, bcast, &a);
		frame[bad[i].off] = bad[i].val;
		stack_input_frame(st, frame, n, 0);
	}
	cr_assert_eq(st->counters.arp_drop_bad_format, sizeof(bad) / sizeof(bad[0]));
	assert_nothing_sent();
	cr_assert_not(arp_lookup(st, PEER_IP, mac));
	cr_assert_eq(st->counters.arp_requests_answered, 0);
}

Test(arp, sender_claiming_our_address_is_not_learnt)
{
	uint8_t mac[6];

	inject_arp(1, peer_mac, OUR_IP, zero_mac, OUR_IP, bcast);
	assert_nothing_sent();
	cr_assert_eq(st->counters.arp_drop_bad_format, 1);
	cr_assert_not(arp_lookup(st, OUR_IP, mac));
}

/* RFC 5227 probe: sender address 0. Answered, nothing learnt. */
Test(arp, probe_with_zero_sender_is_answered_not_learnt)
{
	uint8_t mac[6];

	inject_arp(1, peer_mac, 0, zero_mac, OUR_IP, bcast);
	struct frames_parsed f = pop_frame();
	cr_assert_eq(frames_get16(f.arp + 6), 2);
	cr_assert_not(arp_lookup(st, 0, mac));
}

Test(arp, broadcast_destination_needs_no_resolution)
{
	struct frames_parsed f;

	cr_assert_eq(send_marker(FRAMES_IP(192, 0, 2, 255), 9), 0);
	f = pop_frame();
	cr_assert_eq(f.ethertype, FRAMES_ETH_IPV4);
	cr_assert_arr_eq(f.eth_dst, bcast, 6);
	cr_assert_eq(send_marker(0xffffffffu, 9), 0);
	f = pop_frame();
	cr_assert_arr_eq(f.eth_dst, bcast, 6);
	assert_nothing_sent();
}

Test(arp, separate_next_hops_resolve_independently)
{
	struct frames_parsed f;

	cr_assert_eq(send_marker(PEER_IP, 1), 0);
	cr_assert_eq(send_marker(OTHER_IP, 2), 0);
	f = pop_frame();
	assert_arp_request_for(&f, PEER_IP, bcast);
	f = pop_frame();
	assert_arp_request_for(&f, OTHER_IP, bcast);
	inject_arp(2, peer_mac2, OTHER_IP, our_mac, OUR_IP, our_mac);
	f = pop_frame();
	cr_assert_eq(f.dst, OTHER_IP);
	cr_assert_arr_eq(f.eth_dst, peer_mac2, 6);
	assert_nothing_sent();
	stack_advance_clock(st, (uint64_t)ARP_MAX_TRIES * ARP_RETRY_MS * 1000);
	cr_assert_eq(st->counters.arp_resolve_timeouts, 1, "only PEER_IP failed");
}
