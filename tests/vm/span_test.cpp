// The span protocol of a mapped ring: CIRCBUF_RX_ACQUIRE / _RX_RELEASE and
// CIRCBUF_TX_ACQUIRE / _TX_COMMIT. A span is where the data (or the free
// space) is in the mapping, across the wrap; releasing or committing moves
// the ring as read() or write() would, with their counters; a held span
// makes the other readers (writers) wait, or fail with EAGAIN, until it
// ends by release, close or munmap; end of file, O_NONBLOCK, packets, and
// every argument the calls refuse.
#include "vm_test.h"
#include "uring.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

// A span ioctl: the span and 0, or the errno.
struct SpanResult {
	circbuf_span span{};
	int err = 0;
};

SpanResult span_call(int fd, unsigned long cmd, uint64_t len)
{
	SpanResult r;
	r.span.len = len;
	if (ioctl(fd, cmd, &r.span) != 0)
		r.err = errno;
	return r;
}

// Queues @cmd_op (a span command) on @ring for @fd as IORING_OP_URING_CMD,
// with @sp as its argument (which must outlive the completion), and submits
// it: whether the submission took it.
bool submit_span_cmd(io_uring *ring, int fd, uint32_t cmd_op, circbuf_span *sp,
		     uint64_t reserved = 0)
{
	io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe)
		return false;
	const circbuf_uring_cmd cmd = {reinterpret_cast<uintptr_t>(sp), reserved};
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, nullptr, 0, 0);
	sqe->cmd_op = cmd_op;
	std::memcpy(sqe->cmd, &cmd, sizeof(cmd));
	io_uring_sqe_set_data64(sqe, cmd_op);
	return io_uring_submit(ring) == 1;
}

// A span command by io_uring, waited for: the span and 0, or the errno.
SpanResult uring_span_call(Ring &ring, int fd, uint32_t cmd_op, uint64_t len)
{
	SpanResult r;
	r.span.len = len;
	if (!submit_span_cmd(ring.get(), fd, cmd_op, &r.span))
		r.err = EIO;
	else
		r.err = -ring.wait_res();
	return r;
}

class CircbufSpan : public CircbufResizing {
protected:
	void SetUp() override
	{
		CircbufResizing::SetUp();
		if (HasFatalFailure() || IsSkipped())
			return;
		rw_ = open_device(O_RDWR | O_NONBLOCK);
		ASSERT_TRUE(rw_.ok()) << std::strerror(errno);
		// A capacity of whole pages, so that the ring can be mapped.
		cap_ = std::max<size_t>(kPage, capacity_ / kPage * kPage);
		ASSERT_EQ(set_capacity(rw_.get(), cap_), 0);
	}

	void TearDown() override
	{
		rw_.reset();
		CircbufResizing::TearDown();
	}

	Fd rw_;
	size_t cap_ = 0;
};

TEST_F(CircbufSpan, RxAcquireShowsTheReadableBytesAcrossTheWrap)
{
	const size_t start = cap_ - 100;
	ASSERT_TRUE(cycle_bytes(rw_.get(), start));
	const std::vector<uint8_t> data = pattern(0, 300);
	ASSERT_EQ(sys_write(rw_.get(), data.data(), data.size()), ok(300));
	Mapping m(rw_.get(), 2 * cap_, PROT_READ);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	const SpanResult r = span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0);
	ASSERT_EQ(r.err, 0) << std::strerror(r.err);
	EXPECT_EQ(r.span.offset, start);
	ASSERT_EQ(r.span.len, 300u);
	EXPECT_TRUE(same_bytes({m.data() + start, m.data() + start + 300}, data));
}

TEST_F(CircbufSpan, RxReleaseConsumesAsAReadWouldAndCountsIt)
{
	const std::vector<uint8_t> data = pattern(0, 300);
	ASSERT_EQ(sys_write(rw_.get(), data.data(), data.size()), ok(300));
	const circbuf_stats before = get_stats(rw_.get());
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_RELEASE, 100).err, 0);
	const circbuf_stats after = get_stats(rw_.get());
	EXPECT_EQ(after.used, 200u);
	EXPECT_EQ(after.bytes_read, before.bytes_read + 100);
	EXPECT_EQ(after.reads, before.reads + 1);
	EXPECT_TRUE(same_bytes(read_bytes(rw_.get(), 200), {data.begin() + 100, data.end()}));
}

TEST_F(CircbufSpan, RxAcquireWaitsForTheBytesAskedFor)
{
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(rw_.get(), "ab", 2), ok(2));
	Background<SpanResult> acq([&] { return span_call(r.get(), CIRCBUF_RX_ACQUIRE, 5); });
	ASSERT_TRUE(wait_until_blocked(acq.tid(), SYS_ioctl)) << "RX_ACQUIRE of 5 with 2 readable did not wait";
	ASSERT_EQ(sys_write(rw_.get(), "cde", 3), ok(3));
	ASSERT_TRUE(acq.wait(kWakeTimeout)) << "RX_ACQUIRE not woken by the bytes it waited for";
	EXPECT_EQ(acq.result().err, 0);
	EXPECT_EQ(acq.result().span.len, 5u);
}

TEST_F(CircbufSpan, TxCommitPublishesWhatWasWrittenInTheMapping)
{
	const size_t start = cap_ - 50;
	ASSERT_TRUE(cycle_bytes(rw_.get(), start));
	Mapping m(rw_.get(), 2 * cap_, PROT_READ | PROT_WRITE);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	const SpanResult r = span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, 200);
	ASSERT_EQ(r.err, 0) << std::strerror(r.err);
	EXPECT_EQ(r.span.offset, start);
	EXPECT_EQ(r.span.len, cap_) << "the span is all the free space";
	const std::vector<uint8_t> data = pattern(9, 200);
	std::memcpy(m.data() + r.span.offset, data.data(), data.size());
	const circbuf_stats before = get_stats(rw_.get());
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_COMMIT, 200).err, 0);
	const circbuf_stats after = get_stats(rw_.get());
	EXPECT_EQ(after.writes, before.writes + 1);
	EXPECT_EQ(after.bytes_written, before.bytes_written + 200);
	EXPECT_TRUE(same_bytes(read_bytes(rw_.get(), 200), data));
}

TEST_F(CircbufSpan, TxCommitWakesASleepingReader)
{
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	char buf[8];
	Background<Io> reader([&] { return sys_read(r.get(), buf, sizeof(buf)); });
	ASSERT_TRUE(wait_until_blocked(reader.tid(), SYS_read));
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, 4).err, 0);
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_COMMIT, 4).err, 0);
	ASSERT_TRUE(reader.wait(kWakeTimeout)) << "read not woken by TX_COMMIT";
	EXPECT_EQ(reader.result(), ok(4));
}

TEST_F(CircbufSpan, RxAcquireAtEndOfFileIsAnEmptySpan)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	rw_.reset();
	const SpanResult res = span_call(r.get(), CIRCBUF_RX_ACQUIRE, 0);
	EXPECT_EQ(res.err, 0) << std::strerror(res.err);
	EXPECT_EQ(res.span.len, 0u);
	EXPECT_EQ(span_call(r.get(), CIRCBUF_RX_RELEASE, 0).err, EINVAL) << "end of file left a span held";
}

TEST_F(CircbufSpan, NonblockingRxAcquireOnAnEmptyRingIsEagain)
{
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, EAGAIN);
}

TEST_F(CircbufSpan, NonblockingTxAcquireWithoutRoomIsEagain)
{
	ASSERT_EQ(sys_write(rw_.get(), pattern(0, 10).data(), 10), ok(10));
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, cap_).err, EAGAIN);
}

TEST_F(CircbufSpan, SignalInterruptsAWaitingRxAcquireWithEintr)
{
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	Background<SpanResult> acq([&] { return span_call(r.get(), CIRCBUF_RX_ACQUIRE, 0); });
	ASSERT_TRUE(wait_until_blocked(acq.tid(), SYS_ioctl));
	pthread_kill(acq.handle(), kInterruptSignal);
	ASSERT_TRUE(acq.wait(kWakeTimeout)) << "RX_ACQUIRE not interrupted by a signal";
	EXPECT_EQ(acq.result().err, EINTR);
}

TEST_F(CircbufSpan, SignalInterruptsAWaitingTxAcquireWithEintr)
{
	ASSERT_EQ(sys_write(rw_.get(), "x", 1), ok(1));
	Fd w = open_device(O_WRONLY);
	ASSERT_TRUE(w.ok()) << std::strerror(errno);
	Background<SpanResult> acq([&] { return span_call(w.get(), CIRCBUF_TX_ACQUIRE, cap_); });
	ASSERT_TRUE(wait_until_blocked(acq.tid(), SYS_ioctl)) << "TX_ACQUIRE of the capacity did not wait";
	pthread_kill(acq.handle(), kInterruptSignal);
	ASSERT_TRUE(acq.wait(kWakeTimeout)) << "TX_ACQUIRE not interrupted by a signal";
	EXPECT_EQ(acq.result().err, EINTR);
	EXPECT_EQ(span_call(w.get(), CIRCBUF_TX_COMMIT, 0).err, EINVAL) << "an interrupted ACQUIRE holds a span";
}

TEST_F(CircbufSpan, HeldSpanMakesAnotherReaderWaitUntilReleased)
{
	const std::vector<uint8_t> data = pattern(0, 100);
	ASSERT_EQ(sys_write(rw_.get(), data.data(), data.size()), ok(100));
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	char buf[100];
	Background<Io> reader([&] { return sys_read(r.get(), buf, sizeof(buf)); });
	ASSERT_TRUE(wait_until_blocked(reader.tid(), SYS_read)) << "read did not wait for the span";
	std::this_thread::sleep_for(kBlockProof);
	ASSERT_FALSE(reader.done()) << "read took bytes of a held span";
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_RELEASE, 40).err, 0);
	ASSERT_TRUE(reader.wait(kWakeTimeout)) << "read not woken by RX_RELEASE";
	EXPECT_EQ(reader.result(), ok(60));
	EXPECT_TRUE(same_bytes({buf, buf + 60}, {data.begin() + 40, data.end()}));
}

TEST_F(CircbufSpan, NonblockingReaderGetsEagainWhileASpanIsHeld)
{
	ASSERT_EQ(sys_write(rw_.get(), "abc", 3), ok(3));
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	char buf[3];
	EXPECT_EQ(sys_read(r.get(), buf, sizeof(buf)), err(EAGAIN));
	pollfd p{r.get(), POLLIN, 0};
	EXPECT_EQ(poll(&p, 1, 0), 0) << "POLLIN while another file holds the span";
}

TEST_F(CircbufSpan, PollerOfAHeldDirectionIsWokenWhenTheSpanEnds)
{
	ASSERT_EQ(sys_write(rw_.get(), "abc", 3), ok(3));
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	Background<short> poller([&]() -> short {
		pollfd p{r.get(), POLLIN, 0};
		return poll(&p, 1, 10000) == 1 ? p.revents : 0;
	});
	ASSERT_TRUE(wait_until_blocked(poller.tid()));
	std::this_thread::sleep_for(kBlockProof);
	ASSERT_FALSE(poller.done()) << "POLLIN while another file holds the span";
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_RELEASE, 1).err, 0);
	ASSERT_TRUE(poller.wait(kWakeTimeout)) << "poll not woken when the span ended";
	EXPECT_EQ(poller.result(), POLLIN);
}

TEST_F(CircbufSpan, HeldTxSpanMakesAnotherWriterWaitUntilCommitted)
{
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, 1).err, 0);
	Fd w = open_device(O_WRONLY);
	ASSERT_TRUE(w.ok()) << std::strerror(errno);
	Background<Io> writer([&] { return sys_write(w.get(), "z", 1); });
	ASSERT_TRUE(wait_until_blocked(writer.tid(), SYS_write)) << "write did not wait for the span";
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_COMMIT, 0).err, 0);
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "write not woken by TX_COMMIT";
	EXPECT_EQ(writer.result(), ok(1));
}

TEST_F(CircbufSpan, WriterThatSleptForRoomWaitsForASpanTakenMeanwhile)
{
	// Full; a blocking writer sleeps for room. One byte is read (too
	// little to wake it) and TX_ACQUIRE takes that byte; then enough is
	// read to wake the writer, which must still wait for the span.
	ASSERT_EQ(sys_write(rw_.get(), pattern(0, cap_).data(), cap_), ok(cap_));
	Fd w = open_device(O_WRONLY);
	ASSERT_TRUE(w.ok()) << std::strerror(errno);
	Background<Io> writer([&] { return sys_write(w.get(), "0123456789", 10); });
	ASSERT_TRUE(wait_until_blocked(writer.tid(), SYS_write));
	ASSERT_EQ(read_bytes(rw_.get(), 1).size(), 1u);
	Mapping m(rw_.get(), 2 * cap_, PROT_READ | PROT_WRITE);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	const SpanResult r = span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, 1);
	ASSERT_EQ(r.err, 0) << std::strerror(r.err);
	ASSERT_EQ(r.span.len, 1u);
	ASSERT_EQ(read_bytes(rw_.get(), cap_ - 1).size(), cap_ - 1);
	std::this_thread::sleep_for(kBlockProof);
	ASSERT_FALSE(writer.done()) << "the writer wrote into a held span";
	m.data()[r.span.offset] = 'h';
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_COMMIT, 1).err, 0);
	// The committed byte first, and alone: then the whole ring is free,
	// room for an atomic write whatever the capacity.
	EXPECT_TRUE(same_bytes(read_bytes(rw_.get(), 1), {'h'}));
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "the writer not woken by room after the span";
	EXPECT_EQ(writer.result(), ok(10));
	EXPECT_TRUE(same_bytes(read_bytes(rw_.get(), 10), {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9'}));
}

TEST_F(CircbufSpan, ClosingTheHolderEndsItsSpanWithNothingConsumed)
{
	ASSERT_EQ(sys_write(rw_.get(), "abc", 3), ok(3));
	Fd holder = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(holder.ok()) << std::strerror(errno);
	ASSERT_EQ(span_call(holder.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	char buf[3];
	ASSERT_EQ(sys_read(rw_.get(), buf, sizeof(buf)), err(EAGAIN));
	holder.reset();
	EXPECT_EQ(sys_read(rw_.get(), buf, sizeof(buf)), ok(3)) << "the span outlived its file";
}

TEST_F(CircbufSpan, ClosingTheTxHolderEndsItsSpanWithNothingPublished)
{
	Fd holder = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(holder.ok()) << std::strerror(errno);
	ASSERT_EQ(span_call(holder.get(), CIRCBUF_TX_ACQUIRE, 1).err, 0);
	ASSERT_EQ(sys_write(rw_.get(), "a", 1), err(EAGAIN));
	holder.reset();
	EXPECT_EQ(sys_write(rw_.get(), "a", 1), ok(1)) << "the span outlived its file";
	EXPECT_EQ(get_stats(rw_.get()).used, 1u) << "closing published bytes";
}

TEST_F(CircbufSpan, UnmappingEndsTheSpanWithNothingConsumed)
{
	ASSERT_EQ(sys_write(rw_.get(), "abc", 3), ok(3));
	Fd holder = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(holder.ok()) << std::strerror(errno);
	Mapping m(holder.get(), 2 * cap_, PROT_READ);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	ASSERT_EQ(span_call(holder.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	char buf[3];
	ASSERT_EQ(sys_read(rw_.get(), buf, sizeof(buf)), err(EAGAIN));
	m.reset();
	EXPECT_EQ(sys_read(rw_.get(), buf, sizeof(buf)), ok(3)) << "the span outlived the mapping";
	EXPECT_EQ(span_call(holder.get(), CIRCBUF_RX_RELEASE, 0).err, EINVAL);
}

TEST_F(CircbufSpan, RxAcquireOffersOnePacketAndAPartialReleaseDropsItsRest)
{
	Fd pw = open_device(O_WRONLY | O_DIRECT);
	ASSERT_TRUE(pw.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(pw.get(), "first", 5), ok(5));
	ASSERT_EQ(sys_write(pw.get(), "second", 6), ok(6));
	SpanResult r = span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0);
	ASSERT_EQ(r.err, 0);
	EXPECT_EQ(r.span.len, 5u) << "a span is at most one packet";
	const circbuf_stats before = get_stats(rw_.get());
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_RELEASE, 2).err, 0);
	EXPECT_EQ(get_stats(rw_.get()).bytes_discarded, before.bytes_discarded + 3);
	r = span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0);
	ASSERT_EQ(r.err, 0);
	EXPECT_EQ(r.span.len, 6u);
}

TEST_F(CircbufSpan, SetCapacityWhileASpanIsHeldIsEbusy)
{
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, 1).err, 0);
	EXPECT_EQ(set_capacity(rw_.get(), 2 * cap_), EBUSY) << "while a TX span is held";
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_COMMIT, 1).err, 0);
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	EXPECT_EQ(set_capacity(rw_.get(), 2 * cap_), EBUSY) << "while an RX span is held";
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_RELEASE, 1).err, 0);
	EXPECT_EQ(set_capacity(rw_.get(), 2 * cap_), 0);
}

TEST_F(CircbufSpan, ReleaseOrCommitWithoutASpanIsEinval)
{
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_RX_RELEASE, 0).err, EINVAL);
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_TX_COMMIT, 0).err, EINVAL);
}

TEST_F(CircbufSpan, ReleaseOrCommitLargerThanTheSpanIsEinval)
{
	ASSERT_EQ(sys_write(rw_.get(), "abc", 3), ok(3));
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_RX_RELEASE, 4).err, EINVAL);
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_RX_RELEASE, 3).err, 0);
	const SpanResult r = span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, 1);
	ASSERT_EQ(r.err, 0);
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_TX_COMMIT, r.span.len + 1).err, EINVAL);
}

TEST_F(CircbufSpan, AcquireWhileHoldingIsEbusy)
{
	ASSERT_EQ(sys_write(rw_.get(), "abc", 3), ok(3));
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, EBUSY);
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, 0).err, 0);
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, 0).err, EBUSY);
}

TEST_F(CircbufSpan, ReadOrWriteByTheHolderIsEbusy)
{
	ASSERT_EQ(sys_write(rw_.get(), "abc", 3), ok(3));
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, 0);
	char buf[3];
	EXPECT_EQ(sys_read(rw_.get(), buf, sizeof(buf)), err(EBUSY));
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, 0).err, 0);
	EXPECT_EQ(sys_write(rw_.get(), "d", 1), err(EBUSY));
	ASSERT_EQ(span_call(rw_.get(), CIRCBUF_RX_RELEASE, 0).err, 0);
	EXPECT_EQ(sys_read(rw_.get(), buf, sizeof(buf)), ok(3));
}

TEST_F(CircbufSpan, TxAcquireBeyondTheCapacityOrInPacketModeIsEinval)
{
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_TX_ACQUIRE, cap_ + 1).err, EINVAL);
	Fd pw = open_device(O_WRONLY | O_DIRECT | O_NONBLOCK);
	ASSERT_TRUE(pw.ok()) << std::strerror(errno);
	EXPECT_EQ(span_call(pw.get(), CIRCBUF_TX_ACQUIRE, 1).err, EINVAL);
}

TEST_F(CircbufSpan, NonzeroReservedIsEinval)
{
	circbuf_span sp{};
	sp.reserved[1] = 1;
	EXPECT_EQ(ioctl(rw_.get(), CIRCBUF_TX_ACQUIRE, &sp), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(CircbufSpan, WrongDirectionForTheFileIsEbadf)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && w.ok()) << std::strerror(errno);
	EXPECT_EQ(span_call(r.get(), CIRCBUF_TX_ACQUIRE, 1).err, EBADF);
	EXPECT_EQ(span_call(w.get(), CIRCBUF_RX_ACQUIRE, 0).err, EBADF);
}

TEST_F(CircbufSpan, BadArgumentPointerIsEfault)
{
	EXPECT_EQ(ioctl(rw_.get(), CIRCBUF_TX_ACQUIRE, reinterpret_cast<void *>(8)), -1);
	EXPECT_EQ(errno, EFAULT);
}

TEST_F(CircbufSpan, SpanThatCannotBeToldIsNotHeld)
{
	// A zeroed argument (any length, reserved 0) on a read-only page:
	// the ACQUIRE succeeds, and writing the span back fails.
	Mapping ro(-1, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
	ASSERT_TRUE(ro.ok()) << std::strerror(ro.error());
	EXPECT_EQ(ioctl(rw_.get(), CIRCBUF_TX_ACQUIRE, ro.data()), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_TX_COMMIT, 0).err, EINVAL) << "an untold span is held";
}

TEST_F(CircbufSpan, UringRxAcquireWaitsOutsideTheSubmitterAndCompletesWhenDataArrives)
{
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	Ring ring;
	ASSERT_TRUE(ring.ok());
	circbuf_span sp{};
	const auto t0 = Clock::now();
	ASSERT_TRUE(submit_span_cmd(ring.get(), r.get(), CIRCBUF_RX_ACQUIRE, &sp));
	EXPECT_LT(Clock::now() - t0, kBlockProof) << "the submission waited for data";
	EXPECT_EQ(ring.wait_res({0, 200'000'000}), -ETIME) << "completed on an empty ring";
	ASSERT_EQ(sys_write(rw_.get(), "hello", 5), ok(5));
	ASSERT_EQ(ring.wait_res(), 0);
	EXPECT_EQ(sp.len, 5u);
	const circbuf_stats before = get_stats(rw_.get());
	EXPECT_EQ(uring_span_call(ring, r.get(), CIRCBUF_RX_RELEASE, 5).err, 0);
	const circbuf_stats after = get_stats(rw_.get());
	EXPECT_EQ(after.used, 0u);
	EXPECT_EQ(after.bytes_read, before.bytes_read + 5);
}

TEST_F(CircbufSpan, UringTxAcquireAndCommitPublishWhatWasWrittenInTheMapping)
{
	const size_t start = cap_ - 2;
	ASSERT_TRUE(cycle_bytes(rw_.get(), start));
	Mapping m(rw_.get(), 2 * cap_, PROT_READ | PROT_WRITE);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	Ring ring;
	ASSERT_TRUE(ring.ok());
	const SpanResult r = uring_span_call(ring, rw_.get(), CIRCBUF_TX_ACQUIRE, 6);
	ASSERT_EQ(r.err, 0) << std::strerror(r.err);
	EXPECT_EQ(r.span.offset, start);
	std::memcpy(m.data() + r.span.offset, "abcdef", 6);
	ASSERT_EQ(uring_span_call(ring, rw_.get(), CIRCBUF_TX_COMMIT, 6).err, 0);
	EXPECT_TRUE(same_bytes(read_bytes(rw_.get(), 6), {'a', 'b', 'c', 'd', 'e', 'f'}));
}

TEST_F(CircbufSpan, UringRxAcquireOnANonblockingFileIsEagain)
{
	Ring ring;
	ASSERT_TRUE(ring.ok());
	EXPECT_EQ(uring_span_call(ring, rw_.get(), CIRCBUF_RX_ACQUIRE, 0).err, EAGAIN);
}

TEST_F(CircbufSpan, UringSpanCommandWithNonzeroReservedIsEinval)
{
	Ring ring;
	ASSERT_TRUE(ring.ok());
	circbuf_span sp{};
	ASSERT_TRUE(submit_span_cmd(ring.get(), rw_.get(), CIRCBUF_TX_ACQUIRE, &sp, 1));
	EXPECT_EQ(ring.wait_res(), -EINVAL);
	EXPECT_EQ(span_call(rw_.get(), CIRCBUF_TX_COMMIT, 0).err, EINVAL) << "a refused command took a span";
}

TEST_F(CircbufSpan, CancelledUringRxAcquireEndsWithoutHoldingASpan)
{
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	Ring ring;
	ASSERT_TRUE(ring.ok());
	circbuf_span sp{};
	ASSERT_TRUE(submit_span_cmd(ring.get(), r.get(), CIRCBUF_RX_ACQUIRE, &sp));
	ASSERT_EQ(ring.wait_res({0, 200'000'000}), -ETIME);
	io_uring_sqe *sqe = io_uring_get_sqe(ring.get());
	ASSERT_NE(sqe, nullptr);
	io_uring_prep_cancel64(sqe, CIRCBUF_RX_ACQUIRE, 0);
	io_uring_sqe_set_data64(sqe, 0);
	ASSERT_EQ(io_uring_submit(ring.get()), 1);
	// Two completions, the cancel's and the command's, in either order.
	for (int i = 0; i < 2; i++) {
		io_uring_cqe *cqe = nullptr;
		__kernel_timespec ts = {5, 0};
		ASSERT_EQ(io_uring_wait_cqe_timeout(ring.get(), &cqe, &ts), 0) << "completion " << i;
		if (io_uring_cqe_get_data64(cqe) == CIRCBUF_RX_ACQUIRE)
			EXPECT_TRUE(cqe->res == -EINTR || cqe->res == -ECANCELED)
				<< strerrorname_np(-cqe->res);
		else  // EALREADY: found running in a worker, and interrupted
			EXPECT_TRUE(cqe->res == 0 || cqe->res == -EALREADY)
				<< "the cancel: " << strerrorname_np(-cqe->res);
		io_uring_cqe_seen(ring.get(), cqe);
	}
	ASSERT_EQ(sys_write(rw_.get(), "x", 1), ok(1));
	char c;
	EXPECT_EQ(sys_read(rw_.get(), &c, 1), ok(1)) << "the cancelled RX_ACQUIRE holds a span";
}

}  // namespace
}  // namespace circbuf_vm
