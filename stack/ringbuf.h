/*
 * ringbuf.h - fixed-capacity byte ring buffer for TCP send and receive data.
 *
 * Layout: [head ... committed data ... tail) [free space ...] (circular).
 *  - "Committed" bytes are the readable stream: for a send buffer, the bytes
 *    the application wrote and the peer has not acknowledged yet (read them
 *    again with ringbuf_peek()/ringbuf_peek_span() at an offset to
 *    retransmit; drop them with ringbuf_consume() when ACKed); for a receive
 *    buffer, in-order data waiting for the application.
 *  - The free space after the tail can hold bytes that are not committed yet:
 *    ringbuf_write_at(offset) places out-of-order TCP data at tail + offset
 *    (offset = seq - rcv_nxt), and ringbuf_commit(n) later makes the first n
 *    of them readable once the hole before them is filled (the assembler in
 *    tcp_assembler.h says how many).  consume() never moves the tail, so
 *    uncommitted bytes stay where they were written.
 *
 * Capacity is arbitrary (not only powers of two), fixed at ringbuf_init(),
 * at most RINGBUF_MAX_CAPACITY (the largest TCP window, 2^30).  Storage is
 * one malloc per buffer, made by the first write; ringbuf_release() gives it back while the buffer is
 * empty (an idle connection holds no buffer memory) and the next write
 * allocates it again.  No allocation happens per call otherwise.
 *
 * Counts are bytes.  Functions that transfer data return the number of bytes
 * actually transferred, which is smaller than asked when space or data runs
 * out (or 0 when storage cannot be allocated).  Not thread-safe: the caller
 * holds the stack lock.
 */
#ifndef USTACK_RINGBUF_H
#define USTACK_RINGBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define RINGBUF_MAX_CAPACITY ((size_t)1 << 30)

struct ringbuf {
	uint8_t *data;   /* capacity bytes, or NULL while released */
	size_t capacity; /* fixed at init */
	size_t head;     /* index of the first committed byte, < capacity */
	size_t len;      /* committed bytes, <= capacity */
};

/* Set the capacity (1..RINGBUF_MAX_CAPACITY); the storage is allocated by the first write
 * (or ringbuf_reserve). Returns 0 or -EINVAL. */
int ringbuf_init(struct ringbuf *rb, size_t capacity);
/* Free the storage; the struct may be initialised again. Safe on a zeroed struct. */
void ringbuf_free(struct ringbuf *rb);

/* Drop the storage while nothing is committed (the caller guarantees no
 * uncommitted out-of-order bytes are still wanted).  Returns 0 or -EBUSY. */
int ringbuf_release(struct ringbuf *rb);
/* Make sure storage exists (after ringbuf_release()).  0 or -ENOMEM. */
int ringbuf_reserve(struct ringbuf *rb);

/* Empty the buffer (committed and uncommitted bytes are forgotten). */
void ringbuf_reset(struct ringbuf *rb);

static inline size_t ringbuf_len(const struct ringbuf *rb) { return rb->len; }
static inline size_t ringbuf_capacity(const struct ringbuf *rb) { return rb->capacity; }
static inline size_t ringbuf_space(const struct ringbuf *rb) { return rb->capacity - rb->len; }
static inline bool ringbuf_empty(const struct ringbuf *rb) { return rb->len == 0; }

/* Append n bytes at the tail and commit them. */
size_t ringbuf_write(struct ringbuf *rb, const void *src, size_t n);
/* Copy n bytes into the free space at tail + offset without committing them
 * (clipped to the free space; 0 when offset >= space). */
size_t ringbuf_write_at(struct ringbuf *rb, size_t offset, const void *src, size_t n);
/* Commit the first n bytes after the tail (written earlier by write_at or
 * through ringbuf_write_span()); clipped to the free space. */
size_t ringbuf_commit(struct ringbuf *rb, size_t n);

/* Copy up to n committed bytes starting offset bytes after the head; no
 * consumption (retransmission, MSG_PEEK). */
size_t ringbuf_peek(const struct ringbuf *rb, size_t offset, void *dst, size_t n);
/* Copy and consume up to n bytes from the head. */
size_t ringbuf_read(struct ringbuf *rb, void *dst, size_t n);
/* Drop up to n bytes from the head (ACKed send data, or data read by
 * zero-copy). */
size_t ringbuf_consume(struct ringbuf *rb, size_t n);

/*
 * Zero-copy access.  ringbuf_peek_span() points *span at the committed byte
 * offset bytes after the head and returns how many bytes are contiguous from
 * there (0 if offset >= len).  ringbuf_write_span() does the same for the
 * free space at tail + offset (allocating storage if released); fill it and
 * ringbuf_commit().  The pointers stay valid until the next call that frees
 * or releases the storage.
 */
size_t ringbuf_peek_span(const struct ringbuf *rb, size_t offset, const uint8_t **span);
size_t ringbuf_write_span(struct ringbuf *rb, size_t offset, uint8_t **span);

/* Describe up to n committed bytes from offset as at most two iovecs
 * (pointing into the buffer).  Returns the number of iovecs filled (0..2);
 * *bytes (if not NULL) receives the byte total. */
int ringbuf_peek_iov(const struct ringbuf *rb, size_t offset, size_t n,
		     struct iovec iov[2], size_t *bytes);

/* Scatter/gather copies (readv/recvmsg/writev/sendmsg paths).  iovcnt < 0 is
 * treated as 0. */
size_t ringbuf_peek_to_iov(const struct ringbuf *rb, size_t offset,
			   const struct iovec *iov, int iovcnt);
size_t ringbuf_read_to_iov(struct ringbuf *rb, const struct iovec *iov, int iovcnt);
size_t ringbuf_write_from_iov(struct ringbuf *rb, const struct iovec *iov, int iovcnt);

#endif /* USTACK_RINGBUF_H */
