// Helpers of the in-VM tests: module control, I/O wrappers, the userfaultfd
// page, the fixture and the per-test watchdog. See vm_test.h.
#include "vm_test.h"

#include "circbuf/io.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <climits>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

namespace circbuf_vm {

Fd open_device(int flags)
{
	return Fd(open(kDevice, flags | O_CLOEXEC));
}

void PrintTo(const Io &io, std::ostream *os)
{
	if (io.ret >= 0)
		*os << "returned " << io.ret;
	else
		*os << "failed with " << strerrorname_np(io.err) << " (" << std::strerror(io.err) << ")";
}

Io sys_read(int fd, void *buf, size_t n)
{
	long r = syscall(SYS_read, fd, buf, n);
	return r < 0 ? err(errno) : ok(r);
}

Io sys_write(int fd, const void *buf, size_t n)
{
	long r = syscall(SYS_write, fd, buf, n);
	return r < 0 ? err(errno) : ok(r);
}

std::vector<uint8_t> pattern(uint64_t offset, size_t n, unsigned seed)
{
	std::vector<uint8_t> v(n);
	circbuf::fill_pattern(std::as_writable_bytes(std::span(v)), offset, seed);
	return v;
}

testing::AssertionResult same_bytes(const std::vector<uint8_t> &got, const std::vector<uint8_t> &want)
{
	auto [g, w] = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
	if (g == got.end() && w == want.end())
		return testing::AssertionSuccess();
	size_t at = g - got.begin();
	// One stream: AssertionResult's operator<< formats every value in a
	// fresh stream, so a std::hex given to it would not reach the bytes.
	std::ostringstream msg;
	msg << "got " << got.size() << " bytes, want " << want.size() << "; first difference at offset " << at;
	if (g != got.end() && w != want.end())
		msg << ": got 0x" << std::hex << int{*g} << ", want 0x" << int{*w};
	return testing::AssertionFailure() << msg.str();
}

std::vector<uint8_t> read_bytes(int fd, size_t n, Clock::duration timeout)
{
	std::vector<uint8_t> out(n);
	size_t got = 0;
	while (got < n) {
		pollfd p{fd, POLLIN, 0};
		int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
		int pr = poll(&p, 1, ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		Io r = sys_read(fd, out.data() + got, n - got);
		if (r.ret > 0)
			got += r.ret;
		else if (r.ret == 0 || (r.err != EAGAIN && r.err != EINTR))
			break;
	}
	out.resize(got);
	return out;
}

bool cycle_bytes(int fd, uint64_t n)
{
	std::vector<uint8_t> buf(std::min<uint64_t>(n, 4 << 20));
	const uint64_t cap = get_stats(fd).capacity;
	while (n > 0) {
		size_t chunk = std::min<uint64_t>({n, cap, buf.size()});
		Io w = sys_write(fd, buf.data(), chunk);
		if (w != ok(static_cast<ssize_t>(chunk))) {
			ADD_FAILURE() << "writing " << chunk << " bytes into the empty ring " << testing::PrintToString(w);
			return false;
		}
		Io r = sys_read(fd, buf.data(), chunk);
		if (r != ok(static_cast<ssize_t>(chunk))) {
			ADD_FAILURE() << "reading " << chunk << " bytes back " << testing::PrintToString(r);
			return false;
		}
		n -= chunk;
	}
	return true;
}

std::string sibling_tool(const std::string &name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "";
	std::string path(self, n);
	path = path.substr(0, path.rfind('/') + 1) + name;
	return access(path.c_str(), X_OK) == 0 ? path : "";
}

std::string stress_tool()
{
	return sibling_tool("circbuf-stress");
}

Command run_command(const std::vector<std::string> &argv, Clock::duration timeout)
{
	Command c;
	int out[2];
	if (pipe2(out, O_CLOEXEC) != 0)
		return c;
	std::vector<char *> args;
	for (const std::string &a : argv)
		args.push_back(const_cast<char *>(a.c_str()));
	args.push_back(nullptr);
	const pid_t pid = fork();
	if (pid < 0) {
		close(out[0]);
		close(out[1]);
		return c;
	}
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		execvp(args[0], args.data());
		_exit(127);
	}
	close(out[1]);
	Fd rd(out[0]);
	const auto deadline = Clock::now() + timeout;
	char buf[4096];
	for (;;) {
		const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
		if (left.count() <= 0) {
			kill(pid, SIGKILL);
			c.output += "\n[killed after the deadline]";
			break;
		}
		pollfd p{rd.get(), POLLIN, 0};
		if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR)
			break;
		const ssize_t n = read(rd.get(), buf, sizeof(buf));
		if (n > 0)
			c.output.append(buf, n);
		else if (n == 0 || errno != EINTR)
			break;
	}
	while (waitpid(pid, &c.status, 0) < 0 && errno == EINTR) {
	}
	return c;
}

void run_stress_tool(const std::vector<std::string> &extra, Clock::duration timeout,
		     const std::string &device)
{
	const std::string tool = stress_tool();
	ASSERT_FALSE(tool.empty()) << "circbuf-stress is not built next to this test";
	std::vector<std::string> args = {tool};
	args.insert(args.end(), extra.begin(), extra.end());
	args.push_back(device);
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);

	pid_t pid = fork();
	ASSERT_GE(pid, 0) << std::strerror(errno);
	if (pid == 0) {
		execv(tool.c_str(), argv.data());
		_exit(127);
	}
	const auto deadline = Clock::now() + timeout;
	int status = 0;
	pid_t done = 0;
	while ((done = waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < deadline)
		std::this_thread::sleep_for(50ms);
	if (done == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		FAIL() << tool << " still running after the deadline; killed";
	}
	ASSERT_EQ(done, pid) << std::strerror(errno);
	ASSERT_TRUE(WIFEXITED(status)) << tool << " killed by signal " << WTERMSIG(status);
	EXPECT_EQ(WEXITSTATUS(status), 0) << tool << " failed (exit status 1: FAIL, 2: bad usage)";
}

circbuf_stats get_stats(int fd)
{
	circbuf_stats s;
	std::memset(&s, 0, sizeof(s));
	if (ioctl(fd, CIRCBUF_GET_STATS, &s) != 0) {
		ADD_FAILURE() << "CIRCBUF_GET_STATS: " << std::strerror(errno);
		std::memset(&s, 0, sizeof(s));
	}
	return s;
}

std::vector<std::string> dir_entries(const std::string &dir)
{
	std::vector<std::string> names;
	DIR *d = opendir(dir.c_str());
	if (!d)
		return names;
	while (const dirent *e = readdir(d)) {
		std::string name = e->d_name;
		if (name != "." && name != "..")
			names.push_back(name);
	}
	closedir(d);
	std::sort(names.begin(), names.end());
	return names;
}

std::optional<std::string> read_text_file(const char *path)
{
	std::ifstream in(path);
	if (!in)
		return std::nullopt;
	std::stringstream ss;
	ss << in.rdbuf();
	std::string s = ss.str();
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	return s;
}

bool wait_for_path(const char *path, bool present, Clock::duration timeout)
{
	const auto deadline = Clock::now() + timeout;
	for (;;) {
		struct stat st;
		if ((stat(path, &st) == 0) == present)
			return true;
		if (Clock::now() > deadline)
			return false;
		std::this_thread::sleep_for(10ms);
	}
}

namespace {

// State ('S', 'R', ...) of thread tid, or 0 if unknown.
char thread_state(pid_t tid)
{
	auto stat = read_text_file(("/proc/self/task/" + std::to_string(tid) + "/stat").c_str());
	if (!stat)
		return 0;
	// "tid (comm) S ...": comm may hold anything, so look after the last ')'.
	size_t p = stat->rfind(')');
	if (p == std::string::npos || p + 2 >= stat->size())
		return 0;
	return (*stat)[p + 2];
}

// System call thread tid is in, -1 if none, -2 if running or unknown.
long thread_syscall(pid_t tid)
{
	auto text = read_text_file(("/proc/self/task/" + std::to_string(tid) + "/syscall").c_str());
	if (!text || text->empty() || !(std::isdigit((*text)[0]) || (*text)[0] == '-'))
		return -2;
	return std::strtol(text->c_str(), nullptr, 10);
}

}  // namespace

bool wait_until_blocked(pid_t tid, long nr, Clock::duration timeout, std::string_view states)
{
	const auto deadline = Clock::now() + timeout;
	int hits = 0;
	while (Clock::now() < deadline) {
		long sc = thread_syscall(tid);
		bool in_call = nr < 0 ? sc >= 0 : sc == nr;
		// Two sightings 20 ms apart: not a passing sleep on a lock.
		if (in_call && states.find(thread_state(tid)) != states.npos) {
			if (++hits == 2)
				return true;
		} else {
			hits = 0;
		}
		std::this_thread::sleep_for(20ms);
	}
	return false;
}

Params parse_params(std::string_view text)
{
	Params params;
	std::istringstream in{std::string(text)};
	std::string word;
	while (in >> word) {
		size_t eq = word.find('=');
		if (eq == std::string::npos)
			params[word] = "";
		else
			params[word.substr(0, eq)] = word.substr(eq + 1);
	}
	return params;
}

std::string format_params(const Params &params)
{
	std::string s;
	for (const auto &[k, v] : params) {
		if (!s.empty())
			s += ' ';
		s += v.empty() ? k : k + "=" + v;
	}
	return s;
}

const Params &harness_params()
{
	static const Params params = [] {
		const char *env = std::getenv("CIRCBUF_PARAMS");
		return parse_params(env ? env : "");
	}();
	return params;
}

Params harness_params_with(const Params &overrides)
{
	Params p = harness_params();
	for (const auto &[k, v] : overrides)
		p[k] = v;
	return p;
}

const char *module_path()
{
	const char *ko = std::getenv("CIRCBUF_KO");
	return ko && *ko ? ko : nullptr;
}

bool module_loaded()
{
	struct stat st;
	return stat(kSysModule, &st) == 0;
}

namespace {

// What the module was last loaded with by this process; at start, what the
// harness loaded it with. Empty when the module is not loaded.
std::optional<Params> &loaded_params()
{
	static std::optional<Params> loaded = harness_params();
	return loaded;
}

}  // namespace

int load_module(const std::string &params)
{
	const char *ko = module_path();
	if (!ko)
		return ENOENT;
	Fd fd(open(ko, O_RDONLY | O_CLOEXEC));
	if (!fd.ok())
		return errno;
	if (syscall(SYS_finit_module, fd.get(), params.c_str(), 0) != 0)
		return errno;
	loaded_params() = parse_params(params);
	return 0;
}

int unload_module()
{
	if (syscall(SYS_delete_module, kModuleName, O_NONBLOCK) != 0)
		return errno;
	loaded_params().reset();
	return 0;
}

std::string reload_module(const Params &params)
{
	if (module_loaded()) {
		// A file closed by another thread or process a moment ago may
		// still hold the module briefly: retry for a while.
		int e = 0;
		for (int i = 0; i < 100; i++) {
			e = unload_module();
			if (e != EAGAIN && e != EBUSY)
				break;
			std::this_thread::sleep_for(20ms);
		}
		if (e != 0 && e != ENOENT)
			return std::string("rmmod circbuf: ") + std::strerror(e);
	}
	if (!wait_for_path(kDevice, false))
		return std::string(kDevice) + " still exists after rmmod";
	std::string text = format_params(params);
	if (int e = load_module(text); e != 0)
		return "insmod circbuf.ko " + text + ": " + std::strerror(e);
	if (!wait_for_path(kDevice, true))
		return std::string(kDevice) + " did not appear after insmod " + text;
	return "";
}

std::string ensure_module(const Params &params)
{
	if (module_loaded() && loaded_params() == params)
		return "";
	return reload_module(params);
}

ScopedSigaction::ScopedSigaction(int sig, void (*handler)(int), int flags) : sig_(sig)
{
	struct sigaction sa {};
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, &old_);
}

ScopedSigaction::~ScopedSigaction()
{
	sigaction(sig_, &old_, nullptr);
}

FaultingPage::FaultingPage()
{
	uffd_.reset(int(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
	if (!uffd_.ok()) {
		fail("userfaultfd");
		return;
	}
	uffdio_api api{};
	api.api = UFFD_API;
	if (ioctl(uffd_.get(), UFFDIO_API, &api) != 0) {
		fail("UFFDIO_API");
		return;
	}
	size_ = size_t(sysconf(_SC_PAGESIZE));
	void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fail("mmap");
		return;
	}
	page_ = static_cast<uint8_t *>(p);
	uffdio_register reg{};
	reg.range = {reinterpret_cast<uintptr_t>(page_), size_};
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd_.get(), UFFDIO_REGISTER, &reg) != 0)
		fail("UFFDIO_REGISTER");
}

FaultingPage::~FaultingPage()
{
	// The userfaultfd first: a thread still in the fault wakes and sees a
	// zero page, instead of a page that is gone.
	uffd_.reset();
	if (page_)
		munmap(page_, size_);
}

void FaultingPage::fail(const char *what)
{
	errno_ = errno;
	error_ = std::string(what) + ": " + std::strerror(errno);
}

bool FaultingPage::wait_for_fault(Clock::duration timeout)
{
	pollfd p{uffd_.get(), POLLIN, 0};
	const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
	if (poll(&p, 1, int(ms)) != 1)
		return false;
	uffd_msg msg{};
	if (read(uffd_.get(), &msg, sizeof(msg)) != ssize_t(sizeof(msg)))
		return false;
	return msg.event == UFFD_EVENT_PAGEFAULT &&
	       (msg.arg.pagefault.address & ~uint64_t(size_ - 1)) == reinterpret_cast<uintptr_t>(page_);
}

namespace {

// Runs a UFFDIO_* ioctl until it does not fail with EAGAIN, which means the
// address space was changing under it; false, with errno, on another error
// or if it keeps failing.
template <typename F> bool retry_uffd(F ioctl_call)
{
	for (int i = 0; i < 100; i++) {
		if (ioctl_call() == 0)
			return true;
		if (errno != EAGAIN)
			return false;
		std::this_thread::sleep_for(1ms);
	}
	return false;
}

}  // namespace

bool FaultingPage::serve(const std::vector<uint8_t> &contents)
{
	if (contents.size() != size_) {
		errno = EINVAL;
		return false;
	}
	uffdio_copy copy{};
	copy.dst = reinterpret_cast<uintptr_t>(page_);
	copy.src = reinterpret_cast<uintptr_t>(contents.data());
	copy.len = size_;
	return retry_uffd([&] { return ioctl(uffd_.get(), UFFDIO_COPY, &copy); });
}

bool FaultingPage::serve_filled(uint8_t value)
{
	return serve(std::vector<uint8_t>(size_, value));
}

bool FaultingPage::serve_zeros()
{
	uffdio_zeropage zero{};
	zero.range = {reinterpret_cast<uintptr_t>(page_), size_};
	return retry_uffd([&] { return ioctl(uffd_.get(), UFFDIO_ZEROPAGE, &zero); });
}

void CircbufTest::SetUp()
{
	if (module_path()) {
		std::string e = ensure_module(module_params());
		ASSERT_EQ(e, "") << "cannot load the module with " << format_params(module_params());
	}
	ASSERT_TRUE(wait_for_path(kDevice, true)) << kDevice << " does not exist: is the module loaded?";

	// Drain what an earlier test may have left. With no writer open an
	// empty device reads as EOF, so either 0 or EAGAIN ends the loop.
	Fd fd = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(fd.ok()) << "open " << kDevice << ": " << std::strerror(errno);
	circbuf_stats s = get_stats(fd.get());
	ASSERT_FALSE(HasFailure());
	auto drained = circbuf::drain(fd.get());
	ASSERT_TRUE(drained) << "draining the device: " << drained.error().message();
	ASSERT_LE(*drained, s.capacity) << "read more than the capacity while draining";
	s = get_stats(fd.get());
	ASSERT_EQ(s.used, 0u) << "device not empty after draining it";
	ASSERT_EQ(s.readers, 1u) << "an earlier test left a file of the device open";
	ASSERT_EQ(s.writers, 0u) << "an earlier test left a file of the device open";
	ASSERT_GT(s.capacity, 0u);
	capacity_ = s.capacity;
	has_dma_ = !(s.flags & CIRCBUF_STATS_NO_DMA);
	// The lane knows which build it loaded (tests/check): a module that
	// claims the wrong one would skip, or fail, every DMA test.
	if (const char *want = getenv("CIRCBUF_EXPECT_DMA")) {
		ASSERT_EQ(has_dma_, std::string_view(want) == "1")
			<< "CIRCBUF_EXPECT_DMA=" << want << ", the module's flags are " << s.flags;
	}
}

void CircbufTest::TearDown()
{
	if (module_path()) {
		std::string e = ensure_module(module_params());
		EXPECT_EQ(e, "") << "cannot restore the module with " << format_params(module_params());
	}
}

bool CircbufTest::reload(const Params &overrides)
{
	if (!module_path()) {
		[] { GTEST_SKIP() << "CIRCBUF_KO is not set: not running under tests/vm/run"; }();
		return false;
	}
	std::string e = reload_module(harness_params_with(overrides));
	EXPECT_EQ(e, "");
	if (!e.empty())
		return false;
	Fd fd = open_device(O_RDONLY | O_NONBLOCK);
	EXPECT_TRUE(fd.ok()) << "open " << kDevice << ": " << std::strerror(errno);
	if (!fd.ok())
		return false;
	capacity_ = get_stats(fd.get()).capacity;
	return !HasFailure();
}

bool CircbufTest::default_mode()
{
	if (!harness_params().contains("mode"))
		return true;
	if (!module_path()) {
		[] { GTEST_SKIP() << "loaded with a mode parameter and CIRCBUF_KO is not set"; }();
		return false;
	}
	Params p = harness_params();
	p.erase("mode");
	const std::string e = reload_module(p);
	EXPECT_EQ(e, "");
	return e.empty();
}

bool CircbufTest::need_capacity(uint64_t n)
{
	if (capacity_ >= n)
		return true;
	[this, n] { GTEST_SKIP() << "needs a capacity of at least " << n << ", loaded with " << capacity_; }();
	return false;
}

bool CircbufTest::need_dma()
{
	if (has_dma_)
		return true;
	[] { GTEST_SKIP() << "the module has no DMA: built for a kernel without dmaengine"; }();
	return false;
}

namespace {

void ignore_signal(int) {}

// Test name for the watchdog's message, written before the alarm is set.
char watchdog_name[256];

void watchdog_fired(int)
{
	static const char pre[] = "\ncircbuf-vm-test: watchdog: ";
	static const char post[] = " is still running, giving up\n";
	(void)!write(STDERR_FILENO, pre, sizeof(pre) - 1);
	(void)!write(STDERR_FILENO, watchdog_name, strlen(watchdog_name));
	(void)!write(STDERR_FILENO, post, sizeof(post) - 1);
	_exit(1);
}

// Ends the process if one test runs longer than kTestTimeout: a module that
// sleeps forever must fail the suite, not hang the VM.
class Watchdog : public testing::EmptyTestEventListener {
	void OnTestStart(const testing::TestInfo &info) override
	{
		std::snprintf(watchdog_name, sizeof(watchdog_name), "%s.%s", info.test_suite_name(), info.name());
		alarm(kTestTimeout);
	}
	void OnTestEnd(const testing::TestInfo &) override { alarm(0); }
};

// Process-wide set-up that must precede main(): gtest_main owns main().
[[maybe_unused]] const bool installed = [] {
	struct sigaction sa {};
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = ignore_signal;  // no SA_RESTART: interrupts blocking calls
	sigaction(kInterruptSignal, &sa, nullptr);
	sa.sa_handler = watchdog_fired;
	sigaction(SIGALRM, &sa, nullptr);
	testing::UnitTest::GetInstance()->listeners().Append(new Watchdog);
	return true;
}();

}  // namespace

int set_capacity(int fd, uint64_t bytes)
{
	return ioctl(fd, CIRCBUF_SET_CAPACITY, &bytes) == 0 ? 0 : errno;
}

void CircbufResizing::TearDown()
{
	if (module_path()) {
		const std::string err = reload_module(harness_params());
		EXPECT_EQ(err, "") << "reloading after a capacity change";
	}
	CircbufTest::TearDown();
}

Mapping::Mapping(int fd, size_t len, int prot, int flags, off_t off) : len_(len)
{
	void *p = mmap(nullptr, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		errno_ = errno;
	else
		addr_ = static_cast<uint8_t *>(p);
}

void Mapping::reset()
{
	if (addr_)
		munmap(addr_, len_);
	addr_ = nullptr;
}

}  // namespace circbuf_vm
