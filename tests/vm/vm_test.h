// Helpers shared by the in-VM tests of the circbuf module.
//
// The suite runs as root inside the test VM (tests/vm/run), where the module
// is loaded with the parameters in CIRCBUF_PARAMS from the file named by
// CIRCBUF_KO. Every test starts from a loaded module and an empty, idle
// device (CircbufTest::SetUp); a test that loads the module with other
// parameters gets the harness's parameters back in TearDown.
//
// Anything that could hang on a broken module runs with a deadline: blocking
// calls go to a Background thread, and a per-test watchdog (vm_test.cpp)
// ends the process if a test outlives kTestTimeout.
#ifndef CIRCBUF_TESTS_VM_VM_TEST_H
#define CIRCBUF_TESTS_VM_VM_TEST_H

#include <gtest/gtest.h>

#include "circbuf/pattern.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "circbuf/unique_fd.h"
#include "uapi/circbuf.h"

namespace circbuf_vm {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline constexpr char kDevice[] = "/dev/" CIRCBUF_DEVICE_NAME;
inline constexpr char kModuleName[] = "circbuf";
inline constexpr char kSysModule[] = "/sys/module/circbuf";
inline constexpr char kBufferSizeParam[] = "/sys/module/circbuf/parameters/buffer_size";

// POSIX PIPE_BUF: writes up to this size are all-or-nothing.
inline constexpr size_t kPipeBuf = 4096;

// How long a call must stay asleep before a test believes it blocks, and how
// long a woken call may take to return. TCG is slow, so the second is large.
inline constexpr auto kBlockProof = 150ms;
inline constexpr auto kWakeTimeout = 5s;
inline constexpr unsigned kTestTimeout = 60;  // seconds, per test

// Interrupts a thread blocked in a system call: its handler does nothing and
// is installed without SA_RESTART, so the call fails with EINTR or returns
// what it transferred. Installed for the whole process at start-up.
inline constexpr int kInterruptSignal = SIGUSR1;

// Move-only owner of a file descriptor: the project's one, from the
// user-space helper library.
using Fd = circbuf::unique_fd;

// Opens the device with flags | O_CLOEXEC; on failure the Fd is invalid and
// errno tells why.
Fd open_device(int flags);

// Outcome of one read or write: ret as the call returned it, err = errno
// when ret == -1 (0 otherwise).
struct Io {
	ssize_t ret = 0;
	int err = 0;

	friend bool operator==(const Io &, const Io &) = default;
};
inline Io ok(ssize_t n) { return {n, 0}; }
inline Io err(int e) { return {-1, e}; }
void PrintTo(const Io &io, std::ostream *os);

// read(2)/write(2) as raw system calls, so that deliberately bad buffers
// reach the kernel untouched by compiler or _FORTIFY_SOURCE checks.
Io sys_read(int fd, void *buf, size_t n);
Io sys_write(int fd, const void *buf, size_t n);

// The tools' test stream (circbuf/pattern.h, never repeating): byte i of
// stream seed, and n of its bytes from offset.
using circbuf::pattern_byte;
std::vector<uint8_t> pattern(uint64_t offset, size_t n, unsigned seed = 0);

// Compares byte strings, reporting the first difference rather than both.
testing::AssertionResult same_bytes(const std::vector<uint8_t> &got, const std::vector<uint8_t> &want);

// Reads from fd (which may be blocking or not) until n bytes arrived, EOF,
// an error, or no byte arrived for timeout; returns what it read.
std::vector<uint8_t> read_bytes(int fd, size_t n, Clock::duration timeout = kWakeTimeout);

// Moves n bytes through an O_RDWR | O_NONBLOCK fd of an empty device, which
// advances the ring's head by n; returns false (with a failure) on error.
bool cycle_bytes(int fd, uint64_t n);

// CIRCBUF_GET_STATS; adds a failure and returns zeros if the ioctl fails.
circbuf_stats get_stats(int fd);

// Names under a directory, without . and .., sorted; none if it cannot be
// read.
std::vector<std::string> dir_entries(const std::string &dir);

// Reads a small text file such as a sysfs attribute, without the newline.
std::optional<std::string> read_text_file(const char *path);

// Polls until path exists (present) or is gone (!present); false on timeout.
bool wait_for_path(const char *path, bool present, Clock::duration timeout = 2s);

// True once thread tid sleeps (state S, or any state in states) inside
// system call nr, or inside any system call when nr < 0; polls /proc for up
// to timeout.
bool wait_until_blocked(pid_t tid, long nr = -1, Clock::duration timeout = 2s,
			std::string_view states = "S");

// A tool built beside this test binary (circbuf-ctl, circbuf-stats...), or
// "" if there is none; stress_tool() is circbuf-stress.
std::string sibling_tool(const std::string &name);
std::string stress_tool();

// Runs argv with stdout and stderr captured, killing it after timeout.
struct Command {
	int status = -1;  // as waitpid() reports it; -1 if it could not run
	std::string output;
};
Command run_command(const std::vector<std::string> &argv, Clock::duration timeout);

// Runs circbuf-stress with args (the device path is appended) and adds a
// failure unless it exits 0 within timeout; a tool still running then is
// killed.
void run_stress_tool(const std::vector<std::string> &args, Clock::duration timeout,
		     const std::string &device = kDevice);

// Module parameters, name -> value.
using Params = std::map<std::string, std::string>;
Params parse_params(std::string_view text);
std::string format_params(const Params &params);

// The parameters the harness loaded the module with (CIRCBUF_PARAMS), and
// those with some replaced.
const Params &harness_params();
Params harness_params_with(const Params &overrides);

// CIRCBUF_KO, or nullptr when the suite runs outside the harness.
const char *module_path();
bool module_loaded();

// finit_module(2) of CIRCBUF_KO / delete_module(2) with O_NONBLOCK: 0 or the
// errno. They keep track of what is loaded for ensure_module().
int load_module(const std::string &params);
int unload_module();

// Leaves the module loaded with params and its node present, reloading only
// if it is not already loaded with exactly those; "" or what went wrong.
std::string ensure_module(const Params &params);
// Unloads (if loaded) and loads again with params, whatever is loaded now.
std::string reload_module(const Params &params);

// Runs fn on its own thread, so that a test can check that it blocks and
// collect its result with a deadline. If fn has not returned when the object
// dies, the thread is sent kInterruptSignal until it does; a thread still
// stuck after that aborts the suite rather than hang it.
template <typename T> class Background {
public:
	explicit Background(std::function<T()> fn) : thread_([this, f = std::move(fn)] { run(f); })
	{
		std::unique_lock lock(mu_);
		cv_.wait(lock, [this] { return tid_ != 0; });
	}
	Background(const Background &) = delete;
	Background &operator=(const Background &) = delete;

	~Background()
	{
		for (int i = 0; i < 50 && !wait(100ms); i++)
			pthread_kill(thread_.native_handle(), kInterruptSignal);
		if (!done()) {
			std::fprintf(stderr, "circbuf-vm-test: thread %d stuck in the kernel\n", tid_);
			std::abort();
		}
		thread_.join();
	}

	pid_t tid() const { return tid_; }
	pthread_t handle() { return thread_.native_handle(); }

	// True if fn returned within timeout.
	bool wait(Clock::duration timeout)
	{
		std::unique_lock lock(mu_);
		return cv_.wait_for(lock, timeout, [this] { return result_.has_value(); });
	}
	bool done()
	{
		std::lock_guard lock(mu_);
		return result_.has_value();
	}
	// fn's result; call only once wait() returned true.
	T result()
	{
		std::lock_guard lock(mu_);
		return *result_;
	}
	// When fn returned.
	Clock::time_point finished_at()
	{
		std::lock_guard lock(mu_);
		return finished_;
	}

private:
	void run(const std::function<T()> &fn)
	{
		{
			std::lock_guard lock(mu_);
			tid_ = gettid();
		}
		cv_.notify_all();
		T r = fn();
		{
			std::lock_guard lock(mu_);
			result_ = std::move(r);
			finished_ = Clock::now();
		}
		cv_.notify_all();
	}

	std::mutex mu_;
	std::condition_variable cv_;
	pid_t tid_ = 0;
	std::optional<T> result_;
	Clock::time_point finished_;
	std::thread thread_;  // last: starts once the members above exist
};

// Installs a signal handler for the life of the object.
class ScopedSigaction {
public:
	ScopedSigaction(int sig, void (*handler)(int), int flags);
	ScopedSigaction(const ScopedSigaction &) = delete;
	ScopedSigaction &operator=(const ScopedSigaction &) = delete;
	~ScopedSigaction();

private:
	int sig_;
	struct sigaction old_ {};
};

// One anonymous page registered with userfaultfd(2) in missing mode, that
// nobody serves until serve(), serve_filled() or serve_zeros(): a copy to or
// from it, by CPU (copy_{to,from}_user()) or by pinning it for DMA, sleeps
// in the fault until then, holding whatever lock its caller holds. The
// userfaultfd has no UFFD_USER_MODE_ONLY, which would fail kernel-mode
// faults with EFAULT instead (as root that is allowed). Destroying it
// closes the userfaultfd first, which wakes a thread still in the fault (it
// then sees a zero page), then unmaps the page.
class FaultingPage {
public:
	FaultingPage();
	FaultingPage(const FaultingPage &) = delete;
	FaultingPage &operator=(const FaultingPage &) = delete;
	~FaultingPage();

	// "" once the page is ready, else what failed; error_errno() says why
	// (ENOSYS: the kernel has no userfaultfd).
	const std::string &error() const { return error_; }
	int error_errno() const { return errno_; }
	uint8_t *data() const { return page_; }
	size_t size() const { return size_; }

	// True once a thread faults on the page: the userfaultfd reports it
	// within timeout.
	bool wait_for_fault(Clock::duration timeout);

	// Resolve the fault, waking the thread in it: with these size() bytes
	// (UFFDIO_COPY), with size() bytes of value, or with a page of zeros
	// (UFFDIO_ZEROPAGE). False, with errno, if that failed (EEXIST: it was
	// served already).
	bool serve(const std::vector<uint8_t> &contents);
	bool serve_filled(uint8_t value);
	bool serve_zeros();

	// The last resort when serving fails: closing the userfaultfd wakes
	// the thread in the fault.
	void abandon() { uffd_.reset(); }

private:
	void fail(const char *what);

	Fd uffd_;
	uint8_t *page_ = nullptr;
	size_t size_ = 0;
	std::string error_;
	int errno_ = 0;
};

inline const size_t kPage = size_t(sysconf(_SC_PAGESIZE));

// A mapping of a ring, unmapped when it goes out of scope.
class Mapping {
public:
	Mapping(int fd, size_t len, int prot, int flags = MAP_SHARED, off_t off = 0);
	~Mapping() { reset(); }
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;

	bool ok() const { return addr_ != nullptr; }
	int error() const { return errno_; }
	uint8_t *data() const { return addr_; }
	void reset();

private:
	uint8_t *addr_ = nullptr;
	size_t len_;
	int errno_ = 0;
};

// Fixture of every test: the module is loaded with the harness parameters
// (or the ones the test asks for with reload()), and the device is empty
// with no open file, its capacity in capacity_.
class CircbufTest : public ::testing::Test {
protected:
	void SetUp() override;
	void TearDown() override;

	// The parameters SetUp() loads the module with, and TearDown() leaves
	// it with: the harness's. A fixture whose every test wants others
	// overrides this, so that consecutive tests share one load.
	virtual Params module_params() const { return harness_params(); }

	// Loads the module with the harness parameters and overrides, and
	// refreshes capacity_. False when the test cannot go on: it failed, or
	// was skipped outside the harness. Use as if (!reload({...})) return;
	[[nodiscard]] bool reload(const Params &overrides);

	// Leaves the module loaded with the harness parameters but mode, so
	// that the node has its default mode: reloads it if the harness set
	// one. False when the test cannot go on: it failed, or was skipped
	// outside the harness. Use as if (!default_mode()) return;
	[[nodiscard]] bool default_mode();

	// False, skipping the test, when the loaded capacity is below n.
	[[nodiscard]] bool need_capacity(uint64_t n);

	// False, skipping the test, when the module moves data by CPU only:
	// built for a kernel without dmaengine (CIRCBUF_STATS_NO_DMA).
	[[nodiscard]] bool need_dma();

	uint64_t capacity_ = 0;
	// The module has its DMA engine (no CIRCBUF_STATS_NO_DMA).
	bool has_dma_ = true;
};

// CIRCBUF_SET_CAPACITY on fd: 0 or the errno.
int set_capacity(int fd, uint64_t bytes);

// A fixture for tests that change the capacity at run time, which no module
// parameter records: TearDown reloads the module as the harness loaded it.
class CircbufResizing : public CircbufTest {
protected:
	void TearDown() override;
};

}  // namespace circbuf_vm

#endif  // CIRCBUF_TESTS_VM_VM_TEST_H
