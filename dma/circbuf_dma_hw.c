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
#include <linux/freezer.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mem_encrypt.h>
#include <linux/mm.h>
#include <linux/sched.h>

#include "circbuf_dma_priv.h"

/*
 * Bus address to the page behind it. The engine's device has no IOMMU and
 * no DMA offset (no dma_range_map), so dma-direct hands out physical
 * addresses; this is dma_to_phys() without the offset table, whose helper
 * modules cannot call.
 */
static struct page *cbdma_bus_to_page(struct device *dev, dma_addr_t addr,
				      size_t *offset)
{
	phys_addr_t phys = __sme_clr(addr);

	*offset = offset_in_page(phys);
	return pfn_to_page(PHYS_PFN(phys));
}

static bool cbdma_aborted(struct cbdma_chan *c, struct cbdma_desc *d)
{
	return READ_ONCE(c->active) != d;
}

/*
 * Copy @d from its cursor on, a page at a time, stopping early if the
 * client terminates it. With @limit, stop after @limit bytes in total.
 */
static void cbdma_copy(struct cbdma_chan *c, struct cbdma_desc *d, size_t limit)
{
	struct device *dev = c->cbd->ddev.dev;

	while (d->done < limit && !cbdma_aborted(c, d)) {
		size_t soff, doff, chunk;
		struct page *sp, *dp;
		void *s, *t;

		sp = cbdma_bus_to_page(dev, d->src + d->done, &soff);
		dp = cbdma_bus_to_page(dev, d->dst + d->done, &doff);
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
 * Finish @d: complete its cookie and queue it for the interrupt, unless the
 * client terminated it meanwhile or it is meant to hang. Return: whether to
 * raise the interrupt.
 */
static bool cbdma_hw_finish(struct cbdma_chan *c, struct cbdma_desc *d)
{
	bool raise = false;

	spin_lock_irq(&c->lock);
	c->busy = false;
	if (c->active == d && !d->hang) {
		d->result = d->fail ? DMA_TRANS_WRITE_FAILED : DMA_TRANS_NOERROR;
		c->chan.completed_cookie = d->tx.cookie;
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
			cbdma_copy(c, d, d->fail ? d->len / 2 : d->len);

		if (cbdma_hw_finish(c, d))
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
