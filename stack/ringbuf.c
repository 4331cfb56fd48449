/*
 * ringbuf.c - fixed-capacity byte ring buffer (see ringbuf.h).
 */
#include "ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Index of the byte pos bytes after the head (pos < 2 * capacity). */
static size_t ring_index(const struct ringbuf *rb, size_t pos)
{
	size_t idx = rb->head + pos;

	if (idx >= rb->capacity)
		idx -= rb->capacity;
	return idx;
}

/* Copy n bytes (n <= capacity) out of the ring starting at position pos. */
static void copy_out(const struct ringbuf *rb, size_t pos, uint8_t *dst, size_t n)
{
	size_t idx = ring_index(rb, pos);
	size_t first = min_size(n, rb->capacity - idx);

	memcpy(dst, rb->data + idx, first);
	if (n > first)
		memcpy(dst + first, rb->data, n - first);
}

static void copy_in(struct ringbuf *rb, size_t pos, const uint8_t *src, size_t n)
{
	size_t idx = ring_index(rb, pos);
	size_t first = min_size(n, rb->capacity - idx);

	memcpy(rb->data + idx, src, first);
	if (n > first)
		memcpy(rb->data, src + first, n - first);
}

int ringbuf_init(struct ringbuf *rb, size_t capacity)
{
	memset(rb, 0, sizeof(*rb));
	if (capacity == 0 || capacity > RINGBUF_MAX_CAPACITY)
		return -EINVAL;
	rb->capacity = capacity;
	return 0;   /* storage comes with the first write: a socket that never carries data in
		     * one direction (or at all, like a listener) holds no buffer memory */
}

void ringbuf_free(struct ringbuf *rb)
{
	free(rb->data);
	memset(rb, 0, sizeof(*rb));
}

int ringbuf_release(struct ringbuf *rb)
{
	if (rb->len != 0)
		return -EBUSY;
	free(rb->data);
	rb->data = NULL;
	rb->head = 0;
	return 0;
}

int ringbuf_reserve(struct ringbuf *rb)
{
	if (rb->data)
		return 0;
	if (rb->capacity == 0)
		return -EINVAL;
	rb->data = malloc(rb->capacity);
	if (!rb->data)
		return -ENOMEM;
	rb->head = 0;
	return 0;
}

void ringbuf_reset(struct ringbuf *rb)
{
	rb->head = 0;
	rb->len = 0;
}

size_t ringbuf_write_at(struct ringbuf *rb, size_t offset, const void *src, size_t n)
{
	size_t space = ringbuf_space(rb);

	if (offset >= space || n == 0)
		return 0;
	n = min_size(n, space - offset);
	if (ringbuf_reserve(rb) != 0)
		return 0;
	copy_in(rb, rb->len + offset, src, n);
	return n;
}

size_t ringbuf_commit(struct ringbuf *rb, size_t n)
{
	n = min_size(n, ringbuf_space(rb));
	rb->len += n;
	return n;
}

size_t ringbuf_write(struct ringbuf *rb, const void *src, size_t n)
{
	return ringbuf_commit(rb, ringbuf_write_at(rb, 0, src, n));
}

size_t ringbuf_peek(const struct ringbuf *rb, size_t offset, void *dst, size_t n)
{
	if (offset >= rb->len || n == 0)
		return 0;
	n = min_size(n, rb->len - offset);
	copy_out(rb, offset, dst, n);
	return n;
}

size_t ringbuf_consume(struct ringbuf *rb, size_t n)
{
	n = min_size(n, rb->len);
	if (n == 0)
		return 0;
	rb->head = ring_index(rb, n);
	rb->len -= n;
	return n;
}

size_t ringbuf_read(struct ringbuf *rb, void *dst, size_t n)
{
	return ringbuf_consume(rb, ringbuf_peek(rb, 0, dst, n));
}

size_t ringbuf_peek_span(const struct ringbuf *rb, size_t offset, const uint8_t **span)
{
	size_t idx;

	*span = NULL;
	if (offset >= rb->len)
		return 0;
	idx = ring_index(rb, offset);
	*span = rb->data + idx;
	return min_size(rb->len - offset, rb->capacity - idx);
}

size_t ringbuf_write_span(struct ringbuf *rb, size_t offset, uint8_t **span)
{
	size_t space = ringbuf_space(rb);
	size_t idx;

	*span = NULL;
	if (offset >= space || ringbuf_reserve(rb) != 0)
		return 0;
	idx = ring_index(rb, rb->len + offset);
	*span = rb->data + idx;
	return min_size(space - offset, rb->capacity - idx);
}

int ringbuf_peek_iov(const struct ringbuf *rb, size_t offset, size_t n,
		     struct iovec iov[2], size_t *bytes)
{
	const uint8_t *span;
	size_t first, total = 0;
	int count = 0;

	if (offset < rb->len)
		n = min_size(n, rb->len - offset);
	else
		n = 0;
	if (n > 0) {
		first = min_size(ringbuf_peek_span(rb, offset, &span), n);
		iov[count].iov_base = (void *)span;
		iov[count++].iov_len = first;
		total = first;
		if (n > first) {
			iov[count].iov_base = rb->data;
			iov[count++].iov_len = n - first;
			total = n;
		}
	}
	if (bytes)
		*bytes = total;
	return count;
}

size_t ringbuf_peek_to_iov(const struct ringbuf *rb, size_t offset,
			   const struct iovec *iov, int iovcnt)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt; i++) {
		size_t got = ringbuf_peek(rb, offset + done, iov[i].iov_base, iov[i].iov_len);

		done += got;
		if (got < iov[i].iov_len)
			break;
	}
	return done;
}

size_t ringbuf_read_to_iov(struct ringbuf *rb, const struct iovec *iov, int iovcnt)
{
	return ringbuf_consume(rb, ringbuf_peek_to_iov(rb, 0, iov, iovcnt));
}

size_t ringbuf_write_from_iov(struct ringbuf *rb, const struct iovec *iov, int iovcnt)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt; i++) {
		size_t put = ringbuf_write(rb, iov[i].iov_base, iov[i].iov_len);

		done += put;
		if (put < iov[i].iov_len)
			break;
	}
	return done;
}
