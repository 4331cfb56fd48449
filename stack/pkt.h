/*
 * Packet buffers. One contiguous buffer per frame (AF_PACKET frames are contiguous; no chains).
 *
 * Ownership rules (lwIP style, stated once here and relied on everywhere):
 *  - *_output(st, p, …) consumes p, even on failure (it frees it or hands it on).
 *  - *_input(st, p, …) does NOT keep p after returning: received frames live in the netdev's
 *    receive buffer (or a reassembly buffer); whoever needs the bytes later copies them.
 *  - Output packets come from a pool of two size classes (no malloc per packet in steady
 *    state: the free lists only grow). Build headers front to back with pkt_push().
 */
#ifndef USTACK_PKT_H
#define USTACK_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* room for Ethernet (14) + IPv4 with options (60) + alignment */
#define PKT_HEADROOM 96
#define PKT_SMALL_SIZE 2048
#define PKT_LARGE_SIZE (65536 + 512)

/* pkt->flags, from PACKET_AUXDATA's tp_status for received frames */
#define PKT_F_CSUM_VALID   0x1u  /* the kernel verified the L4 checksum */
#define PKT_F_CSUM_PARTIAL 0x2u  /* L4 checksum not filled in: holds only the pseudo-header sum */

struct pkt {
	struct pkt *next;     /* queue link (ARP pending queue, …) */
	uint8_t *data;        /* first valid byte */
	size_t len;           /* valid bytes from data */
	uint8_t *head;        /* start of storage */
	size_t cap;           /* storage bytes */
	uint32_t flags;       /* PKT_F_* */
	uint8_t size_class;   /* 0 small, 1 large, 2 borrowed (not from the pool) */
};

/* A packet whose payload area (after PKT_HEADROOM) holds at least payload_len bytes; len 0,
 * data at the end of the headroom. NULL only when memory is exhausted. */
struct pkt *pkt_alloc(size_t payload_len);
void pkt_free(struct pkt *p);
/* Wrap a received buffer (borrowed: pkt_free is a no-op on it). */
void pkt_borrow(struct pkt *p, uint8_t *data, size_t len, uint32_t flags);
/* Append n bytes at the tail, return a pointer to them (NULL if no room). */
uint8_t *pkt_put(struct pkt *p, size_t n);
/* Prepend n bytes (a header) in the headroom, return the new data pointer (NULL if no room). */
uint8_t *pkt_push(struct pkt *p, size_t n);
/* Drop n bytes from the front (NULL if shorter). */
uint8_t *pkt_pull(struct pkt *p, size_t n);
/* Copy of p (same data, fresh headroom), from the pool. */
struct pkt *pkt_clone(const struct pkt *p);
/* Free every pooled buffer (process exit, leak-checked tests). */
void pkt_pool_drain(void);

#endif
