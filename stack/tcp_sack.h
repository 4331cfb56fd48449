/*
 * tcp_sack.h - sender-side SACK scoreboard and loss recovery rules (RFC 6675).
 *
 * Holds what the peer's SACK options (RFC 2018) said it has above snd_una, as
 * up to TCP_SACK_SCOREBOARD_RANGES disjoint ranges (no allocation), and
 * implements RFC 6675's Update(), IsLost(), SetPipe() and NextSeg() over them,
 * plus the recovery bookkeeping (RecoveryPoint, HighRxt, RescueRxt).
 * Congestion window arithmetic is not here: see tcp_cc.h.
 *
 * Notation.  RFC 6675 numbers octets (HighACK is the highest octet ACKed,
 * HighRxt the highest octet retransmitted).  Here every bound is the usual
 * TCP exclusive edge: snd_una is the first unacknowledged sequence number
 * (HighACK + 1), snd_max the next new sequence number to send (HighData + 1),
 * high_rxt the end of the highest retransmission (HighRxt + 1).  Sequence
 * numbers are compared wrap-safely; ranges may straddle 2^32 -> 0.
 *
 * Per ACK during a connection with SACK:
 *     tcp_sack_update(&sb, ack, snd_max, blocks, nblocks, &res);
 *     if (!in recovery && tcp_sack_may_enter_recovery(&sb) &&
 *         tcp_sack_loss_detected(&sb, dupacks, smss)) {   // RFC 6675 §5 (4)
 *             tcp_cc_enter_recovery(...);                  // ssthresh, cwnd
 *             tcp_sack_enter_recovery(&sb, snd_max);       // (4.1)
 *             tcp_sack_first_retransmit(&sb, snd_max, smss, &seg); send; mark_sent
 *     }
 *     if (in recovery) {                                   // (C)
 *             pipe = tcp_sack_pipe(&sb, snd_max, smss);
 *             while (cwnd - pipe >= smss &&
 *                    tcp_sack_next_seg(&sb, snd_max, smss, sendable_new, &seg)) {
 *                     send seg; tcp_sack_mark_sent(&sb, &seg);
 *                     pipe += seg.len; if (seg.kind == NEW) snd_max += seg.len;
 *             }
 *     }
 *     if (res.recovery_done) tcp_cc_exit_recovery(...);
 * On RTO: tcp_sack_on_rto(&sb, snd_max).
 */
#ifndef USTACK_TCP_SACK_H
#define USTACK_TCP_SACK_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_SACK_MAX_BLOCKS 4          /* per option: (40 - 2) / 8 */
#define TCP_SACK_SCOREBOARD_RANGES 32
#define TCP_SACK_DUPTHRESH 3           /* RFC 6675 §2 DupThresh: the initial value */

/* One SACK block as carried in the option: [left, right). Host order. */
struct tcp_sack_block {
	uint32_t left;
	uint32_t right;
};

enum tcp_sack_seg_kind {
	TCP_SACK_SEG_NONE = 0,
	TCP_SACK_SEG_FIRST,    /* §5 (4.3): the fast retransmission at snd_una */
	TCP_SACK_SEG_LOST,     /* NextSeg rule 1: unSACKed, IsLost() */
	TCP_SACK_SEG_NEW,      /* NextSeg rule 2: new data at snd_max */
	TCP_SACK_SEG_UNSACKED, /* NextSeg rule 3: unSACKed below the highest SACK */
	TCP_SACK_SEG_RESCUE,   /* NextSeg rule 4: rescue retransmission */
};

/* A segment to send: [seq, seq + len), len <= SMSS. */
struct tcp_sack_seg {
	uint32_t seq;
	uint32_t len;
	enum tcp_sack_seg_kind kind;
};

/* What one ACK changed (filled by tcp_sack_update()). */
struct tcp_sack_result {
	uint32_t newly_acked;   /* snd_una advance, bytes */
	uint32_t newly_sacked;  /* bytes SACKed for the first time */
	bool dsack;             /* the first block was a D-SACK (RFC 2883 §4) */
	bool is_dupack;         /* RFC 6675 §2 "duplicate acknowledgment" */
	bool recovery_done;     /* snd_una reached RecoveryPoint: recovery ended */
	uint8_t invalid_blocks; /* blocks ignored (outside snd_una..snd_max) */
	bool has_new_sack;      /* new_sack_low is valid */
	uint32_t new_sack_low;  /* lowest sequence number SACKed for the first time */
	struct tcp_sack_block dsack_block; /* the D-SACK block, when dsack */
};

struct tcp_sack_scoreboard {
	uint32_t snd_una;         /* HighACK + 1 */
	uint32_t high_rxt;        /* HighRxt + 1; >= snd_una */
	uint32_t rescue_rxt;      /* RescueRxt + 1, valid when rescue_valid */
	uint32_t recovery_point;  /* RecoveryPoint + 1 (snd_max at entry) */
	uint32_t sacked_bytes;    /* total of ranges */
	uint32_t dupthresh;       /* DupThresh: the sender's reordering degree, segments */
	uint32_t rack_lost_end;   /* RFC 8985: unSACKed data below this is lost (>= snd_una) */
	bool rescue_valid;
	bool in_recovery;
	uint8_t count;
	/* statistics */
	uint32_t dsacks;          /* D-SACK blocks received */
	uint32_t invalid;         /* blocks ignored as invalid */
	uint32_t overflows;       /* ranges forgotten because the board was full */
	struct tcp_sack_block ranges[TCP_SACK_SCOREBOARD_RANGES]; /* sorted, disjoint */
};

/* Empty scoreboard; snd_una is ISS + 1 once the SYN is acknowledged. */
void tcp_sack_init(struct tcp_sack_scoreboard *sb, uint32_t snd_una);

/*
 * RFC 6675 §4 Update(): apply one ACK.  ack is the segment's cumulative ACK
 * (the caller checked snd_una <= ack <= snd_max); blocks[0..n) are its SACK
 * blocks in option order.  A first block below ack or inside the second is a
 * D-SACK (RFC 2883 §4): counted, not recorded.  Other blocks outside
 * [snd_una, snd_max] or empty are ignored; blocks reaching below snd_una are
 * clipped.  res may be NULL.
 */
void tcp_sack_update(struct tcp_sack_scoreboard *sb, uint32_t ack, uint32_t snd_max,
		     const struct tcp_sack_block *blocks, int n, struct tcp_sack_result *res);

/* RFC 6675 §2 allows DupThresh to adapt to the reordering the path shows (like Linux's
 * tp->reordering): set it, in segments (at least 1). tcp_sack_init() starts it at 3. */
void tcp_sack_set_dupthresh(struct tcp_sack_scoreboard *sb, uint32_t segs);

/* RFC 6675 §4 IsLost(seq): DupThresh discontiguous SACKed ranges, or more
 * than (DupThresh - 1) * smss SACKed bytes, lie above seq. */
bool tcp_sack_is_lost(const struct tcp_sack_scoreboard *sb, uint32_t seq, uint32_t smss);

/* RFC 6675 §4 SetPipe(): bytes estimated in flight between snd_una and
 * snd_max (unSACKed and not lost, plus retransmitted below HighRxt). */
uint32_t tcp_sack_pipe(const struct tcp_sack_scoreboard *sb, uint32_t snd_max, uint32_t smss);

/*
 * RFC 6675 §4 NextSeg(): the next segment to send during recovery.
 * sendable_new is how many new bytes (starting at snd_max) the application
 * has queued and the peer's window allows.  Returns false (seg->kind NONE)
 * when rules (1)-(4) all fail.  Pure: call tcp_sack_mark_sent() after
 * actually sending the segment.
 */
bool tcp_sack_next_seg(const struct tcp_sack_scoreboard *sb, uint32_t snd_max,
		       uint32_t smss, uint32_t sendable_new, struct tcp_sack_seg *seg);

/* §5 (4.3) and (C.2)/(C.3) bookkeeping after sending seg: HighRxt, or
 * RescueRxt for a rescue retransmission.  NEW segments change nothing here. */
void tcp_sack_mark_sent(struct tcp_sack_scoreboard *sb, const struct tcp_sack_seg *seg);

/* DupAcks >= DupThresh or IsLost(snd_una) (RFC 6675 §5 step 3/4 trigger). */
bool tcp_sack_loss_detected(const struct tcp_sack_scoreboard *sb, unsigned dupacks,
			    uint32_t smss);
/* Not in recovery and snd_una >= the last RecoveryPoint (§5, §5.1). */
bool tcp_sack_may_enter_recovery(const struct tcp_sack_scoreboard *sb);
/* §5 (4.1): RecoveryPoint = snd_max; HighRxt = snd_una; no rescue yet. */
void tcp_sack_enter_recovery(struct tcp_sack_scoreboard *sb, uint32_t snd_max);
/* §5 (4.3): the first segment to retransmit: from snd_una, at most smss,
 * stopping at the first SACKed byte or snd_max. kind FIRST; len 0 if none. */
void tcp_sack_first_retransmit(const struct tcp_sack_scoreboard *sb, uint32_t snd_max,
			       uint32_t smss, struct tcp_sack_seg *seg);
/* §5.1 / RFC 2018 §8: retransmission timeout.  Ends recovery, sets
 * RecoveryPoint = snd_max (no new recovery before it is ACKed) and forgets
 * all SACK information (the receiver may have reneged). */
void tcp_sack_on_rto(struct tcp_sack_scoreboard *sb, uint32_t snd_max);

/* RFC 8985 §6.2: RACK deemed everything unSACKed below lost_end lost (IsLost() is true
 * there whatever DupThresh says). The edge only moves forward. */
void tcp_sack_set_rack_lost(struct tcp_sack_scoreboard *sb, uint32_t lost_end);

/* One past the highest SACKed byte (snd_una when nothing is SACKed). */
uint32_t tcp_sack_highest_sacked(const struct tcp_sack_scoreboard *sb);
/* seq lies in a SACKed range. */
bool tcp_sack_is_sacked(const struct tcp_sack_scoreboard *sb, uint32_t seq);
static inline uint32_t tcp_sack_sacked_bytes(const struct tcp_sack_scoreboard *sb)
{
	return sb->sacked_bytes;
}

#endif /* USTACK_TCP_SACK_H */
