// SPDX-License-Identifier: GPL-2.0
/*
 * The DMA data path of /dev/circbuf: the character device as a dmaengine
 * client.
 *
 * A transfer pins the user pages, maps them for the channel's device and
 * builds one memcpy descriptor for every stretch that is contiguous both in
 * the user's mapped scatterlist and in the ring, whose storage is split at
 * the wrap and at segment boundaries:
 *
 *   user sg:  [ page 0 | page 1 ][ page 2 ][ page 3 ...
 *   ring:          [ seg 5 (tail of the ring) ][ seg 0 (after the wrap) ...
 *   descs:    [ d0 ][ d1       ][ d2 ][d3][ d4  ]...
 *
 * That cutting, and the scatterlist describing io_uring's bio_vecs, are
 * pure functions in circbuf_dma_sg.h, which tests/kunit/ unit-tests.
 *
 * It then submits them, issues them and waits. A transfer in flight is never
 * abandoned: on a signal or a timeout the channel is terminated and
 * synchronised before the pages are released. Descriptors complete in
 * order, so the bytes moved are the prefix of descriptors that completed
 * without error; the caller commits exactly those.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bvec.h>
#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "circbuf_compat.h"
#include "circbuf_dev.h"
#include "circbuf_dma_engine.h"
#include "circbuf_dma_sg.h"

struct circbuf_dma_req;

/**
 * struct circbuf_dma_piece - what became of one descriptor
 * @req:	the transfer it belongs to
 * @len:	bytes it moves
 * @result:	its outcome, written by the completion callback
 * @completed:	set by the completion callback, with release, after @result
 */
struct circbuf_dma_piece {
	struct circbuf_dma_req *req;
	size_t len;
	enum dmaengine_tx_result result;
	bool completed;
};

/**
 * struct circbuf_dma_req - one transfer
 * @done:	completed when every descriptor has reported
 * @pending:	descriptors that have not reported yet
 * @nr:		descriptors submitted
 * @pieces:	one per descriptor, in ring order
 */
struct circbuf_dma_req {
	struct completion done;
	atomic_t pending;
	size_t nr;
	struct circbuf_dma_piece pieces[];
};

/* Completion callback: atomic context, so record and signal only. */
static void circbuf_dma_callback(void *param,
				 const struct dmaengine_result *result)
{
	struct circbuf_dma_piece *p = param;

	p->result = result->result;
	/*
	 * Release: @result is written before @completed is seen set; pairs
	 * with the acquire in circbuf_dma_moved(), which may run after a
	 * timeout or a signal, without the ordering of the completion.
	 */
	smp_store_release(&p->completed, true);
	/* atomic_dec_and_test() orders the stores above before complete(). */
	if (atomic_dec_and_test(&p->req->pending))
		complete(&p->req->done);
}

/*
 * Take a DMA channel for the device's open files, and map the ring for its
 * device; CPU copy without one.
 */
void circbuf_dma_get(struct circbuf_dev *cb, bool any_channel)
{
	struct dma_chan *chan;
	dma_cap_mask_t mask;
	int err;

	/* The first open: no file is open, so no transfer is running. */
	lockdep_assert_held(&cb->open_lock);
	dma_cap_zero(mask);
	dma_cap_set(DMA_MEMCPY, mask);
	if (any_channel) {
		/* This one reports failure with an ERR_PTR... */
		chan = dma_request_chan_by_mask(&mask);
		if (IS_ERR(chan))
			chan = NULL;
	} else {
		/* ...and this one with NULL. */
		chan = dma_request_channel(mask, circbuf_dma_engine_filter,
					   NULL);
	}
	if (!chan) {
		dev_warn_ratelimited(circbuf_node(cb), "no DMA channel: using CPU copies\n");
		return;
	}
	/* The ring's bus addresses as the channel's device sees them. */
	err = circbuf_dma_buf_map(&cb->buf, dmaengine_get_dma_device(chan));
	if (err) {
		dev_warn_ratelimited(circbuf_node(cb), "cannot map the ring for DMA channel %s (%pe): using CPU copies\n",
				     dma_chan_name(chan), ERR_PTR(err));
		dma_release_channel(chan);
		return;
	}
	cb->chan = chan;
}

/* The last release: no file is open, so no transfer is running. */
void circbuf_dma_put(struct circbuf_dev *cb)
{
	lockdep_assert_held(&cb->open_lock);
	if (cb->chan) {
		circbuf_dma_buf_unmap(&cb->buf);
		dma_release_channel(cb->chan);
		cb->chan = NULL;
	}
}

/*
 * Build and submit (not issue) the descriptors between the mapped user
 * scatterlist and the ring's @len bytes at the current position, counting
 * them in @req->nr. Return: false if one could not be prepared.
 */
static bool circbuf_dma_submit(struct circbuf_dev *cb, struct sg_table *sgt,
			       size_t len, enum circbuf_dir dir,
			       struct circbuf_dma_req *req, size_t max)
{
	struct circbuf_dma_chunk c;
	struct circbuf_dma_walk w;
	struct circbuf_piece sp[2];
	size_t total = 0;

	circbuf_spans(cb, len, dir, sp);
	circbuf_dma_walk_init(&w, &cb->buf, sp, sgt->sgl, sgt->nents);
	while (circbuf_dma_walk_next(&w, &c)) {
		struct dma_async_tx_descriptor *tx;

		if (WARN_ON_ONCE(req->nr == max))
			return false;
		/* An engine with alignment rules: the CPU copies instead. */
		if (!is_dma_copy_aligned(cb->chan->device, c.ring, c.user,
					 c.len))
			return false;
		tx = dmaengine_prep_dma_memcpy(cb->chan,
					       dir == CIRCBUF_TO_RING ? c.ring : c.user,
					       dir == CIRCBUF_TO_RING ? c.user : c.ring,
					       c.len, DMA_PREP_INTERRUPT | DMA_CTRL_ACK);
		if (!tx)
			return false;
		req->pieces[req->nr].req = req;
		req->pieces[req->nr].len = c.len;
		tx->callback_result = circbuf_dma_callback;
		tx->callback_param = &req->pieces[req->nr];
		if (dma_submit_error(dmaengine_submit(tx)))
			return false;
		req->nr++;
		total += c.len;
	}
	/* The mapped scatterlist covers exactly the transfer. */
	return !WARN_ON_ONCE(total != len);
}

/*
 * Wait for the descriptors; on a signal or a timeout stop the channel and
 * wait until it no longer touches the pages. Return: 0, -ERESTARTSYS or
 * -ETIMEDOUT.
 */
static int circbuf_dma_wait(struct circbuf_dev *cb, struct circbuf_dma_req *req,
			    unsigned int timeout_ms)
{
	long left;

	lockdep_assert_held(&cb->dma_lock);
	left = wait_for_completion_interruptible_timeout(&req->done,
							 msecs_to_jiffies(timeout_ms));
	if (left > 0)
		return 0;
	dmaengine_terminate_sync(cb->chan);
	if (!left) {
		dev_warn_ratelimited(circbuf_node(cb), "DMA transfer timed out after %u ms\n",
				     timeout_ms);
		return -ETIMEDOUT;
	}
	return -ERESTARTSYS;
}

/*
 * The bytes moved: the descriptors that completed without error, up to the
 * first one that did not. @completed: set to how many completed so.
 */
static size_t circbuf_dma_moved(struct circbuf_dma_req *req,
				size_t *completed)
{
	size_t moved = 0, i;
	bool ok = true;

	*completed = 0;
	for (i = 0; i < req->nr; i++) {
		struct circbuf_dma_piece *p = &req->pieces[i];

		/* Acquire: pairs with the release in circbuf_dma_callback(). */
		if (smp_load_acquire(&p->completed) &&
		    p->result == DMA_TRANS_NOERROR) {
			(*completed)++;
			if (ok)
				moved += p->len;
		} else {
			ok = false;
		}
	}
	return moved;
}

/*
 * Map @sgt for the engine, describe, submit and wait for the transfer of
 * @len bytes between it and the ring. Return: as circbuf_dma_move().
 */
static ssize_t circbuf_dma_run(struct circbuf_dev *cb, struct sg_table *sgt,
			       size_t len, enum circbuf_dir dir,
			       unsigned int timeout_ms, bool whole)
{
	enum dma_data_direction dma_dir = dir == CIRCBUF_TO_RING ?
					  DMA_TO_DEVICE : DMA_FROM_DEVICE;
	struct device *dma_dev = dmaengine_get_dma_device(cb->chan);
	struct circbuf_dma_req *req;
	size_t max, moved, completed;
	ssize_t ret;
	int err;

	err = dma_map_sgtable(dma_dev, sgt, dma_dir, 0);
	if (err)
		return -ENOMEM;

	max = circbuf_dma_max_chunks(sgt->nents, cb->buf.nr_segs);
	req = kvzalloc(struct_size(req, pieces, max), GFP_KERNEL);
	if (!req) {
		ret = -ENOMEM;
		goto err_unmap;
	}
	init_completion(&req->done);

	/*
	 * One transfer on the channel at a time: the other side may be using
	 * it (locking=split), and a terminate ends every transfer on a
	 * channel. Wait for the other side's to finish, a bounded time as for
	 * our own. The pages are pinned already: a fault on them never holds
	 * up the other side.
	 */
	if (mutex_lock_interruptible(&cb->dma_lock)) {
		ret = -ERESTARTSYS;
		goto err_free_req;
	}

	if (!circbuf_dma_submit(cb, sgt, len, dir, req, max)) {
		/* Nothing was issued: drop what was submitted, copy by CPU. */
		dmaengine_terminate_sync(cb->chan);
		ret = -ENOMEM;
		goto err_unlock;
	}
	/* Set before issuing: no callback runs before that. */
	atomic_set(&req->pending, req->nr);
	dma_async_issue_pending(cb->chan);

	err = circbuf_dma_wait(cb, req, timeout_ms);
	moved = circbuf_dma_moved(req, &completed);
	/*
	 * A transfer that must go whole (an atomic write) and was cut short
	 * moves nothing: the bytes already in the ring stay unpublished.
	 */
	if (whole && moved < len)
		moved = 0;
	circbuf_stats_begin(cb, dir);
	cb->dma_stats.submitted += req->nr;
	cb->dma_stats.completed += completed;
	cb->dma_stats.failed += req->nr - completed;
	cb->dma_stats.timeouts += err == -ETIMEDOUT;
	circbuf_stats_end(cb, dir);
	if (moved)
		ret = moved;
	else
		ret = err ?: -EIO;

err_unlock:
	mutex_unlock(&cb->dma_lock);
err_free_req:
	kvfree(req);
err_unmap:
	dma_unmap_sgtable(dma_dev, sgt, dma_dir, 0);
	return ret;
}

/* The longest scatterlist entry the channel's device takes, page-aligned. */
static unsigned int circbuf_dma_max_seg(struct circbuf_dev *cb)
{
	struct device *dma_dev = dmaengine_get_dma_device(cb->chan);

	return circbuf_dma_sg_max_seg(dma_get_max_seg_size(dma_dev));
}

/* User memory: pin the pages for the length of the transfer. */
static ssize_t circbuf_dma_move_user(struct circbuf_dev *cb,
				     char __user *ubuf, size_t len,
				     enum circbuf_dir dir,
				     unsigned int timeout_ms, bool whole)
{
	unsigned long start = (unsigned long)ubuf;
	unsigned int offset = offset_in_page(start);
	int nr_pages = DIV_ROUND_UP(offset + len, PAGE_SIZE);
	struct sg_table sgt;
	struct page **pages;
	ssize_t ret;
	int pinned;

	pages = kvmalloc_array(nr_pages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;

	/* The engine writes the user's pages on a read. */
	pinned = pin_user_pages_fast(start & PAGE_MASK, nr_pages,
				     dir == CIRCBUF_TO_USER ? FOLL_WRITE : 0,
				     pages);
	if (pinned != nr_pages) {
		ret = -EFAULT;
		goto err_unpin;
	}
	/* Merge neighbouring pages, but no further than the engine allows. */
	ret = sg_alloc_table_from_pages_segment(&sgt, pages, nr_pages, offset,
						len, circbuf_dma_max_seg(cb),
						GFP_KERNEL);
	if (ret)
		goto err_unpin;

	ret = circbuf_dma_run(cb, &sgt, len, dir, timeout_ms, whole);

	sg_free_table(&sgt);
err_unpin:
	if (pinned > 0)
		unpin_user_pages_dirty_lock(pages, pinned,
					    dir == CIRCBUF_TO_USER);
	kvfree(pages);
	return ret;
}

/*
 * Pages of a bio_vec iterator, such as io_uring's registered buffers
 * (READ_FIXED/WRITE_FIXED): their owner keeps them pinned, so they only
 * need describing.
 */
static ssize_t circbuf_dma_move_bvec(struct circbuf_dev *cb,
				     const struct iov_iter *iter, size_t len,
				     enum circbuf_dir dir,
				     unsigned int timeout_ms, bool whole)
{
	struct sg_table sgt;
	ssize_t ret;

	ret = sg_alloc_table(&sgt, circbuf_bvec_sg_count(iter->bvec,
							 iter->iov_offset, len),
			     GFP_KERNEL);
	if (ret)
		return ret;
	circbuf_bvec_sg_fill(sgt.sgl, iter->bvec, iter->iov_offset, len);

	ret = circbuf_dma_run(cb, &sgt, len, dir, timeout_ms, whole);
	sg_free_table(&sgt);
	return ret;
}

/**
 * circbuf_dma_reach() - how much of @iter one DMA transfer can take
 * @iter:	the caller's iterator
 * @len:	bytes wanted
 *
 * Return: up to @len bytes at the head of @iter that circbuf_dma_move()
 * can move in one transfer: the current segment of user memory, or any
 * run of bio_vecs; 0 for iterators DMA does not serve (kernel memory,
 * splice's pipe pages), which go by CPU.
 */
size_t circbuf_dma_reach(const struct iov_iter *iter, size_t len)
{
	len = min(len, iov_iter_count(iter));
	if (iter_is_ubuf(iter) || iov_iter_is_bvec(iter))
		return len;
	if (iter_is_iovec(iter) && iter->nr_segs)
		return min(len, iter_iov_len(iter));
	return 0;
}

/**
 * circbuf_dma_move() - move @len bytes between @iter and the ring by DMA
 * @cb:		the device, locked, with a channel
 * @iter:	the caller's iterator; advanced by the bytes moved
 * @len:	bytes, at most circbuf_dma_reach(); the ring has that much data
 *		(TO_USER) or space (TO_RING)
 * @dir:	direction
 * @timeout_ms:	how long to wait for the engine
 * @whole:	all @len bytes or nothing: an atomic write, which a signal,
 *		a timeout or a failed descriptor must not cut in two
 *
 * Waits for the engine, a bounded time, interruptibly: on a signal the
 * transfer is stopped, and the caller finishes it by CPU. Never called
 * under IOCB_NOWAIT, which copies by CPU instead of waiting for a device.
 * Does not commit the ring positions; the caller does, for the bytes moved.
 *
 * Return: @len, or (unless @whole) fewer bytes if a descriptor failed, timed
 * out or a signal came; -EIO, -ETIMEDOUT or -ERESTARTSYS if nothing moved;
 * -EFAULT or -ENOMEM if the transfer could not be set up (pages that
 * cannot be pinned, no memory). In every case the caller may move the
 * rest by CPU.
 */
ssize_t circbuf_dma_move(struct circbuf_dev *cb, struct iov_iter *iter,
			 size_t len, enum circbuf_dir dir,
			 unsigned int timeout_ms, bool whole)
{
	ssize_t ret;

	lockdep_assert_held(circbuf_side_lock(cb, dir));
	if (iov_iter_is_bvec(iter))
		ret = circbuf_dma_move_bvec(cb, iter, len, dir, timeout_ms,
					    whole);
	else
		ret = circbuf_dma_move_user(cb, iter_iov_addr(iter), len, dir,
					    timeout_ms, whole);
	if (ret > 0)
		iov_iter_advance(iter, ret);
	return ret;
}
