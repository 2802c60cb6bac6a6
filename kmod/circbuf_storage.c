// SPDX-License-Identifier: GPL-2.0
/*
 * A ring's storage: its coherent segments and packet slots, allocated at
 * creation and replaced by CIRCBUF_SET_CAPACITY, which moves the buffered
 * bytes and packets into the new storage with both sides' locks held.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/pipe_fs_i.h>

#include "circbuf.h"
#include "circbuf_dev.h"
#include "circbuf_trace.h"

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
static void circbuf_swap_storage(struct circbuf_dev *cb,
				 struct circbuf_dma_buf *nbuf,
				 struct circbuf_pkt **slot, size_t nr_slots,
				 size_t cap)
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

/*
 * CIRCBUF_SET_CAPACITY: the capacity becomes @cap, or nothing changes.
 * The new storage is allocated (and mapped for the DMA channel) first,
 * then both sides' locks are taken, the writers' first: the one path that
 * holds both. A lock is held only by a call that copies, so this waits
 * for copies in progress, never for a caller that sleeps for data or
 * space (those sleep unlocked). Sleepers wake to a changed ring and check
 * their conditions again; a writer whose atomic write no longer fits the
 * ring stores it in pieces, as any write larger than PIPE_BUF.
 */
int circbuf_set_capacity(struct circbuf_dev *cb, u64 cap)
{
	struct circbuf_dma_buf nbuf = {};
	struct circbuf_pkt *slot;
	size_t nr_slots, old_cap, uncharge = cap;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (cap < 1 || cap > CIRCBUF_MAX_SIZE) {
		dev_info_ratelimited(circbuf_node(cb), "capacity %llu is out of range: it must be 1..%u bytes\n",
				     cap, CIRCBUF_MAX_SIZE);
		return -EINVAL;
	}

	/* Both storages exist until the old one is freed. */
	err = circbuf_charge(cb, cap);
	if (err)
		return err;
	/* segment_size is fixed: not cb->buf, which a resize replaces. */
	err = circbuf_storage_alloc(cb->dev, cap, ilog2(circbuf_segment_size),
				    &nbuf, &slot, &nr_slots);
	if (err)
		goto err_uncharge;

	if (mutex_lock_interruptible(circbuf_side_lock(cb, CIRCBUF_TO_RING))) {
		err = -ERESTARTSYS;
		goto err_free_storage;
	}
	if (cb->split &&
	    mutex_lock_interruptible(circbuf_side_lock(cb, CIRCBUF_TO_USER))) {
		err = -ERESTARTSYS;
		goto err_unlock_writers;
	}
	/*
	 * The channel holds still: this file is open (see @chan). Mapped
	 * under the locks, so that a failure still changes nothing.
	 */
	if (cb->chan) {
		err = circbuf_dma_buf_map(&nbuf, cb->buf.chan_dev);
		if (err)
			goto err_unlock_readers;
	}
	if (circbuf_ring_used(&cb->ring) > cap ||
	    circbuf_pkts_count(&cb->pkts) > nr_slots) {
		err = -EBUSY;
		goto err_unmap_buf;
	}

	old_cap = cb->ring.cap;
	circbuf_swap_storage(cb, &nbuf, &slot, nr_slots, cap);
	trace_circbuf_resize(cb, old_cap);
	dev_dbg(circbuf_node(cb), "capacity %zu -> %llu bytes, %zu kept, by %s[%d]\n",
		old_cap, cap, circbuf_ring_used(&cb->ring), current->comm,
		task_pid_nr(current));
	uncharge = old_cap;
	err = 0;
	/* From here, nbuf and slot are the old storage, freed the same way. */

err_unmap_buf:
	if (nbuf.chan_sgts)
		circbuf_dma_buf_unmap(&nbuf);
err_unlock_readers:
	if (cb->split)
		circbuf_unlock_io(cb, CIRCBUF_TO_USER);
err_unlock_writers:
	circbuf_unlock_io(cb, CIRCBUF_TO_RING);
	/* More room, or a smaller atomic_max: the writers check again. */
	if (!err)
		circbuf_space_freed(cb);
err_free_storage:
	kvfree(slot);
	circbuf_dma_buf_free(&nbuf);
err_uncharge:
	/* The old capacity once the new one is in place, else the new one. */
	circbuf_uncharge(uncharge);
	return err;
}

