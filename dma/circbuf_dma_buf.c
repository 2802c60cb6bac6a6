// SPDX-License-Identifier: GPL-2.0
/*
 * Ring storage for circbuf: segments of coherent DMA memory and the table
 * of descriptors that locates them. See circbuf_dma_buf.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/scatterlist.h>
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

/* Undo the mapping of the first @n segments for @buf->chan_dev. */
static void circbuf_dma_buf_unmap_segs(struct circbuf_dma_buf *buf, size_t n)
{
	while (n--) {
		dma_unmap_sgtable(buf->chan_dev, &buf->chan_sgts[n],
				  DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
		sg_free_table(&buf->chan_sgts[n]);
	}
}

/**
 * circbuf_dma_buf_map() - map the ring for a DMA channel's device
 * @buf:	the ring's storage, not mapped for any channel
 * @dev:	the channel's device (dmaengine_get_dma_device())
 *
 * Describes each segment's pages with dma_get_sgtable() for the device
 * that allocated them and maps them for @dev, which gives every segment's
 * @chan_dma. A segment must come out as one contiguous bus range, as
 * descriptors address it so.
 *
 * Return: 0; -ENOMEM, or the mapping's error; -EINVAL if a segment is not
 * contiguous for @dev. Nothing stays mapped on failure.
 */
int circbuf_dma_buf_map(struct circbuf_dma_buf *buf, struct device *dev)
{
	size_t i;
	int err;

	buf->chan_sgts = kvcalloc(buf->nr_segs, sizeof(*buf->chan_sgts),
				  GFP_KERNEL);
	if (!buf->chan_sgts)
		return -ENOMEM;
	buf->chan_dev = dev;

	for (i = 0; i < buf->nr_segs; i++) {
		struct circbuf_dma_seg *seg = &buf->segs[i];
		struct sg_table *sgt = &buf->chan_sgts[i];

		err = dma_get_sgtable(buf->dev, sgt, seg->cpu, seg->dma,
				      seg->len);
		if (err)
			goto err_unmap_segs;
		/*
		 * No cache maintenance: the memory is coherent, and it is
		 * mapped for circbuf's device already (the coherent
		 * allocation), which DMA-API debugging would otherwise
		 * report as an overlapping mapping.
		 */
		err = dma_map_sgtable(dev, sgt, DMA_BIDIRECTIONAL,
				      DMA_ATTR_SKIP_CPU_SYNC);
		if (err)
			goto err_free_table;
		if (sgt->nents != 1 || sg_dma_len(sgt->sgl) < seg->len) {
			err = -EINVAL;
			goto err_unmap_table;
		}
		seg->chan_dma = sg_dma_address(sgt->sgl);
	}
	return 0;

err_unmap_table:
	dma_unmap_sgtable(dev, &buf->chan_sgts[i], DMA_BIDIRECTIONAL,
			  DMA_ATTR_SKIP_CPU_SYNC);
err_free_table:
	sg_free_table(&buf->chan_sgts[i]);
err_unmap_segs:
	circbuf_dma_buf_unmap_segs(buf, i);
	kvfree(buf->chan_sgts);
	buf->chan_sgts = NULL;
	buf->chan_dev = NULL;
	return err;
}

/* Undo circbuf_dma_buf_map(). */
void circbuf_dma_buf_unmap(struct circbuf_dma_buf *buf)
{
	circbuf_dma_buf_unmap_segs(buf, buf->nr_segs);
	kvfree(buf->chan_sgts);
	buf->chan_sgts = NULL;
	buf->chan_dev = NULL;
}
