/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of /dev/circbuf, trace system "circbuf":
 *
 *   circbuf_read, circbuf_write	one per read()/write() call (and
 *				readv, splice, io_uring): bytes requested,
 *				the return value, bytes buffered after it
 *   circbuf_block		a reader or writer goes to sleep
 *   circbuf_wake		a reader's or writer's wait queue is woken
 *   circbuf_resize		CIRCBUF_SET_CAPACITY changed the capacity
 *
 * Each names its ring by number (ring=N: /dev/circbufN, /dev/circbuf for 0).
 *
 * The DMA engine's descriptors have their own system, circbuf_dma
 * (dma/circbuf_dma_trace.h). For example:
 *
 *   trace-cmd record -e circbuf -e circbuf_dma -- cat /dev/circbuf
 *   trace-cmd report
 *
 * circbuf_main.c defines CREATE_TRACE_POINTS. define_trace.h then includes
 * this file again as "./circbuf_trace.h", found through the module's
 * -I$(src)/kmod (see Kbuild), as it lives outside include/trace/events.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM circbuf

#if !defined(_CIRCBUF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _CIRCBUF_TRACE_H

#include <linux/tracepoint.h>

#include "circbuf_dev.h"

/* Enum values in formats, so that trace-cmd can print the names. */
TRACE_DEFINE_ENUM(CIRCBUF_TO_RING);
TRACE_DEFINE_ENUM(CIRCBUF_TO_USER);

#define circbuf_show_side(side)						\
	__print_symbolic(side,						\
			 { CIRCBUF_TO_USER, "reader" },			\
			 { CIRCBUF_TO_RING, "writer" })

/*
 * One I/O call. @used is sampled when the call returns, after the device
 * lock was dropped: with other readers and writers about, it may already
 * include their work.
 */
DECLARE_EVENT_CLASS(circbuf_io,
		    TP_PROTO(struct circbuf_dev *cb, size_t requested,
			     ssize_t ret),
		    TP_ARGS(cb, requested, ret),
		    TP_STRUCT__entry(__field(unsigned int, ring)
				     __field(size_t, requested)
				     __field(ssize_t, ret)
				     __field(size_t, used)
				     __field(size_t, cap)),
		    TP_fast_assign(__entry->ring = cb->id;
				   __entry->requested = requested;
				   __entry->ret = ret;
				   __entry->used = circbuf_ring_used(&cb->ring);
				   __entry->cap = READ_ONCE(cb->ring.cap);),
		    TP_printk("ring=%u requested=%zu ret=%zd used=%zu cap=%zu",
			      __entry->ring, __entry->requested, __entry->ret,
			      __entry->used, __entry->cap));

DEFINE_EVENT(circbuf_io, circbuf_read,
	     TP_PROTO(struct circbuf_dev *cb, size_t requested, ssize_t ret),
	     TP_ARGS(cb, requested, ret));

DEFINE_EVENT(circbuf_io, circbuf_write,
	     TP_PROTO(struct circbuf_dev *cb, size_t requested, ssize_t ret),
	     TP_ARGS(cb, requested, ret));

/* A reader (side CIRCBUF_TO_USER) or a writer waits, or is woken. */
DECLARE_EVENT_CLASS(circbuf_wait,
		    TP_PROTO(struct circbuf_dev *cb, enum circbuf_dir side),
		    TP_ARGS(cb, side),
		    TP_STRUCT__entry(__field(unsigned int, ring)
				     __field(unsigned int, side)
				     __field(size_t, used)
				     __field(size_t, cap)),
		    TP_fast_assign(__entry->ring = cb->id;
				   __entry->side = side;
				   __entry->used = circbuf_ring_used(&cb->ring);
				   __entry->cap = READ_ONCE(cb->ring.cap);),
		    TP_printk("ring=%u side=%s used=%zu cap=%zu", __entry->ring,
			      circbuf_show_side(__entry->side),
			      __entry->used, __entry->cap));

/* The calling task goes to sleep for data (reader) or space (writer). */
DEFINE_EVENT(circbuf_wait, circbuf_block,
	     TP_PROTO(struct circbuf_dev *cb, enum circbuf_dir side),
	     TP_ARGS(cb, side));

/* The calling task wakes the sleepers of one side. */
DEFINE_EVENT(circbuf_wait, circbuf_wake,
	     TP_PROTO(struct circbuf_dev *cb, enum circbuf_dir side),
	     TP_ARGS(cb, side));

/*
 * The capacity changed from @old_cap to the ring's capacity now, with
 * @used bytes (and @packets packets) kept. Traced with both sides' locks
 * held.
 */
TRACE_EVENT(circbuf_resize,
	    TP_PROTO(struct circbuf_dev *cb, size_t old_cap),
	    TP_ARGS(cb, old_cap),
	    TP_STRUCT__entry(__field(unsigned int, ring)
			     __field(size_t, old_cap)
			     __field(size_t, cap)
			     __field(size_t, used)
			     __field(size_t, packets)),
	    TP_fast_assign(__entry->ring = cb->id;
			   __entry->old_cap = old_cap;
			   __entry->cap = cb->ring.cap;
			   __entry->used = circbuf_ring_used(&cb->ring);
			   __entry->packets = circbuf_pkts_count(&cb->pkts);),
	    TP_printk("ring=%u old_cap=%zu cap=%zu used=%zu packets=%zu",
		      __entry->ring, __entry->old_cap, __entry->cap, __entry->used,
		      __entry->packets));

#endif /* _CIRCBUF_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE circbuf_trace
#include <trace/define_trace.h>
