// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "circbuf-dma-sg": how the DMA data path cuts a transfer into
 * memcpy descriptors and describes user memory (kmod/circbuf_dma_sg.h, the
 * code circbuf_dma_xfer.c runs), on made-up segment tables and mapped
 * scatterlists and on real pages: the wrap, segment boundaries (the short
 * last segment too), scatterlist entry boundaries, the longest entry the
 * engine takes, odd offsets and lengths, capacity 1, the bound on the
 * number of descriptors, and io_uring's bio_vecs described page by page.
 *
 * Every walk is checked byte by byte against a model: each chunk must be
 * the bus addresses the model gives for its first and last byte, lie in one
 * segment and one scatterlist entry, and end only where it must.
 */
#include <kunit/test.h>
#include <linux/bvec.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "circbuf_dma_sg.h"
#include "circbuf_ring.h"

/*
 * Made-up bus addresses: segments and user entries 4 GiB apart, never
 * contiguous, the segments in reverse order so that nothing can assume
 * they ascend.
 */
#define RING_BUS	0x1000000000000ULL
#define USER_BUS	0x2000000000000ULL
#define BUS_STRIDE	0x100000000ULL

/* A ring of @cap bytes in segments of 2^@shift bytes, no memory behind. */
static void fake_ring(struct kunit *test, struct circbuf_dma_buf *buf,
		      size_t cap, unsigned int shift)
{
	size_t i, n = circbuf_seg_count(cap, shift);

	buf->segs = kunit_kcalloc(test, n, sizeof(*buf->segs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf->segs);
	buf->dev = NULL;
	buf->size = cap;
	buf->seg_shift = shift;
	buf->nr_segs = n;
	for (i = 0; i < n; i++) {
		buf->segs[i].chan_dma = RING_BUS + (n - i) * BUS_STRIDE;
		buf->segs[i].len = circbuf_seg_len(cap, shift, i);
	}
}

/* A mapped scatterlist of @n entries of the lengths @lens, no pages. */
static struct scatterlist *fake_sg(struct kunit *test, const size_t *lens,
				   unsigned int n)
{
	struct scatterlist *sgl, *sg;
	unsigned int i;

	sgl = kunit_kcalloc(test, n, sizeof(*sgl), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sgl);
	sg_init_table(sgl, n);
	for_each_sg(sgl, sg, n, i) {
		/* An odd start, as after an unaligned user pointer. */
		sg_dma_address(sg) = USER_BUS + i * BUS_STRIDE + 3 * i + 1;
		sg_dma_len(sg) = lens[i];
	}
	return sgl;
}

/* Pages for one test case, freed when it ends, however it ends. */
struct test_pages {
	struct page *page;
	unsigned int order;
};

static int test_pages_init(struct kunit_resource *res, void *order)
{
	struct test_pages *tp = kzalloc(sizeof(*tp), GFP_KERNEL);

	if (!tp)
		return -ENOMEM;
	tp->order = *(unsigned int *)order;
	tp->page = alloc_pages(GFP_KERNEL, tp->order);
	if (!tp->page) {
		kfree(tp);
		return -ENOMEM;
	}
	res->data = tp;
	return 0;
}

static void test_pages_free(struct kunit_resource *res)
{
	struct test_pages *tp = res->data;

	__free_pages(tp->page, tp->order);
	kfree(tp);
}

static struct page *test_alloc_pages(struct kunit *test, unsigned int order)
{
	struct test_pages *tp = kunit_alloc_resource(test, test_pages_init,
						     test_pages_free, GFP_KERNEL,
						     &order);

	KUNIT_ASSERT_NOT_NULL(test, tp);
	return tp->page;
}

/* An sg_table for one test case, freed when it ends. */
static int test_sgt_init(struct kunit_resource *res, void *context)
{
	struct sg_table *sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);

	res->data = sgt;
	return sgt ? 0 : -ENOMEM;
}

static void test_sgt_free(struct kunit_resource *res)
{
	sg_free_table(res->data);
	kfree(res->data);
}

static struct sg_table *test_alloc_sgt(struct kunit *test)
{
	struct sg_table *sgt = kunit_alloc_resource(test, test_sgt_init,
						    test_sgt_free, GFP_KERNEL,
						    NULL);

	KUNIT_ASSERT_NOT_NULL(test, sgt);
	return sgt;
}

/* Ring bus address of transfer byte @j, starting at ring offset @start. */
static dma_addr_t model_ring(const struct circbuf_dma_buf *buf, size_t start,
			     size_t j, size_t *seg)
{
	size_t off = (start + j) % buf->size;

	*seg = off >> buf->seg_shift;
	return buf->segs[*seg].chan_dma + (off & (((size_t)1 << buf->seg_shift) - 1));
}

/* User bus address of transfer byte @j, and the entry it lies in. */
static dma_addr_t model_user(struct scatterlist *sgl, unsigned int nents,
			     size_t j, unsigned int *entry)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sg(sgl, sg, nents, i) {
		if (j < sg_dma_len(sg)) {
			*entry = i;
			return sg_dma_address(sg) + j;
		}
		j -= sg_dma_len(sg);
	}
	*entry = UINT_MAX;
	return 0;
}

/*
 * Walk the transfer of @len bytes at ring offset @start against the model;
 * @len must be what the mapped entries hold. Return: the chunks made.
 */
static size_t check_walk(struct kunit *test, const struct circbuf_dma_buf *buf,
			 size_t start, size_t len, struct scatterlist *sgl,
			 unsigned int nents, size_t max_len)
{
	size_t done = 0, nr = 0, seg_first, seg_last, prev_seg = 0;
	unsigned int ent_first, ent_last, prev_ent = 0;
	dma_addr_t prev_ring_end = 0;
	struct circbuf_dma_chunk c;
	struct circbuf_dma_walk w;
	struct circbuf_piece sp[2];

	circbuf_ring_split(buf->size, start, len, sp);
	circbuf_dma_walk_init(&w, buf, sp, sgl, nents);
	while (circbuf_dma_walk_next(&w, &c)) {
		size_t last = done + c.len - 1;

		KUNIT_ASSERT_GE(test, c.len, 1UL);
		KUNIT_ASSERT_LE(test, c.len, max_len);
		KUNIT_ASSERT_LE_MSG(test, done + c.len, len,
				    "cap %zu start %zu len %zu: chunks run past the transfer",
				    buf->size, start, len);
		KUNIT_ASSERT_EQ_MSG(test, c.ring, model_ring(buf, start, done, &seg_first),
				    "cap %zu start %zu len %zu chunk %zu", buf->size, start,
				    len, nr);
		KUNIT_ASSERT_EQ(test, c.ring + c.len - 1,
				model_ring(buf, start, last, &seg_last));
		KUNIT_ASSERT_EQ(test, seg_first, seg_last);
		KUNIT_ASSERT_EQ_MSG(test, c.user, model_user(sgl, nents, done, &ent_first),
				    "cap %zu start %zu len %zu chunk %zu", buf->size, start,
				    len, nr);
		KUNIT_ASSERT_EQ(test, c.user + c.len - 1,
				model_user(sgl, nents, last, &ent_last));
		KUNIT_ASSERT_EQ(test, ent_first, ent_last);
		/* A cut only where the ring or the user memory stops. */
		if (nr)
			KUNIT_ASSERT_TRUE_MSG(test, prev_ring_end != c.ring ||
					      prev_seg != seg_first || prev_ent != ent_first,
					      "cap %zu start %zu len %zu: needless cut before chunk %zu",
					      buf->size, start, len, nr);
		prev_ring_end = c.ring + c.len;
		prev_seg = seg_first;
		prev_ent = ent_first;
		done += c.len;
		nr++;
	}
	KUNIT_ASSERT_EQ_MSG(test, done, len, "cap %zu start %zu len %zu",
			    buf->size, start, len);
	KUNIT_ASSERT_LE(test, nr, circbuf_dma_max_chunks(nents, buf->nr_segs));
	return nr;
}

static void dma_sg_one_entry_inside_one_segment_is_one_chunk(struct kunit *test)
{
	struct circbuf_dma_buf buf;
	const size_t lens[] = { 1000 };
	struct scatterlist *sgl = fake_sg(test, lens, 1);

	fake_ring(test, &buf, 65536, 20);
	KUNIT_EXPECT_EQ(test, check_walk(test, &buf, 100, 1000, sgl, 1, SIZE_MAX), 1UL);
}

static void dma_sg_wrap_cuts_at_the_ring_end(struct kunit *test)
{
	struct circbuf_dma_buf buf;
	const size_t lens[] = { 3000 };
	struct scatterlist *sgl = fake_sg(test, lens, 1);
	struct circbuf_dma_chunk c;
	struct circbuf_dma_walk w;
	struct circbuf_piece sp[2];

	fake_ring(test, &buf, 10007, 20);
	KUNIT_EXPECT_EQ(test, check_walk(test, &buf, 9000, 3000, sgl, 1, SIZE_MAX), 2UL);

	circbuf_ring_split(buf.size, 9000, 3000, sp);
	circbuf_dma_walk_init(&w, &buf, sp, sgl, 1);
	KUNIT_ASSERT_TRUE(test, circbuf_dma_walk_next(&w, &c));
	KUNIT_EXPECT_EQ(test, c.ring, buf.segs[0].chan_dma + 9000);
	KUNIT_EXPECT_EQ(test, c.len, 1007UL);
	KUNIT_ASSERT_TRUE(test, circbuf_dma_walk_next(&w, &c));
	KUNIT_EXPECT_EQ(test, c.ring, buf.segs[0].chan_dma);
	KUNIT_EXPECT_EQ(test, c.user, sg_dma_address(sgl) + 1007);
	KUNIT_EXPECT_EQ(test, c.len, 1993UL);
	KUNIT_EXPECT_FALSE(test, circbuf_dma_walk_next(&w, &c));
}

static void dma_sg_segment_boundaries_cut(struct kunit *test)
{
	struct circbuf_dma_buf buf;
	const size_t lens[] = { 3 * PAGE_SIZE };
	struct scatterlist *sgl = fake_sg(test, lens, 1);

	/* Five full pages and a short sixth of 123 bytes. */
	fake_ring(test, &buf, 5 * PAGE_SIZE + 123, PAGE_SHIFT);
	KUNIT_ASSERT_EQ(test, buf.nr_segs, 6UL);
	/* 96 bytes to the first boundary, two whole pages, PAGE_SIZE - 96. */
	KUNIT_EXPECT_EQ(test, check_walk(test, &buf, PAGE_SIZE - 96, 3 * PAGE_SIZE,
					 sgl, 1, PAGE_SIZE), 4UL);
}

/* Into the short last segment, across the wrap into segment 0. */
static void dma_sg_wrap_out_of_the_short_last_segment(struct kunit *test)
{
	struct circbuf_dma_buf buf;
	const size_t lens[] = { 2 * PAGE_SIZE };
	struct scatterlist *sgl = fake_sg(test, lens, 1);

	fake_ring(test, &buf, 3 * PAGE_SIZE + 123, PAGE_SHIFT);
	/* 23 bytes of the last segment, then page 0, then 4096 - 23 of page 1. */
	KUNIT_EXPECT_EQ(test, check_walk(test, &buf, 3 * PAGE_SIZE + 100,
					 2 * PAGE_SIZE, sgl, 1, PAGE_SIZE), 3UL);
}

static void dma_sg_entry_boundaries_cut(struct kunit *test)
{
	struct circbuf_dma_buf buf;
	const size_t lens[] = { 100, PAGE_SIZE, 1, 3000, 7 };
	struct scatterlist *sgl = fake_sg(test, lens, ARRAY_SIZE(lens));

	fake_ring(test, &buf, 65536, 20);
	KUNIT_EXPECT_EQ(test, check_walk(test, &buf, 5, 100 + PAGE_SIZE + 1 + 3000 + 7,
					 sgl, ARRAY_SIZE(lens), PAGE_SIZE), 5UL);
}

static void dma_sg_capacity_one(struct kunit *test)
{
	struct circbuf_dma_buf buf;
	const size_t lens[] = { 1 };
	struct scatterlist *sgl = fake_sg(test, lens, 1);

	fake_ring(test, &buf, 1, 0);
	KUNIT_EXPECT_EQ(test, check_walk(test, &buf, 0, 1, sgl, 1, 1), 1UL);
	fake_ring(test, &buf, 1, PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, check_walk(test, &buf, 0, 1, sgl, 1, 1), 1UL);
}

/*
 * Every start and length in small rings with tiny segments, user memory in
 * entries of odd lengths: every kind of coincidence between the cuts.
 */
static void dma_sg_every_small_transfer_matches_the_model(struct kunit *test)
{
	static const size_t cycle[] = { 1, 3, 2, 5, 4, 8, 1, 7 };
	size_t lens[32], cap, start, len, total;
	struct circbuf_dma_buf buf;
	struct scatterlist *sgl;
	unsigned int shift, n, phase, k;

	for (phase = 0; phase < ARRAY_SIZE(cycle); phase += 3) {
		for (shift = 0; shift <= 3; shift++) {
			for (cap = 1; cap <= 24; cap++) {
				fake_ring(test, &buf, cap, shift);
				for (len = 1; len <= cap; len++) {
					for (n = 0, total = 0; total < len; n++) {
						k = (n + phase) % ARRAY_SIZE(cycle);
						lens[n] = min(cycle[k], len - total);
						total += lens[n];
					}
					sgl = fake_sg(test, lens, n);
					for (start = 0; start < cap; start++)
						check_walk(test, &buf, start, len, sgl, n,
							   SIZE_MAX);
					kunit_kfree(test, sgl);
				}
				kunit_kfree(test, buf.segs);
			}
		}
	}
}

/* Only the mapped entries count: an IOMMU may merge them into fewer. */
static void dma_sg_uses_only_the_mapped_entries(struct kunit *test)
{
	const size_t lens[] = { 300, 200, 0xdead };
	struct scatterlist *sgl = fake_sg(test, lens, ARRAY_SIZE(lens));
	struct circbuf_dma_buf buf;

	fake_ring(test, &buf, 4096, PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, check_walk(test, &buf, 4000, 500, sgl, 2, SIZE_MAX), 3UL);
}

/* A side that runs out ends the walk; nothing is invented past it. */
static void dma_sg_walk_stops_when_either_side_runs_out(struct kunit *test)
{
	const size_t lens[] = { 100, 50 };
	struct scatterlist *sgl = fake_sg(test, lens, ARRAY_SIZE(lens));
	struct circbuf_dma_buf buf;
	struct circbuf_dma_chunk c;
	struct circbuf_dma_walk w;
	struct circbuf_piece sp[2];
	size_t done = 0;

	fake_ring(test, &buf, 1000, 20);
	/* The ring asks for 400 bytes, the user memory has 150. */
	circbuf_ring_split(buf.size, 900, 400, sp);
	circbuf_dma_walk_init(&w, &buf, sp, sgl, 2);
	while (circbuf_dma_walk_next(&w, &c))
		done += c.len;
	KUNIT_EXPECT_EQ(test, done, 150UL);

	/* The user memory has 150, the ring asks for 120. */
	done = 0;
	circbuf_ring_split(buf.size, 990, 120, sp);
	circbuf_dma_walk_init(&w, &buf, sp, sgl, 2);
	while (circbuf_dma_walk_next(&w, &c))
		done += c.len;
	KUNIT_EXPECT_EQ(test, done, 120UL);

	/* No entries, no transfer: nothing. */
	circbuf_dma_walk_init(&w, &buf, sp, sgl, 0);
	KUNIT_EXPECT_FALSE(test, circbuf_dma_walk_next(&w, &c));
	circbuf_ring_split(buf.size, 10, 0, sp);
	circbuf_dma_walk_init(&w, &buf, sp, sgl, 2);
	KUNIT_EXPECT_FALSE(test, circbuf_dma_walk_next(&w, &c));
}

/* The worst case: one-byte entries, one-byte segments, across the wrap. */
static void dma_sg_chunk_count_stays_within_the_bound(struct kunit *test)
{
	size_t lens[64], i, nr;
	struct circbuf_dma_buf buf;
	struct scatterlist *sgl;

	for (i = 0; i < ARRAY_SIZE(lens); i++)
		lens[i] = 1;
	sgl = fake_sg(test, lens, ARRAY_SIZE(lens));
	fake_ring(test, &buf, 64, 0);
	nr = check_walk(test, &buf, 63, 64, sgl, 64, 1);
	KUNIT_EXPECT_EQ(test, nr, 64UL);
	KUNIT_EXPECT_LE(test, nr, circbuf_dma_max_chunks(64, buf.nr_segs));

	/* One entry, a cut at every segment boundary and at the wrap. */
	lens[0] = 64;
	sgl = fake_sg(test, lens, 1);
	fake_ring(test, &buf, 64, 2);
	nr = check_walk(test, &buf, 61, 64, sgl, 1, 4);
	KUNIT_EXPECT_EQ(test, nr, 17UL);
	KUNIT_EXPECT_LE(test, nr, circbuf_dma_max_chunks(1, buf.nr_segs));
}

static void dma_sg_max_seg_is_whole_pages(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, circbuf_dma_sg_max_seg(UINT_MAX),
			(unsigned int)round_down(UINT_MAX, PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, circbuf_dma_sg_max_seg(SZ_64K), (unsigned int)SZ_64K);
	KUNIT_EXPECT_EQ(test, circbuf_dma_sg_max_seg(SZ_64K - 1),
			(unsigned int)(SZ_64K - PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, circbuf_dma_sg_max_seg(PAGE_SIZE + 1), (unsigned int)PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, circbuf_dma_sg_max_seg(100), (unsigned int)PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, circbuf_dma_sg_max_seg(0), (unsigned int)PAGE_SIZE);
}

/*
 * Real pages, physically contiguous, through the scatterlist builder the
 * driver uses with the maximum segment it computes: no entry and so no
 * descriptor is longer than the engine allows, whatever the merging.
 */
static void dma_sg_from_pages_respects_the_max_segment(struct kunit *test)
{
	static const unsigned int dev_max[] = { 3 * PAGE_SIZE + 7, PAGE_SIZE - 1,
						UINT_MAX };
	const unsigned int order = 3, npages = 1 << order;
	const unsigned int offset = 123;
	const size_t size = npages * PAGE_SIZE - offset - 45;
	struct page *pages[1 << 3], *block = test_alloc_pages(test, order);
	struct circbuf_dma_buf buf;
	unsigned int i, d;

	for (i = 0; i < npages; i++)
		pages[i] = nth_page(block, i);
	/* Room for the whole transfer, across the wrap, in 8 KiB segments. */
	fake_ring(test, &buf, 9 * PAGE_SIZE + 321, PAGE_SHIFT + 1);

	for (d = 0; d < ARRAY_SIZE(dev_max); d++) {
		unsigned int max_seg = circbuf_dma_sg_max_seg(dev_max[d]);
		struct sg_table *sgt = test_alloc_sgt(test);
		struct scatterlist *sg;
		size_t total = 0;

		KUNIT_ASSERT_EQ(test, sg_alloc_table_from_pages_segment(sgt, pages, npages,
									offset, size, max_seg,
									GFP_KERNEL), 0);
		/* Mapped one to one, as dma-direct without an IOMMU does. */
		for_each_sgtable_sg(sgt, sg, i) {
			KUNIT_EXPECT_LE(test, sg->length, max_seg);
			sg_dma_address(sg) = sg_phys(sg);
			sg_dma_len(sg) = sg->length;
			total += sg->length;
		}
		sgt->nents = sgt->orig_nents;
		KUNIT_EXPECT_EQ(test, total, size);
		if (dev_max[d] == UINT_MAX)
			KUNIT_EXPECT_EQ(test, sgt->nents, 1U);
		else
			KUNIT_EXPECT_EQ(test, sgt->nents, DIV_ROUND_UP(offset + size, max_seg));
		check_walk(test, &buf, 7 * PAGE_SIZE + 7, size, sgt->sgl, sgt->nents,
			   min_t(size_t, max_seg, 2 * PAGE_SIZE));
	}
}

/*
 * Check that the entries from @sgl on describe @len bytes of the bio_vecs
 * from @skip on, page by page; return the entries used.
 */
static unsigned int check_bvec_sg(struct kunit *test, struct scatterlist *sgl,
				  const struct bio_vec *bv, size_t skip, size_t len)
{
	struct scatterlist *sg = sgl;
	unsigned int n = 0;

	for (; len; skip = 0, bv++) {
		size_t left = min_t(size_t, len, bv->bv_len - skip);
		size_t off = bv->bv_offset + skip;

		len -= left;
		while (left) {
			size_t chunk = min_t(size_t, left, PAGE_SIZE - off % PAGE_SIZE);

			KUNIT_ASSERT_NOT_NULL(test, sg);
			KUNIT_ASSERT_PTR_EQ(test, sg_page(sg),
					    nth_page(bv->bv_page, off / PAGE_SIZE));
			KUNIT_ASSERT_EQ(test, sg->offset, (unsigned int)(off % PAGE_SIZE));
			KUNIT_ASSERT_EQ(test, sg->length, (unsigned int)chunk);
			KUNIT_ASSERT_LE(test, sg->offset + sg->length, (unsigned int)PAGE_SIZE);
			sg = sg_next(sg);
			n++;
			off += chunk;
			left -= chunk;
		}
	}
	return n;
}

static void dma_sg_bvecs_are_described_page_by_page(struct kunit *test)
{
	struct page *block = test_alloc_pages(test, 2);
	struct page *single = test_alloc_pages(test, 0);
	struct scatterlist sgl[8];
	struct bio_vec bv[3];
	size_t skip = 50, len;
	unsigned int count;

	/* A multi-page bio_vec, one byte at a page's end, and one from page 2 on. */
	bv[0] = (struct bio_vec){ .bv_page = block, .bv_len = 5000, .bv_offset = 100 };
	bv[1] = (struct bio_vec){ .bv_page = single, .bv_len = 1, .bv_offset = PAGE_SIZE - 1 };
	bv[2] = (struct bio_vec){ .bv_page = nth_page(block, 2), .bv_len = PAGE_SIZE + 10,
				  .bv_offset = PAGE_SIZE - 96 };
	len = 5000 - skip + 1 + PAGE_SIZE + 10 - 6;

	count = circbuf_bvec_sg_count(bv, skip, len);
	KUNIT_EXPECT_EQ(test, count, 5U);
	sg_init_table(sgl, count);
	KUNIT_EXPECT_NULL(test, circbuf_bvec_sg_fill(sgl, bv, skip, len));
	KUNIT_EXPECT_EQ(test, check_bvec_sg(test, sgl, bv, skip, len), count);

	/* Skipping into the second page of the multi-page bio_vec. */
	count = circbuf_bvec_sg_count(bv, PAGE_SIZE, 900);
	KUNIT_EXPECT_EQ(test, count, 1U);
	sg_init_table(sgl, count);
	circbuf_bvec_sg_fill(sgl, bv, PAGE_SIZE, 900);
	KUNIT_EXPECT_TRUE(test, sg_page(&sgl[0]) == nth_page(block, 1));
	KUNIT_EXPECT_EQ(test, sgl[0].offset, 100U);
}

/* Every skip and length over a run of bio_vecs: count and fill agree. */
static void dma_sg_bvec_count_matches_the_entries_filled(struct kunit *test)
{
	struct page *block = test_alloc_pages(test, 2);
	struct scatterlist *sgl, *end;
	struct bio_vec bv[2];
	size_t skip, len, total;
	unsigned int count, used;

	sgl = kunit_kcalloc(test, 8, sizeof(*sgl), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sgl);
	bv[0] = (struct bio_vec){ .bv_page = block, .bv_len = 2 * PAGE_SIZE + 1,
				  .bv_offset = 777 };
	bv[1] = (struct bio_vec){ .bv_page = nth_page(block, 3), .bv_len = 999,
				  .bv_offset = 3000 };
	total = bv[0].bv_len + bv[1].bv_len;

	for (skip = 0; skip < bv[0].bv_len; skip += 97)
		for (len = 1; skip + len <= total; len += 211) {
			count = circbuf_bvec_sg_count(bv, skip, len);
			KUNIT_ASSERT_LE(test, count, 8U);
			sg_init_table(sgl, count);
			end = circbuf_bvec_sg_fill(sgl, bv, skip, len);
			KUNIT_ASSERT_NULL(test, end);
			used = check_bvec_sg(test, sgl, bv, skip, len);
			KUNIT_ASSERT_EQ_MSG(test, used, count, "skip %zu len %zu", skip, len);
		}
}

static struct kunit_case circbuf_dma_sg_cases[] = {
	KUNIT_CASE(dma_sg_one_entry_inside_one_segment_is_one_chunk),
	KUNIT_CASE(dma_sg_wrap_cuts_at_the_ring_end),
	KUNIT_CASE(dma_sg_segment_boundaries_cut),
	KUNIT_CASE(dma_sg_wrap_out_of_the_short_last_segment),
	KUNIT_CASE(dma_sg_entry_boundaries_cut),
	KUNIT_CASE(dma_sg_capacity_one),
	KUNIT_CASE(dma_sg_every_small_transfer_matches_the_model),
	KUNIT_CASE(dma_sg_uses_only_the_mapped_entries),
	KUNIT_CASE(dma_sg_walk_stops_when_either_side_runs_out),
	KUNIT_CASE(dma_sg_chunk_count_stays_within_the_bound),
	KUNIT_CASE(dma_sg_max_seg_is_whole_pages),
	KUNIT_CASE(dma_sg_from_pages_respects_the_max_segment),
	KUNIT_CASE(dma_sg_bvecs_are_described_page_by_page),
	KUNIT_CASE(dma_sg_bvec_count_matches_the_entries_filled),
	{}
};

static struct kunit_suite circbuf_dma_sg_suite = {
	.name = "circbuf-dma-sg",
	.test_cases = circbuf_dma_sg_cases,
};

kunit_test_suite(circbuf_dma_sg_suite);
