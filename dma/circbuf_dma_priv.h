/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of the circbuf DMA engine, shared by the dmaengine provider
 * (circbuf_dma_engine.c) and the thread that plays the hardware
 * (circbuf_dma_hw.c).
 */
#ifndef _CIRCBUF_DMA_PRIV_H
#define _CIRCBUF_DMA_PRIV_H

#include <linux/atomic.h>
#include <linux/dmaengine.h>
#include <linux/interrupt.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

struct cbdma_dev;

/**
 * struct cbdma_desc - one memcpy descriptor
 * @tx:		the dmaengine descriptor handed to the client
 * @node:	link in one of the channel's lists (cbdma_chan.lock)
 * @src:	bus address to copy from
 * @dst:	bus address to copy to
 * @len:	bytes to copy
 * @done:	cursor: bytes copied so far; written by the engine thread
 *		only, read under cbdma_chan.lock for the residue
 * @result:	outcome, set by the engine before the descriptor completes
 * @fail:	fault injection: complete with an error after half the copy
 * @hang:	fault injection: never complete (until terminated)
 */
struct cbdma_desc {
	struct dma_async_tx_descriptor tx;
	struct list_head node;
	dma_addr_t src;
	dma_addr_t dst;
	size_t len;
	size_t done;
	enum dmaengine_tx_result result;
	bool fail;
	bool hang;
};

/*
 * How many failed cookies a channel remembers for tx_status(); see
 * "Cookies and tx_status()" in circbuf_dma_engine.c.
 */
#define CBDMA_FAILED_COOKIES	16

/**
 * struct cbdma_failed - a descriptor that completed with an error
 * @cookie:	its cookie; 0 (never a cookie) in a free slot
 * @residue:	the bytes it left uncopied
 */
struct cbdma_failed {
	dma_cookie_t cookie;
	u32 residue;
};

/**
 * struct cbdma_chan - one channel: its queues and its engine thread
 * @chan:	the dmaengine channel
 * @cbd:	the engine
 * @lock:	protects the lists, @active, @busy, the counters,
 *		@chan.cookie, @chan.completed_cookie and @failed; taken from
 *		the thread, the tasklet and any client context, so always
 *		with interrupts off
 * @submitted:	descriptors given a cookie, not yet issued
 * @issued:	descriptors waiting for the engine, in order
 * @active:	the descriptor the engine works on, or NULL; a hung one
 *		stays here until terminated
 * @busy:	the engine thread is copying @active's memory
 * @completed:	descriptors done, callbacks not yet run (by the tasklet)
 * @terminated:	descriptors aborted, freed by cbdma_synchronize()
 * @work_wait:	the engine thread sleeps here while it has nothing to do
 * @idle_wait:	cbdma_synchronize() waits here for @busy to clear
 * @irq:	the simulated completion interrupt: runs the callbacks
 * @thread:	the engine thread, "circbuf-dma/N"
 * @nr_submitted: descriptors submitted since load
 * @nr_completed: descriptors reported complete without error
 * @nr_failed:	descriptors reported complete with an error
 * @nr_aborted:	descriptors terminated before being reported
 * @failed:	the last CBDMA_FAILED_COOKIES descriptors completed with an
 *		error, for tx_status() to say DMA_ERROR
 * @failed_next: the slot of @failed the next failure takes: the oldest
 */
struct cbdma_chan {
	struct dma_chan chan;
	struct cbdma_dev *cbd;

	/*
	 * protects the lists, active, busy, the counters, the cookies and
	 * the failed cookies
	 */
	spinlock_t lock;
	struct list_head submitted;
	struct list_head issued;
	struct cbdma_desc *active;
	bool busy;
	struct list_head completed;
	struct list_head terminated;
	u64 nr_submitted;
	u64 nr_completed;
	u64 nr_failed;
	u64 nr_aborted;
	struct cbdma_failed failed[CBDMA_FAILED_COOKIES];
	unsigned int failed_next;

	wait_queue_head_t work_wait;
	wait_queue_head_t idle_wait;
	struct tasklet_struct irq;
	struct task_struct *thread;
};

/**
 * struct cbdma_dev - the engine: a dmaengine device and its channels
 * @ddev:	the dmaengine device
 * @chans:	@nr_chans channels
 * @nr_chans:	number of channels
 * @fail_nth:	fault injection: the Nth descriptor to start fails (0: off)
 * @hang_nth:	fault injection: the Nth descriptor to start hangs (0: off)
 * @latency_us:	simulated per-descriptor latency in microseconds
 * @debugfs:	the engine's debugfs directory
 */
struct cbdma_dev {
	struct dma_device ddev;
	struct cbdma_chan *chans;
	unsigned int nr_chans;
	atomic_t fail_nth;
	atomic_t hang_nth;
	unsigned int latency_us;
	struct dentry *debugfs;
};

static inline struct cbdma_chan *to_cbdma_chan(struct dma_chan *chan)
{
	return container_of(chan, struct cbdma_chan, chan);
}

static inline struct cbdma_desc *to_cbdma_desc(struct dma_async_tx_descriptor *tx)
{
	return container_of(tx, struct cbdma_desc, tx);
}

void cbdma_cookie_complete(struct cbdma_chan *c, struct cbdma_desc *d,
			   enum dmaengine_tx_result result);

int cbdma_hw_check_dev(struct device *dev);
int cbdma_hw_start(struct cbdma_chan *c);
void cbdma_hw_stop(struct cbdma_chan *c);

#endif /* _CIRCBUF_DMA_PRIV_H */
