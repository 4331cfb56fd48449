/* relay_heap.c — array-backed binary min-heap (children of i at 2i+1, 2i+2). */
#include "relay_heap.h"

#include <errno.h>
#include <stdlib.h>

int relay_heap_init(struct relay_heap *heap, uint32_t capacity)
{
	heap->entries = calloc(capacity ? capacity : 1, sizeof(*heap->entries));
	heap->count = 0;
	heap->capacity = capacity;
	heap->next_seq = 0;
	return heap->entries ? 0 : -ENOMEM;
}

void relay_heap_free(struct relay_heap *heap)
{
	free(heap->entries);
	heap->entries = NULL;
	heap->count = heap->capacity = 0;
}

static bool entry_before(const struct relay_heap_entry *a, const struct relay_heap_entry *b)
{
	if (a->release_ns != b->release_ns)
		return a->release_ns < b->release_ns;
	return a->seq < b->seq;
}

static void sift_up(struct relay_heap *heap, uint32_t i)
{
	struct relay_heap_entry moving = heap->entries[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (!entry_before(&moving, &heap->entries[parent]))
			break;
		heap->entries[i] = heap->entries[parent];
		i = parent;
	}
	heap->entries[i] = moving;
}

static void sift_down(struct relay_heap *heap, uint32_t i)
{
	struct relay_heap_entry moving = heap->entries[i];

	for (;;) {
		uint32_t child = 2 * i + 1;

		if (child >= heap->count)
			break;
		if (child + 1 < heap->count &&
		    entry_before(&heap->entries[child + 1], &heap->entries[child]))
			child++;
		if (!entry_before(&heap->entries[child], &moving))
			break;
		heap->entries[i] = heap->entries[child];
		i = child;
	}
	heap->entries[i] = moving;
}

int relay_heap_push(struct relay_heap *heap, int64_t release_ns, uint32_t slot)
{
	if (heap->count >= heap->capacity)
		return -ENOSPC;
	heap->entries[heap->count] = (struct relay_heap_entry){
		.release_ns = release_ns,
		.seq = heap->next_seq++,
		.slot = slot,
	};
	sift_up(heap, heap->count++);
	return 0;
}

const struct relay_heap_entry *relay_heap_peek(const struct relay_heap *heap)
{
	return heap->count ? &heap->entries[0] : NULL;
}

bool relay_heap_pop(struct relay_heap *heap, struct relay_heap_entry *out)
{
	if (heap->count == 0)
		return false;
	*out = heap->entries[0];
	heap->count--;
	if (heap->count) {
		heap->entries[0] = heap->entries[heap->count];
		sift_down(heap, 0);
	}
	return true;
}
