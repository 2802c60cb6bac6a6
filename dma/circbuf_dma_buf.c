// SPDX-License-Identifier: GPL-2.0
/*
 * Ring storage for circbuf: segments of coherent DMA memory and the table
 * of descriptors that locates them. See circbuf_dma_buf.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/slab.h>

#include "circbuf_dma_buf.h"
#include "circbuf_ring.h"

/**
 * circbuf_dma_buf_alloc() - allocate @size bytes of coherent memory
 * @buf:	filled on success; untouched on failure
 * @dev:	device with a DMA mask
 * @size:	bytes, >= 1
 * @seg_shift:	log2 of the segment size, at most PAGE_SHIFT + MAX_PAGE_ORDER
 *
 * Return: 0 or -ENOMEM.
 */
int circbuf_dma_buf_alloc(struct circbuf_dma_buf *buf, struct device *dev,
			  size_t size, unsigned int seg_shift)
{
	size_t nr_segs = circbuf_seg_count(size, seg_shift);
	struct circbuf_dma_seg *segs;
	size_t i;

	segs = kvcalloc(nr_segs, sizeof(*segs), GFP_KERNEL);
	if (!segs)
		return -ENOMEM;

	for (i = 0; i < nr_segs; i++) {
		struct circbuf_dma_seg *seg = &segs[i];

		seg->len = circbuf_seg_len(size, seg_shift, i);
		seg->cpu = dma_alloc_coherent(dev, seg->len, &seg->dma,
					      GFP_KERNEL);
		if (!seg->cpu)
			goto err_free_segs;
	}

	buf->dev = dev;
	buf->size = size;
	buf->seg_shift = seg_shift;
	buf->nr_segs = nr_segs;
	buf->segs = segs;
	return 0;

err_free_segs:
	while (i--)
		dma_free_coherent(dev, segs[i].len, segs[i].cpu, segs[i].dma);
	kvfree(segs);
	return -ENOMEM;
}

/* Free what circbuf_dma_buf_alloc() allocated, in reverse order. */
void circbuf_dma_buf_free(struct circbuf_dma_buf *buf)
{
	size_t i = buf->nr_segs;

	while (i--)
		dma_free_coherent(buf->dev, buf->segs[i].len, buf->segs[i].cpu,
				  buf->segs[i].dma);
	kvfree(buf->segs);
	buf->segs = NULL;
	buf->nr_segs = 0;
}
