// unique_fd: the one owner of a file descriptor, closed when it goes away.
#pragma once

#include <cerrno>
#include <unistd.h>

namespace circbuf {

// Move-only. There is deliberately no operator bool: test ok() or get() so
// that `if (fd)` cannot silently mean "fd != 0". Closing preserves errno, so
// a scope exit after a failed call does not clobber the error being reported.
class unique_fd {
public:
	unique_fd() noexcept = default;
	explicit unique_fd(int fd) noexcept : fd_(fd) {}
	unique_fd(unique_fd &&other) noexcept : fd_(other.release()) {}
	unique_fd &operator=(unique_fd &&other) noexcept
	{
		reset(other.release());
		return *this;
	}
	unique_fd(const unique_fd &) = delete;
	unique_fd &operator=(const unique_fd &) = delete;
	~unique_fd() { reset(); }

	int get() const noexcept { return fd_; }
	bool ok() const noexcept { return fd_ >= 0; }

	// Give up ownership without closing; the caller must close the result.
	[[nodiscard]] int release() noexcept
	{
		int fd = fd_;
		fd_ = -1;
		return fd;
	}

	// Close the current descriptor (if any) and own @fd instead.
	void reset(int fd = -1) noexcept
	{
		if (fd_ >= 0 && fd_ != fd) {
			int saved = errno;
			::close(fd_);
			errno = saved;
		}
		fd_ = fd;
	}

private:
	int fd_ = -1;
};

} // namespace circbuf
