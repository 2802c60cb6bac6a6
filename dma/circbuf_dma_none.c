// SPDX-License-Identifier: GPL-2.0
/*
 * The DMA engine's interface on a kernel without dmaengine
 * (CONFIG_DMA_ENGINE unset, as in Debian's cloud kernels): no engine is
 * registered and the device moves every byte by CPU copy, with the same
 * semantics. The root Kbuild builds this file instead of
 * circbuf_dma_engine.c and circbuf_dma_hw.c there.
 *
 * The engine's parameters are still accepted, so that one command line
 * loads the module on every kernel, and documented as having no effect;
 * the load says so once in the kernel log, /proc/circbuf shows no engine
 * and the stats carry CIRCBUF_STATS_NO_DMA.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/printk.h>
#include <linux/seq_file.h>

#include "circbuf_dma_engine.h"

static unsigned int dma_channels = 1;
module_param(dma_channels, uint, 0444);
MODULE_PARM_DESC(dma_channels,
		 "Channels of the emulated DMA engine, 1..16" CIRCBUF_DMA_PARAM_NOTE);

static unsigned int dma_latency_us;
module_param(dma_latency_us, uint, 0444);
MODULE_PARM_DESC(dma_latency_us,
		 "Simulated latency of each DMA descriptor in microseconds" CIRCBUF_DMA_PARAM_NOTE);

void circbuf_dma_engine_show_params(struct seq_file *m)
{
	seq_printf(m, "param.dma_channels: %u\n", dma_channels);
	seq_printf(m, "param.dma_latency_us: %u\n", dma_latency_us);
}

void circbuf_dma_engine_show(struct seq_file *m)
{
	seq_puts(m, "engine.device: none\n");
	seq_puts(m, "engine.channels: 0\n");
}

bool circbuf_dma_engine_filter(struct dma_chan *chan, void *param)
{
	return false;
}

int __init circbuf_dma_engine_register(void)
{
	/* The engine's bounds: a command line loads everywhere or nowhere. */
	if (dma_channels < 1 || dma_channels > CIRCBUF_DMA_MAX_CHANNELS) {
		pr_err("dma_channels=%u is out of range: it must be 1..%u\n",
		       dma_channels, CIRCBUF_DMA_MAX_CHANNELS);
		return -EINVAL;
	}
	pr_info("this kernel has no dmaengine (CONFIG_DMA_ENGINE is not set): data moves by CPU copies, the DMA parameters have no effect\n");
	return 0;
}

void circbuf_dma_engine_unregister(void)
{
}
