/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * circbuf: bounded in-kernel pipes, called rings, exposed as /dev/circbuf
 * (ring 0), /dev/circbuf1, /dev/circbuf2, ..., and the control node
 * /dev/circbuf-control, which adds and removes rings at run time.
 *
 * In each ring writers fill a fixed-size circular buffer and readers drain
 * it in FIFO order, like a pipe(2) whose capacity is set with the
 * buffer_size module parameter. This header is the whole user-space ABI of
 * the rings beyond read(2), write(2), poll(2) and FIONREAD, and that of the
 * control node.
 *
 * Every structure is made of fixed-width fields laid out without implicit
 * padding, so 32-bit and 64-bit callers share one layout and the ioctls need
 * no compat translation.
 */
#ifndef _UAPI_CIRCBUF_H
#define _UAPI_CIRCBUF_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Name of the first ring's device node under /dev; ring N >= 1 is
 * /dev/circbufN. The control node adds and removes rings.
 */
#define CIRCBUF_DEVICE_NAME	"circbuf"
#define CIRCBUF_CONTROL_NAME	"circbuf-control"

/*
 * Rings at most, with numbers 0 to CIRCBUF_MAX_DEVICES - 1: the largest
 * value of the devices module parameter, and of rings added at run time.
 */
#define CIRCBUF_MAX_DEVICES	64

/* Default and largest accepted values of the buffer_size module parameter. */
#define CIRCBUF_DEFAULT_SIZE	4096
#define CIRCBUF_MAX_SIZE	268435456	/* 256 MiB */

/**
 * struct circbuf_stats - snapshot of the buffer, filled by CIRCBUF_GET_STATS
 * @capacity:		size of the buffer in bytes (the buffer_size parameter)
 * @used:		bytes buffered and not yet read (what FIONREAD returns)
 * @available:		bytes that can be written without blocking
 *			(@capacity - @used)
 * @reads:		read() calls that returned at least one byte since load
 * @writes:		write() calls that stored at least one byte since load
 * @bytes_read:		bytes delivered to readers since load
 * @bytes_written:	bytes stored by writers since load
 * @readers:		open files of the device that can read
 * @writers:		open files of the device that can write (an O_RDWR
 *			file counts as a reader and as a writer)
 * @dma_submitted:	DMA descriptors submitted to the engine
 * @dma_completed:	DMA descriptors that completed without error
 * @dma_failed:		DMA descriptors that failed, timed out or were aborted
 * @dma_timeouts:	DMA transfers terminated after dma_timeout_ms
 * @dma_bytes:		bytes moved between user memory and the buffer by DMA
 * @cpu_bytes:		bytes moved by CPU copy (copy_to_user/copy_from_user)
 * @flags:		CIRCBUF_STATS_* bits describing the module (below)
 * @bytes_discarded:	bytes of packets that readers left unread and the
 *			buffer dropped: a read in packet mode returns at most
 *			one packet, and discards the rest of one longer than
 *			the read (see circbuf(4))
 *
 * Growing the structure: new fields take the place of @reserved entries,
 * so the size, and with it the CIRCBUF_GET_STATS number, never changes. A
 * binary built before a field existed never reads it; one built after
 * reads 0 from an older module, which zeroes the reserved space. The DMA
 * counters came that way: dma_bytes + cpu_bytes == bytes_read +
 * bytes_written. So did @flags, which took the first of the two words that
 * were "__u64 reserved[2]": source that indexed reserved[] needs the one
 * word @reserved now; the layout is the same. @bytes_discarded took that
 * last word, @reserved; a later field needs a new ioctl number.
 *
 * One snapshot is consistent: @used == @bytes_written - @bytes_read -
 * @bytes_discarded, @used + @available == @capacity, and @dma_bytes +
 * @cpu_bytes == @bytes_read + @bytes_written.
 */
struct circbuf_stats {
	__u64 capacity;
	__u64 used;
	__u64 available;
	__u64 reads;
	__u64 writes;
	__u64 bytes_read;
	__u64 bytes_written;
	__u32 readers;
	__u32 writers;
	__u64 dma_submitted;
	__u64 dma_completed;
	__u64 dma_failed;
	__u64 dma_timeouts;
	__u64 dma_bytes;
	__u64 cpu_bytes;
	__u64 flags;
	__u64 bytes_discarded;
};

/*
 * @flags of struct circbuf_stats. CIRCBUF_STATS_NO_DMA: the module was
 * built for a kernel without dmaengine (CONFIG_DMA_ENGINE unset, as in
 * Debian's cloud kernels); every byte moves by CPU copy, the dma_*
 * counters stay 0 and the DMA module parameters have no effect. A module
 * from before @flags existed leaves it 0: those all had DMA.
 */
#define CIRCBUF_STATS_NO_DMA	_BITULL(0)

/* ioctl type byte; 0xB8 is unassigned in ioctl-number.rst. */
#define CIRCBUF_IOC_MAGIC	0xB8

/*
 * CIRCBUF_GET_STATS - copy a consistent snapshot of the buffer's state to
 * the struct circbuf_stats at the argument. Fails with EFAULT if the
 * argument is not a writable user address.
 */
#define CIRCBUF_GET_STATS	_IOR(CIRCBUF_IOC_MAGIC, 0x01, struct circbuf_stats)

/*
 * CIRCBUF_SET_CAPACITY - change the buffer's capacity to the __u64 at the
 * argument, as F_SETPIPE_SZ does for a pipe, keeping the buffered data in
 * order. The run-time twin of the buffer_size parameter, with its bounds
 * (1 to CIRCBUF_MAX_SIZE bytes). Needs CAP_SYS_ADMIN. Waits for the read()
 * and write() calls in progress to finish copying, never for one that
 * sleeps for data or space. Fails with EPERM without the capability,
 * EINVAL out of bounds (with a line in dmesg), EBUSY when more bytes (or
 * packets, see circbuf(4)) are buffered than the new capacity holds,
 * EFAULT for a bad argument, EINTR on a signal, ENOMEM when the new buffer
 * cannot be allocated: then nothing changed.
 */
#define CIRCBUF_SET_CAPACITY	_IOW(CIRCBUF_IOC_MAGIC, 0x02, __u64)

/**
 * struct circbuf_span - a span of a mapped ring, for the span ioctls
 * @offset:	out: where the span starts, in bytes from the start of the
 *		mapping (mmap() of twice the capacity, see circbuf(4)); less
 *		than the capacity, so the whole span lies in the mapping
 * @len:	in: for an ACQUIRE, the bytes wanted (0: any, at least one);
 *		for RX_RELEASE and TX_COMMIT, the bytes consumed or written,
 *		at most what the ACQUIRE returned. out (ACQUIRE): the bytes
 *		the span holds, all readable data or all free space, at least
 *		the bytes wanted (except at end of file)
 * @reserved:	must be zero
 */
struct circbuf_span {
	__u64 offset;
	__u64 len;
	__u64 reserved[2];
};

/*
 * The span protocol (circbuf(4)): read and write a mapped ring in place.
 *
 * CIRCBUF_RX_ACQUIRE waits, as read() does, until @len bytes (at least
 * one) are readable, and returns where they are and how many there are:
 * len 0 at end of file, EAGAIN with O_NONBLOCK, EINTR on a signal.
 * CIRCBUF_RX_RELEASE then consumes @len of them, as a read() of that many
 * would, and ends the span. CIRCBUF_TX_ACQUIRE waits for @len bytes of
 * space (1 to the capacity; all at once, so up to PIPE_BUF bytes are
 * atomic, as a write() is) and returns where the free space starts and
 * how much there is; CIRCBUF_TX_COMMIT publishes @len bytes written there,
 * as a write() of them would, and ends the span. While a file holds a
 * span, the other readers (or writers) of the ring wait for it as they
 * would for a read() (or write()) in progress; O_NONBLOCK ones get EAGAIN.
 * Closing the file, or unmapping a mapping of it, ends its spans with
 * nothing consumed or published. EBUSY: an ACQUIRE, read() or write() on
 * a file that holds that direction's span. EINVAL: a nonzero reserved
 * field, a release or commit without a span or larger than it,
 * TX_ACQUIRE beyond the capacity or on a file in packet mode (O_DIRECT).
 * EBADF: RX on a file not open for reading, TX on one not open for
 * writing.
 */
#define CIRCBUF_RX_ACQUIRE	_IOWR(CIRCBUF_IOC_MAGIC, 0x20, struct circbuf_span)
#define CIRCBUF_RX_RELEASE	_IOW(CIRCBUF_IOC_MAGIC, 0x21, struct circbuf_span)
#define CIRCBUF_TX_ACQUIRE	_IOWR(CIRCBUF_IOC_MAGIC, 0x22, struct circbuf_span)
#define CIRCBUF_TX_COMMIT	_IOW(CIRCBUF_IOC_MAGIC, 0x23, struct circbuf_span)

/**
 * struct circbuf_uring_cmd - payload of an IORING_OP_URING_CMD request
 * @addr:	user address of the command's argument: the struct
 *		circbuf_stats to fill (CIRCBUF_GET_STATS) or the struct
 *		circbuf_span (the span commands)
 * @stats_addr:	the same, by its first name
 * @reserved:	must be zero
 *
 * An event loop can give the ring commands without a blocking ioctl:
 * submit IORING_OP_URING_CMD on a file of the device with sqe->cmd_op set
 * to CIRCBUF_GET_STATS, CIRCBUF_RX_ACQUIRE, CIRCBUF_RX_RELEASE,
 * CIRCBUF_TX_ACQUIRE or CIRCBUF_TX_COMMIT and this structure in the SQE's
 * 16-byte command area (sqe->cmd). The command does what its ioctl does,
 * with the same errors, and completes with cqe->res 0 or -errno (-EINVAL
 * for a nonzero @reserved, -ENOTTY for another cmd_op). CIRCBUF_GET_STATS
 * completes inline. An ACQUIRE that has to wait does so in one of
 * io_uring's io-wq workers, not in the submitter; with O_NONBLOCK it
 * completes with -EAGAIN instead, and a cancel interrupts it (-EINTR).
 */
struct circbuf_uring_cmd {
	union {
		__u64 addr;
		__u64 stats_addr;
	};
	__u64 reserved;
};

/*
 * The control node, /dev/circbuf-control (root only, as /dev/loop-control):
 * its ioctls add and remove rings at run time. Both need CAP_SYS_ADMIN
 * (EPERM without it). The ring ioctls above fail there with ENOTTY, and
 * these on a ring.
 */

/* @flags of struct circbuf_ctl_add: use @number, not the lowest free one. */
#define CIRCBUF_CTL_NUMBER	_BITUL(0)

/**
 * struct circbuf_ctl_add - argument of CIRCBUF_CTL_ADD
 * @capacity:	the new ring's size in bytes, 1 to CIRCBUF_MAX_SIZE; 0 for
 *		the buffer_size module parameter
 * @number:	with CIRCBUF_CTL_NUMBER in @flags, the number the ring must
 *		have (its node is then /dev/circbuf<@number>, or /dev/circbuf
 *		for 0); else must be 0
 * @flags:	CIRCBUF_CTL_* bits; others must be 0
 * @reserved:	must be zero
 */
struct circbuf_ctl_add {
	__u64 capacity;
	__u32 number;
	__u32 flags;
	__u64 reserved[2];
};

/*
 * CIRCBUF_CTL_ADD - create a ring as described by the struct circbuf_ctl_add
 * at the argument. Returns its number (the lowest free one, or @number),
 * as LOOP_CTL_ADD does; its node appears when udev has seen it. Fails with
 * EINVAL for a capacity out of bounds, unknown flags, a nonzero reserved
 * field or a number of at least CIRCBUF_MAX_DEVICES (each with a line in
 * dmesg), EEXIST when the number asked for is in use, ENOSPC when
 * CIRCBUF_MAX_DEVICES rings exist, ENOMEM when the rings' total capacity
 * would pass the max_total_size module parameter (with a line in dmesg) or
 * memory runs out, EFAULT for a bad argument: then no ring was created.
 */
#define CIRCBUF_CTL_ADD		_IOW(CIRCBUF_IOC_MAGIC, 0x10, struct circbuf_ctl_add)

/*
 * CIRCBUF_CTL_REMOVE - remove the ring whose number is the argument itself
 * (not a pointer), as LOOP_CTL_REMOVE does. Fails with ENODEV when no ring
 * has that number, EBUSY while a file of the ring is open (nothing
 * changes): the ring and its data go only when nobody uses it.
 */
#define CIRCBUF_CTL_REMOVE	_IO(CIRCBUF_IOC_MAGIC, 0x11)

#endif /* _UAPI_CIRCBUF_H */
