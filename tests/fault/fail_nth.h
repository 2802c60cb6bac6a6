// Fault injection from user space (Documentation/fault-injection/ in the
// kernel source): the per-thread /proc/thread-self/fail-nth, which makes
// the Nth fault-injection point the calling thread reaches fail, and the
// knobs of each kind of fault under /sys/kernel/debug (failslab,
// fail_page_alloc, fail_usercopy). The debug kernel of tests/vm/run --debug
// has them; Debian's kernel does not.
//
// A point is every should_fail() the thread reaches whose kind's filters let
// it through: by default failslab and fail_page_alloc skip allocations that
// may sleep (ignore-gfp-wait) and fail_page_alloc skips order 0, so sweeps
// turn those filters off with ScopedKnob. fail_usercopy has no filter:
// every copy to or from user memory is a point.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <expected>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include "circbuf/unique_fd.h"

namespace circbuf_fault {

inline constexpr char kFailNth[] = "/proc/thread-self/fail-nth";
inline constexpr char kFaultDebugfs[] = "/sys/kernel/debug";

// Whether this kernel injects faults per thread.
inline bool fail_nth_available()
{
	return access(kFailNth, W_OK) == 0;
}

// Reads a small debugfs or procfs file, without the newline; "" on error.
inline std::string read_knob(const std::string &path)
{
	circbuf::unique_fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
	char buf[64];
	if (!fd.ok())
		return "";
	ssize_t n = read(fd.get(), buf, sizeof(buf) - 1);
	if (n <= 0)
		return "";
	std::string s(buf, static_cast<size_t>(n));
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	return s;
}

inline std::expected<void, std::error_code> write_knob(const std::string &path,
						       const std::string &value)
{
	circbuf::unique_fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
	if (!fd.ok())
		return std::unexpected(std::error_code(errno, std::system_category()));
	const std::string text = value + "\n";
	if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
		return std::unexpected(std::error_code(errno, std::system_category()));
	return {};
}

// A knob of /sys/kernel/debug/KIND/, e.g. ("failslab", "ignore-gfp-wait"),
// or any file at @path (a slab cache's /sys/kernel/slab/NAME/failslab),
// set for the object's lifetime and then restored. ok() is false (and
// error() says why) if it could not be set.
class ScopedKnob {
public:
	ScopedKnob(const std::string &kind, const std::string &name, const std::string &value)
		: ScopedKnob(std::string(kFaultDebugfs) + "/" + kind + "/" + name, value)
	{
	}
	ScopedKnob(std::string path, const std::string &value) : path_(std::move(path))
	{
		old_ = read_knob(path_);
		if (old_.empty()) {
			error_ = "cannot read " + path_;
			return;
		}
		if (auto r = write_knob(path_, value); !r) {
			error_ = "cannot write " + value + " to " + path_ + ": " + r.error().message();
			return;
		}
		set_ = true;
	}
	ScopedKnob(const ScopedKnob &) = delete;
	ScopedKnob &operator=(const ScopedKnob &) = delete;
	~ScopedKnob()
	{
		// Y/N come back as read; numbers too.
		if (set_ && !write_knob(path_, old_))
			std::fprintf(stderr, "fail_nth.h: cannot restore %s to %s\n", path_.c_str(),
				     old_.c_str());
	}

	bool ok() const { return set_; }
	const std::string &error() const { return error_; }

private:
	std::string path_, old_, error_;
	bool set_ = false;
};

// The calling thread's fail-nth. Use from one thread only: the file names
// the thread that opened it.
class FailNth {
public:
	FailNth() : fd_(open(kFailNth, O_RDWR | O_CLOEXEC)) {}

	bool ok() const { return fd_.ok(); }

	// The @n-th fault-injection point this thread reaches from now on fails
	// (1: the very next). Call right before the operation under test.
	std::expected<void, std::error_code> arm(unsigned n)
	{
		const std::string s = std::to_string(n);
		if (pwrite(fd_.get(), s.data(), s.size(), 0) != static_cast<ssize_t>(s.size()))
			return std::unexpected(std::error_code(errno, std::system_category()));
		return {};
	}

	// Whether the armed point was reached, and so failed, since arm();
	// disarms. Reading and disarming are points themselves (they copy
	// to and from user memory): a read that fails with EFAULT consumed the
	// count itself, so the operation did not reach it.
	bool fired()
	{
		char buf[16];
		ssize_t n = pread(fd_.get(), buf, sizeof(buf) - 1, 0);
		bool hit = false;
		if (n > 0) {
			buf[n] = '\0';
			hit = std::strtoul(buf, nullptr, 10) == 0;
		}
		// A write of "0" that fails with EFAULT was the last point: the
		// count is 0 after it anyway. Twice is enough; three for safety.
		for (int i = 0; i < 3; i++)
			if (pwrite(fd_.get(), "0", 1, 0) == 1 || errno != EFAULT)
				break;
		return hit;
	}

private:
	circbuf::unique_fd fd_;
};

}  // namespace circbuf_fault
