// read(2) and write(2) on /dev/circbuf: FIFO order, when calls block, what
// non-blocking calls return, PIPE_BUF atomicity, and that the buffer
// outlives the files that filled it.
#include "vm_test.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufLifetime : public CircbufTest {};
class CircbufRead : public CircbufTest {};
class CircbufWrite : public CircbufTest {};

// The ring size for tests that need room for several PIPE_BUF records.
const Params kSize16k = {{"buffer_size", "16384"}};

TEST_F(CircbufLifetime, DataSurvivesCloseAndReopen)
{
	if (!need_capacity(6))
		return;
	{
		Fd w = open_device(O_WRONLY | O_NONBLOCK);
		ASSERT_TRUE(w.ok()) << std::strerror(errno);
		ASSERT_EQ(sys_write(w.get(), "hello\n", 6), ok(6));
	}
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	char buf[100];
	ASSERT_EQ(sys_read(r.get(), buf, sizeof(buf)), ok(6));
	EXPECT_EQ(std::string(buf, 6), "hello\n");
}

TEST_F(CircbufRead, ReturnsBytesInFifoOrderAcrossTheWrap)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	// Start two thirds into the ring so that the stream wraps.
	ASSERT_TRUE(cycle_bytes(rw.get(), capacity_ - capacity_ / 3));
	const size_t total = std::min<uint64_t>(capacity_, 1 << 20);
	const std::vector<uint8_t> data = pattern(0, total, 1);

	const std::array<size_t, 5> wsizes = {1, 13, 256, 4000, 97};
	for (size_t off = 0, i = 0; off < total; i++) {
		size_t n = std::min(wsizes[i % wsizes.size()], total - off);
		ASSERT_EQ(sys_write(rw.get(), data.data() + off, n), ok(n)) << "at offset " << off;
		off += n;
	}
	std::vector<uint8_t> got;
	const std::array<size_t, 5> rsizes = {7, 999, 1, 3000, 64};
	for (size_t i = 0; got.size() < total; i++) {
		size_t n = std::min(rsizes[i % rsizes.size()], total - got.size());
		std::vector<uint8_t> buf(n);
		ASSERT_EQ(sys_read(rw.get(), buf.data(), n), ok(n)) << "at offset " << got.size();
		got.insert(got.end(), buf.begin(), buf.end());
	}
	EXPECT_TRUE(same_bytes(got, data));
}

TEST_F(CircbufRead, ReturnsAtMostWhatIsBuffered)
{
	if (!need_capacity(10))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 10);
	ASSERT_EQ(sys_write(rw.get(), data.data(), 10), ok(10));
	std::vector<uint8_t> buf(100);
	ASSERT_EQ(sys_read(rw.get(), buf.data(), buf.size()), ok(10));
	buf.resize(10);
	EXPECT_TRUE(same_bytes(buf, data));
	EXPECT_EQ(get_stats(rw.get()).used, 0u);
}

TEST_F(CircbufRead, EmptyWithWriterBlocksUntilDataArrives)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	char buf[16] = {};
	Background<Io> reader([&] { return sys_read(r.get(), buf, sizeof(buf)); });
	ASSERT_TRUE(wait_until_blocked(reader.tid(), SYS_read))
		<< "read did not sleep: " << (reader.done() ? testing::PrintToString(reader.result()) : "");
	std::this_thread::sleep_for(kBlockProof);
	ASSERT_FALSE(reader.done()) << "read on an empty device " << testing::PrintToString(reader.result());
	const auto wrote_at = Clock::now();
	ASSERT_EQ(sys_write(w.get(), "p", 1), ok(1));
	ASSERT_TRUE(reader.wait(kWakeTimeout)) << "read not woken by a write";
	EXPECT_EQ(reader.result(), ok(1));
	EXPECT_GE(reader.finished_at(), wrote_at);
	EXPECT_EQ(buf[0], 'p');
}

TEST_F(CircbufRead, EmptyWithNoWriterReturnsEof)
{
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	char buf[16];
	Background<Io> reader([&] { return sys_read(r.get(), buf, sizeof(buf)); });
	ASSERT_TRUE(reader.wait(kWakeTimeout)) << "read blocked with no writer open";
	EXPECT_EQ(reader.result(), ok(0));
}

TEST_F(CircbufRead, BlockedReadReturnsEofWhenLastWriterCloses)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	char buf[16];
	Background<Io> reader([&] { return sys_read(r.get(), buf, sizeof(buf)); });
	ASSERT_TRUE(wait_until_blocked(reader.tid(), SYS_read));
	w.reset();
	ASSERT_TRUE(reader.wait(kWakeTimeout)) << "read still blocked after the last writer closed";
	EXPECT_EQ(reader.result(), ok(0));
}

TEST_F(CircbufRead, NonblockingEmptyWithWriterFailsWithEagain)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	char buf[16];
	EXPECT_EQ(sys_read(r.get(), buf, sizeof(buf)), err(EAGAIN));
}

TEST_F(CircbufRead, ReadWriteFileCountsAsWriter)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	char buf[16];
	EXPECT_EQ(sys_read(rw.get(), buf, sizeof(buf)), err(EAGAIN)) << "an O_RDWR file saw EOF";
}

TEST_F(CircbufWrite, LargerThanCapacityCompletesWhileReaderDrains)
{
	const size_t n = capacity_ + std::min<uint64_t>(capacity_, 1 << 20) * 3 + 777;
	const std::vector<uint8_t> data = pattern(0, n, 2);
	Fd w = open_device(O_WRONLY);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	Background<Io> writer([&] { return sys_write(w.get(), data.data(), n); });

	std::vector<uint8_t> got;
	got.reserve(n);
	const std::array<size_t, 5> rsizes = {1, 4096, 333, 65536, 17};
	const auto deadline = Clock::now() + 20s;  // a missed wake-up only slows the stream
	for (size_t i = 0; got.size() < n && Clock::now() < deadline; i++) {
		std::vector<uint8_t> chunk = read_bytes(r.get(), std::min(rsizes[i % rsizes.size()], n - got.size()));
		if (chunk.empty())
			break;
		got.insert(got.end(), chunk.begin(), chunk.end());
	}
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "writer still blocked after " << got.size() << " bytes were read";
	EXPECT_EQ(writer.result(), ok(n));
	EXPECT_TRUE(same_bytes(got, data));
}

TEST_F(CircbufWrite, BlocksWhileFullUntilSpaceFrees)
{
	Fd w = open_device(O_WRONLY);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> fill = pattern(0, capacity_);
	ASSERT_EQ(sys_write(rw.get(), fill.data(), fill.size()), ok(capacity_));
	const uint8_t one = pattern_byte(capacity_);
	Background<Io> writer([&] { return sys_write(w.get(), &one, 1); });
	ASSERT_TRUE(wait_until_blocked(writer.tid(), SYS_write))
		<< "write did not sleep: " << (writer.done() ? testing::PrintToString(writer.result()) : "");
	std::this_thread::sleep_for(kBlockProof);
	ASSERT_FALSE(writer.done()) << "write on a full device " << testing::PrintToString(writer.result());
	// Like a pipe, the module may wake writers only once a PIPE_BUF
	// record fits, so free that much.
	const size_t freed = std::min<uint64_t>(kPipeBuf, capacity_);
	const auto read_at = Clock::now();
	ASSERT_TRUE(same_bytes(read_bytes(rw.get(), freed), pattern(0, freed)));
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "write not woken when a read freed " << freed << " bytes";
	EXPECT_EQ(writer.result(), ok(1));
	EXPECT_GE(writer.finished_at(), read_at);
	EXPECT_EQ(get_stats(rw.get()).used, capacity_ - freed + 1);
	std::vector<uint8_t> rest = read_bytes(rw.get(), capacity_ - freed + 1);
	EXPECT_TRUE(same_bytes(rest, pattern(freed, capacity_ - freed + 1)));
}

TEST_F(CircbufWrite, NonblockingOnFullFailsWithEagain)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> fill = pattern(0, capacity_);
	ASSERT_EQ(sys_write(rw.get(), fill.data(), fill.size()), ok(capacity_));
	const uint8_t one = 1;
	EXPECT_EQ(sys_write(rw.get(), &one, 1), err(EAGAIN));
	const std::vector<uint8_t> big = pattern(0, 2 * kPipeBuf);
	EXPECT_EQ(sys_write(rw.get(), big.data(), big.size()), err(EAGAIN));
	EXPECT_EQ(get_stats(rw.get()).used, capacity_);
}

TEST_F(CircbufWrite, NonblockingLargeWriteStoresWhatFits)
{
	if (!reload(kSize16k))
		return;
	for (size_t free_space : {size_t{1000}, size_t{6000}}) {
		SCOPED_TRACE("free space " + std::to_string(free_space));
		Fd rw = open_device(O_RDWR | O_NONBLOCK);
		ASSERT_TRUE(rw.ok()) << std::strerror(errno);
		const size_t prefill = capacity_ - free_space;
		const std::vector<uint8_t> data = pattern(0, capacity_ + 2 * kPipeBuf);
		ASSERT_EQ(sys_write(rw.get(), data.data(), prefill), ok(prefill));
		EXPECT_EQ(sys_write(rw.get(), data.data() + prefill, 2 * kPipeBuf), ok(free_space));
		EXPECT_EQ(get_stats(rw.get()).used, capacity_);
		std::vector<uint8_t> got = read_bytes(rw.get(), capacity_);
		EXPECT_TRUE(same_bytes(got, std::vector<uint8_t>(data.begin(), data.begin() + capacity_)));
	}
}

TEST_F(CircbufWrite, NonblockingPipeBufWriteIsAllOrNothing)
{
	if (!reload(kSize16k))
		return;
	struct Case {
		size_t free_space, size;
	};
	for (Case c : {Case{100, 200}, Case{4000, kPipeBuf}, Case{1, 2}}) {
		SCOPED_TRACE("write of " + std::to_string(c.size) + " with " + std::to_string(c.free_space) + " free");
		Fd rw = open_device(O_RDWR | O_NONBLOCK);
		ASSERT_TRUE(rw.ok()) << std::strerror(errno);
		const size_t prefill = capacity_ - c.free_space;
		const std::vector<uint8_t> data = pattern(0, capacity_);
		ASSERT_EQ(sys_write(rw.get(), data.data(), prefill), ok(prefill));
		const circbuf_stats before = get_stats(rw.get());
		EXPECT_EQ(sys_write(rw.get(), data.data(), c.size), err(EAGAIN));
		const circbuf_stats after = get_stats(rw.get());
		EXPECT_EQ(after.used, prefill);
		EXPECT_EQ(after.bytes_written, before.bytes_written);
		// What does fit goes in whole.
		EXPECT_EQ(sys_write(rw.get(), data.data() + prefill, c.free_space), ok(c.free_space));
		EXPECT_TRUE(same_bytes(read_bytes(rw.get(), capacity_), data));
	}
}

TEST_F(CircbufWrite, PipeBufRecordsOfConcurrentWritersDoNotInterleave)
{
	if (!reload(kSize16k))
		return;
	// 800 records, 200 laps of the 16 KiB ring: every record boundary
	// meets every amount of free space many times over.
	constexpr int kWriters = 4;
	constexpr int kRecords = 200;
	const size_t rec = std::min<uint64_t>(kPipeBuf, capacity_);

	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	std::vector<Fd> wfds;
	for (int i = 0; i < kWriters; i++) {
		wfds.push_back(open_device(O_WRONLY));
		ASSERT_TRUE(wfds.back().ok()) << std::strerror(errno);
	}
	std::vector<std::unique_ptr<Background<Io>>> writers;
	for (int i = 0; i < kWriters; i++) {
		writers.push_back(std::make_unique<Background<Io>>([&, i] {
			const std::vector<uint8_t> record(rec, static_cast<uint8_t>(i + 1));
			for (int k = 0; k < kRecords; k++) {
				Io res = sys_write(wfds[i].get(), record.data(), rec);
				if (res != ok(rec))
					return res;
			}
			return ok(rec * kRecords);
		}));
	}

	// Read in sizes prime to the record size, so that writers find every
	// amount of free space, not just whole records.
	const std::array<size_t, 4> rsizes = {1000, 3001, 777, 5000};
	const size_t total = rec * kWriters * kRecords;
	std::vector<uint8_t> pending;
	std::array<int, kWriters> seen{};
	int mixed = 0;
	// A missed wake-up only slows the stream. Under the debug kernel, with
	// every transfer by DMA, it moves about 250 KB/s: within kTestTimeout.
	constexpr auto kStreamTime = 40s;
	const auto deadline = Clock::now() + kStreamTime;
	for (size_t done = 0, i = 0; done < total; i++) {
		std::vector<uint8_t> got = read_bytes(r.get(), std::min(rsizes[i % rsizes.size()], total - done));
		ASSERT_FALSE(got.empty()) << "stream stalled after " << done << " bytes";
		ASSERT_TRUE(Clock::now() < deadline)
			<< "stream too slow: " << done << " of " << total << " bytes in " << kStreamTime.count() << " s";
		done += got.size();
		pending.insert(pending.end(), got.begin(), got.end());
		for (; pending.size() >= rec; pending.erase(pending.begin(), pending.begin() + rec)) {
			const uint8_t id = pending[0];
			if (id < 1 || id > kWriters ||
			    std::any_of(pending.begin(), pending.begin() + rec, [id](uint8_t b) { return b != id; }))
				mixed++;
			else
				seen[id - 1]++;
		}
	}
	EXPECT_EQ(mixed, 0) << "records made of bytes from more than one write";
	for (int i = 0; i < kWriters; i++) {
		EXPECT_EQ(seen[i], kRecords) << "writer " << i;
		ASSERT_TRUE(writers[i]->wait(kWakeTimeout));
		EXPECT_EQ(writers[i]->result(), ok(rec * kRecords)) << "writer " << i;
	}
}

std::atomic<int> sigpipes;
void count_sigpipe(int) { sigpipes++; }

TEST_F(CircbufWrite, WithoutReaderSucceedsAndRaisesNoSigpipe)
{
	if (!need_capacity(6))
		return;
	ScopedSigaction sa(SIGPIPE, count_sigpipe, 0);
	sigpipes = 0;
	Fd w = open_device(O_WRONLY);
	ASSERT_TRUE(w.ok()) << std::strerror(errno);
	ASSERT_EQ(get_stats(w.get()).readers, 0u);
	Background<Io> writer([&] { return sys_write(w.get(), "nobody", 6); });
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "write that fits blocked with no reader";
	EXPECT_EQ(writer.result(), ok(6));
	EXPECT_EQ(sigpipes, 0);
	EXPECT_EQ(get_stats(w.get()).used, 6u);
}

}  // namespace
}  // namespace circbuf_vm
