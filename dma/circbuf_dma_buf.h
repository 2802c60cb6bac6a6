/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ring storage for circbuf: coherent DMA memory described by a table of
 * scatter-gather descriptors.
 *
 * One dma_alloc_coherent() call cannot exceed 2^MAX_PAGE_ORDER pages (4 MiB on
 * Debian's amd64 kernel, which has no CMA), so a large ring is made of
 * segments of 2^seg_shift bytes, the last one possibly shorter. Each
 * descriptor gives a segment's CPU address (for the CPU copy path) and its
 * bus address; circbuf_ring.h maps ring offsets to them.
 *
 * The memory is allocated for circbuf's own device, and its bus addresses
 * are that device's. A DMA channel belongs to another device (behind
 * another IOMMU, perhaps), so while one is in use the ring is also mapped
 * for the channel's device (circbuf_dma_buf_map()), through the pages that
 * dma_get_sgtable() describes, and descriptors use those addresses.
 */
#ifndef _CIRCBUF_DMA_BUF_H
#define _CIRCBUF_DMA_BUF_H

#include <linux/types.h>

struct device;
struct sg_table;

/**
 * struct circbuf_dma_seg - one segment of the ring's storage
 * @cpu:	kernel virtual address
 * @dma:	bus address for circbuf's own device, which allocated it
 * @chan_dma:	bus address for the DMA channel's device, while the ring is
 *		mapped for it (circbuf_dma_buf_map())
 * @len:	length in bytes
 */
struct circbuf_dma_seg {
	void *cpu;
	dma_addr_t dma;
	dma_addr_t chan_dma;
	size_t len;
};

/**
 * struct circbuf_dma_buf - the ring's storage; fixed between alloc and free
 * @dev:	device the memory was allocated for
 * @size:	total bytes, the sum of the segments' lengths
 * @seg_shift:	log2 of the segment size
 * @nr_segs:	entries in @segs
 * @segs:	the descriptors, in ring order
 * @chan_dev:	the device the ring is mapped for, or NULL
 * @chan_sgts:	one mapped table per segment while @chan_dev is set
 */
struct circbuf_dma_buf {
	struct device *dev;
	size_t size;
	unsigned int seg_shift;
	size_t nr_segs;
	struct circbuf_dma_seg *segs;
	struct device *chan_dev;
	struct sg_table *chan_sgts;
};

int circbuf_dma_buf_alloc(struct circbuf_dma_buf *buf, struct device *dev,
			  size_t size, unsigned int seg_shift);
void circbuf_dma_buf_free(struct circbuf_dma_buf *buf);
int circbuf_dma_buf_map(struct circbuf_dma_buf *buf, struct device *dev);
void circbuf_dma_buf_unmap(struct circbuf_dma_buf *buf);

#endif /* _CIRCBUF_DMA_BUF_H */
