/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure part of circbuf's DMA data path (circbuf_dma_xfer.c): how a
 * transfer is cut into memcpy descriptors and how user memory is described
 * by a scatterlist. No allocation, no locking and no DMA API calls, so that
 * the KUnit tests (tests/kunit/) run the very code the driver runs, on
 * scatterlists and segment tables they make up.
 *
 * A transfer is cut wherever either side stops being contiguous: at the end
 * of each mapped scatterlist entry of the user's memory, and in the ring at
 * every segment boundary and at the wrap:
 *
 *   user sg:  [ entry 0         ][ entry 1 ][ entry 2 ...
 *   ring:          [ seg 5 (tail of the ring) ][ seg 0 (after the wrap) ...
 *   chunks:   [ c0              ][ c1 ][c2][ c3  ]...
 */
#ifndef _CIRCBUF_DMA_SG_H
#define _CIRCBUF_DMA_SG_H

#include <linux/bvec.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/types.h>

#include "circbuf_dma_buf.h"
#include "circbuf_ring.h"

/**
 * struct circbuf_dma_chunk - what one memcpy descriptor moves
 * @ring:	bus address in the ring
 * @user:	bus address in the user's mapped memory
 * @len:	bytes, >= 1
 */
struct circbuf_dma_chunk {
	dma_addr_t ring;
	dma_addr_t user;
	size_t len;
};

/**
 * struct circbuf_dma_walk - cursor over both sides of a transfer
 * @segs:	the ring's segment table
 * @seg_shift:	log2 of the segment size
 * @sp:		the transfer's pieces of the ring, see circbuf_ring_split()
 * @piece:	index in @sp of the piece being cut
 * @off:	ring offset of the next byte
 * @left:	bytes of the current piece not yet cut
 * @sg:		the mapped entry being cut, or NULL when none is left
 * @sg_left:	mapped entries after @sg
 * @user:	bus address of the next user byte
 * @user_left:	bytes of @sg not yet cut
 */
struct circbuf_dma_walk {
	const struct circbuf_dma_seg *segs;
	unsigned int seg_shift;
	struct circbuf_piece sp[2];
	unsigned int piece;
	size_t off;
	size_t left;
	struct scatterlist *sg;
	unsigned int sg_left;
	dma_addr_t user;
	size_t user_left;
};

/* Make @sg the current user entry, or end the user side if it is NULL. */
static inline void circbuf_dma_walk_set_sg(struct circbuf_dma_walk *w,
					   struct scatterlist *sg)
{
	w->sg = sg;
	w->user = sg ? sg_dma_address(sg) : 0;
	w->user_left = sg ? sg_dma_len(sg) : 0;
}

/**
 * circbuf_dma_walk_init() - start cutting a transfer into chunks
 * @w:		the cursor
 * @buf:	the ring's storage
 * @sp:		the ring pieces of the transfer (circbuf_spans())
 * @sgl:	the user memory's scatterlist, mapped
 * @nents:	mapped entries in @sgl (sg_table.nents, not orig_nents)
 */
static inline void circbuf_dma_walk_init(struct circbuf_dma_walk *w,
					 const struct circbuf_dma_buf *buf,
					 const struct circbuf_piece sp[2],
					 struct scatterlist *sgl,
					 unsigned int nents)
{
	w->segs = buf->segs;
	w->seg_shift = buf->seg_shift;
	w->sp[0] = sp[0];
	w->sp[1] = sp[1];
	w->piece = 0;
	w->off = sp[0].off;
	w->left = sp[0].len;
	w->sg_left = nents ? nents - 1 : 0;
	circbuf_dma_walk_set_sg(w, nents ? sgl : NULL);
}

/**
 * circbuf_dma_walk_next() - the next chunk of the transfer
 * @w:		the cursor
 * @c:		filled with the chunk
 *
 * Each chunk is contiguous in the ring (one segment, one side of the wrap)
 * and in the user's memory (one mapped entry), so it is never longer than
 * the ring's segments or the scatterlist's entries.
 *
 * Return: false when either side is exhausted. The chunks cover the
 * transfer whole when the scatterlist maps exactly its length.
 */
static inline bool circbuf_dma_walk_next(struct circbuf_dma_walk *w,
					 struct circbuf_dma_chunk *c)
{
	size_t idx, seg_off, n;

	/* Skip empty pieces and entries: split() gives zero-length ones. */
	while (!w->left && w->piece + 1 < ARRAY_SIZE(w->sp)) {
		w->piece++;
		w->off = w->sp[w->piece].off;
		w->left = w->sp[w->piece].len;
	}
	while (w->sg && !w->user_left) {
		struct scatterlist *next = NULL;

		if (w->sg_left) {
			w->sg_left--;
			next = sg_next(w->sg);
		}
		circbuf_dma_walk_set_sg(w, next);
	}
	if (!w->left || !w->sg)
		return false;

	n = circbuf_seg_chunk(w->off, w->left, w->seg_shift, &idx, &seg_off);
	n = min(n, w->user_left);
	c->ring = w->segs[idx].chan_dma + seg_off;
	c->user = w->user;
	c->len = n;

	w->off += n;
	w->left -= n;
	w->user += n;
	w->user_left -= n;
	return true;
}

/**
 * circbuf_dma_max_chunks() - chunks a transfer can be cut into, at most
 * @nents:	mapped entries of the user's scatterlist
 * @nr_segs:	segments of the ring
 *
 * Every chunk but the last ends at a cut: the end of a user entry (at most
 * @nents - 1 inside the transfer), a segment boundary (each of the
 * @nr_segs - 1 crossed at most once, the pieces being disjoint) or the
 * wrap (once).
 *
 * Return: the bound, with room to spare.
 */
static inline size_t circbuf_dma_max_chunks(unsigned int nents, size_t nr_segs)
{
	return (size_t)nents + nr_segs + 2;
}

/**
 * circbuf_dma_sg_max_seg() - longest scatterlist entry to build for a device
 * @dev_max:	dma_get_max_seg_size() of the channel's device
 *
 * sg_alloc_table_from_pages_segment() needs a whole number of pages, at
 * least one.
 *
 * Return: @dev_max rounded down to pages, PAGE_SIZE at least.
 */
static inline unsigned int circbuf_dma_sg_max_seg(unsigned int dev_max)
{
	return max_t(unsigned int, PAGE_SIZE, round_down(dev_max, PAGE_SIZE));
}

/* Pages that @n bytes from @skip into a bio_vec touch. */
static inline unsigned int circbuf_bvec_pieces(const struct bio_vec *bv,
					       size_t skip, size_t n)
{
	size_t off = bv->bv_offset + skip;

	return DIV_ROUND_UP(off % PAGE_SIZE + n, PAGE_SIZE);
}

/**
 * circbuf_bvec_sg_count() - scatterlist entries to describe a bio_vec run
 * @bv:		the first bio_vec
 * @skip:	bytes of @bv already consumed (iov_iter.iov_offset)
 * @len:	bytes to describe; the bio_vecs hold at least that many
 *
 * Return: one per page touched: a multi-page bio_vec may be longer than the
 * engine's maximum segment.
 */
static inline unsigned int circbuf_bvec_sg_count(const struct bio_vec *bv,
						 size_t skip, size_t len)
{
	unsigned int nents = 0;

	for (; len; skip = 0, bv++) {
		size_t n = min_t(size_t, len, bv->bv_len - skip);

		nents += circbuf_bvec_pieces(bv, skip, n);
		len -= n;
	}
	return nents;
}

/**
 * circbuf_bvec_sg_fill() - describe a bio_vec run page by page
 * @sg:		circbuf_bvec_sg_count() entries, from sg_alloc_table()
 * @bv:		the first bio_vec
 * @skip:	bytes of @bv already consumed
 * @len:	bytes to describe
 *
 * Return: the entry after the last one filled (NULL at the table's end).
 */
static inline struct scatterlist *
circbuf_bvec_sg_fill(struct scatterlist *sg, const struct bio_vec *bv,
		     size_t skip, size_t len)
{
	for (; len; skip = 0, bv++) {
		size_t n = min_t(size_t, len, bv->bv_len - skip);
		size_t off = bv->bv_offset + skip;

		len -= n;
		/* Page by page; the engine walks pages anyway. */
		while (n) {
			struct page *page = nth_page(bv->bv_page, off / PAGE_SIZE);
			size_t chunk = min_t(size_t, n, PAGE_SIZE - off % PAGE_SIZE);

			sg_set_page(sg, page, chunk, off % PAGE_SIZE);
			sg = sg_next(sg);
			off += chunk;
			n -= chunk;
		}
	}
	return sg;
}

#endif /* _CIRCBUF_DMA_SG_H */
