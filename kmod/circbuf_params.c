// SPDX-License-Identifier: GPL-2.0
/*
 * The module's parameters: their definitions, their checks at load and
 * their param.NAME lines of /proc/circbuf. The rings read them through
 * circbuf_params.h; those that can change at run time (0644) with
 * READ_ONCE().
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/log2.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include "circbuf.h"
#include "circbuf_compat.h"
#include "circbuf_dma_engine.h"
#include "circbuf_params.h"

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

int __init circbuf_check_params(void)
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

/* The param.NAME lines of /proc/circbuf (the engine adds its own). */
void circbuf_params_show(struct seq_file *m)
{
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
}
