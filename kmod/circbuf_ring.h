/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ring arithmetic for circbuf, shared by the kernel module and the host
 * unit tests (tests/unit/ring_test.cpp): plain integer code with no
 * locking, no allocation and no kernel-only types.
 *
 * The ring holds exactly @cap bytes, any size from 1, so the capacity is the
 * one the user asked for. Each side owns a free-running position (bytes
 * ever written, bytes ever read; unsigned, so they may wrap) and that
 * position folded into [0, cap): the reader owns @cons, the writer @prod,
 * and each side writes only its own. used = prod.pos - cons.pos, exact in
 * modular arithmetic because used <= cap. The folded offsets avoid a
 * division by a capacity that is not a power of two: an offset advances by
 * at most cap, so one compare folds it.
 *
 *          cons.off             prod.off
 *           v                     v
 *   [.......DDDDDDDDDDDDDDDDDDDDDDD.........]   one piece
 *
 *           prod.off            cons.off
 *           v                     v
 *   [DDDDDDD.......................DDDDDDDDD]   two pieces
 *
 * A transfer starting at an offset covers at most two contiguous pieces of
 * the ring, the second one starting at offset 0.
 *
 * The storage behind the ring is a table of segments of 2^seg_shift bytes
 * each (the last one may be shorter), because one coherent DMA allocation
 * cannot exceed 2^MAX_PAGE_ORDER pages. circbuf_seg_chunk() cuts a piece further
 * at segment boundaries.
 *
 * Concurrency: one reader and one writer may run at once (callers
 * serialise readers among themselves and writers among themselves). The
 * positions are published as in Documentation/core-api/circular-buffers.rst:
 * a side reads the other side's position with acquire, so it touches the
 * bytes only after seeing the position that hands them over, and moves its
 * own with release, so its copy is complete before the other side sees
 * the bytes (or the space) change hands. circbuf_ring_used() and
 * circbuf_ring_space() may be called by anyone, with no lock, for a
 * snapshot.
 */
#ifndef _CIRCBUF_RING_H
#define _CIRCBUF_RING_H

#ifdef __KERNEL__
#include <linux/cache.h>
#include <linux/compiler.h>
#include <linux/types.h>
#include <asm/barrier.h>
/* Acquire: the pairs of barriers are described at each use below. */
#define circbuf_load_acquire(p)		smp_load_acquire(p)
/* Release: the pairs of barriers are described at each use below. */
#define circbuf_store_release(p, v)	smp_store_release(p, v)
#define circbuf_read_once(x)		READ_ONCE(x)
/* The two sides' positions in cache lines of their own. */
#define __circbuf_side			____cacheline_aligned_in_smp
#else
#include <stdbool.h>
#include <stddef.h>
#define circbuf_load_acquire(p)		__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define circbuf_store_release(p, v)	__atomic_store_n(p, v, __ATOMIC_RELEASE)
#define circbuf_read_once(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define __circbuf_side
#endif

/**
 * struct circbuf_ring_side - one side's position
 * @pos:	bytes this side has moved since the ring was initialised,
 *		modulo SIZE_MAX + 1; written only by the side that owns it
 * @off:	@pos modulo the capacity, < cap; read only by its owner
 */
struct circbuf_ring_side {
	size_t pos;
	size_t off;
};

/**
 * struct circbuf_ring - positions in a ring of @cap bytes
 * @cap:	capacity in bytes, >= 1; changed only with both sides
 *		serialised (the module's CIRCBUF_SET_CAPACITY)
 * @prod:	the writer's side: where the next byte written goes
 * @cons:	the reader's side: where the oldest buffered byte is
 */
struct circbuf_ring {
	size_t cap;
	struct circbuf_ring_side prod __circbuf_side;
	struct circbuf_ring_side cons __circbuf_side;
};

/**
 * struct circbuf_piece - one contiguous piece of the ring
 * @off:	offset of the piece in the ring, < cap
 * @len:	length of the piece; @off + @len <= cap
 */
struct circbuf_piece {
	size_t off;
	size_t len;
};

static inline size_t circbuf_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

static inline void circbuf_ring_init(struct circbuf_ring *r, size_t cap)
{
	r->cap = cap;
	r->prod.pos = 0;
	r->prod.off = 0;
	r->cons.pos = 0;
	r->cons.off = 0;
}

/*
 * Bytes buffered, for anyone: a snapshot of two positions that may move
 * while they are read, clamped to [0, cap] (the reader's position read
 * last may have passed the writer's one read first, or the writer may
 * have refilled what the reader freed).
 */
static inline size_t circbuf_ring_used(const struct circbuf_ring *r)
{
	size_t cap = circbuf_read_once(r->cap);
	size_t prod = circbuf_read_once(r->prod.pos);
	size_t used = prod - circbuf_read_once(r->cons.pos);

	if (used > cap)
		return (ptrdiff_t)used < 0 ? 0 : cap;
	return used;
}

/*
 * Free space, for anyone, as circbuf_ring_used(). The capacity may change
 * at run time (with both sides' locks held, see circbuf_set_capacity()):
 * read once, it is at worst a moment old, as the positions are.
 */
static inline size_t circbuf_ring_space(const struct circbuf_ring *r)
{
	size_t cap = circbuf_read_once(r->cap);
	size_t used = circbuf_ring_used(r);

	return used > cap ? 0 : cap - used;
}

static inline bool circbuf_ring_empty(const struct circbuf_ring *r)
{
	return circbuf_ring_used(r) == 0;
}

static inline bool circbuf_ring_full(const struct circbuf_ring *r)
{
	return circbuf_ring_used(r) == r->cap;
}

/*
 * The reader's view: bytes it may read now. Acquire: the bytes are read
 * only after the writer's position that publishes them (pairs with the
 * release in circbuf_ring_produce()).
 */
static inline size_t circbuf_ring_readable(const struct circbuf_ring *r)
{
	return circbuf_load_acquire(&r->prod.pos) - r->cons.pos;
}

/*
 * The writer's view: bytes it may write now. Acquire: space is reused
 * only after the reader's position that frees it, so the reader's copy
 * out of it is complete (pairs with the release in circbuf_ring_consume()).
 */
static inline size_t circbuf_ring_writable(const struct circbuf_ring *r)
{
	return r->cap - (r->prod.pos - circbuf_load_acquire(&r->cons.pos));
}

/* Fold an offset in [0, 2 * cap) into [0, cap). */
static inline size_t circbuf_ring_fold(size_t cap, size_t off)
{
	return off >= cap ? off - cap : off;
}

/* Offset of the oldest buffered byte (the reader's). */
static inline size_t circbuf_ring_rd_off(const struct circbuf_ring *r)
{
	return r->cons.off;
}

/* Offset at which the next written byte goes (the writer's). */
static inline size_t circbuf_ring_wr_off(const struct circbuf_ring *r)
{
	return r->prod.off;
}

/**
 * circbuf_ring_split() - cut a transfer into at most two contiguous pieces
 * @cap:	ring capacity
 * @off:	ring offset of the first byte, < @cap
 * @len:	bytes to transfer, <= @cap
 * @sp:		the pieces, filled in order; unused entries get length 0
 *
 * Return: the number of pieces, 0 when @len is 0.
 */
static inline unsigned int circbuf_ring_split(size_t cap, size_t off,
					      size_t len,
					      struct circbuf_piece sp[2])
{
	size_t first = circbuf_min(len, cap - off);

	sp[0].off = off;
	sp[0].len = first;
	sp[1].off = 0;
	sp[1].len = len - first;
	if (!len)
		return 0;
	return sp[1].len ? 2 : 1;
}

/**
 * circbuf_ring_read_spans() - where the next @len bytes to read are
 * @r:		the ring; the caller is the (one) reader
 * @len:	bytes wanted; clamped to what is buffered
 * @sp:		the pieces, see circbuf_ring_split()
 *
 * Return: the number of bytes the pieces cover.
 */
static inline size_t circbuf_ring_read_spans(const struct circbuf_ring *r,
					     size_t len,
					     struct circbuf_piece sp[2])
{
	len = circbuf_min(len, circbuf_ring_readable(r));
	circbuf_ring_split(r->cap, r->cons.off, len, sp);
	return len;
}

/**
 * circbuf_ring_write_spans() - where the next @len bytes written go
 * @r:		the ring; the caller is the (one) writer
 * @len:	bytes offered; clamped to the free space
 * @sp:		the pieces, see circbuf_ring_split()
 *
 * Return: the number of bytes the pieces cover.
 */
static inline size_t circbuf_ring_write_spans(const struct circbuf_ring *r,
					      size_t len,
					      struct circbuf_piece sp[2])
{
	len = circbuf_min(len, circbuf_ring_writable(r));
	circbuf_ring_split(r->cap, r->prod.off, len, sp);
	return len;
}

/*
 * The reader is done with @n bytes at its offset, @n <= readable. Release:
 * the copy out of them completes before the writer can see their space
 * free (pairs with the acquire in circbuf_ring_writable()).
 */
static inline void circbuf_ring_consume(struct circbuf_ring *r, size_t n)
{
	r->cons.off = circbuf_ring_fold(r->cap, r->cons.off + n);
	circbuf_store_release(&r->cons.pos, r->cons.pos + n);
}

/*
 * The writer has stored @n bytes at its offset, @n <= writable. Release:
 * the bytes are in the ring before the reader can see them (pairs with the
 * acquire in circbuf_ring_readable()).
 */
static inline void circbuf_ring_produce(struct circbuf_ring *r, size_t n)
{
	r->prod.off = circbuf_ring_fold(r->cap, r->prod.off + n);
	circbuf_store_release(&r->prod.pos, r->prod.pos + n);
}

/**
 * circbuf_seg_chunk() - locate a ring offset in the segment table
 * @off:	ring offset, < cap
 * @len:	length of the piece starting at @off, never past the ring's end
 * @seg_shift:	log2 of the segment size
 * @idx:	set to the segment index
 * @seg_off:	set to the offset inside that segment
 *
 * A piece never runs past the ring's end, and only the last segment is
 * short, so clamping to the segment size is enough.
 *
 * Return: how many bytes of the piece lie in that segment.
 */
static inline size_t circbuf_seg_chunk(size_t off, size_t len,
				       unsigned int seg_shift,
				       size_t *idx, size_t *seg_off)
{
	size_t seg_size = (size_t)1 << seg_shift;

	*idx = off >> seg_shift;
	*seg_off = off & (seg_size - 1);
	return circbuf_min(len, seg_size - *seg_off);
}

/* Number of segments of 2^@seg_shift bytes needed for @cap bytes. */
static inline size_t circbuf_seg_count(size_t cap, unsigned int seg_shift)
{
	return (cap + ((size_t)1 << seg_shift) - 1) >> seg_shift;
}

/* Length of segment @idx in a ring of @cap bytes. */
static inline size_t circbuf_seg_len(size_t cap, unsigned int seg_shift,
				     size_t idx)
{
	return circbuf_min(cap - (idx << seg_shift), (size_t)1 << seg_shift);
}

#endif /* _CIRCBUF_RING_H */
