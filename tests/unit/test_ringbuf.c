/*
 * test_ringbuf.c - byte ring buffer (stack/ringbuf.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ringbuf.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void fill_pattern(uint8_t *buf, size_t n, uint32_t stream_pos)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)((stream_pos + i) * 131u + 7u);
}

Test(ringbuf, init_rejects_bad_capacity)
{
	struct ringbuf rb;

	cr_assert_eq(ringbuf_init(&rb, 0), -EINVAL);
	cr_assert_eq(ringbuf_init(&rb, RINGBUF_MAX_CAPACITY + 1), -EINVAL);
	cr_assert_eq(ringbuf_init(&rb, 10), 0);
	cr_assert_eq(ringbuf_capacity(&rb), 10u);
	cr_assert_eq(ringbuf_space(&rb), 10u);
	cr_assert(ringbuf_empty(&rb));
	ringbuf_free(&rb);
	ringbuf_free(&rb); /* idempotent on a freed struct */
}

Test(ringbuf, write_read_clip_to_capacity)
{
	struct ringbuf rb;
	uint8_t in[16], out[16];

	fill_pattern(in, sizeof(in), 0);
	cr_assert_eq(ringbuf_init(&rb, 10), 0);
	cr_assert_eq(ringbuf_write(&rb, in, 16), 10u);
	cr_assert_eq(ringbuf_len(&rb), 10u);
	cr_assert_eq(ringbuf_space(&rb), 0u);
	cr_assert_eq(ringbuf_write(&rb, in, 1), 0u);
	cr_assert_eq(ringbuf_read(&rb, out, 16), 10u);
	cr_assert_arr_eq(out, in, 10);
	cr_assert(ringbuf_empty(&rb));
	cr_assert_eq(ringbuf_read(&rb, out, 1), 0u);
	ringbuf_free(&rb);
}

Test(ringbuf, wraps_with_arbitrary_capacity)
{
	struct ringbuf rb;
	uint8_t in[7], out[7];

	cr_assert_eq(ringbuf_init(&rb, 7), 0);
	fill_pattern(in, 7, 0);
	cr_assert_eq(ringbuf_write(&rb, in, 5), 5u);
	cr_assert_eq(ringbuf_consume(&rb, 4), 4u);
	/* head at 4: the next 6 bytes wrap past index 6 */
	fill_pattern(in, 6, 5);
	cr_assert_eq(ringbuf_write(&rb, in, 6), 6u);
	cr_assert_eq(ringbuf_len(&rb), 7u);
	cr_assert_eq(ringbuf_read(&rb, out, 7), 7u);
	uint8_t expect[7];
	fill_pattern(expect, 7, 4);
	cr_assert_arr_eq(out, expect, 7);
	ringbuf_free(&rb);
}

Test(ringbuf, peek_at_offset_does_not_consume)
{
	struct ringbuf rb;
	uint8_t in[100], out[100];

	cr_assert_eq(ringbuf_init(&rb, 64), 0);
	fill_pattern(in, 60, 0);
	ringbuf_write(&rb, in, 60);
	ringbuf_consume(&rb, 40); /* head at 40 */
	fill_pattern(in, 40, 60);
	cr_assert_eq(ringbuf_write(&rb, in, 40), 40u); /* wraps */
	/* stream bytes 40..99 are committed; peek 30 at offset 15 = stream 55.. */
	cr_assert_eq(ringbuf_peek(&rb, 15, out, 30), 30u);
	uint8_t expect[60];
	fill_pattern(expect, 30, 55);
	cr_assert_arr_eq(out, expect, 30);
	cr_assert_eq(ringbuf_len(&rb), 60u);
	cr_assert_eq(ringbuf_peek(&rb, 55, out, 30), 5u); /* clipped to len */
	cr_assert_eq(ringbuf_peek(&rb, 60, out, 1), 0u);
	ringbuf_free(&rb);
}

Test(ringbuf, peek_span_is_contiguous_piece)
{
	struct ringbuf rb;
	uint8_t in[10];
	const uint8_t *span;

	cr_assert_eq(ringbuf_init(&rb, 10), 0);
	fill_pattern(in, 10, 0);
	ringbuf_write(&rb, in, 8);
	ringbuf_consume(&rb, 6);        /* head 6, len 2 */
	fill_pattern(in, 6, 8);
	ringbuf_write(&rb, in, 6);      /* len 8, indices 6..9 then 0..3 */
	size_t n = ringbuf_peek_span(&rb, 0, &span);
	cr_assert_eq(n, 4u);
	cr_assert_eq(span[0], (uint8_t)(6 * 131 + 7));
	n = ringbuf_peek_span(&rb, 4, &span);
	cr_assert_eq(n, 4u);
	cr_assert_eq(span[0], (uint8_t)(10 * 131 + 7));
	n = ringbuf_peek_span(&rb, 8, &span);
	cr_assert_eq(n, 0u);
	cr_assert_null(span);
	ringbuf_free(&rb);
}

Test(ringbuf, peek_iov_describes_both_pieces)
{
	struct ringbuf rb;
	uint8_t in[12];
	struct iovec iov[2];
	size_t bytes;

	cr_assert_eq(ringbuf_init(&rb, 12), 0);
	fill_pattern(in, 12, 0);
	ringbuf_write(&rb, in, 12);
	ringbuf_consume(&rb, 9);
	fill_pattern(in, 9, 12);
	ringbuf_write(&rb, in, 9); /* head 9, len 12 */
	cr_assert_eq(ringbuf_peek_iov(&rb, 1, 100, iov, &bytes), 2);
	cr_assert_eq(bytes, 11u);
	cr_assert_eq(iov[0].iov_len, 2u);
	cr_assert_eq(iov[1].iov_len, 9u);
	cr_assert_eq(((uint8_t *)iov[0].iov_base)[0], (uint8_t)(10 * 131 + 7));
	cr_assert_eq(((uint8_t *)iov[1].iov_base)[0], (uint8_t)(12 * 131 + 7));
	cr_assert_eq(ringbuf_peek_iov(&rb, 0, 2, iov, &bytes), 1);
	cr_assert_eq(bytes, 2u);
	cr_assert_eq(ringbuf_peek_iov(&rb, 12, 5, iov, &bytes), 0);
	cr_assert_eq(bytes, 0u);
	ringbuf_free(&rb);
}

Test(ringbuf, write_at_then_commit_out_of_order)
{
	struct ringbuf rb;
	uint8_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, out[8];

	cr_assert_eq(ringbuf_init(&rb, 8), 0);
	/* second half arrives first: not readable yet */
	cr_assert_eq(ringbuf_write_at(&rb, 4, b, 4), 4u);
	cr_assert_eq(ringbuf_len(&rb), 0u);
	cr_assert_eq(ringbuf_write_at(&rb, 0, a, 4), 4u);
	cr_assert_eq(ringbuf_commit(&rb, 8), 8u);
	cr_assert_eq(ringbuf_read(&rb, out, 8), 8u);
	uint8_t expect[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	cr_assert_arr_eq(out, expect, 8);
	/* beyond the free space: clipped or refused */
	cr_assert_eq(ringbuf_write_at(&rb, 6, a, 4), 2u);
	cr_assert_eq(ringbuf_write_at(&rb, 8, a, 4), 0u);
	cr_assert_eq(ringbuf_commit(&rb, 100), 8u);
	ringbuf_free(&rb);
}

Test(ringbuf, consume_keeps_uncommitted_bytes_in_place)
{
	struct ringbuf rb;
	uint8_t x[3] = {9, 8, 7}, y[2] = {1, 2}, out[5];

	cr_assert_eq(ringbuf_init(&rb, 6), 0);
	ringbuf_write(&rb, y, 2);
	cr_assert_eq(ringbuf_write_at(&rb, 1, x, 3), 3u); /* tail+1 .. tail+3 */
	ringbuf_consume(&rb, 2);                           /* tail unchanged */
	cr_assert_eq(ringbuf_write_at(&rb, 0, y, 1), 1u);
	cr_assert_eq(ringbuf_commit(&rb, 4), 4u);
	cr_assert_eq(ringbuf_read(&rb, out, 5), 4u);
	uint8_t expect[4] = {1, 9, 8, 7};
	cr_assert_arr_eq(out, expect, 4);
	ringbuf_free(&rb);
}

Test(ringbuf, write_span_then_commit)
{
	struct ringbuf rb;
	uint8_t *span, out[10];

	cr_assert_eq(ringbuf_init(&rb, 10), 0);
	ringbuf_write(&rb, "abcdefg", 7);
	ringbuf_consume(&rb, 7); /* head = tail = 7 */
	size_t n = ringbuf_write_span(&rb, 0, &span);
	cr_assert_eq(n, 3u);
	memcpy(span, "XYZ", 3);
	n = ringbuf_write_span(&rb, 3, &span);
	cr_assert_eq(n, 7u);
	memcpy(span, "1234567", 7);
	cr_assert_eq(ringbuf_write_span(&rb, 10, &span), 0u);
	cr_assert_eq(ringbuf_commit(&rb, 10), 10u);
	cr_assert_eq(ringbuf_read(&rb, out, 10), 10u);
	cr_assert_arr_eq(out, "XYZ1234567", 10);
	ringbuf_free(&rb);
}

Test(ringbuf, iov_copy_helpers)
{
	struct ringbuf rb;
	char a[3] = "abc", b[5] = "defgh", c[4] = "ijkl";
	struct iovec in[3] = {{a, 3}, {b, 5}, {c, 4}};
	char o1[2], o2[6], o3[10];
	struct iovec out[3] = {{o1, 2}, {o2, 6}, {o3, 10}};

	cr_assert_eq(ringbuf_init(&rb, 10), 0);
	cr_assert_eq(ringbuf_write_from_iov(&rb, in, 3), 10u); /* last clipped */
	cr_assert_eq(ringbuf_peek_to_iov(&rb, 1, out, 2), 8u);
	cr_assert_arr_eq(o1, "bc", 2);
	cr_assert_arr_eq(o2, "defghi", 6);
	cr_assert_eq(ringbuf_len(&rb), 10u);
	cr_assert_eq(ringbuf_read_to_iov(&rb, out, 3), 10u);
	cr_assert_arr_eq(o1, "ab", 2);
	cr_assert_arr_eq(o2, "cdefgh", 6);
	cr_assert_arr_eq(o3, "ij", 2);
	cr_assert(ringbuf_empty(&rb));
	cr_assert_eq(ringbuf_read_to_iov(&rb, out, -1), 0u);
	ringbuf_free(&rb);
}

Test(ringbuf, release_only_when_empty_and_reallocates)
{
	struct ringbuf rb;
	uint8_t out[4];

	cr_assert_eq(ringbuf_init(&rb, 4), 0);
	ringbuf_write(&rb, "ab", 2);
	cr_assert_eq(ringbuf_release(&rb), -EBUSY);
	ringbuf_read(&rb, out, 2);
	cr_assert_eq(ringbuf_release(&rb), 0);
	cr_assert_null(rb.data);
	cr_assert_eq(ringbuf_space(&rb), 4u);
	cr_assert_eq(ringbuf_write(&rb, "wxyz", 4), 4u); /* allocates again */
	cr_assert_not_null(rb.data);
	cr_assert_eq(ringbuf_read(&rb, out, 4), 4u);
	cr_assert_arr_eq(out, "wxyz", 4);
	ringbuf_free(&rb);
}

/*
 * Random operations against a linear model of the byte stream: the ring
 * must always return exactly the bytes the model says, at every capacity.
 */
static void random_ops_against_model(size_t capacity)
{
	struct ringbuf rb;
	uint8_t buf[300], expect[300];
	uint32_t read_pos = 0, write_pos = 0; /* stream positions */

	cr_assert_eq(ringbuf_init(&rb, capacity), 0);
	for (int step = 0; step < 20000; step++) {
		size_t n = rng_next() % (capacity + 3);
		switch (rng_next() % 4) {
		case 0: {
			fill_pattern(buf, n, write_pos);
			size_t put = ringbuf_write(&rb, buf, n);
			size_t room = capacity - (write_pos - read_pos);
			cr_assert_eq(put, n < room ? n : room);
			write_pos += (uint32_t)put;
			break;
		}
		case 1: {
			size_t got = ringbuf_read(&rb, buf, n);
			size_t have = write_pos - read_pos;
			cr_assert_eq(got, n < have ? n : have);
			fill_pattern(expect, got, read_pos);
			cr_assert_arr_eq(buf, expect, got);
			read_pos += (uint32_t)got;
			break;
		}
		case 2: {
			size_t have = write_pos - read_pos;
			size_t off = have ? rng_next() % have : 0;
			size_t got = ringbuf_peek(&rb, off, buf, n);
			cr_assert_eq(got, have ? (n < have - off ? n : have - off) : 0);
			fill_pattern(expect, got, read_pos + (uint32_t)off);
			cr_assert_arr_eq(buf, expect, got);
			break;
		}
		default: {
			const uint8_t *span;
			size_t have = write_pos - read_pos;
			size_t got = ringbuf_peek_span(&rb, 0, &span);
			cr_assert_leq(got, have);
			cr_assert(have == 0 || got > 0);
			fill_pattern(expect, got, read_pos);
			if (got)
				cr_assert_arr_eq(span, expect, got);
			break;
		}
		}
		cr_assert_eq(ringbuf_len(&rb), write_pos - read_pos);
	}
	ringbuf_free(&rb);
}

Test(ringbuf, random_ops_capacity_1) { random_ops_against_model(1); }
Test(ringbuf, random_ops_capacity_13) { random_ops_against_model(13); }
Test(ringbuf, random_ops_capacity_256) { random_ops_against_model(256); }
