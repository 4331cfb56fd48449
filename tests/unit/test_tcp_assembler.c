/*
 * test_tcp_assembler.c - out-of-order ranges and SACK blocks
 * (stack/tcp_assembler.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tcp_assembler.h"
#include "tcp_seq.h"

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint32_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static uint32_t add_ok(struct tcp_assembler *a, uint32_t seq, uint32_t len)
{
	uint32_t adv = 0xdeadbeef;

	cr_assert_eq(tcp_asm_add(a, seq, len, &adv), 0, "add %u+%u failed", seq, len);
	return adv;
}

Test(tcp_assembler, in_order_advances_without_ranges)
{
	struct tcp_assembler a;

	tcp_asm_init(&a, 1000);
	cr_assert_eq(add_ok(&a, 1000, 100), 100u);
	cr_assert_eq(add_ok(&a, 1100, 50), 50u);
	cr_assert_eq(tcp_asm_rcv_nxt(&a), 1150u);
	cr_assert(tcp_asm_empty(&a));
	cr_assert_eq(tcp_asm_highest(&a), 1150u);
}

Test(tcp_assembler, hole_then_fill)
{
	struct tcp_assembler a;

	tcp_asm_init(&a, 0);
	cr_assert_eq(add_ok(&a, 200, 100), 0u);
	cr_assert_eq(tcp_asm_count(&a), 1u);
	cr_assert_eq(tcp_asm_highest(&a), 300u);
	cr_assert_eq(tcp_asm_ooo_bytes(&a), 100u);
	cr_assert_eq(add_ok(&a, 100, 50), 0u);
	cr_assert_eq(tcp_asm_count(&a), 2u);
	/* fills [0,100): front range up to 150 joins, 150..200 still missing */
	cr_assert_eq(add_ok(&a, 0, 100), 150u);
	cr_assert_eq(tcp_asm_rcv_nxt(&a), 150u);
	cr_assert_eq(tcp_asm_count(&a), 1u);
	cr_assert_eq(add_ok(&a, 150, 50), 150u);
	cr_assert_eq(tcp_asm_rcv_nxt(&a), 300u);
	cr_assert(tcp_asm_empty(&a));
}

Test(tcp_assembler, touching_ranges_merge)
{
	struct tcp_assembler a;

	tcp_asm_init(&a, 0);
	add_ok(&a, 100, 100);
	add_ok(&a, 300, 100);
	add_ok(&a, 200, 100); /* touches both */
	cr_assert_eq(tcp_asm_count(&a), 1u);
	cr_assert_eq(a.ranges[0].start, 100u);
	cr_assert_eq(a.ranges[0].end, 400u);
}

Test(tcp_assembler, overlap_extends_both_sides_and_swallows)
{
	struct tcp_assembler a;

	tcp_asm_init(&a, 0);
	add_ok(&a, 100, 10);
	add_ok(&a, 130, 10);
	add_ok(&a, 160, 10);
	add_ok(&a, 500, 10);
	cr_assert_eq(tcp_asm_count(&a), 4u);
	add_ok(&a, 95, 70); /* 95..165 swallows the first three */
	cr_assert_eq(tcp_asm_count(&a), 2u);
	cr_assert_eq(a.ranges[0].start, 95u);
	cr_assert_eq(a.ranges[0].end, 170u);
	cr_assert_eq(a.ranges[1].start, 500u);
	cr_assert_eq(tcp_asm_ooo_bytes(&a), 85u);
}

Test(tcp_assembler, ranges_straddling_wrap)
{
	struct tcp_assembler a;
	uint32_t base = 0xffffff00u;

	tcp_asm_init(&a, base);
	add_ok(&a, 0xffffffc0u, 0x80); /* 0xffffffc0 .. 0x40 across zero */
	add_ok(&a, 0x100u, 0x10);
	cr_assert_eq(tcp_asm_count(&a), 2u);
	cr_assert_eq(a.ranges[0].start, 0xffffffc0u);
	cr_assert_eq(a.ranges[0].end, 0x40u);
	cr_assert_eq(tcp_asm_highest(&a), 0x110u);
	cr_assert_eq(tcp_asm_ooo_bytes(&a), 0x90u);
	/* fill the front hole: rcv_nxt crosses zero */
	cr_assert_eq(add_ok(&a, base, 0xc0), 0x140u);
	cr_assert_eq(tcp_asm_rcv_nxt(&a), 0x40u);
	cr_assert_eq(add_ok(&a, 0x40u, 0xc0), 0xd0u);
	cr_assert_eq(tcp_asm_rcv_nxt(&a), 0x110u);
	cr_assert(tcp_asm_empty(&a));
}

Test(tcp_assembler, overflow_refuses_new_hole_and_keeps_state)
{
	struct tcp_assembler a;
	uint32_t adv;

	tcp_asm_init(&a, 0xfffff000u);
	for (uint32_t i = 0; i < TCP_ASM_MAX_RANGES; i++)
		add_ok(&a, 0xfffff000u + 100 + i * 100, 10);
	cr_assert_eq(tcp_asm_count(&a), TCP_ASM_MAX_RANGES);
	struct tcp_assembler before = a;
	cr_assert_eq(tcp_asm_add(&a, 0xfffff000u + 50, 10, &adv), -ENOSPC);
	cr_assert_eq(adv, 0u);
	cr_assert_eq(tcp_asm_add(&a, 0xfffff000u + 100 * 40, 10, &adv), -ENOSPC);
	cr_assert(memcmp(&before, &a, sizeof(a)) == 0, "state changed on -ENOSPC");
	/* extending an existing range needs no slot */
	cr_assert_eq(add_ok(&a, 0xfffff000u + 110, 20), 0u);
	/* neither does in-order data that joins the first range */
	cr_assert_eq(add_ok(&a, 0xfffff000u, 100), 130u);
	cr_assert_eq(tcp_asm_count(&a), TCP_ASM_MAX_RANGES - 1);
	/* now one slot is free again */
	cr_assert_eq(tcp_asm_add(&a, 0xfffff000u + 100 * 40, 10, &adv), 0);
}

Test(tcp_assembler, rejects_huge_len)
{
	struct tcp_assembler a;
	uint32_t adv;

	tcp_asm_init(&a, 0);
	cr_assert_eq(tcp_asm_add(&a, 0, 0x80000000u, &adv), -EINVAL);
	cr_assert_eq(tcp_asm_add(&a, 5, 0, &adv), 0);
	cr_assert_eq(adv, 0u);
	cr_assert_eq(tcp_asm_rcv_nxt(&a), 0u);
}

Test(tcp_assembler, old_data_trimmed_and_reported_dsack)
{
	struct tcp_assembler a;
	struct tcp_sack_block b[4];

	tcp_asm_init(&a, 1000);
	/* entirely old */
	cr_assert_eq(add_ok(&a, 900, 50), 0u);
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 4, true), 1);
	cr_assert_eq(b[0].left, 900u);
	cr_assert_eq(b[0].right, 950u);
	/* without D-SACK requested: nothing */
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 4, false), 0);
	/* straddling rcv_nxt: only the new part counts */
	cr_assert_eq(add_ok(&a, 980, 40), 20u);
	cr_assert_eq(tcp_asm_rcv_nxt(&a), 1020u);
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 4, true), 1);
	cr_assert_eq(b[0].left, 980u);
	cr_assert_eq(b[0].right, 1000u);
	/* a fresh segment clears the D-SACK */
	add_ok(&a, 1020, 10);
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 4, true), 0);
}

/* RFC 2018 §4: most recent segment's block first, then most recent others. */
Test(tcp_assembler, sack_block_order_by_recency)
{
	struct tcp_assembler a;
	struct tcp_sack_block b[4];

	tcp_asm_init(&a, 0);
	add_ok(&a, 100, 10); /* A */
	add_ok(&a, 300, 10); /* C */
	add_ok(&a, 200, 10); /* B */
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 4, true), 3);
	cr_assert_eq(b[0].left, 200u);
	cr_assert_eq(b[1].left, 300u);
	cr_assert_eq(b[2].left, 100u);
	add_ok(&a, 110, 5); /* extends A */
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 4, true), 3);
	cr_assert_eq(b[0].left, 100u);
	cr_assert_eq(b[0].right, 115u);
	cr_assert_eq(b[1].left, 200u);
	cr_assert_eq(b[2].left, 300u);
	add_ok(&a, 400, 10); /* D */
	add_ok(&a, 500, 10); /* E */
	/* only 3 fit with timestamps: E, D, A */
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 3, true), 3);
	cr_assert_eq(b[0].left, 500u);
	cr_assert_eq(b[1].left, 400u);
	cr_assert_eq(b[2].left, 100u);
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 0, true), 0);
}

/* RFC 2883 §4 rule 4: D-SACK, then the block that contains it. */
Test(tcp_assembler, dsack_inside_range_then_containing_block)
{
	struct tcp_assembler a;
	struct tcp_sack_block b[4];

	tcp_asm_init(&a, 0);
	add_ok(&a, 100, 100);
	add_ok(&a, 400, 100);
	add_ok(&a, 150, 20); /* duplicate inside the first range */
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 4, true), 3);
	cr_assert_eq(b[0].left, 150u);
	cr_assert_eq(b[0].right, 170u);
	cr_assert_eq(b[1].left, 100u);
	cr_assert_eq(b[1].right, 200u);
	cr_assert_eq(b[2].left, 400u);
	/* partly new, partly duplicate: D-SACK covers only the old part */
	add_ok(&a, 480, 40);
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 4, true), 3);
	cr_assert_eq(b[0].left, 480u);
	cr_assert_eq(b[0].right, 500u);
	cr_assert_eq(b[1].left, 400u);
	cr_assert_eq(b[1].right, 520u);
	tcp_asm_dsack_clear(&a);
	cr_assert_eq(tcp_asm_sack_blocks(&a, b, 4, true), 2);
	cr_assert_eq(b[0].left, 400u);
}

Test(tcp_assembler, advance_for_fin_drops_below)
{
	struct tcp_assembler a;

	tcp_asm_init(&a, 0xffffffffu);
	add_ok(&a, 0x0u, 10);   /* range [0, 10) just after the FIN */
	cr_assert_eq(tcp_asm_advance(&a, 1), 10u);
	cr_assert_eq(tcp_asm_rcv_nxt(&a), 10u);
	cr_assert(tcp_asm_empty(&a));
	add_ok(&a, 20, 10);
	cr_assert_eq(tcp_asm_advance(&a, 15), 5u); /* clips [20,30) at 25 */
	cr_assert_eq(tcp_asm_rcv_nxt(&a), 30u);
}

/*
 * Random segments in a 4 KiB window starting just below 2^32, against a
 * byte map: rcv_nxt, the ranges and every advance must match the model.
 */
#define MODEL_SPAN 4096
Test(tcp_assembler, random_segments_against_byte_model)
{
	static uint8_t have[MODEL_SPAN * 64];
	const uint32_t isn = 0xfffff800u;
	uint32_t model_nxt = 0; /* offset from isn */
	struct tcp_assembler a;

	memset(have, 0, sizeof(have));
	tcp_asm_init(&a, isn);
	for (int step = 0; step < 30000 && model_nxt + MODEL_SPAN + 1000 < sizeof(have); step++) {
		uint32_t off = model_nxt + (rng_next() % MODEL_SPAN) - 200;
		uint32_t len = 1 + rng_next() % 300;
		uint32_t adv;
		int rc;

		if (off > model_nxt + MODEL_SPAN) /* went "negative" */
			off = 0;
		rc = tcp_asm_add(&a, isn + off, len, &adv);
		if (rc == -ENOSPC) {
			cr_assert_eq(tcp_asm_count(&a), TCP_ASM_MAX_RANGES);
			continue;
		}
		cr_assert_eq(rc, 0);
		for (uint32_t i = off; i < off + len; i++)
			have[i] = 1;
		uint32_t old = model_nxt;
		while (have[model_nxt])
			model_nxt++;
		cr_assert_eq(adv, model_nxt - old, "step %d", step);
		cr_assert_eq(tcp_asm_rcv_nxt(&a), isn + model_nxt);

		/* ranges == runs of received bytes above model_nxt */
		unsigned k = 0;
		for (uint32_t i = model_nxt; i < model_nxt + MODEL_SPAN + 400; ) {
			if (!have[i]) {
				i++;
				continue;
			}
			uint32_t s = i;
			while (have[i])
				i++;
			cr_assert_lt(k, tcp_asm_count(&a));
			cr_assert_eq(a.ranges[k].start, isn + s);
			cr_assert_eq(a.ranges[k].end, isn + i);
			k++;
		}
		cr_assert_eq(k, tcp_asm_count(&a));
	}
	cr_assert_gt(model_nxt, 100000u, "the window should have advanced far");
}
