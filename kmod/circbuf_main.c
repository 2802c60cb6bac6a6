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
 * Locking (locking= parameter): with "split", the default, readers take
 * rd_lock and writers wr_lock, so a reader and a writer copy at the same
 * time, each moving only its own ring position with release and reading
 * the other's with acquire (circbuf_ring.h); wake-ups go only to queues
 * that have sleepers (circbuf_wake()). With "single", one mutex serialises
 * both sides, as LDD3's scullpipe does; the code is the same, with
 * rd_lock standing for both. Open, release and the stats take both.
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

/*
 * Writers sleep until @atomic_max bytes are free: enough for any atomic
 * write, so every writer waits for the same condition and an exclusive
 * wake-up never goes to a writer that cannot use it.
 */
static bool circbuf_writable(struct circbuf_dev *cb)
{
	return circbuf_ring_space(&cb->ring) >= cb->atomic_max;
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
	wake_up_interruptible_poll(wq, side == CIRCBUF_TO_USER ?
				   EPOLLIN | EPOLLRDNORM : EPOLLOUT | EPOLLWRNORM);
}

/* Take both sides' locks (open, release, stats): the writers' first. */
static void circbuf_lock_all(struct circbuf_dev *cb)
{
	if (cb->split)
		mutex_lock(&cb->wr_lock);
	mutex_lock(&cb->rd_lock);
}

static int circbuf_lock_all_interruptible(struct circbuf_dev *cb)
{
	if (cb->split && mutex_lock_interruptible(&cb->wr_lock))
		return -ERESTARTSYS;
	if (mutex_lock_interruptible(&cb->rd_lock)) {
		if (cb->split)
			mutex_unlock(&cb->wr_lock);
		return -ERESTARTSYS;
	}
	return 0;
}

static bool circbuf_trylock_all(struct circbuf_dev *cb)
{
	if (cb->split && !mutex_trylock(&cb->wr_lock))
		return false;
	if (!mutex_trylock(&cb->rd_lock)) {
		if (cb->split)
			mutex_unlock(&cb->wr_lock);
		return false;
	}
	return true;
}

static void circbuf_unlock_all(struct circbuf_dev *cb)
{
	mutex_unlock(&cb->rd_lock);
	if (cb->split)
		mutex_unlock(&cb->wr_lock);
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
 * Move up to @len bytes between @iter and the ring, by DMA or by CPU, and
 * commit them to the ring. Large transfers go in batches so that the CPU
 * is given up in between. Under IOCB_NOWAIT (@nowait) too a transfer may
 * go by DMA: waiting for the engine to finish a copy that can start is
 * bounded device time, like a disk's O_DIRECT, not a wait for another
 * task; and io_uring issues every request with IOCB_NOWAIT on this file,
 * so DMA would otherwise never serve it. That wait is not interruptible,
 * see circbuf_dma_move(). With @whole (an atomic write, at most PIPE_BUF
 * bytes) a signal or an engine error never stores part of it: it goes by
 * DMA only in one transfer that stores all or nothing, else by CPU, where
 * only a fault can cut it short (storing the prefix, as documented).
 * Return: the bytes moved, fewer than asked only after a fault, a DMA
 * error or a signal; or a negative errno if none.
 */
static ssize_t circbuf_move(struct circbuf_dev *cb, struct iov_iter *iter,
			    size_t len, enum circbuf_dir dir, bool nowait,
			    bool whole)
{
	size_t done = 0;
	ssize_t n = 0;

	lockdep_assert_held(circbuf_side_lock(cb, dir));
	len = min(len, dir == CIRCBUF_TO_USER ? circbuf_ring_readable(&cb->ring) :
						circbuf_ring_writable(&cb->ring));
	while (done < len) {
		size_t batch = min_t(size_t, len - done, CIRCBUF_BATCH);
		size_t reach = cb->chan ? circbuf_dma_reach(iter, batch) : 0;
		bool by_dma = reach && reach >= READ_ONCE(dma_threshold) &&
			      (!whole || reach == batch);

		if (by_dma) {
			batch = reach;
			n = circbuf_dma_move(cb, iter, batch, dir,
					     READ_ONCE(dma_timeout_ms), !nowait,
					     whole);
			/*
			 * Memory DMA cannot reach, the channel is busy with
			 * the other side, or there is no DMA at all (a kernel
			 * without dmaengine): the CPU path decides.
			 */
			by_dma = n != -EFAULT && n != -ENOMEM && n != -EBUSY &&
				 n != -ENODEV;
			if (!by_dma)
				dev_dbg(cb->dev, "DMA of %zu bytes not set up (%pe): CPU copy\n",
					batch, ERR_PTR(n));
		}
		if (!by_dma) {
			n = circbuf_cpu_move(cb, iter, batch, dir);
			cb->side[dir].cpu_bytes += n;
		}
		if (n > 0) {
			if (dir == CIRCBUF_TO_USER)
				circbuf_ring_consume(&cb->ring, n);
			else
				circbuf_ring_produce(&cb->ring, n);
			done += n;
		}
		if (n != batch)
			break;
		cond_resched();
	}
	if (done)
		return done;
	return n < 0 ? n : -EFAULT;
}

/*
 * Take a side's lock for an I/O call: never sleep for it under
 * IOCB_NOWAIT (io_uring's inline attempt), so that io_uring arms poll
 * instead of handing the request to a worker thread.
 */
static int circbuf_lock_io(struct mutex *lock, struct kiocb *iocb)
{
	if (iocb->ki_flags & IOCB_NOWAIT)
		return mutex_trylock(lock) ? 0 : -EAGAIN;
	return mutex_lock_interruptible(lock) ? -ERESTARTSYS : 0;
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
 * this very module from ever unloading.
 */
static int circbuf_open(struct inode *inode, struct file *file)
{
	struct circbuf_dev *cb = file_to_cb(file);

	circbuf_lock_all(cb);
	if (!cb->opens++ && use_dma) {
		circbuf_dma_get(cb, dma_any_channel);
		dev_dbg(cb->dev, "first open: DMA channel %s\n",
			cb->chan ? dma_chan_name(cb->chan) : "none");
	}
	if (file->f_mode & FMODE_READ)
		cb->readers++;
	if (file->f_mode & FMODE_WRITE)
		cb->writers++;
	dev_dbg(cb->dev, "open %s%s by %s[%d]: %u open, %u readers, %u writers\n",
		file->f_mode & FMODE_READ ? "r" : "-",
		file->f_mode & FMODE_WRITE ? "w" : "-", current->comm,
		task_pid_nr(current), cb->opens, cb->readers, cb->writers);
	circbuf_unlock_all(cb);

	/* Every call honours IOCB_NOWAIT: io_uring may try it inline. */
	file->f_mode |= FMODE_NOWAIT;
	return stream_open(inode, file);
}

/* Count the file's modes out; the last writer's close is end of file. */
static int circbuf_release(struct inode *inode, struct file *file)
{
	struct circbuf_dev *cb = file_to_cb(file);
	bool eof = false;

	circbuf_lock_all(cb);
	if (file->f_mode & FMODE_READ)
		cb->readers--;
	if (file->f_mode & FMODE_WRITE)
		eof = !--cb->writers;
	dev_dbg(cb->dev, "close %s%s by %s[%d]: %u open, %u readers, %u writers\n",
		file->f_mode & FMODE_READ ? "r" : "-",
		file->f_mode & FMODE_WRITE ? "w" : "-", current->comm,
		task_pid_nr(current), cb->opens - 1, cb->readers, cb->writers);
	if (!--cb->opens && cb->chan) {
		dev_dbg(cb->dev, "last close: releasing DMA channel %s\n",
			dma_chan_name(cb->chan));
		circbuf_dma_put(cb);
	}
	circbuf_unlock_all(cb);

	/* Every sleeping reader must see end of file, not just one. */
	if (eof) {
		circbuf_trace_wake(cb, CIRCBUF_TO_USER, &cb->rd_wait);
		__wake_up(&cb->rd_wait, TASK_INTERRUPTIBLE, 0,
			  poll_to_key(EPOLLIN | EPOLLRDNORM | EPOLLHUP));
	}
	return 0;
}

/* Return up to @count buffered bytes; block while empty and writers exist. */
static ssize_t circbuf_read(struct circbuf_dev *cb, struct kiocb *iocb,
			    struct iov_iter *to, size_t count)
{
	struct circbuf_side_stats *st = &cb->side[CIRCBUF_TO_USER];
	bool wake_next_reader;
	ssize_t ret;

	if (!count)
		return 0;
	ret = circbuf_lock_io(&cb->rd_lock, iocb);
	if (ret)
		return ret;

	while (!circbuf_ring_readable(&cb->ring)) {
		if (!cb->writers) {
			mutex_unlock(&cb->rd_lock);
			return 0;
		}
		mutex_unlock(&cb->rd_lock);
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
		mutex_lock(&cb->rd_lock);
	}

	ret = circbuf_move(cb, to, count, CIRCBUF_TO_USER,
			   iocb->ki_flags & IOCB_NOWAIT, false);
	if (ret > 0) {
		st->calls++;
		st->bytes += ret;
	}
	wake_next_reader = circbuf_ring_readable(&cb->ring);
	mutex_unlock(&cb->rd_lock);

	/* Writers wait for atomic_max bytes: wake one when that is free. */
	if (ret > 0 && circbuf_writable(cb))
		circbuf_wake(cb, CIRCBUF_TO_RING);
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

/*
 * Store all @count bytes, blocking while the ring is full. Up to
 * @atomic_max bytes go in one piece or (O_NONBLOCK) not at all; larger
 * writes store what fits and wait for more.
 */
static ssize_t circbuf_write(struct circbuf_dev *cb, struct kiocb *iocb,
			     struct iov_iter *from, size_t count)
{
	struct mutex *lock = circbuf_side_lock(cb, CIRCBUF_TO_RING);
	struct circbuf_side_stats *st = &cb->side[CIRCBUF_TO_RING];
	bool is_atomic = count <= cb->atomic_max;
	bool wake_next_writer;
	size_t done = 0;
	ssize_t err;

	if (!count)
		return 0;
	err = circbuf_lock_io(lock, iocb);
	if (err)
		return err;

	for (;;) {
		size_t space = circbuf_ring_writable(&cb->ring);
		size_t want = count - done;

		if (space && (!is_atomic || space >= want)) {
			ssize_t n = circbuf_move(cb, from, want, CIRCBUF_TO_RING,
						 iocb->ki_flags & IOCB_NOWAIT,
						 is_atomic);

			if (n > 0) {
				st->bytes += n;
				done += n;
				/*
				 * Wake a reader now, not on return: this
				 * writer may go on to wait for space that
				 * only a reader can make.
				 */
				circbuf_wake(cb, CIRCBUF_TO_USER);
			}
			if (n < 0) {
				err = n;
				break;
			}
			/* Short: a fault, a DMA error or a signal. */
			if (n < min(want, space)) {
				err = -EFAULT;
				break;
			}
			if (done == count)
				break;
		}
		if (circbuf_nowait(iocb)) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = -ERESTARTSYS;
			break;
		}
		mutex_unlock(lock);
		trace_circbuf_block(cb, CIRCBUF_TO_RING);
		err = wait_event_interruptible_exclusive(cb->wr_wait,
							 circbuf_writable(cb));
		/*
		 * Not interruptible, as in circbuf_read(); after a signal too,
		 * so that what was stored is counted and the wake-up passed on.
		 */
		mutex_lock(lock);
		if (err)
			break;
	}

	if (done)
		st->calls++;
	/* Pass the wake-up on if another writer can still make progress. */
	wake_next_writer = circbuf_ring_writable(&cb->ring) >= cb->atomic_max;
	mutex_unlock(lock);

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

/* Readiness: data to read, room for an atomic write, or end of file. */
static __poll_t circbuf_poll(struct file *file, poll_table *wait)
{
	struct circbuf_dev *cb = file_to_cb(file);
	bool rd = file->f_mode & FMODE_READ, wr = file->f_mode & FMODE_WRITE;
	struct mutex *wr_lock = circbuf_side_lock(cb, CIRCBUF_TO_RING);
	__poll_t mask = 0;
	size_t used;

	/* Register first, then look, so no wake-up falls in between. */
	if (rd)
		poll_wait(file, &cb->rd_wait, wait);
	if (wr)
		poll_wait(file, &cb->wr_wait, wait);

	/*
	 * smp_mb(): our queue entries are visible before the ring is read
	 * (as in sock_poll_wait()); pairs with wq_has_sleeper() in
	 * circbuf_wake().
	 *
	 * Then look under the lock of each side this file can use, waiting
	 * for a transfer of that side to finish: "ready" must mean that an
	 * IOCB_NOWAIT attempt made right after can take the lock. io_uring
	 * retries a request once when its poll fires and hands it to an
	 * io-wq worker if that retry fails too; a lock-free look made it do
	 * so whenever the side was busy (circbuf-fuzz found the punts).
	 */
	smp_mb();
	if (wr)
		mutex_lock(wr_lock);
	if (rd && (!wr || wr_lock != &cb->rd_lock))
		mutex_lock(&cb->rd_lock);
	used = circbuf_ring_used(&cb->ring);
	if (rd) {
		if (used)
			mask |= EPOLLIN | EPOLLRDNORM;
		else if (!cb->writers)
			mask |= EPOLLHUP;
	}
	if (wr && cb->ring.cap - used >= cb->atomic_max)
		mask |= EPOLLOUT | EPOLLWRNORM;
	if (rd && (!wr || wr_lock != &cb->rd_lock))
		mutex_unlock(&cb->rd_lock);
	if (wr)
		mutex_unlock(wr_lock);

	return mask;
}

/*
 * Take a consistent snapshot of the ring and its counters: the one place
 * that computes them, for the ioctl, io_uring, sysfs and /proc/circbuf.
 */
static void circbuf_fill_stats(struct circbuf_dev *cb, struct circbuf_stats *st)
{
	const struct circbuf_side_stats *rd = &cb->side[CIRCBUF_TO_USER];
	const struct circbuf_side_stats *wr = &cb->side[CIRCBUF_TO_RING];

	/*
	 * Both sides' locks: the ring and the counters hold still. The DMA
	 * counters too, although their lock is @dma_lock: it is only ever
	 * taken inside a side's lock.
	 */
	lockdep_assert_held(&cb->rd_lock);
	lockdep_assert_held(circbuf_side_lock(cb, CIRCBUF_TO_RING));
	memset(st, 0, sizeof(*st));
	st->capacity = cb->ring.cap;
	st->used = circbuf_ring_used(&cb->ring);
	st->available = cb->ring.cap - st->used;
	st->reads = rd->calls;
	st->writes = wr->calls;
	st->bytes_read = rd->bytes;
	st->bytes_written = wr->bytes;
	st->readers = cb->readers;
	st->writers = cb->writers;
	st->dma_submitted = cb->dma_submitted;
	st->dma_completed = cb->dma_completed;
	st->dma_failed = cb->dma_failed;
	st->dma_timeouts = cb->dma_timeouts;
	st->dma_bytes = cb->dma_bytes;
	st->cpu_bytes = rd->cpu_bytes + wr->cpu_bytes;
	if (!IS_ENABLED(CONFIG_DMA_ENGINE))
		st->flags |= CIRCBUF_STATS_NO_DMA;
}

/* Lock, snapshot, unlock; -ERESTARTSYS if a signal came first. */
static int circbuf_get_stats(struct circbuf_dev *cb, struct circbuf_stats *st)
{
	if (circbuf_lock_all_interruptible(cb))
		return -ERESTARTSYS;
	circbuf_fill_stats(cb, st);
	circbuf_unlock_all(cb);
	return 0;
}

/* CIRCBUF_GET_STATS and FIONREAD. */
static long circbuf_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct circbuf_dev *cb = file_to_cb(file);
	void __user *argp = (void __user *)arg;
	struct circbuf_stats st;
	int used, err;

	switch (cmd) {
	case CIRCBUF_GET_STATS:
		err = circbuf_get_stats(cb, &st);
		if (err)
			return err;
		return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
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

	/* Inline attempt: never sleep for the lock; io_uring retries. */
	if (issue_flags & IO_URING_F_NONBLOCK) {
		if (!circbuf_trylock_all(cb))
			return -EAGAIN;
	} else {
		circbuf_lock_all(cb);
	}
	circbuf_fill_stats(cb, &st);
	circbuf_unlock_all(cb);

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
	int err;

	err = circbuf_get_stats(cb, &st);
	if (err)
		return err;
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

	if (circbuf_lock_all_interruptible(cb))
		return -ERESTARTSYS;
	circbuf_fill_stats(cb, &st);
	if (cb->chan)
		strscpy(chan, dma_chan_name(cb->chan), sizeof(chan));
	circbuf_unlock_all(cb);

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

	seq_printf(m, "dma.channel: %s\n", chan);
	circbuf_dma_engine_show(m);
	return 0;
}

static int __init circbuf_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct circbuf_dev *cb;
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
	/* Separate mutex_init() calls: three lock classes for lockdep. */
	mutex_init(&cb->wr_lock);
	mutex_init(&cb->rd_lock);
	mutex_init(&cb->dma_lock);
	init_waitqueue_head(&cb->rd_wait);
	init_waitqueue_head(&cb->wr_wait);
	circbuf_ring_init(&cb->ring, buffer_size);
	cb->atomic_max = min_t(size_t, PIPE_BUF, buffer_size);

	err = circbuf_dma_buf_alloc(&cb->buf, dev, buffer_size,
				    ilog2(segment_size));
	if (err)
		return err;

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
		goto err_free_buf;
	}

	cb->proc = proc_create_single_data(CIRCBUF_DEVICE_NAME, 0444, NULL,
					   circbuf_proc_show, cb);
	if (!cb->proc) {
		dev_err(dev, "cannot create /proc/%s\n", CIRCBUF_DEVICE_NAME);
		err = -ENOMEM;
		goto err_deregister_misc;
	}
	platform_set_drvdata(pdev, cb);

	dev_info(dev, "/dev/%s ready: %u bytes in %zu coherent segment(s), %s locking\n",
		 CIRCBUF_DEVICE_NAME, buffer_size, cb->buf.nr_segs, locking);
	return 0;

err_deregister_misc:
	misc_deregister(&cb->misc);
err_free_buf:
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

	/* Waits for readers of /proc/circbuf to finish. */
	proc_remove(cb->proc);
	misc_deregister(&cb->misc);
	circbuf_dma_buf_free(&cb->buf);
	mutex_destroy(&cb->dma_lock);
	mutex_destroy(&cb->rd_lock);
	mutex_destroy(&cb->wr_lock);
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
