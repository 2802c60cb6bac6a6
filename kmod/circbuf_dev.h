/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The circbuf character device's private state, shared by the file
 * operations (circbuf_main.c) and the DMA data path (circbuf_dma_xfer.c).
 */
#ifndef _CIRCBUF_DEV_H
#define _CIRCBUF_DEV_H

#include <linux/errno.h>
#include <linux/lockdep.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "circbuf_dma_buf.h"
#include "circbuf_ring.h"

struct dma_chan;
struct iov_iter;
struct proc_dir_entry;

/* Which way a transfer goes. */
enum circbuf_dir {
	CIRCBUF_TO_RING,	/* write(): user memory -> ring */
	CIRCBUF_TO_USER,	/* read(): ring -> user memory */
};

/**
 * struct circbuf_side_stats - one side's counters
 * @calls:	read() calls that returned data, or write() calls that
 *		stored data
 * @bytes:	bytes delivered to readers, or stored by writers
 * @cpu_bytes:	of those, bytes moved by CPU copy
 */
struct circbuf_side_stats {
	u64 calls;
	u64 bytes;
	u64 cpu_bytes;
};

/**
 * struct circbuf_dev - the device and its ring
 * @misc:		/dev/circbuf
 * @dev:		the platform device that owns the DMA memory
 * @buf:		the ring's storage; fixed from probe to remove
 * @atomic_max:		writes of at most this many bytes are atomic:
 *			min(PIPE_BUF, capacity); fixed
 * @split:		locking=split: readers and writers have locks of
 *			their own and copy in parallel; fixed
 * @proc:		/proc/circbuf; fixed from probe to remove
 * @wr_lock:		serialises writers when @split; unused otherwise
 * @rd_lock:		serialises readers, and writers too unless @split
 * @ring:		positions in @buf: @ring.prod is the writers' (their
 *			lock), @ring.cons the readers' (@rd_lock); see
 *			circbuf_ring.h for how each side reads the other's
 * @opens:		open files (both locks to change, either to read)
 * @readers:		open files with FMODE_READ (both locks, either)
 * @writers:		open files with FMODE_WRITE (both locks, either)
 * @chan:		DMA channel while the device is open, or NULL for the
 *			CPU copy path (both locks, either)
 * @side:		counters of writers ([CIRCBUF_TO_RING], their lock)
 *			and readers ([CIRCBUF_TO_USER], @rd_lock)
 * @dma_lock:		one DMA transfer at a time on @chan, so that ending
 *			one (dmaengine_terminate_sync()) never aborts another
 *			side's; taken inside a side's lock
 * @dma_submitted:	DMA descriptors submitted (@dma_lock)
 * @dma_completed:	DMA descriptors completed without error (@dma_lock)
 * @dma_failed:		DMA descriptors that failed or were aborted (@dma_lock)
 * @dma_timeouts:	DMA transfers terminated after dma_timeout_ms (@dma_lock)
 * @dma_bytes:		bytes moved by DMA (@dma_lock)
 * @rd_wait:		readers wait here for data or end of file
 * @wr_wait:		writers wait here for @atomic_max bytes of space
 *
 * The locks are mutexes: copy_{to,from}_user() may fault and a DMA
 * transfer is waited for, both sleep. Lock order: @wr_lock, @rd_lock,
 * @dma_lock.
 */
struct circbuf_dev {
	struct miscdevice misc;
	struct device *dev;
	struct circbuf_dma_buf buf;
	size_t atomic_max;
	bool split;
	struct proc_dir_entry *proc;

	/* protects @ring.prod and @side[CIRCBUF_TO_RING] when @split */
	struct mutex wr_lock;
	/* protects @ring.cons, @side[CIRCBUF_TO_USER] (and all, if !@split) */
	struct mutex rd_lock;
	struct circbuf_ring ring;
	unsigned int opens;
	unsigned int readers;
	unsigned int writers;
	struct dma_chan *chan;
	struct circbuf_side_stats side[2];

	/* protects the use of @chan and the dma_* counters below */
	struct mutex dma_lock;
	u64 dma_submitted;
	u64 dma_completed;
	u64 dma_failed;
	u64 dma_timeouts;
	u64 dma_bytes;

	wait_queue_head_t rd_wait;
	wait_queue_head_t wr_wait;
};

/* The lock that serialises the callers of one side (@dir). */
static inline struct mutex *circbuf_side_lock(struct circbuf_dev *cb,
					      enum circbuf_dir dir)
{
	return dir == CIRCBUF_TO_RING && cb->split ? &cb->wr_lock : &cb->rd_lock;
}

/* Where the next @len bytes of a transfer in direction @dir lie. */
static inline void circbuf_spans(struct circbuf_dev *cb, size_t len,
				 enum circbuf_dir dir, struct circbuf_span sp[2])
{
	lockdep_assert_held(circbuf_side_lock(cb, dir));
	if (dir == CIRCBUF_TO_USER)
		circbuf_ring_read_spans(&cb->ring, len, sp);
	else
		circbuf_ring_write_spans(&cb->ring, len, sp);
}

#if IS_ENABLED(CONFIG_DMA_ENGINE)
void circbuf_dma_get(struct circbuf_dev *cb, bool any_channel);
void circbuf_dma_put(struct circbuf_dev *cb);
size_t circbuf_dma_reach(const struct iov_iter *iter, size_t len);
ssize_t circbuf_dma_move(struct circbuf_dev *cb, struct iov_iter *iter,
			 size_t len, enum circbuf_dir dir,
			 unsigned int timeout_ms, bool interruptible,
			 bool whole);
#else
/*
 * No dmaengine in this kernel (circbuf_dma_xfer.c is not built): no channel
 * is ever taken, so @cb->chan stays NULL and every transfer goes by CPU;
 * were circbuf_dma_move() called all the same, -ENODEV sends it to the CPU.
 */
static inline void circbuf_dma_get(struct circbuf_dev *cb, bool any_channel)
{
}

static inline void circbuf_dma_put(struct circbuf_dev *cb)
{
}

static inline size_t circbuf_dma_reach(const struct iov_iter *iter,
				       size_t len)
{
	return 0;
}

static inline ssize_t circbuf_dma_move(struct circbuf_dev *cb,
				       struct iov_iter *iter, size_t len,
				       enum circbuf_dir dir,
				       unsigned int timeout_ms,
				       bool interruptible, bool whole)
{
	return -ENODEV;
}
#endif

#endif /* _CIRCBUF_DEV_H */
