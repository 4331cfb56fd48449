/*
 * tcp_assembler.h - receive-side out-of-order bookkeeping and SACK blocks.
 *
 * The assembler records which sequence ranges above rcv_nxt have arrived
 * (RFC 9293 §3.10.7.4, seventh: process the segment text; segments beyond
 * RCV.NXT are held until the hole before them fills).  It stores ranges, not
 * data: the caller keeps the bytes in its receive ring buffer at offset
 * (seq - rcv_nxt) beyond the committed data (ringbuf_write_at()) and commits
 * the bytes the assembler reports as newly contiguous (ringbuf_commit()).
 *
 * Fixed size (TCP_ASM_MAX_RANGES disjoint ranges, no allocation).  A segment
 * that would need one more range than that is refused with -ENOSPC and
 * nothing is recorded: the caller drops it (and counts the drop); the peer
 * retransmits it later.  Sequence numbers are compared wrap-safely, so ranges
 * may straddle 2^32 -> 0.
 *
 * Typical receive path, after the acceptability check and trimming the
 * segment's right end to the receive window (pass the left end untrimmed so
 * a duplicate is seen and reported as D-SACK):
 *
 *     uint32_t old = tcp_asm_rcv_nxt(&a), ready, skip = 0;
 *     if (seq_lt(seq, old))
 *             skip = old - seq;                  // already delivered
 *     if (tcp_asm_add(&a, seq, len, &ready) < 0)
 *             goto drop;                         // too many holes
 *     if (skip < len)
 *             ringbuf_write_at(&rcv, seq + skip - old, data + skip, len - skip);
 *     ringbuf_commit(&rcv, ready);               // rcv_nxt = old + ready
 *
 * SACK option contents (RFC 2018 §4, RFC 2883 §4 D-SACK):
 * tcp_asm_sack_blocks() returns the D-SACK block of the most recent segment
 * (if it duplicated data, and asked for) first, then the range holding the
 * most recently received segment, then the other ranges from the most to the
 * least recently extended.
 */
#ifndef USTACK_TCP_ASSEMBLER_H
#define USTACK_TCP_ASSEMBLER_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp_sack.h"

#define TCP_ASM_MAX_RANGES 32

struct tcp_asm_range {
	uint32_t start; /* first sequence number held */
	uint32_t end;   /* one past the last */
	uint32_t stamp; /* add() counter value when last extended (recency) */
};

struct tcp_assembler {
	uint32_t rcv_nxt;               /* left edge: next expected in-order seq */
	uint32_t clock;                 /* counts tcp_asm_add() calls */
	uint8_t count;                  /* ranges in use */
	bool dsack_valid;               /* the last segment carried duplicate data */
	struct tcp_sack_block dsack;    /* its first duplicate piece */
	struct tcp_asm_range ranges[TCP_ASM_MAX_RANGES]; /* sorted, disjoint, not touching */
};

/* Start with nothing held; rcv_nxt is IRS + 1 after the SYN. */
void tcp_asm_init(struct tcp_assembler *a, uint32_t rcv_nxt);

/*
 * Record that [seq, seq + len) arrived.  Bytes below rcv_nxt are ignored
 * (reported as D-SACK).  On success returns 0 and sets *advanced to the
 * number of bytes that became contiguous at the front: rcv_nxt moved forward
 * by that much.  Returns -ENOSPC (nothing recorded, drop the segment) when
 * all ranges are in use, -EINVAL when len >= 2^31.  len == 0 is a no-op.
 */
int tcp_asm_add(struct tcp_assembler *a, uint32_t seq, uint32_t len, uint32_t *advanced);

/*
 * Move rcv_nxt forward by n without data (a FIN occupies one sequence
 * number).  Ranges now below rcv_nxt are dropped; returns the bytes of a
 * range that thereby became contiguous (rcv_nxt advanced by them too).
 */
uint32_t tcp_asm_advance(struct tcp_assembler *a, uint32_t n);

/*
 * Fill out[0..max) with the SACK blocks to send (max is 4, or 3 when the
 * timestamp option shares the header).  with_dsack puts the D-SACK block of
 * the most recent segment first (RFC 2883).  Returns the number written.
 */
int tcp_asm_sack_blocks(const struct tcp_assembler *a, struct tcp_sack_block *out,
			int max, bool with_dsack);
/* The D-SACK block was sent: report it only once (RFC 2883 §4 rule 2). */
void tcp_asm_dsack_clear(struct tcp_assembler *a);

static inline uint32_t tcp_asm_rcv_nxt(const struct tcp_assembler *a) { return a->rcv_nxt; }
static inline bool tcp_asm_empty(const struct tcp_assembler *a) { return a->count == 0; }
static inline unsigned tcp_asm_count(const struct tcp_assembler *a) { return a->count; }
/* One past the highest sequence number held (rcv_nxt when nothing is held). */
uint32_t tcp_asm_highest(const struct tcp_assembler *a);
/* Bytes held out of order (for statistics and ss). */
uint32_t tcp_asm_ooo_bytes(const struct tcp_assembler *a);

#endif /* USTACK_TCP_ASSEMBLER_H */
