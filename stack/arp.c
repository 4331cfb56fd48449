/*
 * ARP (RFC 826) for IPv4 over Ethernet.
 *
 * The cache is a uthash keyed by IPv4 address (host order). Each entry owns one stack_timer
 * whose meaning depends on the entry's state, so nothing is ever scanned per packet:
 *
 *   INCOMPLETE  a broadcast request went out; the timer re-sends it every ARP_RETRY_MS. After
 *               ARP_MAX_TRIES requests without an answer the queued packets are dropped, their
 *               senders told the host is unreachable (udp/tcp_host_unreachable, the kernel's
 *               EHOSTUNREACH) and the entry is deleted: the next packet starts afresh, as
 *               Linux restarts resolution of a FAILED neighbour.
 *   REACHABLE   the mapping was confirmed (a reply, or a request from that host for us);
 *               packets go out at once. The timer moves the entry to STALE after
 *               ARP_REACHABLE_MS.
 *   STALE       still used for sending, but the first packet sent starts a re-probe (PROBE);
 *               an entry nobody uses for ARP_STALE_MS more is deleted (ageing).
 *   PROBE       packets keep going to the old address while unicast requests are sent every
 *               ARP_RETRY_MS; a reply makes the entry REACHABLE again, ARP_MAX_TRIES
 *               unanswered requests delete it (like Linux's NUD_PROBE → NUD_FAILED).
 *
 * The pending queue is per entry, at most ARP_QUEUE_MAX packets; when full the oldest is
 * dropped (Linux's unres_qlen behaviour) and counted in arp_queue_drops. The table holds at
 * most ARP_CACHE_MAX entries (Linux: gc_thresh3 = 1024).
 */
#include "arp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "eth.h"
#include "ipv4.h"
#include "log.h"
#include "stack.h"
#include "timer.h"
#include "ustack/wire/arp.h"
#include "ustack/wire/bytes.h"
#include "ustack/wire/ipv4.h"

#define ARP_STALE_MS 60000
#define ARP_CACHE_MAX 1024

enum arp_state { ARP_INCOMPLETE, ARP_REACHABLE, ARP_STALE, ARP_PROBE };

struct arp_entry {
	uint32_t ip;                 /* key, host order */
	uint8_t mac[6];
	enum arp_state state;
	uint8_t tries;               /* requests sent in INCOMPLETE / PROBE */
	struct pkt *queue_head, *queue_tail;
	unsigned queue_len;
	struct stack_timer timer;
	UT_hash_handle hh;
};

struct arp_table {
	struct arp_entry *entries;
	unsigned count;
};

#define ARP_ENTRY_OF_TIMER(t) \
	((struct arp_entry *)((char *)(t) - offsetof(struct arp_entry, timer)))

static void arp_entry_timer(struct ustack *st, struct stack_timer *t);

int arp_init(struct ustack *st)
{
	st->arp = calloc(1, sizeof(*st->arp));
	return st->arp ? 0 : -ENOMEM;
}

static void arp_queue_free(struct arp_entry *e)
{
	while (e->queue_head) {
		struct pkt *p = e->queue_head;
		e->queue_head = p->next;
		pkt_free(p);
	}
	e->queue_tail = NULL;
	e->queue_len = 0;
}

static void arp_entry_delete(struct ustack *st, struct arp_entry *e)
{
	stack_timer_cancel(&e->timer);
	arp_queue_free(e);
	HASH_DEL(st->arp->entries, e);
	st->arp->count--;
	free(e);
}

void arp_fini(struct ustack *st)
{
	struct arp_entry *e, *tmp;

	if (!st->arp)
		return;
	HASH_ITER(hh, st->arp->entries, e, tmp)
		arp_entry_delete(st, e);
	free(st->arp);
	st->arp = NULL;
}

static struct arp_entry *arp_find(struct ustack *st, uint32_t ip)
{
	struct arp_entry *e = NULL;

	HASH_FIND(hh, st->arp->entries, &ip, sizeof(ip), e);
	return e;
}

static struct arp_entry *arp_entry_create(struct ustack *st, uint32_t ip)
{
	struct arp_entry *e;

	if (st->arp->count >= ARP_CACHE_MAX)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->ip = ip;
	stack_timer_init(st, &e->timer, arp_entry_timer);
	HASH_ADD(hh, st->arp->entries, ip, sizeof(e->ip), e);
	st->arp->count++;
	return e;
}

static const uint8_t arp_zero_mac[6];

/* RFC 826 "Packet Generation": an Ethernet/IPv4 ARP packet. dst_mac is the Ethernet
 * destination (broadcast for requests, the asker for replies). */
static void arp_send(struct ustack *st, uint16_t op, const uint8_t dst_mac[6],
		     const uint8_t target_mac[6], uint32_t target_ip)
{
	struct pkt *p = pkt_alloc(ARP_ETH_IPV4_LEN);
	uint8_t *a;

	if (!p)
		return;
	a = pkt_put(p, ARP_ETH_IPV4_LEN);
	wire_put16(a + ARP_OFF_HTYPE, ARP_HTYPE_ETHERNET);
	wire_put16(a + ARP_OFF_PTYPE, ARP_PTYPE_IPV4);
	a[ARP_OFF_HLEN] = 6;
	a[ARP_OFF_PLEN] = 4;
	wire_put16(a + ARP_OFF_OP, op);
	memcpy(a + ARP_OFF_SHA, st->netdev.mac, 6);
	wire_put32(a + ARP_OFF_SPA, st->ip_addr);
	memcpy(a + ARP_OFF_THA, target_mac, 6);
	wire_put32(a + ARP_OFF_TPA, target_ip);
	STAT_INC(st, arp_tx);
	eth_output(st, p, dst_mac, ETH_TYPE_ARP);
}

static void arp_send_request(struct ustack *st, struct arp_entry *e)
{
	/* INCOMPLETE: broadcast. PROBE: unicast to the cached address (RFC 1122 §2.3.2.1). */
	const uint8_t *dst = e->state == ARP_PROBE ? e->mac : eth_broadcast_addr;

	e->tries++;
	arp_send(st, ARP_OP_REQUEST, dst, arp_zero_mac, e->ip);
	stack_timer_arm(&e->timer, (uint64_t)ARP_RETRY_MS * 1000);
}

/* Resolution failed: every packet that waited is lost; tell its sender, once per
 * (protocol, destination), that the host is unreachable (Linux: ip_link_failure). */
static void arp_report_unreachable(struct ustack *st, struct arp_entry *e)
{
	uint32_t told_udp = 0, told_tcp = 0;
	bool any_udp = false, any_tcp = false;

	while (e->queue_head) {
		struct pkt *p = e->queue_head;
		e->queue_head = p->next;
		e->queue_len--;
		if (p->len >= IPV4_HDR_MIN) {
			uint8_t proto = p->data[IPV4_OFF_PROTO];
			uint32_t dst = wire_get32(p->data + IPV4_OFF_DST);
			if (proto == IPV4_PROTO_UDP && !(any_udp && told_udp == dst)) {
				any_udp = true;
				told_udp = dst;
				udp_host_unreachable(st, dst);
			} else if (proto == IPV4_PROTO_TCP && !(any_tcp && told_tcp == dst)) {
				any_tcp = true;
				told_tcp = dst;
				tcp_host_unreachable(st, dst);
			}
		}
		pkt_free(p);
	}
	e->queue_tail = NULL;
}

static void arp_entry_timer(struct ustack *st, struct stack_timer *t)
{
	struct arp_entry *e = ARP_ENTRY_OF_TIMER(t);

	switch (e->state) {
	case ARP_INCOMPLETE:
		if (e->tries < ARP_MAX_TRIES) {
			arp_send_request(st, e);
			return;
		}
		STAT_INC(st, arp_resolve_timeouts);
		/* Unlink first: a transport told of the failure may send again, which must
		 * start a fresh resolution rather than find this dying entry. */
		HASH_DEL(st->arp->entries, e);
		st->arp->count--;
		arp_report_unreachable(st, e);
		free(e);
		return;
	case ARP_REACHABLE:
		e->state = ARP_STALE;
		stack_timer_arm(&e->timer, (uint64_t)ARP_STALE_MS * 1000);
		return;
	case ARP_STALE:
		STAT_INC(st, arp_cache_expired);
		arp_entry_delete(st, e);
		return;
	case ARP_PROBE:
		if (e->tries < ARP_MAX_TRIES) {
			arp_send_request(st, e);
			return;
		}
		STAT_INC(st, arp_resolve_timeouts);
		arp_entry_delete(st, e);
		return;
	}
}

static void arp_entry_confirm(struct ustack *st, struct arp_entry *e, const uint8_t mac[6])
{
	memcpy(e->mac, mac, 6);
	e->state = ARP_REACHABLE;
	e->tries = 0;
	stack_timer_arm(&e->timer, (uint64_t)ARP_REACHABLE_MS * 1000);
	/* Flush what waited, oldest first. A send may re-enter arp_output for this same next
	 * hop, which now finds the entry REACHABLE and sends directly. */
	while (e->queue_head) {
		struct pkt *p = e->queue_head;
		e->queue_head = p->next;
		if (!e->queue_head)
			e->queue_tail = NULL;
		e->queue_len--;
		p->next = NULL;
		eth_output(st, p, e->mac, ETH_TYPE_IPV4);
	}
}

static bool arp_mac_is_unicast(const uint8_t *mac)
{
	return !(mac[0] & 1) && memcmp(mac, arp_zero_mac, 6) != 0;
}

/* RFC 826 "Packet Reception", with the merge rule: update the sender's entry if we have one;
 * if we are the target, add it, then answer requests. */
void arp_input(struct ustack *st, struct pkt *p)
{
	const uint8_t *a = p->data;
	uint16_t op;
	uint32_t spa, tpa;
	const uint8_t *sha;
	struct arp_entry *e;
	bool merged = false;

	STAT_INC(st, arp_rx);
	if (p->len < ARP_ETH_IPV4_LEN) {
		STAT_INC(st, arp_drop_short);
		return;
	}
	op = wire_get16(a + ARP_OFF_OP);
	if (wire_get16(a + ARP_OFF_HTYPE) != ARP_HTYPE_ETHERNET ||
	    wire_get16(a + ARP_OFF_PTYPE) != ARP_PTYPE_IPV4 || a[ARP_OFF_HLEN] != 6 ||
	    a[ARP_OFF_PLEN] != 4 || (op != ARP_OP_REQUEST && op != ARP_OP_REPLY)) {
		STAT_INC(st, arp_drop_bad_format);
		return;
	}
	sha = a + ARP_OFF_SHA;
	spa = wire_get32(a + ARP_OFF_SPA);
	tpa = wire_get32(a + ARP_OFF_TPA);
	if (!arp_mac_is_unicast(sha) || memcmp(sha, st->netdev.mac, 6) == 0) {
		STAT_INC(st, arp_drop_bad_format);
		return;
	}
	if (spa == st->ip_addr) {
		/* Someone else claims our address (or our own frame looped back). */
		LOG_WARN("ARP: %02x:%02x:%02x:%02x:%02x:%02x claims our address",
			 sha[0], sha[1], sha[2], sha[3], sha[4], sha[5]);
		STAT_INC(st, arp_drop_bad_format);
		return;
	}
	if (op == ARP_OP_REPLY)
		STAT_INC(st, arp_replies_rx);

	/* RFC 5227 probes have sender address 0: answer them, learn nothing. Senders that are
	 * broadcast or multicast addresses are never learnt. */
	bool sender_learnable = spa != 0 && !ipv4_is_broadcast(st, spa) && (spa >> 28) != 0xe;
	if (sender_learnable) {
		e = arp_find(st, spa);
		if (e) {
			arp_entry_confirm(st, e, sha);
			merged = true;
		}
	}
	if (tpa != st->ip_addr) {
		STAT_INC(st, arp_drop_not_for_us);
		return;
	}
	if (sender_learnable && !merged) {
		e = arp_entry_create(st, spa);
		if (e)
			arp_entry_confirm(st, e, sha);
	}
	if (op == ARP_OP_REQUEST) {
		STAT_INC(st, arp_requests_answered);
		arp_send(st, ARP_OP_REPLY, sha, sha, spa);
	}
}

/* RFC 1112 §6.4: an IPv4 multicast group maps to 01:00:5e plus its low 23 bits. */
static void arp_multicast_mac(uint32_t ip, uint8_t mac[6])
{
	mac[0] = 0x01;
	mac[1] = 0x00;
	mac[2] = 0x5e;
	mac[3] = (uint8_t)((ip >> 16) & 0x7f);
	mac[4] = (uint8_t)(ip >> 8);
	mac[5] = (uint8_t)ip;
}

static void arp_enqueue(struct ustack *st, struct arp_entry *e, struct pkt *p)
{
	if (e->queue_len >= ARP_QUEUE_MAX) {
		struct pkt *oldest = e->queue_head;
		e->queue_head = oldest->next;
		if (!e->queue_head)
			e->queue_tail = NULL;
		e->queue_len--;
		pkt_free(oldest);
		STAT_INC(st, arp_queue_drops);
	}
	p->next = NULL;
	if (e->queue_tail)
		e->queue_tail->next = p;
	else
		e->queue_head = p;
	e->queue_tail = p;
	e->queue_len++;
}

int arp_output(struct ustack *st, struct pkt *p, uint32_t next_hop)
{
	struct arp_entry *e;

	if (ipv4_is_broadcast(st, next_hop))
		return eth_output(st, p, eth_broadcast_addr, ETH_TYPE_IPV4);
	if ((next_hop >> 28) == 0xe) {
		uint8_t mac[6];
		arp_multicast_mac(next_hop, mac);
		return eth_output(st, p, mac, ETH_TYPE_IPV4);
	}
	e = arp_find(st, next_hop);
	if (e && e->state != ARP_INCOMPLETE) {
		if (e->state == ARP_STALE) {
			/* RFC 1122 §2.3.2.1: revalidate a stale entry while still using it. */
			e->state = ARP_PROBE;
			e->tries = 0;
			arp_send_request(st, e);
		}
		return eth_output(st, p, e->mac, ETH_TYPE_IPV4);
	}
	if (!e) {
		e = arp_entry_create(st, next_hop);
		if (!e) {
			STAT_INC(st, arp_queue_drops);
			pkt_free(p);
			return -ENOBUFS;
		}
		e->state = ARP_INCOMPLETE;
		arp_enqueue(st, e, p);
		arp_send_request(st, e);
		return 0;
	}
	arp_enqueue(st, e, p);
	return 0;
}

/* RFC 5227 §3 / RFC 826: a gratuitous request with our address as sender and target. */
void arp_announce(struct ustack *st)
{
	arp_send(st, ARP_OP_REQUEST, eth_broadcast_addr, arp_zero_mac, st->ip_addr);
}

bool arp_lookup(struct ustack *st, uint32_t ip, uint8_t mac_out[6])
{
	struct arp_entry *e = arp_find(st, ip);

	if (!e || e->state == ARP_INCOMPLETE)
		return false;
	memcpy(mac_out, e->mac, 6);
	return true;
}
