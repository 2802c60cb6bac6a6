// O_ASYNC on /dev/circbuf, as on a pipe: the owner of a file that reads gets
// SIGIO with POLL_IN when data arrives and when the last writer closes; the
// owner of a file that writes gets POLL_OUT when a read leaves room for an
// atomic write (the rule of POLLOUT). With F_SETSIG the signal carries
// si_code, si_band and si_fd.
#include "vm_test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufFasync : public CircbufTest {};

// The signal the tests ask for with F_SETSIG: a queued real-time signal,
// with the siginfo that plain SIGIO lacks.
int async_signal()
{
	return SIGRTMIN + 3;
}

// How long a test waits to believe that no signal is coming.
constexpr auto kNoSignal = 200ms;

// si_band of POLL_IN and of POLL_OUT: the kernel's band_table.
constexpr long kBandIn = POLLIN | POLLRDNORM;
constexpr long kBandOut = POLLOUT | POLLWRNORM | POLLWRBAND;

// Blocks signo in the calling thread (and in threads it starts) for the
// object's life, so that its signals stay pending for next(). Declare it
// before the files that signal: at its end it takes what is still pending,
// then restores the mask, and a signal unblocked while pending would kill
// the suite.
class BlockedSignal {
public:
	explicit BlockedSignal(int signo) : signo_(signo)
	{
		sigemptyset(&set_);
		sigaddset(&set_, signo);
		pthread_sigmask(SIG_BLOCK, &set_, &old_);
	}
	BlockedSignal(const BlockedSignal &) = delete;
	BlockedSignal &operator=(const BlockedSignal &) = delete;
	~BlockedSignal()
	{
		drain();
		pthread_sigmask(SIG_SETMASK, &old_, nullptr);
	}

	// The next signo for this thread within timeout, if any.
	std::optional<siginfo_t> next(Clock::duration timeout) const { return wait_signal(set_, timeout); }

	// Takes every signo pending now; returns how many there were.
	int drain() const
	{
		int n = 0;
		while (next(0ms))
			n++;
		return n;
	}

	static std::optional<siginfo_t> wait_signal(const sigset_t &set, Clock::duration timeout)
	{
		const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
		const timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
		siginfo_t si{};
		int r;
		do
			r = sigtimedwait(&set, &si, &ts);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return std::nullopt;
		return si;
	}

private:
	int signo_;
	sigset_t set_{};
	sigset_t old_{};
};

// Makes fd signal thread tid with sig (0: plain SIGIO) when it is ready.
void make_async(int fd, pid_t tid, int sig)
{
	const f_owner_ex owner{F_OWNER_TID, tid};
	ASSERT_EQ(fcntl(fd, F_SETOWN_EX, &owner), 0) << std::strerror(errno);
	ASSERT_EQ(fcntl(fd, F_SETSIG, sig), 0) << std::strerror(errno);
	const int fl = fcntl(fd, F_GETFL);
	ASSERT_GE(fl, 0) << std::strerror(errno);
	ASSERT_EQ(fcntl(fd, F_SETFL, fl | O_ASYNC), 0) << std::strerror(errno);
}

// Checks that si is async_signal() for fd with reason code and band.
void expect_signal(const std::optional<siginfo_t> &si, int fd, int code, long band)
{
	ASSERT_TRUE(si.has_value()) << "no signal";
	EXPECT_EQ(si->si_signo, async_signal());
	EXPECT_EQ(si->si_code, code) << "POLL_IN is " << POLL_IN << ", POLL_OUT " << POLL_OUT;
	EXPECT_EQ(si->si_band, band);
	EXPECT_EQ(si->si_fd, fd);
}

// Writes n bytes through fd (non-blocking), which must all fit.
void put(int fd, size_t n)
{
	const std::vector<uint8_t> data = pattern(0, n);
	ASSERT_EQ(sys_write(fd, data.data(), n), ok(static_cast<ssize_t>(n)));
}

// Reads exactly n bytes through fd (non-blocking), which must be there.
void take(int fd, size_t n)
{
	std::vector<uint8_t> buf(n);
	ASSERT_EQ(sys_read(fd, buf.data(), n), ok(static_cast<ssize_t>(n)));
}

// Room for any atomic write: the rule of POLLOUT and of POLL_OUT.
size_t writable_threshold(uint64_t capacity)
{
	return std::min<size_t>(kPipeBuf, capacity);
}

TEST_F(CircbufFasync, ReadOnlyFileGetsPollInWhenDataArrives)
{
	BlockedSignal sig(async_signal());
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && w.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(make_async(r.get(), gettid(), async_signal()));
	EXPECT_FALSE(sig.next(kNoSignal)) << "a signal before any data";
	ASSERT_NO_FATAL_FAILURE(put(w.get(), 1));
	expect_signal(sig.next(kWakeTimeout), r.get(), POLL_IN, kBandIn);
}

TEST_F(CircbufFasync, ReadOnlyFileGetsNothingWhenSpaceFrees)
{
	BlockedSignal sig(async_signal());
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(put(rw.get(), capacity_));
	ASSERT_NO_FATAL_FAILURE(make_async(r.get(), gettid(), async_signal()));
	ASSERT_NO_FATAL_FAILURE(take(rw.get(), capacity_));
	EXPECT_FALSE(sig.next(kNoSignal)) << "a reading file signalled for space";
}

TEST_F(CircbufFasync, WriteOnlyFileGetsPollOutFromExactlyTheThreshold)
{
	BlockedSignal sig(async_signal());
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(put(rw.get(), capacity_));
	ASSERT_NO_FATAL_FAILURE(make_async(w.get(), gettid(), async_signal()));
	const size_t below = writable_threshold(capacity_) - 1;
	if (below) {
		ASSERT_NO_FATAL_FAILURE(take(rw.get(), below));
		EXPECT_FALSE(sig.next(kNoSignal)) << "POLL_OUT one byte below the threshold";
	}
	ASSERT_NO_FATAL_FAILURE(take(rw.get(), 1));
	expect_signal(sig.next(kWakeTimeout), w.get(), POLL_OUT, kBandOut);
}

TEST_F(CircbufFasync, WriteOnlyFileGetsNothingWhenDataArrives)
{
	BlockedSignal sig(async_signal());
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(make_async(w.get(), gettid(), async_signal()));
	ASSERT_NO_FATAL_FAILURE(put(w.get(), 1));
	EXPECT_FALSE(sig.next(kNoSignal)) << "a writing file signalled for data";
}

TEST_F(CircbufFasync, ReadWriteFileGetsPollInAndPollOut)
{
	BlockedSignal sig(async_signal());
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(make_async(rw.get(), gettid(), async_signal()));
	ASSERT_NO_FATAL_FAILURE(put(rw.get(), 1));
	expect_signal(sig.next(kWakeTimeout), rw.get(), POLL_IN, kBandIn);
	EXPECT_FALSE(sig.next(0ms)) << "more than one signal for a one-byte write";
	ASSERT_NO_FATAL_FAILURE(take(rw.get(), 1));
	expect_signal(sig.next(kWakeTimeout), rw.get(), POLL_OUT, kBandOut);
}

TEST_F(CircbufFasync, ReaderGetsPollInWhenTheLastWriterCloses)
{
	BlockedSignal sig(async_signal());
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	Fd w1 = open_device(O_WRONLY | O_NONBLOCK);
	Fd w2 = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && w1.ok() && w2.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(make_async(r.get(), gettid(), async_signal()));
	w1.reset();
	EXPECT_FALSE(sig.next(kNoSignal)) << "a signal while a writer is left";
	w2.reset();
	expect_signal(sig.next(kWakeTimeout), r.get(), POLL_IN, kBandIn);
	char c;
	EXPECT_EQ(sys_read(r.get(), &c, 1), ok(0)) << "the signal came, but not end of file";
}

TEST_F(CircbufFasync, SignalGoesToTheOwnerThreadOnly)
{
	BlockedSignal sig(async_signal());  // inherited by the owner thread
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && w.ok()) << std::strerror(errno);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, async_signal());
	Background<std::optional<siginfo_t>> owner([&] { return BlockedSignal::wait_signal(set, kWakeTimeout); });
	ASSERT_NO_FATAL_FAILURE(make_async(r.get(), owner.tid(), async_signal()));
	ASSERT_NO_FATAL_FAILURE(put(w.get(), 1));
	ASSERT_TRUE(owner.wait(2 * kWakeTimeout));
	expect_signal(owner.result(), r.get(), POLL_IN, kBandIn);
	EXPECT_FALSE(sig.next(0ms)) << "the signal reached a thread that does not own the file";
}

TEST_F(CircbufFasync, PlainSigioWithoutSetsig)
{
	BlockedSignal sig(SIGIO);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && w.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(make_async(r.get(), gettid(), 0));
	ASSERT_NO_FATAL_FAILURE(put(w.get(), 1));
	const std::optional<siginfo_t> si = sig.next(kWakeTimeout);
	ASSERT_TRUE(si.has_value()) << "no SIGIO";
	EXPECT_EQ(si->si_signo, SIGIO);
	EXPECT_EQ(si->si_code, SI_KERNEL) << "plain SIGIO carries no reason";
}

TEST_F(CircbufFasync, FioasyncTurnsSignalsOnAndOff)
{
	BlockedSignal sig(async_signal());
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && w.ok()) << std::strerror(errno);
	const f_owner_ex owner{F_OWNER_TID, gettid()};
	ASSERT_EQ(fcntl(r.get(), F_SETOWN_EX, &owner), 0) << std::strerror(errno);
	ASSERT_EQ(fcntl(r.get(), F_SETSIG, async_signal()), 0) << std::strerror(errno);
	int on = 1;
	ASSERT_EQ(ioctl(r.get(), FIOASYNC, &on), 0) << std::strerror(errno);
	EXPECT_TRUE(fcntl(r.get(), F_GETFL) & O_ASYNC);
	ASSERT_NO_FATAL_FAILURE(put(w.get(), 1));
	expect_signal(sig.next(kWakeTimeout), r.get(), POLL_IN, kBandIn);
	on = 0;
	ASSERT_EQ(ioctl(r.get(), FIOASYNC, &on), 0) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(put(w.get(), 1));
	EXPECT_FALSE(sig.next(kNoSignal)) << "a signal after FIOASYNC 0";
}

TEST_F(CircbufFasync, ClearingOAsyncStopsSignals)
{
	BlockedSignal sig(async_signal());
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(make_async(rw.get(), gettid(), async_signal()));
	ASSERT_EQ(fcntl(rw.get(), F_SETFL, O_NONBLOCK), 0) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(put(rw.get(), capacity_));
	ASSERT_NO_FATAL_FAILURE(take(rw.get(), capacity_));
	EXPECT_FALSE(sig.next(kNoSignal)) << "a signal after O_ASYNC was cleared";
}

// A closed O_ASYNC file leaves both lists: signalling it afterwards would
// touch freed memory (KASAN's report, on the debug kernel) or signal a
// thread about a file it no longer has.
TEST_F(CircbufFasync, ClosedReadWriteFileIsNoLongerSignalled)
{
	BlockedSignal sig(async_signal());
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && w.ok() && rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(make_async(rw.get(), gettid(), async_signal()));
	rw.reset();
	ASSERT_NO_FATAL_FAILURE(put(w.get(), capacity_));
	ASSERT_NO_FATAL_FAILURE(take(r.get(), capacity_));
	w.reset();
	EXPECT_FALSE(sig.next(kNoSignal)) << "a closed file was signalled";
}

}  // namespace
}  // namespace circbuf_vm
