// SPDX-License-Identifier: GPL-2.0
/*
 * The "hardware" of the circbuf DMA engine: one kernel thread per channel,
 * circbuf-dma/N. It takes issued descriptors in order, copies each one
 * page by page through the bus addresses the client gave it (as a real
 * engine would, never through the client's pointers), then raises the
 * simulated completion interrupt, a tasklet, which runs the callbacks in
 * atomic context. An idle engine is a sleeping thread.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/freezer.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mem_encrypt.h>
#include <linux/mm.h>
#include <linux/sched.h>

#include "circbuf_dma_priv.h"

/*
 * Bus address to physical address. This is dma_to_phys() for a device that
 * dma-direct maps with no offset (no IOMMU, no dma_range_map, no bounce
 * buffer): the physical address, with the memory encryption bit set when
 * SME is on. Modules cannot call dma_to_phys() itself, so
 * cbdma_hw_check_dev() makes sure at probe that the engine's device is such
 * a device.
 */
static phys_addr_t cbdma_bus_to_phys(dma_addr_t addr)
{
	return __sme_clr(addr);
}

/*
 * The page behind a bus address, or NULL if no valid page frame backs it
 * (a client's bad address): the engine must then fail the descriptor, not
 * touch the struct page that pfn_to_page() would make up.
 */
static struct page *cbdma_bus_to_page(dma_addr_t addr, size_t *offset)
{
	phys_addr_t phys = cbdma_bus_to_phys(addr);
	unsigned long pfn = PHYS_PFN(phys);

	if (!pfn_valid(pfn))
		return NULL;
	*offset = offset_in_page(phys);
	return pfn_to_page(pfn);
}

/*
 * cbdma_bus_to_phys() is only right for a DMA-coherent device (the engine
 * copies through the CPU's caches and never syncs) that dma-direct maps
 * with no offset. Check both on @dev, the engine's device, before it
 * registers: map a page as a client would map its memory, and see that the
 * translation gives the page back.
 */
int cbdma_hw_check_dev(struct device *dev)
{
	phys_addr_t phys;
	struct page *page;
	dma_addr_t bus;
	int err = 0;

	if (!dev_is_dma_coherent(dev)) {
		dev_err(dev, "not DMA-coherent: the engine copies through the CPU's caches, so it needs a coherent device; not probing\n");
		return -ENODEV;
	}

	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	phys = page_to_phys(page);
	bus = dma_map_page(dev, page, 0, PAGE_SIZE, DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, bus)) {
		dev_err(dev, "cannot map a test page to check that the device is direct-mapped; not probing\n");
		err = -ENOMEM;
		goto out_free;
	}
	if (cbdma_bus_to_phys(bus) != phys) {
		dev_err(dev, "not direct-mapped: a page at physical address %pa has bus address %pad (IOMMU, DMA offset or bounce buffering), and the engine takes bus addresses for physical ones; not probing\n",
			&phys, &bus);
		err = -ENODEV;
	}
	dma_unmap_page(dev, bus, PAGE_SIZE, DMA_BIDIRECTIONAL);
out_free:
	__free_page(page);
	return err;
}

static bool cbdma_aborted(struct cbdma_chan *c, struct cbdma_desc *d)
{
	return READ_ONCE(c->active) != d;
}

/*
 * A bus address of @d that no valid page frame backs: the descriptor fails
 * with @result where it stands, which the interrupt reports and traces
 * (cbdma_error). Return: @result.
 */
static enum dmaengine_tx_result
cbdma_bad_address(struct cbdma_chan *c, struct cbdma_desc *d, dma_addr_t addr,
		  enum dmaengine_tx_result result)
{
	dev_err_ratelimited(c->cbd->ddev.dev,
			    "%s: cookie %d: no page at bus address %pad (its pfn is not valid): the descriptor fails after %zu of %zu bytes\n",
			    dma_chan_name(&c->chan), d->tx.cookie, &addr,
			    d->done, d->len);
	return result;
}

/*
 * Copy @d from its cursor on, a page at a time, stopping early if the
 * client terminates it. With @limit, stop after @limit bytes in total.
 * Return: DMA_TRANS_NOERROR, or DMA_TRANS_READ_FAILED (WRITE_FAILED) at a
 * source (destination) address with no page behind it.
 */
static enum dmaengine_tx_result cbdma_copy(struct cbdma_chan *c,
					   struct cbdma_desc *d, size_t limit)
{
	while (d->done < limit && !cbdma_aborted(c, d)) {
		size_t soff, doff, chunk;
		struct page *sp, *dp;
		void *s, *t;

		sp = cbdma_bus_to_page(d->src + d->done, &soff);
		if (!sp)
			return cbdma_bad_address(c, d, d->src + d->done,
						 DMA_TRANS_READ_FAILED);
		dp = cbdma_bus_to_page(d->dst + d->done, &doff);
		if (!dp)
			return cbdma_bad_address(c, d, d->dst + d->done,
						 DMA_TRANS_WRITE_FAILED);
		chunk = min3(limit - d->done, PAGE_SIZE - soff, PAGE_SIZE - doff);

		s = kmap_local_page(sp);
		t = kmap_local_page(dp);
		memcpy(t + doff, s + soff, chunk);
		kunmap_local(t);
		kunmap_local(s);

		/* Under the lock only for tx_status()'s residue. */
		spin_lock_irq(&c->lock);
		d->done += chunk;
		spin_unlock_irq(&c->lock);
		cond_resched();
	}
	return DMA_TRANS_NOERROR;
}

/* Whether the engine thread has a descriptor to start. */
static bool cbdma_hw_has_work(struct cbdma_chan *c)
{
	bool work;

	spin_lock_irq(&c->lock);
	work = !c->active && !list_empty(&c->issued);
	spin_unlock_irq(&c->lock);
	return work;
}

/* Make the first issued descriptor active; NULL if there is none. */
static struct cbdma_desc *cbdma_hw_start_next(struct cbdma_chan *c)
{
	struct cbdma_desc *d;

	spin_lock_irq(&c->lock);
	d = list_first_entry_or_null(&c->issued, struct cbdma_desc, node);
	if (d && !c->active) {
		list_del(&d->node);
		WRITE_ONCE(c->active, d);
		c->busy = true;
		d->fail = atomic_add_unless(&c->cbd->fail_nth, -1, 0) &&
			  !atomic_read(&c->cbd->fail_nth);
		d->hang = !d->fail &&
			  atomic_add_unless(&c->cbd->hang_nth, -1, 0) &&
			  !atomic_read(&c->cbd->hang_nth);
	} else {
		d = NULL;
	}
	spin_unlock_irq(&c->lock);
	return d;
}

/*
 * Finish @d with @result: complete its cookie and queue it for the
 * interrupt, unless the client terminated it meanwhile or it is meant to
 * hang. Return: whether to raise the interrupt.
 */
static bool cbdma_hw_finish(struct cbdma_chan *c, struct cbdma_desc *d,
			    enum dmaengine_tx_result result)
{
	bool raise = false;

	spin_lock_irq(&c->lock);
	c->busy = false;
	if (c->active == d && !d->hang) {
		cbdma_cookie_complete(c, d, result);
		list_add_tail(&d->node, &c->completed);
		WRITE_ONCE(c->active, NULL);
		raise = true;
	}
	spin_unlock_irq(&c->lock);
	/* cbdma_synchronize() may be waiting for the memory to be released. */
	wake_up(&c->idle_wait);
	return raise;
}

static int cbdma_hw_thread(void *data)
{
	struct cbdma_chan *c = data;

	set_freezable();
	while (!kthread_should_stop()) {
		enum dmaengine_tx_result result = DMA_TRANS_NOERROR;
		struct cbdma_desc *d;

		wait_event_freezable(c->work_wait,
				     cbdma_hw_has_work(c) || kthread_should_stop());
		d = cbdma_hw_start_next(c);
		if (!d)
			continue;

		/* The latency model: wait, unless the client gives up. */
		if (c->cbd->latency_us)
			wait_event_timeout(c->idle_wait, cbdma_aborted(c, d),
					   usecs_to_jiffies(c->cbd->latency_us));
		/* A failing descriptor copies half, then reports the error. */
		if (!d->hang)
			result = cbdma_copy(c, d, d->fail ? d->len / 2 : d->len);
		if (d->fail && result == DMA_TRANS_NOERROR)
			result = DMA_TRANS_WRITE_FAILED;

		if (cbdma_hw_finish(c, d, result))
			tasklet_schedule(&c->irq);
	}
	return 0;
}

/* Start the channel's thread. */
int cbdma_hw_start(struct cbdma_chan *c)
{
	struct task_struct *t;

	t = kthread_run(cbdma_hw_thread, c, "circbuf-dma/%d", c->chan.chan_id);
	if (IS_ERR(t))
		return PTR_ERR(t);
	c->thread = t;
	return 0;
}

/* Stop the channel's thread; the channel must have no descriptors left. */
void cbdma_hw_stop(struct cbdma_chan *c)
{
	kthread_stop(c->thread);
	c->thread = NULL;
}
