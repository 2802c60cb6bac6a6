// Never wait where a pipe never waits. While a reader or a writer of
// /dev/circbuf sleeps in a page fault on its user buffer (a userfaultfd page
// that nobody serves yet), it holds its side's lock (with locking=single,
// the device's one lock). Meanwhile every call on the device's other files
// that a pipe answers without waiting must return at once and tell the
// truth about the ring: poll, epoll and select, the stats (ioctl, io_uring
// command, /proc, sysfs), FIONREAD, open and close. An io_uring request on
// the busy side waits without blocking its submitter and without an io-wq
// worker. Once the fault is served, the sleeper's call completes and no byte
// is lost. Signals are nowait_signal_test.cpp's half.
#include "vm_test.h"
#include "uring.h"

#include "circbuf/stats.h"

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

// How long a call that must not wait may take, and how long a test lets it
// run before it calls it blocked and serves the fault to free it.
constexpr auto kPrompt = 100ms;
constexpr auto kBlockedAfter = 500ms;
// How long a request on the busy side must stay pending before the fault is
// served, and how long a thread of the test waits for an io_uring completion.
constexpr auto kBusyWindow = 300ms;
constexpr __kernel_timespec kCompletionDeadline = {20, 0};

long long ms(Clock::duration d)
{
	return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// poll events, or "error ENAME" for a negative errno.
std::string events_str(int ev)
{
	if (ev < 0)
		return std::string("error ") + strerrorname_np(-ev);
	std::string s;
	const std::pair<int, const char *> names[] = {
		{POLLIN, "IN"}, {POLLOUT, "OUT"}, {POLLHUP, "HUP"}, {POLLERR, "ERR"}, {POLLNVAL, "NVAL"},
		{POLLRDNORM, "RDNORM"}, {POLLWRNORM, "WRNORM"},
	};
	for (auto [bit, name] : names)
		if (ev & bit)
			s += s.empty() ? name : std::string("|") + name;
	return s.empty() ? "0" : s;
}

// io-wq workers that io_uring created for requests submitted by thread tid:
// they are named "iou-wrk-TID".
int io_workers_of(pid_t tid)
{
	const std::string want = "iou-wrk-" + std::to_string(tid);
	int n = 0;
	for (const std::string &task : dir_entries("/proc/self/task"))
		if (read_text_file(("/proc/self/task/" + task + "/comm").c_str()) == want)
			n++;
	return n;
}

// The fields of a stats snapshot by name: the names of /proc/circbuf's
// lines and of the files in sysfs.
using Fields = std::map<std::string, uint64_t>;

Fields fields_of(const circbuf_stats &s)
{
	Fields fields;
	circbuf::for_each_stat(s, [&](std::string_view name, uint64_t v) { fields.emplace(name, v); });
	return fields;
}

// What a stats call returned: 0 or a negative errno, and the snapshot.
struct StatsReply {
	int res = 0;
	circbuf_stats st{};
};

// The files the tests look at, opened before the sleeper starts.
enum Kind { kReadOnly, kWriteOnly, kReadWrite };
struct FileKind {
	const char *name;
	int flags;
	bool rd, wr;
	short events;  // what poll and epoll wait for on it
};
constexpr FileKind kKinds[] = {
	{"O_RDONLY", O_RDONLY, true, false, POLLIN},
	{"O_WRONLY", O_WRONLY, false, true, POLLOUT},
	{"O_RDWR", O_RDWR, true, true, POLLIN | POLLOUT},
};

enum class Side { kWriter, kReader };

// Who sleeps in the fault, and the module's locking= mode.
struct Sleeper {
	Side side;
	const char *locking;
};

void PrintTo(const Sleeper &s, std::ostream *os)
{
	*os << (s.side == Side::kWriter ? "writer" : "reader") << " asleep, locking=" << s.locking;
}

// Every test starts (in SetUp) with a writer asleep in write() on its
// source page, or a reader asleep in read() on its destination page, with
// data in the ring. It then makes one call on another file, and ends with
// expect_no_byte_lost(), which serves the fault.
class CircbufNoWait : public CircbufTest, public testing::WithParamInterface<Sleeper> {
protected:
	// One load for all the tests of a locking mode: the suite is
	// instantiated once per mode, and gtest runs a suite's tests in a row.
	Params module_params() const override
	{
		return harness_params_with({{"locking", GetParam().locking}, {"buffer_size", "65536"}});
	}

	void SetUp() override
	{
		CircbufTest::SetUp();
		if (HasFatalFailure() || IsSkipped())
			return;
		if (!page_.error().empty()) {
			if (page_.error_errno() == ENOSYS || page_.error_errno() == EPERM)
				GTEST_SKIP() << "no userfaultfd: " << page_.error();
			FAIL() << page_.error();
		}
		const size_t page = page_.size();
		const bool writer = writer_sleeps();
		sleeper_fd_ = open_device(writer ? O_WRONLY : O_RDONLY);
		other_ = open_device(writer ? O_WRONLY : O_RDONLY);
		idle_ = open_device(O_RDONLY | O_NONBLOCK);
		ASSERT_TRUE(sleeper_fd_.ok() && other_.ok() && idle_.ok()) << "open: " << std::strerror(errno);
		for (int k : {kReadOnly, kWriteOnly, kReadWrite}) {
			files_[k] = open_device(kKinds[k].flags | O_NONBLOCK);
			ASSERT_TRUE(files_[k].ok()) << "open: " << std::strerror(errno);
		}

		// Bytes to read and room for an atomic write: every file is
		// ready. The writer's page comes after the prefill in the
		// stream; the reader takes the stream's first page.
		const size_t prefill = writer ? 100 : page + 100;
		ASSERT_EQ(sys_write(files_[kWriteOnly].get(), pattern(0, prefill).data(), prefill), ok(ssize_t(prefill)));
		sleeper_at_ = writer ? prefill : 0;
		produced_ = writer ? prefill + page : prefill;
		taken_ = writer ? 0 : page;

		// Registered now, while the ring is free: epoll_ctl() polls.
		for (int k : {kReadOnly, kWriteOnly, kReadWrite}) {
			ep_[k] = Fd(epoll_create1(EPOLL_CLOEXEC));
			ASSERT_TRUE(ep_[k].ok()) << std::strerror(errno);
			epoll_event ev{};
			ev.events = uint32_t(kKinds[k].events);
			ASSERT_EQ(epoll_ctl(ep_[k].get(), EPOLL_CTL_ADD, files_[k].get(), &ev), 0) << std::strerror(errno);
		}
		before_ = get_stats(idle_.get());
		ASSERT_FALSE(HasFailure());

		uint8_t *buf = page_.data();
		const int fd = sleeper_fd_.get();
		sleeper_ = std::make_unique<Background<Io>>(
			[writer, fd, buf, page] { return writer ? sys_write(fd, buf, page) : sys_read(fd, buf, page); });
		ASSERT_TRUE(page_.wait_for_fault(2s))
			<< "the " << (writer ? "writer" : "reader") << " did not fault on its page"
			<< (sleeper_->done() ? ": it " + testing::PrintToString(sleeper_->result()) : "");
		// D: the DMA path pins the page, and GUP waits for the fault
		// uninterruptibly.
		ASSERT_TRUE(wait_until_blocked(sleeper_->tid(), writer ? SYS_write : SYS_read, 2s, "SD"))
			<< "the " << (writer ? "writer" : "reader") << " is not asleep in its call";
	}

	void TearDown() override
	{
		// Free the sleeper before joining it, and close the files
		// before the fixture reloads the module.
		if (sleeper_) {
			serve_fault();
			sleeper_.reset();
		}
		for (Fd *f : {&sleeper_fd_, &other_, &idle_, &files_[0], &files_[1], &files_[2], &ep_[0], &ep_[1], &ep_[2]})
			f->reset();
		CircbufTest::TearDown();
	}

	bool writer_sleeps() const { return GetParam().side == Side::kWriter; }

	// "a writer sleeps in a page fault holding the write-side lock", for
	// messages.
	std::string sleeper() const
	{
		const bool single = std::string_view(GetParam().locking) == "single";
		return std::string(writer_sleeps() ? "a writer" : "a reader") + " sleeps in a page fault holding " +
		       (single ? "the device's one lock (locking=single)"
			       : writer_sleeps() ? "the write-side lock" : "the read-side lock");
	}

	// Resolves the sleeper's fault with what it meant to write, or zeros
	// for a reader; once.
	void serve_fault()
	{
		if (served_)
			return;
		served_ = true;
		const bool ok = writer_sleeps() ? page_.serve(pattern(sleeper_at_, page_.size())) : page_.serve_zeros();
		if (!ok) {
			ADD_FAILURE() << "serving the fault: " << std::strerror(errno) << "; closing the userfaultfd instead";
			page_.abandon();
		}
	}

	// Serves the fault when destroyed, unless the call it guards returned.
	struct ServeUnlessDone {
		CircbufNoWait &test;
		std::function<bool()> done;
		~ServeUnlessDone()
		{
			if (!done())
				test.serve_fault();
		}
	};

	template <typename T> struct Timed {
		T value;
		Clock::duration took;
	};
	template <typename T> struct Probe {
		bool prompt = false;     // returned within the limit while the sleeper slept
		std::optional<T> value;  // what it returned, if it did
	};

	// Runs fn (described by what) on a thread of its own while the sleeper
	// sleeps: it must return within limit. If it blocks instead, fails the
	// test, serves the fault and collects the late result.
	template <typename T>
	Probe<T> call(const std::string &what, std::function<T()> fn, Clock::duration limit = kPrompt)
	{
		Background<Timed<T>> bg([fn] {
			const auto t0 = Clock::now();
			T v = fn();
			return Timed<T>{std::move(v), Clock::now() - t0};
		});
		ServeUnlessDone guard{*this, [&bg] { return bg.done(); }};
		Probe<T> p;
		if (!bg.wait(kBlockedAfter)) {
			const auto served = Clock::now();
			serve_fault();
			if (!bg.wait(kWakeTimeout)) {
				ADD_FAILURE() << what << " blocked while " << sleeper()
					      << ", and did not return after the fault was served either";
				return p;
			}
			ADD_FAILURE() << what << " blocked while " << sleeper() << ": not returned after "
				      << ms(kBlockedAfter) << " ms; it returned " << ms(bg.finished_at() - served)
				      << " ms after the fault was served";
			p.value = bg.result().value;
			return p;
		}
		const Timed<T> r = bg.result();
		p.value = r.value;
		EXPECT_LT(r.took, limit) << what << " took " << ms(r.took) << " ms while " << sleeper();
		EXPECT_FALSE(sleeper_->done()) << "the sleeper left its fault during the call: the test proved nothing";
		p.prompt = r.took < limit && !sleeper_->done();
		return p;
	}

	// What poll must report on a file of kind k: the ring as it was when
	// the sleeper started (its call has not moved a byte since).
	int ready(Kind k) const
	{
		const FileKind &f = kKinds[k];
		int ev = 0;
		if (f.rd && before_.used)
			ev |= POLLIN;
		if (f.rd && !before_.used && !before_.writers)
			ev |= POLLHUP;
		if (f.wr && before_.available >= std::min<uint64_t>(kPipeBuf, before_.capacity))
			ev |= POLLOUT;
		return ev;
	}

	// A call that reports events reported want, if it returned in time.
	static void expect_events(const Probe<int> &p, int want)
	{
		if (p.prompt) {
			EXPECT_EQ(events_str(*p.value), events_str(want)) << "the events reported";
		}
	}

	void expect_poll(Kind k)
	{
		const FileKind f = kKinds[k];
		const int fd = files_[k].get();
		auto p = call<int>("poll(" + events_str(f.events) + ") of an " + f.name + " file", [fd, f] {
			pollfd pfd{fd, f.events, 0};
			int n = poll(&pfd, 1, 0);
			return n < 0 ? -errno : n == 0 ? 0 : pfd.revents;
		});
		expect_events(p, ready(k));
	}

	void expect_epoll(Kind k, int timeout_ms)
	{
		const int ep = ep_[k].get();
		const std::string what = "epoll_wait(timeout " + std::to_string(timeout_ms) + " ms) on an " +
					 kKinds[k].name + " file";
		auto p = call<int>(what, [ep, timeout_ms] {
			epoll_event ev{};
			int n = epoll_wait(ep, &ev, 1, timeout_ms);
			return n < 0 ? -errno : n == 0 ? 0 : int(ev.events);
		});
		expect_events(p, ready(k));
	}

	void expect_select(Kind k)
	{
		const FileKind f = kKinds[k];
		const int fd = files_[k].get();
		auto p = call<int>(std::string("select() of an ") + f.name + " file", [fd, f] {
			fd_set rd, wr;
			FD_ZERO(&rd);
			FD_ZERO(&wr);
			if (f.rd)
				FD_SET(fd, &rd);
			if (f.wr)
				FD_SET(fd, &wr);
			timeval tv{0, 0};
			if (select(fd + 1, &rd, &wr, nullptr, &tv) < 0)
				return -errno;
			return (FD_ISSET(fd, &rd) ? POLLIN : 0) | (FD_ISSET(fd, &wr) ? POLLOUT : 0);
		});
		// IN: in the readable set, OUT: in the writable set.
		expect_events(p, (ready(k) & (POLLIN | POLLHUP) ? POLLIN : 0) | (ready(k) & POLLOUT));
	}

	// got names every field with the value it had when the sleeper
	// started.
	testing::AssertionResult is_the_ring(const Fields &got) const
	{
		std::string diff;
		for (const auto &[name, want] : fields_of(before_)) {
			auto it = got.find(name);
			if (it == got.end())
				diff += " " + name + " missing;";
			else if (it->second != want)
				diff += " " + name + " " + std::to_string(it->second) + ", want " + std::to_string(want) + ";";
		}
		if (diff.empty())
			return testing::AssertionSuccess();
		return testing::AssertionFailure() << "not the ring's state:" << diff;
	}

	// Opens a new file of the device, which the test closes once the
	// fault is served.
	Fd expect_open(int flags, const char *name)
	{
		auto p = call<int>(std::string("open(") + name + ") of the device", [flags] {
			int fd = open(kDevice, flags | O_CLOEXEC);
			return fd < 0 ? -errno : fd;
		});
		Fd fd(p.value.value_or(-1) >= 0 ? *p.value : -1);
		if (p.value && *p.value < 0)
			ADD_FAILURE() << "open(" << name << "): " << strerrorname_np(-*p.value);
		int n = -1;
		if (p.prompt && fd.ok()) {
			EXPECT_EQ(ioctl(fd.get(), FIONREAD, &n), 0) << std::strerror(errno);
			EXPECT_EQ(uint64_t(n), before_.used) << "FIONREAD of the new file";
		}
		return fd;
	}

	// Serves the fault: the sleeper's call completes whole, and the device
	// holds exactly the bytes of the stream not taken yet, in order.
	void expect_no_byte_lost()
	{
		serve_fault();
		ASSERT_TRUE(sleeper_->wait(kWakeTimeout)) << "the sleeper's call did not return after the fault was served";
		const size_t page = page_.size();
		EXPECT_EQ(sleeper_->result(), ok(ssize_t(page))) << "the sleeper's call";
		if (!writer_sleeps()) {
			EXPECT_TRUE(same_bytes(std::vector<uint8_t>(page_.data(), page_.data() + page), pattern(sleeper_at_, page)))
				<< "what the reader read";
		}
		const size_t left = produced_ - taken_;
		EXPECT_TRUE(same_bytes(read_bytes(files_[kReadOnly].get(), left), pattern(taken_, left)))
			<< "what the device holds after the sleeper's call";
		int n = -1;
		EXPECT_EQ(ioctl(files_[kReadOnly].get(), FIONREAD, &n), 0) << std::strerror(errno);
		EXPECT_EQ(n, 0) << "bytes beyond the stream";
	}

	FaultingPage page_;
	Fd sleeper_fd_;
	Fd other_;  // of the sleeper's side, for an io_uring request
	Fd idle_;   // an O_RDONLY file to close
	Fd files_[3];
	Fd ep_[3];  // an epoll instance watching files_[k] for its events
	circbuf_stats before_{};
	// The stream: the pattern's bytes [0, produced_), of which the
	// sleeper's call moves page_.size() from sleeper_at_ on, and readers
	// took [0, taken_).
	uint64_t sleeper_at_ = 0, produced_ = 0, taken_ = 0;
	std::unique_ptr<Background<Io>> sleeper_;
	bool served_ = false;
};

// The control: the sleeper's call completes once its page is served.
TEST_P(CircbufNoWait, SleeperCompletesWithNoByteLostOnceTheFaultIsServed)
{
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, PollOfReadOnlyFileReportsTheRingPromptly)
{
	expect_poll(kReadOnly);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, PollOfWriteOnlyFileReportsTheRingPromptly)
{
	expect_poll(kWriteOnly);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, PollOfReadWriteFileReportsTheRingPromptly)
{
	expect_poll(kReadWrite);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, EpollWaitWithZeroTimeoutOnReadOnlyFileReportsTheRingPromptly)
{
	expect_epoll(kReadOnly, 0);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, EpollWaitWithZeroTimeoutOnWriteOnlyFileReportsTheRingPromptly)
{
	expect_epoll(kWriteOnly, 0);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, EpollWaitWithZeroTimeoutOnReadWriteFileReportsTheRingPromptly)
{
	expect_epoll(kReadWrite, 0);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, EpollWaitWithShortTimeoutOnReadOnlyFileReportsTheRingPromptly)
{
	expect_epoll(kReadOnly, 50);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, EpollWaitWithShortTimeoutOnWriteOnlyFileReportsTheRingPromptly)
{
	expect_epoll(kWriteOnly, 50);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, EpollWaitWithShortTimeoutOnReadWriteFileReportsTheRingPromptly)
{
	expect_epoll(kReadWrite, 50);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, SelectOfReadOnlyFileReportsTheRingPromptly)
{
	expect_select(kReadOnly);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, SelectOfWriteOnlyFileReportsTheRingPromptly)
{
	expect_select(kWriteOnly);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, SelectOfReadWriteFileReportsTheRingPromptly)
{
	expect_select(kReadWrite);
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, StatsIoctlReportsTheRingPromptly)
{
	const int fd = files_[kReadOnly].get();
	auto p = call<StatsReply>("ioctl(CIRCBUF_GET_STATS)", [fd] {
		StatsReply r;
		r.res = ioctl(fd, CIRCBUF_GET_STATS, &r.st) == 0 ? 0 : -errno;
		return r;
	});
	if (p.prompt) {
		EXPECT_EQ(p.value->res, 0) << strerrorname_np(-p.value->res);
		EXPECT_TRUE(is_the_ring(fields_of(p.value->st)));
	}
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, FionreadReportsTheRingPromptly)
{
	const int fd = files_[kReadOnly].get();
	auto p = call<int>("ioctl(FIONREAD)", [fd] {
		int n = -1;
		return ioctl(fd, FIONREAD, &n) == 0 ? n : -errno;
	});
	if (p.prompt) {
		EXPECT_EQ(*p.value, int(before_.used));
	}
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, UringCmdStatsReportsTheRingPromptly)
{
	const int fd = files_[kReadOnly].get();
	auto p = call<StatsReply>("IORING_OP_URING_CMD CIRCBUF_GET_STATS, submission to completion", [fd] {
		StatsReply r;
		Ring ring(0, 4);
		if (!ring.ok())
			return StatsReply{-ENOMEM, {}};
		// The request outlives this call if it never completes.
		auto st = std::make_unique<circbuf_stats>();
		const circbuf_uring_cmd cmd = {reinterpret_cast<uintptr_t>(st.get()), 0};
		io_uring_sqe *sqe = io_uring_get_sqe(ring.get());
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, nullptr, 0, 0);
		sqe->cmd_op = CIRCBUF_GET_STATS;
		std::memcpy(sqe->cmd, &cmd, sizeof(cmd));
		if (int n = io_uring_submit(ring.get()); n != 1)
			return StatsReply{n < 0 ? n : -EIO, {}};
		r.res = ring.wait_res(kCompletionDeadline);
		if (r.res == -ETIME)
			(void)st.release();
		else
			r.st = *st;
		return r;
	});
	if (p.prompt) {
		EXPECT_EQ(p.value->res, 0) << strerrorname_np(-p.value->res);
		EXPECT_TRUE(is_the_ring(fields_of(p.value->st)));
	}
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, ProcFileReportsTheRingPromptly)
{
	auto p = call<std::optional<std::string>>("reading /proc/circbuf", [] { return read_text_file("/proc/circbuf"); });
	EXPECT_TRUE(!p.value || p.value->has_value()) << "cannot read /proc/circbuf";
	if (p.prompt && p.value->has_value()) {
		Fields got;
		std::istringstream in(**p.value);
		for (std::string line; std::getline(in, line);) {
			const size_t colon = line.find(": ");
			if (colon != std::string::npos && fields_of({}).count(line.substr(0, colon)))
				got[line.substr(0, colon)] = std::strtoull(line.c_str() + colon + 2, nullptr, 0);
		}
		EXPECT_TRUE(is_the_ring(got));
	}
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, EverySysfsStatsFileReportsTheRingPromptly)
{
	const std::string dir = "/sys/class/misc/circbuf/stats/";
	const std::vector<std::string> names = dir_entries(dir);
	ASSERT_FALSE(names.empty()) << dir << " lists no file";
	struct File {
		std::string name;
		std::optional<std::string> text;
		Clock::duration took;
	};
	auto p = call<std::vector<File>>(
		"reading the " + std::to_string(names.size()) + " files of " + dir,
		[&] {
			std::vector<File> files;
			for (const std::string &name : names) {
				const auto t0 = Clock::now();
				auto text = read_text_file((dir + name).c_str());
				files.push_back({name, text, Clock::now() - t0});
			}
			return files;
		},
		kPrompt * int(names.size()));
	if (p.prompt) {
		Fields got;
		for (const File &f : *p.value) {
			EXPECT_LT(f.took, kPrompt) << dir << f.name << " took " << ms(f.took) << " ms";
			EXPECT_TRUE(f.text.has_value()) << "cannot read " << dir << f.name;
			if (f.text)
				got[f.name] = std::strtoull(f.text->c_str(), nullptr, 0);
		}
		EXPECT_TRUE(is_the_ring(got));
	}
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, CloseOfAnIdleFileReturnsPromptly)
{
	const int fd = idle_.release();
	auto p = call<int>("close() of an idle O_RDONLY file", [fd] { return close(fd) == 0 ? 0 : errno; });
	if (p.value) {
		EXPECT_EQ(*p.value, 0) << std::strerror(*p.value);
	}
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, OpenForReadingReturnsPromptly)
{
	Fd fd = expect_open(O_RDONLY, "O_RDONLY");
	expect_no_byte_lost();
}

TEST_P(CircbufNoWait, OpenForWritingReturnsPromptly)
{
	Fd fd = expect_open(O_WRONLY, "O_WRONLY");
	expect_no_byte_lost();
}

// An io_uring READ (reader asleep) or WRITE (writer asleep) on another file
// of the busy side cannot proceed until the sleeper is done. It must wait
// as io_uring waits for a pipe, armed on the file's poll: the submitter
// does not block, no io-wq worker takes the request, and it completes with
// the next bytes of the stream once the fault is served.
TEST_P(CircbufNoWait, UringRequestOnTheBusySideWaitsWithoutAWorkerAndCompletesAfterTheFault)
{
	const size_t n = 100;
	const bool writer = writer_sleeps();
	// Alive until the request completes (leaked if it never does).
	auto buf = std::make_unique<std::vector<uint8_t>>(writer ? pattern(produced_, n) : std::vector<uint8_t>(n));
	std::atomic<bool> submitted{false};
	std::atomic<int> submit_res{0};
	struct Outcome {
		int res;
		int workers;  // of the submitting thread, right after the completion
	};
	const int fd = other_.get();
	Background<Outcome> runner([&, fd, data = buf.get()] {
		Ring ring(0, 4);
		if (!ring.ok())
			return Outcome{-ENOMEM, 0};
		io_uring_sqe *sqe = io_uring_get_sqe(ring.get());
		if (writer)
			io_uring_prep_write(sqe, fd, data->data(), unsigned(n), 0);
		else
			io_uring_prep_read(sqe, fd, data->data(), unsigned(n), 0);
		submit_res = io_uring_submit(ring.get());
		submitted = true;
		if (submit_res != 1)
			return Outcome{-EIO, 0};
		const int res = ring.wait_res(kCompletionDeadline);
		return Outcome{res, io_workers_of(gettid())};
	});
	ServeUnlessDone guard{*this, [&runner] { return runner.done(); }};

	const auto start = Clock::now();
	int workers = 0;
	while (Clock::now() - start < kBusyWindow) {
		workers = std::max(workers, io_workers_of(runner.tid()));
		std::this_thread::sleep_for(20ms);
	}
	EXPECT_TRUE(submitted) << "io_uring_submit() blocked while " << sleeper()
			       << " (io_uring must arm a poll, not wait for the lock)";
	EXPECT_FALSE(runner.done()) << "the request completed while " << sleeper() << ": res "
				    << runner.result().res;
	serve_fault();
	ASSERT_TRUE(runner.wait(kWakeTimeout)) << "no completion " << ms(kWakeTimeout) << " ms after the fault was served";
	const Outcome o = runner.result();
	if (o.res == -ETIME)
		(void)buf.release();
	EXPECT_EQ(submit_res, 1);
	EXPECT_EQ(std::max(workers, o.workers), 0) << "io-wq workers ran the request";
	ASSERT_EQ(o.res, int(n)) << (o.res < 0 ? strerrorname_np(-o.res) : "bytes");
	if (writer) {
		produced_ += n;
	} else {
		EXPECT_TRUE(same_bytes(*buf, pattern(taken_, n))) << "what the io_uring read got";
		taken_ += n;
	}
	expect_no_byte_lost();
}

std::string sleeper_name(const testing::TestParamInfo<Sleeper> &p)
{
	return p.param.side == Side::kWriter ? "WriterAsleep" : "ReaderAsleep";
}

INSTANTIATE_TEST_SUITE_P(SplitLocking, CircbufNoWait,
			 testing::Values(Sleeper{Side::kWriter, "split"}, Sleeper{Side::kReader, "split"}),
			 sleeper_name);
INSTANTIATE_TEST_SUITE_P(SingleLocking, CircbufNoWait,
			 testing::Values(Sleeper{Side::kWriter, "single"}, Sleeper{Side::kReader, "single"}),
			 sleeper_name);

}  // namespace
}  // namespace circbuf_vm
