/* relay_bucket.h — token bucket that turns a rate into departure times.
 *
 * The bucket is kept as one timestamp, drained_ns: at time t it holds
 * min(burst, (t - drained_ns) * rate) worth of bits.  Admitting a frame of
 * len bytes spends len*8 bits; if that drives the level below zero the frame
 * departs when the level is back to zero.  Frames are admitted in arrival
 * order, so departures are non-decreasing (a FIFO serializer).  With burst 0
 * every frame waits its own serialization time len*8/rate (like netem rate);
 * with burst B up to B bytes leave back to back after an idle period (like tbf).
 */
#ifndef RELAY_BUCKET_H
#define RELAY_BUCKET_H

#include <stddef.h>
#include <stdint.h>

struct relay_bucket {
	uint64_t rate_bps;  /* bits per second, > 0 */
	int64_t burst_ns;   /* time the rate needs to fill the bucket */
	int64_t drained_ns; /* the instant the bucket was (or will be) empty */
};

void relay_bucket_init(struct relay_bucket *bucket, uint64_t rate_bps, uint32_t burst_bytes);

/* Serialization time of len bytes at the bucket's rate, rounded up. */
int64_t relay_bucket_cost_ns(const struct relay_bucket *bucket, size_t len);

/* Admits a frame of len bytes arriving at now_ns (non-decreasing across
 * calls) and returns the time it may depart (>= now_ns). */
int64_t relay_bucket_admit(struct relay_bucket *bucket, int64_t now_ns, size_t len);

#endif
