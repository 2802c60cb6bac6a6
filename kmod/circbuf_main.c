// SPDX-License-Identifier: GPL-2.0
/*
 * circbuf: bounded pipes in kernel memory. /dev/circbuf is the first ring;
 * devices=N at load creates N rings (/dev/circbuf, /dev/circbuf1, ...), and
 * /dev/circbuf-control adds and removes rings at run time, as
 * /dev/loop-control does loop devices.
 *
 * Each ring is coherent DMA memory (dma/circbuf_dma_buf.c) allocated for a
 * platform device this module creates, so that it has a DMA mask; the ring
 * arithmetic lives in circbuf_ring.h, shared with the host unit tests. The
 * rest is in one file per responsibility:
 *
 *   circbuf_params.c	the module parameters and their checks
 *   circbuf_rings.c	the table of rings: adding and removing one
 *   circbuf_control.c	/dev/circbuf-control, which adds and removes
 *   circbuf_file.c	one ring's file operations (the data path)
 *   circbuf_storage.c	a ring's storage, and all rings' total capacity
 *   circbuf_observe.c	a ring's stats snapshot, sysfs group and /proc lines
 *   circbuf_dma_xfer.c	the data path's DMA transfers
 *
 * and this file: the platform device, /proc/circbuf, load and unload.
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
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

#include "circbuf.h"
#include "circbuf_compat.h"
#include "circbuf_dev.h"
#include "circbuf_dma_engine.h"
#include "circbuf_params.h"

#define CREATE_TRACE_POINTS
#include "circbuf_trace.h"

/* The platform device that owns the rings' DMA memory. */
static struct platform_device *circbuf_pdev;
/* /proc/circbuf: every ring, the parameters and the engine. */
static struct proc_dir_entry *circbuf_proc;

/*
 * /proc/circbuf: "name: value" lines. The rings' (circbuf_rings_show()),
 * the parameters as param.NAME, and the engine's (engine.*).
 */
static int circbuf_proc_show(struct seq_file *m, void *v)
{
	int err;

	err = circbuf_rings_show(m);
	if (err)
		return err;
	circbuf_params_show(m);
	circbuf_dma_engine_show_params(m);
	circbuf_dma_engine_show(m);
	return 0;
}

/* Undo circbuf_probe(). No file can be open: each holds a module reference. */
static void circbuf_remove(struct platform_device *pdev)
{
	circbuf_control_deregister();
	circbuf_remove_all_rings();
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
	for (i = 0; i < circbuf_devices; i++) {
		err = circbuf_add_ring(dev, i, circbuf_buffer_size);
		if (err < 0)
			goto err_remove_rings;
	}
	err = circbuf_control_register(dev);
	if (err)
		goto err_remove_rings;
	return 0;

err_remove_rings:
	circbuf_remove_all_rings();
	return err;
}

static struct platform_driver circbuf_driver = {
	.driver = {
		.name = CIRCBUF_DEVICE_NAME,
	},
	.CIRCBUF_PLATFORM_REMOVE = circbuf_remove,
};

static int __init circbuf_init(void)
{
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
	circbuf_pdev = platform_create_bundle(&circbuf_driver, circbuf_probe,
					      NULL, 0, NULL, 0);
	if (IS_ERR(circbuf_pdev)) {
		err = PTR_ERR(circbuf_pdev);
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
	platform_device_unregister(circbuf_pdev);
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
