/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ring arithmetic for circbuf, shared by the kernel module and the host
 * unit tests (tests/unit/ring_test.cpp): plain integer code with no
 * locking, no allocation and no kernel-only types.
 *
 * The ring holds exactly @cap bytes, any size from 1, so the capacity is the
 * one the user asked for. Free-running indices would need a modulo by a
 * size that is not a power of two, so instead the ring keeps the offset of
 * the oldest byte (@head, always < @cap) and the number of bytes buffered
 * (@used, always <= @cap). The write offset is head + used folded once into
 * [0, cap): head + used < 2 * cap, so one compare replaces the division.
 *
 * A transfer starting at an offset covers at most two contiguous pieces of
 * the ring, the second one starting at offset 0:
 *
 *          head                 wr = head + used
 *           v                     v
 *   [.......DDDDDDDDDDDDDDDDDDDDDDD.........]   one piece
 *
 *           wr                  head
 *           v                     v
 *   [DDDDDDD.......................DDDDDDDDD]   two pieces: [head, cap), [0, wr)
 *
 * The storage behind the ring is a table of segments of 2^seg_shift bytes
 * each (the last one may be shorter), because one coherent DMA allocation
 * cannot exceed MAX_ORDER pages. circbuf_seg_chunk() cuts a piece further
 * at segment boundaries.
 *
 * Locking: none here. The caller serialises every function that changes a
 * struct circbuf_ring (the device mutex in the module).
 */
#ifndef _CIRCBUF_RING_H
#define _CIRCBUF_RING_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#endif

/**
 * struct circbuf_ring - positions in a ring of @cap bytes
 * @cap:	capacity in bytes, >= 1
 * @head:	offset of the oldest buffered byte, < @cap
 * @used:	bytes buffered, <= @cap
 */
struct circbuf_ring {
	size_t cap;
	size_t head;
	size_t used;
};

/**
 * struct circbuf_span - one contiguous piece of the ring
 * @off:	offset of the piece in the ring, < cap
 * @len:	length of the piece; @off + @len <= cap
 */
struct circbuf_span {
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
	r->head = 0;
	r->used = 0;
}

static inline size_t circbuf_ring_used(const struct circbuf_ring *r)
{
	return r->used;
}

static inline size_t circbuf_ring_space(const struct circbuf_ring *r)
{
	return r->cap - r->used;
}

static inline bool circbuf_ring_empty(const struct circbuf_ring *r)
{
	return r->used == 0;
}

static inline bool circbuf_ring_full(const struct circbuf_ring *r)
{
	return r->used == r->cap;
}

/* Fold an offset in [0, 2 * cap) into [0, cap). */
static inline size_t circbuf_ring_fold(size_t cap, size_t off)
{
	return off >= cap ? off - cap : off;
}

/* Offset at which the next written byte goes. */
static inline size_t circbuf_ring_wr_off(const struct circbuf_ring *r)
{
	return circbuf_ring_fold(r->cap, r->head + r->used);
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
					      struct circbuf_span sp[2])
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
 * @r:		the ring
 * @len:	bytes wanted; clamped to what is buffered
 * @sp:		the pieces, see circbuf_ring_split()
 *
 * Return: the number of bytes the pieces cover.
 */
static inline size_t circbuf_ring_read_spans(const struct circbuf_ring *r,
					     size_t len,
					     struct circbuf_span sp[2])
{
	len = circbuf_min(len, r->used);
	circbuf_ring_split(r->cap, r->head, len, sp);
	return len;
}

/**
 * circbuf_ring_write_spans() - where the next @len bytes written go
 * @r:		the ring
 * @len:	bytes offered; clamped to the free space
 * @sp:		the pieces, see circbuf_ring_split()
 *
 * Return: the number of bytes the pieces cover.
 */
static inline size_t circbuf_ring_write_spans(const struct circbuf_ring *r,
					      size_t len,
					      struct circbuf_span sp[2])
{
	len = circbuf_min(len, circbuf_ring_space(r));
	circbuf_ring_split(r->cap, circbuf_ring_wr_off(r), len, sp);
	return len;
}

/* Mark @n bytes at the head as read; @n <= used. */
static inline void circbuf_ring_consume(struct circbuf_ring *r, size_t n)
{
	r->head = circbuf_ring_fold(r->cap, r->head + n);
	r->used -= n;
}

/* Mark @n bytes at the write offset as written; @n <= space. */
static inline void circbuf_ring_produce(struct circbuf_ring *r, size_t n)
{
	r->used += n;
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
