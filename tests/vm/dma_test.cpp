// The DMA data path of /dev/circbuf and its emulated engine (dma/): which
// transfers go by DMA, byte-exact data for any alignment of the user buffer,
// the engine's channel and threads, fault injection (a failing or hanging
// descriptor) and signals during a transfer, whose rest the CPU moves in the
// same call, and unloading.
//
// Every test loads the module with the DMA parameters it needs on top of
// kDmaDefaults, so that it means the same whatever the harness loaded (the
// whole suite also runs with use_dma=0 and with dma_threshold=1).
#include "vm_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/uio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace circbuf_vm {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kKiB = 1024, kMiB = 1024 * 1024;

constexpr char kEngine[] = "circbuf-dma";  // driver, platform device, debugfs directory
constexpr char kFailNth[] = "/sys/kernel/debug/circbuf-dma/fail_nth";
constexpr char kHangNth[] = "/sys/kernel/debug/circbuf-dma/hang_nth";
constexpr char kSysClassDma[] = "/sys/class/dma";

// The module's DMA parameters at their defaults.
const Params kDmaDefaults = {
	{"use_dma", "1"},
	{"dma_threshold", "65536"},
	{"dma_timeout_ms", "2000"},
	{"dma_any_channel", "0"},
	{"dma_channels", "1"},
	{"dma_latency_us", "0"},
};

// ---- counters -------------------------------------------------------------

// What one stretch of a test changed in the device's counters.
struct Delta {
	uint64_t dma_bytes, cpu_bytes, submitted, completed, failed, timeouts;
};

Delta operator-(const circbuf_stats &a, const circbuf_stats &b)
{
	return {
		.dma_bytes = a.dma_bytes - b.dma_bytes,
		.cpu_bytes = a.cpu_bytes - b.cpu_bytes,
		.submitted = a.dma_submitted - b.dma_submitted,
		.completed = a.dma_completed - b.dma_completed,
		.failed = a.dma_failed - b.dma_failed,
		.timeouts = a.dma_timeouts - b.dma_timeouts,
	};
}

// ---- user memory ----------------------------------------------------------

// Physical frame of every page under [p, p + n), from /proc/self/pagemap
// (frame numbers are shown to root only); empty if unavailable.
std::vector<uint64_t> page_frames(const void *p, size_t n)
{
	Fd fd(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
	if (!fd.ok() || n == 0)
		return {};
	const uintptr_t first = reinterpret_cast<uintptr_t>(p) / kPage;
	const uintptr_t last = (reinterpret_cast<uintptr_t>(p) + n - 1) / kPage;
	std::vector<uint64_t> frames;
	for (uintptr_t v = first; v <= last; v++) {
		uint64_t e = 0;
		if (pread(fd.get(), &e, sizeof(e), static_cast<off_t>(v * sizeof(e))) != sizeof(e))
			return {};
		const uint64_t pfn = e & ((uint64_t{1} << 55) - 1);
		if (!(e >> 63) || pfn == 0)  // not present, or frame hidden
			return {};
		frames.push_back(pfn);
	}
	return frames;
}

// Page-aligned anonymous memory, every page populated, without transparent
// huge pages: khugepaged must not move it while a test predicts the DMA
// descriptors from its physical layout.
class Pages {
public:
	explicit Pages(size_t pages) : size_(pages * kPage)
	{
		void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return;
		base_ = static_cast<uint8_t *>(p);
		madvise(base_, size_, MADV_NOHUGEPAGE);
		std::memset(base_, 0x5A, size_);
	}
	Pages(const Pages &) = delete;
	Pages &operator=(const Pages &) = delete;
	~Pages()
	{
		if (base_)
			munmap(base_, size_);
	}

	bool ok() const { return base_ != nullptr; }
	size_t size() const { return size_; }
	uint8_t *at(size_t off) const { return base_ + off; }

	// Rearranges the pages so that no two neighbours are physically
	// adjacent, which the kernel would merge into one scatterlist entry:
	// every page boundary then cuts a DMA descriptor. False if it failed.
	bool scatter()
	{
		for (int round = 0; round < 8; round++) {
			const std::vector<uint64_t> f = page_frames(base_, size_);
			if (f.empty())
				return false;
			size_t i = 1;
			while (i < f.size() && f[i] != f[i - 1] + 1)
				i++;
			if (i == f.size())
				return true;
			if (!swap(i - 1, i))
				return false;
		}
		return false;
	}

private:
	// Exchanges the physical pages behind virtual pages i and j.
	bool swap(size_t i, size_t j)
	{
		void *tmp = mmap(nullptr, kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (tmp == MAP_FAILED)
			return false;
		const int fl = MREMAP_MAYMOVE | MREMAP_FIXED;
		bool ok = mremap(at(i * kPage), kPage, kPage, fl, tmp) != MAP_FAILED &&
			  mremap(at(j * kPage), kPage, kPage, fl, at(i * kPage)) != MAP_FAILED &&
			  mremap(tmp, kPage, kPage, fl, at(j * kPage)) != MAP_FAILED;
		if (!ok)
			munmap(tmp, kPage);
		return ok;
	}

	size_t size_;
	uint8_t *base_ = nullptr;
};

std::vector<uint8_t> bytes_at(const uint8_t *p, size_t n)
{
	return std::vector<uint8_t>(p, p + n);
}

// The lengths of the DMA descriptors the device builds to move n bytes
// between user memory at p and the ring at offset ring_off (capacity cap,
// segments of seg bytes): one per stretch that is contiguous both in
// physical memory (sg_alloc_table_from_pages() merges adjacent pages) and in
// the ring (cut at its end and at every segment boundary). Empty, with a
// failure, if the physical layout cannot be read.
std::vector<size_t> predict_descriptors(const void *p, size_t n, uint64_t ring_off, uint64_t cap, uint64_t seg)
{
	const std::vector<uint64_t> frames = page_frames(p, n);
	if (frames.empty()) {
		ADD_FAILURE() << "cannot read the physical layout of the buffer from /proc/self/pagemap";
		return {};
	}
	std::set<size_t> cuts;
	const size_t head = kPage - reinterpret_cast<uintptr_t>(p) % kPage;  // bytes in the first page
	for (size_t i = 1; i < frames.size(); i++)
		if (frames[i] != frames[i - 1] + 1)
			cuts.insert(head + (i - 1) * kPage);
	for (size_t k = 1; k < n; k++)
		if ((ring_off + k) % cap % seg == 0)
			cuts.insert(k);
	cuts.insert(n);
	std::vector<size_t> lens;
	size_t prev = 0;
	for (size_t c : cuts) {
		lens.push_back(c - prev);
		prev = c;
	}
	return lens;
}

// ---- the engine in sysfs, debugfs and /proc -------------------------------

// Last component of the path a symbolic link resolves to, or "".
std::string resolved_name(const std::string &path)
{
	char buf[PATH_MAX];
	if (!realpath(path.c_str(), buf))
		return "";
	std::string s(buf);
	return s.substr(s.rfind('/') + 1);
}

// The channels under /sys/class/dma whose device is bound to circbuf-dma.
std::vector<std::string> engine_channels()
{
	std::vector<std::string> chans;
	for (const std::string &c : dir_entries(kSysClassDma))
		if (resolved_name(std::string(kSysClassDma) + "/" + c + "/device/driver") == kEngine)
			chans.push_back(c);
	return chans;
}

// /proc/PID/stat, the fields a test looks at.
struct TaskStat {
	char state = 0;
	unsigned long flags = 0;
	uint64_t cpu_ticks = 0;  // utime + stime
};

std::optional<TaskStat> task_stat(pid_t pid)
{
	auto text = read_text_file(("/proc/" + std::to_string(pid) + "/stat").c_str());
	if (!text)
		return std::nullopt;
	// "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime ...": comm may hold spaces, so count from
	// the last ')'.
	size_t p = text->rfind(')');
	if (p == std::string::npos)
		return std::nullopt;
	std::istringstream in(text->substr(p + 1));
	TaskStat st;
	long skip;
	uint64_t utime, stime;
	in >> st.state >> skip >> skip >> skip >> skip >> skip >> st.flags >> skip >> skip >> skip >> skip >> utime >>
		stime;
	if (!in)
		return std::nullopt;
	st.cpu_ticks = utime + stime;
	return st;
}

constexpr unsigned long kPfKthread = 0x00200000;  // PF_KTHREAD

// comm -> pid of every task whose comm starts with "circbuf-dma/".
std::multimap<std::string, pid_t> engine_threads()
{
	std::multimap<std::string, pid_t> threads;
	for (const std::string &e : dir_entries("/proc")) {
		if (e.find_first_not_of("0123456789") != std::string::npos)
			continue;
		auto comm = read_text_file(("/proc/" + e + "/comm").c_str());
		if (comm && comm->starts_with(std::string(kEngine) + "/"))
			threads.emplace(*comm, std::stoi(e));
	}
	return threads;
}

std::vector<std::string> keys(const std::multimap<std::string, pid_t> &m)
{
	std::vector<std::string> k;
	for (const auto &[name, pid] : m)
		k.push_back(name);
	return k;
}

// ---- the fixture -----------------------------------------------------------

class CircbufDma : public CircbufTest {
protected:
	void SetUp() override
	{
		CircbufTest::SetUp();
		// A skip here skips the test's body.
		if (!HasFatalFailure())
			(void)need_dma();
	}

	// Loads the module with kDmaDefaults, the harness's other parameters
	// and overrides. Use as if (!load_dma({...})) return;
	[[nodiscard]] bool load_dma(const Params &overrides = {})
	{
		Params p = kDmaDefaults;
		for (const auto &[k, v] : overrides)
			p[k] = v;
		return reload(p);
	}

	// Fault injection: the nth descriptor the engine starts from now on
	// fails (kFailNth) or never completes (kHangNth).
	static testing::AssertionResult arm(const char *file, unsigned nth)
	{
		Fd fd(open(file, O_WRONLY | O_CLOEXEC));
		if (!fd.ok())
			return testing::AssertionFailure() << "open " << file << ": " << std::strerror(errno);
		const std::string s = std::to_string(nth) + "\n";
		if (write(fd.get(), s.data(), s.size()) != static_cast<ssize_t>(s.size()))
			return testing::AssertionFailure() << "write " << s << " to " << file << ": " << std::strerror(errno);
		return testing::AssertionSuccess();
	}

	// Every byte is moved once, by DMA or by CPU, whatever happened.
	void TearDown() override
	{
		if (module_loaded()) {
			Fd fd = open_device(O_RDONLY | O_NONBLOCK);
			if (fd.ok()) {
				const circbuf_stats s = get_stats(fd.get());
				EXPECT_EQ(s.dma_bytes + s.cpu_bytes, s.bytes_read + s.bytes_written)
					<< "dma_bytes " << s.dma_bytes << " + cpu_bytes " << s.cpu_bytes
					<< " != bytes_read " << s.bytes_read << " + bytes_written " << s.bytes_written;
			}
		}
		CircbufTest::TearDown();
	}
};

// Writes n pattern bytes through rw (O_RDWR, of an empty ring) and reads
// them back.
testing::AssertionResult round_trip(int rw, size_t n, unsigned seed)
{
	const std::vector<uint8_t> data = pattern(0, n, seed);
	Io w = sys_write(rw, data.data(), n);
	if (w != ok(n))
		return testing::AssertionFailure() << "round trip: write of " << n << " bytes " << testing::PrintToString(w);
	std::vector<uint8_t> back(n);
	Io r = sys_read(rw, back.data(), n);
	if (r != ok(n))
		return testing::AssertionFailure() << "round trip: read of " << n << " bytes " << testing::PrintToString(r);
	return same_bytes(back, data);
}

enum Call { kRead, kWrite };

// The counters of fd after one call (a read or a write) of len bytes whose
// transfer a fault in the engine cut short: it moved all len bytes, DMA
// committed dma of them and the CPU the rest, in the same call, and the ring
// holds used bytes. @context goes with every failure. Returns the change
// since before, for the caller's own checks.
Delta expect_cpu_finished(int fd, const circbuf_stats &before, Call call, size_t len, uint64_t used,
			  uint64_t dma, const std::string &context)
{
	const circbuf_stats after = get_stats(fd);
	EXPECT_EQ(after.used, used) << context;
	if (call == kWrite) {
		EXPECT_EQ(after.bytes_written - before.bytes_written, len) << context;
		EXPECT_EQ(after.writes - before.writes, 1u) << context;
	} else {
		EXPECT_EQ(after.bytes_read - before.bytes_read, len) << context;
		EXPECT_EQ(after.reads - before.reads, 1u) << context;
	}
	const Delta d = after - before;
	EXPECT_EQ(d.dma_bytes, dma) << context;
	EXPECT_EQ(d.cpu_bytes, len - dma) << context;
	return d;
}

// What a write of at most PIPE_BUF bytes is, for the failures of checks
// that DMA committed none of it.
constexpr char kAtomic[] = "an atomic write: DMA may commit none of it";

// Writes then reads total bytes through rw (O_RDWR, empty ring of at least
// total bytes) in calls of chunk bytes, checking the data.
void stream_through(int rw, size_t total, size_t chunk)
{
	const std::vector<uint8_t> data = pattern(0, total, 3);
	for (size_t off = 0; off < total; off += chunk)
		ASSERT_EQ(sys_write(rw, data.data() + off, chunk), ok(chunk)) << "at offset " << off;
	std::vector<uint8_t> back(total);
	for (size_t off = 0; off < total; off += chunk)
		ASSERT_EQ(sys_read(rw, back.data() + off, chunk), ok(chunk)) << "at offset " << off;
	EXPECT_TRUE(same_bytes(back, data));
}

// Pattern streams through the ring. A test that keeps the ring from going
// empty knows where its bytes lie: the ring is at offset 0 when empty (it
// restarts there whenever it empties), so stream byte k sits at ring offset
// k % capacity.

// Writes bytes [from, from + n) of stream seed.
testing::AssertionResult put(int fd, uint64_t from, size_t n, unsigned seed)
{
	const std::vector<uint8_t> data = pattern(from, n, seed);
	Io w = sys_write(fd, data.data(), n);
	if (w != ok(n))
		return testing::AssertionFailure() << "writing stream bytes " << from << "+" << n << " "
						   << testing::PrintToString(w);
	return testing::AssertionSuccess();
}

// Reads n bytes, which must be bytes [from, from + n) of stream seed.
testing::AssertionResult take(int fd, uint64_t from, size_t n, unsigned seed)
{
	std::vector<uint8_t> back(n);
	Io r = sys_read(fd, back.data(), n);
	if (r != ok(n))
		return testing::AssertionFailure() << "reading stream bytes " << from << "+" << n << " "
						   << testing::PrintToString(r);
	return same_bytes(back, pattern(from, n, seed)) << " (stream bytes " << from << "+" << n << ")";
}

// From an empty ring, moves the stream on until the ring's head is at
// offset head with backlog >= 1 bytes buffered: stream bytes
// [head, head + backlog). The ring never empties on the way.
testing::AssertionResult position_ring(int fd, uint64_t cap, uint64_t head, size_t backlog, unsigned seed)
{
	uint64_t written = 0, read = 0;
	while (read < head || written < head + backlog) {
		const size_t w = std::min(cap - (written - read), head + backlog - written);
		if (auto r = put(fd, written, w, seed); !r)
			return r;
		written += w;
		const size_t n = std::min(head - read, written - read - 1);  // keep one byte at least
		if (auto r = take(fd, read, n, seed); !r)
			return r;
		read += n;
	}
	return testing::AssertionSuccess();
}

// ---- the channel and the engine threads ----------------------------------

TEST_F(CircbufDma, ChannelIsListedUnderSysClassDma)
{
	if (!load_dma())
		return;
	const std::vector<std::string> chans = engine_channels();
	ASSERT_EQ(chans.size(), 1u) << "channels of " << kEngine << " under " << kSysClassDma << ": "
				    << testing::PrintToString(dir_entries(kSysClassDma));
	const std::string chan = std::string(kSysClassDma) + "/" + chans[0];
	EXPECT_TRUE(chans[0].starts_with("dma") && chans[0].find("chan") != std::string::npos) << chans[0];
	EXPECT_EQ(resolved_name(chan + "/device"), kEngine);
	const std::string in_use = chan + "/in_use";

	auto summary = read_text_file("/sys/kernel/debug/dmaengine/summary");
	ASSERT_TRUE(summary) << "no /sys/kernel/debug/dmaengine/summary";
	EXPECT_NE(summary->find(kEngine), std::string::npos) << *summary;

	EXPECT_EQ(read_text_file(in_use.c_str()), "0") << "channel taken with no file open";
	{
		Fd a = open_device(O_RDONLY | O_NONBLOCK);
		Fd b = open_device(O_WRONLY | O_NONBLOCK);
		ASSERT_TRUE(a.ok() && b.ok()) << std::strerror(errno);
		EXPECT_EQ(read_text_file(in_use.c_str()), "1") << "two files open";
		a.reset();
		EXPECT_EQ(read_text_file(in_use.c_str()), "1") << "one file still open";
	}
	EXPECT_EQ(read_text_file(in_use.c_str()), "0") << "channel kept after the last close";
}

TEST_F(CircbufDma, EngineThreadExistsAndSleepsWhenIdle)
{
	if (!load_dma({{"dma_threshold", "1"}, {"buffer_size", "65536"}}))
		return;
	{
		// Some traffic first: the engine must go back to sleep after it.
		Fd rw = open_device(O_RDWR | O_NONBLOCK);
		ASSERT_TRUE(rw.ok()) << std::strerror(errno);
		ASSERT_TRUE(round_trip(rw.get(), 65536, 1));
		ASSERT_GT(get_stats(rw.get()).dma_completed, 0u);
	}
	const auto threads = engine_threads();
	ASSERT_EQ(keys(threads), std::vector<std::string>{"circbuf-dma/0"});
	const pid_t pid = threads.begin()->second;
	auto st = task_stat(pid);
	ASSERT_TRUE(st);
	EXPECT_TRUE(st->flags & kPfKthread) << "circbuf-dma/0 is not a kernel thread";

	// Asleep within a moment of the last transfer...
	for (auto end = Clock::now() + 2s; st && st->state != 'S' && Clock::now() < end;) {
		std::this_thread::sleep_for(10ms);
		st = task_stat(pid);
	}
	ASSERT_TRUE(st);
	ASSERT_EQ(st->state, 'S') << "the idle engine thread is not sleeping";
	// ...and it stays asleep, using no CPU time.
	const uint64_t ticks = st->cpu_ticks;
	for (int i = 0; i < 6; i++) {
		std::this_thread::sleep_for(50ms);
		st = task_stat(pid);
		ASSERT_TRUE(st);
		EXPECT_EQ(st->state, 'S') << "after " << (i + 1) * 50 << " ms of idleness";
	}
	EXPECT_EQ(st->cpu_ticks, ticks) << "utime + stime of the idle engine thread grew over 300 ms";
}

TEST_F(CircbufDma, EngineHasOneThreadPerChannel)
{
	if (!load_dma({{"dma_channels", "3"}}))
		return;
	const std::vector<std::string> want = {"circbuf-dma/0", "circbuf-dma/1", "circbuf-dma/2"};
	EXPECT_EQ(keys(engine_threads()), want);
	EXPECT_EQ(engine_channels().size(), 3u) << testing::PrintToString(dir_entries(kSysClassDma));
}

// ---- which transfers go by DMA -------------------------------------------

TEST_F(CircbufDma, LargeTransfersGoByDma)
{
	if (!load_dma({{"buffer_size", std::to_string(kMiB)}}))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(rw.get());
	stream_through(rw.get(), kMiB, 256 * kKiB);
	const Delta d = get_stats(rw.get()) - before;
	EXPECT_EQ(d.dma_bytes, 2 * kMiB);
	EXPECT_EQ(d.cpu_bytes, 0u);
	EXPECT_GT(d.submitted, 0u);
	EXPECT_EQ(d.completed, d.submitted);
	EXPECT_EQ(d.failed, 0u);
	EXPECT_EQ(d.timeouts, 0u);
}

TEST_F(CircbufDma, ThresholdIsTheSmallestTransferByDma)
{
	if (!load_dma({{"buffer_size", std::to_string(kMiB)}}))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	circbuf_stats before = get_stats(rw.get());
	ASSERT_TRUE(round_trip(rw.get(), 65535, 1));
	Delta d = get_stats(rw.get()) - before;
	EXPECT_EQ(d.cpu_bytes, 2 * 65535u) << "65535 bytes, below dma_threshold";
	EXPECT_EQ(d.dma_bytes, 0u) << "65535 bytes, below dma_threshold";

	before = get_stats(rw.get());
	ASSERT_TRUE(round_trip(rw.get(), 65536, 2));
	d = get_stats(rw.get()) - before;
	EXPECT_EQ(d.dma_bytes, 2 * 65536u) << "65536 bytes, at dma_threshold";
	EXPECT_EQ(d.cpu_bytes, 0u) << "65536 bytes, at dma_threshold";
}

TEST_F(CircbufDma, UseDmaOffMovesEverythingByCpu)
{
	if (!load_dma({{"use_dma", "0"}, {"buffer_size", std::to_string(kMiB)}}))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(rw.get());
	stream_through(rw.get(), kMiB, 256 * kKiB);
	const circbuf_stats after = get_stats(rw.get());
	EXPECT_EQ((after - before).cpu_bytes, 2 * kMiB);
	EXPECT_EQ(after.dma_bytes, 0u);
	EXPECT_EQ(after.dma_submitted, 0u);
	for (const std::string &c : engine_channels())
		EXPECT_EQ(read_text_file((std::string(kSysClassDma) + "/" + c + "/in_use").c_str()), "0")
			<< c << " taken with use_dma=0";
}

TEST_F(CircbufDma, ThresholdOneSendsSingleBytesByDma)
{
	if (!load_dma({{"dma_threshold", "1"}}))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(rw.get());
	ASSERT_TRUE(round_trip(rw.get(), 1, 1));
	const Delta d = get_stats(rw.get()) - before;
	EXPECT_EQ(d.dma_bytes, 2u);
	EXPECT_EQ(d.cpu_bytes, 0u);
	EXPECT_EQ(d.submitted, 2u) << "one descriptor per 1-byte transfer";
	EXPECT_EQ(d.completed, 2u);
}

// ---- alignment and layout --------------------------------------------------

// A ring of four one-page segments, the last one 123 bytes: an odd capacity.
constexpr uint64_t kOddCap = 3 * kPage + 123;
constexpr size_t kBacklog = 100;  // bytes kept in the ring, so reads and writes are at different offsets
constexpr int kCycles = 6;

// Parameters: offset of the user buffers into their page, and how many
// pages the transfers touch.
class CircbufDmaUnaligned : public CircbufDma, public testing::WithParamInterface<std::tuple<size_t, size_t>> {};

TEST_P(CircbufDmaUnaligned, TransfersAreByteExactAndFifoAcrossTheWrap)
{
	const auto [offset, pages] = GetParam();
	// Ends one byte short of the last page: spans exactly `pages` pages.
	const size_t n = std::max<size_t>(1, pages * kPage - offset - 1);
	ASSERT_LE(n + kBacklog, kOddCap);
	if (!load_dma({{"dma_threshold", "1"}, {"segment_size", "4096"}, {"buffer_size", std::to_string(kOddCap)}}))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	// Put the head where the third write runs across the end of the ring,
	// with a backlog so that reads and writes are at different offsets.
	const uint64_t head = (10 * kOddCap - kBacklog - 2 * n - n / 2) % kOddCap;
	ASSERT_TRUE(position_ring(rw.get(), kOddCap, head, kBacklog, 5));
	uint64_t written = head + kBacklog, read = head;
	const circbuf_stats before = get_stats(rw.get());

	Pages src(pages + 1), dst(pages + 1);
	ASSERT_TRUE(src.ok() && dst.ok()) << std::strerror(errno);
	bool write_wrapped = false, read_wrapped = false;
	for (int cycle = 0; cycle < kCycles; cycle++) {
		SCOPED_TRACE("cycle " + std::to_string(cycle) + ", ring write offset " +
			     std::to_string(written % kOddCap) + ", read offset " + std::to_string(read % kOddCap));
		write_wrapped |= written % kOddCap + n > kOddCap;
		std::vector<uint8_t> data = pattern(written, n, 5);
		std::memcpy(src.at(offset), data.data(), n);
		ASSERT_EQ(sys_write(rw.get(), src.at(offset), n), ok(n));
		written += n;

		read_wrapped |= read % kOddCap + n > kOddCap;
		std::memset(dst.at(0), 0xA5, dst.size());
		ASSERT_EQ(sys_read(rw.get(), dst.at(offset), n), ok(n));
		ASSERT_TRUE(same_bytes(bytes_at(dst.at(offset), n), pattern(read, n, 5)));
		read += n;
		// Nothing written outside the user's buffer.
		const std::vector<uint8_t> below = bytes_at(dst.at(0), offset);
		const std::vector<uint8_t> above = bytes_at(dst.at(offset + n), dst.size() - offset - n);
		EXPECT_TRUE(std::all_of(below.begin(), below.end(), [](uint8_t b) { return b == 0xA5; }))
			<< "bytes before the read's buffer changed";
		EXPECT_TRUE(std::all_of(above.begin(), above.end(), [](uint8_t b) { return b == 0xA5; }))
			<< "bytes after the read's buffer changed";
	}
	ASSERT_TRUE(take(rw.get(), read, kBacklog, 5)) << "the backlog";
	if (n > 1) {
		EXPECT_TRUE(write_wrapped) << "no write crossed the end of the ring";
		EXPECT_TRUE(read_wrapped) << "no read crossed the end of the ring";
	}

	const circbuf_stats after = get_stats(rw.get());
	EXPECT_EQ(after.used, 0u);
	const Delta d = after - before;
	EXPECT_EQ(d.dma_bytes, 2 * kCycles * n + kBacklog) << "not everything went by DMA";
	EXPECT_EQ(d.cpu_bytes, 0u);
	EXPECT_EQ(d.failed, 0u);
}

INSTANTIATE_TEST_SUITE_P(CircbufDma, CircbufDmaUnaligned,
			 testing::Combine(testing::Values(size_t{0}, size_t{1}, size_t{7}, size_t{4095}),
					  testing::Values(size_t{1}, size_t{2}, size_t{3})),
			 [](const testing::TestParamInfo<std::tuple<size_t, size_t>> &p) {
				 return "Offset" + std::to_string(std::get<0>(p.param)) + "_Pages" +
					std::to_string(std::get<1>(p.param));
			 });

TEST_F(CircbufDma, SixtyFourMibRingMovesByDmaByteExact)
{
	constexpr size_t kRing = 64 * kMiB, kChunk = 8 * kMiB;
	if (!load_dma({{"buffer_size", std::to_string(kRing)}, {"segment_size", std::to_string(kMiB)}}))
		return;
	ASSERT_EQ(capacity_, kRing);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(rw.get());
	// One chunk of pattern at a time: 16 MiB of test memory, not 128.
	for (size_t off = 0; off < kRing; off += kChunk) {
		const std::vector<uint8_t> data = pattern(off, kChunk, 6);
		ASSERT_EQ(sys_write(rw.get(), data.data(), kChunk), ok(kChunk)) << "at offset " << off;
	}
	EXPECT_EQ(get_stats(rw.get()).used, kRing);
	std::vector<uint8_t> back(kChunk);
	for (size_t off = 0; off < kRing; off += kChunk) {
		ASSERT_EQ(sys_read(rw.get(), back.data(), kChunk), ok(kChunk)) << "at offset " << off;
		ASSERT_TRUE(same_bytes(back, pattern(off, kChunk, 6))) << "chunk at offset " << off;
	}
	const Delta d = get_stats(rw.get()) - before;
	EXPECT_EQ(d.dma_bytes, 2 * kRing);
	EXPECT_EQ(d.cpu_bytes, 0u);
	EXPECT_EQ(d.failed, 0u);
}

// ---- many threads ----------------------------------------------------------

// The circbuf-stress binary beside this test, or "".
TEST_F(CircbufDma, ConcurrentTransfersFromManyThreadsArriveOnceIntact)
{
	if (stress_tool().empty())
		GTEST_SKIP() << "circbuf-stress is not built next to this test";
	if (!load_dma({{"dma_threshold", "1"}, {"buffer_size", "65536"}}))
		return;
	// The counters, read through a file that is closed again: while the
	// tool runs, only its own files are open.
	auto stats_now = [] {
		Fd fd = open_device(O_RDONLY | O_NONBLOCK);
		EXPECT_TRUE(fd.ok()) << std::strerror(errno);
		return get_stats(fd.get());
	};
	const circbuf_stats before = stats_now();

	// Records of 4096 bytes, one per write: each write is atomic. Five
	// seconds of load and the final drain, with room for a slow machine
	// inside the watchdog's minute.
	run_stress_tool({"--writers=8", "--readers=8", "--duration=5", "--record-size=4096",
			 "--stall-timeout=20"},
			40s);

	const Delta d = stats_now() - before;
	EXPECT_GT(d.dma_bytes, 0u);
	EXPECT_EQ(d.cpu_bytes, 0u) << "with dma_threshold=1 every transfer goes by DMA";
	EXPECT_EQ(d.failed, 0u);
}

// ---- fault injection -------------------------------------------------------

// Fault-injection tests: one-page segments, every transfer by DMA.
const Params kFaultParams = {{"dma_threshold", "1"}, {"buffer_size", "65536"}, {"segment_size", "4096"}};
constexpr uint64_t kFaultCap = 65536, kFaultSeg = 4096;

// An atomic write that DMA cut short commits nothing by DMA: the CPU copies
// all of it, in the same call.
TEST_F(CircbufDma, FailedFirstDescriptorIsFinishedByCpuOnWrite)
{
	if (!load_dma(kFaultParams))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	Pages buf(1);
	ASSERT_TRUE(buf.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 1000, 7);
	std::memcpy(buf.at(0), data.data(), data.size());
	ASSERT_EQ(predict_descriptors(buf.at(0), 1000, 0, kFaultCap, kFaultSeg).size(), 1u);

	const circbuf_stats before = get_stats(rw.get());
	ASSERT_TRUE(arm(kFailNth, 1));
	EXPECT_EQ(sys_write(rw.get(), buf.at(0), 1000), ok(1000));
	const Delta d = expect_cpu_finished(rw.get(), before, kWrite, 1000, 1000, 0, kAtomic);
	EXPECT_EQ(d.submitted, 1u);
	EXPECT_EQ(d.failed, 1u);
	EXPECT_EQ(read_text_file(kFailNth), "0") << "the armed failure was not consumed";

	EXPECT_TRUE(take(rw.get(), 0, 1000, 7)) << "the ring does not hold the write's exact data";
	EXPECT_TRUE(round_trip(rw.get(), 1000, 8)) << "the device does not work after a failed DMA";
}

// A write larger than PIPE_BUF keeps what DMA moved before the failed
// descriptor; the CPU copies the rest, in the same call.
TEST_F(CircbufDma, FailedSecondDescriptorCommitsTheFirstAndCpuFinishesTheWrite)
{
	if (!load_dma(kFaultParams))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	// Stream bytes [0, 1500) wait in the ring, so the write goes to ring
	// offset 1500, 2596 bytes before a segment boundary. The user buffer
	// starts 3000 bytes into a page, spans three physically separate pages:
	// the first descriptor ends at its first page boundary, 1096 bytes in.
	constexpr uint64_t kRingOff = 1500;
	constexpr size_t kOff = 3000, kLen = 2 * kPage + 500;
	ASSERT_TRUE(put(rw.get(), 0, kRingOff, 9));
	Pages buf(3);
	ASSERT_TRUE(buf.ok()) << std::strerror(errno);
	ASSERT_TRUE(buf.scatter()) << "cannot place the buffer on physically separate pages";
	const std::vector<uint8_t> data = pattern(kRingOff, kLen, 9);
	std::memcpy(buf.at(kOff), data.data(), kLen);
	const std::vector<size_t> descs = predict_descriptors(buf.at(kOff), kLen, kRingOff, kFaultCap, kFaultSeg);
	const std::string predicted = "descriptors predicted: " + testing::PrintToString(descs);
	ASSERT_GE(descs.size(), 3u) << predicted;
	ASSERT_EQ(descs[0], kPage - kOff) << predicted;
	const size_t first = descs[0];

	const circbuf_stats before = get_stats(rw.get());
	ASSERT_TRUE(arm(kFailNth, 2));
	EXPECT_EQ(sys_write(rw.get(), buf.at(kOff), kLen), ok(kLen)) << predicted;
	const Delta d = expect_cpu_finished(rw.get(), before, kWrite, kLen, kRingOff + kLen, first, predicted);
	EXPECT_EQ(d.submitted, descs.size()) << predicted;
	EXPECT_EQ(d.failed, 1u);
	EXPECT_EQ(read_text_file(kFailNth), "0") << "the armed failure was not consumed";

	// The ring holds the exact stream: the DMA prefix, then the CPU's rest.
	EXPECT_TRUE(take(rw.get(), 0, kRingOff + kLen, 9));
	EXPECT_EQ(get_stats(rw.get()).used, 0u) << "more than the write was committed";
	EXPECT_TRUE(round_trip(rw.get(), kLen, 10)) << "the device does not work after a failed DMA";
}

// A read whose only descriptor fails moves nothing by DMA: the CPU copies
// all of it, in the same call.
TEST_F(CircbufDma, FailedFirstDescriptorIsFinishedByCpuOnRead)
{
	if (!load_dma(kFaultParams))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 1000, 11);
	ASSERT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(1000));
	Pages buf(1);
	ASSERT_TRUE(buf.ok()) << std::strerror(errno);
	ASSERT_EQ(predict_descriptors(buf.at(0), 1000, 0, kFaultCap, kFaultSeg).size(), 1u);

	const circbuf_stats before = get_stats(rw.get());
	ASSERT_TRUE(arm(kFailNth, 1));
	EXPECT_EQ(sys_read(rw.get(), buf.at(0), 1000), ok(1000));
	EXPECT_TRUE(same_bytes(bytes_at(buf.at(0), 1000), data)) << "data lost or changed by the failed DMA";
	const Delta d = expect_cpu_finished(rw.get(), before, kRead, 1000, 0, 0, "a read of one descriptor");
	EXPECT_EQ(d.submitted, 1u);
	EXPECT_EQ(d.failed, 1u);
	EXPECT_EQ(read_text_file(kFailNth), "0") << "the armed failure was not consumed";
}

// A read keeps what DMA moved before the failed descriptor; the CPU copies
// the rest, in the same call.
TEST_F(CircbufDma, FailedSecondDescriptorCommitsTheFirstAndCpuFinishesTheRead)
{
	if (!load_dma(kFaultParams))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	// Stream bytes [0, 1500 + kLen) written and the first 1500 read, so the
	// read starts at ring offset 1500: the first descriptor ends at the
	// segment boundary, 2596 bytes in, before the user buffer (100 bytes
	// into a page, over three pages) reaches a page boundary.
	constexpr uint64_t kRingOff = 1500;
	constexpr size_t kOff = 100, kLen = 2 * kPage + 3000;
	ASSERT_TRUE(put(rw.get(), 0, kRingOff + kLen, 12));
	ASSERT_TRUE(take(rw.get(), 0, kRingOff, 12));
	Pages buf(3);
	ASSERT_TRUE(buf.ok()) << std::strerror(errno);
	const std::vector<size_t> descs = predict_descriptors(buf.at(kOff), kLen, kRingOff, kFaultCap, kFaultSeg);
	const std::string predicted = "descriptors predicted: " + testing::PrintToString(descs);
	ASSERT_GE(descs.size(), 3u) << predicted;
	ASSERT_EQ(descs[0], kFaultSeg - kRingOff) << predicted;
	const size_t first = descs[0];

	const circbuf_stats before = get_stats(rw.get());
	ASSERT_TRUE(arm(kFailNth, 2));
	EXPECT_EQ(sys_read(rw.get(), buf.at(kOff), kLen), ok(kLen)) << predicted;
	// Nothing lost, nothing twice: the DMA prefix, then the CPU's rest.
	EXPECT_TRUE(same_bytes(bytes_at(buf.at(kOff), kLen), pattern(kRingOff, kLen, 12)));
	const Delta d = expect_cpu_finished(rw.get(), before, kRead, kLen, 0, first, predicted);
	EXPECT_EQ(d.submitted, descs.size()) << predicted;
	EXPECT_EQ(d.failed, 1u);
	EXPECT_EQ(read_text_file(kFailNth), "0") << "the armed failure was not consumed";
}

// After dma_timeout_ms the engine's transfer is terminated and the CPU
// copies the whole atomic write, in the same call.
TEST_F(CircbufDma, HungDescriptorTimesOutAndCpuFinishesTheWrite)
{
	if (!load_dma({{"dma_threshold", "1"}, {"dma_timeout_ms", "300"}, {"buffer_size", "65536"}}))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 1000, 13);
	const circbuf_stats before = get_stats(rw.get());
	ASSERT_TRUE(arm(kHangNth, 1));
	const auto t0 = Clock::now();
	EXPECT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(1000));
	const auto took = Clock::now() - t0;
	EXPECT_GE(took, 250ms) << "returned before dma_timeout_ms=300";
	EXPECT_LE(took, 10s);
	const Delta d = expect_cpu_finished(rw.get(), before, kWrite, 1000, 1000, 0, kAtomic);
	EXPECT_EQ(d.timeouts, 1u);
	EXPECT_GE(d.failed, 1u);
	EXPECT_EQ(read_text_file(kHangNth), "0");

	EXPECT_TRUE(take(rw.get(), 0, 1000, 13)) << "the ring does not hold the write's exact data";
	EXPECT_TRUE(round_trip(rw.get(), 1000, 14)) << "the device does not work after a DMA timeout";
}

// ---- signals and unloading while the engine is busy ------------------------

// Each descriptor takes half a second, every transfer by DMA.
const Params kSlowParams = {{"dma_threshold", "1"}, {"dma_latency_us", "500000"}, {"buffer_size", "65536"}};
constexpr auto kLatency = 500ms;

// A write of 1000 pattern bytes from a one-page buffer (one descriptor,
// kLatency long) on a thread of its own, into the device loaded with
// kSlowParams: the signal tests below send it signals while it waits for the
// engine, then check with expect_finished_by_cpu() that it completed anyway.
class SlowWrite {
public:
	static constexpr size_t kLen = 1000;

	// Opens the device, counts its stats and starts the write; the caller
	// returns if this fails fatally.
	void start(unsigned seed)
	{
		w_ = open_device(O_WRONLY);
		ASSERT_TRUE(w_.ok()) << std::strerror(errno);
		ASSERT_TRUE(buf_.ok()) << std::strerror(errno);
		const std::vector<uint8_t> data = pattern(0, kLen, seed);
		std::memcpy(buf_.at(0), data.data(), data.size());
		before_ = get_stats(w_.get());
		t0_ = Clock::now();
		writer_ = std::make_unique<Background<Io>>([this] { return sys_write(w_.get(), buf_.at(0), kLen); });
	}

	Background<Io> &writer() { return *writer_; }
	Clock::time_point started() const { return t0_; }

	// Once the writer returned: it returned the full count before the
	// engine would have finished, its one descriptor counts as failed,
	// and the CPU stored all of it (an atomic write: DMA committed none).
	void expect_finished_by_cpu()
	{
		EXPECT_EQ(writer_->result(), ok(ssize_t(kLen)));
		EXPECT_LT(writer_->finished_at() - t0_, kLatency) << "the write waited for the engine";
		const Delta d = expect_cpu_finished(w_.get(), before_, kWrite, kLen, kLen, 0, kAtomic);
		EXPECT_EQ(d.submitted, 1u);
		EXPECT_EQ(d.failed, 1u) << "the interrupted descriptor counts as failed";
	}

private:
	Fd w_;
	Pages buf_{1};  // one page: one descriptor
	circbuf_stats before_{};
	Clock::time_point t0_;
	std::unique_ptr<Background<Io>> writer_;  // last: joined before the rest goes
};

// A signal ends the wait for the engine: the transfer is terminated and the
// CPU copies the write, which returns its full count soon after the signal.
TEST_F(CircbufDma, SignalDuringTransferIsFinishedByCpuWithoutWaitingForTheEngine)
{
	if (!load_dma(kSlowParams))
		return;
	SlowWrite sw;
	sw.start(15);
	if (HasFatalFailure())
		return;
	Background<Io> &writer = sw.writer();
	std::this_thread::sleep_until(sw.started() + 100ms);
	ASSERT_FALSE(writer.done()) << "the write did not wait for the engine: "
				    << testing::PrintToString(writer.result());
	const auto signalled = Clock::now();
	ASSERT_LT(signalled - sw.started(), kLatency - 150ms) << "too slow to signal inside the DMA latency";
	pthread_kill(writer.handle(), kInterruptSignal);
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "a signal did not interrupt the DMA wait";
	sw.expect_finished_by_cpu();

	// Read back by DMA: the device works after an interrupted transfer.
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	EXPECT_TRUE(take(rw.get(), 0, 1000, 15)) << "the ring does not hold the write's exact data";
}

// An atomic write (at most PIPE_BUF bytes: a writev of two segments, a
// buffer across pages) returns its full count and stores exactly its bytes
// when signals keep landing in its DMA waits: the CPU finishes what DMA did
// not, never EINTR, never a short count.
TEST_F(CircbufDma, SignalsNeverFailOrTearAnAtomicWrite)
{
	if (!load_dma({{"dma_threshold", "1"}, {"buffer_size", "65536"}}))
		return;
	Fd rw = open_device(O_RDWR);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const size_t page = size_t(sysconf(_SC_PAGESIZE));
	void *p = mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(p, MAP_FAILED) << std::strerror(errno);
	auto *mem = static_cast<uint8_t *>(p);
	const std::vector<uint8_t> src = pattern(0, 3 * page, 16);
	std::memcpy(mem, src.data(), src.size());
	std::vector<uint8_t> two_segments = bytes_at(mem, 1);
	const std::vector<uint8_t> second = bytes_at(mem + page + 100, 36);
	two_segments.insert(two_segments.end(), second.begin(), second.end());
	const std::vector<uint8_t> across_pages = bytes_at(mem + 2000, page);
	const circbuf_stats before = get_stats(rw.get());

	// The suite's handler for kInterruptSignal has no SA_RESTART: a signal
	// that ended a call would show as EINTR or a short count.
	std::atomic<bool> stop{false};
	const pid_t writer = gettid();
	std::thread signaller([&] {
		while (!stop) {
			syscall(SYS_tgkill, getpid(), writer, kInterruptSignal);
			std::this_thread::sleep_for(50us);
		}
	});
	int whole = 0, failed = 0;
	std::string first_failure;
	std::vector<uint8_t> sink(2 * page);
	const auto deadline = Clock::now() + 3s;
	for (int i = 0; Clock::now() < deadline; i++) {
		iovec two[2] = {{mem, 1}, {mem + page + 100, 36}};
		const std::vector<uint8_t> &want = i % 2 ? across_pages : two_segments;
		const size_t n = want.size();
		ssize_t r = i % 2 ? write(rw.get(), mem + 2000, n) : writev(rw.get(), two, 2);
		int e = errno;
		std::string what = "write";
		if (r == ssize_t(n)) {
			// Read back what it stored, in one call: no signal shortens
			// that either.
			r = read(rw.get(), sink.data(), n);
			e = errno;
			what = "read back";
			if (r == ssize_t(n) && std::equal(want.begin(), want.end(), sink.begin())) {
				whole++;
				continue;
			}
		}
		if (failed++ == 0)
			first_failure = what + " of " + std::to_string(n) + " bytes: " + std::to_string(r) +
					(r < 0 ? std::string(" ") + strerrorname_np(e) : " (or other bytes)");
		// Drain what is stored, to go on from an empty ring.
		for (int avail = 1; avail > 0;) {
			if (ioctl(rw.get(), FIONREAD, &avail) != 0)
				break;
			if (avail > 0 && read(rw.get(), sink.data(), sink.size()) < 0 && errno != EINTR)
				break;
		}
	}
	stop = true;
	signaller.join();
	munmap(p, 3 * page);
	const Delta d = get_stats(rw.get()) - before;
	EXPECT_EQ(failed, 0) << "first: " << first_failure;
	EXPECT_GT(whole, 0);
	EXPECT_GT(d.failed, 0u) << "no signal landed in a DMA wait: the test proved nothing";
	RecordProperty("dma_interrupted", static_cast<int>(d.failed));
	RecordProperty("whole", whole);
}

// With SA_RESTART, a signal that ended a DMA wait would restart the call,
// whose new transfer the next signal would end again, forever. The CPU
// finishes the write instead: it completes, long before the engine would.
TEST_F(CircbufDma, PeriodicSaRestartSignalsDoNotKeepAWriteFromCompleting)
{
	if (!load_dma(kSlowParams))
		return;
	ScopedSigaction sa(SIGUSR2, [](int) {}, SA_RESTART);
	SlowWrite sw;
	sw.start(17);
	if (HasFatalFailure())
		return;

	// A signal every 100 ms, five in each descriptor's half second.
	Background<Io> &writer = sw.writer();
	while (!writer.wait(100ms) && Clock::now() - sw.started() < 10s)
		pthread_kill(writer.handle(), SIGUSR2);
	ASSERT_TRUE(writer.done()) << "the write did not complete in 10 s of SA_RESTART signals";
	sw.expect_finished_by_cpu();
}

TEST_F(CircbufDma, UnloadsWhenTheEngineIsIdle)
{
	if (!load_dma({{"dma_threshold", "1"}, {"buffer_size", "65536"}}))
		return;
	{
		Fd rw = open_device(O_RDWR | O_NONBLOCK);
		ASSERT_TRUE(rw.ok()) << std::strerror(errno);
		ASSERT_TRUE(round_trip(rw.get(), 65536, 16));
		ASSERT_GT(get_stats(rw.get()).dma_completed, 0u);
	}
	ASSERT_EQ(unload_module(), 0) << "delete_module after DMA traffic and the last close";
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(keys(engine_threads()), std::vector<std::string>{}) << "engine threads left after unload";
	EXPECT_EQ(engine_channels(), std::vector<std::string>{}) << "channels left after unload";
	EXPECT_TRUE(wait_for_path("/sys/kernel/debug/circbuf-dma", false)) << "debugfs directory left after unload";
}

TEST_F(CircbufDma, UnloadDuringTransferFailsUntilTheFileCloses)
{
	if (!load_dma(kSlowParams))
		return;
	Fd w = open_device(O_WRONLY);
	ASSERT_TRUE(w.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 1000, 17);
	Background<Io> writer([&] { return sys_write(w.get(), data.data(), data.size()); });
	// A tenth into the half second the descriptor takes.
	std::this_thread::sleep_for(50ms);
	ASSERT_FALSE(writer.done()) << "the write did not wait for the engine: "
				    << testing::PrintToString(writer.result());
	int e = unload_module();
	EXPECT_TRUE(e == EBUSY || e == EWOULDBLOCK) << "delete_module: " << (e ? strerrorname_np(e) : "succeeded");
	ASSERT_TRUE(module_loaded()) << "module unloaded during a DMA transfer";
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "the transfer did not complete";
	EXPECT_EQ(writer.result(), ok(1000)) << "the unload attempt disturbed the transfer";
	EXPECT_EQ(get_stats(w.get()).used, 1000u);

	w.reset();
	EXPECT_EQ(unload_module(), 0) << "delete_module after the transfer completed and the file closed";
}

}  // namespace
}  // namespace circbuf_vm
