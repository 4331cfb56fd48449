#include "pkt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Two free lists that only grow: after warm-up, allocation is a list pop. The pool has its own
 * lock because pkt_free may run on a thread that does not hold the stack lock (tests). */
static struct pkt *pkt_free_lists[2];
static pthread_mutex_t pkt_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static const size_t pkt_class_size[2] = { PKT_SMALL_SIZE, PKT_LARGE_SIZE };

static struct pkt *pkt_new(uint8_t size_class)
{
	size_t cap = pkt_class_size[size_class];
	struct pkt *p = malloc(sizeof(*p) + cap);

	if (!p)
		return NULL;
	p->head = (uint8_t *)(p + 1);
	p->cap = cap;
	p->size_class = size_class;
	return p;
}

struct pkt *pkt_alloc(size_t payload_len)
{
	uint8_t size_class;
	struct pkt *p;

	if (payload_len + PKT_HEADROOM <= PKT_SMALL_SIZE)
		size_class = 0;
	else if (payload_len + PKT_HEADROOM <= PKT_LARGE_SIZE)
		size_class = 1;
	else
		return NULL;

	pthread_mutex_lock(&pkt_pool_lock);
	p = pkt_free_lists[size_class];
	if (p)
		pkt_free_lists[size_class] = p->next;
	pthread_mutex_unlock(&pkt_pool_lock);
	if (!p)
		p = pkt_new(size_class);
	if (!p)
		return NULL;
	p->next = NULL;
	p->data = p->head + PKT_HEADROOM;
	p->len = 0;
	p->flags = 0;
	return p;
}

void pkt_free(struct pkt *p)
{
	if (!p || p->size_class > 1)
		return;
	pthread_mutex_lock(&pkt_pool_lock);
	p->next = pkt_free_lists[p->size_class];
	pkt_free_lists[p->size_class] = p;
	pthread_mutex_unlock(&pkt_pool_lock);
}

void pkt_borrow(struct pkt *p, uint8_t *data, size_t len, uint32_t flags)
{
	p->next = NULL;
	p->head = data;
	p->data = data;
	p->len = len;
	p->cap = len;
	p->flags = flags;
	p->size_class = 2;
}

uint8_t *pkt_put(struct pkt *p, size_t n)
{
	uint8_t *tail = p->data + p->len;

	if (n > (size_t)(p->head + p->cap - tail))
		return NULL;
	p->len += n;
	return tail;
}

uint8_t *pkt_push(struct pkt *p, size_t n)
{
	if (n > (size_t)(p->data - p->head))
		return NULL;
	p->data -= n;
	p->len += n;
	return p->data;
}

uint8_t *pkt_pull(struct pkt *p, size_t n)
{
	if (n > p->len)
		return NULL;
	p->data += n;
	p->len -= n;
	return p->data;
}

struct pkt *pkt_clone(const struct pkt *p)
{
	struct pkt *copy = pkt_alloc(p->len);

	if (!copy)
		return NULL;
	memcpy(pkt_put(copy, p->len), p->data, p->len);
	copy->flags = p->flags;
	return copy;
}

void pkt_pool_drain(void)
{
	pthread_mutex_lock(&pkt_pool_lock);
	for (int i = 0; i < 2; i++) {
		while (pkt_free_lists[i]) {
			struct pkt *p = pkt_free_lists[i];
			pkt_free_lists[i] = p->next;
			free(p);
		}
	}
	pthread_mutex_unlock(&pkt_pool_lock);
}
