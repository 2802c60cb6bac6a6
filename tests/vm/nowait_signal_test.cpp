// Never wait where a pipe never waits, for signals: an atomic write (at most
// PIPE_BUF bytes) that a slow DMA engine moves, under a storm of signals
// whose handler has SA_RESTART, returns its full size like a pipe's write:
// never EIO, EINTR or a short count, and it completes rather than restarting
// for ever. The fault-related half of "never wait" is nowait_test.cpp.
#include "vm_test.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufNoWaitSignals : public CircbufTest {};

std::atomic<unsigned long> ticks{0};
void on_tick(int)
{
	ticks.fetch_add(1, std::memory_order_relaxed);
}

void set_blocked(int sig, bool blocked)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

// Keeps sig blocked in the calling thread for the life of the object.
class BlockedSignal {
public:
	explicit BlockedSignal(int sig) : sig_(sig) { set_blocked(sig_, true); }
	BlockedSignal(const BlockedSignal &) = delete;
	BlockedSignal &operator=(const BlockedSignal &) = delete;
	~BlockedSignal() { set_blocked(sig_, false); }

private:
	int sig_;
};

// ITIMER_REAL firing every interval for the life of the object: SIGALRM.
// The watchdog's alarm (vm_test.cpp) is the same timer, so it is saved and
// armed again, less the time spent, at the end.
class IntervalTimer {
public:
	explicit IntervalTimer(std::chrono::microseconds interval) : start_(Clock::now())
	{
		itimerval it{};
		it.it_interval = it.it_value = {0, interval.count()};
		setitimer(ITIMER_REAL, &it, &saved_);
	}
	IntervalTimer(const IntervalTimer &) = delete;
	IntervalTimer &operator=(const IntervalTimer &) = delete;
	~IntervalTimer()
	{
		itimerval it{};
		setitimer(ITIMER_REAL, &it, nullptr);
		if (saved_.it_value.tv_sec == 0 && saved_.it_value.tv_usec == 0)
			return;
		const auto saved = std::chrono::seconds(saved_.it_value.tv_sec) +
				   std::chrono::microseconds(saved_.it_value.tv_usec);
		const auto left = std::max<Clock::duration>(saved - (Clock::now() - start_), 1s);
		it.it_value.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(left).count();
		setitimer(ITIMER_REAL, &it, nullptr);
	}

private:
	Clock::time_point start_;
	itimerval saved_{};
};

// What one side of the stream did: calls and bytes that went through, and
// the first thing that went wrong ("" if nothing).
struct StreamSide {
	uint64_t calls = 0, bytes = 0;
	std::string problem;
};

// Every transfer goes by a DMA engine that takes at least 300 µs (in fact a
// jiffy) per descriptor, and the writer gets SIGALRM every 100 µs: nearly
// every DMA wait of its is interrupted. The handler has SA_RESTART, so the
// program sees no signal: each atomic write (at most PIPE_BUF bytes)
// returns its full size, never EIO, EINTR or a short count, and writes
// keep completing rather than restarting for ever.
TEST_F(CircbufNoWaitSignals, AtomicWritesBySlowDmaCompleteWholeUnderRestartingSignals)
{
	if (!need_dma())
		return;
	if (!reload({{"use_dma", "1"}, {"dma_threshold", "1"}, {"dma_latency_us", "300"}, {"buffer_size", "65536"}}))
		return;
	Fd w = open_device(O_WRONLY);
	Fd r = open_device(O_RDONLY);
	Fd st = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok() && st.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(st.get());
	constexpr auto kStorm = 3s;
	constexpr unsigned kSeed = 77;

	ticks = 0;
	ScopedSigaction handler(SIGALRM, on_tick, SA_RESTART);
	// Every tick goes to the writer: this thread and the reader block
	// them (here unblocked, a pending tick delivered, before the handler
	// goes; the reader inherits the mask).
	BlockedSignal quiet(SIGALRM);
	std::atomic<bool> stop{false};
	std::atomic<uint64_t> whole{0};  // writes that returned their full size
	Background<StreamSide> writer([&] {
		set_blocked(SIGALRM, false);
		StreamSide s;
		std::mt19937 rng(kSeed);
		while (!stop) {
			const size_t n = 1 + rng() % kPipeBuf;
			const std::vector<uint8_t> data = pattern(s.bytes, n, kSeed);
			const ssize_t ret = write(w.get(), data.data(), n);
			if (ret != ssize_t(n)) {
				s.problem = "write #" + std::to_string(s.calls + 1) + " of " + std::to_string(n) +
					    " bytes returned " + std::to_string(ret) +
					    (ret < 0 ? std::string(" ") + strerrorname_np(errno) : "");
				break;
			}
			s.calls++;
			s.bytes += n;
			whole = s.calls;
		}
		w.reset();  // end of file for the reader
		return s;
	});
	Background<StreamSide> reader([&] {
		StreamSide s;
		std::mt19937 rng(kSeed + 1);
		std::vector<uint8_t> buf(2 * kPipeBuf);
		for (;;) {
			const ssize_t ret = read(r.get(), buf.data(), 1 + rng() % buf.size());
			if (ret <= 0) {
				if (ret < 0)
					s.problem = "read returned -1 " + std::string(strerrorname_np(errno));
				break;
			}
			for (ssize_t i = 0; i < ret && s.problem.empty(); i++)
				if (buf[i] != pattern_byte(s.bytes + i, kSeed))
					s.problem = "wrong byte at offset " + std::to_string(s.bytes + i);
			s.calls++;
			s.bytes += ret;
		}
		return s;
	});
	{
		IntervalTimer storm(100us);
		const auto end = Clock::now() + kStorm;
		while (Clock::now() < end && !writer.done() && !reader.done())
			std::this_thread::sleep_for(50ms);
		stop = true;
	}
	const unsigned long signals = ticks;
	const uint64_t during = whole;
	ASSERT_TRUE(writer.wait(10s)) << "the writer was still in write() 10 s after the signals stopped";
	ASSERT_TRUE(reader.wait(10s)) << "the reader was still in read() 10 s after the writer closed";
	const StreamSide out = writer.result(), in = reader.result();
	RecordProperty("signals", std::to_string(signals));
	RecordProperty("writes_during_the_signals", std::to_string(during));
	EXPECT_GT(signals, 0u) << "no SIGALRM came: the test proved nothing";
	EXPECT_EQ(out.problem, "") << "after " << out.calls << " whole writes, " << signals << " signals";
	EXPECT_GT(during, 0u) << "no write completed in " << kStorm.count() << " s of " << signals
			      << " signals: each restart began the transfer anew";
	EXPECT_EQ(in.problem, "") << "after " << in.bytes << " bytes read";
	EXPECT_EQ(in.bytes, out.bytes) << "the reader did not see the whole stream";
	EXPECT_GT(get_stats(st.get()).dma_bytes, before.dma_bytes) << "no byte went by DMA";
}

}  // namespace
}  // namespace circbuf_vm
