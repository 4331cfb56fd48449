/*
 * gen_data — reproducible pseudo-random test data for the integration tests.
 *
 *   gen_data SEED SIZE FILE      SIZE in bytes, or with a suffix k, m (1024-based)
 *
 * Writes SIZE bytes from xoshiro256** seeded through splitmix64 with SEED, so the same SEED and
 * SIZE give the same file (and the same sha256) on every run and machine. The tests generate
 * their data at run time into $T_TMP; nothing large is committed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_CHUNK (64 * 1024)

static uint64_t gen_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t gen_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t gen_next(uint64_t s[4])
{
	uint64_t result = gen_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = gen_rotl(s[3], 45);
	return result;
}

/* "123", "64k", "100m" → bytes; -1 when malformed. */
static long long gen_parse_size(const char *arg)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg)
		return -1;
	if (*end == 'k' || *end == 'K') {
		v *= 1024;
		end++;
	} else if (*end == 'm' || *end == 'M') {
		v *= 1024 * 1024;
		end++;
	}
	if (*end || v > (1ull << 40))
		return -1;
	return (long long)v;
}

int main(int argc, char **argv)
{
	static uint64_t buf[GEN_CHUNK / 8];
	uint64_t s[4], seed;
	long long left;
	char *end;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: gen_data SEED SIZE FILE\n");
		return 2;
	}
	errno = 0;
	seed = strtoull(argv[1], &end, 0);
	left = gen_parse_size(argv[2]);
	if (errno || *end || end == argv[1] || left < 0) {
		fprintf(stderr, "gen_data: bad SEED '%s' or SIZE '%s'\n", argv[1], argv[2]);
		return 2;
	}
	for (int i = 0; i < 4; i++)
		s[i] = gen_splitmix64(&seed);
	f = fopen(argv[3], "wb");
	if (!f) {
		fprintf(stderr, "gen_data: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	while (left > 0) {
		size_t n = left < GEN_CHUNK ? (size_t)left : GEN_CHUNK;

		for (size_t i = 0; i < GEN_CHUNK / 8; i++)
			buf[i] = gen_next(s);
		if (fwrite(buf, 1, n, f) != n) {
			fprintf(stderr, "gen_data: %s: %s\n", argv[3], strerror(errno));
			fclose(f);
			return 1;
		}
		left -= (long long)n;
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "gen_data: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	return 0;
}
