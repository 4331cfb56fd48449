/* relay_core.c — per-direction impairment decisions and the held-frame pool. */
#include "relay_core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define COUNTER(name) { #name, offsetof(struct relay_counters, name) }
const struct relay_counter_field relay_counter_fields[] = {
	COUNTER(rx),         COUNTER(rx_bytes),      COUNTER(tx),
	COUNTER(tx_bytes),   COUNTER(dropped_loss),  COUNTER(dropped_queue),
	COUNTER(dropped_oversize), COUNTER(tx_errors), COUNTER(duplicated),
	COUNTER(corrupted),  COUNTER(reordered),     COUNTER(delayed),
};
#undef COUNTER
const size_t relay_counter_field_count =
	sizeof(relay_counter_fields) / sizeof(relay_counter_fields[0]);

int relay_dir_init(struct relay_dir *dir, const struct relay_impair *imp, uint64_t seed,
		   uint32_t max_frame)
{
	memset(dir, 0, sizeof(*dir));
	if (imp->limit_frames == 0 || max_frame == 0)
		return -EINVAL;
	dir->imp = *imp;
	relay_prng_seed(&dir->prng, seed);
	relay_bucket_init(&dir->bucket, imp->rate_bps, imp->burst_bytes);
	dir->slots = imp->limit_frames;
	dir->slot_size = max_frame;
	dir->rate_cap = imp->queue_frames < imp->limit_frames ? imp->queue_frames : imp->limit_frames;
	dir->rate_ring = calloc(dir->rate_cap ? dir->rate_cap : 1, sizeof(*dir->rate_ring));
	dir->pool = malloc((size_t)dir->slots * max_frame);
	dir->pool_len = calloc(dir->slots, sizeof(*dir->pool_len));
	dir->free_slots = calloc(dir->slots, sizeof(*dir->free_slots));
	if (!dir->rate_ring || !dir->pool || !dir->pool_len || !dir->free_slots ||
	    relay_heap_init(&dir->heap, dir->slots) < 0) {
		relay_dir_free(dir);
		return -ENOMEM;
	}
	/* Hand out low slots first (pop from the top of the stack). */
	for (uint32_t i = 0; i < dir->slots; i++)
		dir->free_slots[i] = dir->slots - 1 - i;
	dir->free_count = dir->slots;
	return 0;
}

void relay_dir_free(struct relay_dir *dir)
{
	free(dir->rate_ring);
	free(dir->pool);
	free(dir->pool_len);
	free(dir->free_slots);
	relay_heap_free(&dir->heap);
	dir->rate_ring = NULL;
	dir->pool = NULL;
	dir->pool_len = NULL;
	dir->free_slots = NULL;
}

uint32_t relay_dir_held(const struct relay_dir *dir)
{
	return dir->heap.count;
}

/* Gilbert-Elliott: move between the good and bad state first, then lose the
 * frame with the new state's loss probability.  Two draws per frame. */
static bool loss_gemodel(struct relay_dir *dir)
{
	const struct relay_impair *imp = &dir->imp;

	if (dir->ge_bad) {
		if (relay_prng_chance(&dir->prng, imp->ge_r))
			dir->ge_bad = false;
	} else {
		if (relay_prng_chance(&dir->prng, imp->ge_p))
			dir->ge_bad = true;
	}
	return relay_prng_chance(&dir->prng, dir->ge_bad ? imp->ge_loss_bad : imp->ge_loss_good);
}

static bool decide_loss(struct relay_dir *dir)
{
	switch (dir->imp.loss_model) {
	case RELAY_LOSS_RANDOM:
		return relay_prng_chance(&dir->prng, dir->imp.loss);
	case RELAY_LOSS_GEMODEL:
		return loss_gemodel(dir);
	case RELAY_LOSS_NONE:
		break;
	}
	return false;
}

/* Forgets frames whose serialization finished by now_ns. */
static void rate_ring_expire(struct relay_dir *dir, int64_t now_ns)
{
	while (dir->rate_count && dir->rate_ring[dir->rate_head] <= now_ns) {
		dir->rate_head = (dir->rate_head + 1) % dir->rate_cap;
		dir->rate_count--;
	}
}

/* Room for one more copy (the verdict's earlier copies not yet queued)?
 * Admits it to the rate's token bucket and returns its departure time. */
static bool admit_copy(struct relay_dir *dir, int64_t now_ns, size_t len, unsigned earlier,
		       int64_t *depart_ns)
{
	if (dir->free_count <= earlier)
		return false;
	*depart_ns = now_ns;
	if (dir->imp.rate_bps == 0)
		return true;
	rate_ring_expire(dir, now_ns);
	if (dir->rate_count >= dir->rate_cap)
		return false;
	*depart_ns = relay_bucket_admit(&dir->bucket, now_ns, len);
	dir->rate_ring[(dir->rate_head + dir->rate_count) % dir->rate_cap] = *depart_ns;
	dir->rate_count++;
	return true;
}

/* Delay with uniform jitter, or none for a reordered copy. */
static void schedule_copy(struct relay_dir *dir, int64_t depart_ns, struct relay_verdict *v,
			  unsigned i)
{
	const struct relay_impair *imp = &dir->imp;
	int64_t delay = imp->delay_ns;

	v->reordered[i] = imp->reorder > 0.0 && relay_prng_chance(&dir->prng, imp->reorder);
	if (v->reordered[i]) {
		v->release_ns[i] = depart_ns;
		v->delayed[i] = false;
		return;
	}
	if (imp->jitter_ns > 0) {
		uint64_t span = 2 * (uint64_t)imp->jitter_ns + 1;

		delay += (int64_t)relay_prng_below(&dir->prng, span) - imp->jitter_ns;
		if (delay < 0)
			delay = 0;
	}
	v->release_ns[i] = depart_ns + delay;
	v->delayed[i] = delay > 0;
}

void relay_dir_decide(struct relay_dir *dir, int64_t now_ns, size_t len, struct relay_verdict *v)
{
	const struct relay_impair *imp = &dir->imp;
	unsigned wanted = 1;

	memset(v, 0, sizeof(*v));
	v->corrupt_bit = -1;
	v->lost = decide_loss(dir);
	if (v->lost)
		return;
	if (imp->dup > 0.0 && relay_prng_chance(&dir->prng, imp->dup))
		wanted = 2;
	if (imp->corrupt > 0.0 && relay_prng_chance(&dir->prng, imp->corrupt)) {
		uint64_t bit = relay_prng_below(&dir->prng, len > RELAY_ETH_HLEN ?
							      (len - RELAY_ETH_HLEN) * 8 : 0);

		if (len > RELAY_ETH_HLEN)
			v->corrupt_bit = RELAY_ETH_HLEN * 8 + (int64_t)bit;
	}
	for (unsigned i = 0; i < wanted; i++) {
		int64_t depart_ns;

		if (!admit_copy(dir, now_ns, len, i, &depart_ns))
			break;
		schedule_copy(dir, depart_ns, v, i);
		v->copies++;
	}
	v->queue_full = v->copies == 0;
}

static uint32_t pool_take(struct relay_dir *dir)
{
	return dir->free_slots[--dir->free_count];
}

static uint8_t *slot_data(const struct relay_dir *dir, uint32_t slot)
{
	return dir->pool + (size_t)slot * dir->slot_size;
}

unsigned relay_dir_input(struct relay_dir *dir, int64_t now_ns, const uint8_t *frame, size_t len,
			 struct relay_verdict *out)
{
	struct relay_verdict local, *v = out ? out : &local;

	dir->ctr.rx++;
	dir->ctr.rx_bytes += len;
	if (len > dir->slot_size) {
		memset(v, 0, sizeof(*v));
		v->corrupt_bit = -1;
		dir->ctr.dropped_oversize++;
		return 0;
	}
	relay_dir_decide(dir, now_ns, len, v);
	if (v->lost) {
		dir->ctr.dropped_loss++;
		return 0;
	}
	if (v->queue_full) {
		dir->ctr.dropped_queue++;
		return 0;
	}
	for (unsigned i = 0; i < v->copies; i++) {
		/* decide() checked the room, so a slot and a heap entry exist. */
		uint32_t slot = pool_take(dir);
		uint8_t *data = slot_data(dir, slot);

		memcpy(data, frame, len);
		dir->pool_len[slot] = (uint32_t)len;
		if (i == 0 && v->corrupt_bit >= 0) {
			data[v->corrupt_bit / 8] ^= (uint8_t)(1u << (v->corrupt_bit % 8));
			dir->ctr.corrupted++;
		}
		dir->ctr.reordered += v->reordered[i];
		dir->ctr.delayed += v->delayed[i];
		relay_heap_push(&dir->heap, v->release_ns[i], slot);
	}
	dir->ctr.duplicated += v->copies - 1;
	return v->copies;
}

bool relay_dir_next_release(const struct relay_dir *dir, int64_t *release_ns)
{
	const struct relay_heap_entry *top = relay_heap_peek(&dir->heap);

	if (!top)
		return false;
	*release_ns = top->release_ns;
	return true;
}

bool relay_dir_pop_due(struct relay_dir *dir, int64_t now_ns, struct relay_frame *frame)
{
	const struct relay_heap_entry *top = relay_heap_peek(&dir->heap);
	struct relay_heap_entry entry;

	if (!top || top->release_ns > now_ns)
		return false;
	relay_heap_pop(&dir->heap, &entry);
	frame->slot = entry.slot;
	frame->data = slot_data(dir, entry.slot);
	frame->len = dir->pool_len[entry.slot];
	return true;
}

void relay_dir_done(struct relay_dir *dir, const struct relay_frame *frame, bool sent)
{
	if (sent) {
		dir->ctr.tx++;
		dir->ctr.tx_bytes += frame->len;
	} else {
		dir->ctr.tx_errors++;
	}
	dir->free_slots[dir->free_count++] = frame->slot;
}
