// SPDX-License-Identifier: GPL-2.0
/*
 * The circbuf DMA engine: a dmaengine provider for DMA_MEMCPY, bound to a
 * platform device of its own so that it has a driver and DMA masks, listed
 * under /sys/class/dma and in debugfs dmaengine/summary like hardware.
 *
 * Descriptor life cycle, all under the channel lock:
 *
 *   prep --tx_submit--> submitted --issue_pending--> issued
 *        --engine thread--> active --copy done--> completed
 *        --tasklet: callback--> freed
 *
 * terminate_all moves every descriptor not yet completed (and completed
 * ones whose callbacks have not run) to "terminated"; synchronize waits
 * until the engine no longer touches their memory and the tasklet is idle,
 * then frees them. The private helpers of drivers/dma/dmaengine.h and
 * virt-dma are not available to modules, so cookies are handled here:
 * tx_submit assigns the next cookie, the engine completes it through
 * cbdma_cookie_complete().
 *
 * Cookies and tx_status(). Descriptors complete in cookie order, so, as in
 * every dmaengine driver, completed_cookie tells which cookies are done;
 * what it cannot tell is which of them failed. The channel remembers that
 * in a small ring, cbdma_chan.failed: the last CBDMA_FAILED_COOKIES (16)
 * descriptors that completed with an error, with the bytes each left
 * uncopied. A failed cookie reads DMA_ERROR from the moment it completes
 * (under the lock that completes it) until the first of:
 *
 *   - CBDMA_FAILED_COOKIES later descriptors on the channel fail too (the
 *     oldest record goes); successes never push a failure out;
 *   - the client releases the channel (free_chan_resources): the next
 *     client has cookies of its own;
 *   - tx_submit hands the same cookie number out again, after the cookies
 *     wrapped at INT_MAX.
 *
 * terminate_all forgets nothing: it aborts descriptors not yet finished,
 * and a failure already reported stays a fact. A forgotten failure reads
 * DMA_COMPLETE, so a client takes a descriptor's outcome from its
 * callback_result, or asks tx_status before 16 more failures. (Among real
 * drivers, hidma says DMA_ERROR for a failed cookie only until a later one
 * succeeds; fsl-edma and imx-sdma keep one status per channel, not per
 * cookie; dw-axi-dmac completes a failed cookie like a good one.)
 *
 * The residue, as virt-dma drivers find it with vchan_find_desc(): the
 * descriptor's length while it waits (submitted or issued), the bytes
 * still to copy while the engine is on it, 0 once it completed, and for a
 * failed cookie the bytes it left uncopied.
 *
 * Fault injection in debugfs circbuf-dma/: writing N to fail_nth makes the
 * Nth descriptor to start from now complete with an error after copying
 * half of its bytes; hang_nth makes it never complete.
 *
 * Every descriptor submitted is counted and traced (circbuf_dma_trace.h)
 * once more when it leaves: reported by the tasklet (completed or failed)
 * or aborted by terminate_all. /proc/circbuf shows the counters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "circbuf_compat.h"
#include "circbuf_dma_engine.h"
#include "circbuf_dma_priv.h"

#define CREATE_TRACE_POINTS
#include "circbuf_dma_trace.h"

#define CBDMA_DRIVER_NAME	"circbuf-dma"

static unsigned int dma_channels = 1;
module_param(dma_channels, uint, 0444);
MODULE_PARM_DESC(dma_channels, "Channels of the emulated DMA engine, 1..16 (default 1)");

static unsigned int dma_latency_us;
module_param(dma_latency_us, uint, 0444);
MODULE_PARM_DESC(dma_latency_us,
		 "Simulated latency of each DMA descriptor in microseconds (default 0: none)");

static void cbdma_desc_free(struct cbdma_desc *d)
{
	kfree(d);
}

static void cbdma_free_list(struct list_head *list)
{
	struct cbdma_desc *d, *tmp;

	list_for_each_entry_safe(d, tmp, list, node) {
		list_del(&d->node);
		cbdma_desc_free(d);
	}
}

/* The record of failed @cookie, or NULL if the channel has none. */
static struct cbdma_failed *cbdma_failed_find(struct cbdma_chan *c,
					      dma_cookie_t cookie)
{
	unsigned int i;

	lockdep_assert_held(&c->lock);
	if (cookie < DMA_MIN_COOKIE)
		return NULL;
	for (i = 0; i < CBDMA_FAILED_COOKIES; i++)
		if (c->failed[i].cookie == cookie)
			return &c->failed[i];
	return NULL;
}

static void cbdma_failed_forget_all(struct cbdma_chan *c)
{
	lockdep_assert_held(&c->lock);
	memset(c->failed, 0, sizeof(c->failed));
	c->failed_next = 0;
}

/*
 * The engine finished @d with @result: the cookie is complete, and if @d
 * failed, the channel remembers it in place of its oldest failure.
 */
void cbdma_cookie_complete(struct cbdma_chan *c, struct cbdma_desc *d,
			   enum dmaengine_tx_result result)
{
	lockdep_assert_held(&c->lock);
	d->result = result;
	if (result != DMA_TRANS_NOERROR) {
		c->failed[c->failed_next] = (struct cbdma_failed) {
			.cookie = d->tx.cookie,
			.residue = d->len - d->done,
		};
		c->failed_next = (c->failed_next + 1) % CBDMA_FAILED_COOKIES;
	}
	c->chan.completed_cookie = d->tx.cookie;
}

/* Give the descriptor the channel's next cookie and queue it. */
static dma_cookie_t cbdma_tx_submit(struct dma_async_tx_descriptor *tx)
{
	struct cbdma_chan *c = to_cbdma_chan(tx->chan);
	struct cbdma_desc *d = to_cbdma_desc(tx);
	struct cbdma_failed *failed;
	dma_cookie_t cookie;
	unsigned long flags;

	spin_lock_irqsave(&c->lock, flags);
	cookie = c->chan.cookie + 1;
	if (cookie < DMA_MIN_COOKIE)
		cookie = DMA_MIN_COOKIE;
	tx->cookie = cookie;
	c->chan.cookie = cookie;
	/* A number used again after the wrap: its old failure is not this one's. */
	failed = cbdma_failed_find(c, cookie);
	if (failed)
		failed->cookie = 0;
	list_add_tail(&d->node, &c->submitted);
	c->nr_submitted++;
	trace_cbdma_submit(c, d);
	spin_unlock_irqrestore(&c->lock, flags);

	return cookie;
}

/* A memcpy descriptor; may be called in atomic context. */
static struct dma_async_tx_descriptor *
cbdma_prep_memcpy(struct dma_chan *chan, dma_addr_t dst, dma_addr_t src,
		  size_t len, unsigned long flags)
{
	struct cbdma_desc *d;

	if (!len)
		return NULL;
	d = kzalloc(sizeof(*d), GFP_NOWAIT);
	if (!d)
		return NULL;
	dma_async_tx_descriptor_init(&d->tx, chan);
	d->tx.tx_submit = cbdma_tx_submit;
	d->tx.flags = flags;
	d->src = src;
	d->dst = dst;
	d->len = len;
	INIT_LIST_HEAD(&d->node);
	return &d->tx;
}

/* Hand the submitted descriptors to the engine. */
static void cbdma_issue_pending(struct dma_chan *chan)
{
	struct cbdma_chan *c = to_cbdma_chan(chan);
	unsigned long flags;
	bool kick;

	spin_lock_irqsave(&c->lock, flags);
	kick = !list_empty(&c->submitted);
	list_splice_tail_init(&c->submitted, &c->issued);
	spin_unlock_irqrestore(&c->lock, flags);

	if (kick)
		wake_up(&c->work_wait);
}

/* The descriptor of @cookie on @list, or NULL. */
static struct cbdma_desc *cbdma_find(struct list_head *list,
				     dma_cookie_t cookie)
{
	struct cbdma_desc *d;

	list_for_each_entry(d, list, node)
		if (d->tx.cookie == cookie)
			return d;
	return NULL;
}

/*
 * The bytes @cookie, not yet complete, has still to copy: all of them
 * while it waits, the rest while the engine is on it; 0 if it is on no
 * queue (aborted).
 */
static u32 cbdma_residue(struct cbdma_chan *c, dma_cookie_t cookie)
{
	struct cbdma_desc *d = c->active;

	lockdep_assert_held(&c->lock);
	if (!d || d->tx.cookie != cookie)
		d = cbdma_find(&c->issued, cookie);
	if (!d)
		d = cbdma_find(&c->submitted, cookie);
	return d ? d->len - d->done : 0;
}

/*
 * The state of @cookie: DMA_IN_PROGRESS until the engine finished it, then
 * DMA_COMPLETE, or DMA_ERROR while the channel remembers that it failed
 * (see the top of this file), with the residue of that cookie.
 */
static enum dma_status cbdma_tx_status(struct dma_chan *chan,
				       dma_cookie_t cookie,
				       struct dma_tx_state *state)
{
	struct cbdma_chan *c = to_cbdma_chan(chan);
	struct cbdma_failed *failed;
	enum dma_status status;
	unsigned long flags;
	u32 residue = 0;

	spin_lock_irqsave(&c->lock, flags);
	status = dma_async_is_complete(cookie, chan->completed_cookie,
				       chan->cookie);
	if (status == DMA_COMPLETE) {
		failed = cbdma_failed_find(c, cookie);
		if (failed) {
			status = DMA_ERROR;
			residue = failed->residue;
		}
	} else if (state) {
		residue = cbdma_residue(c, cookie);
	}
	dma_set_tx_state(state, chan->completed_cookie, chan->cookie, residue);
	spin_unlock_irqrestore(&c->lock, flags);

	return status;
}

/* Count and trace the abort of @d, about to go to @c->terminated. */
static void cbdma_abort(struct cbdma_chan *c, struct cbdma_desc *d)
{
	lockdep_assert_held(&c->lock);
	trace_cbdma_error(c, d, DMA_TRANS_ABORTED);
	c->nr_aborted++;
}

/* Abort every descriptor on @list; return how many there were. */
static unsigned int cbdma_abort_list(struct cbdma_chan *c,
				     struct list_head *list)
{
	struct cbdma_desc *d;
	unsigned int n = 0;

	lockdep_assert_held(&c->lock);
	list_for_each_entry(d, list, node) {
		cbdma_abort(c, d);
		n++;
	}
	list_splice_tail_init(list, &c->terminated);
	return n;
}

/* Abort everything not yet reported; cbdma_synchronize() frees it. */
static int cbdma_terminate_all(struct dma_chan *chan)
{
	struct cbdma_chan *c = to_cbdma_chan(chan);
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&c->lock, flags);
	n = cbdma_abort_list(c, &c->submitted);
	n += cbdma_abort_list(c, &c->issued);
	n += cbdma_abort_list(c, &c->completed);
	if (c->active) {
		cbdma_abort(c, c->active);
		n++;
		list_add_tail(&c->active->node, &c->terminated);
		/* The engine checks this between pages and stops. */
		WRITE_ONCE(c->active, NULL);
	}
	spin_unlock_irqrestore(&c->lock, flags);

	if (n)
		dev_dbg(chan->device->dev, "%s: terminated, %u descriptor(s) aborted\n",
			dma_chan_name(chan), n);

	/* Cut short a latency wait; the thread then reports idle. */
	wake_up(&c->idle_wait);
	return 0;
}

static bool cbdma_idle(struct cbdma_chan *c)
{
	unsigned long flags;
	bool busy;

	spin_lock_irqsave(&c->lock, flags);
	busy = c->busy;
	spin_unlock_irqrestore(&c->lock, flags);
	return !busy;
}

/*
 * After terminate_all: wait until the engine no longer touches the aborted
 * descriptors' memory and no callback runs, then free them. May sleep.
 */
static void cbdma_synchronize(struct dma_chan *chan)
{
	struct cbdma_chan *c = to_cbdma_chan(chan);
	unsigned long flags;
	LIST_HEAD(dead);

	wait_event(c->idle_wait, cbdma_idle(c));
	tasklet_kill(&c->irq);

	spin_lock_irqsave(&c->lock, flags);
	list_splice_tail_init(&c->terminated, &dead);
	spin_unlock_irqrestore(&c->lock, flags);
	cbdma_free_list(&dead);
}

/* The simulated completion interrupt: report completed descriptors. */
static void cbdma_irq(struct tasklet_struct *t)
{
	struct cbdma_chan *c = from_tasklet(c, t, irq);
	struct cbdma_desc *d, *tmp;
	unsigned long flags;
	LIST_HEAD(done);

	spin_lock_irqsave(&c->lock, flags);
	list_splice_tail_init(&c->completed, &done);
	list_for_each_entry(d, &done, node) {
		if (d->result == DMA_TRANS_NOERROR) {
			trace_cbdma_complete(c, d, d->result);
			c->nr_completed++;
		} else {
			trace_cbdma_error(c, d, d->result);
			c->nr_failed++;
		}
	}
	spin_unlock_irqrestore(&c->lock, flags);

	list_for_each_entry_safe(d, tmp, &done, node) {
		struct dmaengine_result res = {
			.result = d->result,
			.residue = d->result == DMA_TRANS_NOERROR ?
				   0 : d->len - d->done,
		};
		struct dma_async_tx_descriptor *tx = &d->tx;

		list_del(&d->node);
		if (tx->callback_result)
			tx->callback_result(tx->callback_param, &res);
		else if (tx->callback)
			tx->callback(tx->callback_param);
		dma_run_dependencies(tx);
		cbdma_desc_free(d);
	}
}

static int cbdma_alloc_chan_resources(struct dma_chan *chan)
{
	dev_dbg(chan->device->dev, "%s: taken by a client\n",
		dma_chan_name(chan));
	return 0;
}

/* The client let go of the channel: drop whatever it left behind. */
static void cbdma_free_chan_resources(struct dma_chan *chan)
{
	struct cbdma_chan *c = to_cbdma_chan(chan);
	unsigned long flags;

	cbdma_terminate_all(chan);
	cbdma_synchronize(chan);
	/* Its failed cookies meant something to this client only. */
	spin_lock_irqsave(&c->lock, flags);
	cbdma_failed_forget_all(c);
	spin_unlock_irqrestore(&c->lock, flags);
	dev_dbg(chan->device->dev, "%s: released by its client\n",
		dma_chan_name(chan));
}

static int cbdma_fail_nth_get(void *data, u64 *val)
{
	*val = atomic_read(data);
	return 0;
}

static int cbdma_fail_nth_set(void *data, u64 val)
{
	if (val > INT_MAX)
		return -EINVAL;
	atomic_set(data, val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(cbdma_nth_fops, cbdma_fail_nth_get,
			 cbdma_fail_nth_set, "%llu\n");

static void cbdma_chan_init(struct cbdma_dev *cbd, struct cbdma_chan *c)
{
	c->cbd = cbd;
	c->chan.device = &cbd->ddev;
	c->chan.cookie = DMA_MIN_COOKIE;
	c->chan.completed_cookie = DMA_MIN_COOKIE;
	spin_lock_init(&c->lock);
	INIT_LIST_HEAD(&c->submitted);
	INIT_LIST_HEAD(&c->issued);
	INIT_LIST_HEAD(&c->completed);
	INIT_LIST_HEAD(&c->terminated);
	init_waitqueue_head(&c->work_wait);
	init_waitqueue_head(&c->idle_wait);
	tasklet_setup(&c->irq, cbdma_irq);
	list_add_tail(&c->chan.device_node, &cbd->ddev.channels);
}

static void cbdma_stop_threads(struct cbdma_dev *cbd, unsigned int n)
{
	while (n--)
		cbdma_hw_stop(&cbd->chans[n]);
}

static int __init cbdma_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	struct dma_device *dd;
	struct cbdma_dev *cbd;
	unsigned int i;
	int err;

	err = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (err)
		return err;
	/* The engine copies page by page: a segment may be any length. */
	dma_set_max_seg_size(dev, UINT_MAX);
	/* It reads bus addresses as physical ones: refuse a device where not. */
	err = cbdma_hw_check_dev(dev);
	if (err)
		return err;

	cbd = devm_kzalloc(dev, sizeof(*cbd), GFP_KERNEL);
	if (!cbd)
		return -ENOMEM;
	cbd->nr_chans = dma_channels;
	cbd->latency_us = dma_latency_us;
	cbd->chans = devm_kcalloc(dev, cbd->nr_chans, sizeof(*cbd->chans),
				  GFP_KERNEL);
	if (!cbd->chans)
		return -ENOMEM;

	dd = &cbd->ddev;
	dd->dev = dev;
	INIT_LIST_HEAD(&dd->channels);
	/* Private: only dma_request_channel() hands it out, not async_tx. */
	dma_cap_set(DMA_MEMCPY, dd->cap_mask);
	dma_cap_set(DMA_PRIVATE, dd->cap_mask);
	dd->directions = BIT(DMA_MEM_TO_MEM);
	dd->src_addr_widths = BIT(DMA_SLAVE_BUSWIDTH_1_BYTE);
	dd->dst_addr_widths = BIT(DMA_SLAVE_BUSWIDTH_1_BYTE);
	dd->residue_granularity = DMA_RESIDUE_GRANULARITY_BURST;
	dd->copy_align = DMAENGINE_ALIGN_1_BYTE;
	dd->device_alloc_chan_resources = cbdma_alloc_chan_resources;
	dd->device_free_chan_resources = cbdma_free_chan_resources;
	dd->device_prep_dma_memcpy = cbdma_prep_memcpy;
	dd->device_issue_pending = cbdma_issue_pending;
	dd->device_tx_status = cbdma_tx_status;
	dd->device_terminate_all = cbdma_terminate_all;
	dd->device_synchronize = cbdma_synchronize;
	for (i = 0; i < cbd->nr_chans; i++)
		cbdma_chan_init(cbd, &cbd->chans[i]);

	err = dma_async_device_register(dd);
	if (err) {
		dev_err(dev, "cannot register the DMA engine: %d\n", err);
		return err;
	}

	/* After registration: the thread is named for the channel's id. */
	for (i = 0; i < cbd->nr_chans; i++) {
		err = cbdma_hw_start(&cbd->chans[i]);
		if (err)
			goto err_stop_threads;
	}

	cbd->debugfs = debugfs_create_dir(CBDMA_DRIVER_NAME, NULL);
	debugfs_create_file_unsafe("fail_nth", 0600, cbd->debugfs,
				   &cbd->fail_nth, &cbdma_nth_fops);
	debugfs_create_file_unsafe("hang_nth", 0600, cbd->debugfs,
				   &cbd->hang_nth, &cbdma_nth_fops);

	platform_set_drvdata(pdev, cbd);
	dev_info(dev, "DMA engine ready: %u channel(s)\n", cbd->nr_chans);
	return 0;

err_stop_threads:
	cbdma_stop_threads(cbd, i);
	dma_async_device_unregister(dd);
	return err;
}

/* Mirror of the probe; no client holds a channel any more. */
static void cbdma_remove(struct platform_device *pdev)
{
	struct cbdma_dev *cbd = platform_get_drvdata(pdev);
	unsigned int i;

	debugfs_remove_recursive(cbd->debugfs);
	cbdma_stop_threads(cbd, cbd->nr_chans);
	dma_async_device_unregister(&cbd->ddev);
	for (i = 0; i < cbd->nr_chans; i++)
		tasklet_kill(&cbd->chans[i].irq);
}

static struct platform_driver cbdma_driver = {
	.driver = {
		.name = CBDMA_DRIVER_NAME,
	},
	.CIRCBUF_PLATFORM_REMOVE = cbdma_remove,
};

static struct platform_device *cbdma_pdev;

/* One channel's lines of /proc/circbuf. */
static void cbdma_chan_show(struct seq_file *m, struct cbdma_chan *c)
{
	u64 submitted, completed, failed, aborted;
	int id = c->chan.chan_id;
	char comm[TASK_COMM_LEN];
	size_t queued;
	bool active;

	spin_lock_irq(&c->lock);
	submitted = c->nr_submitted;
	completed = c->nr_completed;
	failed = c->nr_failed;
	aborted = c->nr_aborted;
	queued = list_count_nodes(&c->submitted) +
		 list_count_nodes(&c->issued);
	active = c->active;
	spin_unlock_irq(&c->lock);
	get_task_comm(comm, c->thread);

	seq_printf(m, "engine.chan%d.name: %s\n", id, dma_chan_name(&c->chan));
	/* Racy by nature: dmaengine changes it under its own mutex. */
	seq_printf(m, "engine.chan%d.in_use: %d\n", id,
		   READ_ONCE(c->chan.client_count) > 0);
	seq_printf(m, "engine.chan%d.thread: %s\n", id, comm);
	seq_printf(m, "engine.chan%d.pid: %d\n", id, task_pid_nr(c->thread));
	seq_printf(m, "engine.chan%d.submitted: %llu\n", id, submitted);
	seq_printf(m, "engine.chan%d.completed: %llu\n", id, completed);
	seq_printf(m, "engine.chan%d.failed: %llu\n", id, failed);
	seq_printf(m, "engine.chan%d.aborted: %llu\n", id, aborted);
	seq_printf(m, "engine.chan%d.queued: %zu\n", id, queued);
	seq_printf(m, "engine.chan%d.active: %d\n", id, active);
}

void circbuf_dma_engine_show_params(struct seq_file *m)
{
	seq_printf(m, "param.dma_channels: %u\n", dma_channels);
	seq_printf(m, "param.dma_latency_us: %u\n", dma_latency_us);
}

/*
 * Called between circbuf_dma_engine_register() and _unregister() only: the
 * engine, its channels and their threads exist.
 */
void circbuf_dma_engine_show(struct seq_file *m)
{
	struct cbdma_dev *cbd = platform_get_drvdata(cbdma_pdev);
	unsigned int i;

	seq_printf(m, "engine.device: %s\n", dev_name(cbd->ddev.dev));
	seq_printf(m, "engine.channels: %u\n", cbd->nr_chans);
	for (i = 0; i < cbd->nr_chans; i++)
		cbdma_chan_show(m, &cbd->chans[i]);
}

bool circbuf_dma_engine_filter(struct dma_chan *chan, void *param)
{
	return chan->device->dev->driver == &cbdma_driver.driver;
}

int __init circbuf_dma_engine_register(void)
{
	if (dma_channels < 1 || dma_channels > CIRCBUF_DMA_MAX_CHANNELS) {
		pr_err("dma_channels=%u is out of range: it must be 1..%u\n",
		       dma_channels, CIRCBUF_DMA_MAX_CHANNELS);
		return -EINVAL;
	}
	cbdma_pdev = platform_create_bundle(&cbdma_driver, cbdma_probe,
					    NULL, 0, NULL, 0);
	return PTR_ERR_OR_ZERO(cbdma_pdev);
}

void circbuf_dma_engine_unregister(void)
{
	platform_device_unregister(cbdma_pdev);
	platform_driver_unregister(&cbdma_driver);
}
