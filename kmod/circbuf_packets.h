/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packet boundaries for circbuf's packet mode (O_DIRECT, as pipe2(2)),
 * shared by the kernel module and the host unit tests, like circbuf_ring.h:
 * plain integer code with no locking and no allocation.
 *
 * The bytes of a packet live in the ring like any others; what makes them a
 * packet is an entry in this queue, kept beside the ring: the writer's
 * position at the packet's first byte, and its length. Byte-mode data needs
 * no entry, so a ring that never sees a packet holds exactly its capacity,
 * and a packet costs its bytes in the ring plus one of @nr slots here. The
 * entries are in stream order, oldest first; the bytes between two packets
 * (or before the first) are byte-mode data.
 *
 * Concurrency is the ring's: one writer pushes, one reader pops, each under
 * its side's lock, and they may run at once. The writer fills a slot, then
 * moves @head with release, before circbuf_ring_produce() publishes the
 * packet's bytes: so a reader that has seen the bytes (acquire on the
 * ring's position) and then loads @head with acquire sees the entry too,
 * and never reads a packet's bytes as byte-mode data. The reader moves
 * @tail with release once it has consumed the packet; the writer reuses a
 * slot only after seeing that (acquire), so the reader's look at it is
 * complete.
 */
#ifndef _CIRCBUF_PACKETS_H
#define _CIRCBUF_PACKETS_H

#include "circbuf_ring.h"

/**
 * struct circbuf_pkt - one packet
 * @start:	the writer's position (circbuf_ring_side::pos) at its first
 *		byte
 * @len:	its length, from 1 to the ring's atomic_max
 */
struct circbuf_pkt {
	size_t start;
	size_t len;
};

/**
 * struct circbuf_pkts - the packets in a ring, oldest first
 * @slot:	@mask + 1 entries; a power of two
 * @mask:	number of slots - 1; both change only with both sides
 *		serialised, as the ring's capacity
 * @head:	packets ever pushed (the writer's); entry i lives in
 *		@slot[i & @mask]
 * @tail:	packets ever popped (the reader's)
 *
 * @head and @tail share a cache line: in byte mode neither is written, and
 * in packet mode each moves once per packet, not once per byte.
 */
struct circbuf_pkts {
	struct circbuf_pkt *slot;
	size_t mask;
	size_t head;
	size_t tail;
};

static inline void circbuf_pkts_init(struct circbuf_pkts *q,
				     struct circbuf_pkt *slot, size_t nr)
{
	q->slot = slot;
	q->mask = nr - 1;
	q->head = 0;
	q->tail = 0;
}

/* Packets buffered, for anyone: a snapshot, clamped as circbuf_ring_used(). */
static inline size_t circbuf_pkts_count(const struct circbuf_pkts *q)
{
	size_t nr = circbuf_read_once(q->mask) + 1;
	size_t n = circbuf_read_once(q->head) - circbuf_read_once(q->tail);

	return n > nr ? 0 : n;
}

/*
 * The writer's view: whether a packet can be pushed now. Acquire: a slot is
 * reused only after the reader has moved past it (pairs with the release
 * in circbuf_pkts_pop()).
 */
static inline bool circbuf_pkts_room(const struct circbuf_pkts *q)
{
	return q->head - circbuf_load_acquire(&q->tail) <= q->mask;
}

/*
 * The writer records a packet of @len bytes starting at its position
 * @start; there must be room. Release: the entry is complete before the
 * reader can see @head move (pairs with the acquire in circbuf_pkts_peek()).
 * Call before producing the packet's bytes.
 */
static inline void circbuf_pkts_push(struct circbuf_pkts *q, size_t start,
				     size_t len)
{
	struct circbuf_pkt *p = &q->slot[q->head & q->mask];

	p->start = start;
	p->len = len;
	circbuf_store_release(&q->head, q->head + 1);
}

/*
 * The reader's view: the oldest packet, or NULL. Acquire: pairs with the
 * release in circbuf_pkts_push(). Call after circbuf_ring_readable(), so
 * that every packet among the readable bytes is seen.
 */
static inline const struct circbuf_pkt *
circbuf_pkts_peek(const struct circbuf_pkts *q)
{
	if (circbuf_load_acquire(&q->head) == q->tail)
		return NULL;
	return &q->slot[q->tail & q->mask];
}

/*
 * The reader is done with the oldest packet. Release: its look at the slot
 * completes before the writer can reuse it (pairs with the acquire in
 * circbuf_pkts_room()).
 */
static inline void circbuf_pkts_pop(struct circbuf_pkts *q)
{
	circbuf_store_release(&q->tail, q->tail + 1);
}

/**
 * circbuf_pkts_plan() - what the reader at @pos may take next
 * @p:		the oldest packet (circbuf_pkts_peek()), or NULL
 * @pos:	the reader's position
 * @readable:	bytes readable at @pos
 * @bytes:	set to the byte-mode bytes to take before the packet
 *
 * Byte-mode bytes end where the packet starts; the packet is taken only
 * when all of it is readable (the writer publishes a packet at once).
 *
 * Return: whether the packet follows those bytes, readable whole.
 */
static inline bool circbuf_pkts_plan(const struct circbuf_pkt *p, size_t pos,
				     size_t readable, size_t *bytes)
{
	size_t before;

	if (!p) {
		*bytes = readable;
		return false;
	}
	before = p->start - pos;
	*bytes = circbuf_min(before, readable);
	return readable - *bytes >= p->len;
}

#endif /* _CIRCBUF_PACKETS_H */
