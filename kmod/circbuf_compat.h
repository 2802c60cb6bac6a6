/* SPDX-License-Identifier: GPL-2.0 */
/*
 * circbuf_compat.h - the Linux 6.12 API that circbuf is written against,
 * supplied on older kernels (6.1 LTS), the way the backports project does:
 * the driver uses the newest names everywhere, and only this header knows
 * that older kernels spelled them differently.
 *
 * Nothing here tests a kernel version. Debian's stable kernels backport
 * helpers into point releases (6.1.0-56 has list_count_nodes(), 6.1.0-50
 * does not), so a version cannot tell what a kernel has. The root Kbuild
 * reads it from the headers built against instead (CIRCBUF_HAVE_*), or a
 * block below tests for the macro it supplies. Each block names the
 * release that brought the API.
 */
#ifndef CIRCBUF_COMPAT_H
#define CIRCBUF_COMPAT_H

#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/uio.h>

/*
 * 6.7 moved struct io_uring_cmd and the IO_URING_F_* issue flags into
 * <linux/io_uring/cmd.h>; 6.5 made the command's SQE, not its payload, the
 * field (->sqe, read through io_uring_sqe_cmd()).
 */
#ifdef CIRCBUF_HAVE_IO_URING_CMD_H
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

static inline const void *
circbuf_uring_cmd_payload(const struct io_uring_cmd *ioucmd)
{
#ifdef CIRCBUF_HAVE_IO_URING_SQE_CMD
	return io_uring_sqe_cmd(ioucmd->sqe);
#else
	return ioucmd->cmd;
#endif
}

/*
 * 6.5 replaced generic_file_splice_read() with copy_splice_read() for files
 * whose data is not in the page cache: both read through ->read_iter.
 */
#ifndef CIRCBUF_HAVE_COPY_SPLICE_READ
#define copy_splice_read generic_file_splice_read
#endif

/*
 * 6.8 named the largest buddy order MAX_PAGE_ORDER. Before 6.4, MAX_ORDER
 * was one past it (6.4 to 6.7, not supported, made it inclusive: there
 * this gives half the largest segment, which is safe).
 */
#ifndef MAX_PAGE_ORDER
#define MAX_PAGE_ORDER (MAX_ORDER - 1)
#endif

/*
 * 6.4 hid struct iov_iter's iovec pointer (->iov became ->__iov) behind
 * iter_iov(), iter_iov_addr() and iter_iov_len(), which also serve
 * ITER_UBUF iterators. 6.1 has ITER_UBUF (->ubuf, ->count) but not them.
 */
#ifndef iter_iov_addr
static inline void __user *circbuf_iter_iov_addr(const struct iov_iter *iter)
{
	if (iter_is_ubuf(iter))
		return iter->ubuf + iter->iov_offset;
	return iter->iov->iov_base + iter->iov_offset;
}

/* As 6.12's: for ITER_UBUF, iov_len is the overlaid ->count. */
static inline size_t circbuf_iter_iov_len(const struct iov_iter *iter)
{
	if (iter_is_ubuf(iter))
		return iter->count - iter->iov_offset;
	return iter->iov->iov_len - iter->iov_offset;
}

#define iter_iov_addr(iter)	circbuf_iter_iov_addr(iter)
#define iter_iov_len(iter)	circbuf_iter_iov_len(iter)
#endif

/*
 * struct platform_driver: 6.11 made .remove return void, and 6.13 drops
 * .remove_new, the void callback's name until then (6.1 has it from a
 * stable backport). Drivers set .CIRCBUF_PLATFORM_REMOVE.
 */
#ifdef CIRCBUF_HAVE_VOID_PLATFORM_REMOVE
#define CIRCBUF_PLATFORM_REMOVE	remove
#else
#define CIRCBUF_PLATFORM_REMOVE	remove_new
#endif

/* list_count_nodes(): 6.3, and Debian's 6.1 from 6.1.0-56 on. */
#ifndef CIRCBUF_HAVE_LIST_COUNT_NODES
static inline size_t list_count_nodes(struct list_head *head)
{
	struct list_head *pos;
	size_t count = 0;

	list_for_each(pos, head)
		count++;
	return count;
}
#endif

/*
 * vm_flags_set(): 6.3 made vma->vm_flags read-only outside these helpers.
 * Before, the flags are set directly (mmap_lock is held for writing).
 */
#ifndef CIRCBUF_HAVE_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma,
				unsigned long flags)
{
	vma->vm_flags |= flags;
}
#endif

#endif /* CIRCBUF_COMPAT_H */
