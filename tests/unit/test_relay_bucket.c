/* Unit tests: token bucket arithmetic behind rate=. */
#include <criterion/criterion.h>

#include "../relay/relay_bucket.h"

Test(relay_bucket, cost_is_serialization_time_rounded_up)
{
	struct relay_bucket b;

	relay_bucket_init(&b, 100000000ULL, 0); /* 100 mbit */
	cr_assert_eq(relay_bucket_cost_ns(&b, 1250), 100000);
	cr_assert_eq(relay_bucket_cost_ns(&b, 1514), 121120);
	relay_bucket_init(&b, 1000ULL, 0); /* 1 kbit */
	cr_assert_eq(relay_bucket_cost_ns(&b, 1), 8000000);
	relay_bucket_init(&b, 3000ULL, 0); /* 8 bits at 3 kbit: 2666666.67 ns */
	cr_assert_eq(relay_bucket_cost_ns(&b, 1), 2666667);
}

Test(relay_bucket, zero_burst_serializes_back_to_back_frames)
{
	struct relay_bucket b;

	relay_bucket_init(&b, 100000000ULL, 0);
	for (int i = 1; i <= 10; i++)
		cr_assert_eq(relay_bucket_admit(&b, 0, 1250), 100000LL * i, "frame %d", i);
	/* Arriving while the queue drains: waits for the frames before it. */
	cr_assert_eq(relay_bucket_admit(&b, 500000, 1250), 1100000);
	/* After an idle gap: only its own serialization time. */
	cr_assert_eq(relay_bucket_admit(&b, 5000000, 1250), 5100000);
}

Test(relay_bucket, burst_lets_a_full_bucket_through_at_once)
{
	struct relay_bucket b;

	relay_bucket_init(&b, 100000000ULL, 15000); /* 10 x 1500 bytes */
	for (int i = 0; i < 10; i++)
		cr_assert_eq(relay_bucket_admit(&b, 1000, 1500), 1000, "frame %d", i);
	/* Bucket empty: the 11th waits one frame time (120 us). */
	cr_assert_eq(relay_bucket_admit(&b, 1000, 1500), 121000);
	/* Refill is capped at the burst: after a long idle, again 10 at once. */
	int64_t later = 1000000000;

	for (int i = 0; i < 10; i++)
		cr_assert_eq(relay_bucket_admit(&b, later, 1500), later);
	cr_assert_eq(relay_bucket_admit(&b, later, 1500), later + 120000);
}

Test(relay_bucket, partial_refill)
{
	struct relay_bucket b;

	relay_bucket_init(&b, 8000000ULL, 2000); /* 1 byte per us, 2000 bytes deep */
	cr_assert_eq(relay_bucket_admit(&b, 0, 2000), 0); /* empties it */
	/* 500 us later it holds 500 bytes: a 1000-byte frame waits 500 us more. */
	cr_assert_eq(relay_bucket_admit(&b, 500000, 1000), 1000000);
}

Test(relay_bucket, long_run_average_matches_rate)
{
	struct relay_bucket b;
	int64_t last = 0;
	const int frames = 10000;

	relay_bucket_init(&b, 10000000ULL, 3000); /* 10 mbit */
	for (int i = 0; i < frames; i++)
		last = relay_bucket_admit(&b, (int64_t)i * 1000, 1000); /* offered 8 gbit/s */
	/* 10000 x 8000 bits at 10 mbit = 8 s, less the 3000-byte head start. */
	int64_t expect = 8000000000LL - 2400000LL;

	cr_assert(last > expect - 1000000 && last < expect + 1000000, "last departure %lld",
		  (long long)last);
}
