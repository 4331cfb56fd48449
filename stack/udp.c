/*
 * UDP (RFC 768; host requirements RFC 1122 §4.1): socket operations, demultiplexing,
 * checksums, per-socket receive queues and ICMP error reporting. Linux is the reference for
 * every behaviour an application can see (errno values, SO_REUSEADDR sharing, which ICMP
 * errors reach which sockets, MSG_TRUNC).
 *
 * Demultiplexing (no scan of all sockets per datagram):
 *  - `table->connected`: uthash of connected sockets by their exact 4-tuple;
 *  - `table->ports`: uthash by local port of a `struct udp_port` holding two short lists,
 *    the unconnected sockets (searched for the best wildcard match) and the connected ones
 *    (seen only by bind-conflict checks and broadcast delivery).
 * A unicast datagram tries the exact 4-tuple first, then the port's unconnected list, where a
 * socket bound to the destination address beats one bound to INADDR_ANY (Linux's scoring).
 *
 * Receive queue: a byte ring per socket (ringbuf.h) of records
 *     [payload length 2 | source address 4 | source port 2 | payload]
 * allocated on the first datagram and sized so that whatever SO_RCVBUF admits always fits.
 * Each datagram is charged payload + UDP_RCV_OVERHEAD against SO_RCVBUF (Linux charges the
 * skb's truesize), so a flood of tiny datagrams is bounded too.
 */
#include "udp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "checksum.h"
#include "icmp.h"
#include "ipv4.h"
#include "ringbuf.h"
#include "sock.h"
#include "stack.h"
#include "ustack/wire/bytes.h"
#include "ustack/wire/icmp.h"
#include "ustack/wire/ipv4.h"
#include "ustack/wire/udp.h"

#define UDP_RECORD_HDR 8          /* length, source address, source port */
#define UDP_RCV_OVERHEAD 768      /* charged per queued datagram, like an skb's truesize */
#define UDP_RCVBUF_CAP (16u << 20) /* largest receive queue charge honoured */
#define UDP_EPHEMERAL_COUNT (UDP_EPHEMERAL_HIGH - UDP_EPHEMERAL_LOW + 1)

/* Both addresses host order; a connected socket's remote half is non-zero. The struct is the
 * uthash key of the connected table: 12 bytes, no padding. */
struct udp_tuple {
	uint32_t local_ip, remote_ip;
	uint16_t local_port, remote_port;
};

struct udp_port;

struct udp_pcb {
	struct sock *sock;
	struct udp_tuple t;        /* local_ip 0 = INADDR_ANY; local_port 0 = not bound */
	bool bound;                /* in the port table */
	bool connected;            /* in table->connected and port->connected */
	bool addr_locked;          /* local address chosen by bind() (Linux SOCK_BINDADDR_LOCK) */
	bool port_locked;          /* local port chosen by bind() (SOCK_BINDPORT_LOCK) */
	bool shut_rd, shut_wr;
	bool recverr;              /* IP_RECVERR: every ICMP error is reported, not only hard ones */
	int ttl;                   /* IP_TTL, -1 = default */
	int tos;                   /* IP_TOS */
	int pmtudisc;              /* IP_MTU_DISCOVER, IP_PMTUDISC_WANT by default (Linux) */
	struct udp_port *port;     /* while bound */
	struct udp_pcb *port_next; /* in port->unconnected or port->connected */
	struct udp_pcb *all_prev, *all_next;   /* every pcb (fini, ARP failure) */
	UT_hash_handle conn_hh;    /* in table->connected, key t */
	struct ringbuf rx;         /* records, see the top of the file */
	size_t rx_datagrams;
	size_t rx_charge;          /* bytes charged against SO_RCVBUF */
};

struct udp_port {
	uint16_t port;
	struct udp_pcb *unconnected;   /* newest first: ties go to the latest bind, as on Linux */
	struct udp_pcb *connected;
	UT_hash_handle hh;
};

struct udp_table {
	struct udp_port *ports;
	struct udp_pcb *connected;     /* uthash by 4-tuple (conn_hh) */
	struct udp_pcb *all;
	uint64_t port_draws;           /* RFC 6056 counter: each ephemeral choice starts afresh */
};

static inline struct udp_pcb *udp_pcb_of(const struct sock *s)
{
	return s->pcb;
}

static bool udp_is_multicast(uint32_t addr)
{
	return (addr >> 28) == 0xe;
}

/* A 64-bit mixing function (splitmix64's finaliser): keyed hashes below. */
static uint64_t udp_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t udp_keyed_hash(const struct ustack *st, uint64_t value)
{
	uint64_t k0, k1;

	memcpy(&k0, st->secret, sizeof(k0));
	memcpy(&k1, st->secret + sizeof(k0), sizeof(k1));
	return udp_mix64(k0 ^ udp_mix64(k1 ^ value));
}

/* ---- the port table ---- */

static struct udp_port *udp_port_find(const struct ustack *st, uint16_t port)
{
	struct udp_port *entry;

	HASH_FIND(hh, st->udp->ports, &port, sizeof(port), entry);
	return entry;
}

static void udp_list_remove(struct udp_pcb **head, struct udp_pcb *pcb)
{
	for (struct udp_pcb **link = head; *link; link = &(*link)->port_next) {
		if (*link == pcb) {
			*link = pcb->port_next;
			pcb->port_next = NULL;
			return;
		}
	}
}

static void udp_list_push(struct udp_pcb **head, struct udp_pcb *pcb)
{
	pcb->port_next = *head;
	*head = pcb;
}

static bool udp_addrs_overlap(uint32_t a, uint32_t b)
{
	return a == 0 || b == 0 || a == b;
}

/* Linux udp_lib_lport_inuse: two sockets may share a port when both set SO_REUSEADDR, or both
 * set SO_REUSEPORT (same owner: always, in one process), or their addresses differ and
 * neither is INADDR_ANY. */
static bool udp_conflicts(const struct sock *s, uint32_t local_ip, const struct udp_pcb *other)
{
	const struct sock *o = other->sock;

	if (s->reuseaddr && o->reuseaddr)
		return false;
	if (s->reuseport && o->reuseport)
		return false;
	return udp_addrs_overlap(local_ip, other->t.local_ip);
}

static bool udp_port_usable(const struct udp_port *entry, const struct udp_pcb *pcb,
			    uint32_t local_ip)
{
	const struct udp_pcb *lists[2] = { entry->unconnected, entry->connected };

	for (int i = 0; i < 2; i++)
		for (const struct udp_pcb *o = lists[i]; o; o = o->port_next)
			if (o != pcb && udp_conflicts(pcb->sock, local_ip, o))
				return false;
	return true;
}

static int udp_hash_insert(struct ustack *st, struct udp_pcb *pcb, uint32_t local_ip,
			   uint16_t port)
{
	struct udp_port *entry = udp_port_find(st, port);

	if (!entry) {
		entry = calloc(1, sizeof(*entry));
		if (!entry)
			return -ENOMEM;
		entry->port = port;
		HASH_ADD(hh, st->udp->ports, port, sizeof(entry->port), entry);
	}
	udp_list_push(&entry->unconnected, pcb);
	pcb->port = entry;
	pcb->bound = true;
	pcb->t.local_ip = local_ip;
	pcb->t.local_port = port;
	return 0;
}

static void udp_conn_unhash(struct ustack *st, struct udp_pcb *pcb)
{
	if (!pcb->connected)
		return;
	HASH_DELETE(conn_hh, st->udp->connected, pcb);
	udp_list_remove(&pcb->port->connected, pcb);
	udp_list_push(&pcb->port->unconnected, pcb);
	pcb->connected = false;
	pcb->t.remote_ip = 0;
	pcb->t.remote_port = 0;
}

static void udp_conn_hash(struct ustack *st, struct udp_pcb *pcb)
{
	udp_list_remove(&pcb->port->unconnected, pcb);
	udp_list_push(&pcb->port->connected, pcb);
	HASH_ADD(conn_hh, st->udp->connected, t, sizeof(pcb->t), pcb);
	pcb->connected = true;
}

/* Leave the port table (close, or disconnect of an automatically bound socket). */
static void udp_unhash(struct ustack *st, struct udp_pcb *pcb)
{
	struct udp_port *entry = pcb->port;

	if (!pcb->bound)
		return;
	udp_conn_unhash(st, pcb);
	udp_list_remove(&entry->unconnected, pcb);
	if (!entry->unconnected && !entry->connected) {
		HASH_DEL(st->udp->ports, entry);
		free(entry);
	}
	pcb->port = NULL;
	pcb->bound = false;
	pcb->t.local_port = 0;
}

static int udp_claim_port(struct ustack *st, struct udp_pcb *pcb, uint32_t local_ip,
			  uint16_t port)
{
	struct udp_port *entry = udp_port_find(st, port);

	if (entry && !udp_port_usable(entry, pcb, local_ip))
		return -EADDRINUSE;
	return udp_hash_insert(st, pcb, local_ip, port);
}

/* RFC 6056 §3.3.3-style selection: the search starts at a keyed hash of a per-stack counter
 * (unpredictable off-host, different for each choice) and walks the range for a port no
 * socket holds. Each probe is one hash lookup. */
static int udp_claim_ephemeral(struct ustack *st, struct udp_pcb *pcb, uint32_t local_ip)
{
	uint32_t start = (uint32_t)(udp_keyed_hash(st, ++st->udp->port_draws) %
				    UDP_EPHEMERAL_COUNT);

	for (uint32_t i = 0; i < UDP_EPHEMERAL_COUNT; i++) {
		uint16_t port = (uint16_t)(UDP_EPHEMERAL_LOW + (start + i) % UDP_EPHEMERAL_COUNT);

		if (!udp_port_find(st, port))
			return udp_hash_insert(st, pcb, local_ip, port);
	}
	return -EADDRINUSE;
}

/* Linux inet_autobind: the first send or connect binds an ephemeral port (-EAGAIN if none). */
static int udp_autobind(struct ustack *st, struct udp_pcb *pcb)
{
	int rc;

	if (pcb->bound)
		return 0;
	rc = udp_claim_ephemeral(st, pcb, pcb->t.local_ip);
	return rc == -EADDRINUSE ? -EAGAIN : rc;
}

/* ---- demultiplexing ---- */

/* Among the best-scoring unconnected sockets that all set SO_REUSEPORT, pick one by a hash of
 * the remote end, so one peer keeps reaching the same socket (Linux reuseport_select_sock). */
static struct udp_pcb *udp_reuseport_pick(const struct ustack *st, struct udp_pcb *best,
					  uint32_t local_ip, uint32_t remote_ip,
					  uint16_t remote_port)
{
	uint32_t count = 0, pick;
	struct udp_pcb *o;

	for (o = best; o; o = o->port_next)
		if (o->sock->reuseport && o->t.local_ip == best->t.local_ip)
			count++;
	if (count < 2)
		return best;
	pick = (uint32_t)(udp_keyed_hash(st, ((uint64_t)remote_ip << 16) ^ remote_port ^
					 ((uint64_t)local_ip << 48)) % count);
	for (o = best; o; o = o->port_next)
		if (o->sock->reuseport && o->t.local_ip == best->t.local_ip && pick-- == 0)
			return o;
	return best;
}

/* The socket a unicast datagram local:lport <- remote:rport belongs to, or NULL. */
static struct udp_pcb *udp_lookup(const struct ustack *st, uint32_t local_ip,
				  uint16_t local_port, uint32_t remote_ip, uint16_t remote_port)
{
	struct udp_tuple key = { .local_ip = local_ip, .remote_ip = remote_ip,
				 .local_port = local_port, .remote_port = remote_port };
	struct udp_pcb *pcb, *best = NULL;
	struct udp_port *entry;

	HASH_FIND(conn_hh, st->udp->connected, &key, sizeof(key), pcb);
	if (pcb)
		return pcb;
	entry = udp_port_find(st, local_port);
	if (!entry)
		return NULL;
	for (pcb = entry->unconnected; pcb; pcb = pcb->port_next) {
		if (pcb->t.local_ip == local_ip) {
			best = pcb;
			break;               /* an exact address beats every wildcard */
		}
		if (pcb->t.local_ip == 0 && !best)
			best = pcb;
	}
	if (best && best->sock->reuseport)
		best = udp_reuseport_pick(st, best, local_ip, remote_ip, remote_port);
	return best;
}

/* ---- the receive queue ---- */

static size_t udp_ring_slack(void)
{
	return UDP_RECORD_HDR + UDP_MAX_PAYLOAD;
}

/* The charge limit SO_RCVBUF sets, clipped so that the ring (allocated whole) stays modest
 * even if SO_RCVBUF was forced very large. */
static size_t udp_rcv_limit(const struct sock *s)
{
	size_t limit = s->rcvbuf > 0 ? (size_t)s->rcvbuf : SOCK_DEFAULT_UDP_RCVBUF;

	return limit < UDP_RCVBUF_CAP ? limit : UDP_RCVBUF_CAP;
}

/* The ring holds any record the limit admits: a record is smaller than its charge, so at most
 * limit bytes are stored before the last admitted datagram. (Re)allocated only while empty:
 * on the first datagram and after SO_RCVBUF changed. */
static int udp_ring_ready(struct udp_pcb *pcb, size_t limit)
{
	size_t want = limit + udp_ring_slack();

	if (pcb->rx.capacity == want && pcb->rx.data)
		return 0;
	if (pcb->rx.capacity != 0 && !ringbuf_empty(&pcb->rx))
		return 0;   /* resize once it drains; until then the old size bounds the queue */
	ringbuf_free(&pcb->rx);
	return ringbuf_init(&pcb->rx, want);
}

/* Linux __udp_enqueue_schedule_skb: refuse only once the charge is already over SO_RCVBUF, so
 * a datagram larger than a small buffer still gets in when the queue is empty. */
static void udp_enqueue(struct ustack *st, struct udp_pcb *pcb, const uint8_t *payload,
			size_t len, uint32_t src, uint16_t sport)
{
	uint8_t rec[UDP_RECORD_HDR];
	size_t limit = udp_rcv_limit(pcb->sock);

	if (pcb->rx_charge > limit || udp_ring_ready(pcb, limit) < 0 ||
	    ringbuf_space(&pcb->rx) < UDP_RECORD_HDR + len) {
		STAT_INC(st, udp_drop_rcvbuf);
		return;
	}
	wire_put16(rec, (uint16_t)len);
	wire_put32(rec + 2, src);
	wire_put16(rec + 6, sport);
	ringbuf_write(&pcb->rx, rec, sizeof(rec));
	if (len)
		ringbuf_write(&pcb->rx, payload, len);
	pcb->rx_datagrams++;
	pcb->rx_charge += len + UDP_RCV_OVERHEAD;
	STAT_INC(st, udp_rx_queued);
	sock_readiness(st, pcb->sock, true);
}

struct udp_record {
	size_t len;
	uint32_t src;
	uint16_t sport;
};

static bool udp_peek_record(const struct udp_pcb *pcb, struct udp_record *r)
{
	uint8_t rec[UDP_RECORD_HDR];

	if (pcb->rx_datagrams == 0 ||
	    ringbuf_peek(&pcb->rx, 0, rec, sizeof(rec)) != sizeof(rec))
		return false;
	r->len = wire_get16(rec);
	r->src = wire_get32(rec + 2);
	r->sport = wire_get16(rec + 6);
	return true;
}

static void udp_drop_record(struct udp_pcb *pcb, const struct udp_record *r)
{
	ringbuf_consume(&pcb->rx, UDP_RECORD_HDR + r->len);
	pcb->rx_datagrams--;
	pcb->rx_charge -= r->len + UDP_RCV_OVERHEAD;
}

/* Copy up to n ring bytes from offset into the iovecs; returns the bytes copied. */
static size_t udp_copy_to_iov(const struct ringbuf *rb, size_t offset, size_t n,
			      const struct iovec *iov, int iovcnt)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < n; i++) {
		size_t want = iov[i].iov_len < n - done ? iov[i].iov_len : n - done;

		if (want)
			done += ringbuf_peek(rb, offset + done, iov[i].iov_base, want);
	}
	return done;
}

/* ---- input ---- */

/* RFC 768 / RFC 1122 §4.1.3.4: a zero checksum field means "none sent"; otherwise the sum
 * over the pseudo-header, header and data must verify. Frames the kernel vouched for
 * (PKT_F_CSUM_VALID) or left unfinished on a veth (PKT_F_CSUM_PARTIAL) are trusted. */
static bool udp_checksum_ok(const uint8_t *h, size_t ulen, const struct ipv4_info *ip)
{
	uint32_t sum;

	if (ip->pkt_flags & (PKT_F_CSUM_VALID | PKT_F_CSUM_PARTIAL))
		return true;
	if (wire_get16(h + UDP_OFF_CSUM) == 0)
		return true;
	sum = csum_pseudo_ipv4(ip->src, ip->dst, IPV4_PROTO_UDP, (uint16_t)ulen);
	return csum_fold(csum_partial(h, ulen, sum)) == 0;
}

static bool udp_bcast_match(const struct udp_pcb *pcb, uint32_t dst, uint32_t src,
			    uint16_t sport)
{
	if (pcb->t.local_ip != 0 && pcb->t.local_ip != dst)
		return false;
	return !pcb->connected || (pcb->t.remote_ip == src && pcb->t.remote_port == sport);
}

/* Linux __udp4_lib_mcast_deliver: a broadcast goes to every socket on the port bound to
 * INADDR_ANY or to that broadcast address (and, if connected, connected to the sender). */
static void udp_deliver_broadcast(struct ustack *st, uint32_t dst, uint16_t dport,
				  uint32_t src, uint16_t sport, const uint8_t *payload, size_t len)
{
	struct udp_port *entry = udp_port_find(st, dport);
	bool delivered = false;

	if (entry) {
		struct udp_pcb *lists[2] = { entry->unconnected, entry->connected };

		for (int i = 0; i < 2; i++) {
			for (struct udp_pcb *pcb = lists[i]; pcb; pcb = pcb->port_next) {
				if (!udp_bcast_match(pcb, dst, src, sport))
					continue;
				udp_enqueue(st, pcb, payload, len, src, sport);
				delivered = true;
			}
		}
	}
	if (!delivered)
		STAT_INC(st, udp_drop_bcast_no_port);
}

/* Returns false when a unicast datagram found no socket (ICMP port unreachable sent when it
 * came from the wire, ip != NULL). */
static bool udp_deliver(struct ustack *st, uint32_t src, uint32_t dst, bool to_broadcast,
			uint16_t sport, uint16_t dport, const uint8_t *payload, size_t len,
			const struct ipv4_info *ip)
{
	struct udp_pcb *pcb;

	if (to_broadcast || udp_is_multicast(dst)) {
		udp_deliver_broadcast(st, dst, dport, src, sport, payload, len);
		return true;
	}
	pcb = udp_lookup(st, dst, dport, src, sport);
	if (!pcb) {
		/* RFC 1122 §4.1.3.1: no one listening: ICMP port unreachable */
		STAT_INC(st, udp_drop_no_port);
		if (ip)
			icmp_send_unreachable(st, ICMP_UNREACH_PORT, ip);
		return false;
	}
	udp_enqueue(st, pcb, payload, len, src, sport);
	return true;
}

void udp_input(struct ustack *st, struct pkt *p, const struct ipv4_info *ip)
{
	const uint8_t *h = p->data;
	size_t avail, ulen;

	STAT_INC(st, udp_rx);
	avail = ip->total_len > ip->hdr_len ? ip->total_len - ip->hdr_len : 0;
	if (avail > p->len)
		avail = p->len;
	if (avail < UDP_HDR_LEN) {
		STAT_INC(st, udp_drop_short);
		return;
	}
	/* RFC 768: length covers header and data; more than the IP payload (or less than the
	 * header) is malformed. Less than the IP payload: the rest is padding (Linux trims). */
	ulen = wire_get16(h + UDP_OFF_LEN);
	if (ulen < UDP_HDR_LEN || ulen > avail) {
		STAT_INC(st, udp_drop_len);
		return;
	}
	if (!udp_checksum_ok(h, ulen, ip)) {
		STAT_INC(st, udp_drop_checksum);
		return;
	}
	udp_deliver(st, ip->src, ip->dst, ip->to_broadcast, wire_get16(h + UDP_OFF_SRC_PORT),
		    wire_get16(h + UDP_OFF_DST_PORT), h + UDP_HDR_LEN, ulen - UDP_HDR_LEN, ip);
}

/* ---- errors ---- */

/* Linux __udp4_lib_err: whether an ICMP error is "hard", i.e. reported to a connected socket
 * without IP_RECVERR: icmp_err_convert's verdict (e->fatal), except that "fragmentation
 * needed" is hard unless the socket turned path MTU discovery off. */
static bool udp_icmp_is_hard(const struct udp_pcb *pcb, const struct icmp_error *e)
{
	if (e->type == ICMP_DEST_UNREACH && e->code == ICMP_UNREACH_NEEDFRAG)
		return pcb->pmtudisc != IP_PMTUDISC_DONT;
	return e->fatal;
}

static void udp_set_error(struct ustack *st, struct udp_pcb *pcb, int err)
{
	pcb->sock->so_error = err;
	STAT_INC(st, udp_errors_reported);
	/* POLLERR now; a blocked reader wakes and gets the error */
	sock_readiness(st, pcb->sock, true);
}

/* RFC 1122 §4.1.3.3: pass ICMP errors to the application. Linux reports them to connected
 * sockets only, and only hard ones, unless IP_RECVERR is set; source quench and redirects
 * never. */
void udp_icmp_error(struct ustack *st, const struct icmp_error *e)
{
	struct udp_pcb *pcb;

	if (!st->udp || e->err <= 0 || e->type == ICMP_SOURCE_QUENCH || e->type == ICMP_REDIRECT)
		return;
	pcb = udp_lookup(st, e->local_ip, e->local_port, e->remote_ip, e->remote_port);
	if (!pcb)
		return;
	if (!pcb->recverr && (!udp_icmp_is_hard(pcb, e) || !pcb->connected))
		return;
	udp_set_error(st, pcb, e->err);
}

/* Address resolution for dst failed. Linux turns a neighbour failure into a local ICMP host
 * unreachable, a soft error: only sockets with IP_RECVERR see EHOSTUNREACH. Here: connected
 * sockets whose peer is dst or lies behind the next hop dst. */
void udp_host_unreachable(struct ustack *st, uint32_t dst)
{
	if (!st->udp)
		return;
	for (struct udp_pcb *pcb = st->udp->all; pcb; pcb = pcb->all_next) {
		uint32_t next_hop;

		if (!pcb->connected || !pcb->recverr || !pcb->sock)
			continue;
		if (pcb->t.remote_ip != dst &&
		    (ipv4_route(st, pcb->t.remote_ip, &next_hop) < 0 || next_hop != dst))
			continue;
		udp_set_error(st, pcb, EHOSTUNREACH);
	}
}

/* sock_error(): a pending error is returned once, then cleared. */
static int udp_take_error(struct ustack *st, struct sock *s)
{
	int err = s->so_error;

	if (!err)
		return 0;
	s->so_error = 0;
	sock_readiness(st, s, false);
	return err;
}

/* ---- output ---- */

/* Destination checks shared by connect and send (Linux ip_route_connect / udp_sendmsg):
 * a route must exist, and a broadcast needs SO_BROADCAST. */
static int udp_check_destination(const struct ustack *st, const struct sock *s, uint32_t dst)
{
	uint32_t next_hop;

	if (ipv4_is_broadcast(st, dst))
		return s->broadcast ? 0 : -EACCES;
	if (ipv4_is_local(st, dst))
		return 0;
	return ipv4_route(st, dst, &next_hop);
}

static size_t udp_iov_total(const struct iovec *iov, int iovcnt, bool *too_big)
{
	size_t total = 0;

	*too_big = false;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0xffff || total + iov[i].iov_len > 0xffff) {
			*too_big = true;
			return 0;
		}
		total += iov[i].iov_len;
	}
	return total;
}

/* Our own address (or a broadcast, which Linux loops back too): deliver to local sockets
 * directly, the way the kernel's loopback does; nobody on the port is the port unreachable
 * the kernel would send itself. Needs udp_icmp_error, defined above. */
static void udp_loopback(struct ustack *st, const struct udp_pcb *pcb, uint32_t src,
			 uint32_t dst, uint16_t dport, const uint8_t *payload, size_t len)
{
	struct icmp_error e = {
		.local_ip = src, .remote_ip = dst, .local_port = pcb->t.local_port,
		.remote_port = dport, .type = ICMP_DEST_UNREACH, .code = ICMP_UNREACH_PORT,
		.err = ECONNREFUSED, .fatal = true,
	};

	STAT_INC(st, udp_loopback);
	if (!udp_deliver(st, src, dst, ipv4_is_broadcast(st, dst), pcb->t.local_port, dport,
			 payload, len, NULL))
		udp_icmp_error(st, &e);
}

/* IP_PMTUDISC_DO / PROBE / INTERFACE: never fragment (Linux sets DF and refuses larger
 * datagrams). The default, WANT, lets Linux set DF on what fits its path MTU estimate; with no
 * path MTU cache here it fragments freely instead, so a smaller link on the path cannot
 * black-hole it. */
static bool udp_dont_fragment(const struct udp_pcb *pcb)
{
	return pcb->pmtudisc == IP_PMTUDISC_DO || pcb->pmtudisc == IP_PMTUDISC_PROBE ||
	       pcb->pmtudisc == IP_PMTUDISC_INTERFACE;
}

/* RFC 768: the header and the data gathered from the iovecs, checksum field zero. */
static struct pkt *udp_build(const struct udp_pcb *pcb, uint16_t dport, const struct iovec *iov,
			     int iovcnt, size_t len)
{
	struct pkt *p = pkt_alloc(UDP_HDR_LEN + len);
	uint8_t *h, *d;

	if (!p)
		return NULL;
	h = pkt_put(p, UDP_HDR_LEN + len);
	if (!h) {
		pkt_free(p);
		return NULL;
	}
	wire_put16(h + UDP_OFF_SRC_PORT, pcb->t.local_port);
	wire_put16(h + UDP_OFF_DST_PORT, dport);
	wire_put16(h + UDP_OFF_LEN, (uint16_t)(UDP_HDR_LEN + len));
	wire_put16(h + UDP_OFF_CSUM, 0);
	d = h + UDP_HDR_LEN;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len)
			memcpy(d, iov[i].iov_base, iov[i].iov_len);
		d += iov[i].iov_len;
	}
	return p;
}

/* RFC 768: the checksum covers pseudo-header, header and data; always sent, a computed zero
 * goes out as all ones (zero means "no checksum"). */
static void udp_fill_checksum(uint8_t *h, size_t ulen, uint32_t src, uint32_t dst)
{
	uint32_t sum = csum_pseudo_ipv4(src, dst, IPV4_PROTO_UDP, (uint16_t)ulen);
	uint16_t csum = csum_fold(csum_partial(h, ulen, sum));

	wire_put16(h + UDP_OFF_CSUM, csum ? csum : 0xffff);
}

static int udp_transmit(struct ustack *st, struct udp_pcb *pcb, uint32_t dst, uint16_t dport,
			const struct iovec *iov, int iovcnt, size_t len)
{
	/* our address, whatever the socket is bound to: one bound to a broadcast or multicast
	 * address sends from the device's address, as on Linux */
	uint32_t src = st->ip_addr;
	struct pkt *p = udp_build(pcb, dport, iov, iovcnt, len);
	int rc;

	if (!p)
		return -ENOBUFS;
	if (ipv4_is_local(st, dst) || ipv4_is_broadcast(st, dst))
		udp_loopback(st, pcb, src, dst, dport, p->data + UDP_HDR_LEN, len);
	if (ipv4_is_local(st, dst)) {
		pkt_free(p);
		STAT_INC(st, udp_tx);
		return 0;
	}
	udp_fill_checksum(p->data, p->len, src, dst);
	rc = ipv4_output(st, p, src, dst, IPV4_PROTO_UDP, udp_dont_fragment(pcb) ? IPV4_OUT_DF : 0);
	if (rc == -ENOBUFS || rc == -EHOSTUNREACH) {
		/* Linux: a datagram lost below the socket is not the sender's error (unless
		 * IP_RECVERR); an unresolved neighbour drops it silently */
		STAT_INC(st, udp_tx_dropped);
		return pcb->recverr ? rc : 0;
	}
	if (rc < 0)
		return rc;
	STAT_INC(st, udp_tx);
	return 0;
}

static ssize_t udp_sendmsg(struct ustack *st, struct sock *s, const struct iovec *iov,
			   int iovcnt, const struct sockaddr_in *to, int flags)
{
	struct udp_pcb *pcb = udp_pcb_of(s);
	uint32_t dst;
	uint16_t dport;
	bool too_big;
	size_t len;
	int rc;

	/* Linux order: autobind, size, flags, address, route, size again, pending error */
	if ((rc = udp_autobind(st, pcb)) < 0)
		return rc;
	len = udp_iov_total(iov, iovcnt, &too_big);
	if (too_big)
		return -EMSGSIZE;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (to) {
		/* AF_UNSPEC is taken as AF_INET for sendto (Linux compatibility) */
		if (to->sin_family != AF_INET && to->sin_family != AF_UNSPEC)
			return -EAFNOSUPPORT;
		dst = ntohl(to->sin_addr.s_addr);
		dport = ntohs(to->sin_port);
		if (dport == 0)
			return -EINVAL;
	} else if (pcb->connected) {
		dst = pcb->t.remote_ip;
		dport = pcb->t.remote_port;
	} else {
		return -EDESTADDRREQ;
	}
	if (dst == 0)
		dst = st->ip_addr;   /* Linux: INADDR_ANY as a destination means this host */
	if ((rc = udp_check_destination(st, s, dst)) < 0)
		return rc;
	if (len > UDP_MAX_PAYLOAD ||
	    (udp_dont_fragment(pcb) && IPV4_HDR_MIN + UDP_HDR_LEN + len > (size_t)st->mtu))
		return -EMSGSIZE;
	if ((rc = udp_take_error(st, s)) > 0)
		return -rc;
	if (pcb->shut_wr)
		return -EPIPE;
	rc = udp_transmit(st, pcb, dst, dport, iov, iovcnt, len);
	return rc < 0 ? rc : (ssize_t)len;
}

static ssize_t udp_recvmsg(struct ustack *st, struct sock *s, const struct iovec *iov,
			   int iovcnt, struct sockaddr_in *from, int flags, int *msg_flags)
{
	struct udp_pcb *pcb = udp_pcb_of(s);
	struct udp_record r;
	size_t copied;
	int err;

	if (msg_flags)
		*msg_flags = 0;
	if (flags & MSG_ERRQUEUE)
		return -EAGAIN;   /* no error queue: as Linux with an empty one */
	if ((err = udp_take_error(st, s)) > 0)
		return -err;
	if (!udp_peek_record(pcb, &r)) {
		/* after shutdown(SHUT_RD) a blocking read returns 0 (Linux) */
		if (pcb->shut_rd && !(flags & MSG_DONTWAIT))
			return 0;
		return -EAGAIN;
	}
	copied = udp_copy_to_iov(&pcb->rx, UDP_RECORD_HDR, r.len, iov, iovcnt);
	if (copied < r.len && msg_flags)
		*msg_flags |= MSG_TRUNC;
	if (from) {
		memset(from, 0, sizeof(*from));
		from->sin_family = AF_INET;
		from->sin_addr.s_addr = htonl(r.src);
		from->sin_port = htons(r.sport);
	}
	if (!(flags & MSG_PEEK)) {
		udp_drop_record(pcb, &r);
		sock_consumed(st, s);
	}
	return (flags & MSG_TRUNC) ? (ssize_t)r.len : (ssize_t)copied;
}

/* ---- socket operations ---- */

static bool udp_bindable(const struct ustack *st, uint32_t ip)
{
	/* Linux inet_bind: INADDR_ANY, a local, broadcast or multicast address */
	return ip == 0 || ipv4_is_local(st, ip) || ipv4_is_broadcast(st, ip) ||
	       udp_is_multicast(ip);
}

static int udp_bind(struct ustack *st, struct sock *s, const struct sockaddr_in *addr)
{
	struct udp_pcb *pcb = udp_pcb_of(s);
	uint32_t ip = ntohl(addr->sin_addr.s_addr);
	uint16_t port = ntohs(addr->sin_port);
	int rc;

	/* AF_UNSPEC with INADDR_ANY is accepted as AF_INET (Linux compatibility) */
	if (addr->sin_family != AF_INET && !(addr->sin_family == AF_UNSPEC && ip == 0))
		return -EAFNOSUPPORT;
	if (!udp_bindable(st, ip))
		return -EADDRNOTAVAIL;
	if (pcb->bound)
		return -EINVAL;
	rc = port ? udp_claim_port(st, pcb, ip, port) : udp_claim_ephemeral(st, pcb, ip);
	if (rc < 0)
		return rc;
	pcb->addr_locked = ip != 0;
	pcb->port_locked = port != 0;
	return 0;
}

/* Linux udp_disconnect: forget the peer; an address or port the application did not bind
 * itself is given up too (an automatically bound port returns to the pool). */
static int udp_disconnect(struct ustack *st, struct udp_pcb *pcb)
{
	udp_conn_unhash(st, pcb);
	if (!pcb->addr_locked)
		pcb->t.local_ip = 0;
	if (!pcb->port_locked)
		udp_unhash(st, pcb);
	return 0;
}

/* RFC 1122 §4.1.3.4 / Linux ip4_datagram_connect: fix the peer; datagrams from anyone else
 * are no longer delivered here. The local address becomes ours if it was INADDR_ANY. */
static int udp_connect(struct ustack *st, struct sock *s, const struct sockaddr_in *addr)
{
	struct udp_pcb *pcb = udp_pcb_of(s);
	uint32_t dst;
	int rc;

	if (addr->sin_family == AF_UNSPEC)
		return udp_disconnect(st, pcb);
	if (addr->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	if ((rc = udp_autobind(st, pcb)) < 0)
		return rc;
	dst = ntohl(addr->sin_addr.s_addr);
	if (dst == 0)
		dst = st->ip_addr;
	if ((rc = udp_check_destination(st, s, dst)) < 0)
		return rc;
	udp_conn_unhash(st, pcb);
	if (pcb->t.local_ip == 0)
		pcb->t.local_ip = st->ip_addr;
	pcb->t.remote_ip = dst;
	pcb->t.remote_port = ntohs(addr->sin_port);
	udp_conn_hash(st, pcb);
	return 0;
}

static int udp_create(struct ustack *st, struct sock *s)
{
	struct udp_pcb *pcb = calloc(1, sizeof(*pcb));

	if (!pcb)
		return -ENOMEM;
	pcb->sock = s;
	pcb->ttl = -1;
	pcb->pmtudisc = IP_PMTUDISC_WANT;
	pcb->all_next = st->udp->all;
	if (st->udp->all)
		st->udp->all->all_prev = pcb;
	st->udp->all = pcb;
	s->pcb = pcb;
	return 0;
}

static void udp_pcb_destroy(struct ustack *st, struct udp_pcb *pcb)
{
	udp_unhash(st, pcb);
	if (pcb->all_prev)
		pcb->all_prev->all_next = pcb->all_next;
	else
		st->udp->all = pcb->all_next;
	if (pcb->all_next)
		pcb->all_next->all_prev = pcb->all_prev;
	ringbuf_free(&pcb->rx);
	if (pcb->sock)
		pcb->sock->pcb = NULL;
	free(pcb);
}

static void udp_release(struct ustack *st, struct sock *s)
{
	struct udp_pcb *pcb = udp_pcb_of(s);

	if (pcb && st->udp)
		udp_pcb_destroy(st, pcb);
}

static int udp_listen(struct ustack *st, struct sock *s, int backlog)
{
	(void)st;
	(void)s;
	(void)backlog;
	return -EOPNOTSUPP;
}

static int udp_accept(struct ustack *st, struct sock *s, struct sock **out)
{
	(void)st;
	(void)s;
	(void)out;
	return -EOPNOTSUPP;
}

/* Linux inet_shutdown on a datagram socket: the directions are shut either way, but an
 * unconnected socket also reports ENOTCONN. */
static int udp_shutdown(struct ustack *st, struct sock *s, int how)
{
	struct udp_pcb *pcb = udp_pcb_of(s);

	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	if (how != SHUT_WR)
		pcb->shut_rd = true;
	if (how != SHUT_RD)
		pcb->shut_wr = true;
	sock_readiness(st, s, false);
	return pcb->connected ? 0 : -ENOTCONN;
}

/* Linux datagram_poll. */
static int udp_poll_mask(struct ustack *st, struct sock *s)
{
	struct udp_pcb *pcb = udp_pcb_of(s);
	int mask = POLLOUT;   /* no send queue: always writable */

	(void)st;
	if (!pcb)
		return POLLOUT;
	if (s->so_error)
		mask |= POLLERR;
	if (pcb->shut_rd)
		mask |= POLLIN | POLLRDHUP;
	if (pcb->shut_rd && pcb->shut_wr)
		mask |= POLLHUP;
	if (pcb->rx_datagrams)
		mask |= POLLIN;
	return mask;
}

/* An int option value: a full int, or (Linux do_ip_setsockopt) a single byte. */
static int udp_opt_int(const void *val, socklen_t len, int *out)
{
	if (len >= (socklen_t)sizeof(int)) {
		memcpy(out, val, sizeof(int));
		return 0;
	}
	if (len >= 1) {
		*out = *(const unsigned char *)val;
		return 0;
	}
	return -EINVAL;
}

static int udp_setsockopt(struct ustack *st, struct sock *s, int level, int name,
			  const void *val, socklen_t len)
{
	struct udp_pcb *pcb = udp_pcb_of(s);
	int v, rc;

	(void)st;
	if (level != IPPROTO_IP)
		return -ENOPROTOOPT;
	switch (name) {
	case IP_TTL:
		if ((rc = udp_opt_int(val, len, &v)) < 0)
			return rc;
		if (v != -1 && (v < 1 || v > 255))
			return -EINVAL;
		pcb->ttl = v;
		return 0;
	case IP_TOS:
		if ((rc = udp_opt_int(val, len, &v)) < 0)
			return rc;
		pcb->tos = v & 0xff;
		return 0;
	case IP_RECVERR:
		if ((rc = udp_opt_int(val, len, &v)) < 0)
			return rc;
		pcb->recverr = v != 0;
		return 0;
	case IP_MTU_DISCOVER:
		if ((rc = udp_opt_int(val, len, &v)) < 0)
			return rc;
		if (v < IP_PMTUDISC_DONT || v > IP_PMTUDISC_OMIT)
			return -EINVAL;
		pcb->pmtudisc = v;
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

static int udp_getsockopt(struct ustack *st, struct sock *s, int level, int name, void *val,
			  socklen_t *len)
{
	struct udp_pcb *pcb = udp_pcb_of(s);
	int v;

	if (level != IPPROTO_IP)
		return -ENOPROTOOPT;
	switch (name) {
	case IP_TTL:
		v = pcb->ttl < 0 ? IPV4_DEFAULT_TTL : pcb->ttl;
		break;
	case IP_TOS:
		v = pcb->tos;
		break;
	case IP_RECVERR:
		v = pcb->recverr;
		break;
	case IP_MTU_DISCOVER:
		v = pcb->pmtudisc;
		break;
	case IP_MTU:
		/* Linux: the path MTU of a connected socket (ours: the link's) */
		if (!pcb->connected)
			return -ENOTCONN;
		v = st->mtu;
		break;
	default:
		return -ENOPROTOOPT;
	}
	/* Linux do_ip_getsockopt: a short buffer gets one byte */
	if (*len < (socklen_t)sizeof(int) && *len > 0 && v >= 0 && v < 256) {
		*(unsigned char *)val = (unsigned char)v;
		*len = 1;
		return 0;
	}
	if (*len > (socklen_t)sizeof(int))
		*len = sizeof(int);
	memcpy(val, &v, (size_t)*len);
	return 0;
}

/* SIOCINQ for UDP: the size of the next datagram (Linux first_packet_length). */
static int udp_inq(struct ustack *st, struct sock *s, int *value)
{
	struct udp_record r;

	(void)st;
	*value = udp_peek_record(udp_pcb_of(s), &r) ? (int)r.len : 0;
	return 0;
}

static int udp_getname(struct ustack *st, struct sock *s, struct sockaddr_in *addr, bool peer)
{
	struct udp_pcb *pcb = udp_pcb_of(s);

	(void)st;
	if (peer && !pcb->connected)
		return -ENOTCONN;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(peer ? pcb->t.remote_ip : pcb->t.local_ip);
	addr->sin_port = htons(peer ? pcb->t.remote_port : pcb->t.local_port);
	return 0;
}

const struct sock_proto udp_sock_proto = {
	.type = SOCK_DGRAM,
	.protocol = IPPROTO_UDP,
	.create = udp_create,
	.release = udp_release,
	.bind = udp_bind,
	.connect = udp_connect,
	.listen = udp_listen,
	.accept = udp_accept,
	.sendmsg = udp_sendmsg,
	.recvmsg = udp_recvmsg,
	.shutdown = udp_shutdown,
	.poll_mask = udp_poll_mask,
	.setsockopt = udp_setsockopt,
	.getsockopt = udp_getsockopt,
	.inq = udp_inq,
	.getname = udp_getname,
};

/* ---- module ---- */

int udp_init(struct ustack *st)
{
	st->udp = calloc(1, sizeof(*st->udp));
	return st->udp ? 0 : -ENOMEM;
}

/* Frees every pcb still open; their sockets (released later by sock_table_fini) see no pcb. */
void udp_fini(struct ustack *st)
{
	if (!st->udp)
		return;
	while (st->udp->all)
		udp_pcb_destroy(st, st->udp->all);
	free(st->udp);
	st->udp = NULL;
}
