/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One ring's private state, and what the files of the module (see
 * circbuf_main.c) offer each other.
 */
#ifndef _CIRCBUF_DEV_H
#define _CIRCBUF_DEV_H

#include <linux/atomic.h>
#include <linux/errno.h>
#include <linux/lockdep.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/seqlock.h>
#include <linux/wait.h>

#include "circbuf_dma_buf.h"
#include "circbuf_packets.h"
#include "circbuf_ring.h"

struct attribute_group;
struct circbuf_stats;
struct dma_chan;
struct fasync_struct;
struct seq_file;
struct iov_iter;

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
 * @discarded:	readers only: bytes of packets that reads left unread,
 *		which the ring dropped (packet mode)
 *
 * Written in the side's seqcount write section (circbuf_stats_begin()),
 * with the ring position they count.
 */
struct circbuf_side_stats {
	u64 calls;
	u64 bytes;
	u64 cpu_bytes;
	u64 discarded;
};

/* Bit of circbuf_side::flags: see circbuf_lock_io() in circbuf_main.c. */
#define CIRCBUF_SIDE_CONTENDED	0

/**
 * struct circbuf_side - what the callers of one side share
 * @lock:	serialises them. A mutex: copy_{to,from}_user() may fault and
 *		a DMA transfer is waited for, both sleep. With locking=single
 *		the readers' side's lock serialises writers too.
 * @flags:	CIRCBUF_SIDE_CONTENDED: an IOCB_NOWAIT caller found @lock
 *		held; whoever unlocks it next wakes the pollers. Atomic bit
 *		operations, no lock.
 * @seq:	makes lockless stats snapshots consistent: each commit of
 *		this side's ring position, with its counters, is one write
 *		section (circbuf_stats_begin()), and a snapshot retries if
 *		either side's count moved while it read
 * @stats:	the side's counters (written under the lock that serialises
 *		this direction, inside a write section of @seq)
 * @holder:	the file that holds this direction's span (circbuf_span.c),
 *		or NULL: the other callers of the direction wait for it as
 *		for a call in progress. Set under the direction's lock; ended
 *		under it, or with cmpxchg() by the holder's close or munmap
 * @held:	the bytes of that span (the direction's lock)
 * @hold_wait:	callers of the direction wait here for @holder to go
 *
 * Each side in cache lines of its own: a reader and a writer that run at
 * once write the same line only to wake each other.
 */
struct circbuf_side {
	/* protects @stats, @seq's writes and this side's ring position */
	struct mutex lock;
	unsigned long flags;
	seqcount_t seq;
	struct circbuf_side_stats stats;
	struct file *holder;
	size_t held;
	wait_queue_head_t hold_wait;
} ____cacheline_aligned_in_smp;

/**
 * struct circbuf_dma_stats - the DMA data path's counters
 * @submitted:	descriptors submitted
 * @completed:	descriptors completed without error
 * @failed:	descriptors that failed or were aborted
 * @timeouts:	transfers terminated after dma_timeout_ms
 * @bytes:	bytes moved by DMA, counted when committed to the ring
 *
 * Written in the seqcount write section of the side whose transfer they
 * count (circbuf_stats_begin(); both sides' transfers are serialised by
 * circbuf_dev::dma_lock): the descriptors when a transfer ends, all at
 * once, so that a snapshot has @completed + @failed == @submitted; @bytes
 * with the ring position, as the sides' counters.
 */
struct circbuf_dma_stats {
	u64 submitted;
	u64 completed;
	u64 failed;
	u64 timeouts;
	u64 bytes;
};

/**
 * struct circbuf_dev - one ring and its device node
 * @misc:		its node: /dev/circbuf for ring 0, /dev/circbuf<@id>
 *			for the others
 * @id:			the ring's number; fixed
 * @name:		the node's name, which @misc.name points to; fixed
 * @dev:		the platform device that owns the DMA memory (of every
 *			ring); the ring's own messages name @misc.this_device
 *			(circbuf_node())
 * @buf:		the ring's storage; replaced by CIRCBUF_SET_CAPACITY
 *			under both sides' locks, used under either
 * @atomic_max:		writes of at most this many bytes are atomic:
 *			min(PIPE_BUF, capacity); changed with the capacity,
 *			under both sides' locks, read once without them
 * @split:		locking=split: readers and writers have locks of
 *			their own and copy in parallel; fixed
 * @side:		[CIRCBUF_TO_RING] the writers', [CIRCBUF_TO_USER] the
 *			readers'; circbuf_side_lock() names the lock of each
 * @ring:		positions in @buf: @ring.prod is the writers' (their
 *			lock), @ring.cons the readers' (theirs); see
 *			circbuf_ring.h for how each side reads the other's.
 *			Committed in the side's @seq write section too.
 * @pkts:		packet boundaries (packet mode, circbuf_packets.h):
 *			pushed under the writers' lock, popped under the
 *			readers', as @ring's positions move
 * @open_lock:		serialises open, release and fasync; never held across a
 *			copy or a wait for another task
 * @opens:		open files (@open_lock)
 * @gone:		the ring is being removed (circbuf_remove_ring()):
 *			opens fail with -ENODEV (@open_lock)
 * @readers:		open files with FMODE_READ (@open_lock to change;
 *			read with no lock, for the stats)
 * @writers:		open files with FMODE_WRITE (@open_lock to change;
 *			stored with release and loaded with acquire by
 *			readers deciding on end of file, see circbuf_read())
 * @chan:		DMA channel while any file is open, or NULL for the
 *			CPU copy path. Set by the first open and cleared by
 *			the last release (@open_lock); I/O reads it with no
 *			lock, on a file whose open came after the set and
 *			whose release comes after the I/O, so it holds still
 * @dma_lock:		one DMA transfer at a time on @chan, so that ending
 *			one (dmaengine_terminate_sync()) never aborts another
 *			side's; taken inside a side's lock
 * @dma_stats:		the DMA counters (@dma_lock, inside a side's @seq
 *			write section)
 * @rd_wait:		readers wait here for data or end of file
 * @wr_wait:		writers wait here for @atomic_max bytes of space
 * @rd_fasync:		O_ASYNC files that read: sent SIGIO (POLL_IN) when
 *			data arrives or the last writer closes
 * @wr_fasync:		O_ASYNC files that write: sent SIGIO (POLL_OUT) when
 *			a read leaves @atomic_max bytes free. Both lists are
 *			changed by fasync_helper() under @open_lock, so that
 *			an O_RDWR file joins or leaves both at once, and read
 *			by kill_fasync() under RCU, with no lock of ours
 * @map_lock:		held by mmap while it maps @buf, and by
 *			CIRCBUF_SET_CAPACITY while it looks at @maps and
 *			replaces @buf (circbuf_mmap.c)
 * @maps:		vmas that map @buf: counted up under @map_lock by
 *			mmap, and by the VM when it splits or moves one;
 *			down with no lock when one goes
 *
 * Lock order: the writers' side lock, then the readers' (held together only
 * by CIRCBUF_SET_CAPACITY, circbuf_set_capacity()), then @dma_lock; I/O
 * holds one side's lock. @map_lock nests inside the side locks (the
 * resize) and inside mmap_lock (mmap), and takes no other lock. @open_lock
 * nests with none of them: poll, the stats, FIONREAD and open/release
 * never wait for a reader or a writer, whatever it waits for (a page fault
 * on a userfaultfd or FUSE page, say).
 */
struct circbuf_dev {
	struct miscdevice misc;
	unsigned int id;
	char name[16];
	struct device *dev;
	struct circbuf_dma_buf buf;
	size_t atomic_max;
	bool split;

	struct circbuf_side side[2];
	struct circbuf_ring ring;
	struct circbuf_pkts pkts;

	/* protects @opens, @gone, @readers, @writers and @chan (changes only) */
	struct mutex open_lock;
	unsigned int opens;
	bool gone;
	unsigned int readers;
	unsigned int writers;
	struct dma_chan *chan;

	/* protects the use of @chan and @dma_stats */
	struct mutex dma_lock;
	struct circbuf_dma_stats dma_stats;

	wait_queue_head_t rd_wait;
	wait_queue_head_t wr_wait;

	/* changed under @open_lock */
	struct fasync_struct *rd_fasync;
	struct fasync_struct *wr_fasync;

	/* serialises mmap with the replacement of @buf */
	struct mutex map_lock;
	atomic_t maps;
};

/* The ring's own device, which its messages name: "misc circbuf1: ...". */
static inline struct device *circbuf_node(struct circbuf_dev *cb)
{
	return cb->misc.this_device;
}

/* The side whose lock serialises the callers of direction @dir. */
static inline struct circbuf_side *
circbuf_locker(struct circbuf_dev *cb, enum circbuf_dir dir)
{
	return &cb->side[cb->split ? dir : CIRCBUF_TO_USER];
}

/* The lock that serialises the callers of direction @dir. */
static inline struct mutex *circbuf_side_lock(struct circbuf_dev *cb,
					      enum circbuf_dir dir)
{
	return &circbuf_locker(cb, dir)->lock;
}

/*
 * Open a write section of direction @dir's seqcount, around a commit of its
 * ring position and counters. Preemption is off inside, so that a stats
 * snapshot, which spins while a count is odd, spins for a few stores only.
 */
static inline void circbuf_stats_begin(struct circbuf_dev *cb,
				       enum circbuf_dir dir)
{
	lockdep_assert_held(circbuf_side_lock(cb, dir));
	preempt_disable();
	write_seqcount_begin(&cb->side[dir].seq);
}

static inline void circbuf_stats_end(struct circbuf_dev *cb,
				     enum circbuf_dir dir)
{
	write_seqcount_end(&cb->side[dir].seq);
	preempt_enable();
}

/* Where the next @len bytes of a transfer in direction @dir lie. */
static inline void circbuf_spans(struct circbuf_dev *cb, size_t len,
				 enum circbuf_dir dir, struct circbuf_piece sp[2])
{
	lockdep_assert_held(circbuf_side_lock(cb, dir));
	if (dir == CIRCBUF_TO_USER)
		circbuf_ring_read_spans(&cb->ring, len, sp);
	else
		circbuf_ring_write_spans(&cb->ring, len, sp);
}

/* circbuf_rings.c: the table of rings. */
int circbuf_add_ring(struct device *dev, int id, u64 cap);
int circbuf_remove_ring(unsigned int id);
void circbuf_remove_all_rings(void);
int circbuf_rings_show(struct seq_file *m);

/* circbuf_control.c: /dev/circbuf-control. */
int circbuf_control_register(struct device *parent);
void circbuf_control_deregister(void);

/* circbuf_file.c: one ring's file operations. */
extern const struct file_operations circbuf_fops;

/* circbuf_mmap.c */
int circbuf_mmap(struct file *file, struct vm_area_struct *vma);

/* circbuf_span.c: the span protocol of a mapped ring. */
long circbuf_span_cmd(struct circbuf_dev *cb, struct file *file,
		      unsigned int cmd, void __user *argp, bool nowait);
void circbuf_span_end(struct circbuf_dev *cb, enum circbuf_dir dir,
		      struct file *file);

/* circbuf_storage.c: a ring's storage, and all rings' total capacity. */
int circbuf_storage_alloc(struct device *dev, size_t cap,
			  unsigned int seg_shift, struct circbuf_dma_buf *buf,
			  struct circbuf_pkt **slot, size_t *nr_slots);
void circbuf_storage_free(struct circbuf_dma_buf *buf, struct circbuf_pkt *slot);
void circbuf_swap_storage(struct circbuf_dev *cb, struct circbuf_dma_buf *nbuf,
			  struct circbuf_pkt **slot, size_t nr_slots, size_t cap);
int circbuf_charge(struct circbuf_dev *cb, size_t bytes);
void circbuf_uncharge(size_t bytes);
unsigned long circbuf_charged(void);

/* circbuf_observe.c: a ring's stats, sysfs group and /proc/circbuf lines. */
extern const struct attribute_group *circbuf_groups[];
void circbuf_fill_stats(struct circbuf_dev *cb, struct circbuf_stats *st);
void circbuf_show_ring(struct seq_file *m, struct circbuf_dev *cb,
		       const char *prefix);

#if IS_ENABLED(CONFIG_DMA_ENGINE)
void circbuf_dma_get(struct circbuf_dev *cb, bool any_channel);
void circbuf_dma_put(struct circbuf_dev *cb);
size_t circbuf_dma_reach(const struct iov_iter *iter, size_t len);
ssize_t circbuf_dma_move(struct circbuf_dev *cb, struct iov_iter *iter,
			 size_t len, enum circbuf_dir dir,
			 unsigned int timeout_ms, bool whole);
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
				       unsigned int timeout_ms, bool whole)
{
	return -ENODEV;
}
#endif

#endif /* _CIRCBUF_DEV_H */
