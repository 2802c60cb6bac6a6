// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "circbuf-ring": the ring arithmetic of kmod/circbuf_ring.h as
 * the kernel compiles it. The host suite (tests/unit/ring_test.cpp) checks
 * the same header as C++; here it is built with the kernel's compiler flags
 * and run on the kernel's size_t, with the cases that matter to the module:
 * every state of small rings (capacity 1 and odd sizes included), the wrap,
 * the split into at most two pieces, segment chunking at the module's
 * segment sizes and at the largest capacity, and a long random run against
 * a FIFO model with real storage.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "circbuf.h"
#include "circbuf_ring.h"

/* Small capacities are covered exhaustively, every (head, used) state. */
#define SMALL_CAP	17

/*
 * A ring of @cap bytes, oldest byte at offset @head, @used bytes buffered;
 * the free-running positions start close to wrapping, so that the cases
 * cross SIZE_MAX as they fill and drain.
 */
static struct circbuf_ring ring_at(size_t cap, size_t head, size_t used)
{
	struct circbuf_ring r;

	circbuf_ring_init(&r, cap);
	r.cons.pos = SIZE_MAX - 4;
	r.cons.off = head;
	r.prod.pos = r.cons.pos + used;
	r.prod.off = (head + used) % cap;
	return r;
}

/*
 * Whether the pieces cover ring offsets off, off + 1, ... modulo @cap, @len
 * of them, in order, each piece inside the ring.
 */
static bool spans_cover(const struct circbuf_piece sp[2], size_t cap,
			size_t off, size_t len)
{
	size_t i = 0, k;
	unsigned int p;

	for (p = 0; p < 2; p++) {
		if (sp[p].len && sp[p].off + sp[p].len > cap)
			return false;
		for (k = 0; k < sp[p].len; k++, i++)
			if (i >= len || sp[p].off + k != (off + i) % cap)
				return false;
	}
	return i == len;
}

static void ring_split_empty_transfer_has_no_pieces(struct kunit *test)
{
	struct circbuf_piece sp[2];
	size_t cap, off;

	for (cap = 1; cap <= SMALL_CAP; cap++)
		for (off = 0; off < cap; off++) {
			KUNIT_ASSERT_EQ(test, circbuf_ring_split(cap, off, 0, sp), 0U);
			KUNIT_ASSERT_EQ(test, sp[0].len + sp[1].len, 0UL);
		}
}

static void ring_split_covers_the_wrapped_range(struct kunit *test)
{
	struct circbuf_piece sp[2];
	size_t cap, off, len;

	for (cap = 1; cap <= SMALL_CAP; cap++)
		for (off = 0; off < cap; off++)
			for (len = 1; len <= cap; len++) {
				bool wraps = off + len > cap;
				unsigned int n = circbuf_ring_split(cap, off, len, sp);

				KUNIT_ASSERT_TRUE_MSG(test, spans_cover(sp, cap, off, len),
						      "cap %zu off %zu len %zu", cap, off, len);
				KUNIT_ASSERT_EQ_MSG(test, n, wraps ? 2U : 1U,
						    "cap %zu off %zu len %zu", cap, off, len);
				KUNIT_ASSERT_EQ(test, sp[1].off, 0UL);
			}
}

static void ring_fold_folds_once_into_range(struct kunit *test)
{
	size_t cap, off;

	for (cap = 1; cap <= SMALL_CAP; cap++)
		for (off = 0; off < 2 * cap; off++)
			KUNIT_ASSERT_EQ(test, circbuf_ring_fold(cap, off), off % cap);
}

static void ring_every_small_state_is_consistent(struct kunit *test)
{
	size_t cap, head, used;

	for (cap = 1; cap <= SMALL_CAP; cap++)
		for (head = 0; head < cap; head++)
			for (used = 0; used <= cap; used++) {
				struct circbuf_ring r = ring_at(cap, head, used);

				KUNIT_ASSERT_EQ(test, circbuf_ring_wr_off(&r),
						(head + used) % cap);
				KUNIT_ASSERT_EQ(test, circbuf_ring_used(&r) +
						circbuf_ring_space(&r), cap);
				KUNIT_ASSERT_EQ(test, circbuf_ring_empty(&r), used == 0);
				KUNIT_ASSERT_EQ(test, circbuf_ring_full(&r), used == cap);
			}
}

/*
 * For every small ring state and request length: the spans of a read
 * (@write false) or a write cover min(len, what is there to move) bytes,
 * from the head or from the write offset.
 */
static void check_spans(struct kunit *test, bool write)
{
	struct circbuf_piece sp[2];
	size_t cap, head, used, len;

	for (cap = 1; cap <= SMALL_CAP; cap++)
		for (head = 0; head < cap; head++)
			for (used = 0; used <= cap; used++)
				for (len = 0; len <= cap + 2; len++) {
					struct circbuf_ring r = ring_at(cap, head, used);
					size_t got = write ? circbuf_ring_write_spans(&r, len, sp) :
							     circbuf_ring_read_spans(&r, len, sp);
					size_t start = write ? head + used : head;
					size_t avail = write ? cap - used : used;

					KUNIT_ASSERT_EQ(test, got, min(len, avail));
					KUNIT_ASSERT_TRUE_MSG(test, spans_cover(sp, cap, start, got),
							      "cap %zu head %zu used %zu len %zu",
							      cap, head, used, len);
				}
}

static void ring_read_spans_clamp_to_used_and_start_at_head(struct kunit *test)
{
	check_spans(test, false);
}

static void ring_write_spans_clamp_to_space_and_start_at_wr_off(struct kunit *test)
{
	check_spans(test, true);
}

static void ring_full_ring_offers_no_space(struct kunit *test)
{
	struct circbuf_piece sp[2];
	size_t cap, head;

	for (cap = 1; cap <= SMALL_CAP; cap++)
		for (head = 0; head < cap; head++) {
			struct circbuf_ring r = ring_at(cap, head, cap);

			KUNIT_ASSERT_EQ(test, circbuf_ring_write_spans(&r, cap, sp), 0UL);
			KUNIT_ASSERT_EQ(test, sp[0].len + sp[1].len, 0UL);
		}
}

static void ring_consume_and_produce_move_the_right_index(struct kunit *test)
{
	size_t cap, head, used, n;

	for (cap = 1; cap <= SMALL_CAP; cap++)
		for (head = 0; head < cap; head++)
			for (used = 0; used <= cap; used++) {
				for (n = 0; n <= used; n++) {
					struct circbuf_ring r = ring_at(cap, head, used);

					circbuf_ring_consume(&r, n);
					KUNIT_ASSERT_EQ(test, circbuf_ring_used(&r), used - n);
					KUNIT_ASSERT_EQ(test, circbuf_ring_rd_off(&r), (head + n) % cap);
				}
				for (n = 0; n <= cap - used; n++) {
					struct circbuf_ring r = ring_at(cap, head, used);

					circbuf_ring_produce(&r, n);
					KUNIT_ASSERT_EQ(test, circbuf_ring_used(&r), used + n);
					KUNIT_ASSERT_EQ(test, circbuf_ring_rd_off(&r), head);
				}
			}
}

static void ring_capacity_one_alternates_empty_and_full(struct kunit *test)
{
	struct circbuf_piece sp[2];
	struct circbuf_ring r;
	int round;

	circbuf_ring_init(&r, 1);
	for (round = 0; round < 3; round++) {
		KUNIT_ASSERT_EQ(test, circbuf_ring_read_spans(&r, 1, sp), 0UL);
		KUNIT_ASSERT_EQ(test, circbuf_ring_write_spans(&r, 5, sp), 1UL);
		KUNIT_ASSERT_EQ(test, sp[0].off, 0UL);
		KUNIT_ASSERT_EQ(test, sp[0].len, 1UL);
		circbuf_ring_produce(&r, 1);
		KUNIT_ASSERT_TRUE(test, circbuf_ring_full(&r));
		KUNIT_ASSERT_EQ(test, circbuf_ring_wr_off(&r), 0UL);
		KUNIT_ASSERT_EQ(test, circbuf_ring_write_spans(&r, 1, sp), 0UL);
		KUNIT_ASSERT_EQ(test, circbuf_ring_read_spans(&r, 5, sp), 1UL);
		KUNIT_ASSERT_EQ(test, sp[0].off, 0UL);
		circbuf_ring_consume(&r, 1);
		KUNIT_ASSERT_TRUE(test, circbuf_ring_empty(&r));
	}
}

static void ring_write_into_drained_ring_wraps_at_the_end(struct kunit *test)
{
	struct circbuf_piece sp[2];
	struct circbuf_ring r;

	circbuf_ring_init(&r, 10);
	circbuf_ring_produce(&r, 7);
	circbuf_ring_consume(&r, 7);
	KUNIT_ASSERT_EQ(test, circbuf_ring_write_spans(&r, 10, sp), 10UL);
	KUNIT_EXPECT_EQ(test, sp[0].off, 7UL);
	KUNIT_EXPECT_EQ(test, sp[0].len, 3UL);
	KUNIT_EXPECT_EQ(test, sp[1].off, 0UL);
	KUNIT_EXPECT_EQ(test, sp[1].len, 7UL);
}

/* The largest ring: offsets fold with one compare, positions wrap, no overflow. */
static void ring_largest_capacity_wraps_without_overflow(struct kunit *test)
{
	const size_t cap = CIRCBUF_MAX_SIZE;
	struct circbuf_ring r = ring_at(cap, cap - 1, cap - 1);
	struct circbuf_piece sp[2];

	KUNIT_EXPECT_EQ(test, circbuf_ring_wr_off(&r), cap - 2);
	KUNIT_ASSERT_EQ(test, circbuf_ring_read_spans(&r, cap, sp), cap - 1);
	KUNIT_EXPECT_EQ(test, sp[0].off, cap - 1);
	KUNIT_EXPECT_EQ(test, sp[0].len, 1UL);
	KUNIT_EXPECT_EQ(test, sp[1].off, 0UL);
	KUNIT_EXPECT_EQ(test, sp[1].len, cap - 2);
	KUNIT_ASSERT_EQ(test, circbuf_ring_write_spans(&r, cap, sp), 1UL);
	KUNIT_EXPECT_EQ(test, sp[0].off, cap - 2);
	circbuf_ring_produce(&r, 1);
	KUNIT_EXPECT_TRUE(test, circbuf_ring_full(&r));
	circbuf_ring_consume(&r, cap);
	KUNIT_EXPECT_EQ(test, circbuf_ring_rd_off(&r), cap - 1);
	KUNIT_EXPECT_TRUE(test, circbuf_ring_empty(&r));
}

/*
 * A ring with storage, driven only through the header, against a FIFO
 * model: writers store consecutive values of a byte counter, so the model
 * is two counters, what was written and what was read.
 */
static void ring_random_operations_match_a_fifo(struct kunit *test)
{
	static const size_t caps[] = { 1, 2, 3, 5, 7, 8, 13, 16, 17, 64, 100,
				       4096, 4097, 65537 };
	struct rnd_state rnd;
	unsigned int c;

	prandom_seed_state(&rnd, 12345);
	for (c = 0; c < ARRAY_SIZE(caps); c++) {
		size_t cap = caps[c];
		u8 *mem = kunit_kzalloc(test, cap, GFP_KERNEL);
		u8 wr = 0, rd = 0;
		struct circbuf_ring r;
		size_t model = 0;
		int op, ops;

		KUNIT_ASSERT_NOT_NULL(test, mem);
		circbuf_ring_init(&r, cap);
		/* A few million bytes per capacity: KASAN under emulation is slow. */
		ops = clamp_t(int, 4000000 / cap, 200, 4000);
		for (op = 0; op < ops; op++) {
			size_t len = prandom_u32_state(&rnd) % (cap + 3);
			bool write = prandom_u32_state(&rnd) & 1;
			struct circbuf_piece sp[2];
			size_t n, i, p, bad = SIZE_MAX;

			if (write)
				n = circbuf_ring_write_spans(&r, len, sp);
			else
				n = circbuf_ring_read_spans(&r, len, sp);
			KUNIT_ASSERT_EQ_MSG(test, n, min(len, write ? cap - model : model),
					    "cap %zu op %d", cap, op);
			for (p = 0; p < 2; p++)
				for (i = 0; i < sp[p].len; i++) {
					u8 *b = &mem[sp[p].off + i];

					if (write)
						*b = wr++;
					else if (*b != rd++ && bad == SIZE_MAX)
						bad = sp[p].off + i;
				}
			KUNIT_ASSERT_EQ_MSG(test, bad, SIZE_MAX,
					    "cap %zu op %d: wrong byte at ring offset %zu",
					    cap, op, bad);
			if (write) {
				circbuf_ring_produce(&r, n);
				model += n;
			} else {
				circbuf_ring_consume(&r, n);
				model -= n;
			}
			KUNIT_ASSERT_EQ(test, circbuf_ring_used(&r), model);
			KUNIT_ASSERT_LT(test, circbuf_ring_rd_off(&r), cap);
		}
	}
}

static void seg_count_rounds_up(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, circbuf_seg_count(1, 0), 1UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_count(4, 2), 1UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_count(5, 2), 2UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_count(1, PAGE_SHIFT), 1UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_count(PAGE_SIZE, PAGE_SHIFT), 1UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_count(PAGE_SIZE + 1, PAGE_SHIFT), 2UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_count(SZ_1M + 1, 20), 2UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_count(CIRCBUF_MAX_SIZE, 22), 64UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_count(CIRCBUF_MAX_SIZE, PAGE_SHIFT),
			(unsigned long)CIRCBUF_MAX_SIZE >> PAGE_SHIFT);
}

/* Segments are full but the last, which is short, and sum to the ring. */
static void seg_len_sums_to_capacity(struct kunit *test)
{
	static const size_t big[] = { 1, PAGE_SIZE - 1, PAGE_SIZE + 1,
				      SZ_1M + 4095, SZ_4M - 1, SZ_4M + 1,
				      CIRCBUF_MAX_SIZE - 1, CIRCBUF_MAX_SIZE };
	unsigned int shift, i;
	size_t cap;

	for (shift = 0; shift <= 22; shift++) {
		for (i = 0; i < ARRAY_SIZE(big) + 40; i++) {
			size_t count, idx, total = 0;

			cap = i < ARRAY_SIZE(big) ? big[i] : i - ARRAY_SIZE(big) + 1;
			count = circbuf_seg_count(cap, shift);
			if (count > SZ_64K)	/* tiny segments of a huge ring */
				continue;
			for (idx = 0; idx < count; idx++) {
				size_t len = circbuf_seg_len(cap, shift, idx);

				KUNIT_ASSERT_GE(test, len, 1UL);
				if (idx + 1 < count)
					KUNIT_ASSERT_EQ(test, len, (size_t)1 << shift);
				total += len;
			}
			KUNIT_ASSERT_EQ_MSG(test, total, cap, "shift %u", shift);
		}
	}
}

/* Cut the piece [@off, @off + @len) at segment boundaries, checking each chunk. */
static void check_chunks(struct kunit *test, size_t cap, unsigned int shift,
			 size_t off, size_t len)
{
	size_t pos = off, left = len;

	while (left) {
		size_t idx, seg_off, n;

		n = circbuf_seg_chunk(pos, left, shift, &idx, &seg_off);
		KUNIT_ASSERT_GE(test, n, 1UL);
		KUNIT_ASSERT_LE(test, n, left);
		KUNIT_ASSERT_LT(test, idx, circbuf_seg_count(cap, shift));
		KUNIT_ASSERT_EQ(test, (idx << shift) + seg_off, pos);
		KUNIT_ASSERT_LE_MSG(test, seg_off + n, circbuf_seg_len(cap, shift, idx),
				    "cap %zu shift %u off %zu len %zu", cap, shift, off, len);
		/* Cut only where a segment ends. */
		if (n < left)
			KUNIT_ASSERT_EQ(test, (pos + n) % ((size_t)1 << shift), 0UL);
		pos += n;
		left -= n;
	}
}

/* Cutting every piece of small rings at segment boundaries. */
static void seg_chunk_walks_every_piece_across_boundaries(struct kunit *test)
{
	unsigned int shift;
	size_t cap, off, len;

	for (shift = 0; shift <= 3; shift++)
		for (cap = 1; cap <= 20; cap++)
			for (off = 0; off < cap; off++)
				for (len = 1; off + len <= cap; len++)
					check_chunks(test, cap, shift, off, len);
}

static void seg_chunk_stops_at_the_segment_end(struct kunit *test)
{
	size_t idx, seg_off;

	KUNIT_EXPECT_EQ(test, circbuf_seg_chunk(6, 10, 2, &idx, &seg_off), 2UL);
	KUNIT_EXPECT_EQ(test, idx, 1UL);
	KUNIT_EXPECT_EQ(test, seg_off, 2UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_chunk(8, 2, 2, &idx, &seg_off), 2UL);
	KUNIT_EXPECT_EQ(test, idx, 2UL);
	KUNIT_EXPECT_EQ(test, seg_off, 0UL);
	/* The module's segment sizes, at the last segment of the largest ring. */
	KUNIT_EXPECT_EQ(test, circbuf_seg_chunk(CIRCBUF_MAX_SIZE - 5, 5, 22,
						&idx, &seg_off), 5UL);
	KUNIT_EXPECT_EQ(test, idx, 63UL);
	KUNIT_EXPECT_EQ(test, seg_off, (unsigned long)SZ_4M - 5);
	KUNIT_EXPECT_EQ(test, circbuf_seg_chunk(SZ_1M - 1, SZ_1M, 20,
						&idx, &seg_off), 1UL);
	KUNIT_EXPECT_EQ(test, idx, 0UL);
	KUNIT_EXPECT_EQ(test, circbuf_seg_chunk(PAGE_SIZE + 3, 3 * PAGE_SIZE,
						PAGE_SHIFT, &idx, &seg_off),
			PAGE_SIZE - 3);
	KUNIT_EXPECT_EQ(test, idx, 1UL);
	KUNIT_EXPECT_EQ(test, seg_off, 3UL);
}

static struct kunit_case circbuf_ring_cases[] = {
	KUNIT_CASE(ring_split_empty_transfer_has_no_pieces),
	KUNIT_CASE(ring_split_covers_the_wrapped_range),
	KUNIT_CASE(ring_fold_folds_once_into_range),
	KUNIT_CASE(ring_every_small_state_is_consistent),
	KUNIT_CASE(ring_read_spans_clamp_to_used_and_start_at_head),
	KUNIT_CASE(ring_write_spans_clamp_to_space_and_start_at_wr_off),
	KUNIT_CASE(ring_full_ring_offers_no_space),
	KUNIT_CASE(ring_consume_and_produce_move_the_right_index),
	KUNIT_CASE(ring_capacity_one_alternates_empty_and_full),
	KUNIT_CASE(ring_write_into_drained_ring_wraps_at_the_end),
	KUNIT_CASE(ring_largest_capacity_wraps_without_overflow),
	KUNIT_CASE(ring_random_operations_match_a_fifo),
	KUNIT_CASE(seg_count_rounds_up),
	KUNIT_CASE(seg_len_sums_to_capacity),
	KUNIT_CASE(seg_chunk_walks_every_piece_across_boundaries),
	KUNIT_CASE(seg_chunk_stops_at_the_segment_end),
	{}
};

static struct kunit_suite circbuf_ring_suite = {
	.name = "circbuf-ring",
	.test_cases = circbuf_ring_cases,
};

kunit_test_suite(circbuf_ring_suite);
