/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The circbuf DMA engine: a dmaengine provider whose "hardware" is a kernel
 * thread per channel.
 *
 *   client (kmod/)                    provider (dma/)
 *   --------------                    ---------------
 *   dmaengine_prep_dma_memcpy()  -->  cbdma_prep_memcpy(): new descriptor
 *   dmaengine_submit()           -->  cbdma_tx_submit(): cookie, "submitted"
 *   dma_async_issue_pending()    -->  cbdma_issue_pending(): "issued", wake
 *                                     circbuf-dma/N thread: "active", copy
 *                                     through bus addresses, page by page
 *   callback_result() <-- tasklet <-- "completed": simulated interrupt
 *   dmaengine_terminate_sync()   -->  cbdma_terminate_all() + synchronize()
 *
 * Descriptors move submitted -> issued -> active -> completed, or to
 * "terminated" when the client aborts them; see circbuf_dma_engine.c.
 */
#ifndef _CIRCBUF_DMA_ENGINE_H
#define _CIRCBUF_DMA_ENGINE_H

#include <linux/types.h>

/*
 * On a kernel without dmaengine (CONFIG_DMA_ENGINE unset) the root Kbuild
 * builds circbuf_dma_none.c instead of the engine: the functions below
 * exist, no engine is registered, and every byte moves by CPU copy. The
 * DMA parameters' descriptions end with CIRCBUF_DMA_PARAM_NOTE, so that
 * modinfo says they have no effect there.
 */
#if IS_ENABLED(CONFIG_DMA_ENGINE)
#define CIRCBUF_DMA_PARAM_NOTE	""
#define CIRCBUF_DATA_PATH	"dma+cpu: DMA through circbuf's dmaengine provider, CPU copies below dma_threshold"
#else
#define CIRCBUF_DMA_PARAM_NOTE	" [no effect: this kernel has no dmaengine]"
#define CIRCBUF_DATA_PATH	"cpu: this kernel has no dmaengine, every byte moves by CPU copy"
#endif

struct dma_chan;
struct seq_file;

/* The dma_channels parameter's upper bound. */
#define CIRCBUF_DMA_MAX_CHANNELS	16

int circbuf_dma_engine_register(void);
void circbuf_dma_engine_unregister(void);

/* The engine's parameters, and its channels, for /proc/circbuf. */
void circbuf_dma_engine_show_params(struct seq_file *m);
void circbuf_dma_engine_show(struct seq_file *m);

/* dma_request_channel() filter: true for channels of the circbuf engine. */
bool circbuf_dma_engine_filter(struct dma_chan *chan, void *param);

#endif /* _CIRCBUF_DMA_ENGINE_H */
