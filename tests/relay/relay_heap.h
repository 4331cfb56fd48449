/* relay_heap.h — binary min-heap of frames keyed by release time.
 *
 * Entries with equal release times come out in insertion order (a sequence
 * number breaks ties), so a direction without delay or jitter stays FIFO.
 * Capacity is fixed at init; push and pop are O(log n), peek is O(1).
 */
#ifndef RELAY_HEAP_H
#define RELAY_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct relay_heap_entry {
	int64_t release_ns; /* when the frame may leave */
	uint64_t seq;       /* insertion order, breaks ties */
	uint32_t slot;      /* frame pool slot */
};

struct relay_heap {
	struct relay_heap_entry *entries;
	uint32_t count;
	uint32_t capacity;
	uint64_t next_seq;
};

int relay_heap_init(struct relay_heap *heap, uint32_t capacity); /* 0 or -ENOMEM */
void relay_heap_free(struct relay_heap *heap);

/* 0, or -ENOSPC when full. */
int relay_heap_push(struct relay_heap *heap, int64_t release_ns, uint32_t slot);

/* Earliest entry, or NULL when empty. */
const struct relay_heap_entry *relay_heap_peek(const struct relay_heap *heap);

/* Removes the earliest entry into *out; false when empty. */
bool relay_heap_pop(struct relay_heap *heap, struct relay_heap_entry *out);

#endif
