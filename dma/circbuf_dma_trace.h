/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the circbuf DMA engine, trace system "circbuf_dma": the
 * life of each descriptor on a channel.
 *
 *   cbdma_submit	the client submitted it (a cookie was assigned)
 *   cbdma_complete	its completion was reported without error
 *   cbdma_error	it was reported with an error, or it was aborted by
 *			terminate_all before being reported
 *
 * Every cbdma_submit is followed by exactly one cbdma_complete or
 * cbdma_error for the same channel and cookie.
 *
 * circbuf_dma_engine.c defines CREATE_TRACE_POINTS; define_trace.h finds
 * this file again as "./circbuf_dma_trace.h" through -I$(src)/dma (Kbuild).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM circbuf_dma

#if !defined(_CIRCBUF_DMA_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _CIRCBUF_DMA_TRACE_H

#include <linux/dmaengine.h>
#include <linux/tracepoint.h>

#include "circbuf_dma_priv.h"

TRACE_DEFINE_ENUM(DMA_TRANS_NOERROR);
TRACE_DEFINE_ENUM(DMA_TRANS_READ_FAILED);
TRACE_DEFINE_ENUM(DMA_TRANS_WRITE_FAILED);
TRACE_DEFINE_ENUM(DMA_TRANS_ABORTED);

#define cbdma_show_result(result)					\
	__print_symbolic(result,					\
			 { DMA_TRANS_NOERROR, "ok" },			\
			 { DMA_TRANS_READ_FAILED, "read_failed" },	\
			 { DMA_TRANS_WRITE_FAILED, "write_failed" },	\
			 { DMA_TRANS_ABORTED, "aborted" })

TRACE_EVENT(cbdma_submit,
	    TP_PROTO(struct cbdma_chan *c, struct cbdma_desc *d),
	    TP_ARGS(c, d),
	    TP_STRUCT__entry(__field(int, chan)
			     __field(int, cookie)
			     __field(size_t, len)
			     __field(u64, src)
			     __field(u64, dst)),
	    TP_fast_assign(__entry->chan = c->chan.chan_id;
			   __entry->cookie = d->tx.cookie;
			   __entry->len = d->len;
			   __entry->src = d->src;
			   __entry->dst = d->dst;),
	    TP_printk("chan=%d cookie=%d len=%zu src=0x%llx dst=0x%llx",
		      __entry->chan, __entry->cookie, __entry->len,
		      __entry->src, __entry->dst));

/* @done: bytes the engine copied; @len: bytes the descriptor asked for. */
DECLARE_EVENT_CLASS(cbdma_result,
		    TP_PROTO(struct cbdma_chan *c, struct cbdma_desc *d,
			     enum dmaengine_tx_result result),
		    TP_ARGS(c, d, result),
		    TP_STRUCT__entry(__field(int, chan)
				     __field(int, cookie)
				     __field(size_t, len)
				     __field(size_t, done)
				     __field(unsigned int, result)),
		    TP_fast_assign(__entry->chan = c->chan.chan_id;
				   __entry->cookie = d->tx.cookie;
				   __entry->len = d->len;
				   __entry->done = d->done;
				   __entry->result = result;),
		    TP_printk("chan=%d cookie=%d len=%zu done=%zu result=%s",
			      __entry->chan, __entry->cookie, __entry->len,
			      __entry->done,
			      cbdma_show_result(__entry->result)));

DEFINE_EVENT(cbdma_result, cbdma_complete,
	     TP_PROTO(struct cbdma_chan *c, struct cbdma_desc *d,
		      enum dmaengine_tx_result result),
	     TP_ARGS(c, d, result));

DEFINE_EVENT(cbdma_result, cbdma_error,
	     TP_PROTO(struct cbdma_chan *c, struct cbdma_desc *d,
		      enum dmaengine_tx_result result),
	     TP_ARGS(c, d, result));

#endif /* _CIRCBUF_DMA_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE circbuf_dma_trace
#include <trace/define_trace.h>
