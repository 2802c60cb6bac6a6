// SPDX-License-Identifier: GPL-2.0
/*
 * A ring's storage: its coherent segments and packet slots, allocated at
 * creation and replaced by CIRCBUF_SET_CAPACITY, which moves the buffered
 * bytes and packets into the new storage with both sides' locks held; and
 * the account of all rings' capacity against max_total_size.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/pipe_fs_i.h>

#include "circbuf.h"
#include "circbuf_dev.h"
#include "circbuf_params.h"

/* protects circbuf_total */
static DEFINE_MUTEX(circbuf_total_lock);
/* The capacity that all rings have reserved (circbuf_charge()). */
static unsigned long circbuf_total;

/*
 * Reserve @bytes of ring capacity for @cb, against max_total_size: at its
 * creation and before each change of its capacity, which gives the old
 * capacity back once the new one is in place (both exist until then).
 * Return: 0, or -ENOMEM past the limit, with a message.
 */
int circbuf_charge(struct circbuf_dev *cb, size_t bytes)
{
	int err = 0;

	mutex_lock(&circbuf_total_lock);
	if (bytes > circbuf_max_total_size - circbuf_total) {
		dev_info_ratelimited(cb->dev, "%s: %zu more bytes would pass max_total_size=%lu (%lu in use): refused\n",
				     cb->name, bytes, circbuf_max_total_size,
				     circbuf_total);
		err = -ENOMEM;
	} else {
		circbuf_total += bytes;
	}
	mutex_unlock(&circbuf_total_lock);
	return err;
}

void circbuf_uncharge(size_t bytes)
{
	mutex_lock(&circbuf_total_lock);
	circbuf_total -= bytes;
	mutex_unlock(&circbuf_total_lock);
}

/* The capacity reserved now, for /proc/circbuf. */
unsigned long circbuf_charged(void)
{
	unsigned long total;

	mutex_lock(&circbuf_total_lock);
	total = circbuf_total;
	mutex_unlock(&circbuf_total_lock);
	return total;
}

/*
 * Packet slots for a ring of @cap bytes (at load and at each change of
 * capacity): one per 256 bytes, at least 16
 * (a pipe's default number of buffers, each of which holds one packet)
 * and at most 65536, rounded up to a power of two. Packets of 256 bytes or
 * more fill the ring before the slots run out; 16 bytes a slot, 1/16 of
 * the capacity at most.
 */
static size_t circbuf_pkt_slots(size_t cap)
{
	return roundup_pow_of_two(clamp_t(size_t, cap / 256, 16, 65536));
}

/*
 * Allocate the storage of a ring of @cap bytes, at load and at each change
 * of capacity: its coherent segments of 2^@seg_shift bytes in @buf, and
 * its *@nr_slots packet slots in *@slot. All or nothing.
 */
int circbuf_storage_alloc(struct device *dev, size_t cap,
			  unsigned int seg_shift, struct circbuf_dma_buf *buf,
			  struct circbuf_pkt **slot, size_t *nr_slots)
{
	int err;

	err = circbuf_dma_buf_alloc(buf, dev, cap, seg_shift);
	if (err)
		return err;
	*nr_slots = circbuf_pkt_slots(cap);
	*slot = kvcalloc(*nr_slots, sizeof(**slot), GFP_KERNEL);
	if (!*slot) {
		circbuf_dma_buf_free(buf);
		return -ENOMEM;
	}
	return 0;
}

/* Undo circbuf_storage_alloc(). */
void circbuf_storage_free(struct circbuf_dma_buf *buf, struct circbuf_pkt *slot)
{
	kvfree(slot);
	circbuf_dma_buf_free(buf);
}

/*
 * Copy @len bytes from @src at ring offset @src_off (wrapping at its size)
 * to @dst from offset 0, segment piece by segment piece.
 */
static void circbuf_buf_copy(const struct circbuf_dma_buf *dst,
			     const struct circbuf_dma_buf *src, size_t src_off,
			     size_t len)
{
	size_t dst_off = 0;

	while (len) {
		size_t si, so, di, doff, n;

		n = circbuf_seg_chunk(src_off, min(len, src->size - src_off),
				      src->seg_shift, &si, &so);
		n = circbuf_seg_chunk(dst_off, n, dst->seg_shift, &di, &doff);
		memcpy(dst->segs[di].cpu + doff, src->segs[si].cpu + so, n);
		src_off = circbuf_ring_fold(src->size, src_off + n);
		dst_off += n;
		len -= n;
	}
}

/*
 * Swap in @nbuf and @slot (@nr_slots packet slots) as the ring's storage
 * for @cap bytes: the buffered bytes move to its start, in order, and the
 * packets to their slots. Both sides' positions keep counting from where
 * they were, so the packets' starts stay right. @nbuf and @slot receive
 * the old storage, for the caller to free. With both sides' locks held
 * (no read or write copies, no DMA transfer runs), inside both sides'
 * seqcount write sections, so that a stats snapshot sees the capacity
 * change with the offsets.
 */
void circbuf_swap_storage(struct circbuf_dev *cb, struct circbuf_dma_buf *nbuf,
			  struct circbuf_pkt **slot, size_t nr_slots, size_t cap)
{
	struct circbuf_ring *r = &cb->ring;
	size_t used = r->prod.pos - r->cons.pos;
	struct circbuf_dma_buf old_buf = cb->buf;
	struct circbuf_pkt *old_slot = cb->pkts.slot;
	size_t i;

	lockdep_assert_held(circbuf_side_lock(cb, CIRCBUF_TO_RING));
	lockdep_assert_held(circbuf_side_lock(cb, CIRCBUF_TO_USER));
	circbuf_buf_copy(nbuf, &cb->buf, r->cons.off, used);
	for (i = cb->pkts.tail; i != cb->pkts.head; i++)
		(*slot)[i & (nr_slots - 1)] = old_slot[i & cb->pkts.mask];

	circbuf_stats_begin(cb, CIRCBUF_TO_RING);
	circbuf_stats_begin(cb, CIRCBUF_TO_USER);
	cb->buf = *nbuf;
	cb->pkts.slot = *slot;
	WRITE_ONCE(cb->pkts.mask, nr_slots - 1);
	r->cons.off = 0;
	r->prod.off = used == cap ? 0 : used;
	WRITE_ONCE(r->cap, cap);
	WRITE_ONCE(cb->atomic_max, min_t(size_t, PIPE_BUF, cap));
	circbuf_stats_end(cb, CIRCBUF_TO_USER);
	circbuf_stats_end(cb, CIRCBUF_TO_RING);

	*nbuf = old_buf;
	*slot = old_slot;
}
