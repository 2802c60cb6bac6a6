// SPDX-License-Identifier: GPL-2.0
/*
 * circbuf: bounded pipes in kernel memory. /dev/circbuf is the first ring;
 * devices=N at load creates N rings (/dev/circbuf, /dev/circbuf1, ...), and
 * /dev/circbuf-control adds and removes rings at run time, as
 * /dev/loop-control does loop devices.
 *
 * Each ring is coherent DMA memory (dma/circbuf_dma_buf.c) allocated for a
 * platform device this module creates, so that it has a DMA mask; the ring
 * arithmetic lives in circbuf_ring.h, shared with the host unit tests. What
 * one ring does is in circbuf_file.c (its file operations),
 * circbuf_storage.c (its storage and capacity) and circbuf_observe.c (its
 * stats, sysfs group and /proc/circbuf block). This file holds the module:
 * its parameters, the platform device, the table of rings with the limits
 * on their number and total size, and /proc/circbuf.
 *
 * Observability: the stats snapshot of CIRCBUF_GET_STATS is also shown,
 * with the parameters and the DMA engine's state, in /proc/circbuf, and
 * one value per file in /sys/class/misc/circbufN/stats/; tracepoints
 * (circbuf_trace.h) mark every I/O call, sleep and wake-up with the ring's
 * number; dev_dbg() reports opens, closes, the DMA channel and fallbacks
 * to CPU copies.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pipe_fs_i.h>
#include <linux/platform_device.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "circbuf.h"
#include "circbuf_compat.h"
#include "circbuf_dev.h"
#include "circbuf_dma_engine.h"

#define CREATE_TRACE_POINTS
#include "circbuf_trace.h"

#define CIRCBUF_MIN_SEGMENT	PAGE_SIZE
#define CIRCBUF_MAX_SEGMENT	(PAGE_SIZE << MAX_PAGE_ORDER)

unsigned int circbuf_buffer_size = CIRCBUF_DEFAULT_SIZE;
module_param_named(buffer_size, circbuf_buffer_size, uint, 0444);
MODULE_PARM_DESC(buffer_size,
		 "Capacity of each ring created at load in bytes, 1.." __stringify(CIRCBUF_MAX_SIZE)
		 " (default " __stringify(CIRCBUF_DEFAULT_SIZE) ")");

unsigned int circbuf_devices = 1;
module_param_named(devices, circbuf_devices, uint, 0444);
MODULE_PARM_DESC(devices,
		 "Rings created at load, 1.." __stringify(CIRCBUF_MAX_DEVICES)
		 ": /dev/circbuf, /dev/circbuf1, ... (default 1)");

/* Bytes; 1 GiB: four rings of the largest size. */
unsigned long circbuf_max_total_size = 4UL * CIRCBUF_MAX_SIZE;
module_param_named(max_total_size, circbuf_max_total_size, ulong, 0444);
MODULE_PARM_DESC(max_total_size,
		 "Largest total capacity of all rings in bytes; more is refused (default 1 GiB)");

ushort circbuf_mode = 0600;
module_param_named(mode, circbuf_mode, ushort, 0444);
MODULE_PARM_DESC(mode, "Permissions of the rings' nodes, e.g. 0666 (default 0600)");

bool circbuf_use_dma = true;
module_param_named(use_dma, circbuf_use_dma, bool, 0444);
MODULE_PARM_DESC(use_dma,
		 "Move data by DMA (default Y); N: CPU copies only" CIRCBUF_DMA_PARAM_NOTE);

unsigned int circbuf_dma_threshold = 65536;
module_param_named(dma_threshold, circbuf_dma_threshold, uint, 0644);
MODULE_PARM_DESC(dma_threshold,
		 "Transfers of at least this many bytes go by DMA; 1: all (default 65536)"
		 CIRCBUF_DMA_PARAM_NOTE);

bool circbuf_dma_any_channel;
module_param_named(dma_any_channel, circbuf_dma_any_channel, bool, 0444);
MODULE_PARM_DESC(dma_any_channel,
		 "Use any DMA_MEMCPY channel of the system, not only circbuf's own engine (default N)"
		 CIRCBUF_DMA_PARAM_NOTE);

/* 0 would time every transfer out at once: accept 1 ms to 10 minutes. */
static int dma_timeout_ms_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 600000);
}

static const struct kernel_param_ops dma_timeout_ms_ops = {
	.set = dma_timeout_ms_set,
	.get = param_get_uint,
};

unsigned int circbuf_dma_timeout_ms = 2000;
module_param_cb(dma_timeout_ms, &dma_timeout_ms_ops, &circbuf_dma_timeout_ms, 0644);
MODULE_PARM_DESC(dma_timeout_ms,
		 "Terminate a DMA transfer that has not completed after this many ms, 1..600000 (default 2000)"
		 CIRCBUF_DMA_PARAM_NOTE);

char *circbuf_locking = "split";
module_param_named(locking, circbuf_locking, charp, 0444);
MODULE_PARM_DESC(locking,
		 "split: readers and writers have locks of their own and copy in parallel (default); single: one mutex for both");

unsigned int circbuf_segment_size = SZ_1M;
module_param_named(segment_size, circbuf_segment_size, uint, 0444);
MODULE_PARM_DESC(segment_size,
		 "Bytes per coherent DMA segment of a ring: a power of two from PAGE_SIZE to 4 MiB (default 1 MiB)");

/* The platform device that owns the rings' DMA memory. */
static struct platform_device *circbuf_pdev;
/* /proc/circbuf: every ring, the parameters and the engine. */
static struct proc_dir_entry *circbuf_proc;

/*
 * The rings by number, and the capacity they have reserved
 * (circbuf_charge()). A ring is in the table from its creation, with its
 * node registered, to its removal, node deregistered; adding and removing
 * hold the lock throughout, so that each is all or nothing.
 */
static DEFINE_MUTEX(circbuf_rings_lock);
/* protected by circbuf_rings_lock */
static struct circbuf_dev *circbuf_rings[CIRCBUF_MAX_DEVICES];
/* protected by circbuf_rings_lock */
static unsigned long circbuf_total_size;

/*
 * Reserve @bytes of ring capacity for @cb, against max_total_size: at its
 * creation and before each change of its capacity, which gives the old
 * capacity back once the new one is in place (both exist until then).
 * Return: 0, or -ENOMEM past the limit, with a message.
 */
int circbuf_charge(struct circbuf_dev *cb, size_t bytes)
{
	int err = 0;

	mutex_lock(&circbuf_rings_lock);
	if (bytes > circbuf_max_total_size - circbuf_total_size) {
		dev_info_ratelimited(cb->dev, "%s: %zu more bytes would pass max_total_size=%lu (%lu in use): refused\n",
				     cb->name, bytes, circbuf_max_total_size,
				     circbuf_total_size);
		err = -ENOMEM;
	} else {
		circbuf_total_size += bytes;
	}
	mutex_unlock(&circbuf_rings_lock);
	return err;
}

void circbuf_uncharge(size_t bytes)
{
	mutex_lock(&circbuf_rings_lock);
	circbuf_total_size -= bytes;
	mutex_unlock(&circbuf_rings_lock);
}

/* The lowest ring number that is free, or -ENOSPC. */
static int circbuf_free_number(void)
{
	unsigned int i;

	lockdep_assert_held(&circbuf_rings_lock);
	for (i = 0; i < ARRAY_SIZE(circbuf_rings); i++)
		if (!circbuf_rings[i])
			return i;
	return -ENOSPC;
}

static struct circbuf_dev *circbuf_alloc_ring(struct device *dev,
					      unsigned int id)
{
	struct circbuf_dev *cb;

	cb = kzalloc(sizeof(*cb), GFP_KERNEL);
	if (!cb)
		return NULL;
	cb->id = id;
	if (id)
		snprintf(cb->name, sizeof(cb->name), CIRCBUF_DEVICE_NAME "%u", id);
	else
		strscpy(cb->name, CIRCBUF_DEVICE_NAME, sizeof(cb->name));
	cb->dev = dev;
	cb->split = !strcmp(circbuf_locking, "split");
	/* Separate mutex_init() calls: a lock class each for lockdep. */
	mutex_init(&cb->side[CIRCBUF_TO_RING].lock);
	mutex_init(&cb->side[CIRCBUF_TO_USER].lock);
	mutex_init(&cb->open_lock);
	mutex_init(&cb->dma_lock);
	seqcount_init(&cb->side[CIRCBUF_TO_RING].seq);
	seqcount_init(&cb->side[CIRCBUF_TO_USER].seq);
	init_waitqueue_head(&cb->rd_wait);
	init_waitqueue_head(&cb->wr_wait);
	return cb;
}

static void circbuf_free_ring(struct circbuf_dev *cb)
{
	mutex_destroy(&cb->dma_lock);
	mutex_destroy(&cb->open_lock);
	mutex_destroy(&cb->side[CIRCBUF_TO_USER].lock);
	mutex_destroy(&cb->side[CIRCBUF_TO_RING].lock);
	kfree(cb);
}

/*
 * Create ring @id (the lowest free number if @id < 0) of @cap bytes, its
 * node last: it can be opened as soon as it is registered. All or nothing.
 * Return: its number, or -EEXIST (@id in use), -ENOSPC (no free number),
 * -ENOMEM (past max_total_size, or out of memory), or misc_register()'s.
 */
int circbuf_add_ring(int id, u64 cap)
{
	struct device *dev = &circbuf_pdev->dev;
	struct circbuf_pkt *pkt_slot;
	struct circbuf_dev *cb;
	size_t nr_pkts;
	int err;

	mutex_lock(&circbuf_rings_lock);
	if (id < 0)
		id = circbuf_free_number();
	else if (id >= CIRCBUF_MAX_DEVICES)
		id = -EINVAL;
	else if (circbuf_rings[id])
		id = -EEXIST;
	if (id < 0) {
		err = id;
		goto err_unlock;
	}
	cb = circbuf_alloc_ring(dev, id);
	if (!cb) {
		err = -ENOMEM;
		goto err_unlock;
	}
	/* Charged by hand: this holds the lock circbuf_charge() takes. */
	if (cap > circbuf_max_total_size - circbuf_total_size) {
		dev_info(dev, "%s: %llu bytes would pass max_total_size=%lu (%lu in use): refused\n",
			 cb->name, cap, circbuf_max_total_size,
			 circbuf_total_size);
		err = -ENOMEM;
		goto err_free_ring;
	}
	circbuf_total_size += cap;

	circbuf_ring_init(&cb->ring, cap);
	cb->atomic_max = min_t(size_t, PIPE_BUF, cap);
	err = circbuf_storage_alloc(dev, cap, ilog2(circbuf_segment_size),
				    &cb->buf, &pkt_slot, &nr_pkts);
	if (err)
		goto err_uncharge;
	circbuf_pkts_init(&cb->pkts, pkt_slot, nr_pkts);

	cb->misc.minor = MISC_DYNAMIC_MINOR;
	cb->misc.name = cb->name;
	cb->misc.fops = &circbuf_fops;
	cb->misc.parent = dev;
	cb->misc.mode = circbuf_mode;
	cb->misc.groups = circbuf_groups;
	err = misc_register(&cb->misc);
	if (err) {
		dev_err(dev, "cannot register /dev/%s: %d\n", cb->name, err);
		goto err_free_storage;
	}
	circbuf_rings[id] = cb;
	mutex_unlock(&circbuf_rings_lock);

	dev_info(circbuf_node(cb), "/dev/%s ready: %llu bytes in %zu coherent segment(s), %s locking\n",
		 cb->name, cap, cb->buf.nr_segs, circbuf_locking);
	return id;

err_free_storage:
	kvfree(cb->pkts.slot);
	circbuf_dma_buf_free(&cb->buf);
err_uncharge:
	circbuf_total_size -= cap;
err_free_ring:
	circbuf_free_ring(cb);
err_unlock:
	mutex_unlock(&circbuf_rings_lock);
	return err;
}

/* Undo circbuf_add_ring() for a ring with no open file and no new opens. */
static void circbuf_destroy_ring(struct circbuf_dev *cb)
{
	lockdep_assert_held(&circbuf_rings_lock);
	circbuf_rings[cb->id] = NULL;
	/* Waits for opens in progress, and for readers of stats/. */
	misc_deregister(&cb->misc);
	circbuf_total_size -= cb->ring.cap;
	kvfree(cb->pkts.slot);
	circbuf_dma_buf_free(&cb->buf);
	circbuf_free_ring(cb);
}

/*
 * Remove ring @id: refused while a file of it is open. @gone, set under
 * @open_lock, fails the opens that reach it from now until the node is
 * gone (misc_open() calls circbuf_open() under misc_mtx, which
 * misc_deregister() takes).
 * Return: 0, -ENODEV (no such ring) or -EBUSY (open).
 */
int circbuf_remove_ring(unsigned int id)
{
	struct circbuf_dev *cb;
	int err = 0;

	if (id >= CIRCBUF_MAX_DEVICES)
		return -ENODEV;
	mutex_lock(&circbuf_rings_lock);
	cb = circbuf_rings[id];
	if (!cb) {
		err = -ENODEV;
		goto out_unlock;
	}
	mutex_lock(&cb->open_lock);
	if (cb->opens)
		err = -EBUSY;
	else
		cb->gone = true;
	mutex_unlock(&cb->open_lock);
	if (err)
		goto out_unlock;
	dev_info(circbuf_node(cb), "/dev/%s removed\n", cb->name);
	circbuf_destroy_ring(cb);
out_unlock:
	mutex_unlock(&circbuf_rings_lock);
	return err;
}

/*
 * /proc/circbuf: "name: value" lines. Ring 0's stats fields under their
 * own names, its packets (packets.*) and the DMA channel it holds
 * (dma.channel, "none" without one); the parameters as param.NAME; the
 * engine's channels (engine.*); the number of rings (rings); then each
 * further ring's lines as ring 0's, prefixed with its name
 * ("circbuf1.used"). Ring 0's lines are those of a module with one ring.
 */
static int circbuf_proc_show(struct seq_file *m, void *v)
{
	unsigned int i, n = 0;

	if (mutex_lock_interruptible(&circbuf_rings_lock))
		return -ERESTARTSYS;
	if (circbuf_rings[0])
		circbuf_show_ring(m, circbuf_rings[0], "");

	seq_printf(m, "param.buffer_size: %u\n", circbuf_buffer_size);
	seq_printf(m, "param.devices: %u\n", circbuf_devices);
	seq_printf(m, "param.max_total_size: %lu\n", circbuf_max_total_size);
	seq_printf(m, "param.mode: %#o\n", circbuf_mode);
	seq_printf(m, "param.segment_size: %u\n", circbuf_segment_size);
	seq_printf(m, "param.use_dma: %d\n", circbuf_use_dma);
	seq_printf(m, "param.dma_threshold: %u\n",
		   READ_ONCE(circbuf_dma_threshold));
	seq_printf(m, "param.dma_any_channel: %d\n", circbuf_dma_any_channel);
	seq_printf(m, "param.dma_timeout_ms: %u\n",
		   READ_ONCE(circbuf_dma_timeout_ms));
	seq_printf(m, "param.locking: %s\n", circbuf_locking);
	circbuf_dma_engine_show_params(m);
	circbuf_dma_engine_show(m);

	for (i = 0; i < ARRAY_SIZE(circbuf_rings); i++)
		n += !!circbuf_rings[i];
	seq_printf(m, "rings: %u\n", n);
	seq_printf(m, "rings.total_size: %lu\n", circbuf_total_size);
	for (i = 1; i < ARRAY_SIZE(circbuf_rings); i++) {
		char prefix[sizeof(circbuf_rings[i]->name) + 1];

		if (!circbuf_rings[i])
			continue;
		snprintf(prefix, sizeof(prefix), "%s.", circbuf_rings[i]->name);
		circbuf_show_ring(m, circbuf_rings[i], prefix);
	}
	mutex_unlock(&circbuf_rings_lock);
	return 0;
}

/* Undo circbuf_probe(). No file can be open: each holds a module reference. */
static void circbuf_remove(struct platform_device *pdev)
{
	unsigned int i;

	circbuf_control_deregister();
	mutex_lock(&circbuf_rings_lock);
	for (i = ARRAY_SIZE(circbuf_rings); i-- > 0;)
		if (circbuf_rings[i])
			circbuf_destroy_ring(circbuf_rings[i]);
	mutex_unlock(&circbuf_rings_lock);
}

/* The rings of devices=, then the control node that adds more. */
static int __init circbuf_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	unsigned int i;
	int err;

	err = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (err) {
		dev_err(dev, "no usable DMA mask: %d\n", err);
		return err;
	}
	/* circbuf_add_ring() allocates for it. */
	circbuf_pdev = pdev;

	for (i = 0; i < circbuf_devices; i++) {
		err = circbuf_add_ring(i, circbuf_buffer_size);
		if (err < 0)
			goto err_remove_rings;
	}
	err = circbuf_control_register(dev);
	if (err)
		goto err_remove_rings;
	return 0;

err_remove_rings:
	mutex_lock(&circbuf_rings_lock);
	while (i-- > 0)
		circbuf_destroy_ring(circbuf_rings[i]);
	mutex_unlock(&circbuf_rings_lock);
	return err;
}

static struct platform_driver circbuf_driver = {
	.driver = {
		.name = CIRCBUF_DEVICE_NAME,
	},
	.CIRCBUF_PLATFORM_REMOVE = circbuf_remove,
};

static int __init circbuf_check_params(void)
{
	if (circbuf_buffer_size < 1 || circbuf_buffer_size > CIRCBUF_MAX_SIZE) {
		pr_err("buffer_size=%u is out of range: it must be 1..%u bytes\n",
		       circbuf_buffer_size, CIRCBUF_MAX_SIZE);
		return -EINVAL;
	}
	if (circbuf_devices < 1 || circbuf_devices > CIRCBUF_MAX_DEVICES) {
		pr_err("devices=%u is out of range: it must be 1..%u\n",
		       circbuf_devices, CIRCBUF_MAX_DEVICES);
		return -EINVAL;
	}
	if ((u64)circbuf_devices * circbuf_buffer_size > circbuf_max_total_size) {
		pr_err("devices=%u rings of buffer_size=%u bytes pass max_total_size=%lu bytes\n",
		       circbuf_devices, circbuf_buffer_size,
		       circbuf_max_total_size);
		return -EINVAL;
	}
	if (circbuf_mode & ~0777) {
		pr_err("mode=%#o is not a permission mode: it must be 0..0777\n",
		       circbuf_mode);
		return -EINVAL;
	}
	if (strcmp(circbuf_locking, "split") &&
	    strcmp(circbuf_locking, "single")) {
		pr_err("locking=%s is unknown: it must be split or single\n",
		       circbuf_locking);
		return -EINVAL;
	}
	if (!is_power_of_2(circbuf_segment_size) ||
	    circbuf_segment_size < CIRCBUF_MIN_SEGMENT ||
	    circbuf_segment_size > CIRCBUF_MAX_SEGMENT) {
		pr_err("segment_size=%u is invalid: it must be a power of two from %lu to %lu bytes\n",
		       circbuf_segment_size, CIRCBUF_MIN_SEGMENT,
		       CIRCBUF_MAX_SEGMENT);
		return -EINVAL;
	}
	return 0;
}

static int __init circbuf_init(void)
{
	struct platform_device *pdev;
	int err;

	err = circbuf_check_params();
	if (err)
		return err;

	/* The engine first: the rings are its clients. */
	err = circbuf_dma_engine_register();
	if (err)
		return err;

	/*
	 * Create the device and probe it right away: a probe failure fails
	 * the load instead of leaving a driver with nothing bound.
	 */
	pdev = platform_create_bundle(&circbuf_driver, circbuf_probe, NULL, 0,
				      NULL, 0);
	if (IS_ERR(pdev)) {
		err = PTR_ERR(pdev);
		goto err_unregister_engine;
	}

	circbuf_proc = proc_create_single(CIRCBUF_DEVICE_NAME, 0444, NULL,
					  circbuf_proc_show);
	if (!circbuf_proc) {
		pr_err("cannot create /proc/%s\n", CIRCBUF_DEVICE_NAME);
		err = -ENOMEM;
		goto err_unregister_device;
	}
	return 0;

err_unregister_device:
	platform_device_unregister(pdev);
	platform_driver_unregister(&circbuf_driver);
err_unregister_engine:
	circbuf_dma_engine_unregister();
	return err;
}

static void __exit circbuf_exit(void)
{
	/* Waits for readers of /proc/circbuf to finish. */
	proc_remove(circbuf_proc);
	platform_device_unregister(circbuf_pdev);
	platform_driver_unregister(&circbuf_driver);
	circbuf_dma_engine_unregister();
}

module_init(circbuf_init);
module_exit(circbuf_exit);

MODULE_DESCRIPTION("Bounded pipes in coherent DMA memory: /dev/circbuf, /dev/circbuf-control");
MODULE_AUTHOR("The circbuf authors");
MODULE_LICENSE("GPL");
/* modinfo -F data_path: how this build moves data. */
MODULE_INFO(data_path, CIRCBUF_DATA_PATH);
