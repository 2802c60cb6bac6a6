/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a ring's read and write paths share with its span protocol
 * (circbuf_span.c): the wait conditions, the side locks for I/O, the
 * commit of a transfer and the wake-ups that follow it. Inline: each runs
 * on every read and write, where a call costs more than its body.
 */
#ifndef _CIRCBUF_IO_H
#define _CIRCBUF_IO_H

#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>

#include "circbuf_dev.h"
#include "circbuf_trace.h"

/* How long a side spins on the other's transfer before it sleeps. */
#define CIRCBUF_SPIN_NS		(200 * NSEC_PER_USEC)

static inline struct circbuf_dev *file_to_cb(struct file *file)
{
	return container_of(file->private_data, struct circbuf_dev, misc);
}

/*
 * Wait conditions. They run without the locks, so they take snapshots
 * (circbuf_ring_used(), READ_ONCE()) and the caller rechecks under its
 * lock.
 */
static inline bool circbuf_readable(struct circbuf_dev *cb)
{
	return circbuf_ring_used(&cb->ring) || !READ_ONCE(cb->writers);
}

/* Whether a packet slot is free: a snapshot, for conditions and poll. */
static inline bool circbuf_pkt_slot_free(struct circbuf_dev *cb)
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
static inline bool circbuf_writable(struct circbuf_dev *cb)
{
	return circbuf_ring_space(&cb->ring) >= READ_ONCE(cb->atomic_max) &&
	       circbuf_pkt_slot_free(cb);
}

/* What a wake-up of direction @dir's queue tells pollers. */
static inline __poll_t circbuf_wake_key(enum circbuf_dir dir)
{
	return dir == CIRCBUF_TO_USER ? EPOLLIN | EPOLLRDNORM :
					EPOLLOUT | EPOLLWRNORM;
}

/* Trace a wake-up of @side's wait queue @wq if anyone sleeps or polls there. */
static inline void circbuf_trace_wake(struct circbuf_dev *cb,
				      enum circbuf_dir side,
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
static inline void circbuf_wake(struct circbuf_dev *cb, enum circbuf_dir side)
{
	struct wait_queue_head *wq = side == CIRCBUF_TO_USER ? &cb->rd_wait :
							       &cb->wr_wait;

	if (!wq_has_sleeper(wq))
		return;
	circbuf_trace_wake(cb, side, wq);
	wake_up_interruptible_poll(wq, circbuf_wake_key(side));
}

/* Whether a call that would have to wait must fail with -EAGAIN. */
static inline bool circbuf_nowait(struct kiocb *iocb)
{
	return (iocb->ki_filp->f_flags & O_NONBLOCK) ||
	       (iocb->ki_flags & IOCB_NOWAIT);
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
static inline int circbuf_lock_side(struct circbuf_dev *cb,
				    enum circbuf_dir dir, struct kiocb *iocb)
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
 * Whether a span holds direction @dir: a snapshot, exact under the
 * direction's lock, where a span is taken and given back (a close or
 * munmap may end one at any time, with no lock).
 */
static inline bool circbuf_side_held(struct circbuf_dev *cb,
				     enum circbuf_dir dir)
{
	return READ_ONCE(cb->side[dir].holder);
}

/* Whether a file other than @file holds direction @dir's span. */
static inline bool circbuf_held_by_other(struct circbuf_dev *cb,
					 enum circbuf_dir dir,
					 struct file *file)
{
	struct file *holder = READ_ONCE(cb->side[dir].holder);

	return holder && holder != file;
}

static inline void circbuf_unlock_io(struct circbuf_dev *cb,
				     enum circbuf_dir dir);

/*
 * Take the lock of direction @dir for an I/O call, and with it the
 * direction: while another file holds its span (circbuf_span.c), wait for
 * the span to end as for a call in progress, or fail with -EAGAIN where a
 * call must not wait (O_NONBLOCK, IOCB_NOWAIT). circbuf_poll() leaves the
 * direction's readiness out meanwhile, and the span's end wakes it. The
 * holder's own file gets -EBUSY: its span is where this call would work.
 */
static inline int circbuf_lock_io(struct circbuf_dev *cb,
				  enum circbuf_dir dir, struct kiocb *iocb)
{
	struct file *file = iocb->ki_filp;
	struct file *holder;
	int err;

	for (;;) {
		err = circbuf_lock_side(cb, dir, iocb);
		if (err)
			return err;
		holder = READ_ONCE(cb->side[dir].holder);
		if (likely(!holder))
			return 0;
		circbuf_unlock_io(cb, dir);
		if (holder == file)
			return -EBUSY;
		if (circbuf_nowait(iocb))
			return -EAGAIN;
		if (wait_event_interruptible(cb->side[dir].hold_wait,
					     !circbuf_held_by_other(cb, dir, file)))
			return -ERESTARTSYS;
	}
}

/*
 * Release the lock of direction @dir; if an IOCB_NOWAIT caller found it
 * held, wake the pollers of every direction it serves (io_uring's armed
 * polls among them, which retry now that the lock is free).
 */
static inline void circbuf_unlock_io(struct circbuf_dev *cb,
				     enum circbuf_dir dir)
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
 * and an IOCB_NOWAIT caller has failed to take it, or another file holds
 * its span; see circbuf_lock_io().
 * A snapshot, with no lock; the caller has ordered it after queueing on
 * the wait queue.
 */
static inline bool circbuf_side_busy(struct circbuf_dev *cb,
				     enum circbuf_dir dir)
{
	struct circbuf_side *s = circbuf_locker(cb, dir);

	return (test_bit(CIRCBUF_SIDE_CONTENDED, &s->flags) &&
		mutex_is_locked(&s->lock)) || circbuf_side_held(cb, dir);
}

/*
 * About to sleep until the other side of a split ring makes data
 * (@dir TO_USER) or space (TO_RING): first spin while that side holds its
 * lock, as a mutex's waiter spins on its running owner. The holder is in
 * the middle of a transfer and publishes what this side waits for when it
 * commits; when a block fills the ring the two sides take turns, and a
 * short spin saves a sleep and a wake-up on each turn. Only a snapshot:
 * the caller's wait_event_*() looks at its condition again. Never on one
 * CPU, where the holder cannot run while this spins, nor with single
 * locking, where the caller has just dropped the one lock. Bounded by
 * CIRCBUF_SPIN_NS (the holder may be waiting for a fault or the DMA
 * engine), by need_resched() and by a signal.
 */
static inline void circbuf_spin_on_other(struct circbuf_dev *cb,
					 enum circbuf_dir dir)
{
	enum circbuf_dir other = dir == CIRCBUF_TO_USER ? CIRCBUF_TO_RING :
							  CIRCBUF_TO_USER;
	struct mutex *lock = &cb->side[other].lock;
	u64 end;

	if (!cb->split || num_online_cpus() < 2)
		return;
	end = local_clock() + CIRCBUF_SPIN_NS;
	while (mutex_is_locked(lock)) {
		if (dir == CIRCBUF_TO_USER ? circbuf_readable(cb) :
					     circbuf_writable(cb))
			return;
		if (need_resched() || signal_pending(current) ||
		    local_clock() > end)
			return;
		cpu_relax();
	}
}

/*
 * Publish @n bytes moved in direction @dir, @cpu of them by CPU and the
 * rest by DMA: data for readers, or space for writers. The ring position
 * and the counters change in one write section of the side's seqcount,
 * for consistent snapshots. @call: the call's first commit, which counts
 * the call. @packet: the bytes are one packet (a write in packet mode),
 * recorded before they are published, see circbuf_packets.h.
 */
static inline void circbuf_commit(struct circbuf_dev *cb,
				  enum circbuf_dir dir, size_t n, size_t cpu,
				  bool call, bool packet)
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
 * Signal the O_ASYNC files of list @fp with SIGIO and @band, if it has
 * any. kill_fasync() starts with the same unlocked look, but behind a call
 * that every read and write would pay for; no barrier, as there: a file
 * that turns O_ASYNC on while this runs gets the signals of the calls that
 * follow.
 */
static inline void circbuf_kill_fasync(struct fasync_struct **fp, int band)
{
	if (READ_ONCE(*fp))
		kill_fasync(fp, SIGIO, band);
}

/*
 * Data arrived: wake a reader and the pollers, and signal the O_ASYNC
 * readers, as pipe_write() does after every write that stored something.
 */
static inline void circbuf_data_arrived(struct circbuf_dev *cb)
{
	circbuf_wake(cb, CIRCBUF_TO_USER);
	circbuf_kill_fasync(&cb->rd_fasync, POLL_IN);
}

/*
 * A read freed space: if @atomic_max bytes are free now, the rule of
 * EPOLLOUT, wake a writer and the pollers, and signal the O_ASYNC writers.
 * A writer woken with less would find no room for an atomic write.
 */
static inline void circbuf_space_freed(struct circbuf_dev *cb)
{
	if (!circbuf_writable(cb))
		return;
	circbuf_wake(cb, CIRCBUF_TO_RING);
	circbuf_kill_fasync(&cb->wr_fasync, POLL_OUT);
}

/*
 * Tell the other side what a transfer in direction @dir has given it:
 * readers data after a write, writers space after a read.
 */
static inline void circbuf_wake_other(struct circbuf_dev *cb,
				      enum circbuf_dir dir)
{
	if (dir == CIRCBUF_TO_RING)
		circbuf_data_arrived(cb);
	else
		circbuf_space_freed(cb);
}

/*
 * Drop the @n unread bytes of the packet a read has just taken part of,
 * and its slot: the reader's position moves on, counted as discarded.
 */
static inline void circbuf_discard(struct circbuf_dev *cb, size_t n)
{
	circbuf_stats_begin(cb, CIRCBUF_TO_USER);
	circbuf_ring_consume(&cb->ring, n);
	cb->side[CIRCBUF_TO_USER].stats.discarded += n;
	circbuf_stats_end(cb, CIRCBUF_TO_USER);
	circbuf_pkts_pop(&cb->pkts);
}

#endif /* _CIRCBUF_IO_H */
