// Signals arriving while a read or write sleeps: EINTR, SA_RESTART, and
// partial counts for a write that had stored some bytes.
#include "vm_test.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufSignal : public CircbufTest {};

TEST_F(CircbufSignal, ReadInterruptedWithoutSaRestartFailsWithEintr)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(r.get());
	char buf[16];
	Background<Io> reader([&] { return sys_read(r.get(), buf, sizeof(buf)); });
	ASSERT_TRUE(wait_until_blocked(reader.tid(), SYS_read));
	pthread_kill(reader.handle(), kInterruptSignal);
	ASSERT_TRUE(reader.wait(kWakeTimeout)) << "a signal did not interrupt the read";
	EXPECT_EQ(reader.result(), err(EINTR));
	EXPECT_EQ(get_stats(r.get()).reads, before.reads);
}

std::atomic<int> restart_signals;
void count_restart_signal(int) { restart_signals++; }

TEST_F(CircbufSignal, ReadWithSaRestartResumesAndCompletes)
{
	ScopedSigaction sa(SIGUSR2, count_restart_signal, SA_RESTART);
	restart_signals = 0;
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	char buf[16] = {};
	Background<Io> reader([&] { return sys_read(r.get(), buf, sizeof(buf)); });
	ASSERT_TRUE(wait_until_blocked(reader.tid(), SYS_read));
	pthread_kill(reader.handle(), SIGUSR2);
	for (auto end = Clock::now() + kWakeTimeout; restart_signals == 0 && Clock::now() < end;)
		std::this_thread::sleep_for(10ms);
	ASSERT_EQ(restart_signals, 1) << "the handler did not run";
	ASSERT_TRUE(wait_until_blocked(reader.tid(), SYS_read))
		<< "read did not go back to sleep: "
		<< (reader.done() ? testing::PrintToString(reader.result()) : "still running");
	ASSERT_FALSE(reader.done());
	ASSERT_EQ(sys_write(w.get(), "r", 1), ok(1));
	ASSERT_TRUE(reader.wait(kWakeTimeout)) << "restarted read not woken by a write";
	EXPECT_EQ(reader.result(), ok(1));
	EXPECT_EQ(buf[0], 'r');
}

TEST_F(CircbufSignal, WriteInterruptedAfterStoringReturnsPartialCount)
{
	// Above PIPE_BUF, so the write may be split, and above the capacity, so
	// it must sleep once the ring is full.
	const size_t n = std::max<uint64_t>(3 * capacity_, 3 * kPipeBuf);
	const std::vector<uint8_t> data = pattern(0, n, 4);
	Fd w = open_device(O_WRONLY);
	ASSERT_TRUE(w.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(w.get());
	Background<Io> writer([&] { return sys_write(w.get(), data.data(), n); });
	ASSERT_TRUE(wait_until_blocked(writer.tid(), SYS_write))
		<< "write did not sleep: " << (writer.done() ? testing::PrintToString(writer.result()) : "");
	EXPECT_EQ(get_stats(w.get()).used, capacity_);
	pthread_kill(writer.handle(), kInterruptSignal);
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "a signal did not interrupt the write";
	EXPECT_EQ(writer.result(), ok(capacity_));
	const circbuf_stats after = get_stats(w.get());
	EXPECT_EQ(after.bytes_written - before.bytes_written, capacity_);
	EXPECT_EQ(after.writes - before.writes, 1u);
	EXPECT_EQ(after.used, capacity_);

	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	EXPECT_TRUE(same_bytes(read_bytes(r.get(), capacity_), pattern(0, capacity_, 4)));
}

TEST_F(CircbufSignal, WriteInterruptedBeforeStoringFailsWithEintr)
{
	Fd w = open_device(O_WRONLY);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> fill = pattern(0, capacity_);
	ASSERT_EQ(sys_write(rw.get(), fill.data(), fill.size()), ok(capacity_));
	const circbuf_stats before = get_stats(rw.get());
	Background<Io> writer([&] { return sys_write(w.get(), "late", 4); });
	ASSERT_TRUE(wait_until_blocked(writer.tid(), SYS_write));
	pthread_kill(writer.handle(), kInterruptSignal);
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "a signal did not interrupt the write";
	EXPECT_EQ(writer.result(), err(EINTR));
	const circbuf_stats after = get_stats(rw.get());
	EXPECT_EQ(after.writes, before.writes);
	EXPECT_EQ(after.bytes_written, before.bytes_written);
	EXPECT_EQ(after.used, capacity_);
}

}  // namespace
}  // namespace circbuf_vm
