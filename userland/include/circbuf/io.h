// Error-as-value wrappers around open(2), read(2) and write(2).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <system_error>

#include <fcntl.h>
#include <sys/types.h>

#include "circbuf/unique_fd.h"

namespace circbuf {

// The current errno as an error_code (its message() is strerror's text).
inline std::error_code errno_code(int err = errno)
{
	return {err, std::system_category()};
}

// The one EINTR loop: call @f until it does not fail with EINTR.
template <typename F>
auto retry_eintr(F &&f) -> decltype(f())
{
	decltype(f()) ret;
	do {
		ret = f();
	} while (ret == -1 && errno == EINTR);
	return ret;
}

// open(2) with O_CLOEXEC always added.
std::expected<unique_fd, std::error_code> open_fd(const char *path, int flags,
						  mode_t mode = 0666);

// One read(2)/write(2), retried on EINTR. 0 from read_some() means EOF.
std::expected<size_t, std::error_code> read_some(int fd, std::span<std::byte> buf);
std::expected<size_t, std::error_code> write_some(int fd,
						  std::span<const std::byte> buf);

// Read until @buf is full or EOF; returns the bytes read (< size only at EOF).
std::expected<size_t, std::error_code> read_full(int fd, std::span<std::byte> buf);
// Write all of @buf, looping on short writes; returns buf.size().
std::expected<size_t, std::error_code> write_full(int fd,
						  std::span<const std::byte> buf);

// Read and discard what the O_NONBLOCK file @fd holds now, until EAGAIN or
// end of file; returns the bytes discarded.
std::expected<std::uint64_t, std::error_code> drain(int fd);

} // namespace circbuf
