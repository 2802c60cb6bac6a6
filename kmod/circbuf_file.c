// SPDX-License-Identifier: GPL-2.0
/*
 * One ring's file operations: open, release, read, write, poll, fasync,
 * the ioctls (CIRCBUF_SET_CAPACITY among them) and io_uring's uring_cmd.
 *
 * A read blocks while the ring is empty and some file is open for writing,
 * and returns 0 (end of file) once it is empty with no writer. A write
 * blocks while the ring is full; writes of at most PIPE_BUF bytes (or of
 * the whole capacity, when that is smaller) are atomic. No reader is
 * needed for a write: data waits in the ring, which lives as long as the
 * ring does, across opens and closes. poll() reports EPOLLIN, EPOLLOUT and
 * EPOLLHUP; FIONREAD and the CIRCBUF_GET_STATS ioctl describe the ring.
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
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <asm/ioctls.h>
#include <linux/capability.h>
#include <linux/dmaengine.h>
#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/log2.h>
#include <linux/lockdep.h>
#include <linux/module.h>
#include <linux/pipe_fs_i.h>
#include <linux/poll.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "circbuf.h"
#include "circbuf_compat.h"
#include "circbuf_dev.h"
#include "circbuf_params.h"
#include "circbuf_io.h"
#include "circbuf_trace.h"

/* Bytes moved between two chances to reschedule. */
#define CIRCBUF_BATCH		SZ_1M

/*
 * Copy @len bytes between @iter and the ring at its current position by
 * CPU, stopping at the first fault. Return: the bytes copied; @iter has
 * advanced by as many.
 */
static size_t circbuf_cpu_move(struct circbuf_dev *cb, struct iov_iter *iter,
			       size_t len, enum circbuf_dir dir)
{
	struct circbuf_piece sp[2];
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
			/*
			 * The underscored copies skip check_object_size(),
			 * as copy_page_to_iter() does after page_copy_sane():
			 * hardened usercopy guards slab objects and stacks,
			 * and a coherent segment is neither, so it could only
			 * look the address up, at about 140 instructions a
			 * call (a third of a 64-byte read). The bound it
			 * stands for is this one: the chunk stays inside its
			 * segment.
			 */
			if (WARN_ON_ONCE(seg_off + chunk > cb->buf.segs[idx].len))
				return done;
			ring = cb->buf.segs[idx].cpu + seg_off;
			if (dir == CIRCBUF_TO_USER)
				copied = _copy_to_iter(ring, chunk, iter);
			else
				copied = _copy_from_iter(ring, chunk, iter);
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
		size_t threshold = READ_ONCE(circbuf_dma_threshold);
		/* Only a batch the threshold lets through asks for DMA. */
		size_t reach = cb->chan && !nowait && batch >= threshold ?
			       circbuf_dma_reach(iter, batch) : 0;
		size_t moved = 0, cpu = 0;

		if (reach && reach >= threshold &&
		    (!whole || reach == batch) && !signal_pending(current)) {
			ssize_t n;

			batch = reach;
			n = circbuf_dma_move(cb, iter, batch, dir,
					     READ_ONCE(circbuf_dma_timeout_ms), whole);
			if (n > 0)
				moved = n;
			if (moved < batch)
				dev_dbg(circbuf_node(cb), "DMA moved %zu of %zu bytes (%pe): CPU copy of the rest\n",
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
	/* Being removed: its node goes once this open has failed. */
	if (cb->gone) {
		mutex_unlock(&cb->open_lock);
		return -ENODEV;
	}
	if (!cb->opens++ && circbuf_use_dma) {
		circbuf_dma_get(cb, circbuf_dma_any_channel);
		dev_dbg(circbuf_node(cb), "first open: DMA channel %s\n",
			cb->chan ? dma_chan_name(cb->chan) : "none");
	}
	if (file->f_mode & FMODE_READ)
		WRITE_ONCE(cb->readers, cb->readers + 1);
	/* No ordering needed: a new writer has stored nothing yet. */
	if (file->f_mode & FMODE_WRITE)
		WRITE_ONCE(cb->writers, cb->writers + 1);
	dev_dbg(circbuf_node(cb), "open %s%s by %s[%d]: %u open, %u readers, %u writers\n",
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

	circbuf_span_end(cb, CIRCBUF_TO_USER, file);
	circbuf_span_end(cb, CIRCBUF_TO_RING, file);
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
	dev_dbg(circbuf_node(cb), "close %s%s by %s[%d]: %u open, %u readers, %u writers\n",
		file->f_mode & FMODE_READ ? "r" : "-",
		file->f_mode & FMODE_WRITE ? "w" : "-", current->comm,
		task_pid_nr(current), cb->opens - 1, cb->readers, cb->writers);
	if (!--cb->opens && cb->chan) {
		dev_dbg(circbuf_node(cb), "last close: releasing DMA channel %s\n",
			dma_chan_name(cb->chan));
		circbuf_dma_put(cb);
	}

	/*
	 * Every sleeping reader must see end of file, not just one. The
	 * O_ASYNC readers get POLL_IN, as from pipe_release(): a read now
	 * returns 0. Under @open_lock: once the last file's release drops
	 * it, CIRCBUF_CTL_REMOVE may free the ring.
	 */
	if (eof) {
		circbuf_trace_wake(cb, CIRCBUF_TO_USER, &cb->rd_wait);
		__wake_up(&cb->rd_wait, TASK_INTERRUPTIBLE, 0,
			  poll_to_key(EPOLLIN | EPOLLRDNORM | EPOLLHUP));
		kill_fasync(&cb->rd_fasync, SIGIO, POLL_IN);
	}
	mutex_unlock(&cb->open_lock);
	return 0;
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

	for (;;) {
		/*
		 * A span taken while this call slept (circbuf_span.c) holds
		 * the direction: wait for its end as for data, also at end of
		 * file, as the span may end with nothing consumed.
		 */
		bool held = circbuf_side_held(cb, CIRCBUF_TO_USER);

		if (!held && circbuf_ring_readable(&cb->ring))
			break;
		/*
		 * Acquire: pairs with the release in circbuf_release(). With
		 * no writer left, whatever the last one stored is visible
		 * now: look once more before calling it end of file.
		 */
		if (!held && !smp_load_acquire(&cb->writers)) {
			if (circbuf_ring_readable(&cb->ring))
				break;
			circbuf_unlock_io(cb, CIRCBUF_TO_USER);
			return 0;
		}
		circbuf_unlock_io(cb, CIRCBUF_TO_USER);
		if (circbuf_nowait(iocb))
			return -EAGAIN;
		trace_circbuf_block(cb, CIRCBUF_TO_USER);
		circbuf_spin_on_other(cb, CIRCBUF_TO_USER);
		if (wait_event_interruptible_exclusive(cb->rd_wait,
						       circbuf_readable(cb) &&
						       !circbuf_side_held(cb, CIRCBUF_TO_USER)))
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
		/*
		 * A span taken while this call slept (circbuf_span.c) holds
		 * the direction: wait for its end as for room.
		 */
		if (!circbuf_side_held(cb, CIRCBUF_TO_RING) && space &&
		    (!is_atomic || space >= want) &&
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
		circbuf_spin_on_other(cb, CIRCBUF_TO_RING);
		err = wait_event_interruptible_exclusive(cb->wr_wait,
							 circbuf_writable(cb) &&
							 !circbuf_side_held(cb, CIRCBUF_TO_RING));
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
	/* No mmap starts until the storage is replaced, see circbuf_mmap(). */
	mutex_lock(&cb->map_lock);
	if (atomic_read(&cb->maps) || READ_ONCE(cb->side[CIRCBUF_TO_USER].holder) ||
	    READ_ONCE(cb->side[CIRCBUF_TO_RING].holder)) {
		dev_info_ratelimited(circbuf_node(cb), "the capacity cannot change while the ring is mapped or a span of it is held\n");
		err = -EBUSY;
		goto err_unlock_map;
	}
	/*
	 * The channel holds still: this file is open (see @chan). Mapped
	 * under the locks, so that a failure still changes nothing.
	 */
	if (cb->chan) {
		err = circbuf_dma_buf_map(&nbuf, cb->buf.chan_dev);
		if (err)
			goto err_unlock_map;
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
err_unlock_map:
	mutex_unlock(&cb->map_lock);
	if (cb->split)
		circbuf_unlock_io(cb, CIRCBUF_TO_USER);
err_unlock_writers:
	circbuf_unlock_io(cb, CIRCBUF_TO_RING);
	/* More room, or a smaller atomic_max: the writers check again. */
	if (!err)
		circbuf_space_freed(cb);
err_free_storage:
	circbuf_storage_free(&nbuf, slot);
err_uncharge:
	/* The old capacity once the new one is in place, else the new one. */
	circbuf_uncharge(uncharge);
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
	case CIRCBUF_RX_ACQUIRE:
	case CIRCBUF_RX_RELEASE:
	case CIRCBUF_TX_ACQUIRE:
	case CIRCBUF_TX_COMMIT:
		return circbuf_span_cmd(cb, file, cmd, argp, false);
	case FIONREAD:
		/* An int, as for pipes: the capacity is far below INT_MAX. */
		used = circbuf_ring_used(&cb->ring);
		return put_user(used, (int __user *)argp);
	default:
		return -ENOTTY;
	}
}

/*
 * IORING_OP_URING_CMD: CIRCBUF_GET_STATS and the span protocol for event
 * loops, see the uapi.
 */
static int circbuf_uring_cmd(struct io_uring_cmd *ioucmd,
			     unsigned int issue_flags)
{
	struct circbuf_dev *cb = file_to_cb(ioucmd->file);
	const struct circbuf_uring_cmd *cmd = circbuf_uring_cmd_payload(ioucmd);
	struct circbuf_stats st;
	u64 addr;

	switch (ioucmd->cmd_op) {
	case CIRCBUF_GET_STATS:
	case CIRCBUF_RX_ACQUIRE:
	case CIRCBUF_RX_RELEASE:
	case CIRCBUF_TX_ACQUIRE:
	case CIRCBUF_TX_COMMIT:
		break;
	default:
		return -ENOTTY;
	}
	/* The command area is shared with user space: read it once. */
	addr = READ_ONCE(cmd->addr);
	if (READ_ONCE(cmd->reserved))
		return -EINVAL;

	if (ioucmd->cmd_op == CIRCBUF_GET_STATS) {
		/* No lock to wait for: this completes inline, never in io-wq. */
		circbuf_fill_stats(cb, &st);
		return copy_to_user(u64_to_user_ptr(addr), &st, sizeof(st)) ?
		       -EFAULT : 0;
	}
	/*
	 * The issue from the submitter must not sleep: -EAGAIN sends the
	 * command to an io-wq worker, which issues it again without
	 * IO_URING_F_NONBLOCK and waits there, as the ioctl does.
	 */
	return circbuf_span_cmd(cb, ioucmd->file, ioucmd->cmd_op,
				u64_to_user_ptr(addr),
				issue_flags & IO_URING_F_NONBLOCK);
}

const struct file_operations circbuf_fops = {
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
	.mmap		= circbuf_mmap,
};

