// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping a ring into user space: mmap(fd, 2 * capacity, ..., MAP_SHARED, 0)
 * maps the ring's coherent segments twice in a row, so that any piece of
 * at most the capacity, starting at any offset, is contiguous in user
 * space (the "magic ring buffer"): the piece that wraps past the ring's end
 * continues into the second copy of its start.
 *
 * The pages come from the DMA API: dma_get_sgtable() describes each
 * coherent segment, and remap_pfn_range() maps what it describes, with the
 * page protection of the vma; never virt_to_page() on a coherent address,
 * which need not be in the linear map.
 *
 * A mapping pins the ring's storage: CIRCBUF_SET_CAPACITY fails with EBUSY
 * while any part of one exists (circbuf_set_capacity()), and the mapping
 * holds its file open, so CIRCBUF_CTL_REMOVE and unloading fail with EBUSY
 * too. Mappings are not inherited across fork() (VM_DONTCOPY): a child
 * would share a view of the ring with no file of its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>

#include "circbuf_compat.h"
#include "circbuf_dev.h"

static struct circbuf_dev *vma_to_cb(struct vm_area_struct *vma)
{
	return vma->vm_private_data;
}

/* A vma of a mapping is split or copied by mremap(): one more to count. */
static void circbuf_vm_open(struct vm_area_struct *vma)
{
	atomic_inc(&vma_to_cb(vma)->maps);
}

/*
 * One vma gone. No lock: a count that falls needs none, as nothing waits
 * for it; CIRCBUF_SET_CAPACITY looks at it under @map_lock.
 */
static void circbuf_vm_close(struct vm_area_struct *vma)
{
	struct circbuf_dev *cb = vma_to_cb(vma);

	/* Unmapping ends the spans its file holds, see circbuf_span.c. */
	circbuf_span_end(cb, CIRCBUF_TO_USER, vma->vm_file);
	circbuf_span_end(cb, CIRCBUF_TO_RING, vma->vm_file);
	atomic_dec(&cb->maps);
}

static const struct vm_operations_struct circbuf_vm_ops = {
	.open	= circbuf_vm_open,
	.close	= circbuf_vm_close,
};

/*
 * Map segment @seg of @cb's storage at @addr in @vma, as the DMA API
 * describes it. Return: 0 or a negative errno.
 */
static int circbuf_map_seg(struct circbuf_dev *cb, struct vm_area_struct *vma,
			   unsigned long addr, const struct circbuf_dma_seg *seg)
{
	struct scatterlist *sg;
	struct sg_table sgt;
	unsigned int i;
	int err;

	err = dma_get_sgtable(cb->buf.dev, &sgt, seg->cpu, seg->dma, seg->len);
	if (err)
		return err;
	for_each_sgtable_sg(&sgt, sg, i) {
		size_t len = min_t(size_t, sg->length, seg->len);

		err = remap_pfn_range(vma, addr, page_to_pfn(sg_page(sg)), len,
				      vma->vm_page_prot);
		if (err)
			break;
		addr += len;
	}
	sg_free_table(&sgt);
	return err;
}

/*
 * Map the ring twice in a row. The length must be twice the capacity, the
 * capacity a multiple of the page size and the offset 0: EINVAL otherwise,
 * as for MAP_PRIVATE, whose copy-on-write pages would not be the ring. The
 * VFS has already refused PROT_WRITE on a file not open for writing
 * (EACCES) and left VM_MAYWRITE off, so that mprotect() cannot add it.
 *
 * Under @map_lock, which CIRCBUF_SET_CAPACITY holds while it replaces the
 * storage: the segments mapped are the ring's until the last vma goes.
 * The caller holds mmap_lock; @map_lock nests inside it and inside the
 * side locks, and takes neither.
 */
int circbuf_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct circbuf_dev *cb = container_of(file->private_data,
					      struct circbuf_dev, misc);
	unsigned long len = vma->vm_end - vma->vm_start;
	unsigned long addr;
	size_t cap, i;
	int copy, err;

	/* VM_MAYSHARE: the VFS leaves VM_SHARED off a read-only file's. */
	if (!(vma->vm_flags & VM_MAYSHARE) || vma->vm_pgoff)
		return -EINVAL;

	mutex_lock(&cb->map_lock);
	cap = cb->ring.cap;
	if (!PAGE_ALIGNED(cap) || (1UL << cb->buf.seg_shift) < PAGE_SIZE ||
	    len != 2 * cap) {
		dev_dbg(circbuf_node(cb), "mmap of %lu bytes refused: the capacity (%zu) must be a multiple of %lu and the length twice it\n",
			len, cap, PAGE_SIZE);
		err = -EINVAL;
		goto out_unlock;
	}

	vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP);
	addr = vma->vm_start;
	for (copy = 0; copy < 2; copy++) {
		for (i = 0; i < cb->buf.nr_segs; i++) {
			err = circbuf_map_seg(cb, vma, addr, &cb->buf.segs[i]);
			if (err)
				goto out_unlock;
			addr += cb->buf.segs[i].len;
		}
	}
	vma->vm_ops = &circbuf_vm_ops;
	vma->vm_private_data = cb;
	circbuf_vm_open(vma);
	err = 0;

	/*
	 * On an error the VFS unmaps what was mapped; no vm_ops yet, so no
	 * close to count it out.
	 */
out_unlock:
	mutex_unlock(&cb->map_lock);
	return err;
}
