// SPDX-License-Identifier: GPL-2.0
/*
 * circbuf: /dev/circbuf, a bounded pipe in kernel memory.
 *
 * Writers fill a ring of buffer_size bytes and readers drain it in FIFO
 * order. A read blocks while the ring is empty and some file is open for
 * writing, and returns 0 (end of file) once it is empty with no writer. A
 * write blocks while the ring is full; writes of at most PIPE_BUF bytes (or
 * of the whole capacity, when that is smaller) are atomic. No reader is
 * needed for a write: data waits in the ring, which lives from module load
 * to unload, across opens and closes. poll() reports EPOLLIN, EPOLLOUT and
 * EPOLLHUP; FIONREAD and the CIRCBUF_GET_STATS ioctl describe the ring.
 *
 * The ring is coherent DMA memory (dma/circbuf_dma_buf.c) allocated for a
 * platform device this module creates, so that it has a DMA mask; the ring
 * arithmetic lives in circbuf_ring.h, shared with the host unit tests.
 *
 * Locking (locking= parameter): with "split", the default, readers and
 * writers each have a side lock of their own, so a reader and a writer
 * copy at the same time, each moving only its own ring position with
 * release and reading the other's with acquire (circbuf_ring.h); wake-ups
 * go only to queues that have sleepers (circbuf_wake()). With "single",
 * one mutex serialises both sides, as LDD3's scullpipe does; the code is
 * the same, with the readers' lock standing for both.
 *
 * Only read() and write() take a side lock, and they may hold it across a
 * page fault on the caller's buffer, which can take any time (userfaultfd,
 * FUSE, NFS). Nothing else waits for them: poll, FIONREAD and the stats
 * look with no lock, and open and release have a lock of their own, as
 * the writers' count they change is published with release and acquire.
 * io_uring's IOCB_NOWAIT attempts never sleep for a lock, for data, for
 * space or for the DMA engine (circbuf_lock_io(), circbuf_move()).
 *
 * Observability: the stats snapshot of CIRCBUF_GET_STATS is also shown,
 * with the parameters and the DMA engine's state, in /proc/circbuf, and
 * one value per file in /sys/class/misc/circbuf/stats/; tracepoints
 * (circbuf_trace.h) mark every I/O call, sleep and wake-up; dev_dbg()
 * reports opens, closes, the DMA channel and fallbacks to CPU copies.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <asm/ioctls.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/lockdep.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/pipe_fs_i.h>
#include <linux/platform_device.h>
#include <linux/poll.h>
#include <linux/proc_fs.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/sysfs.h>
#include <linux/uio.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "circbuf.h"
#include "circbuf_compat.h"
#include "circbuf_dev.h"
#include "circbuf_dma_engine.h"

#define CREATE_TRACE_POINTS
#include "circbuf_trace.h"

#define CIRCBUF_MIN_SEGMENT	PAGE_SIZE
#define CIRCBUF_MAX_SEGMENT	(PAGE_SIZE << MAX_PAGE_ORDER)
/* Bytes moved between two chances to reschedule. */
#define CIRCBUF_BATCH		SZ_1M

static unsigned int buffer_size = CIRCBUF_DEFAULT_SIZE;
module_param(buffer_size, uint, 0444);
MODULE_PARM_DESC(buffer_size,
		 "Capacity of the ring in bytes, 1.." __stringify(CIRCBUF_MAX_SIZE)
		 " (default " __stringify(CIRCBUF_DEFAULT_SIZE) ")");

static ushort mode = 0600;
module_param(mode, ushort, 0444);
MODULE_PARM_DESC(mode, "Permissions of /dev/circbuf, e.g. 0666 (default 0600)");

static bool use_dma = true;
module_param(use_dma, bool, 0444);
MODULE_PARM_DESC(use_dma,
		 "Move data by DMA (default Y); N: CPU copies only" CIRCBUF_DMA_PARAM_NOTE);

static unsigned int dma_threshold = 65536;
module_param(dma_threshold, uint, 0644);
MODULE_PARM_DESC(dma_threshold,
		 "Transfers of at least this many bytes go by DMA; 1: all (default 65536)"
		 CIRCBUF_DMA_PARAM_NOTE);

static bool dma_any_channel;
module_param(dma_any_channel, bool, 0444);
MODULE_PARM_DESC(dma_any_channel,
		 "Use any DMA_MEMCPY channel of the system, not only circbuf's own engine (default N)"
		 CIRCBUF_DMA_PARAM_NOTE);

/* 0 would time every transfer out at once: accept 1 ms to 10 minutes. */
static int dma_timeout_ms_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 600000);
}

static const struct kernel_param_ops dma_timeout_ms_ops = {
	.set = dma_timeout_ms_set,
	.get = param_get_uint,
};

static unsigned int dma_timeout_ms = 2000;
module_param_cb(dma_timeout_ms, &dma_timeout_ms_ops, &dma_timeout_ms, 0644);
MODULE_PARM_DESC(dma_timeout_ms,
		 "Terminate a DMA transfer that has not completed after this many ms, 1..600000 (default 2000)"
		 CIRCBUF_DMA_PARAM_NOTE);

static char *locking = "split";
module_param(locking, charp, 0444);
MODULE_PARM_DESC(locking,
		 "split: readers and writers have locks of their own and copy in parallel (default); single: one mutex for both");

static unsigned int segment_size = SZ_1M;
module_param(segment_size, uint, 0444);
MODULE_PARM_DESC(segment_size,
		 "Bytes per coherent DMA segment of the ring: a power of two from PAGE_SIZE to 4 MiB (default 1 MiB)");

static struct circbuf_dev *file_to_cb(struct file *file)
{
	return container_of(file->private_data, struct circbuf_dev, misc);
}

/*
 * Wait conditions. They run without the locks, so they take snapshots
 * (circbuf_ring_used(), READ_ONCE()) and the caller rechecks under its
 * lock.
 */
static bool circbuf_readable(struct circbuf_dev *cb)
{
	return circbuf_ring_used(&cb->ring) || !READ_ONCE(cb->writers);
}

/* Whether a packet slot is free: a snapshot, for conditions and poll. */
static bool circbuf_pkt_slot_free(struct circbuf_dev *cb)
{
	return circbuf_pkts_count(&cb->pkts) <= READ_ONCE(cb->pkts.mask);
}

/*
 * Writers sleep until @atomic_max bytes and a packet slot are free: enough
 * for any atomic write and any packet, so every writer waits for the same
 * condition and an exclusive wake-up never goes to a writer that cannot
 * use it. Byte-mode writers need the slot only for that: while every slot
 * holds a packet the ring is full for all, as a pipe whose slots are all
 * taken.
 */
static bool circbuf_writable(struct circbuf_dev *cb)
{
	return circbuf_ring_space(&cb->ring) >= READ_ONCE(cb->atomic_max) &&
	       circbuf_pkt_slot_free(cb);
}

/* What a wake-up of direction @dir's queue tells pollers. */
static __poll_t circbuf_wake_key(enum circbuf_dir dir)
{
	return dir == CIRCBUF_TO_USER ? EPOLLIN | EPOLLRDNORM :
					EPOLLOUT | EPOLLWRNORM;
}

/* Trace a wake-up of @side's wait queue @wq if anyone sleeps or polls there. */
static void circbuf_trace_wake(struct circbuf_dev *cb, enum circbuf_dir side,
			       struct wait_queue_head *wq)
{
	/*
	 * No barrier: an unlocked peek, taken only while the event is
	 * enabled. A sleeper queueing at this very moment may go untraced;
	 * it is still woken, by the wake-up call that follows.
	 */
	if (trace_circbuf_wake_enabled() && waitqueue_active(wq))
		trace_circbuf_wake(cb, side);
}

/*
 * Wake the sleepers of one side, if it has any: one exclusive waiter and
 * every poller. Called after publishing a change that their conditions
 * read (a ring position). wq_has_sleeper()'s smp_mb() orders that store
 * before the look at the queue; it pairs with the barrier between queueing
 * and testing the condition on the sleeper's side (set_current_state() in
 * wait_event_*(), smp_mb() in circbuf_poll()), so either the sleeper sees
 * the change or this sees the sleeper. Skipping the wake-up when nobody
 * sleeps is what lets a busy reader and writer run without touching the
 * wait queues' locks.
 */
static void circbuf_wake(struct circbuf_dev *cb, enum circbuf_dir side)
{
	struct wait_queue_head *wq = side == CIRCBUF_TO_USER ? &cb->rd_wait :
							       &cb->wr_wait;

	if (!wq_has_sleeper(wq))
		return;
	circbuf_trace_wake(cb, side, wq);
	wake_up_interruptible_poll(wq, circbuf_wake_key(side));
}

/*
 * Take the lock of direction @dir for an I/O call. Under IOCB_NOWAIT
 * (io_uring's inline attempt, and its retries) never sleep for it: mark it
 * contended and fail with -EAGAIN. io_uring then arms a poll, and
 * circbuf_poll() leaves that direction's readiness out while the lock is
 * held and contended, so io_uring retries on the wake-up of
 * circbuf_unlock_io(), when the lock is free, instead of at once. An
 * immediate retry would fail again, and io_uring gives a request that
 * keeps failing to an io-wq worker.
 */
static int circbuf_lock_io(struct circbuf_dev *cb, enum circbuf_dir dir,
			   struct kiocb *iocb)
{
	struct circbuf_side *s = circbuf_locker(cb, dir);

	if (!(iocb->ki_flags & IOCB_NOWAIT))
		return mutex_lock_interruptible(&s->lock) ? -ERESTARTSYS : 0;
	if (mutex_trylock(&s->lock))
		return 0;
	set_bit(CIRCBUF_SIDE_CONTENDED, &s->flags);
	/*
	 * The mark is visible before the lock is looked at again, here and
	 * in circbuf_poll(); pairs with the smp_mb() in circbuf_unlock_io()
	 * between its unlock and its look at the mark. Either the holder sees
	 * the mark and wakes the pollers, or the lock is seen free.
	 */
	smp_mb__after_atomic();
	return mutex_trylock(&s->lock) ? 0 : -EAGAIN;
}

/*
 * Release the lock of direction @dir; if an IOCB_NOWAIT caller found it
 * held, wake the pollers of every direction it serves (io_uring's armed
 * polls among them, which retry now that the lock is free).
 */
static void circbuf_unlock_io(struct circbuf_dev *cb, enum circbuf_dir dir)
{
	struct circbuf_side *s = circbuf_locker(cb, dir);

	mutex_unlock(&s->lock);
	/* Pairs with smp_mb__after_atomic() in circbuf_lock_io(). */
	smp_mb();
	if (!test_bit(CIRCBUF_SIDE_CONTENDED, &s->flags) ||
	    !test_and_clear_bit(CIRCBUF_SIDE_CONTENDED, &s->flags))
		return;
	if (!cb->split || dir == CIRCBUF_TO_USER)
		wake_up_interruptible_poll(&cb->rd_wait,
					   circbuf_wake_key(CIRCBUF_TO_USER));
	if (!cb->split || dir == CIRCBUF_TO_RING)
		wake_up_interruptible_poll(&cb->wr_wait,
					   circbuf_wake_key(CIRCBUF_TO_RING));
}

/*
 * Whether poll must leave direction @dir's readiness out: its lock is held
 * and an IOCB_NOWAIT caller has failed to take it, see circbuf_lock_io().
 * A snapshot, with no lock; the caller has ordered it after queueing on
 * the wait queue.
 */
static bool circbuf_side_busy(struct circbuf_dev *cb, enum circbuf_dir dir)
{
	struct circbuf_side *s = circbuf_locker(cb, dir);

	return test_bit(CIRCBUF_SIDE_CONTENDED, &s->flags) &&
	       mutex_is_locked(&s->lock);
}

/*
 * Copy @len bytes between @iter and the ring at its current position by
 * CPU, stopping at the first fault. Return: the bytes copied; @iter has
 * advanced by as many.
 */
static size_t circbuf_cpu_move(struct circbuf_dev *cb, struct iov_iter *iter,
			       size_t len, enum circbuf_dir dir)
{
	struct circbuf_span sp[2];
	size_t done = 0;
	unsigned int i;

	circbuf_spans(cb, len, dir, sp);
	for (i = 0; i < ARRAY_SIZE(sp); i++) {
		size_t off = sp[i].off, left = sp[i].len;

		while (left) {
			size_t idx, seg_off, chunk, copied;
			void *ring;

			chunk = circbuf_seg_chunk(off, left, cb->buf.seg_shift,
						  &idx, &seg_off);
			ring = cb->buf.segs[idx].cpu + seg_off;
			if (dir == CIRCBUF_TO_USER)
				copied = copy_to_iter(ring, chunk, iter);
			else
				copied = copy_from_iter(ring, chunk, iter);
			done += copied;
			if (copied != chunk)
				return done;
			off += chunk;
			left -= chunk;
		}
	}
	return done;
}

/*
 * Publish @n bytes moved in direction @dir, @cpu of them by CPU and the
 * rest by DMA: data for readers, or space for writers. The ring position
 * and the counters change in one write section of the side's seqcount,
 * for consistent snapshots. @call: the call's first commit, which counts
 * the call. @packet: the bytes are one packet (a write in packet mode),
 * recorded before they are published, see circbuf_packets.h.
 */
static void circbuf_commit(struct circbuf_dev *cb, enum circbuf_dir dir,
			   size_t n, size_t cpu, bool call, bool packet)
{
	struct circbuf_side_stats *st = &cb->side[dir].stats;

	circbuf_stats_begin(cb, dir);
	if (packet)
		circbuf_pkts_push(&cb->pkts, cb->ring.prod.pos, n);
	if (dir == CIRCBUF_TO_USER)
		circbuf_ring_consume(&cb->ring, n);
	else
		circbuf_ring_produce(&cb->ring, n);
	st->bytes += n;
	st->cpu_bytes += cpu;
	cb->dma_stats.bytes += n - cpu;
	st->calls += call;
	circbuf_stats_end(cb, dir);
}

/*
 * Data arrived: wake a reader and the pollers, and signal the O_ASYNC
 * readers, as pipe_write() does after every write that stored something.
 */
static void circbuf_data_arrived(struct circbuf_dev *cb)
{
	circbuf_wake(cb, CIRCBUF_TO_USER);
	kill_fasync(&cb->rd_fasync, SIGIO, POLL_IN);
}

/*
 * A read freed space: if @atomic_max bytes are free now, the rule of
 * EPOLLOUT, wake a writer and the pollers, and signal the O_ASYNC writers.
 * A writer woken with less would find no room for an atomic write.
 */
static void circbuf_space_freed(struct circbuf_dev *cb)
{
	if (!circbuf_writable(cb))
		return;
	circbuf_wake(cb, CIRCBUF_TO_RING);
	kill_fasync(&cb->wr_fasync, SIGIO, POLL_OUT);
}

/*
 * Tell the other side what a transfer in direction @dir has given it:
 * readers data after a write, writers space after a read.
 */
static void circbuf_wake_other(struct circbuf_dev *cb, enum circbuf_dir dir)
{
	if (dir == CIRCBUF_TO_RING)
		circbuf_data_arrived(cb);
	else
		circbuf_space_freed(cb);
}

/*
 * Move up to @len bytes between @iter and the ring, by DMA or by CPU, and
 * commit them to the ring (the first commit counting the call, if @call).
 * Large transfers go in batches, each committed (and its sleepers woken)
 * before the next, so that the CPU is given up in between and the other
 * side need not wait for the whole call.
 *
 * A batch goes by DMA when the channel can reach it and it is large
 * enough, but never under IOCB_NOWAIT (@nowait): io_uring's inline
 * attempt must not wait for a device either, so it copies by CPU. What DMA
 * does not move, the CPU does: a transfer that could not be set up, or
 * the rest of one that an engine error, a timeout or a signal cut short,
 * so that neither ever fails or shortens a call that a CPU copy can
 * complete. With @whole (an atomic write, at most PIPE_BUF bytes) DMA
 * stores all or nothing, and the CPU then copies all of it; only a fault
 * can cut a CPU copy short (storing the prefix, as documented).
 *
 * @packet (a write in packet mode, with @whole, of at most @atomic_max
 * bytes): what is stored is one packet. It is committed at once: DMA
 * stores all of it or nothing, and the CPU copies what DMA did not.
 *
 * Return: the bytes moved, fewer than asked only after a fault; or
 * -EFAULT if none.
 */
static ssize_t circbuf_move(struct circbuf_dev *cb, struct iov_iter *iter,
			    size_t len, enum circbuf_dir dir, bool nowait,
			    bool whole, bool call, bool packet)
{
	size_t done = 0;

	lockdep_assert_held(circbuf_side_lock(cb, dir));
	len = min(len, dir == CIRCBUF_TO_USER ? circbuf_ring_readable(&cb->ring) :
						circbuf_ring_writable(&cb->ring));
	while (done < len) {
		size_t batch = min_t(size_t, len - done, CIRCBUF_BATCH);
		size_t reach = cb->chan && !nowait ?
			       circbuf_dma_reach(iter, batch) : 0;
		size_t moved = 0, cpu = 0;

		if (reach && reach >= READ_ONCE(dma_threshold) &&
		    (!whole || reach == batch) && !signal_pending(current)) {
			ssize_t n;

			batch = reach;
			n = circbuf_dma_move(cb, iter, batch, dir,
					     READ_ONCE(dma_timeout_ms), whole);
			if (n > 0)
				moved = n;
			if (moved < batch)
				dev_dbg(cb->dev, "DMA moved %zu of %zu bytes (%pe): CPU copy of the rest\n",
					moved, batch, ERR_PTR(n < 0 ? n : 0));
		}
		if (moved) {
			/* Committed first: the CPU copies from the new offset. */
			circbuf_commit(cb, dir, moved, 0, call, packet);
			call = false;
		}
		if (moved < batch)
			cpu = circbuf_cpu_move(cb, iter, batch - moved, dir);
		if (cpu) {
			circbuf_commit(cb, dir, cpu, cpu, call, packet);
			call = false;
		}
		done += moved + cpu;
		if (moved + cpu < batch || done == len)
			break;
		/* More batches follow: let the other side use this one. */
		circbuf_wake_other(cb, dir);
		cond_resched();
	}
	return done ? done : -EFAULT;
}

/* Whether a call that would have to wait must fail with -EAGAIN. */
static bool circbuf_nowait(struct kiocb *iocb)
{
	return (iocb->ki_filp->f_flags & O_NONBLOCK) ||
	       (iocb->ki_flags & IOCB_NOWAIT);
}

/*
 * Count the file's modes in. The first open takes a DMA channel, which
 * holds a reference on the engine's module: taken at load, it would keep
 * this very module from ever unloading. Only @open_lock: an open never
 * waits for a reader or a writer.
 */
static int circbuf_open(struct inode *inode, struct file *file)
{
	struct circbuf_dev *cb = file_to_cb(file);

	mutex_lock(&cb->open_lock);
	if (!cb->opens++ && use_dma) {
		circbuf_dma_get(cb, dma_any_channel);
		dev_dbg(cb->dev, "first open: DMA channel %s\n",
			cb->chan ? dma_chan_name(cb->chan) : "none");
	}
	if (file->f_mode & FMODE_READ)
		WRITE_ONCE(cb->readers, cb->readers + 1);
	/* No ordering needed: a new writer has stored nothing yet. */
	if (file->f_mode & FMODE_WRITE)
		WRITE_ONCE(cb->writers, cb->writers + 1);
	dev_dbg(cb->dev, "open %s%s by %s[%d]: %u open, %u readers, %u writers\n",
		file->f_mode & FMODE_READ ? "r" : "-",
		file->f_mode & FMODE_WRITE ? "w" : "-", current->comm,
		task_pid_nr(current), cb->opens, cb->readers, cb->writers);
	mutex_unlock(&cb->open_lock);

	/*
	 * Every call honours IOCB_NOWAIT: io_uring may try it inline. O_DIRECT
	 * is packet mode, as for pipe2(): without FMODE_CAN_ODIRECT the VFS
	 * fails open(O_DIRECT), after this, and fcntl(F_SETFL, O_DIRECT) with
	 * EINVAL, as it does for every file but a FIFO without it.
	 */
	file->f_mode |= FMODE_NOWAIT | FMODE_CAN_ODIRECT;
	return stream_open(inode, file);
}

/*
 * Count the file's modes out; the last writer's close is end of file.
 * Only @open_lock, as for open: no I/O runs on this file any more, and
 * I/O on other files does not read what this changes under a lock.
 */
static int circbuf_release(struct inode *inode, struct file *file)
{
	struct circbuf_dev *cb = file_to_cb(file);
	bool eof = false;

	mutex_lock(&cb->open_lock);
	if (file->f_mode & FMODE_READ)
		WRITE_ONCE(cb->readers, cb->readers - 1);
	if (file->f_mode & FMODE_WRITE) {
		eof = cb->writers == 1;
		/*
		 * Release: what this file's writes stored is published before
		 * a reader can see the writer gone; pairs with the acquire in
		 * circbuf_read(), which then looks at the ring once more.
		 */
		smp_store_release(&cb->writers, cb->writers - 1);
	}
	dev_dbg(cb->dev, "close %s%s by %s[%d]: %u open, %u readers, %u writers\n",
		file->f_mode & FMODE_READ ? "r" : "-",
		file->f_mode & FMODE_WRITE ? "w" : "-", current->comm,
		task_pid_nr(current), cb->opens - 1, cb->readers, cb->writers);
	if (!--cb->opens && cb->chan) {
		dev_dbg(cb->dev, "last close: releasing DMA channel %s\n",
			dma_chan_name(cb->chan));
		circbuf_dma_put(cb);
	}
	mutex_unlock(&cb->open_lock);

	/*
	 * Every sleeping reader must see end of file, not just one. The
	 * O_ASYNC readers get POLL_IN, as from pipe_release(): a read now
	 * returns 0.
	 */
	if (eof) {
		circbuf_trace_wake(cb, CIRCBUF_TO_USER, &cb->rd_wait);
		__wake_up(&cb->rd_wait, TASK_INTERRUPTIBLE, 0,
			  poll_to_key(EPOLLIN | EPOLLRDNORM | EPOLLHUP));
		kill_fasync(&cb->rd_fasync, SIGIO, POLL_IN);
	}
	return 0;
}

/*
 * Drop the @n unread bytes of the packet a read has just taken part of,
 * and its slot: the reader's position moves on, counted as discarded.
 */
static void circbuf_discard(struct circbuf_dev *cb, size_t n)
{
	circbuf_stats_begin(cb, CIRCBUF_TO_USER);
	circbuf_ring_consume(&cb->ring, n);
	cb->side[CIRCBUF_TO_USER].stats.discarded += n;
	circbuf_stats_end(cb, CIRCBUF_TO_USER);
	circbuf_pkts_pop(&cb->pkts);
}

/*
 * Take up to @count readable bytes for a read: the byte-mode data before
 * the next packet, then that packet, at most @count bytes of it with the
 * rest discarded; so a read returns at most one packet, as pipe_read() in
 * packet mode. Whether a packet is one depends on how it was written, not
 * on the reader's mode, as on a pipe. A fault inside a packet ends the
 * read there, the rest discarded as for a short buffer; a fault at its
 * first byte leaves it whole.
 *
 * Return: the bytes read, or -EFAULT if none.
 */
static ssize_t circbuf_take(struct circbuf_dev *cb, struct iov_iter *to,
			    size_t count, bool nowait)
{
	/* Readable first, then the packets: see circbuf_pkts_peek(). */
	size_t readable = circbuf_ring_readable(&cb->ring);
	const struct circbuf_pkt *p = circbuf_pkts_peek(&cb->pkts);
	size_t bytes, plen;
	ssize_t done = 0, n;
	bool packet;

	lockdep_assert_held(circbuf_side_lock(cb, CIRCBUF_TO_USER));
	packet = circbuf_pkts_plan(p, cb->ring.cons.pos, readable, &bytes);
	if (bytes) {
		done = circbuf_move(cb, to, min(count, bytes), CIRCBUF_TO_USER,
				    nowait, false, true, false);
		if (done < 0 || (size_t)done < bytes || done == count)
			return done;
	}
	if (!packet)
		return done;
	plen = p->len;
	n = circbuf_move(cb, to, min(count - done, plen), CIRCBUF_TO_USER,
			 nowait, false, !done, false);
	if (n < 0)
		return done ? done : n;
	circbuf_discard(cb, plen - n);
	return done + n;
}

/* Return up to @count buffered bytes; block while empty and writers exist. */
static ssize_t circbuf_read(struct circbuf_dev *cb, struct kiocb *iocb,
			    struct iov_iter *to, size_t count)
{
	bool wake_next_reader;
	ssize_t ret;

	if (!count)
		return 0;
	ret = circbuf_lock_io(cb, CIRCBUF_TO_USER, iocb);
	if (ret)
		return ret;

	while (!circbuf_ring_readable(&cb->ring)) {
		/*
		 * Acquire: pairs with the release in circbuf_release(). With
		 * no writer left, whatever the last one stored is visible
		 * now: look once more before calling it end of file.
		 */
		if (!smp_load_acquire(&cb->writers)) {
			if (circbuf_ring_readable(&cb->ring))
				break;
			circbuf_unlock_io(cb, CIRCBUF_TO_USER);
			return 0;
		}
		circbuf_unlock_io(cb, CIRCBUF_TO_USER);
		if (circbuf_nowait(iocb))
			return -EAGAIN;
		trace_circbuf_block(cb, CIRCBUF_TO_USER);
		if (wait_event_interruptible_exclusive(cb->rd_wait,
						       circbuf_readable(cb)))
			return -ERESTARTSYS;
		/*
		 * Not interruptible: an exclusive waiter that was woken owns
		 * the wake-up and must use it or pass it on.
		 */
		mutex_lock(circbuf_side_lock(cb, CIRCBUF_TO_USER));
	}

	ret = circbuf_take(cb, to, count, iocb->ki_flags & IOCB_NOWAIT);
	wake_next_reader = circbuf_ring_readable(&cb->ring);
	circbuf_unlock_io(cb, CIRCBUF_TO_USER);

	/* Writers wait for atomic_max bytes: wake one when that is free. */
	if (ret > 0)
		circbuf_space_freed(cb);
	if (wake_next_reader)
		circbuf_wake(cb, CIRCBUF_TO_USER);
	return ret;
}

static ssize_t circbuf_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct circbuf_dev *cb = file_to_cb(iocb->ki_filp);
	size_t count = iov_iter_count(to);
	ssize_t ret;

	ret = circbuf_read(cb, iocb, to, count);
	trace_circbuf_read(cb, count, ret);
	return ret;
}

/* Whether this write makes packets: its file is in packet mode. */
static bool circbuf_packet_mode(struct kiocb *iocb)
{
	return iocb->ki_filp->f_flags & O_DIRECT;
}

/*
 * Store all @count bytes, blocking while the ring is full. Up to
 * @atomic_max bytes go in one piece or (O_NONBLOCK) not at all; larger
 * writes store what fits and wait for more. In packet mode each
 * @atomic_max bytes are a packet, stored whole as an atomic write is, in
 * a free packet slot.
 */
static ssize_t circbuf_write(struct circbuf_dev *cb, struct kiocb *iocb,
			     struct iov_iter *from, size_t count)
{
	bool packets = circbuf_packet_mode(iocb);
	bool wake_next_writer;
	size_t done = 0;
	ssize_t err;

	if (!count)
		return 0;
	err = circbuf_lock_io(cb, CIRCBUF_TO_RING, iocb);
	if (err)
		return err;

	for (;;) {
		size_t space = circbuf_ring_writable(&cb->ring);
		size_t want = count - done;
		/*
		 * Decided under the lock, each time it is taken: the capacity,
		 * and with it @atomic_max, may have changed while this writer
		 * slept (circbuf_set_capacity()). A write that has stored
		 * something is not atomic, or it would be done.
		 */
		bool is_atomic = packets || (!done && count <= cb->atomic_max);

		if (packets)
			want = min(want, cb->atomic_max);
		if (space && (!is_atomic || space >= want) &&
		    (!packets || circbuf_pkts_room(&cb->pkts))) {
			ssize_t n = circbuf_move(cb, from, want, CIRCBUF_TO_RING,
						 iocb->ki_flags & IOCB_NOWAIT,
						 is_atomic, !done, packets);

			if (n > 0) {
				done += n;
				/*
				 * Tell the readers now, not on return: this
				 * writer may go on to wait for space that
				 * only a reader can make.
				 */
				circbuf_data_arrived(cb);
			}
			if (n < 0) {
				err = n;
				break;
			}
			/* Short: a fault. */
			if (n < min(want, space)) {
				err = -EFAULT;
				break;
			}
			if (done == count)
				break;
			/* The next packet may fit already. */
			if (packets)
				continue;
		}
		if (circbuf_nowait(iocb)) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = -ERESTARTSYS;
			break;
		}
		circbuf_unlock_io(cb, CIRCBUF_TO_RING);
		trace_circbuf_block(cb, CIRCBUF_TO_RING);
		err = wait_event_interruptible_exclusive(cb->wr_wait,
							 circbuf_writable(cb));
		/*
		 * Not interruptible, as in circbuf_read(); after a signal too,
		 * so that what was stored is counted and the wake-up passed on.
		 */
		mutex_lock(circbuf_side_lock(cb, CIRCBUF_TO_RING));
		if (err)
			break;
	}

	/* Pass the wake-up on if another writer can still make progress. */
	wake_next_writer = circbuf_ring_writable(&cb->ring) >= cb->atomic_max &&
			   circbuf_pkts_room(&cb->pkts);
	circbuf_unlock_io(cb, CIRCBUF_TO_RING);

	if (wake_next_writer)
		circbuf_wake(cb, CIRCBUF_TO_RING);
	return done ? done : err;
}

static ssize_t circbuf_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct circbuf_dev *cb = file_to_cb(iocb->ki_filp);
	size_t count = iov_iter_count(from);
	ssize_t ret;

	ret = circbuf_write(cb, iocb, from, count);
	trace_circbuf_write(cb, count, ret);
	return ret;
}

/*
 * O_ASYNC (fcntl F_SETFL or FIOASYNC): a file that reads joins the readers'
 * list and one that writes the writers', both for O_RDWR, as pipe_fasync().
 * @open_lock makes an O_RDWR file's two changes one; it never waits for a
 * reader or a writer. The VFS calls this with @on 0 before release.
 */
static int circbuf_fasync(int fd, struct file *file, int on)
{
	struct circbuf_dev *cb = file_to_cb(file);
	int ret = 0;

	mutex_lock(&cb->open_lock);
	if (file->f_mode & FMODE_READ)
		ret = fasync_helper(fd, file, on, &cb->rd_fasync);
	if ((file->f_mode & FMODE_WRITE) && ret >= 0) {
		ret = fasync_helper(fd, file, on, &cb->wr_fasync);
		/* Only adding fails (-ENOMEM): take the reading entry back. */
		if (ret < 0 && (file->f_mode & FMODE_READ))
			fasync_helper(-1, file, 0, &cb->rd_fasync);
	}
	mutex_unlock(&cb->open_lock);
	return ret;
}

/*
 * Readiness: data to read, room for an atomic write, or end of file. With
 * no lock, as pipe_poll(): poll never waits for a reader or a writer. A
 * direction whose lock is held and contended (circbuf_side_busy()) is not
 * ready yet: its wake-up comes when the lock is released.
 */
static __poll_t circbuf_poll(struct file *file, poll_table *wait)
{
	struct circbuf_dev *cb = file_to_cb(file);
	bool rd = file->f_mode & FMODE_READ, wr = file->f_mode & FMODE_WRITE;
	__poll_t mask = 0;
	size_t used;

	/* Register first, then look, so no wake-up falls in between. */
	if (rd)
		poll_wait(file, &cb->rd_wait, wait);
	if (wr)
		poll_wait(file, &cb->wr_wait, wait);

	/*
	 * Our queue entries are visible before the ring, the writers and the
	 * lock marks are read (as in sock_poll_wait()); pairs with
	 * wq_has_sleeper() in circbuf_wake() and with the barrier before
	 * the wake-up in circbuf_unlock_io().
	 */
	smp_mb();
	used = circbuf_ring_used(&cb->ring);
	if (rd && !circbuf_side_busy(cb, CIRCBUF_TO_USER)) {
		if (used)
			mask |= EPOLLIN | EPOLLRDNORM;
		else if (!READ_ONCE(cb->writers))
			mask |= EPOLLHUP;
	}
	if (wr && circbuf_writable(cb) &&
	    !circbuf_side_busy(cb, CIRCBUF_TO_RING))
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

/*
 * A snapshot of the ring and its counters: the one place that computes
 * them, for the ioctl, io_uring, sysfs and /proc/circbuf. It takes no lock
 * and never waits for a reader or a writer. It is consistent: when neither
 * side's seqcount moved from before the first load to after the last, no
 * commit ran in between, and every value held at once. Else it reads
 * again; a commit is a few stores.
 * The readers and writers counts come from open and release, and may be
 * a moment apart from the rest.
 */
static void circbuf_fill_stats(struct circbuf_dev *cb, struct circbuf_stats *st)
{
	const struct circbuf_side_stats *rd = &cb->side[CIRCBUF_TO_USER].stats;
	const struct circbuf_side_stats *wr = &cb->side[CIRCBUF_TO_RING].stats;
	const struct circbuf_dma_stats *dma = &cb->dma_stats;
	seqcount_t *rd_seq = &cb->side[CIRCBUF_TO_USER].seq;
	seqcount_t *wr_seq = &cb->side[CIRCBUF_TO_RING].seq;
	unsigned int rd_start, wr_start;

	memset(st, 0, sizeof(*st));
	do {
		wr_start = read_seqcount_begin(wr_seq);
		rd_start = read_seqcount_begin(rd_seq);
		st->used = circbuf_ring_used(&cb->ring);
		st->reads = rd->calls;
		st->writes = wr->calls;
		st->bytes_read = rd->bytes;
		st->bytes_written = wr->bytes;
		st->cpu_bytes = rd->cpu_bytes + wr->cpu_bytes;
		st->bytes_discarded = rd->discarded;
		st->capacity = cb->ring.cap;
		st->dma_submitted = dma->submitted;
		st->dma_completed = dma->completed;
		st->dma_failed = dma->failed;
		st->dma_timeouts = dma->timeouts;
		st->dma_bytes = dma->bytes;
	} while (read_seqcount_retry(rd_seq, rd_start) ||
		 read_seqcount_retry(wr_seq, wr_start));
	st->available = st->capacity - st->used;
	st->readers = READ_ONCE(cb->readers);
	st->writers = READ_ONCE(cb->writers);
	if (!IS_ENABLED(CONFIG_DMA_ENGINE))
		st->flags |= CIRCBUF_STATS_NO_DMA;
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
static int circbuf_storage_alloc(struct device *dev, size_t cap,
				 unsigned int seg_shift,
				 struct circbuf_dma_buf *buf,
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
static int circbuf_set_capacity(struct circbuf_dev *cb, u64 cap)
{
	struct circbuf_dma_buf nbuf = {};
	struct circbuf_pkt *slot;
	size_t nr_slots, old_cap;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (cap < 1 || cap > CIRCBUF_MAX_SIZE) {
		dev_info_ratelimited(cb->dev, "capacity %llu is out of range: it must be 1..%u bytes\n",
				     cap, CIRCBUF_MAX_SIZE);
		return -EINVAL;
	}

	/* segment_size is fixed: not cb->buf, which a resize replaces. */
	err = circbuf_storage_alloc(cb->dev, cap, ilog2(segment_size), &nbuf,
				    &slot, &nr_slots);
	if (err)
		return err;

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
	dev_dbg(cb->dev, "capacity %zu -> %llu bytes, %zu kept, by %s[%d]\n",
		old_cap, cap, circbuf_ring_used(&cb->ring), current->comm,
		task_pid_nr(current));
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
	return err;
}

/* CIRCBUF_GET_STATS, CIRCBUF_SET_CAPACITY and FIONREAD. */
static long circbuf_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct circbuf_dev *cb = file_to_cb(file);
	void __user *argp = (void __user *)arg;
	struct circbuf_stats st;
	u64 cap;
	int used;

	switch (cmd) {
	case CIRCBUF_GET_STATS:
		circbuf_fill_stats(cb, &st);
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
	case CIRCBUF_SET_CAPACITY:
		if (copy_from_user(&cap, argp, sizeof(cap)))
			return -EFAULT;
		return circbuf_set_capacity(cb, cap);
	case FIONREAD:
		/* An int, as for pipes: the capacity is far below INT_MAX. */
		used = circbuf_ring_used(&cb->ring);
		return put_user(used, (int __user *)argp);
	default:
		return -ENOTTY;
	}
}

/* IORING_OP_URING_CMD: CIRCBUF_GET_STATS for event loops, see the uapi. */
static int circbuf_uring_cmd(struct io_uring_cmd *ioucmd,
			     unsigned int issue_flags)
{
	struct circbuf_dev *cb = file_to_cb(ioucmd->file);
	const struct circbuf_uring_cmd *cmd = circbuf_uring_cmd_payload(ioucmd);
	struct circbuf_stats st;
	u64 addr;

	if (ioucmd->cmd_op != CIRCBUF_GET_STATS)
		return -ENOTTY;
	/* The command area is shared with user space: read it once. */
	addr = READ_ONCE(cmd->stats_addr);
	if (READ_ONCE(cmd->reserved))
		return -EINVAL;

	/* No lock to wait for: this completes inline, never in io-wq. */
	circbuf_fill_stats(cb, &st);

	return copy_to_user(u64_to_user_ptr(addr), &st, sizeof(st)) ? -EFAULT : 0;
}

static const struct file_operations circbuf_fops = {
	.owner		= THIS_MODULE,
	.open		= circbuf_open,
	.release	= circbuf_release,
	.read_iter	= circbuf_read_iter,
	.write_iter	= circbuf_write_iter,
	.splice_read	= copy_splice_read,
	.splice_write	= iter_file_splice_write,
	.poll		= circbuf_poll,
	.fasync		= circbuf_fasync,
	.unlocked_ioctl	= circbuf_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.uring_cmd	= circbuf_uring_cmd,
};

/*
 * /sys/class/misc/circbuf/stats/: one read-only file per field of struct
 * circbuf_stats, each read taking a fresh snapshot. The attributes double
 * as the table of fields that /proc/circbuf prints.
 */
struct circbuf_stat_attr {
	struct device_attribute dattr;
	size_t offset;
	size_t size;
};

static u64 circbuf_stat_value(const struct circbuf_stats *st,
			      const struct circbuf_stat_attr *sa)
{
	const void *field = (const u8 *)st + sa->offset;

	return sa->size == sizeof(u32) ? *(const u32 *)field :
					 *(const u64 *)field;
}

static ssize_t circbuf_stat_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	const struct circbuf_stat_attr *sa =
		container_of(attr, struct circbuf_stat_attr, dattr);
	/* misc_register() makes the miscdevice the drvdata of its device. */
	struct miscdevice *misc = dev_get_drvdata(dev);
	struct circbuf_dev *cb = container_of(misc, struct circbuf_dev, misc);
	struct circbuf_stats st;

	circbuf_fill_stats(cb, &st);
	return sysfs_emit(buf, "%llu\n", circbuf_stat_value(&st, sa));
}

/* @_type: the field's type, as in struct circbuf_stats. */
#define CIRCBUF_STAT_ATTR(_field, _type)				\
	static struct circbuf_stat_attr circbuf_stat_##_field = {	\
		.dattr = {						\
			.attr = { .name = __stringify(_field), .mode = 0444 }, \
			.show = circbuf_stat_show,			\
		},							\
		.offset = offsetof(struct circbuf_stats, _field),	\
		.size = sizeof(_type),					\
	}

CIRCBUF_STAT_ATTR(capacity, u64);
CIRCBUF_STAT_ATTR(used, u64);
CIRCBUF_STAT_ATTR(available, u64);
CIRCBUF_STAT_ATTR(reads, u64);
CIRCBUF_STAT_ATTR(writes, u64);
CIRCBUF_STAT_ATTR(bytes_read, u64);
CIRCBUF_STAT_ATTR(bytes_written, u64);
CIRCBUF_STAT_ATTR(readers, u32);
CIRCBUF_STAT_ATTR(writers, u32);
CIRCBUF_STAT_ATTR(dma_submitted, u64);
CIRCBUF_STAT_ATTR(dma_completed, u64);
CIRCBUF_STAT_ATTR(dma_failed, u64);
CIRCBUF_STAT_ATTR(dma_timeouts, u64);
CIRCBUF_STAT_ATTR(dma_bytes, u64);
CIRCBUF_STAT_ATTR(cpu_bytes, u64);
CIRCBUF_STAT_ATTR(flags, u64);
CIRCBUF_STAT_ATTR(bytes_discarded, u64);

/* In the order of struct circbuf_stats. */
static struct attribute *circbuf_stats_attrs[] = {
	&circbuf_stat_capacity.dattr.attr,
	&circbuf_stat_used.dattr.attr,
	&circbuf_stat_available.dattr.attr,
	&circbuf_stat_reads.dattr.attr,
	&circbuf_stat_writes.dattr.attr,
	&circbuf_stat_bytes_read.dattr.attr,
	&circbuf_stat_bytes_written.dattr.attr,
	&circbuf_stat_readers.dattr.attr,
	&circbuf_stat_writers.dattr.attr,
	&circbuf_stat_dma_submitted.dattr.attr,
	&circbuf_stat_dma_completed.dattr.attr,
	&circbuf_stat_dma_failed.dattr.attr,
	&circbuf_stat_dma_timeouts.dattr.attr,
	&circbuf_stat_dma_bytes.dattr.attr,
	&circbuf_stat_cpu_bytes.dattr.attr,
	&circbuf_stat_flags.dattr.attr,
	&circbuf_stat_bytes_discarded.dattr.attr,
	NULL
};

static const struct attribute_group circbuf_stats_group = {
	.name = "stats",
	.attrs = circbuf_stats_attrs,
};

/* Given to misc_register(): created with the device, before its uevent. */
static const struct attribute_group *circbuf_groups[] = {
	&circbuf_stats_group,
	NULL
};

/*
 * /proc/circbuf: "name: value" lines. The stats fields under their own
 * names, the parameters as param.NAME, the DMA channel the device holds
 * (dma.channel, "none" without one) and the engine's channels (engine.*).
 */
static int circbuf_proc_show(struct seq_file *m, void *v)
{
	struct circbuf_dev *cb = m->private;
	char chan[32] = "none";
	struct circbuf_stats st;
	unsigned int i;

	circbuf_fill_stats(cb, &st);
	/* @open_lock keeps the channel: never held while waiting for I/O. */
	if (mutex_lock_interruptible(&cb->open_lock))
		return -ERESTARTSYS;
	if (cb->chan)
		strscpy(chan, dma_chan_name(cb->chan), sizeof(chan));
	mutex_unlock(&cb->open_lock);

	for (i = 0; circbuf_stats_attrs[i]; i++) {
		const struct circbuf_stat_attr *sa =
			container_of(circbuf_stats_attrs[i],
				     struct circbuf_stat_attr, dattr.attr);

		seq_printf(m, "%s: %llu\n", sa->dattr.attr.name,
			   circbuf_stat_value(&st, sa));
	}

	seq_printf(m, "param.buffer_size: %u\n", buffer_size);
	seq_printf(m, "param.mode: %#o\n", mode);
	seq_printf(m, "param.segment_size: %u\n", segment_size);
	seq_printf(m, "param.use_dma: %d\n", use_dma);
	seq_printf(m, "param.dma_threshold: %u\n", READ_ONCE(dma_threshold));
	seq_printf(m, "param.dma_any_channel: %d\n", dma_any_channel);
	seq_printf(m, "param.dma_timeout_ms: %u\n", READ_ONCE(dma_timeout_ms));
	seq_printf(m, "param.locking: %s\n", locking);
	circbuf_dma_engine_show_params(m);

	seq_printf(m, "packets.buffered: %zu\n", circbuf_pkts_count(&cb->pkts));
	seq_printf(m, "packets.slots: %zu\n", READ_ONCE(cb->pkts.mask) + 1);
	seq_printf(m, "dma.channel: %s\n", chan);
	circbuf_dma_engine_show(m);
	return 0;
}

static int __init circbuf_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct circbuf_pkt *pkt_slot;
	struct circbuf_dev *cb;
	size_t nr_pkts;
	int err;

	err = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (err) {
		dev_err(dev, "no usable DMA mask: %d\n", err);
		return err;
	}

	cb = devm_kzalloc(dev, sizeof(*cb), GFP_KERNEL);
	if (!cb)
		return -ENOMEM;
	cb->dev = dev;
	cb->split = !strcmp(locking, "split");
	/* Separate mutex_init() calls: a lock class each for lockdep. */
	mutex_init(&cb->side[CIRCBUF_TO_RING].lock);
	mutex_init(&cb->side[CIRCBUF_TO_USER].lock);
	mutex_init(&cb->open_lock);
	mutex_init(&cb->dma_lock);
	seqcount_init(&cb->side[CIRCBUF_TO_RING].seq);
	seqcount_init(&cb->side[CIRCBUF_TO_USER].seq);
	init_waitqueue_head(&cb->rd_wait);
	init_waitqueue_head(&cb->wr_wait);
	circbuf_ring_init(&cb->ring, buffer_size);
	cb->atomic_max = min_t(size_t, PIPE_BUF, buffer_size);

	err = circbuf_storage_alloc(dev, buffer_size, ilog2(segment_size),
				    &cb->buf, &pkt_slot, &nr_pkts);
	if (err)
		return err;
	circbuf_pkts_init(&cb->pkts, pkt_slot, nr_pkts);

	cb->proc = proc_create_single_data(CIRCBUF_DEVICE_NAME, 0444, NULL,
					   circbuf_proc_show, cb);
	if (!cb->proc) {
		dev_err(dev, "cannot create /proc/%s\n", CIRCBUF_DEVICE_NAME);
		err = -ENOMEM;
		goto err_free_storage;
	}
	platform_set_drvdata(pdev, cb);

	/* Last: the device can be opened as soon as it is registered. */
	cb->misc.minor = MISC_DYNAMIC_MINOR;
	cb->misc.name = CIRCBUF_DEVICE_NAME;
	cb->misc.fops = &circbuf_fops;
	cb->misc.parent = dev;
	cb->misc.mode = mode;
	cb->misc.groups = circbuf_groups;
	err = misc_register(&cb->misc);
	if (err) {
		dev_err(dev, "cannot register /dev/%s: %d\n",
			CIRCBUF_DEVICE_NAME, err);
		goto err_remove_proc;
	}

	dev_info(dev, "/dev/%s ready: %u bytes in %zu coherent segment(s), %s locking\n",
		 CIRCBUF_DEVICE_NAME, buffer_size, cb->buf.nr_segs, locking);
	return 0;

err_remove_proc:
	proc_remove(cb->proc);
err_free_storage:
	kvfree(cb->pkts.slot);
	circbuf_dma_buf_free(&cb->buf);
	return err;
}

/*
 * Undo the probe. No file can be open: each holds a reference on this
 * module, and the driver has no sysfs unbind (platform_driver_probe()).
 */
static void circbuf_remove(struct platform_device *pdev)
{
	struct circbuf_dev *cb = platform_get_drvdata(pdev);

	misc_deregister(&cb->misc);
	/* Waits for readers of /proc/circbuf to finish. */
	proc_remove(cb->proc);
	kvfree(cb->pkts.slot);
	circbuf_dma_buf_free(&cb->buf);
	mutex_destroy(&cb->dma_lock);
	mutex_destroy(&cb->open_lock);
	mutex_destroy(&cb->side[CIRCBUF_TO_USER].lock);
	mutex_destroy(&cb->side[CIRCBUF_TO_RING].lock);
}

static struct platform_driver circbuf_driver = {
	.driver = {
		.name = CIRCBUF_DEVICE_NAME,
	},
	.CIRCBUF_PLATFORM_REMOVE = circbuf_remove,
};

static struct platform_device *circbuf_pdev;

static int __init circbuf_init(void)
{
	int err;

	if (buffer_size < 1 || buffer_size > CIRCBUF_MAX_SIZE) {
		pr_err("buffer_size=%u is out of range: it must be 1..%u bytes\n",
		       buffer_size, CIRCBUF_MAX_SIZE);
		return -EINVAL;
	}
	if (mode & ~0777) {
		pr_err("mode=%#o is not a permission mode: it must be 0..0777\n",
		       mode);
		return -EINVAL;
	}
	if (strcmp(locking, "split") && strcmp(locking, "single")) {
		pr_err("locking=%s is unknown: it must be split or single\n",
		       locking);
		return -EINVAL;
	}
	if (!is_power_of_2(segment_size) ||
	    segment_size < CIRCBUF_MIN_SEGMENT ||
	    segment_size > CIRCBUF_MAX_SEGMENT) {
		pr_err("segment_size=%u is invalid: it must be a power of two from %lu to %lu bytes\n",
		       segment_size, CIRCBUF_MIN_SEGMENT, CIRCBUF_MAX_SEGMENT);
		return -EINVAL;
	}

	/* The engine first: the device is its client. */
	err = circbuf_dma_engine_register();
	if (err)
		return err;

	/*
	 * Create the device and probe it right away: a probe failure fails
	 * the load instead of leaving a driver with nothing bound.
	 */
	circbuf_pdev = platform_create_bundle(&circbuf_driver, circbuf_probe,
					      NULL, 0, NULL, 0);
	if (IS_ERR(circbuf_pdev)) {
		err = PTR_ERR(circbuf_pdev);
		goto err_unregister_engine;
	}
	return 0;

err_unregister_engine:
	circbuf_dma_engine_unregister();
	return err;
}

static void __exit circbuf_exit(void)
{
	platform_device_unregister(circbuf_pdev);
	platform_driver_unregister(&circbuf_driver);
	circbuf_dma_engine_unregister();
}

module_init(circbuf_init);
module_exit(circbuf_exit);

MODULE_DESCRIPTION("Bounded pipe in coherent DMA memory: /dev/circbuf");
MODULE_AUTHOR("The circbuf authors");
MODULE_LICENSE("GPL");
/* modinfo -F data_path: how this build moves data. */
MODULE_INFO(data_path, CIRCBUF_DATA_PATH);
