// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "circbuf-dma-engine": the emulated DMA engine of circbuf.ko
 * (dma/circbuf_dma_engine.c, dma/circbuf_dma_hw.c) driven as any dmaengine
 * client drives a controller: a channel from dma_request_channel() with a
 * filter, memcpy descriptors between dma_alloc_coherent() buffers of the
 * channel's device, submit, issue_pending, completion callbacks, cookies and
 * tx_status, the engine's fault injection (a failing and a hanging
 * descriptor), and dmaengine_terminate_sync() while a long copy runs, while
 * descriptors wait behind a slow engine, on a hung one, on ones never
 * issued, and a channel released with work in flight; after each, the
 * channel must still work.
 *
 * circbuf.ko must be loaded with /dev/circbuf closed (the device holds the
 * channel while it is open). It exports nothing: the channel comes from the
 * dmaengine core, and the test reads the engine's state (its descriptor
 * lists, the fault-injection counters behind debugfs circbuf-dma/fail_nth
 * and hang_nth, the per-descriptor latency of dma_latency_us) through
 * dma/circbuf_dma_priv.h, so this module must be built from the same
 * sources as circbuf.ko ("make kunit-module" builds both); init checks that
 * the layouts agree before anything is touched.
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/dmaengine.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include "circbuf_dma_priv.h"

#define ENGINE_NAME	"circbuf-dma"	/* its driver and platform device */
#define MAX_DESCS	64
#define WAIT_MS		10000		/* KASAN under emulation is slow */
#define POISON		0xff		/* never a pattern byte, see fill() */
#define PREP_FLAGS	(DMA_PREP_INTERRUPT | DMA_CTRL_ACK)

/* What the completion callbacks saw. */
struct engine_rec {
	struct completion first;	/* one callback ran */
	struct completion all;		/* @expected callbacks ran */
	int expected;
	atomic_t calls;
	atomic_t in_task_calls;		/* callbacks run in process context */
	int order[MAX_DESCS];		/* descriptor indexes, as called */
	enum dmaengine_tx_result result[MAX_DESCS];
	u32 residue[MAX_DESCS];
};

struct engine_param {
	struct engine_rec *rec;
	int idx;
};

/* One test's channel, buffers and what it changed in the engine. */
struct engine_test {
	struct dma_chan *chan;
	struct cbdma_chan *c;
	struct cbdma_dev *cbd;
	struct device *dev;		/* the channel's device, for mappings */
	size_t size;
	u8 *src, *dst;
	dma_addr_t src_bus, dst_bus;
	unsigned int saved_latency_us;
	bool latency_changed;
	struct engine_rec rec;
	struct engine_param params[MAX_DESCS];
};

/* Tasklet context: record and signal only. */
static void engine_callback(void *arg, const struct dmaengine_result *res)
{
	struct engine_param *p = arg;
	struct engine_rec *r = p->rec;
	int slot = atomic_inc_return(&r->calls) - 1;

	if (in_task())
		atomic_inc(&r->in_task_calls);
	if (slot < MAX_DESCS)
		r->order[slot] = p->idx;
	r->result[p->idx] = res->result;
	r->residue[p->idx] = res->residue;
	complete(&r->first);
	if (slot + 1 == r->expected)
		complete(&r->all);
}

static bool engine_filter(struct dma_chan *chan, void *param)
{
	struct device *dev = chan->device->dev;

	return dev->driver && !strcmp(dev->driver->name, ENGINE_NAME);
}

static void rec_reset(struct engine_rec *r, int expected)
{
	init_completion(&r->first);
	init_completion(&r->all);
	r->expected = expected;
	atomic_set(&r->calls, 0);
	atomic_set(&r->in_task_calls, 0);
	memset(r->order, 0xff, sizeof(r->order));
	memset(r->result, 0xff, sizeof(r->result));
}

static int engine_init(struct kunit *test)
{
	struct engine_test *e;
	dma_cap_mask_t mask;

	e = kunit_kzalloc(test, sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	test->priv = e;
	rec_reset(&e->rec, 0);

	dma_cap_zero(mask);
	dma_cap_set(DMA_MEMCPY, mask);
	e->chan = dma_request_channel(mask, engine_filter, NULL);
	if (!e->chan) {
		kunit_err(test, "no free %s channel: load circbuf.ko and keep /dev/circbuf closed\n",
			  ENGINE_NAME);
		return -ENODEV;
	}
	e->c = to_cbdma_chan(e->chan);
	e->cbd = container_of(e->chan->device, struct cbdma_dev, ddev);
	/* The private layout must be circbuf.ko's before it is touched. */
	if (e->c->cbd != e->cbd || e->cbd->ddev.dev != e->chan->device->dev ||
	    !e->c->thread || strncmp(e->c->thread->comm, ENGINE_NAME "/", 12)) {
		kunit_err(test, "circbuf.ko does not match dma/circbuf_dma_priv.h of this module: rebuild both (make kunit-module)\n");
		dma_release_channel(e->chan);
		e->chan = NULL;
		return -EINVAL;
	}
	e->dev = dmaengine_get_dma_device(e->chan);
	return 0;
}

static void engine_exit(struct kunit *test)
{
	struct engine_test *e = test->priv;

	if (!e)
		return;
	if (e->chan) {
		/* Nothing may touch the buffers once they are freed. */
		dmaengine_terminate_sync(e->chan);
		atomic_set(&e->cbd->fail_nth, 0);
		atomic_set(&e->cbd->hang_nth, 0);
		/* Idle now: the engine thread reads it only for a new descriptor. */
		if (e->latency_changed)
			WRITE_ONCE(e->cbd->latency_us, e->saved_latency_us);
		dma_release_channel(e->chan);
	}
	if (e->src)
		dma_free_coherent(e->dev, e->size, e->src, e->src_bus);
	if (e->dst)
		dma_free_coherent(e->dev, e->size, e->dst, e->dst_bus);
}

static u8 pattern(size_t i)
{
	return (i * 7 + i / 251) % 251;	/* never POISON */
}

/* Coherent source and destination of @size bytes: a pattern, poison. */
static void engine_buffers(struct kunit *test, size_t size)
{
	struct engine_test *e = test->priv;
	size_t i;

	e->size = size;
	e->src = dma_alloc_coherent(e->dev, size, &e->src_bus, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, e->src);
	e->dst = dma_alloc_coherent(e->dev, size, &e->dst_bus, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, e->dst);
	for (i = 0; i < size; i++)
		e->src[i] = pattern(i);
	memset(e->dst, POISON, size);
}

/* Prepare and submit a copy of @len bytes from bus address @src to @dst. */
static dma_cookie_t engine_submit_bus(struct kunit *test, dma_addr_t src,
				      dma_addr_t dst, size_t len, int idx)
{
	struct engine_test *e = test->priv;
	struct dma_async_tx_descriptor *tx;
	dma_cookie_t cookie;

	KUNIT_ASSERT_LT(test, idx, MAX_DESCS);
	tx = dmaengine_prep_dma_memcpy(e->chan, dst, src, len, PREP_FLAGS);
	KUNIT_ASSERT_NOT_NULL(test, tx);
	e->params[idx].rec = &e->rec;
	e->params[idx].idx = idx;
	tx->callback_result = engine_callback;
	tx->callback_param = &e->params[idx];
	cookie = dmaengine_submit(tx);
	KUNIT_ASSERT_GE(test, cookie, DMA_MIN_COOKIE);
	return cookie;
}

/* Prepare and submit a copy of @len bytes at @off in both buffers. */
static dma_cookie_t engine_submit(struct kunit *test, size_t src_off,
				  size_t dst_off, size_t len, int idx)
{
	struct engine_test *e = test->priv;

	return engine_submit_bus(test, e->src_bus + src_off,
				 e->dst_bus + dst_off, len, idx);
}

static bool wait_ms(struct completion *done, unsigned int ms)
{
	return wait_for_completion_timeout(done, msecs_to_jiffies(ms)) > 0;
}

/* Whether dst at @dst_off holds the @len bytes of src at @src_off. */
static bool copied(struct engine_test *e, size_t src_off, size_t dst_off,
		   size_t len)
{
	return !memcmp(e->dst + dst_off, e->src + src_off, len);
}

static bool untouched(struct engine_test *e, size_t off, size_t len)
{
	return !memchr_inv(e->dst + off, POISON, len);
}

/*
 * A copy interrupted anywhere: some prefix copied, the rest untouched.
 * Return: the prefix's length, or SIZE_MAX if dst is not of that shape.
 */
static size_t copied_prefix(struct engine_test *e, size_t off, size_t len)
{
	size_t k = 0;

	while (k < len && e->dst[off + k] == e->src[off + k])
		k++;
	return untouched(e, off + k, len - k) ? k : SIZE_MAX;
}

static unsigned int list_len(struct list_head *head)
{
	struct list_head *pos;
	unsigned int n = 0;

	list_for_each(pos, head)
		n++;
	return n;
}

/* The engine's queues, read under the channel lock. */
struct engine_state {
	unsigned int submitted, issued, completed, terminated;
	bool active, busy;
};

static struct engine_state engine_state(struct engine_test *e)
{
	struct engine_state s;
	unsigned long flags;

	spin_lock_irqsave(&e->c->lock, flags);
	s.submitted = list_len(&e->c->submitted);
	s.issued = list_len(&e->c->issued);
	s.completed = list_len(&e->c->completed);
	s.terminated = list_len(&e->c->terminated);
	s.active = e->c->active;
	s.busy = e->c->busy;
	spin_unlock_irqrestore(&e->c->lock, flags);
	return s;
}

static bool engine_idle(struct engine_test *e)
{
	struct engine_state s = engine_state(e);

	return !s.submitted && !s.issued && !s.completed && !s.terminated &&
	       !s.active && !s.busy;
}

/* Poll for up to @ms until @cond(e) holds. */
static bool poll_ms(struct engine_test *e, bool (*cond)(struct engine_test *),
		    unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);

	while (!cond(e)) {
		if (time_after(jiffies, end))
			return cond(e);
		usleep_range(500, 1000);
	}
	return true;
}

static bool engine_has_active(struct engine_test *e)
{
	return engine_state(e).active;
}

/* The channel works: a fresh copy completes with its data. */
static void expect_channel_works(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const size_t off = e->size - 1000, len = 777;
	struct dma_tx_state st;
	dma_cookie_t cookie;

	memset(e->dst + off, POISON, len);
	rec_reset(&e->rec, 1);
	cookie = engine_submit(test, off, off, len, 0);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE_MSG(test, wait_ms(&e->rec.all, WAIT_MS),
			      "the channel does not complete a copy any more");
	KUNIT_EXPECT_EQ(test, e->rec.result[0], DMA_TRANS_NOERROR);
	KUNIT_EXPECT_EQ(test, dmaengine_tx_status(e->chan, cookie, &st), DMA_COMPLETE);
	KUNIT_EXPECT_TRUE(test, copied(e, off, off, len));
}

static void engine_memcpy_completes_with_callback_and_cookie(struct kunit *test)
{
	struct engine_test *e = test->priv;
	/* Odd offsets on both sides, across three page boundaries. */
	const size_t src_off = 1, dst_off = PAGE_SIZE - 3, len = 3 * PAGE_SIZE + 5;
	struct dma_tx_state st;
	dma_cookie_t cookie;

	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, 1);
	cookie = engine_submit(test, src_off, dst_off, len, 0);
	KUNIT_EXPECT_EQ(test, dmaengine_tx_status(e->chan, cookie, &st), DMA_IN_PROGRESS);
	KUNIT_EXPECT_EQ(test, st.used, cookie);

	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));
	KUNIT_EXPECT_EQ(test, atomic_read(&e->rec.calls), 1);
	KUNIT_EXPECT_EQ(test, e->rec.result[0], DMA_TRANS_NOERROR);
	KUNIT_EXPECT_EQ(test, e->rec.residue[0], 0U);
	KUNIT_EXPECT_EQ(test, dmaengine_tx_status(e->chan, cookie, &st), DMA_COMPLETE);
	KUNIT_EXPECT_EQ(test, st.last, cookie);
	KUNIT_EXPECT_EQ(test, st.residue, 0U);
	KUNIT_EXPECT_TRUE(test, copied(e, src_off, dst_off, len));
	KUNIT_EXPECT_TRUE(test, untouched(e, 0, dst_off));
	KUNIT_EXPECT_TRUE(test, untouched(e, dst_off + len, e->size - dst_off - len));
}

static void engine_callbacks_run_in_order_in_atomic_context(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const int n = 16;
	dma_cookie_t cookies[16];
	struct dma_tx_state st;
	int i;

	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, n);
	for (i = 0; i < n; i++) {
		/* Lengths 1, 2, 4 ... 2048, then 4095: a byte to a page. */
		size_t off = i * SZ_4K, len = min_t(size_t, 1 << i, SZ_4K - 1);

		cookies[i] = engine_submit(test, off, off, len, i);
		if (i)
			KUNIT_EXPECT_EQ(test, cookies[i], cookies[i - 1] + 1);
	}
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));
	for (i = 0; i < n; i++) {
		size_t off = i * SZ_4K, len = min_t(size_t, 1 << i, SZ_4K - 1);

		KUNIT_EXPECT_EQ_MSG(test, e->rec.order[i], i, "callback %d", i);
		KUNIT_EXPECT_EQ(test, e->rec.result[i], DMA_TRANS_NOERROR);
		KUNIT_EXPECT_TRUE(test, copied(e, off, off, len));
		KUNIT_EXPECT_TRUE(test, untouched(e, off + len, SZ_4K - len));
	}
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&e->rec.in_task_calls), 0,
			    "callbacks must run in the completion interrupt (a tasklet)");
	KUNIT_EXPECT_EQ(test, dmaengine_tx_status(e->chan, cookies[n - 1], &st),
			DMA_COMPLETE);
	KUNIT_EXPECT_EQ(test, st.last, cookies[n - 1]);
}

static void engine_descriptor_moves_through_the_life_cycle(struct kunit *test)
{
	struct engine_test *e = test->priv;
	struct engine_state s;

	engine_buffers(test, SZ_64K);
	KUNIT_ASSERT_TRUE(test, engine_idle(e));
	rec_reset(&e->rec, 2);
	engine_submit(test, 0, 0, 1000, 0);
	engine_submit(test, 1000, 1000, 1000, 1);
	s = engine_state(e);
	KUNIT_EXPECT_EQ(test, s.submitted, 2U);
	KUNIT_EXPECT_EQ(test, s.issued + s.completed + s.terminated, 0U);
	KUNIT_EXPECT_FALSE(test, s.active);

	dma_async_issue_pending(e->chan);
	s = engine_state(e);
	KUNIT_EXPECT_EQ(test, s.submitted, 0U);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));
	/* The tasklet frees each descriptor after its callback. */
	KUNIT_EXPECT_TRUE_MSG(test, poll_ms(e, engine_idle, 2000),
			      "descriptors left on the channel's lists after completion");
	KUNIT_EXPECT_TRUE(test, copied(e, 0, 0, 2000));
}

static void engine_descriptor_not_issued_never_runs(struct kunit *test)
{
	struct engine_test *e = test->priv;
	struct dma_tx_state st;
	dma_cookie_t cookie;

	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, 1);
	cookie = engine_submit(test, 0, 0, 5000, 0);
	msleep(50);
	KUNIT_EXPECT_EQ(test, atomic_read(&e->rec.calls), 0);
	KUNIT_EXPECT_TRUE(test, untouched(e, 0, 5000));
	KUNIT_EXPECT_EQ(test, dmaengine_tx_status(e->chan, cookie, &st), DMA_IN_PROGRESS);

	KUNIT_EXPECT_EQ(test, dmaengine_terminate_sync(e->chan), 0);
	KUNIT_EXPECT_TRUE(test, engine_idle(e));
	msleep(20);
	KUNIT_EXPECT_EQ(test, atomic_read(&e->rec.calls), 0);
	KUNIT_EXPECT_TRUE(test, untouched(e, 0, 5000));
	expect_channel_works(test);
}

static void engine_zero_length_copy_cannot_be_prepared(struct kunit *test)
{
	struct engine_test *e = test->priv;

	engine_buffers(test, PAGE_SIZE);
	KUNIT_EXPECT_NULL(test, dmaengine_prep_dma_memcpy(e->chan, e->dst_bus,
							  e->src_bus, 0, PREP_FLAGS));
}

static void engine_terminate_on_an_idle_channel_is_harmless(struct kunit *test)
{
	struct engine_test *e = test->priv;

	engine_buffers(test, PAGE_SIZE * 2);
	KUNIT_EXPECT_EQ(test, dmaengine_terminate_sync(e->chan), 0);
	KUNIT_EXPECT_EQ(test, dmaengine_terminate_sync(e->chan), 0);
	KUNIT_EXPECT_TRUE(test, engine_idle(e));
	expect_channel_works(test);
}

/* debugfs circbuf-dma/fail_nth=2: the second descriptor copies half, fails. */
static void engine_fail_nth_fails_one_descriptor_after_half(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const size_t len = 1001;
	dma_cookie_t cookie;
	struct dma_tx_state st;

	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, 3);
	atomic_set(&e->cbd->fail_nth, 2);
	engine_submit(test, 0, 0, len, 0);
	cookie = engine_submit(test, 2000, 2000, len, 1);
	engine_submit(test, 4000, 4000, len, 2);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));

	KUNIT_EXPECT_EQ(test, e->rec.result[0], DMA_TRANS_NOERROR);
	KUNIT_EXPECT_EQ(test, e->rec.result[1], DMA_TRANS_WRITE_FAILED);
	KUNIT_EXPECT_EQ(test, e->rec.residue[1], (u32)(len - len / 2));
	KUNIT_EXPECT_EQ(test, e->rec.result[2], DMA_TRANS_NOERROR);
	KUNIT_EXPECT_TRUE(test, copied(e, 0, 0, len));
	KUNIT_EXPECT_TRUE(test, copied(e, 2000, 2000, len / 2));
	KUNIT_EXPECT_TRUE(test, untouched(e, 2000 + len / 2, len - len / 2));
	KUNIT_EXPECT_TRUE(test, copied(e, 4000, 4000, len));
	KUNIT_EXPECT_EQ(test, atomic_read(&e->cbd->fail_nth), 0);
	KUNIT_EXPECT_EQ(test, dmaengine_tx_status(e->chan, cookie, &st), DMA_ERROR);
}

/* tx_status() of @cookie, with a poisoned state: it must fill it in. */
static enum dma_status engine_status(struct engine_test *e, dma_cookie_t cookie,
				     struct dma_tx_state *st)
{
	memset(st, 0xff, sizeof(*st));
	return dmaengine_tx_status(e->chan, cookie, st);
}

/* Run one copy of @len bytes at @off to its callback; @fail: by fail_nth. */
static dma_cookie_t engine_run_one(struct kunit *test, size_t off, size_t len,
				   bool fail)
{
	struct engine_test *e = test->priv;
	dma_cookie_t cookie;

	rec_reset(&e->rec, 1);
	if (fail)
		atomic_set(&e->cbd->fail_nth, 1);
	cookie = engine_submit(test, off, off, len, 0);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));
	KUNIT_ASSERT_EQ(test, e->rec.result[0],
			fail ? DMA_TRANS_WRITE_FAILED : DMA_TRANS_NOERROR);
	return cookie;
}

/*
 * A failed descriptor (fail_nth) reads DMA_ERROR with the bytes it left,
 * its neighbours DMA_COMPLETE with none; later successes and a
 * terminate_all leave the error as it is.
 */
static void engine_failed_descriptor_reports_dma_error(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const size_t len = 3 * PAGE_SIZE + 11;
	dma_cookie_t cookies[3];
	struct dma_tx_state st;
	int i;

	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, 3);
	atomic_set(&e->cbd->fail_nth, 2);
	for (i = 0; i < 3; i++)
		cookies[i] = engine_submit(test, i * SZ_16K, i * SZ_16K, len, i);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));
	KUNIT_ASSERT_EQ(test, e->rec.result[1], DMA_TRANS_WRITE_FAILED);

	KUNIT_EXPECT_EQ(test, engine_status(e, cookies[1], &st), DMA_ERROR);
	KUNIT_EXPECT_EQ(test, st.residue, (u32)(len - len / 2));
	KUNIT_EXPECT_EQ(test, st.last, cookies[2]);
	KUNIT_EXPECT_EQ(test, st.used, cookies[2]);
	KUNIT_EXPECT_EQ(test, dmaengine_tx_status(e->chan, cookies[1], NULL),
			DMA_ERROR);
	for (i = 0; i < 3; i += 2) {
		KUNIT_EXPECT_EQ_MSG(test, engine_status(e, cookies[i], &st),
				    DMA_COMPLETE, "descriptor %d", i);
		KUNIT_EXPECT_EQ_MSG(test, st.residue, 0U, "descriptor %d", i);
	}

	expect_channel_works(test);
	KUNIT_EXPECT_EQ(test, dmaengine_terminate_sync(e->chan), 0);
	KUNIT_EXPECT_EQ(test, engine_status(e, cookies[1], &st), DMA_ERROR);
	KUNIT_EXPECT_EQ(test, st.residue, (u32)(len - len / 2));
	KUNIT_EXPECT_EQ(test, engine_status(e, cookies[0], &st), DMA_COMPLETE);
}

/*
 * The channel remembers its last CBDMA_FAILED_COOKIES failures: the first
 * of 1 + CBDMA_FAILED_COOKIES reads DMA_COMPLETE once the last has failed,
 * the others DMA_ERROR; a client releasing the channel forgets them all.
 */
static void engine_failed_cookies_are_remembered_for_a_while(struct kunit *test)
{
	struct engine_test *e = test->priv;
	dma_cookie_t first, last = 0;
	struct dma_tx_state st;
	dma_cap_mask_t mask;
	int i;

	engine_buffers(test, SZ_64K);
	first = engine_run_one(test, 0, 1000, true);
	for (i = 1; i <= CBDMA_FAILED_COOKIES; i++) {
		/* A success in between pushes nothing out. */
		engine_run_one(test, 2000, 1000, false);
		KUNIT_EXPECT_EQ_MSG(test, engine_status(e, first, &st), DMA_ERROR,
				    "after %d more failures", i - 1);
		last = engine_run_one(test, 4000, 1000, true);
	}
	KUNIT_EXPECT_EQ(test, engine_status(e, first, &st), DMA_COMPLETE);
	KUNIT_EXPECT_EQ(test, st.residue, 0U);
	KUNIT_EXPECT_EQ(test, engine_status(e, first + 2, &st), DMA_ERROR);
	KUNIT_EXPECT_EQ(test, engine_status(e, last, &st), DMA_ERROR);
	KUNIT_EXPECT_EQ(test, st.residue, 500U);

	dma_release_channel(e->chan);
	dma_cap_zero(mask);
	dma_cap_set(DMA_MEMCPY, mask);
	e->chan = dma_request_channel(mask, engine_filter, NULL);
	KUNIT_ASSERT_NOT_NULL(test, e->chan);
	KUNIT_ASSERT_TRUE(test, to_cbdma_chan(e->chan) == e->c);
	KUNIT_EXPECT_EQ(test, engine_status(e, last, &st), DMA_COMPLETE);
}

/*
 * Descriptors the engine has not started, issued or only submitted, read
 * DMA_IN_PROGRESS with their whole length as residue, as does the one it
 * is on (a hung one: nothing copied).
 */
static void engine_queued_descriptor_reports_its_full_residue(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const size_t hung = 3 * PAGE_SIZE, issued = 5000, submitted = 7001;
	dma_cookie_t cookies[3];
	struct dma_tx_state st;

	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, 3);
	atomic_set(&e->cbd->hang_nth, 1);
	cookies[0] = engine_submit(test, 0, 0, hung, 0);
	cookies[1] = engine_submit(test, SZ_16K, SZ_16K, issued, 1);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, poll_ms(e, engine_has_active, 2000));
	cookies[2] = engine_submit(test, SZ_32K, SZ_32K, submitted, 2);
	KUNIT_ASSERT_EQ(test, engine_state(e).issued, 1U);
	KUNIT_ASSERT_EQ(test, engine_state(e).submitted, 1U);

	KUNIT_EXPECT_EQ(test, engine_status(e, cookies[1], &st), DMA_IN_PROGRESS);
	KUNIT_EXPECT_EQ(test, st.residue, (u32)issued);
	KUNIT_EXPECT_EQ(test, st.used, cookies[2]);
	KUNIT_EXPECT_EQ(test, engine_status(e, cookies[2], &st), DMA_IN_PROGRESS);
	KUNIT_EXPECT_EQ(test, st.residue, (u32)submitted);
	KUNIT_EXPECT_EQ(test, engine_status(e, cookies[0], &st), DMA_IN_PROGRESS);
	KUNIT_EXPECT_EQ(test, st.residue, (u32)hung);
	KUNIT_EXPECT_EQ(test, atomic_read(&e->rec.calls), 0);

	KUNIT_EXPECT_EQ(test, dmaengine_terminate_sync(e->chan), 0);
	expect_channel_works(test);
}

/* A completed descriptor reads DMA_COMPLETE with no residue. */
static void engine_completed_descriptor_reports_no_residue(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const size_t len = 2 * PAGE_SIZE + 1;
	struct dma_tx_state st;
	dma_cookie_t cookie;

	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, 1);
	cookie = engine_submit(test, 0, 0, len, 0);
	KUNIT_EXPECT_EQ(test, engine_status(e, cookie, &st), DMA_IN_PROGRESS);
	KUNIT_EXPECT_EQ(test, st.residue, (u32)len);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));
	KUNIT_ASSERT_EQ(test, e->rec.result[0], DMA_TRANS_NOERROR);

	KUNIT_EXPECT_EQ(test, engine_status(e, cookie, &st), DMA_COMPLETE);
	KUNIT_EXPECT_EQ(test, st.residue, 0U);
	KUNIT_EXPECT_EQ(test, st.last, cookie);
	KUNIT_EXPECT_TRUE(test, copied(e, 0, 0, len));
}

/*
 * A bus address that no valid page frame backs (far above the VM's
 * memory) fails its descriptor, as a read or a write error, before the
 * engine touches anything; the channel goes on.
 */
static void engine_address_without_page_fails_the_descriptor(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const dma_addr_t bad = (dma_addr_t)1 << 44;
	const size_t len = 2 * PAGE_SIZE;
	dma_cookie_t cookies[3];
	struct dma_tx_state st;

	if (pfn_valid(PHYS_PFN(bad)))
		kunit_skip(test, "16 TiB has a page frame here");
	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, 3);
	cookies[0] = engine_submit_bus(test, bad, e->dst_bus, len, 0);
	cookies[1] = engine_submit_bus(test, e->src_bus, bad, len, 1);
	cookies[2] = engine_submit(test, SZ_16K, SZ_16K, len, 2);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));

	KUNIT_EXPECT_EQ(test, e->rec.result[0], DMA_TRANS_READ_FAILED);
	KUNIT_EXPECT_EQ(test, e->rec.residue[0], (u32)len);
	KUNIT_EXPECT_EQ(test, e->rec.result[1], DMA_TRANS_WRITE_FAILED);
	KUNIT_EXPECT_EQ(test, e->rec.residue[1], (u32)len);
	KUNIT_EXPECT_EQ(test, e->rec.result[2], DMA_TRANS_NOERROR);
	KUNIT_EXPECT_TRUE(test, untouched(e, 0, len));
	KUNIT_EXPECT_TRUE(test, copied(e, SZ_16K, SZ_16K, len));
	KUNIT_EXPECT_EQ(test, engine_status(e, cookies[0], &st), DMA_ERROR);
	KUNIT_EXPECT_EQ(test, st.residue, (u32)len);
	KUNIT_EXPECT_EQ(test, engine_status(e, cookies[1], &st), DMA_ERROR);
	KUNIT_EXPECT_EQ(test, engine_status(e, cookies[2], &st), DMA_COMPLETE);
}

/* debugfs circbuf-dma/hang_nth=1: the descriptor never completes. */
static void engine_hung_descriptor_is_terminated(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const size_t len = 3 * PAGE_SIZE;
	struct dma_tx_state st;
	dma_cookie_t cookie;

	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, 1);
	atomic_set(&e->cbd->hang_nth, 1);
	cookie = engine_submit(test, 0, 0, len, 0);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, poll_ms(e, engine_has_active, 2000));
	msleep(50);
	KUNIT_EXPECT_EQ(test, atomic_read(&e->rec.calls), 0);
	KUNIT_EXPECT_EQ(test, dmaengine_tx_status(e->chan, cookie, &st), DMA_IN_PROGRESS);
	KUNIT_EXPECT_EQ(test, st.residue, (u32)len);
	KUNIT_EXPECT_TRUE(test, untouched(e, 0, len));
	KUNIT_EXPECT_EQ(test, atomic_read(&e->cbd->hang_nth), 0);

	KUNIT_EXPECT_EQ(test, dmaengine_terminate_sync(e->chan), 0);
	KUNIT_EXPECT_TRUE(test, engine_idle(e));
	msleep(20);
	KUNIT_EXPECT_EQ(test, atomic_read(&e->rec.calls), 0);
	KUNIT_EXPECT_TRUE(test, untouched(e, 0, len));
	expect_channel_works(test);
}

/*
 * Wait until the engine is inside the copy of @cookie (@len bytes): some
 * bytes done, some left. False if it finished first (or never started).
 */
static bool copy_midway(struct engine_test *e, dma_cookie_t cookie, size_t len)
{
	unsigned long end = jiffies + msecs_to_jiffies(WAIT_MS);
	struct dma_tx_state st;

	while (time_before(jiffies, end)) {
		if (dmaengine_tx_status(e->chan, cookie, &st) != DMA_IN_PROGRESS ||
		    atomic_read(&e->rec.calls))
			return false;
		if (st.residue && st.residue < len)
			return true;
		usleep_range(10, 20);
	}
	return false;
}

/*
 * One 2 MiB descriptor, terminated once the engine is inside it: it stops
 * between pages, leaves a copied prefix and the rest untouched, and never
 * calls back.
 */
static void engine_terminate_stops_a_long_copy_midway(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const size_t len = SZ_2M;
	int attempt;

	engine_buffers(test, len);
	for (attempt = 0; attempt < 5; attempt++) {
		dma_cookie_t cookie;
		size_t prefix;

		memset(e->dst, POISON, len);
		rec_reset(&e->rec, 1);
		cookie = engine_submit(test, 0, 0, len, 0);
		dma_async_issue_pending(e->chan);
		if (!copy_midway(e, cookie, len)) {
			/* Finished before it could be stopped: again. */
			KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));
			continue;
		}
		KUNIT_EXPECT_EQ(test, dmaengine_terminate_sync(e->chan), 0);
		KUNIT_EXPECT_TRUE(test, engine_idle(e));
		msleep(20);
		if (atomic_read(&e->rec.calls)) {
			/* The copy ended between tx_status and terminate. */
			KUNIT_EXPECT_TRUE(test, copied(e, 0, 0, len));
			continue;
		}
		prefix = copied_prefix(e, 0, len);
		KUNIT_EXPECT_NE_MSG(test, prefix, SIZE_MAX,
				    "the terminated copy wrote outside its copied prefix");
		KUNIT_EXPECT_EQ(test, prefix % PAGE_SIZE, 0UL);
		kunit_info(test, "terminated after %zu of %zu bytes (attempt %d)\n",
			   prefix, len, attempt + 1);
		expect_channel_works(test);
		return;
	}
	kunit_skip(test, "the engine finished 2 MiB five times before terminate");
}

/*
 * 32 descriptors behind a slow engine (dma_latency_us=20000), terminated
 * after the first completes: the rest never run or call back.
 */
static void engine_terminate_drops_queued_descriptors(struct kunit *test)
{
	struct engine_test *e = test->priv;
	const int n = 32;
	size_t prefix;
	int i, done;

	engine_buffers(test, n * SZ_4K);
	e->saved_latency_us = READ_ONCE(e->cbd->latency_us);
	e->latency_changed = true;
	/* The channel is idle: the engine reads this for its next descriptor. */
	WRITE_ONCE(e->cbd->latency_us, 20000);
	rec_reset(&e->rec, n);
	for (i = 0; i < n; i++)
		engine_submit(test, i * SZ_4K, i * SZ_4K, SZ_4K, i);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.first, WAIT_MS));
	KUNIT_EXPECT_EQ(test, dmaengine_terminate_sync(e->chan), 0);
	done = atomic_read(&e->rec.calls);
	KUNIT_EXPECT_TRUE(test, engine_idle(e));
	msleep(100);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&e->rec.calls), done,
			    "callbacks after dmaengine_terminate_sync() returned");
	KUNIT_EXPECT_LT(test, done, n);

	for (i = 0; i < done; i++) {
		KUNIT_EXPECT_EQ(test, e->rec.order[i], i);
		KUNIT_EXPECT_EQ(test, e->rec.result[i], DMA_TRANS_NOERROR);
		KUNIT_EXPECT_TRUE(test, copied(e, i * SZ_4K, i * SZ_4K, SZ_4K));
	}
	/* The one the engine was on may be partly copied; no later one. */
	if (done < n) {
		prefix = copied_prefix(e, done * SZ_4K, SZ_4K);
		KUNIT_EXPECT_NE(test, prefix, SIZE_MAX);
	}
	for (i = done + 1; i < n; i++)
		KUNIT_EXPECT_TRUE_MSG(test, untouched(e, i * SZ_4K, SZ_4K),
				      "descriptor %d ran after terminate", i);
	expect_channel_works(test);
}

/* The cookie after INT_MAX is DMA_MIN_COOKIE; completion still reads right. */
static void engine_cookies_wrap_after_int_max(struct kunit *test)
{
	struct engine_test *e = test->priv;
	dma_cookie_t cookies[3];
	struct dma_tx_state st;
	unsigned long flags;
	int i;

	engine_buffers(test, SZ_64K);
	KUNIT_ASSERT_TRUE(test, engine_idle(e));
	spin_lock_irqsave(&e->c->lock, flags);
	e->chan->cookie = INT_MAX - 1;
	e->chan->completed_cookie = INT_MAX - 1;
	spin_unlock_irqrestore(&e->c->lock, flags);

	rec_reset(&e->rec, 3);
	for (i = 0; i < 3; i++)
		cookies[i] = engine_submit(test, i * 100, i * 100, 100, i);
	KUNIT_EXPECT_EQ(test, cookies[0], INT_MAX);
	KUNIT_EXPECT_EQ(test, cookies[1], DMA_MIN_COOKIE);
	KUNIT_EXPECT_EQ(test, cookies[2], DMA_MIN_COOKIE + 1);
	KUNIT_EXPECT_EQ(test, dmaengine_tx_status(e->chan, cookies[0], &st), DMA_IN_PROGRESS);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, wait_ms(&e->rec.all, WAIT_MS));
	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_EQ(test, e->rec.order[i], i);
		KUNIT_EXPECT_EQ_MSG(test, dmaengine_tx_status(e->chan, cookies[i], &st),
				    DMA_COMPLETE, "cookie %d", cookies[i]);
	}
	KUNIT_EXPECT_TRUE(test, copied(e, 0, 0, 300));
}

/*
 * A client that lets the channel go with a hung descriptor: the engine
 * drops it (free_chan_resources), and the channel can be taken again.
 */
static void engine_release_with_work_in_flight_drops_it(struct kunit *test)
{
	struct engine_test *e = test->priv;
	dma_cap_mask_t mask;

	engine_buffers(test, SZ_64K);
	rec_reset(&e->rec, 2);
	atomic_set(&e->cbd->hang_nth, 1);
	engine_submit(test, 0, 0, 3000, 0);
	engine_submit(test, 3000, 3000, 3000, 1);
	dma_async_issue_pending(e->chan);
	KUNIT_ASSERT_TRUE(test, poll_ms(e, engine_has_active, 2000));

	dma_release_channel(e->chan);
	e->chan = NULL;
	msleep(20);
	KUNIT_EXPECT_EQ(test, atomic_read(&e->rec.calls), 0);
	KUNIT_EXPECT_TRUE(test, untouched(e, 0, 6000));

	dma_cap_zero(mask);
	dma_cap_set(DMA_MEMCPY, mask);
	e->chan = dma_request_channel(mask, engine_filter, NULL);
	KUNIT_ASSERT_NOT_NULL(test, e->chan);
	KUNIT_ASSERT_TRUE(test, to_cbdma_chan(e->chan) == e->c);
	KUNIT_EXPECT_TRUE(test, engine_idle(e));
	expect_channel_works(test);
}

static struct kunit_case circbuf_dma_engine_cases[] = {
	KUNIT_CASE(engine_memcpy_completes_with_callback_and_cookie),
	KUNIT_CASE(engine_callbacks_run_in_order_in_atomic_context),
	KUNIT_CASE(engine_descriptor_moves_through_the_life_cycle),
	KUNIT_CASE(engine_descriptor_not_issued_never_runs),
	KUNIT_CASE(engine_zero_length_copy_cannot_be_prepared),
	KUNIT_CASE(engine_terminate_on_an_idle_channel_is_harmless),
	KUNIT_CASE(engine_fail_nth_fails_one_descriptor_after_half),
	KUNIT_CASE(engine_failed_descriptor_reports_dma_error),
	KUNIT_CASE(engine_failed_cookies_are_remembered_for_a_while),
	KUNIT_CASE(engine_queued_descriptor_reports_its_full_residue),
	KUNIT_CASE(engine_completed_descriptor_reports_no_residue),
	KUNIT_CASE(engine_address_without_page_fails_the_descriptor),
	KUNIT_CASE(engine_hung_descriptor_is_terminated),
	KUNIT_CASE(engine_terminate_stops_a_long_copy_midway),
	KUNIT_CASE(engine_terminate_drops_queued_descriptors),
	KUNIT_CASE(engine_cookies_wrap_after_int_max),
	KUNIT_CASE(engine_release_with_work_in_flight_drops_it),
	{}
};

static struct kunit_suite circbuf_dma_engine_suite = {
	.name = "circbuf-dma-engine",
	.init = engine_init,
	.exit = engine_exit,
	.test_cases = circbuf_dma_engine_cases,
};

kunit_test_suite(circbuf_dma_engine_suite);

MODULE_DESCRIPTION("KUnit tests of circbuf: ring arithmetic, DMA descriptors, DMA engine");
MODULE_AUTHOR("The circbuf authors");
MODULE_LICENSE("GPL");
