/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ring storage for circbuf: coherent DMA memory described by a table of
 * scatter-gather descriptors.
 *
 * One dma_alloc_coherent() call cannot exceed 2^MAX_PAGE_ORDER pages (4 MiB on
 * Debian's amd64 kernel, which has no CMA), so a large ring is made of
 * segments of 2^seg_shift bytes, the last one possibly shorter. Each
 * descriptor gives a segment's CPU address (for the CPU copy path) and its
 * bus address (for a DMA engine); circbuf_ring.h maps ring offsets to them.
 */
#ifndef _CIRCBUF_DMA_BUF_H
#define _CIRCBUF_DMA_BUF_H

#include <linux/types.h>

struct device;

/**
 * struct circbuf_dma_seg - one segment of the ring's storage
 * @cpu:	kernel virtual address
 * @dma:	bus address, as the DMA engine sees it
 * @len:	length in bytes
 */
struct circbuf_dma_seg {
	void *cpu;
	dma_addr_t dma;
	size_t len;
};

/**
 * struct circbuf_dma_buf - the ring's storage; fixed between alloc and free
 * @dev:	device the memory was allocated for
 * @size:	total bytes, the sum of the segments' lengths
 * @seg_shift:	log2 of the segment size
 * @nr_segs:	entries in @segs
 * @segs:	the descriptors, in ring order
 */
struct circbuf_dma_buf {
	struct device *dev;
	size_t size;
	unsigned int seg_shift;
	size_t nr_segs;
	struct circbuf_dma_seg *segs;
};

int circbuf_dma_buf_alloc(struct circbuf_dma_buf *buf, struct device *dev,
			  size_t size, unsigned int seg_shift);
void circbuf_dma_buf_free(struct circbuf_dma_buf *buf);

#endif /* _CIRCBUF_DMA_BUF_H */
