/* Unit tests: the relay's seeded PRNG. */
#include <criterion/criterion.h>
#include <math.h>

#include "../relay/relay_prng.h"

Test(relay_prng, same_seed_same_sequence)
{
	struct relay_prng a, b;

	relay_prng_seed(&a, 42);
	relay_prng_seed(&b, 42);
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(relay_prng_next(&a), relay_prng_next(&b), "diverged at %d", i);
}

Test(relay_prng, different_seeds_differ)
{
	struct relay_prng a, b;
	int same = 0;

	relay_prng_seed(&a, 1);
	relay_prng_seed(&b, 2);
	for (int i = 0; i < 1000; i++)
		same += relay_prng_next(&a) == relay_prng_next(&b);
	cr_assert_eq(same, 0);
}

Test(relay_prng, seed_zero_is_usable)
{
	struct relay_prng p;
	uint64_t ored = 0;

	relay_prng_seed(&p, 0);
	for (int i = 0; i < 64; i++)
		ored |= relay_prng_next(&p);
	cr_assert_neq(ored, 0);
}

Test(relay_prng, unit_is_in_range_with_mean_one_half)
{
	struct relay_prng p;
	double sum = 0.0;
	const int n = 100000;

	relay_prng_seed(&p, 7);
	for (int i = 0; i < n; i++) {
		double u = relay_prng_unit(&p);

		cr_assert(u >= 0.0 && u < 1.0, "unit out of range: %g", u);
		sum += u;
	}
	/* Standard deviation of the mean: sqrt(1/12/n) ~ 0.0009. */
	cr_assert(fabs(sum / n - 0.5) < 0.005, "mean %g", sum / n);
}

Test(relay_prng, chance_extremes)
{
	struct relay_prng p;

	relay_prng_seed(&p, 9);
	for (int i = 0; i < 10000; i++) {
		cr_assert(!relay_prng_chance(&p, 0.0));
		cr_assert(relay_prng_chance(&p, 1.0));
	}
}

Test(relay_prng, chance_fraction_within_tolerance)
{
	static const double probs[] = { 0.001, 0.01, 0.2, 0.5 };
	const int n = 100000;

	for (size_t k = 0; k < sizeof(probs) / sizeof(probs[0]); k++) {
		struct relay_prng p;
		int hits = 0;
		double prob = probs[k];

		relay_prng_seed(&p, 1000 + k);
		for (int i = 0; i < n; i++)
			hits += relay_prng_chance(&p, prob);
		double sd = sqrt(prob * (1 - prob) / n);
		double got = (double)hits / n;

		cr_assert(fabs(got - prob) < 5 * sd, "p=%g: got %g (5 sd = %g)", prob, got, 5 * sd);
	}
}

Test(relay_prng, below_stays_in_range_and_covers_it)
{
	struct relay_prng p;
	int counts[10] = { 0 };
	const int n = 100000;

	relay_prng_seed(&p, 3);
	cr_assert_eq(relay_prng_below(&p, 0), 0);
	cr_assert_eq(relay_prng_below(&p, 1), 0);
	for (int i = 0; i < n; i++) {
		uint64_t v = relay_prng_below(&p, 10);

		cr_assert_lt(v, 10);
		counts[v]++;
	}
	/* Each bucket expects 10000, sd ~ 95. */
	for (int i = 0; i < 10; i++)
		cr_assert(counts[i] > 9500 && counts[i] < 10500, "value %d seen %d times", i,
			  counts[i]);
}

Test(relay_prng, splitmix_derives_distinct_streams)
{
	uint64_t state = 5;
	uint64_t first = relay_prng_splitmix64(&state);
	uint64_t second = relay_prng_splitmix64(&state);
	uint64_t again = 5;

	cr_assert_neq(first, second);
	cr_assert_eq(relay_prng_splitmix64(&again), first);
}
