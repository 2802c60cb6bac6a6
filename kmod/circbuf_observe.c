// SPDX-License-Identifier: GPL-2.0
/*
 * A ring's observability: the stats snapshot behind CIRCBUF_GET_STATS, its
 * uring_cmd, /sys/class/misc/circbuf/stats/ and /proc/circbuf.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/dmaengine.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "circbuf.h"
#include "circbuf_dev.h"

/*
 * A snapshot of the ring and its counters: the one place that computes
 * them, for the ioctl, io_uring, sysfs and /proc/circbuf. It takes no lock
 * and never waits for a reader or a writer. It is consistent: when neither
 * side's seqcount moved from before the first load to after the last, no
 * commit ran in between, and every value held at once. Else it reads
 * again; a commit is a few stores.
 * The readers and writers counts come from open and release, and may be
 * a moment apart from the rest.
 */
void circbuf_fill_stats(struct circbuf_dev *cb, struct circbuf_stats *st)
{
	const struct circbuf_side_stats *rd = &cb->side[CIRCBUF_TO_USER].stats;
	const struct circbuf_side_stats *wr = &cb->side[CIRCBUF_TO_RING].stats;
	const struct circbuf_dma_stats *dma = &cb->dma_stats;
	seqcount_t *rd_seq = &cb->side[CIRCBUF_TO_USER].seq;
	seqcount_t *wr_seq = &cb->side[CIRCBUF_TO_RING].seq;
	unsigned int rd_start, wr_start;

	memset(st, 0, sizeof(*st));
	do {
		wr_start = read_seqcount_begin(wr_seq);
		rd_start = read_seqcount_begin(rd_seq);
		st->used = circbuf_ring_used(&cb->ring);
		st->reads = rd->calls;
		st->writes = wr->calls;
		st->bytes_read = rd->bytes;
		st->bytes_written = wr->bytes;
		st->cpu_bytes = rd->cpu_bytes + wr->cpu_bytes;
		st->bytes_discarded = rd->discarded;
		st->capacity = cb->ring.cap;
		st->dma_submitted = dma->submitted;
		st->dma_completed = dma->completed;
		st->dma_failed = dma->failed;
		st->dma_timeouts = dma->timeouts;
		st->dma_bytes = dma->bytes;
	} while (read_seqcount_retry(rd_seq, rd_start) ||
		 read_seqcount_retry(wr_seq, wr_start));
	st->available = st->capacity - st->used;
	st->readers = READ_ONCE(cb->readers);
	st->writers = READ_ONCE(cb->writers);
	if (!IS_ENABLED(CONFIG_DMA_ENGINE))
		st->flags |= CIRCBUF_STATS_NO_DMA;
}

/*
 * /sys/class/misc/circbufN/stats/: one read-only file per field of struct
 * circbuf_stats, each read taking a fresh snapshot. The attributes double
 * as the table of fields that /proc/circbuf prints.
 */
struct circbuf_stat_attr {
	struct device_attribute dattr;
	size_t offset;
	size_t size;
};

static u64 circbuf_stat_value(const struct circbuf_stats *st,
			      const struct circbuf_stat_attr *sa)
{
	const void *field = (const u8 *)st + sa->offset;

	return sa->size == sizeof(u32) ? *(const u32 *)field :
					 *(const u64 *)field;
}

static ssize_t circbuf_stat_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	const struct circbuf_stat_attr *sa =
		container_of(attr, struct circbuf_stat_attr, dattr);
	/* misc_register() makes the miscdevice the drvdata of its device. */
	struct miscdevice *misc = dev_get_drvdata(dev);
	struct circbuf_dev *cb = container_of(misc, struct circbuf_dev, misc);
	struct circbuf_stats st;

	circbuf_fill_stats(cb, &st);
	return sysfs_emit(buf, "%llu\n", circbuf_stat_value(&st, sa));
}

/* @_type: the field's type, as in struct circbuf_stats. */
#define CIRCBUF_STAT_ATTR(_field, _type)				\
	static struct circbuf_stat_attr circbuf_stat_##_field = {	\
		.dattr = {						\
			.attr = { .name = __stringify(_field), .mode = 0444 }, \
			.show = circbuf_stat_show,			\
		},							\
		.offset = offsetof(struct circbuf_stats, _field),	\
		.size = sizeof(_type),					\
	}

CIRCBUF_STAT_ATTR(capacity, u64);
CIRCBUF_STAT_ATTR(used, u64);
CIRCBUF_STAT_ATTR(available, u64);
CIRCBUF_STAT_ATTR(reads, u64);
CIRCBUF_STAT_ATTR(writes, u64);
CIRCBUF_STAT_ATTR(bytes_read, u64);
CIRCBUF_STAT_ATTR(bytes_written, u64);
CIRCBUF_STAT_ATTR(readers, u32);
CIRCBUF_STAT_ATTR(writers, u32);
CIRCBUF_STAT_ATTR(dma_submitted, u64);
CIRCBUF_STAT_ATTR(dma_completed, u64);
CIRCBUF_STAT_ATTR(dma_failed, u64);
CIRCBUF_STAT_ATTR(dma_timeouts, u64);
CIRCBUF_STAT_ATTR(dma_bytes, u64);
CIRCBUF_STAT_ATTR(cpu_bytes, u64);
CIRCBUF_STAT_ATTR(flags, u64);
CIRCBUF_STAT_ATTR(bytes_discarded, u64);

/* In the order of struct circbuf_stats. */
static struct attribute *circbuf_stats_attrs[] = {
	&circbuf_stat_capacity.dattr.attr,
	&circbuf_stat_used.dattr.attr,
	&circbuf_stat_available.dattr.attr,
	&circbuf_stat_reads.dattr.attr,
	&circbuf_stat_writes.dattr.attr,
	&circbuf_stat_bytes_read.dattr.attr,
	&circbuf_stat_bytes_written.dattr.attr,
	&circbuf_stat_readers.dattr.attr,
	&circbuf_stat_writers.dattr.attr,
	&circbuf_stat_dma_submitted.dattr.attr,
	&circbuf_stat_dma_completed.dattr.attr,
	&circbuf_stat_dma_failed.dattr.attr,
	&circbuf_stat_dma_timeouts.dattr.attr,
	&circbuf_stat_dma_bytes.dattr.attr,
	&circbuf_stat_cpu_bytes.dattr.attr,
	&circbuf_stat_flags.dattr.attr,
	&circbuf_stat_bytes_discarded.dattr.attr,
	NULL
};

static const struct attribute_group circbuf_stats_group = {
	.name = "stats",
	.attrs = circbuf_stats_attrs,
};

/* Given to misc_register(): created with the device, before its uevent. */
const struct attribute_group *circbuf_groups[] = {
	&circbuf_stats_group,
	NULL
};

/*
 * One ring's lines of /proc/circbuf, each name after @prefix: the stats
 * fields under their own names, its packets (packets.*) and the DMA
 * channel it holds (dma.channel, "none" without one).
 */
void circbuf_show_ring(struct seq_file *m, struct circbuf_dev *cb,
		       const char *prefix)
{
	char chan[32] = "none";
	struct circbuf_stats st;
	unsigned int i;

	circbuf_fill_stats(cb, &st);
	/* @open_lock keeps the channel: never held while waiting for I/O. */
	mutex_lock(&cb->open_lock);
	if (cb->chan)
		strscpy(chan, dma_chan_name(cb->chan), sizeof(chan));
	mutex_unlock(&cb->open_lock);

	for (i = 0; circbuf_stats_attrs[i]; i++) {
		const struct circbuf_stat_attr *sa =
			container_of(circbuf_stats_attrs[i],
				     struct circbuf_stat_attr, dattr.attr);

		seq_printf(m, "%s%s: %llu\n", prefix, sa->dattr.attr.name,
			   circbuf_stat_value(&st, sa));
	}
	seq_printf(m, "%spackets.buffered: %zu\n", prefix,
		   circbuf_pkts_count(&cb->pkts));
	seq_printf(m, "%spackets.slots: %zu\n", prefix,
		   READ_ONCE(cb->pkts.mask) + 1);
	seq_printf(m, "%sdma.channel: %s\n", prefix, chan);
}
