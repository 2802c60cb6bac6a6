// SPDX-License-Identifier: GPL-2.0
/*
 * The rings: a table of them by number, and the creation and removal of
 * one, at load (devices=) and through /dev/circbuf-control. A ring is its
 * struct circbuf_dev, its storage and its misc device node; its file
 * operations are in circbuf_file.c.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/log2.h>
#include <linux/mutex.h>
#include <linux/pipe_fs_i.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "circbuf.h"
#include "circbuf_dev.h"
#include "circbuf_params.h"

/*
 * The rings by number. A ring is in the table from its creation, with its
 * node registered, to its removal, node deregistered; adding and removing
 * hold the lock throughout, so that each is all or nothing.
 */
static DEFINE_MUTEX(circbuf_rings_lock);
/* protected by circbuf_rings_lock */
static struct circbuf_dev *circbuf_rings[CIRCBUF_MAX_DEVICES];

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
	mutex_init(&cb->map_lock);
	init_waitqueue_head(&cb->side[CIRCBUF_TO_RING].hold_wait);
	init_waitqueue_head(&cb->side[CIRCBUF_TO_USER].hold_wait);
	seqcount_init(&cb->side[CIRCBUF_TO_RING].seq);
	seqcount_init(&cb->side[CIRCBUF_TO_USER].seq);
	init_waitqueue_head(&cb->rd_wait);
	init_waitqueue_head(&cb->wr_wait);
	return cb;
}

static void circbuf_free_ring(struct circbuf_dev *cb)
{
	mutex_destroy(&cb->map_lock);
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
int circbuf_add_ring(struct device *dev, int id, u64 cap)
{
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
	err = circbuf_charge(cb, cap);
	if (err)
		goto err_free_ring;

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
	circbuf_storage_free(&cb->buf, cb->pkts.slot);
err_uncharge:
	circbuf_uncharge(cap);
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
	circbuf_storage_free(&cb->buf, cb->pkts.slot);
	circbuf_uncharge(cb->ring.cap);
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

/* Remove every ring, at unload: no file is open (each holds the module). */
void circbuf_remove_all_rings(void)
{
	unsigned int i;

	mutex_lock(&circbuf_rings_lock);
	for (i = ARRAY_SIZE(circbuf_rings); i-- > 0;)
		if (circbuf_rings[i])
			circbuf_destroy_ring(circbuf_rings[i]);
	mutex_unlock(&circbuf_rings_lock);
}

/*
 * The rings' lines of /proc/circbuf: ring 0's under their own names, the
 * number of rings (rings) and their total capacity (rings.total_size),
 * then each further ring's lines prefixed with its name ("circbuf1.used").
 * Ring 0's lines are those of a module with one ring.
 */
int circbuf_rings_show(struct seq_file *m)
{
	unsigned int i, n = 0;

	if (mutex_lock_interruptible(&circbuf_rings_lock))
		return -ERESTARTSYS;
	if (circbuf_rings[0])
		circbuf_show_ring(m, circbuf_rings[0], "");
	for (i = 0; i < ARRAY_SIZE(circbuf_rings); i++)
		n += !!circbuf_rings[i];
	seq_printf(m, "rings: %u\n", n);
	seq_printf(m, "rings.total_size: %lu\n", circbuf_charged());
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
