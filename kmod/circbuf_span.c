// SPDX-License-Identifier: GPL-2.0
/*
 * The span protocol: read and write a mapped ring in place (circbuf_mmap.c)
 * instead of copying through read() and write().
 *
 * A reader asks for a span of readable bytes (CIRCBUF_RX_ACQUIRE), parses
 * them in the mapping and consumes what it used (CIRCBUF_RX_RELEASE); a
 * writer asks for a span of free space (CIRCBUF_TX_ACQUIRE), fills it in
 * the mapping and publishes what it wrote (CIRCBUF_TX_COMMIT). From the
 * ACQUIRE to the RELEASE or COMMIT the file holds that direction
 * (circbuf_side::holder): the other callers of the direction wait for it
 * as they wait for a call in progress (circbuf_lock_io()), because the
 * ring position it works at is the one they would move. Each call holds
 * the direction's lock only while it runs, never across the return to
 * user space; the span lives in @holder. A close of the file, or a munmap
 * of one of its mappings, ends its spans with nothing consumed or
 * published (circbuf_span_end()).
 *
 * A RELEASE or COMMIT commits as a read() or write() of as many bytes
 * does, with the same counters, the same tracepoint and the same
 * wake-ups; poll and end of file are unchanged. The bytes are counted as
 * moved by CPU (cpu_bytes): no DMA transfer moved them.
 *
 * Ordering: the bytes a writer stores in the mapping before TX_COMMIT are
 * published by the release of its commit, as a write()'s copy is
 * (circbuf_ring.h); a reader's RX_ACQUIRE reads the writer's position with
 * acquire, so the bytes are there before it returns, and its loads of
 * them come before the release of its RX_RELEASE that frees the space.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/uaccess.h>

#include "circbuf.h"
#include "circbuf_io.h"

/*
 * A span of direction @dir ended: wake the callers that waited for it, and
 * the pollers that circbuf_poll() held back meanwhile.
 */
static void circbuf_span_wake(struct circbuf_dev *cb, enum circbuf_dir dir)
{
	wake_up_interruptible_all(&cb->side[dir].hold_wait);
	wake_up_interruptible_poll(dir == CIRCBUF_TO_USER ? &cb->rd_wait :
							   &cb->wr_wait,
				   circbuf_wake_key(dir));
}

/**
 * circbuf_span_end() - end @file's span of direction @dir, if it holds one
 * @cb:		the ring
 * @dir:	the direction
 * @file:	a file of the ring that goes (release) or whose mapping goes
 *		(munmap)
 *
 * Nothing is consumed or published. No lock: a munmap calls this under
 * mmap_lock, inside which the side locks must not nest (a read() holds
 * its side lock across a fault, which takes mmap_lock). cmpxchg() makes the
 * end one with a RELEASE or COMMIT that ends the same span under the lock.
 */
void circbuf_span_end(struct circbuf_dev *cb, enum circbuf_dir dir,
		      struct file *file)
{
	if (cmpxchg(&cb->side[dir].holder, file, NULL) == file)
		circbuf_span_wake(cb, dir);
}

/* What an RX_ACQUIRE waits for: @want bytes, a packet, or end of file. */
static bool circbuf_rx_ready(struct circbuf_dev *cb, size_t want)
{
	return circbuf_ring_used(&cb->ring) >= want ||
	       circbuf_pkts_count(&cb->pkts) || !READ_ONCE(cb->writers);
}

/*
 * The span a reader may take now, as a read() would: the byte-mode data
 * before the next packet or, when the packet is next, the packet alone
 * (*@packet set). Under the readers' lock.
 */
static size_t circbuf_rx_avail(struct circbuf_dev *cb, bool *packet)
{
	/* Readable first, then the packets: see circbuf_pkts_peek(). */
	size_t readable = circbuf_ring_readable(&cb->ring);
	const struct circbuf_pkt *p = circbuf_pkts_peek(&cb->pkts);
	size_t bytes;

	*packet = circbuf_pkts_plan(p, cb->ring.cons.pos, readable, &bytes) &&
		  !bytes;
	return *packet ? p->len : bytes;
}

/*
 * A kiocb that stands for the span call on @file, for circbuf_lock_io() and
 * circbuf_nowait(): IOCB_NOWAIT when the call must not sleep (@nowait, an
 * io_uring issue that would rather go to io-wq).
 */
static void circbuf_span_kiocb(struct kiocb *kiocb, struct file *file,
			       bool nowait)
{
	init_sync_kiocb(kiocb, file);
	if (nowait)
		kiocb->ki_flags |= IOCB_NOWAIT;
}

static long circbuf_rx_acquire(struct circbuf_dev *cb, struct file *file,
			       struct circbuf_span *sp, bool nowait)
{
	struct circbuf_side *h = &cb->side[CIRCBUF_TO_USER];
	size_t want = sp->len ? sp->len : 1, avail;
	struct kiocb kiocb;
	bool packet;
	int err;

	circbuf_span_kiocb(&kiocb, file, nowait);
	err = circbuf_lock_io(cb, CIRCBUF_TO_USER, &kiocb);
	if (err)
		return err;
	for (;;) {
		err = -EINVAL;
		if (want > cb->ring.cap)
			goto out_unlock;
		avail = circbuf_rx_avail(cb, &packet);
		if (avail >= want || packet)
			break;
		/*
		 * Acquire: pairs with the release in circbuf_release(), as in
		 * circbuf_read(); look once more before calling it the end.
		 */
		if (!smp_load_acquire(&cb->writers)) {
			avail = circbuf_rx_avail(cb, &packet);
			break;
		}
		circbuf_unlock_io(cb, CIRCBUF_TO_USER);
		if (circbuf_nowait(&kiocb))
			return -EAGAIN;
		/* Not exclusive: a wake-up for fewer bytes is not used up. */
		if (wait_event_interruptible(cb->rd_wait,
					     circbuf_rx_ready(cb, want)))
			return -ERESTARTSYS;
		err = circbuf_lock_io(cb, CIRCBUF_TO_USER, &kiocb);
		if (err)
			return err;
	}
	sp->offset = cb->ring.cons.off;
	sp->len = avail;
	/* End of file: no span to hold. */
	if (avail) {
		h->held = avail;
		WRITE_ONCE(h->holder, file);
	}
	err = 0;
out_unlock:
	circbuf_unlock_io(cb, CIRCBUF_TO_USER);
	return err;
}

static long circbuf_tx_acquire(struct circbuf_dev *cb, struct file *file,
			       struct circbuf_span *sp, bool nowait)
{
	struct circbuf_side *h = &cb->side[CIRCBUF_TO_RING];
	size_t want = sp->len ? sp->len : 1, space;
	struct kiocb kiocb;
	int err;

	/* A packet is what one write() stores: no span makes one. */
	if (file->f_flags & O_DIRECT)
		return -EINVAL;
	circbuf_span_kiocb(&kiocb, file, nowait);
	err = circbuf_lock_io(cb, CIRCBUF_TO_RING, &kiocb);
	if (err)
		return err;
	for (;;) {
		err = -EINVAL;
		if (want > cb->ring.cap)
			goto out_unlock;
		space = circbuf_ring_writable(&cb->ring);
		if (space >= want)
			break;
		circbuf_unlock_io(cb, CIRCBUF_TO_RING);
		if (circbuf_nowait(&kiocb))
			return -EAGAIN;
		if (wait_event_interruptible(cb->wr_wait,
					     circbuf_ring_space(&cb->ring) >= want))
			return -ERESTARTSYS;
		err = circbuf_lock_io(cb, CIRCBUF_TO_RING, &kiocb);
		if (err)
			return err;
	}
	sp->offset = cb->ring.prod.off;
	sp->len = space;
	h->held = space;
	WRITE_ONCE(h->holder, file);
	err = 0;
out_unlock:
	circbuf_unlock_io(cb, CIRCBUF_TO_RING);
	return err;
}

/*
 * Take direction @dir's lock for the holder's RELEASE or COMMIT of @n
 * bytes: -EINVAL unless @file holds a span of at least @n bytes; -EAGAIN
 * if the lock is taken and the call must not sleep (@nowait).
 */
static int circbuf_span_lock(struct circbuf_dev *cb, enum circbuf_dir dir,
			     struct file *file, u64 n, bool nowait)
{
	struct circbuf_side *h = &cb->side[dir];
	struct mutex *lock = circbuf_side_lock(cb, dir);

	if (nowait ? !mutex_trylock(lock) : mutex_lock_interruptible(lock))
		return nowait ? -EAGAIN : -ERESTARTSYS;
	if (READ_ONCE(h->holder) != file || n > h->held) {
		circbuf_unlock_io(cb, dir);
		return -EINVAL;
	}
	return 0;
}

static long circbuf_rx_release(struct circbuf_dev *cb, struct file *file,
			       u64 n, bool nowait)
{
	const struct circbuf_pkt *p;
	bool packet;
	int err;

	err = circbuf_span_lock(cb, CIRCBUF_TO_USER, file, n, nowait);
	if (err)
		return err;
	/* Readable first, then the packets: see circbuf_pkts_peek(). */
	circbuf_ring_readable(&cb->ring);
	p = circbuf_pkts_peek(&cb->pkts);
	packet = p && p->start == cb->ring.cons.pos;
	if (n) {
		circbuf_commit(cb, CIRCBUF_TO_USER, n, n, true, false);
		/* Part of a packet is all of it, as for read(). */
		if (packet)
			circbuf_discard(cb, p->len - n);
	}
	WRITE_ONCE(cb->side[CIRCBUF_TO_USER].holder, NULL);
	circbuf_unlock_io(cb, CIRCBUF_TO_USER);

	trace_circbuf_read(cb, n, n);
	circbuf_span_wake(cb, CIRCBUF_TO_USER);
	if (n)
		circbuf_space_freed(cb);
	return 0;
}

static long circbuf_tx_commit(struct circbuf_dev *cb, struct file *file,
			      u64 n, bool nowait)
{
	int err;

	err = circbuf_span_lock(cb, CIRCBUF_TO_RING, file, n, nowait);
	if (err)
		return err;
	if (n)
		circbuf_commit(cb, CIRCBUF_TO_RING, n, n, true, false);
	WRITE_ONCE(cb->side[CIRCBUF_TO_RING].holder, NULL);
	circbuf_unlock_io(cb, CIRCBUF_TO_RING);

	trace_circbuf_write(cb, n, n);
	circbuf_span_wake(cb, CIRCBUF_TO_RING);
	if (n)
		circbuf_data_arrived(cb);
	return 0;
}

/**
 * circbuf_span_cmd() - CIRCBUF_RX_ACQUIRE, _RX_RELEASE, _TX_ACQUIRE or
 * _TX_COMMIT on @file of ring @cb, by ioctl or by io_uring
 * @cb:		the ring
 * @file:	the caller's file
 * @cmd:	one of the four
 * @argp:	the caller's struct circbuf_span
 * @nowait:	fail with -EAGAIN rather than sleep, for any reason (an
 *		io_uring issue that io-wq retries)
 *
 * Return: 0, or a negative errno (see the uapi header).
 */
long circbuf_span_cmd(struct circbuf_dev *cb, struct file *file,
		      unsigned int cmd, void __user *argp, bool nowait)
{
	bool rx = cmd == CIRCBUF_RX_ACQUIRE || cmd == CIRCBUF_RX_RELEASE;
	struct circbuf_span sp;
	long ret;

	if (copy_from_user(&sp, argp, sizeof(sp)))
		return -EFAULT;
	if (sp.reserved[0] || sp.reserved[1])
		return -EINVAL;
	if (!(file->f_mode & (rx ? FMODE_READ : FMODE_WRITE)))
		return -EBADF;

	switch (cmd) {
	case CIRCBUF_RX_ACQUIRE:
		ret = circbuf_rx_acquire(cb, file, &sp, nowait);
		break;
	case CIRCBUF_TX_ACQUIRE:
		ret = circbuf_tx_acquire(cb, file, &sp, nowait);
		break;
	case CIRCBUF_RX_RELEASE:
		return circbuf_rx_release(cb, file, sp.len, nowait);
	default:
		return circbuf_tx_commit(cb, file, sp.len, nowait);
	}
	if (ret)
		return ret;
	if (copy_to_user(argp, &sp, sizeof(sp))) {
		/* Nobody learns of the span: it is not held. */
		circbuf_span_end(cb, rx ? CIRCBUF_TO_USER : CIRCBUF_TO_RING,
				 file);
		return -EFAULT;
	}
	return 0;
}
