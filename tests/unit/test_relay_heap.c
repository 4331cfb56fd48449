/* Unit tests: the relay's release-time heap. */
#include <criterion/criterion.h>
#include <errno.h>

#include "../relay/relay_heap.h"
#include "../relay/relay_prng.h"

Test(relay_heap, pops_in_release_order)
{
	struct relay_heap heap;
	struct relay_prng prng;
	const uint32_t n = 5000;

	cr_assert_eq(relay_heap_init(&heap, n), 0);
	relay_prng_seed(&prng, 11);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(relay_heap_push(&heap, (int64_t)relay_prng_below(&prng, 1000000), i), 0);

	struct relay_heap_entry e;
	int64_t last = -1;
	uint32_t popped = 0;

	while (relay_heap_pop(&heap, &e)) {
		cr_assert_geq(e.release_ns, last, "out of order at %u", popped);
		last = e.release_ns;
		popped++;
	}
	cr_assert_eq(popped, n);
	relay_heap_free(&heap);
}

Test(relay_heap, equal_times_come_out_fifo)
{
	struct relay_heap heap;
	struct relay_heap_entry e;

	cr_assert_eq(relay_heap_init(&heap, 100), 0);
	for (uint32_t i = 0; i < 100; i++)
		relay_heap_push(&heap, i % 2 ? 50 : 10, i);
	for (uint32_t i = 0; i < 50; i++) {
		cr_assert(relay_heap_pop(&heap, &e));
		cr_assert_eq(e.release_ns, 10);
		cr_assert_eq(e.slot, 2 * i);
	}
	for (uint32_t i = 0; i < 50; i++) {
		cr_assert(relay_heap_pop(&heap, &e));
		cr_assert_eq(e.slot, 2 * i + 1);
	}
	relay_heap_free(&heap);
}

Test(relay_heap, full_and_empty)
{
	struct relay_heap heap;
	struct relay_heap_entry e;

	cr_assert_eq(relay_heap_init(&heap, 2), 0);
	cr_assert_null(relay_heap_peek(&heap));
	cr_assert_not(relay_heap_pop(&heap, &e));
	cr_assert_eq(relay_heap_push(&heap, 30, 0), 0);
	cr_assert_eq(relay_heap_push(&heap, 20, 1), 0);
	cr_assert_eq(relay_heap_push(&heap, 10, 2), -ENOSPC);
	cr_assert_eq(relay_heap_peek(&heap)->slot, 1);
	cr_assert(relay_heap_pop(&heap, &e));
	cr_assert_eq(e.release_ns, 20);
	cr_assert_eq(relay_heap_push(&heap, 5, 3), 0);
	cr_assert_eq(relay_heap_peek(&heap)->release_ns, 5);
	relay_heap_free(&heap);
}

Test(relay_heap, interleaved_push_pop_keeps_order)
{
	struct relay_heap heap;
	struct relay_prng prng;
	struct relay_heap_entry e;
	int64_t now = 0;

	cr_assert_eq(relay_heap_init(&heap, 64), 0);
	relay_prng_seed(&prng, 99);
	for (int round = 0; round < 20000; round++) {
		if (heap.count < 64 && relay_prng_chance(&prng, 0.55)) {
			relay_heap_push(&heap, now + (int64_t)relay_prng_below(&prng, 500), 0);
		} else if (relay_heap_pop(&heap, &e)) {
			cr_assert_geq(e.release_ns, now);
			now = e.release_ns;
		}
	}
	relay_heap_free(&heap);
}
