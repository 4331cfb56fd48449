/* relay_bucket.c — token bucket kept as a single "empty at" timestamp. */
#include "relay_bucket.h"

#define NS_PER_S 1000000000ULL

static int64_t bits_to_ns(uint64_t bits, uint64_t rate_bps)
{
	/* bits <= 8 * 64 MiB, so bits * 1e9 < 2^63. */
	return (int64_t)((bits * NS_PER_S + rate_bps - 1) / rate_bps);
}

void relay_bucket_init(struct relay_bucket *bucket, uint64_t rate_bps, uint32_t burst_bytes)
{
	bucket->rate_bps = rate_bps ? rate_bps : 1;
	bucket->burst_ns = bits_to_ns((uint64_t)burst_bytes * 8, bucket->rate_bps);
	/* Starts full: "empty" long ago. */
	bucket->drained_ns = INT64_MIN / 2;
}

int64_t relay_bucket_cost_ns(const struct relay_bucket *bucket, size_t len)
{
	return bits_to_ns((uint64_t)len * 8, bucket->rate_bps);
}

int64_t relay_bucket_admit(struct relay_bucket *bucket, int64_t now_ns, size_t len)
{
	int64_t full_since = now_ns - bucket->burst_ns;
	int64_t base = bucket->drained_ns > full_since ? bucket->drained_ns : full_since;

	bucket->drained_ns = base + relay_bucket_cost_ns(bucket, len);
	return bucket->drained_ns > now_ns ? bucket->drained_ns : now_ns;
}
