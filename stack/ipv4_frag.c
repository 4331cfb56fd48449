/*
 * IPv4 reassembly (RFC 791 §3.2 "Reassembly", RFC 815 hole descriptors, RFC 1122 §3.3.2).
 *
 * A datagram in reassembly is keyed by (source, destination, ID, protocol) in a uthash. Its
 * payload buffer is allocated when its first fragment arrives and grows geometrically (at most
 * a handful of reallocations per datagram, exactly once when the last fragment came first),
 * never per fragment. What is still missing is a short list of holes (RFC 815); the list is
 * bounded (FRAG_MAX_HOLES) so a flood of tiny fragments cannot make it grow.
 *
 * Policy, following Linux (net/ipv4/ip_fragment.c, inet_fragment.c):
 *  - a fragment that partly overlaps data already received kills the whole datagram
 *    (RFC 5722's rule, which Linux applies to IPv4 too): ipfrag_drop_overlap;
 *  - a fragment lying entirely inside data already received is a duplicate: it is dropped
 *    and the datagram kept (Linux's IPFRAG_DUP): ipfrag_drop_dup;
 *  - a last fragment that ends before data already received, or a second last fragment with
 *    another end, or a fragment beyond a known end, or an empty fragment is dropped alone
 *    (ipfrag_drop_bad); a non-last fragment whose length is not a multiple of 8 is trimmed;
 *  - a datagram not complete IPV4_FRAG_TIMEOUT_MS after its first fragment arrived is
 *    freed; if its offset-0 fragment was received, ICMP time exceeded (code 1, "fragment
 *    reassembly time exceeded") quotes it (RFC 792, RFC 1122 §3.3.2);
 *  - at most IPV4_FRAG_MEM_MAX bytes (buffers and bookkeeping) are held: a new datagram
 *    that would exceed it is refused, a growing one is dropped (ipfrag_drop_mem);
 *  - a datagram longer than 65535 bytes is dropped (ipfrag_drop_bad).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "checksum.h"
#include "icmp.h"
#include "ipv4.h"
#include "stack.h"
#include "timer.h"
#include "ustack/wire/bytes.h"
#include "ustack/wire/ipv4.h"

#define FRAG_MAX_HOLES 128
#define FRAG_END_UNKNOWN 0x10000u    /* end of the open hole before the last fragment came */
#define FRAG_MAX_PAYLOAD (IPV4_MAX_DATAGRAM - IPV4_HDR_MIN)

struct frag_key {
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	uint8_t zero;                /* padding kept zero: the key is hashed as bytes */
};

struct frag_hole {
	uint32_t start, end;         /* payload byte range still missing, end exclusive */
};

struct frag_dgram {
	struct frag_key key;
	UT_hash_handle hh;
	struct stack_timer timer;
	uint8_t *buf;                /* IPV4_HDR_MAX bytes of room for the header, then payload */
	size_t cap;                  /* payload bytes buf can hold */
	size_t mem;                  /* bytes charged to the table */
	uint32_t total;              /* payload length, once the last fragment arrived */
	uint32_t max_end;            /* highest payload end received */
	bool have_first, have_last, to_broadcast;
	uint8_t hdr[IPV4_HDR_MAX];   /* header of the offset-0 fragment */
	size_t hdr_len;
	uint32_t first_len;          /* payload bytes carried by the offset-0 fragment */
	unsigned nholes;
	struct frag_hole holes[FRAG_MAX_HOLES];
};

struct ipv4_frag_table {
	struct frag_dgram *dgrams;
	size_t mem;
};

#define FRAG_DGRAM_OF_TIMER(t) \
	((struct frag_dgram *)((char *)(t) - offsetof(struct frag_dgram, timer)))

static void frag_timeout(struct ustack *st, struct stack_timer *t);

int ipv4_frag_init(struct ustack *st)
{
	st->frag = calloc(1, sizeof(*st->frag));
	return st->frag ? 0 : -ENOMEM;
}

static void frag_free(struct ustack *st, struct frag_dgram *d)
{
	stack_timer_cancel(&d->timer);
	HASH_DEL(st->frag->dgrams, d);
	st->frag->mem -= d->mem;
	free(d->buf);
	free(d);
}

void ipv4_frag_fini(struct ustack *st)
{
	struct frag_dgram *d, *tmp;

	if (!st->frag)
		return;
	HASH_ITER(hh, st->frag->dgrams, d, tmp)
		frag_free(st, d);
	free(st->frag);
	st->frag = NULL;
}

/* Make room for payload bytes [0, need). Geometric growth bounds the reallocations. */
static int frag_reserve(struct ustack *st, struct frag_dgram *d, size_t need)
{
	size_t new_cap, extra;
	uint8_t *nb;

	if (need <= d->cap)
		return 0;
	new_cap = d->have_last ? d->total : (need > 2 * d->cap ? need : 2 * d->cap);
	if (new_cap > FRAG_MAX_PAYLOAD)
		new_cap = FRAG_MAX_PAYLOAD;
	if (new_cap < need)
		new_cap = need;
	extra = new_cap - d->cap;
	if (st->frag->mem + extra > IPV4_FRAG_MEM_MAX)
		return -ENOBUFS;
	nb = realloc(d->buf, IPV4_HDR_MAX + new_cap);
	if (!nb)
		return -ENOMEM;
	d->buf = nb;
	d->cap = new_cap;
	d->mem += extra;
	st->frag->mem += extra;
	return 0;
}

static struct frag_dgram *frag_create(struct ustack *st, const struct frag_key *key,
				      const struct ipv4_info *ip)
{
	struct frag_dgram *d;

	if (st->frag->mem + sizeof(*d) > IPV4_FRAG_MEM_MAX)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->key = *key;
	d->mem = sizeof(*d);
	d->to_broadcast = ip->to_broadcast;
	d->nholes = 1;
	d->holes[0].start = 0;
	d->holes[0].end = FRAG_END_UNKNOWN;
	st->frag->mem += d->mem;
	HASH_ADD(hh, st->frag->dgrams, key, sizeof(d->key), d);
	/* RFC 1122 §3.3.2: the timer starts with the first fragment and is not restarted */
	stack_timer_init(st, &d->timer, frag_timeout);
	stack_timer_arm(&d->timer, (uint64_t)IPV4_FRAG_TIMEOUT_MS * 1000);
	return d;
}

/* The datagram's offset-0 header placed right before its payload: one contiguous datagram. */
static uint8_t *frag_place_header(struct frag_dgram *d)
{
	uint8_t *h = d->buf + IPV4_HDR_MAX - d->hdr_len;

	memcpy(h, d->hdr, d->hdr_len);
	return h;
}

static void frag_info(const struct frag_dgram *d, const uint8_t *h, size_t total_len,
		      struct ipv4_info *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->src = d->key.src;
	ip->dst = d->key.dst;
	ip->proto = d->key.proto;
	ip->id = d->key.id;
	ip->ttl = h[IPV4_OFF_TTL];
	ip->tos = h[IPV4_OFF_TOS];
	ip->hdr = h;
	ip->hdr_len = d->hdr_len;
	ip->total_len = total_len;
	ip->pkt_flags = 0;
	ip->to_broadcast = d->to_broadcast;
}

/* RFC 792 (time exceeded, code 1), RFC 1122 §3.3.2: only if fragment zero was received. */
static void frag_timeout(struct ustack *st, struct stack_timer *t)
{
	struct frag_dgram *d = FRAG_DGRAM_OF_TIMER(t);

	STAT_INC(st, ipfrag_drop_timeout);
	if (d->have_first && d->buf) {
		struct ipv4_info ip;
		uint8_t *h = frag_place_header(d);

		frag_info(d, h, d->hdr_len + d->first_len, &ip);
		icmp_send_error(st, ICMP_TIME_EXCEEDED, ICMP_TIMXCEED_REASS, 0, &ip);
	}
	frag_free(st, d);
}

/* All holes filled: rewrite the header for the whole datagram and hand it on. */
static void frag_complete(struct ustack *st, struct frag_dgram *d)
{
	size_t total_len = d->hdr_len + d->total;
	struct ipv4_info ip;
	struct pkt p;
	uint8_t *h;

	if (total_len > IPV4_MAX_DATAGRAM) {
		STAT_INC(st, ipfrag_drop_bad);
		frag_free(st, d);
		return;
	}
	h = frag_place_header(d);
	wire_put16(h + IPV4_OFF_TOTAL_LEN, (uint16_t)total_len);
	wire_put16(h + IPV4_OFF_FRAG, 0);
	wire_put16(h + IPV4_OFF_CSUM, 0);
	wire_put16(h + IPV4_OFF_CSUM, csum_compute(h, d->hdr_len));
	frag_info(d, h, total_len, &ip);
	STAT_INC(st, ipfrag_reassembled);

	/* Unlink before delivering: nothing the transports do can find it again. */
	stack_timer_cancel(&d->timer);
	HASH_DEL(st->frag->dgrams, d);
	st->frag->mem -= d->mem;
	pkt_borrow(&p, h, total_len, 0);
	ipv4_deliver(st, &p, &ip);
	free(d->buf);
	free(d);
}

/* The last fragment fixes the end: the open hole closes there. */
static void frag_set_end(struct frag_dgram *d, uint32_t end)
{
	d->have_last = true;
	d->total = end;
	for (unsigned i = 0; i < d->nholes; i++) {
		if (d->holes[i].end != FRAG_END_UNKNOWN)
			continue;
		d->holes[i].end = end;
		if (d->holes[i].start >= end)
			d->holes[i] = d->holes[--d->nholes];
		break;
	}
}

enum frag_fit { FRAG_FIT_HOLE, FRAG_FIT_DUP, FRAG_FIT_OVERLAP, FRAG_FIT_TOO_MANY };

/* RFC 815 §3: find the hole the fragment falls into and split it around the fragment. */
static enum frag_fit frag_fill_hole(struct frag_dgram *d, uint32_t start, uint32_t end)
{
	for (unsigned i = 0; i < d->nholes; i++) {
		struct frag_hole h = d->holes[i];
		if (start < h.start || end > h.end)
			continue;
		bool left = start > h.start, right = end < h.end;
		if (left && right && d->nholes >= FRAG_MAX_HOLES)
			return FRAG_FIT_TOO_MANY;
		if (left && right) {
			d->holes[i].end = start;
			d->holes[d->nholes].start = end;
			d->holes[d->nholes].end = h.end;
			d->nholes++;
		} else if (left) {
			d->holes[i].end = start;
		} else if (right) {
			d->holes[i].start = end;
		} else {
			d->holes[i] = d->holes[--d->nholes];
		}
		return FRAG_FIT_HOLE;
	}
	for (unsigned i = 0; i < d->nholes; i++)
		if (start < d->holes[i].end && d->holes[i].start < end)
			return FRAG_FIT_OVERLAP;
	return FRAG_FIT_DUP;
}

/* RFC 791 §3.2: where the fragment's payload goes; false when the fragment is unusable. */
static bool frag_range(const struct ipv4_info *ip, uint32_t *start, uint32_t *end, bool *last)
{
	uint16_t frag = wire_get16(ip->hdr + IPV4_OFF_FRAG);

	*start = (uint32_t)(frag & IPV4_FRAG_OFFSET_MASK) * 8;
	*end = *start + (uint32_t)(ip->total_len - ip->hdr_len);
	*last = !(frag & IPV4_FRAG_MF);
	if (!*last)
		*end &= ~7u;   /* non-last fragments carry multiples of 8 bytes; trim like Linux */
	return *end > *start && *end <= FRAG_MAX_PAYLOAD;
}

void ipv4_frag_input(struct ustack *st, struct pkt *p, const struct ipv4_info *ip)
{
	struct frag_key key;
	struct frag_dgram *d;
	uint32_t start, end;
	bool last;

	STAT_INC(st, ipfrag_rx);
	if (!frag_range(ip, &start, &end, &last)) {
		STAT_INC(st, ipfrag_drop_bad);
		return;
	}
	memset(&key, 0, sizeof(key));
	key.src = ip->src;
	key.dst = ip->dst;
	key.id = ip->id;
	key.proto = ip->proto;
	HASH_FIND(hh, st->frag->dgrams, &key, sizeof(key), d);
	if (!d) {
		d = frag_create(st, &key, ip);
		if (!d) {
			STAT_INC(st, ipfrag_drop_mem);
			return;
		}
	}

	/* A second end, or data beyond a known end: the fragment is corrupt (Linux drops it). */
	if ((last && (end < d->max_end || (d->have_last && end != d->total))) ||
	    (!last && d->have_last && end > d->total)) {
		STAT_INC(st, ipfrag_drop_bad);
		return;
	}
	if (last && !d->have_last)
		frag_set_end(d, end);

	switch (frag_fill_hole(d, start, end)) {
	case FRAG_FIT_DUP:
		/* a duplicate last fragment may still have been the one to fix the end */
		STAT_INC(st, ipfrag_drop_dup);
		if (d->have_last && d->nholes == 0)
			frag_complete(st, d);
		return;
	case FRAG_FIT_OVERLAP:
		STAT_INC(st, ipfrag_drop_overlap);
		frag_free(st, d);
		return;
	case FRAG_FIT_TOO_MANY:
		STAT_INC(st, ipfrag_drop_bad);
		frag_free(st, d);
		return;
	case FRAG_FIT_HOLE:
		break;
	}
	if (frag_reserve(st, d, end) < 0) {
		STAT_INC(st, ipfrag_drop_mem);
		frag_free(st, d);
		return;
	}
	memcpy(d->buf + IPV4_HDR_MAX + start, p->data + ip->hdr_len, end - start);
	if (end > d->max_end)
		d->max_end = end;
	if (start == 0) {
		memcpy(d->hdr, ip->hdr, ip->hdr_len);
		d->hdr_len = ip->hdr_len;
		d->have_first = true;
		d->first_len = end;
	}
	if (d->have_last && d->nholes == 0)
		frag_complete(st, d);
}
