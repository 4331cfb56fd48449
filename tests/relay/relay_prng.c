/* relay_prng.c — xoshiro256** seeded through splitmix64. */
#include "relay_prng.h"

uint64_t relay_prng_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

void relay_prng_seed(struct relay_prng *prng, uint64_t seed)
{
	uint64_t state = seed;

	/* splitmix64 never yields four zero words in a row, so the
	 * all-zero state (a fixed point of xoshiro) cannot occur. */
	for (int i = 0; i < 4; i++)
		prng->s[i] = relay_prng_splitmix64(&state);
}

static inline uint64_t rotate_left(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t relay_prng_next(struct relay_prng *prng)
{
	uint64_t *s = prng->s;
	uint64_t result = rotate_left(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotate_left(s[3], 45);
	return result;
}

double relay_prng_unit(struct relay_prng *prng)
{
	return (double)(relay_prng_next(prng) >> 11) * 0x1.0p-53;
}

bool relay_prng_chance(struct relay_prng *prng, double p)
{
	double u = relay_prng_unit(prng);

	return u < p;
}

uint64_t relay_prng_below(struct relay_prng *prng, uint64_t n)
{
	if (n == 0)
		return 0;
	/* Reject the top partial block so every value is equally likely. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;

	do
		x = relay_prng_next(prng);
	while (x >= limit);
	return x % n;
}
