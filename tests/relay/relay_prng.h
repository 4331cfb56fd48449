/* relay_prng.h — seeded pseudo-random numbers for the impairment relay.
 *
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64: fast, good
 * statistical quality, and fully reproducible — the same seed gives the same
 * sequence on every run, so an impairment run can be replayed with --seed.
 * Not for cryptography.
 */
#ifndef RELAY_PRNG_H
#define RELAY_PRNG_H

#include <stdbool.h>
#include <stdint.h>

struct relay_prng {
	uint64_t s[4];
};

/* One splitmix64 step: advances *state and returns the next output.  Also
 * used to derive independent per-direction seeds from the user's seed. */
uint64_t relay_prng_splitmix64(uint64_t *state);

void relay_prng_seed(struct relay_prng *prng, uint64_t seed);
uint64_t relay_prng_next(struct relay_prng *prng);

/* Uniform double in [0, 1) with 53 bits of precision. */
double relay_prng_unit(struct relay_prng *prng);

/* True with probability p (p <= 0: never, p >= 1: always).  Always consumes
 * exactly one number, so decisions stay aligned whatever p is. */
bool relay_prng_chance(struct relay_prng *prng, double p);

/* Uniform integer in [0, n); n == 0 returns 0.  Unbiased (rejection). */
uint64_t relay_prng_below(struct relay_prng *prng, uint64_t n);

#endif
