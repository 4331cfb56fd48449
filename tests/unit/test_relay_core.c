/* Unit tests: per-direction impairment decisions and the frame pool,
 * driven with a virtual clock and synthetic frames (no sockets). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "../relay/relay_core.h"
#include "../relay/relay_stats.h"

#define MAX_FRAME 1514
#define MS 1000000LL

static struct relay_dir dir;

static void dir_with(const char *spec, uint64_t seed)
{
	struct relay_impair imp;
	char err[256] = "";

	relay_impair_default(&imp);
	cr_assert_eq(relay_spec_parse(spec, &imp, err, sizeof(err)), 0, "%s: %s", spec, err);
	cr_assert_eq(relay_impair_validate(&imp, err, sizeof(err)), 0, "%s: %s", spec, err);
	cr_assert_eq(relay_dir_init(&dir, &imp, seed, MAX_FRAME), 0);
}

static void teardown(void)
{
	relay_dir_free(&dir);
}

/* A frame whose bytes identify it: id in bytes 14..17 (if it is that long),
 * a fixed pattern elsewhere. */
static size_t make_frame(uint8_t *buf, size_t len, uint32_t id)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	if (len >= RELAY_ETH_HLEN + sizeof(id))
		memcpy(buf + RELAY_ETH_HLEN, &id, sizeof(id));
	return len;
}

static uint32_t frame_id(const struct relay_frame *f)
{
	uint32_t id;

	memcpy(&id, f->data + RELAY_ETH_HLEN, sizeof(id));
	return id;
}

static void drain_all(void)
{
	struct relay_frame f;

	while (relay_dir_pop_due(&dir, INT64_MAX, &f))
		relay_dir_done(&dir, &f, true);
}

TestSuite(relay_core, .fini = teardown);

Test(relay_core, no_impairment_forwards_at_once_in_order)
{
	uint8_t buf[MAX_FRAME];
	struct relay_frame f;

	dir_with("", 1);
	for (uint32_t i = 0; i < 100; i++) {
		size_t len = make_frame(buf, 60 + i, i);

		cr_assert_eq(relay_dir_input(&dir, 1000, buf, len, NULL), 1);
	}
	for (uint32_t i = 0; i < 100; i++) {
		cr_assert(relay_dir_pop_due(&dir, 1000, &f));
		cr_assert_eq(frame_id(&f), i);
		cr_assert_eq(f.len, 60 + i);
		make_frame(buf, f.len, i);
		cr_assert_eq(memcmp(buf, f.data, f.len), 0, "frame %u changed", i);
		relay_dir_done(&dir, &f, true);
	}
	cr_assert_not(relay_dir_pop_due(&dir, INT64_MAX, &f));
	cr_assert_eq(dir.ctr.rx, 100);
	cr_assert_eq(dir.ctr.tx, 100);
	cr_assert_eq(dir.free_count, dir.slots);
}

static double loss_fraction(const char *spec, uint64_t seed, int n)
{
	uint8_t buf[100];

	dir_with(spec, seed);
	make_frame(buf, sizeof(buf), 0);
	for (int i = 0; i < n; i++) {
		relay_dir_input(&dir, i, buf, sizeof(buf), NULL);
		drain_all();
	}
	cr_assert_eq(dir.ctr.rx, (uint64_t)n);
	cr_assert_eq(dir.ctr.tx + dir.ctr.dropped_loss, (uint64_t)n);
	return (double)dir.ctr.dropped_loss / n;
}

Test(relay_core, random_loss_fraction_within_tolerance)
{
	const int n = 100000;
	double got = loss_fraction("loss=1%", 5, n);
	double sd = sqrt(0.01 * 0.99 / n);

	cr_assert(fabs(got - 0.01) < 5 * sd, "loss 1%%: got %g", got);
}

Test(relay_core, heavy_loss_fraction_within_tolerance)
{
	const int n = 100000;
	double got = loss_fraction("loss=20%", 6, n);
	double sd = sqrt(0.2 * 0.8 / n);

	cr_assert(fabs(got - 0.2) < 5 * sd, "loss 20%%: got %g", got);
}

Test(relay_core, gemodel_loss_is_bursty)
{
	/* p=1%, r=25%, all lost in bad, none in good: stationary loss
	 * p/(p+r) = 3.85%, mean loss burst 1/r = 4 frames. */
	uint8_t buf[100];
	const int n = 200000;
	int bursts = 0, run = 0;
	uint64_t lost = 0;

	dir_with("loss=gemodel:1%/25%", 8);
	make_frame(buf, sizeof(buf), 0);
	for (int i = 0; i < n; i++) {
		struct relay_verdict v;

		relay_dir_input(&dir, i, buf, sizeof(buf), &v);
		drain_all();
		if (v.lost) {
			lost++;
			if (run++ == 0)
				bursts++;
		} else {
			run = 0;
		}
	}
	double fraction = (double)lost / n, mean_burst = (double)lost / bursts;

	cr_assert(fabs(fraction - 0.01 / 0.26) < 0.006, "loss fraction %g", fraction);
	cr_assert(mean_burst > 3.5 && mean_burst < 4.5, "mean burst %g", mean_burst);
	cr_assert_eq(dir.ctr.dropped_loss, lost);
}

/* Runs a fixed input sequence and records every verdict. */
static void record_verdicts(const char *spec, uint64_t seed, struct relay_verdict *out, int n)
{
	uint8_t buf[MAX_FRAME];

	dir_with(spec, seed);
	for (int i = 0; i < n; i++) {
		size_t len = make_frame(buf, 60 + (size_t)(i * 37) % 1400, (uint32_t)i);

		relay_dir_input(&dir, (int64_t)i * 100000, buf, len, &out[i]);
		struct relay_frame f;

		while (relay_dir_pop_due(&dir, (int64_t)i * 100000, &f))
			relay_dir_done(&dir, &f, true);
	}
	relay_dir_free(&dir);
}

Test(relay_core, same_seed_replays_same_decisions)
{
	static const char *spec =
		"loss=5%,delay=10ms/3ms,reorder=10%,dup=5%,corrupt=5%,rate=50mbit,queue=40";
	static struct relay_verdict a[3000], b[3000], c[3000];

	record_verdicts(spec, 77, a, 3000);
	record_verdicts(spec, 77, b, 3000);
	record_verdicts(spec, 78, c, 3000);
	int differ = 0;

	for (int i = 0; i < 3000; i++) {
		cr_assert_eq(a[i].lost, b[i].lost, "frame %d", i);
		cr_assert_eq(a[i].copies, b[i].copies, "frame %d", i);
		cr_assert_eq(a[i].corrupt_bit, b[i].corrupt_bit, "frame %d", i);
		for (unsigned k = 0; k < a[i].copies; k++) {
			cr_assert_eq(a[i].release_ns[k], b[i].release_ns[k], "frame %d", i);
			cr_assert_eq(a[i].reordered[k], b[i].reordered[k], "frame %d", i);
		}
		differ += a[i].lost != c[i].lost || a[i].copies != c[i].copies ||
			  a[i].corrupt_bit != c[i].corrupt_bit;
	}
	cr_assert_gt(differ, 100, "another seed gave nearly the same decisions");
	dir_with("", 1); /* for the suite's teardown */
}

Test(relay_core, delay_and_jitter_bounds)
{
	uint8_t buf[100];
	int64_t lo = INT64_MAX, hi = 0;

	dir_with("delay=20ms/5ms", 3);
	make_frame(buf, sizeof(buf), 0);
	for (int i = 0; i < 900; i++) {
		struct relay_verdict v;
		int64_t now = (int64_t)i * MS;

		relay_dir_input(&dir, now, buf, sizeof(buf), &v);
		int64_t d = v.release_ns[0] - now;

		cr_assert(d >= 15 * MS && d <= 25 * MS, "delay %lld", (long long)d);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		cr_assert(v.delayed[0]);
	}
	cr_assert_lt(lo, 16 * MS);
	cr_assert_gt(hi, 24 * MS);
	cr_assert_eq(dir.ctr.delayed, 900);
	cr_assert_eq(relay_dir_held(&dir), 900);
}

Test(relay_core, delayed_frame_is_not_due_early)
{
	uint8_t buf[100];
	struct relay_frame f;
	int64_t next;

	dir_with("delay=20ms", 3);
	make_frame(buf, sizeof(buf), 1);
	relay_dir_input(&dir, 5 * MS, buf, sizeof(buf), NULL);
	cr_assert(relay_dir_next_release(&dir, &next));
	cr_assert_eq(next, 25 * MS);
	cr_assert_not(relay_dir_pop_due(&dir, 25 * MS - 1, &f));
	cr_assert(relay_dir_pop_due(&dir, 25 * MS, &f));
	relay_dir_done(&dir, &f, true);
	cr_assert_not(relay_dir_next_release(&dir, &next));
}

Test(relay_core, reordered_frames_overtake)
{
	uint8_t buf[100];
	struct relay_frame f;
	const int n = 20000;
	int overtakes = 0;
	uint32_t last_id = 0;

	dir_with("delay=10ms,reorder=25%", 4);
	for (int i = 0; i < n; i++) {
		struct relay_verdict v;

		make_frame(buf, sizeof(buf), (uint32_t)i);
		relay_dir_input(&dir, (int64_t)i * MS, buf, sizeof(buf), &v);
		cr_assert_eq(v.release_ns[0], (int64_t)i * MS + (v.reordered[0] ? 0 : 10 * MS));
		while (relay_dir_pop_due(&dir, (int64_t)i * MS, &f)) {
			overtakes += frame_id(&f) < last_id;
			last_id = frame_id(&f);
			relay_dir_done(&dir, &f, true);
		}
	}
	double fraction = (double)dir.ctr.reordered / n;

	cr_assert(fabs(fraction - 0.25) < 0.02, "reordered fraction %g", fraction);
	cr_assert_gt(overtakes, n / 10, "only %d overtakes", overtakes);
	cr_assert_eq(dir.ctr.delayed + dir.ctr.reordered, (uint64_t)n);
}

Test(relay_core, dup_sends_identical_second_copy)
{
	uint8_t buf[300];
	struct relay_frame f1, f2;
	const int n = 20000;

	dir_with("dup=10%", 4);
	for (int i = 0; i < n; i++) {
		struct relay_verdict v;

		make_frame(buf, sizeof(buf), (uint32_t)i);
		relay_dir_input(&dir, i, buf, sizeof(buf), &v);
		cr_assert(relay_dir_pop_due(&dir, i, &f1));
		if (v.copies == 2) {
			cr_assert(relay_dir_pop_due(&dir, i, &f2));
			cr_assert_eq(f1.len, f2.len);
			cr_assert_eq(memcmp(f1.data, f2.data, f1.len), 0);
			cr_assert_neq(f1.slot, f2.slot);
			relay_dir_done(&dir, &f2, true);
		}
		cr_assert_eq(memcmp(f1.data, buf, sizeof(buf)), 0);
		relay_dir_done(&dir, &f1, true);
	}
	double fraction = (double)dir.ctr.duplicated / n;

	cr_assert(fabs(fraction - 0.10) < 0.015, "dup fraction %g", fraction);
	cr_assert_eq(dir.ctr.tx, n + dir.ctr.duplicated);
}

static int bits_differing(const uint8_t *a, const uint8_t *b, size_t len, size_t *first_byte)
{
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		if (a[i] != b[i] && bits == 0)
			*first_byte = i;
		bits += __builtin_popcount((unsigned)(a[i] ^ b[i]));
	}
	return bits;
}

Test(relay_core, corrupt_flips_one_bit_after_ethernet_header)
{
	uint8_t buf[200];
	struct relay_frame f;
	const int n = 20000;
	size_t lowest = sizeof(buf), highest = 0;

	dir_with("corrupt=20%", 12);
	for (int i = 0; i < n; i++) {
		struct relay_verdict v;
		size_t byte = 0;

		make_frame(buf, sizeof(buf), (uint32_t)i);
		relay_dir_input(&dir, i, buf, sizeof(buf), &v);
		cr_assert(relay_dir_pop_due(&dir, i, &f));
		int bits = bits_differing(buf, f.data, sizeof(buf), &byte);

		if (v.corrupt_bit < 0) {
			cr_assert_eq(bits, 0);
		} else {
			cr_assert_eq(bits, 1, "frame %d: %d bits flipped", i, bits);
			cr_assert_geq(byte, RELAY_ETH_HLEN);
			cr_assert_eq((int64_t)byte, v.corrupt_bit / 8);
			lowest = byte < lowest ? byte : lowest;
			highest = byte > highest ? byte : highest;
		}
		relay_dir_done(&dir, &f, true);
	}
	double fraction = (double)dir.ctr.corrupted / n;

	cr_assert(fabs(fraction - 0.20) < 0.02, "corrupt fraction %g", fraction);
	cr_assert_lt(lowest, 20);
	cr_assert_gt(highest, 190);
}

Test(relay_core, header_only_frame_is_never_corrupted)
{
	uint8_t buf[RELAY_ETH_HLEN];
	struct relay_frame f;

	dir_with("corrupt=100%", 12);
	make_frame(buf, sizeof(buf), 0);
	relay_dir_input(&dir, 0, buf, sizeof(buf), NULL);
	cr_assert(relay_dir_pop_due(&dir, 0, &f));
	cr_assert_eq(memcmp(f.data, buf, sizeof(buf)), 0);
	relay_dir_done(&dir, &f, true);
	cr_assert_eq(dir.ctr.corrupted, 0);
}

Test(relay_core, rate_spaces_departures)
{
	uint8_t buf[1250];
	struct relay_verdict v;

	dir_with("rate=100mbit", 1);
	make_frame(buf, sizeof(buf), 0);
	for (int i = 1; i <= 5; i++) {
		relay_dir_input(&dir, 0, buf, sizeof(buf), &v);
		cr_assert_eq(v.release_ns[0], 100000LL * i);
	}
}

Test(relay_core, rate_queue_tail_drops)
{
	uint8_t buf[1000];
	struct relay_verdict v;

	dir_with("rate=1mbit,queue=5", 1);
	make_frame(buf, sizeof(buf), 0);
	for (int i = 0; i < 10; i++) {
		relay_dir_input(&dir, 0, buf, sizeof(buf), &v);
		cr_assert_eq(v.queue_full, i >= 5, "frame %d", i);
	}
	cr_assert_eq(dir.ctr.dropped_queue, 5);
	/* 8 ms per frame: at 8 ms the first has left the serializer. */
	relay_dir_input(&dir, 8 * MS, buf, sizeof(buf), &v);
	cr_assert_not(v.queue_full);
	cr_assert_eq(v.release_ns[0], 48 * MS);
}

Test(relay_core, limit_tail_drops_and_frees_on_release)
{
	uint8_t buf[100];
	struct relay_frame f;

	dir_with("delay=1s,limit=3", 1);
	make_frame(buf, sizeof(buf), 0);
	for (int i = 0; i < 5; i++)
		relay_dir_input(&dir, i, buf, sizeof(buf), NULL);
	cr_assert_eq(relay_dir_held(&dir), 3);
	cr_assert_eq(dir.ctr.dropped_queue, 2);
	cr_assert(relay_dir_pop_due(&dir, 1000 * MS, &f));
	relay_dir_done(&dir, &f, true);
	cr_assert_eq(relay_dir_input(&dir, 1000 * MS, buf, sizeof(buf), NULL), 1);
	cr_assert_eq(relay_dir_held(&dir), 3);
}

Test(relay_core, dup_without_room_sends_one_copy)
{
	uint8_t buf[100];
	struct relay_verdict v;

	dir_with("delay=1s,dup=100%,limit=3", 1);
	make_frame(buf, sizeof(buf), 0);
	relay_dir_input(&dir, 0, buf, sizeof(buf), &v);
	cr_assert_eq(v.copies, 2);
	relay_dir_input(&dir, 0, buf, sizeof(buf), &v);
	cr_assert_eq(v.copies, 1);
	cr_assert_eq(dir.ctr.duplicated, 1);
	cr_assert_eq(relay_dir_held(&dir), 3);
}

Test(relay_core, oversize_frame_is_counted_and_dropped)
{
	static uint8_t big[65536];

	dir_with("", 1);
	cr_assert_eq(relay_dir_input(&dir, 0, big, MAX_FRAME + 1, NULL), 0);
	cr_assert_eq(relay_dir_input(&dir, 0, big, sizeof(big), NULL), 0);
	cr_assert_eq(relay_dir_input(&dir, 0, big, MAX_FRAME, NULL), 1);
	cr_assert_eq(dir.ctr.dropped_oversize, 2);
	cr_assert_eq(dir.ctr.rx, 3);
}

Test(relay_core, counters_balance_after_mixed_run)
{
	uint8_t buf[MAX_FRAME];
	struct relay_frame f;
	struct relay_prng sizes;
	const int n = 50000;

	dir_with("loss=3%,delay=2ms/1ms,reorder=5%,dup=4%,corrupt=1%,rate=200mbit,queue=30,limit=200",
		 21);
	relay_prng_seed(&sizes, 1);
	for (int i = 0; i < n; i++) {
		int64_t now = (int64_t)i * 20000; /* 50k frames/s, beyond the rate */
		size_t len = 14 + (size_t)relay_prng_below(&sizes, MAX_FRAME - 13);

		make_frame(buf, len, (uint32_t)i);
		relay_dir_input(&dir, now, buf, len, NULL);
		int k = 0;

		while (relay_dir_pop_due(&dir, now, &f))
			relay_dir_done(&dir, &f, k++ % 97 != 0);
	}
	const struct relay_counters *c = &dir.ctr;

	cr_assert_eq(c->rx + c->duplicated, c->tx + c->dropped_loss + c->dropped_queue +
						     c->dropped_oversize + c->tx_errors +
						     relay_dir_held(&dir));
	cr_assert_gt(c->dropped_queue, 0);
	cr_assert_gt(c->dropped_loss, 0);
	cr_assert_gt(c->tx_errors, 0);
	drain_all();
	cr_assert_eq(dir.free_count, dir.slots);
}

Test(relay_core, stats_print_and_lookup)
{
	char text[4096];
	FILE *out = fmemopen(text, sizeof(text), "w");
	unsigned long long value = 0;
	uint8_t buf[100];

	dir_with("delay=1s", 1);
	make_frame(buf, sizeof(buf), 0);
	relay_dir_input(&dir, 0, buf, sizeof(buf), NULL);
	relay_dir_input(&dir, 0, buf, sizeof(buf), NULL);
	cr_assert_not_null(out);
	relay_stats_print_dir(out, "a2b", &dir);
	fclose(out);
	cr_assert_eq(relay_stats_lookup(text, "a2b.rx", &value), 0);
	cr_assert_eq(value, 2);
	cr_assert_eq(relay_stats_lookup(text, "a2b.held", &value), 0);
	cr_assert_eq(value, 2);
	cr_assert_eq(relay_stats_lookup(text, "a2b.rx_bytes", &value), 0);
	cr_assert_eq(value, 200);
	cr_assert_neq(relay_stats_lookup(text, "b2a.rx", &value), 0);
}
