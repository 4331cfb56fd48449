/* relay_core.h — one direction of the impairment relay, without sockets.
 *
 * A direction takes frames in (relay_dir_input), decides what happens to
 * each (relay_dir_decide: a deterministic function of the direction's state,
 * its seeded PRNG, the time and the frame length — never of socket state),
 * holds the survivors in a preallocated pool ordered by release time, and
 * hands them back when due (relay_dir_pop_due).  Time is whatever the caller
 * passes in nanoseconds, so tests drive it with a virtual clock.
 *
 * Per frame, in this order (the PRNG draws happen in this order too):
 *   1. loss      random: one draw; gemodel: state transition draw, then a
 *                loss draw for the new state
 *   2. dup       one draw when dup > 0: a second copy is queued
 *   3. corrupt   one draw when corrupt > 0, plus one for the bit: flips one
 *                bit after the 14-byte Ethernet header of the original copy
 *   4. per copy: room check (limit, rate queue) -> tail drop
 *                rate: token bucket gives the departure time
 *                reorder: one draw when reorder > 0: a reordered copy skips
 *                the delay and overtakes earlier frames
 *                delay: base delay + uniform jitter draw when jitter > 0
 */
#ifndef RELAY_CORE_H
#define RELAY_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay_bucket.h"
#include "relay_heap.h"
#include "relay_prng.h"
#include "relay_spec.h"

#define RELAY_ETH_HLEN 14

/* Invariant once a run is over:
 *   rx + duplicated == tx + dropped_loss + dropped_queue + dropped_oversize
 *                      + tx_errors + frames still held. */
struct relay_counters {
	uint64_t rx;               /* frames received */
	uint64_t rx_bytes;
	uint64_t tx;               /* frames sent (copies included) */
	uint64_t tx_bytes;
	uint64_t dropped_loss;     /* lost by the loss model */
	uint64_t dropped_queue;    /* tail-dropped: limit or rate queue full */
	uint64_t dropped_oversize; /* larger than the outgoing MTU (GSO super-frames) */
	uint64_t tx_errors;        /* send() failed */
	uint64_t duplicated;       /* extra copies queued */
	uint64_t corrupted;        /* frames with one bit flipped */
	uint64_t reordered;        /* copies sent without the delay */
	uint64_t delayed;          /* copies held for a delay > 0 */
};

/* Names and offsets of the counters, for printing them generically. */
struct relay_counter_field {
	const char *name;
	size_t offset;
};
extern const struct relay_counter_field relay_counter_fields[];
extern const size_t relay_counter_field_count;

struct relay_verdict {
	bool lost;              /* dropped by the loss model */
	bool queue_full;        /* no copy had room: tail drop */
	unsigned copies;        /* copies to send: 0, 1 or 2 */
	int64_t release_ns[2];  /* when each copy may leave */
	bool reordered[2];
	bool delayed[2];
	int64_t corrupt_bit;    /* bit to flip in copy 0 (from frame start), or -1 */
};

struct relay_frame {
	uint32_t slot;
	const uint8_t *data;
	uint32_t len;
};

struct relay_dir {
	struct relay_impair imp;
	struct relay_prng prng;
	bool ge_bad;             /* Gilbert-Elliott: in the bad state */
	struct relay_bucket bucket;
	int64_t *rate_ring;      /* departure times of frames still serializing */
	uint32_t rate_head, rate_count, rate_cap;
	struct relay_heap heap;  /* held frames by release time */
	uint8_t *pool;           /* slots * slot_size bytes */
	uint32_t *pool_len;
	uint32_t *free_slots;    /* stack of free slot indices */
	uint32_t free_count;
	uint32_t slots;
	uint32_t slot_size;      /* largest frame this direction can send */
	struct relay_counters ctr;
};

/* Allocates everything up front: imp->limit_frames slots of max_frame bytes.
 * 0 or -ENOMEM / -EINVAL. */
int relay_dir_init(struct relay_dir *dir, const struct relay_impair *imp, uint64_t seed,
		   uint32_t max_frame);
void relay_dir_free(struct relay_dir *dir);

/* Decides the fate of a frame of len bytes arriving at now_ns (non-decreasing
 * across calls).  Advances the PRNG, loss state, token bucket and rate queue;
 * touches no frame bytes and counts nothing. */
void relay_dir_decide(struct relay_dir *dir, int64_t now_ns, size_t len, struct relay_verdict *v);

/* Takes a received frame: counts it, drops it if oversize, decides, copies
 * the surviving copies into the pool (corrupting copy 0 if told).  Returns the
 * number of copies queued.  *v (may be NULL) receives the verdict. */
unsigned relay_dir_input(struct relay_dir *dir, int64_t now_ns, const uint8_t *frame, size_t len,
			 struct relay_verdict *v);

/* Release time of the earliest held frame; false when none is held. */
bool relay_dir_next_release(const struct relay_dir *dir, int64_t *release_ns);

/* Takes the earliest frame due at now_ns; false when none is due.  The frame
 * stays valid until relay_dir_done(), which must follow. */
bool relay_dir_pop_due(struct relay_dir *dir, int64_t now_ns, struct relay_frame *frame);

/* Counts the frame as sent or failed and returns its slot to the pool. */
void relay_dir_done(struct relay_dir *dir, const struct relay_frame *frame, bool sent);

/* Frames currently held. */
uint32_t relay_dir_held(const struct relay_dir *dir);

#endif
