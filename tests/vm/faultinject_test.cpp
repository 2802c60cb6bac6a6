// Fault injection in the data path.
//
// CircbufFaultInject (debug kernel only; skipped where
// /proc/thread-self/fail-nth does not exist): read, write, readv and writev
// with the Nth fault-injection point of the call failing, for N = 1, 2, ...
// until the call no longer reaches N. The points are every copy to or from
// user memory (fail_usercopy) and every slab allocation (failslab, the DMA
// path's page arrays, scatterlists, requests and descriptors). Each call
// must return the full count, a partial count or EFAULT, and afterwards the
// ring must hold exactly what the call said it moved: nothing lost, nothing
// twice. The suite runs in every lane of check-debug: DMA off, DMA from the
// threshold up (these transfers are below it: CPU copies) and every
// transfer by DMA, where a failed allocation falls back to the CPU path.
//
// CircbufDmaFaultLoad (any kernel): the engine's own fault injection
// (debugfs circbuf-dma/fail_nth and hang_nth) armed again and again while
// several writers and readers run, every transfer by DMA in one-page
// segments: failed descriptors and timeouts under load, which the CPU
// finishes in the same call, so that no call fails or falls short; checked
// record by record and byte by byte.
#include "vm_test.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "circbuf/record.h"
#include "tests/fault/fail_nth.h"

namespace circbuf_vm {
namespace {

using circbuf_fault::FailNth;
using circbuf_fault::ScopedKnob;

// ---- fail-nth sweeps of read and write ------------------------------------

constexpr unsigned kMaxPoints = 10000;

// What the calls of one sweep returned.
struct Sweep {
	unsigned points = 0;	 // calls in which the armed point failed
	unsigned full = 0;	 // ... and still moved everything (a fallback)
	unsigned partial = 0;	 // ... and moved a prefix
	unsigned efault = 0;	 // ... and moved nothing

	// Counts a call of len bytes in which the point failed; false unless
	// it returned one of the three.
	bool count(const Io &io, size_t len)
	{
		points++;
		if (io.ret == static_cast<ssize_t>(len))
			full++;
		else if (io.ret > 0)
			partial++;
		else
			efault++;
		return io.ret >= 0 ? io.ret > 0 && io.ret <= static_cast<ssize_t>(len) : io.err == EFAULT;
	}
	void report(const char *what) const
	{
		std::cout << "[ SWEEP    ] " << what << ": " << points << " injection points: " << partial
			  << " partial, " << efault << " EFAULT, " << full << " complete (fallback)" << std::endl;
		testing::Test::RecordProperty("injection_points", static_cast<int>(points));
	}
};

class CircbufFaultInject : public CircbufTest {
protected:
	void SetUp() override
	{
		if (!circbuf_fault::fail_nth_available())
			GTEST_SKIP() << "no " << circbuf_fault::kFailNth << ": a kernel without fault injection";
		CircbufTest::SetUp();
		if (HasFatalFailure())
			return;
		// Slab allocations that may sleep count too; page allocations do
		// not (no order reaches 100); no log lines, no stack dumps.
		knob("failslab", "ignore-gfp-wait", "N");
		knob("fail_page_alloc", "min-order", "100");
		for (const char *kind : {"failslab", "fail_page_alloc", "fail_usercopy"})
			knob(kind, "verbose", "0");
		// One CPU for the whole sweep: see refill_preloads().
		ASSERT_EQ(sched_getaffinity(0, sizeof(saved_cpus_), &saved_cpus_), 0) << std::strerror(errno);
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(sched_getcpu(), &one);
		ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0) << std::strerror(errno);
		pinned_ = true;
	}

	void TearDown() override
	{
		if (pinned_)
			sched_setaffinity(0, sizeof(saved_cpus_), &saved_cpus_);
		CircbufTest::TearDown();
	}

	// DMA-API debugging (the debug kernel's CONFIG_DMA_API_DEBUG) files
	// every streaming mapping a device may write in a radix tree, with a
	// GFP_ATOMIC allocation in the mapping task: an injected failure there
	// would turn DMA-API debugging off for the rest of the boot
	// ("cacheline tracking ENOMEM"). The radix tree then takes a node
	// from this CPU's preload pool instead, if it has one; every fork
	// fills the pool of the forking task's CPU (alloc_pid() preloads its
	// IDR). Call right before arming, on the pinned CPU.
	static void refill_preloads()
	{
		const pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, nullptr, 0);
	}

	// Arms point n of fail, on a refilled preload pool, right before the
	// call.
	static testing::AssertionResult arm(FailNth &fail, unsigned n)
	{
		refill_preloads();
		if (auto r = fail.arm(n); !r)
			return testing::AssertionFailure() << "arming point " << n << ": " << r.error().message();
		return testing::AssertionSuccess();
	}

	// What a system call returned, with errno.
	static Io io_of(ssize_t ret) { return ret >= 0 ? ok(ret) : err(errno); }

	void knob(const char *kind, const char *name, const char *value)
	{
		knobs_.push_back(std::make_unique<ScopedKnob>(kind, name, value));
		ASSERT_TRUE(knobs_.back()->ok()) << knobs_.back()->error();
	}

	// Empties the ring through rw and moves its head to ring offset off:
	// the ring keeps its head when drained, so the next transfer starts
	// there and wraps if it is longer than capacity_ - off.
	void position(int rw, uint64_t off)
	{
		const circbuf_stats s = get_stats(rw);
		ASSERT_EQ(s.used, 0u);
		ASSERT_TRUE(cycle_bytes(rw, (off + capacity_ - s.bytes_read % capacity_) % capacity_));
	}

	// One sweep of write() or, @vectored, writev(); of read() or readv():
	// for N = 1, 2, ... one call from kTail bytes before the ring's end
	// with the Nth point armed, until the call no longer reaches N.
	void sweep(int rw, bool write, bool vectored, Sweep &s);
	// One call of a sweep, with point n armed; sets @done if the point
	// did not fire.
	void write_point(int rw, bool vectored, FailNth &fail, unsigned n, Sweep &s, bool &done);
	void read_point(int rw, bool vectored, FailNth &fail, unsigned n, Sweep &s, bool &done);

	// A test: one sweep of @call through a new file, reported; some point
	// must have failed.
	enum Call { kRead, kReadv, kWrite, kWritev };
	void run_sweep(Call call);

	std::vector<std::unique_ptr<ScopedKnob>> knobs_;
	cpu_set_t saved_cpus_;
	bool pinned_ = false;
};

// Transfers of 3000 bytes that start 1000 bytes before the ring's end: two
// pieces, so that a copy can fail after the first. Fits the harness's
// default 4096-byte ring.
constexpr size_t kLen = 3000, kTail = 1000;

// The three buffers of a vectored call: a wrap-sized one, a single byte and
// the rest, each its own allocation.
constexpr std::array<size_t, 3> kVec = {kTail, 1, kLen - kTail - 1};

std::vector<iovec> iovecs(std::vector<std::vector<uint8_t>> &parts)
{
	std::vector<iovec> iov;
	for (auto &p : parts)
		iov.push_back({p.data(), p.size()});
	return iov;
}

std::vector<std::vector<uint8_t>> split(const std::vector<uint8_t> &data)
{
	std::vector<std::vector<uint8_t>> parts;
	size_t off = 0;
	for (size_t n : kVec) {
		parts.emplace_back(data.begin() + off, data.begin() + off + n);
		off += n;
	}
	return parts;
}

// Reads what the ring holds after point n of a sweep: exactly @want.
void expect_holds(int rw, const std::vector<uint8_t> &want, unsigned n)
{
	std::vector<uint8_t> back(kLen);
	Io r = sys_read(rw, back.data(), kLen);
	back.resize(std::max<ssize_t>(r.ret, 0));
	EXPECT_EQ(r, want.empty() ? err(EAGAIN) : ok(want.size())) << "point " << n;
	EXPECT_TRUE(same_bytes(back, want)) << "point " << n << ": what the ring holds";
}

void CircbufFaultInject::sweep(int rw, bool write, bool vectored, Sweep &s)
{
	FailNth fail;
	ASSERT_TRUE(fail.ok()) << circbuf_fault::kFailNth << ": " << std::strerror(errno);
	const char *what = write ? "write" : "read";
	bool done = false;
	for (unsigned n = 1; !done; n++) {
		ASSERT_LT(n, kMaxPoints) << "the " << what << " still reaches new injection points";
		position(rw, capacity_ - kTail);
		if (HasFatalFailure())
			return;
		if (write)
			write_point(rw, vectored, fail, n, s, done);
		else
			read_point(rw, vectored, fail, n, s, done);
		if (HasFatalFailure())
			return;
	}
}

// @vectored: writev() from kVec's buffers.
void CircbufFaultInject::write_point(int rw, bool vectored, FailNth &fail, unsigned n, Sweep &s, bool &done)
{
	const std::vector<uint8_t> data = pattern(0, kLen, n);
	std::vector<std::vector<uint8_t>> parts = split(data);
	std::vector<iovec> iov = iovecs(parts);
	const circbuf_stats before = get_stats(rw);

	ASSERT_TRUE(arm(fail, n));
	const Io w = io_of(vectored ? writev(rw, iov.data(), static_cast<int>(iov.size()))
				    : syscall(SYS_write, rw, data.data(), kLen));
	const bool fired = fail.fired();

	if (!fired) {
		EXPECT_EQ(w, ok(kLen)) << "the write without a fault, after " << n - 1 << " points";
		done = true;
		return;
	}
	ASSERT_TRUE(s.count(w, kLen)) << "point " << n << ": the write " << testing::PrintToString(w);
	const size_t committed = std::max<ssize_t>(w.ret, 0);
	const circbuf_stats after = get_stats(rw);
	EXPECT_EQ(after.used, committed) << "point " << n << ": the write " << testing::PrintToString(w);
	EXPECT_EQ(after.bytes_written - before.bytes_written, committed) << "point " << n;
	EXPECT_EQ(after.writes - before.writes, committed ? 1u : 0u) << "point " << n;
	// What the ring holds is the written prefix, byte for byte.
	expect_holds(rw, pattern(0, committed, n), n);
}

// @vectored: readv() into kVec's buffers.
void CircbufFaultInject::read_point(int rw, bool vectored, FailNth &fail, unsigned n, Sweep &s, bool &done)
{
	const std::vector<uint8_t> data = pattern(0, kLen, n);
	ASSERT_EQ(sys_write(rw, data.data(), kLen), ok(kLen));
	std::vector<uint8_t> got(kLen, 0xEE);
	std::vector<std::vector<uint8_t>> parts = split(got);
	std::vector<iovec> iov = iovecs(parts);
	const circbuf_stats before = get_stats(rw);

	ASSERT_TRUE(arm(fail, n));
	const Io io = io_of(vectored ? readv(rw, iov.data(), static_cast<int>(iov.size()))
				     : syscall(SYS_read, rw, got.data(), kLen));
	const bool fired = fail.fired();
	if (vectored) {
		got.clear();
		for (auto &p : parts)
			got.insert(got.end(), p.begin(), p.end());
	}

	if (!fired) {
		EXPECT_EQ(io, ok(kLen)) << "the read without a fault, after " << n - 1 << " points";
		EXPECT_TRUE(same_bytes(got, data));
		done = true;
		return;
	}
	ASSERT_TRUE(s.count(io, kLen)) << "point " << n << ": the read " << testing::PrintToString(io);
	const size_t taken = std::max<ssize_t>(io.ret, 0);
	got.resize(taken);
	EXPECT_TRUE(same_bytes(got, pattern(0, taken, n))) << "point " << n << ": the bytes delivered";
	const circbuf_stats after = get_stats(rw);
	EXPECT_EQ(after.used, kLen - taken) << "point " << n << ": the read " << testing::PrintToString(io);
	EXPECT_EQ(after.bytes_read - before.bytes_read, taken) << "point " << n;
	// The rest is still there, in order, once.
	expect_holds(rw, std::vector<uint8_t>(data.begin() + taken, data.end()), n);
}

void CircbufFaultInject::run_sweep(Call call)
{
	static constexpr const char *kNames[] = {"read", "readv", "write", "writev"};
	if (!need_capacity(kLen + kTail))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	Sweep s;
	sweep(rw.get(), call == kWrite || call == kWritev, call == kReadv || call == kWritev, s);
	s.report(kNames[call]);
	EXPECT_GT(s.points, 0u);
}

TEST_F(CircbufFaultInject, WriteCommitsExactlyWhatItReturnsWhateverPointFails)
{
	run_sweep(kWrite);
}

TEST_F(CircbufFaultInject, WritevCommitsExactlyWhatItReturnsWhateverPointFails)
{
	run_sweep(kWritev);
}

TEST_F(CircbufFaultInject, ReadDeliversAPrefixAndKeepsTheRestWhateverPointFails)
{
	run_sweep(kRead);
}

TEST_F(CircbufFaultInject, ReadvDeliversAPrefixAndKeepsTheRestWhateverPointFails)
{
	run_sweep(kReadv);
}

// CIRCBUF_SET_CAPACITY with its Nth fault-injection point failing, for N =
// 1, 2, ... until the call no longer reaches N: the copy of its argument
// and every slab and page allocation (the new coherent segments and their
// table, the packet slots, and the DMA mapping's tables while a channel is
// held). A call that failed changed nothing: the capacity and the data are
// as before. Growing to three segments, then shrinking back.
TEST_F(CircbufFaultInject, SetCapacityChangesNothingWhateverPointFails)
{
	// The capacity set at run time is no module parameter: reload after.
	struct Reload {
		~Reload() { EXPECT_EQ(reload_module(harness_params()), ""); }
	} reload_after;
	// Page allocations of any order, sleeping ones too: the segments.
	ScopedKnob order("fail_page_alloc", "min-order", "0");
	ScopedKnob wait("fail_page_alloc", "ignore-gfp-wait", "N");
	ASSERT_TRUE(order.ok() && wait.ok()) << order.error() << wait.error();
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 1000);
	ASSERT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(1000));
	FailNth fail;
	ASSERT_TRUE(fail.ok()) << circbuf_fault::kFailNth << ": " << std::strerror(errno);
	unsigned failed = 0, fallback = 0;
	const uint64_t old_cap = capacity_;
	for (uint64_t target : {uint64_t{3} << 20, old_cap}) {
		const uint64_t before = get_stats(rw.get()).capacity;
		bool done = false;
		for (unsigned n = 1; !done; n++) {
			ASSERT_LT(n, kMaxPoints) << "the resize still reaches new injection points";
			uint64_t cap = target;
			ASSERT_TRUE(arm(fail, n));
			const int ret = ioctl(rw.get(), CIRCBUF_SET_CAPACITY, &cap);
			const int e = errno;
			const bool fired = fail.fired();
			const circbuf_stats st = get_stats(rw.get());
			ASSERT_EQ(st.used, 1000u) << "point " << n;
			if (ret == 0) {
				ASSERT_EQ(st.capacity, target) << "point " << n;
				done = !fired;
				if (fired) {  // a failed allocation retried elsewhere
					fallback++;
					cap = before;
					ASSERT_EQ(ioctl(rw.get(), CIRCBUF_SET_CAPACITY, &cap), 0) << std::strerror(errno);
				}
				continue;
			}
			ASSERT_TRUE(fired) << "point " << n << ": failed with " << std::strerror(e) << " unarmed";
			failed++;
			EXPECT_EQ(st.capacity, before) << "point " << n << ": a failed resize changed the capacity ("
						      << std::strerror(e) << ")";
		}
	}
	// The data went through two resizes and every failed one.
	EXPECT_TRUE(same_bytes(read_bytes(rw.get(), 1000), data));
	std::cout << "[ SWEEP    ] set capacity: " << failed << " injection points failed it, " << fallback
		  << " fell back" << std::endl;
	EXPECT_GT(failed, 0u);
}

// CIRCBUF_CTL_ADD with each allocation failing in turn (the ring, its
// segments, its packet slots, its node and sysfs group): a failed add leaves
// no node, no table entry and no reserved capacity (and no leak: kmemleak
// on the debug kernel).
TEST_F(CircbufFaultInject, AddRingLeavesNothingBehindWhateverPointFails)
{
	ScopedKnob order("fail_page_alloc", "min-order", "0");
	ScopedKnob wait("fail_page_alloc", "ignore-gfp-wait", "N");
	ASSERT_TRUE(order.ok() && wait.ok()) << order.error() << wait.error();
	Fd ctl(open("/dev/" CIRCBUF_CONTROL_NAME, O_RDWR | O_CLOEXEC));
	ASSERT_TRUE(ctl.ok()) << std::strerror(errno);
	const auto total = [] {
		const auto text = read_text_file("/proc/circbuf");
		const size_t at = text ? text->find("rings.total_size: ") : std::string::npos;
		return at == std::string::npos ? std::string("?") : text->substr(at + 18, text->find('\n', at) - at - 18);
	};
	const std::string total_before = total();
	FailNth fail;
	ASSERT_TRUE(fail.ok()) << circbuf_fault::kFailNth << ": " << std::strerror(errno);
	unsigned failed = 0;
	for (unsigned n = 1;; n++) {
		ASSERT_LT(n, kMaxPoints) << "the add still reaches new injection points";
		circbuf_ctl_add req{};
		req.capacity = 3 << 20;  // three 1 MiB segments
		req.number = 5;
		req.flags = CIRCBUF_CTL_NUMBER;
		ASSERT_TRUE(arm(fail, n));
		const int ret = ioctl(ctl.get(), CIRCBUF_CTL_ADD, &req);
		const int e = errno;
		const bool fired = fail.fired();
		if (ret == 5) {
			ASSERT_EQ(ioctl(ctl.get(), CIRCBUF_CTL_REMOVE, 5ul), 0) << std::strerror(errno);
			if (!fired)
				break;
			continue;  // a failed allocation retried elsewhere
		}
		ASSERT_EQ(ret, -1);
		ASSERT_TRUE(fired) << "point " << n << ": failed with " << std::strerror(e) << " unarmed";
		failed++;
		EXPECT_NE(access("/dev/circbuf5", F_OK), 0) << "point " << n << ": a node left behind";
		EXPECT_NE(access("/sys/class/misc/circbuf5", F_OK), 0) << "point " << n;
		EXPECT_EQ(total(), total_before) << "point " << n << ": capacity left reserved";
	}
	// The number is free and works after every failure.
	circbuf_ctl_add req{};
	req.number = 5;
	req.flags = CIRCBUF_CTL_NUMBER;
	EXPECT_EQ(ioctl(ctl.get(), CIRCBUF_CTL_ADD, &req), 5) << std::strerror(errno);
	EXPECT_EQ(ioctl(ctl.get(), CIRCBUF_CTL_REMOVE, 5ul), 0);
	std::cout << "[ SWEEP    ] add: " << failed << " injection points failed it" << std::endl;
	EXPECT_GT(failed, 0u);
}

// ---- the engine's fault injection under load --------------------------------

constexpr char kEngineFailNth[] = "/sys/kernel/debug/circbuf-dma/fail_nth";
constexpr char kEngineHangNth[] = "/sys/kernel/debug/circbuf-dma/hang_nth";

// Every transfer by DMA, one-page segments (many descriptors per call), a
// short timeout so that hung descriptors cost little.
const Params kLoadParams = {
	{"use_dma", "1"},	  {"dma_threshold", "1"}, {"buffer_size", "65536"},
	{"segment_size", "4096"}, {"dma_timeout_ms", "200"}, {"dma_latency_us", "0"},
	{"dma_channels", "1"},	  {"dma_any_channel", "0"},
};
constexpr auto kLoadTime = 4s;

// Arms fail_nth (four times in five) or hang_nth with a small N, waits
// until the engine consumed it, and again, until stopped; counts what was
// consumed.
class Injector {
public:
	Injector() : thread_([this] { run(); }) {}
	~Injector() { stop(); }

	void stop()
	{
		stop_ = true;
		if (thread_.joinable())
			thread_.join();
	}
	unsigned fails() const { return fails_; }
	unsigned hangs() const { return hangs_; }
	const std::string &error() const { return error_; }

private:
	void run()
	{
		circbuf::Rng rng{42};
		while (!stop_) {
			const bool hang = rng.between(0, 4) == 0;
			const char *file = hang ? kEngineHangNth : kEngineFailNth;
			if (auto r = circbuf_fault::write_knob(file, std::to_string(rng.between(1, 6))); !r) {
				error_ = std::string("arming ") + file + ": " + r.error().message();
				return;
			}
			std::string left;
			while (!stop_ && (left = circbuf_fault::read_knob(file)) != "0")
				std::this_thread::sleep_for(2ms);
			if (circbuf_fault::read_knob(file) == "0")
				(hang ? hangs_ : fails_)++;
			circbuf_fault::write_knob(file, "0");
		}
	}

	std::atomic<bool> stop_{false};
	unsigned fails_ = 0, hangs_ = 0;
	std::string error_;
	std::thread thread_;
};

class CircbufDmaFaultLoad : public CircbufTest {
protected:
	void SetUp() override
	{
		CircbufTest::SetUp();
		// A skip here skips the test's body.
		if (!HasFatalFailure())
			(void)need_dma();
	}

	Fd open_or_fail(int flags)
	{
		Fd fd = open_device(flags);
		EXPECT_TRUE(fd.ok()) << "open " << kDevice << ": " << std::strerror(errno);
		return fd;
	}
	circbuf_stats stats_now()
	{
		Fd fd = open_or_fail(O_RDONLY | O_NONBLOCK);
		return get_stats(fd.get());
	}

	// Loads kLoadParams and opens the writers' and readers' files; the
	// counters before the load. False when the test cannot go on: use as
	// if (!start(...)) return;
	[[nodiscard]] bool start(std::span<Fd> writers, std::span<Fd> readers, circbuf_stats &before)
	{
		if (!reload(kLoadParams))
			return false;
		before = stats_now();
		for (auto &fd : writers)
			fd = open_or_fail(O_WRONLY);
		for (auto &fd : readers)
			fd = open_or_fail(O_RDONLY);
		return !HasFailure();
	}

	// Lets the threads run for kLoadTime, then stops the writers and the
	// injector and waits for all; false if the injector failed.
	[[nodiscard]] static bool run(std::atomic<bool> &stop, std::vector<std::thread> &threads, Injector &inj)
	{
		std::this_thread::sleep_for(kLoadTime);
		stop = true;
		for (auto &t : threads)
			t.join();
		inj.stop();
		EXPECT_EQ(inj.error(), "");
		return inj.error().empty();
	}

	// The counters after the load (reported): every byte written was read,
	// nothing left, one timeout per hung descriptor, and the CPU moved what
	// the injected faults kept from DMA (with dma_threshold=1 every
	// transfer goes by DMA). Returns them.
	circbuf_stats expect_counters(const circbuf_stats &before, const Injector &inj, uint64_t written, uint64_t read)
	{
		const circbuf_stats after = stats_now();
		const uint64_t cpu = after.cpu_bytes - before.cpu_bytes;
		std::cout << "[ LOAD     ] " << written << " bytes, " << inj.fails() << " failed and " << inj.hangs()
			  << " hung descriptors injected; " << cpu << " bytes finished by CPU" << std::endl;
		EXPECT_GT(inj.fails() + inj.hangs(), 0u) << "no fault was injected";
		EXPECT_EQ(after.used, 0u);
		EXPECT_EQ(after.bytes_written - before.bytes_written, written);
		EXPECT_EQ(after.bytes_read - before.bytes_read, read);
		EXPECT_EQ(after.dma_timeouts - before.dma_timeouts, inj.hangs()) << "one timeout per hung descriptor";
		EXPECT_EQ(after.dma_bytes - before.dma_bytes + cpu, read + written);
		EXPECT_GT(cpu, 0u) << "the CPU finished no transfer that a fault cut short";
		return after;
	}
};

constexpr size_t kRecord = 256;
constexpr unsigned kWriters = 3, kReaders = 3;

// What one writer did: records 0..records-1 written.
struct WriterLog {
	uint64_t records = 0, bytes = 0;
	uint32_t writes = 0;
	std::string error;
};

// Each write, of at most PIPE_BUF bytes, is atomic: it must store all its
// records at once, whatever the engine does with its descriptors.
void record_writer(int fd, uint32_t id, const std::atomic<bool> &stop, WriterLog &log)
{
	circbuf::Rng rng{1000 + id};
	std::vector<std::byte> buf(kPipeBuf);
	while (!stop) {
		const size_t nrec = rng.between(1, kPipeBuf / kRecord);
		for (size_t i = 0; i < nrec; i++)
			circbuf::encode_record(std::span(buf).subspan(i * kRecord, kRecord),
					       {id, log.records + i, log.writes, uint16_t(i), uint16_t(nrec)});
		const size_t len = nrec * kRecord;
		Io w = sys_write(fd, buf.data(), len);
		if (w != ok(len)) {
			log.error = "write of " + std::to_string(len) + " bytes: " + testing::PrintToString(w);
			return;
		}
		log.bytes += len;
		log.records += nrec;
		log.writes++;
	}
}

// The readers' common view: they read one at a time, so the concatenation
// of their reads is the device's stream; parsed as it comes.
struct StreamCheck {
	std::mutex mu;
	std::vector<std::byte> carry;
	std::array<std::vector<uint8_t>, kWriters> seen;  // per writer: times each seq was read
	std::array<int64_t, kWriters> last{-1, -1, -1};
	std::optional<circbuf::RecordId> prev;  // the stream's last intact record
	uint64_t bytes = 0, partial = 0, garbage = 0, reordered = 0, phantom = 0, split = 0;

	// Under mu: account for @data, the next bytes of the stream.
	void add(std::span<const std::byte> data)
	{
		bytes += data.size();
		carry.insert(carry.end(), data.begin(), data.end());
		size_t off = 0;
		while (carry.size() - off >= kRecord) {
			auto id = circbuf::decode_record(std::span<const std::byte>(carry).subspan(off, kRecord));
			if (!id) {
				garbage++;
				prev.reset();
				off++;
				continue;
			}
			if (prev && !prev->may_precede(*id))
				split++;
			prev = id;
			if (id->writer >= kWriters) {
				phantom++;
			} else {
				auto &s = seen[id->writer];
				if (s.size() <= id->seq)
					s.resize(id->seq + 1);
				s[id->seq]++;
				if (static_cast<int64_t>(id->seq) <= last[id->writer])
					reordered++;
				last[id->writer] = id->seq;
			}
			off += kRecord;
		}
		carry.erase(carry.begin(), carry.begin() + off);
	}
};

// Reads whole records: the ring only ever holds whole records, and a read
// returns all it asked for that is there, whatever the engine does.
void record_reader(int fd, StreamCheck &sc, std::string &error)
{
	std::vector<std::byte> buf(16 * kRecord);
	circbuf::Rng rng{7};
	for (;;) {
		std::lock_guard lock(sc.mu);
		const size_t want = rng.between(1, 16) * kRecord;
		Io r = sys_read(fd, buf.data(), want);
		if (r.ret < 0) {
			error = "read: " + testing::PrintToString(r);
			return;
		}
		if (r.ret == 0)
			return;
		if (r.ret % kRecord)
			sc.partial++;
		sc.add(std::span<const std::byte>(buf).first(r.ret));
	}
}

// Writers write framed records, readers take turns reading: no call fails
// or falls short, every record is read exactly once, intact and in order,
// and no byte is lost or added; the CPU moved what the faults kept from
// DMA.
TEST_F(CircbufDmaFaultLoad, CallsCompleteAndRecordsArriveWholeDespiteInjectedErrorsAndTimeouts)
{
	std::array<Fd, kWriters> wfd;
	std::array<Fd, kReaders> rfd;
	circbuf_stats before{};
	if (!start(wfd, rfd, before))
		return;

	std::atomic<bool> stop{false};
	std::array<WriterLog, kWriters> wlog;
	std::array<std::string, kReaders> rerr;
	StreamCheck sc;
	std::vector<std::thread> threads;
	Injector inj;
	for (unsigned i = 0; i < kReaders; i++)
		threads.emplace_back(record_reader, rfd[i].get(), std::ref(sc), std::ref(rerr[i]));
	for (unsigned i = 0; i < kWriters; i++)
		threads.emplace_back([&, i] {
			record_writer(wfd[i].get(), i, stop, wlog[i]);
			wfd[i].reset();  // the last writer's close is the readers' EOF
		});
	if (!run(stop, threads, inj))
		return;

	uint64_t written = 0, lost = 0, dup = 0;
	for (unsigned w = 0; w < kWriters; w++) {
		EXPECT_EQ(wlog[w].error, "") << "writer " << w;
		written += wlog[w].bytes;
		auto &seen = sc.seen[w];
		EXPECT_LE(seen.size(), wlog[w].records) << "writer " << w << ": records read that were never written";
		for (uint64_t seq = 0; seq < wlog[w].records; seq++) {
			const unsigned times = seq < seen.size() ? seen[seq] : 0;
			if (times > 1)
				dup++;
			if (times == 0 && lost++ < 10)
				ADD_FAILURE() << "writer " << w << " record " << seq << " was never read intact";
		}
	}
	for (unsigned r = 0; r < kReaders; r++)
		EXPECT_EQ(rerr[r], "") << "reader " << r;
	const circbuf_stats after = expect_counters(before, inj, written, written);
	EXPECT_GE(after.dma_failed - before.dma_failed, inj.fails() + inj.hangs());

	EXPECT_EQ(sc.bytes, written) << "bytes read != bytes written";
	EXPECT_EQ(dup, 0u) << "records read twice";
	EXPECT_EQ(lost, 0u) << "records lost or torn";
	EXPECT_EQ(sc.reordered, 0u) << "records of one writer out of order";
	EXPECT_EQ(sc.split, 0u) << "writes whose records did not arrive together";
	EXPECT_EQ(sc.phantom, 0u);
	EXPECT_EQ(sc.garbage, 0u) << "bytes that were not part of an intact record";
	EXPECT_TRUE(sc.carry.empty()) << sc.carry.size() << " bytes of a partial record at the end";
	EXPECT_EQ(sc.partial, 0u) << "reads that ended inside a record";
}

// Random sizes up to three times the capacity, readers not taking turns: no
// call fails, every blocking write stores all its bytes, and the bytes read
// are the bytes written, as a multiset and in number; the CPU moved what the
// faults kept from DMA.
TEST_F(CircbufDmaFaultLoad, CallsCompleteAndBytesArriveDespiteInjectedErrorsWithConcurrentReaders)
{
	std::array<Fd, kWriters> wfd;
	std::array<Fd, kReaders> rfd;
	circbuf_stats before{};
	if (!start(wfd, rfd, before))
		return;

	using Histogram = std::array<uint64_t, 256>;
	struct Side {
		Histogram hist{};
		uint64_t bytes = 0;
		std::string error;
	};
	std::atomic<bool> stop{false};
	std::array<Side, kWriters> ws;
	std::array<Side, kReaders> rs;
	const size_t max_io = 3 * capacity_;
	std::vector<std::thread> threads;
	Injector inj;
	for (unsigned i = 0; i < kReaders; i++)
		threads.emplace_back([&, i] {
			circbuf::Rng rng{500 + i};
			std::vector<uint8_t> buf(max_io);
			for (;;) {
				Io r = sys_read(rfd[i].get(), buf.data(), rng.between(1, max_io));
				if (r.ret <= 0) {
					if (r.ret < 0)
						rs[i].error = "read: " + testing::PrintToString(r);
					return;
				}
				for (ssize_t k = 0; k < r.ret; k++)
					rs[i].hist[buf[k]]++;
				rs[i].bytes += r.ret;
			}
		});
	for (unsigned i = 0; i < kWriters; i++)
		threads.emplace_back([&, i] {
			circbuf::Rng rng{900 + i};
			std::vector<std::byte> pool(2 * max_io);
			rng.fill(pool);
			while (!stop && ws[i].error.empty()) {
				const size_t len = rng.between(1, max_io);
				const size_t from = rng.between(0, pool.size() - len);
				// Blocking, with no signal: all len bytes or a failure.
				Io w = sys_write(wfd[i].get(), pool.data() + from, len);
				if (w != ok(len)) {
					ws[i].error = "write of " + std::to_string(len) +
						      " bytes: " + testing::PrintToString(w);
					break;
				}
				for (size_t k = 0; k < len; k++)
					ws[i].hist[std::to_integer<uint8_t>(pool[from + k])]++;
				ws[i].bytes += len;
			}
			wfd[i].reset();
		});
	if (!run(stop, threads, inj))
		return;

	Histogram in{}, out{};
	uint64_t written = 0, read = 0;
	for (auto &s : ws) {
		EXPECT_EQ(s.error, "");
		written += s.bytes;
		for (size_t b = 0; b < 256; b++)
			in[b] += s.hist[b];
	}
	for (auto &s : rs) {
		EXPECT_EQ(s.error, "");
		read += s.bytes;
		for (size_t b = 0; b < 256; b++)
			out[b] += s.hist[b];
	}
	expect_counters(before, inj, written, read);
	EXPECT_EQ(read, written);
	for (size_t b = 0; b < 256; b++)
		EXPECT_EQ(out[b], in[b]) << "byte value " << b << " written " << in[b] << " times, read " << out[b];
}

}  // namespace
}  // namespace circbuf_vm
