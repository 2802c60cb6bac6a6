// Vectored I/O, splice and io_uring on /dev/circbuf: the iov_iter data path
// (read_iter/write_iter) and its IOCB_NOWAIT behaviour.
#include "vm_test.h"
#include "uring.h"

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufIter : public CircbufTest {};

// A test of io_uring, with a ring of its own.
class CircbufUring : public CircbufTest {
protected:
	void SetUp() override
	{
		CircbufTest::SetUp();
		if (HasFatalFailure())
			return;
		ASSERT_TRUE(ring_.ok()) << "io_uring_queue_init failed";
	}

	Ring ring_;
};

const Params kSize128k = {{"buffer_size", "131072"}};
// Every transfer by DMA, where the module has it.
const Params kAllByDma = {{"buffer_size", "262144"}, {"use_dma", "1"}, {"dma_threshold", "1"}};

TEST_F(CircbufIter, WritevThenReadvKeepsFifoOrderAcrossBuffers)
{
	if (!reload(kSize128k))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 3 + 70000 + 5, 3);
	iovec wv[] = {{const_cast<uint8_t *>(data.data()), 3},
		      {const_cast<uint8_t *>(data.data()) + 3, 70000},
		      {const_cast<uint8_t *>(data.data()) + 70003, 5}};
	ASSERT_EQ(writev(rw.get(), wv, 3), ssize_t(data.size()));

	std::vector<uint8_t> a(1), b(65536), c(10000);
	iovec rv[] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
	ASSERT_EQ(readv(rw.get(), rv, 3), ssize_t(data.size()));
	std::vector<uint8_t> got(a);
	got.insert(got.end(), b.begin(), b.end());
	got.insert(got.end(), c.begin(), c.begin() + (data.size() - 1 - b.size()));
	EXPECT_TRUE(same_bytes(got, data));
}

TEST_F(CircbufIter, SpliceMovesBytesFromAPipeInAndToAPipeOut)
{
	if (!need_capacity(8))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	int in[2], out[2];
	ASSERT_EQ(pipe(in), 0);
	ASSERT_EQ(pipe(out), 0);
	Fd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]);

	ASSERT_EQ(write(in_w.get(), "spliced!", 8), 8);
	ASSERT_EQ(splice(in_r.get(), nullptr, rw.get(), nullptr, 8, 0), 8) << std::strerror(errno);
	EXPECT_EQ(get_stats(rw.get()).used, 8u);
	ASSERT_EQ(splice(rw.get(), nullptr, out_w.get(), nullptr, 8, 0), 8) << std::strerror(errno);
	char buf[8];
	ASSERT_EQ(read(out_r.get(), buf, 8), 8);
	EXPECT_EQ(std::string(buf, 8), "spliced!");
	EXPECT_EQ(get_stats(rw.get()).used, 0u);
}

// Threads of this process that io_uring created to run requests that could
// not complete inline ("iou-wrk-PID"); with owner, only those of the thread
// owner ("iou-wrk-OWNER").
int io_workers(pid_t owner = 0)
{
	const std::string prefix = owner ? "iou-wrk-" + std::to_string(owner) : "iou-wrk";
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return -1;
	while (dirent *e = readdir(d)) {
		std::string comm = "/proc/self/task/" + std::string(e->d_name) + "/comm";
		auto name = read_text_file(comm.c_str());
		if (name && (owner ? *name == prefix : name->starts_with(prefix)))
			n++;
	}
	closedir(d);
	return n;
}

// The heart of io_uring support: a read of an empty device neither blocks
// the submitter nor goes to an io-wq worker; it waits as an armed poll and
// completes when data arrives.
TEST_F(CircbufUring, ReadOfEmptyDeviceWaitsWithoutAWorkerAndCompletesOnWrite)
{
	if (!need_capacity(5))
		return;
	Fd w = open_device(O_WRONLY);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);

	char buf[16] = {};
	io_uring_sqe *sqe = io_uring_get_sqe(ring_.get());
	io_uring_prep_read(sqe, r.get(), buf, sizeof(buf), 0);
	ASSERT_EQ(io_uring_submit(ring_.get()), 1);

	io_uring_cqe *cqe = nullptr;
	__kernel_timespec ts = {0, 150 * 1000 * 1000};
	EXPECT_EQ(io_uring_wait_cqe_timeout(ring_.get(), &cqe, &ts), -ETIME) << "completed while empty";
	EXPECT_EQ(io_workers(), 0) << "the read was handed to an io-wq worker";

	ASSERT_EQ(sys_write(w.get(), "hello", 5), ok(5));
	ts = {5, 0};
	ASSERT_EQ(io_uring_wait_cqe_timeout(ring_.get(), &cqe, &ts), 0);
	EXPECT_EQ(cqe->res, 5);
	io_uring_cqe_seen(ring_.get(), cqe);
	EXPECT_EQ(std::string(buf, 5), "hello");
	EXPECT_EQ(io_workers(), 0);
}

// Waits up to timeout for one completion; returns its res, or -ETIME.
// A write and, linked so that it starts once the write completed, a read,
// each set up on its SQE by its prep function and given sqe_flags besides
// the link: both must move n bytes.
void linked_write_read(io_uring *ring, const std::function<void(io_uring_sqe *)> &prep_write,
		       const std::function<void(io_uring_sqe *)> &prep_read, int n, uint8_t sqe_flags = 0)
{
	io_uring_sqe *sqe = io_uring_get_sqe(ring);
	prep_write(sqe);
	sqe->flags |= IOSQE_IO_LINK | sqe_flags;
	sqe = io_uring_get_sqe(ring);
	prep_read(sqe);
	sqe->flags |= sqe_flags;
	ASSERT_EQ(io_uring_submit(ring), 2);
	EXPECT_EQ(wait_res(ring), n) << "the write";
	EXPECT_EQ(wait_res(ring), n) << "the read";
}

TEST_F(CircbufUring, WriteThenReadRoundTripsThroughTheRing)
{
	if (!need_capacity(4096))
		return;
	Fd rw = open_device(O_RDWR);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 4096, 9);
	std::vector<uint8_t> got(4096);

	linked_write_read(
		ring_.get(),
		[&](io_uring_sqe *sqe) { io_uring_prep_write(sqe, rw.get(), data.data(), data.size(), 0); },
		[&](io_uring_sqe *sqe) { io_uring_prep_read(sqe, rw.get(), got.data(), got.size(), 0); }, 4096);
	EXPECT_TRUE(same_bytes(got, data));
}

// WRITE_FIXED then READ_FIXED of n bytes through registered buffers (bio_vec
// iterators in the kernel), both waited for, each with sqe_flags besides the
// link; checks the bytes come back.
void fixed_round_trip(int fd, size_t n, uint8_t sqe_flags = 0)
{
	Ring ring;
	ASSERT_TRUE(ring.ok());
	std::vector<uint8_t> out = pattern(0, n, 4), in(n);
	iovec bufs[] = {{out.data(), n}, {in.data(), n}};
	ASSERT_EQ(io_uring_register_buffers(ring.get(), bufs, 2), 0);

	linked_write_read(
		ring.get(),
		[&](io_uring_sqe *sqe) { io_uring_prep_write_fixed(sqe, fd, out.data(), unsigned(n), 0, 0); },
		[&](io_uring_sqe *sqe) { io_uring_prep_read_fixed(sqe, fd, in.data(), unsigned(n), 0, 1); }, int(n),
		sqe_flags);
	EXPECT_TRUE(same_bytes(in, out));
}

TEST_F(CircbufUring, FixedBuffersRoundTripThroughTheRing)
{
	Fd rw = open_device(O_RDWR);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	fixed_round_trip(rw.get(), std::min<uint64_t>(capacity_, 65536));
}

// io_uring's inline attempts carry IOCB_NOWAIT, which never waits for the
// DMA engine: they copy by CPU, whatever the threshold.
TEST_F(CircbufUring, InlineFixedBufferRequestsGoByCpuEvenAboveTheThreshold)
{
	if (!need_dma())
		return;
	if (!reload(kAllByDma))
		return;
	Fd rw = open_device(O_RDWR);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(rw.get());
	fixed_round_trip(rw.get(), 200000);
	const circbuf_stats after = get_stats(rw.get());
	EXPECT_EQ(after.cpu_bytes - before.cpu_bytes, 400000u);
	EXPECT_EQ(after.dma_bytes, before.dma_bytes);
	EXPECT_EQ(after.dma_submitted, before.dma_submitted);
}

// Makes the one request in flight on ring, waiting as an armed poll, fail
// its retries until io_uring hands it to an io-wq worker of this thread,
// which issues it without IOCB_NOWAIT. The ring has
// IORING_SETUP_DEFER_TASKRUN, so a retry runs only in io_uring_get_events():
// each round, ready() makes the poll fire and unready() takes that readiness
// back before the retry, which then fails with EAGAIN and arms poll again,
// until io_uring gives up on polling (after 128 arms on 6.1 and 6.12).
// IOSQE_ASYNC would not do: io-wq makes a nonblocking attempt first at a
// file that can poll, and the device copies that one by CPU.
testing::AssertionResult hand_to_worker(io_uring *ring, const std::function<bool()> &ready,
					const std::function<bool()> &unready)
{
	if (io_workers(gettid()) != 0)
		return testing::AssertionFailure() << "this thread has io-wq workers already";
	// A worker is a new thread of this process, created before the retry
	// that punts returns; it names itself "iou-wrk-TID" only once it runs.
	const size_t threads = dir_entries("/proc/self/task").size();
	for (int round = 0; round < 1000; round++) {
		if (!ready() || !unready())
			return testing::AssertionFailure() << "round " << round << ": " << std::strerror(errno);
		io_uring_get_events(ring);
		io_uring_cqe *cqe = nullptr;
		if (io_uring_peek_cqe(ring, &cqe) == 0)
			return testing::AssertionFailure() << "round " << round << ": the request completed inline with "
							   << cqe->res;
		if (dir_entries("/proc/self/task").size() > threads)
			return testing::AssertionSuccess();
	}
	return testing::AssertionFailure() << "no io-wq worker took the request in 1000 rounds";
}

// READ_FIXED that a worker runs, on an empty ring: the worker sleeps until
// a write brings n bytes, then moves them by DMA into the registered buffer.
void worker_read_fixed(int rw, int nb, size_t n)
{
	Ring ring(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
	ASSERT_TRUE(ring.ok());
	std::vector<uint8_t> in(n);
	iovec buf = {in.data(), n};
	ASSERT_EQ(io_uring_register_buffers(ring.get(), &buf, 1), 0);
	io_uring_prep_read_fixed(io_uring_get_sqe(ring.get()), rw, in.data(), unsigned(n), 0, 0);
	ASSERT_EQ(io_uring_submit(ring.get()), 1);
	char byte = 'b';
	ASSERT_TRUE(hand_to_worker(
		ring.get(), [&] { return write(nb, &byte, 1) == 1; }, [&] { return read(nb, &byte, 1) == 1; }));

	const circbuf_stats before = get_stats(nb);
	const std::vector<uint8_t> data = pattern(0, n, 5);
	ASSERT_EQ(sys_write(nb, data.data(), n), ok(n));
	EXPECT_EQ(wait_res(ring.get()), int(n)) << "READ_FIXED";
	const circbuf_stats after = get_stats(nb);
	EXPECT_TRUE(same_bytes(in, data));
	EXPECT_EQ(after.dma_bytes - before.dma_bytes, 2 * n) << "the write and the worker's READ_FIXED";
	EXPECT_EQ(after.cpu_bytes, before.cpu_bytes);
}

// WRITE_FIXED that a worker runs, on a full ring: the worker sleeps until a
// read empties the ring, then moves n bytes from the registered buffer by
// DMA.
void worker_write_fixed(int rw, int nb, size_t n, size_t cap)
{
	const std::vector<uint8_t> fill(cap, 0xf1);
	ASSERT_EQ(sys_write(nb, fill.data(), cap), ok(cap));
	Ring ring(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
	ASSERT_TRUE(ring.ok());
	std::vector<uint8_t> out = pattern(0, n, 6);
	iovec buf = {out.data(), n};
	ASSERT_EQ(io_uring_register_buffers(ring.get(), &buf, 1), 0);
	io_uring_prep_write_fixed(io_uring_get_sqe(ring.get()), rw, out.data(), unsigned(n), 0, 0);
	ASSERT_EQ(io_uring_submit(ring.get()), 1);
	// Free an atomic write's room, which wakes the poll, and fill it again.
	std::vector<uint8_t> room(kPipeBuf, 0xf1);
	ASSERT_TRUE(hand_to_worker(
		ring.get(), [&] { return read(nb, room.data(), room.size()) == ssize_t(room.size()); },
		[&] { return write(nb, room.data(), room.size()) == ssize_t(room.size()); }));

	const circbuf_stats before = get_stats(nb);
	ASSERT_TRUE(same_bytes(read_bytes(nb, cap), fill));
	EXPECT_EQ(wait_res(ring.get()), int(n)) << "WRITE_FIXED";
	const circbuf_stats after = get_stats(nb);
	EXPECT_EQ(after.dma_bytes - before.dma_bytes, cap + n) << "the read and the worker's WRITE_FIXED";
	EXPECT_EQ(after.cpu_bytes, before.cpu_bytes);
	EXPECT_TRUE(same_bytes(read_bytes(nb, n), out));
}

// A request that io_uring hands to an io-wq worker is issued there without
// IOCB_NOWAIT: registered buffers (bio_vec iterators) go by DMA. Each
// direction runs in a thread of its own, whose io-wq starts with no worker.
TEST_F(CircbufUring, FixedBuffersHandedToAWorkerGoByDma)
{
	if (!need_dma())
		return;
	if (!reload(kAllByDma))
		return;
	Fd rw = open_device(O_RDWR);
	Fd nb = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok() && nb.ok()) << std::strerror(errno);
	{
		Background<bool> reader([&] {
			worker_read_fixed(rw.get(), nb.get(), 200000);
			return true;
		});
		ASSERT_TRUE(reader.wait(30s));
	}
	ASSERT_FALSE(HasFailure());
	EXPECT_EQ(get_stats(nb.get()).used, 0u);
	{
		Background<bool> writer([&] {
			worker_write_fixed(rw.get(), nb.get(), 200000, capacity_);
			return true;
		});
		ASSERT_TRUE(writer.wait(30s));
	}
}

TEST_F(CircbufUring, CancelledBlockedReadEndsPromptlyWithEcanceled)
{
	Fd w = open_device(O_WRONLY);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	char buf[16];
	io_uring_sqe *sqe = io_uring_get_sqe(ring_.get());
	io_uring_prep_read(sqe, r.get(), buf, sizeof(buf), 0);
	sqe->user_data = 1;
	ASSERT_EQ(io_uring_submit(ring_.get()), 1);

	const auto t0 = Clock::now();
	sqe = io_uring_get_sqe(ring_.get());
	io_uring_prep_cancel64(sqe, 1, 0);
	sqe->user_data = 2;
	ASSERT_EQ(io_uring_submit(ring_.get()), 1);
	bool read_done = false;
	for (int i = 0; i < 2; i++) {
		io_uring_cqe *cqe = nullptr;
		__kernel_timespec ts = {1, 0};
		ASSERT_EQ(io_uring_wait_cqe_timeout(ring_.get(), &cqe, &ts), 0) << "no completion within 1 s";
		if (cqe->user_data == 1) {
			EXPECT_TRUE(cqe->res == -ECANCELED || cqe->res == -EINTR) << cqe->res;
			read_done = true;
		} else {
			EXPECT_EQ(cqe->res, 0) << "cancel";
		}
		io_uring_cqe_seen(ring_.get(), cqe);
	}
	EXPECT_TRUE(read_done);
	EXPECT_LT(Clock::now() - t0, 1s);
}

TEST_F(CircbufUring, ClosingARingWithManyPendingRequestsIsPrompt)
{
	Fd w = open_device(O_WRONLY);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	// Reads of an empty device and writes of a full one: 64 in all.
	std::vector<uint8_t> fill(capacity_);
	ASSERT_EQ(sys_write(w.get(), fill.data(), fill.size()), ok(ssize_t(fill.size())));
	std::vector<char> buf(64);
	auto t0 = Clock::now();
	{
		io_uring ring;
		ASSERT_EQ(io_uring_queue_init(64, &ring, 0), 0);
		for (int i = 0; i < 32; i++) {
			io_uring_prep_write(io_uring_get_sqe(&ring), w.get(), buf.data(), 1, 0);
		}
		ASSERT_EQ(io_uring_submit(&ring), 32);
		std::vector<uint8_t> drain(capacity_);
		ASSERT_EQ(sys_read(r.get(), drain.data(), drain.size()), ok(ssize_t(drain.size())));
		// The queued writes may now land; empty the ring again for the reads.
		(void)read_bytes(r.get(), capacity_, 200ms);
		for (int i = 0; i < 32; i++)
			io_uring_prep_read(io_uring_get_sqe(&ring), r.get(), buf.data(), 1, 0);
		ASSERT_EQ(io_uring_submit(&ring), 32);
		t0 = Clock::now();
		io_uring_queue_exit(&ring);
	}
	EXPECT_LT(Clock::now() - t0, 1s);
	// The device still works.
	ASSERT_EQ(sys_write(w.get(), "ok", 2), ok(2));
	EXPECT_EQ(read_bytes(r.get(), 2), (std::vector<uint8_t>{'o', 'k'}));
}

TEST_F(CircbufUring, ProcessExitWithRequestsInFlightLeavesTheDeviceWorking)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(rw.get());
	pid_t child = fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		int w = ::open(kDevice, O_WRONLY | O_CLOEXEC);
		int r = ::open(kDevice, O_RDONLY | O_CLOEXEC);
		io_uring ring;
		if (w < 0 || r < 0 || io_uring_queue_init(16, &ring, 0) != 0)
			_exit(1);
		static char buf[16][8];
		for (int i = 0; i < 16; i++)
			io_uring_prep_read(io_uring_get_sqe(&ring), r, buf[i], 8, 0);
		_exit(io_uring_submit(&ring) == 16 ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(waitpid(child, &status, 0), child);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	// The ring's files are released by a deferred task: give it a moment.
	circbuf_stats now = get_stats(rw.get());
	for (int i = 0; i < 50 && now.readers != before.readers; i++) {
		std::this_thread::sleep_for(20ms);
		now = get_stats(rw.get());
	}
	EXPECT_EQ(now.readers, before.readers) << "the exited process's files are still open";
	EXPECT_EQ(now.writers, before.writers);
	ASSERT_EQ(sys_write(rw.get(), "ok", 2), ok(2));
	EXPECT_EQ(read_bytes(rw.get(), 2), (std::vector<uint8_t>{'o', 'k'}));
}

TEST_F(CircbufUring, ReadSeesEndOfFileWhenTheLastWriterCloses)
{
	Fd w = open_device(O_WRONLY);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	char buf[8];
	io_uring_prep_read(io_uring_get_sqe(ring_.get()), r.get(), buf, sizeof(buf), 0);
	ASSERT_EQ(io_uring_submit(ring_.get()), 1);
	EXPECT_EQ(wait_res(ring_.get(), {0, 150 * 1000 * 1000}), -ETIME) << "completed with a writer open";
	w.reset();
	EXPECT_EQ(wait_res(ring_.get()), 0) << "no end of file after the last writer closed";
}

TEST_F(CircbufUring, NonblockingFileWaitsForDataInsteadOfFailingWithEagain)
{
	Fd w = open_device(O_WRONLY);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	char buf[8];
	io_uring_prep_read(io_uring_get_sqe(ring_.get()), r.get(), buf, sizeof(buf), 0);
	ASSERT_EQ(io_uring_submit(ring_.get()), 1);
	// io_uring arms poll on -EAGAIN, even for an O_NONBLOCK file.
	EXPECT_EQ(wait_res(ring_.get(), {0, 150 * 1000 * 1000}), -ETIME);
	ASSERT_EQ(sys_write(w.get(), "abc", 3), ok(3));
	EXPECT_EQ(wait_res(ring_.get()), 3);
	EXPECT_EQ(io_workers(), 0);
}

TEST_F(CircbufUring, PollAddReportsReadableOnlyOnceDataArrives)
{
	Fd w = open_device(O_WRONLY);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	io_uring_prep_poll_add(io_uring_get_sqe(ring_.get()), r.get(), POLLIN);
	ASSERT_EQ(io_uring_submit(ring_.get()), 1);
	EXPECT_EQ(wait_res(ring_.get(), {0, 150 * 1000 * 1000}), -ETIME) << "readable while empty";
	ASSERT_EQ(sys_write(w.get(), "x", 1), ok(1));
	const int res = wait_res(ring_.get());
	EXPECT_GT(res, 0);
	EXPECT_TRUE(res & POLLIN) << res;
}

TEST_F(CircbufUring, WritevThenReadvRoundTrip)
{
	if (!need_capacity(300))
		return;
	Fd rw = open_device(O_RDWR);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 300, 6);
	iovec wv[] = {{const_cast<uint8_t *>(data.data()), 100},
		      {const_cast<uint8_t *>(data.data()) + 100, 200}};
	std::vector<uint8_t> a(50), b(250);
	iovec rv[] = {{a.data(), a.size()}, {b.data(), b.size()}};
	linked_write_read(
		ring_.get(), [&](io_uring_sqe *sqe) { io_uring_prep_writev(sqe, rw.get(), wv, 2, 0); },
		[&](io_uring_sqe *sqe) { io_uring_prep_readv(sqe, rw.get(), rv, 2, 0); }, 300);
	a.insert(a.end(), b.begin(), b.end());
	EXPECT_TRUE(same_bytes(a, data));
}

// IORING_OP_URING_CMD with the given cmd_op and payload; returns cqe->res.
int uring_cmd(int fd, uint32_t op, const circbuf_uring_cmd &payload)
{
	Ring ring;
	if (!ring.ok())
		return -1000;
	io_uring_sqe *sqe = io_uring_get_sqe(ring.get());
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, nullptr, 0, 0);
	sqe->cmd_op = op;
	static_assert(sizeof(payload) == 16, "fits the SQE's command area");
	std::memcpy(sqe->cmd, &payload, sizeof(payload));
	if (io_uring_submit(ring.get()) != 1)
		return -1001;
	io_uring_cqe *cqe = nullptr;
	if (io_uring_wait_cqe(ring.get(), &cqe) != 0)
		return -1002;
	int res = cqe->res;
	io_uring_cqe_seen(ring.get(), cqe);
	return res;
}

TEST_F(CircbufUring, UringCmdGetStatsMatchesTheIoctl)
{
	if (!need_capacity(3))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(rw.get(), "abc", 3), ok(3));
	circbuf_stats got;
	std::memset(&got, 0xff, sizeof(got));
	circbuf_uring_cmd cmd = {reinterpret_cast<uintptr_t>(&got), 0};
	ASSERT_EQ(uring_cmd(rw.get(), CIRCBUF_GET_STATS, cmd), 0);
	const circbuf_stats want = get_stats(rw.get());
	EXPECT_EQ(got.used, 3u);
	EXPECT_EQ(std::memcmp(&got, &want, sizeof(got)), 0) << "differs from the ioctl's snapshot";
}

TEST_F(CircbufUring, UringCmdWithBadAddressFailsWithEfault)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	EXPECT_EQ(uring_cmd(r.get(), CIRCBUF_GET_STATS, {0, 0}), -EFAULT);
}

TEST_F(CircbufUring, UringCmdWithUnknownOpFailsWithEnotty)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	circbuf_stats st;
	EXPECT_EQ(uring_cmd(r.get(), 0x1234, {reinterpret_cast<uintptr_t>(&st), 0}), -ENOTTY);
}

TEST_F(CircbufUring, UringCmdWithNonzeroReservedFailsWithEinval)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	circbuf_stats st;
	EXPECT_EQ(uring_cmd(r.get(), CIRCBUF_GET_STATS, {reinterpret_cast<uintptr_t>(&st), 1}), -EINVAL);
}

}  // namespace
}  // namespace circbuf_vm
