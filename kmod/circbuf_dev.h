/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The circbuf character device's private state, shared by the file
 * operations (circbuf_main.c) and the DMA data path (circbuf_dma_xfer.c).
 */
#ifndef _CIRCBUF_DEV_H
#define _CIRCBUF_DEV_H

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
 * struct circbuf_dev - the device and its ring
 * @misc:		/dev/circbuf
 * @dev:		the platform device that owns the DMA memory
 * @buf:		the ring's storage; fixed from probe to remove
 * @atomic_max:		writes of at most this many bytes are atomic:
 *			min(PIPE_BUF, capacity); fixed
 * @proc:		/proc/circbuf; fixed from probe to remove
 * @lock:		serialises readers and writers and guards the fields
 *			marked (@lock). A mutex: copy_{to,from}_user() may
 *			fault and a DMA transfer is waited for, both sleep.
 * @ring:		positions in @buf (@lock)
 * @opens:		open files (@lock)
 * @readers:		open files with FMODE_READ (@lock)
 * @writers:		open files with FMODE_WRITE (@lock)
 * @poll_usage:		someone polled; wake on every change (@lock)
 * @chan:		DMA channel while the device is open, or NULL for the
 *			CPU copy path (@lock)
 * @reads:		read() calls that returned data (@lock)
 * @writes:		write() calls that stored data (@lock)
 * @bytes_read:		bytes delivered to readers (@lock)
 * @bytes_written:	bytes stored by writers (@lock)
 * @dma_submitted:	DMA descriptors submitted (@lock)
 * @dma_completed:	DMA descriptors completed without error (@lock)
 * @dma_failed:		DMA descriptors that failed or were aborted (@lock)
 * @dma_timeouts:	DMA transfers terminated after dma_timeout_ms (@lock)
 * @dma_bytes:		bytes moved by DMA (@lock)
 * @cpu_bytes:		bytes moved by CPU copy (@lock)
 * @rd_wait:		readers wait here for data or end of file
 * @wr_wait:		writers wait here for @atomic_max bytes of space
 */
struct circbuf_dev {
	struct miscdevice misc;
	struct device *dev;
	struct circbuf_dma_buf buf;
	size_t atomic_max;
	struct proc_dir_entry *proc;

	/* protects the fields marked (@lock) above */
	struct mutex lock;
	struct circbuf_ring ring;
	unsigned int opens;
	unsigned int readers;
	unsigned int writers;
	bool poll_usage;
	struct dma_chan *chan;
	u64 reads;
	u64 writes;
	u64 bytes_read;
	u64 bytes_written;
	u64 dma_submitted;
	u64 dma_completed;
	u64 dma_failed;
	u64 dma_timeouts;
	u64 dma_bytes;
	u64 cpu_bytes;

	wait_queue_head_t rd_wait;
	wait_queue_head_t wr_wait;
};

/* Where the next @len bytes of a transfer in direction @dir lie. */
static inline void circbuf_spans(struct circbuf_dev *cb, size_t len,
				 enum circbuf_dir dir, struct circbuf_span sp[2])
{
	lockdep_assert_held(&cb->lock);
	if (dir == CIRCBUF_TO_USER)
		circbuf_ring_read_spans(&cb->ring, len, sp);
	else
		circbuf_ring_write_spans(&cb->ring, len, sp);
}

void circbuf_dma_get(struct circbuf_dev *cb, bool any_channel);
void circbuf_dma_put(struct circbuf_dev *cb);
size_t circbuf_dma_reach(const struct iov_iter *iter, size_t len);
ssize_t circbuf_dma_move(struct circbuf_dev *cb, struct iov_iter *iter,
			 size_t len, enum circbuf_dir dir,
			 unsigned int timeout_ms, bool interruptible);

#endif /* _CIRCBUF_DEV_H */
