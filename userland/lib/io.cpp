#include "circbuf/io.h"

#include <unistd.h>

namespace circbuf {

std::expected<unique_fd, std::error_code> open_fd(const char *path, int flags,
						  mode_t mode)
{
	int fd = retry_eintr([&] { return ::open(path, flags | O_CLOEXEC, mode); });
	if (fd < 0)
		return std::unexpected(errno_code());
	return unique_fd(fd);
}

std::expected<size_t, std::error_code> read_some(int fd, std::span<std::byte> buf)
{
	ssize_t n = retry_eintr([&] { return ::read(fd, buf.data(), buf.size()); });
	if (n < 0)
		return std::unexpected(errno_code());
	return static_cast<size_t>(n);
}

std::expected<size_t, std::error_code> write_some(int fd,
						  std::span<const std::byte> buf)
{
	ssize_t n = retry_eintr([&] { return ::write(fd, buf.data(), buf.size()); });
	if (n < 0)
		return std::unexpected(errno_code());
	return static_cast<size_t>(n);
}

std::expected<size_t, std::error_code> read_full(int fd, std::span<std::byte> buf)
{
	size_t done = 0;
	while (done < buf.size()) {
		auto n = read_some(fd, buf.subspan(done));
		if (!n)
			return n;
		if (*n == 0)
			break;
		done += *n;
	}
	return done;
}

std::expected<size_t, std::error_code> write_full(int fd,
						  std::span<const std::byte> buf)
{
	size_t done = 0;
	while (done < buf.size()) {
		auto n = write_some(fd, buf.subspan(done));
		if (!n)
			return n;
		if (*n == 0) // a write(2) that makes no progress would loop forever
			return std::unexpected(errno_code(EIO));
		done += *n;
	}
	return done;
}

std::expected<std::uint64_t, std::error_code> drain(int fd)
{
	std::byte buf[1 << 16];
	std::uint64_t total = 0;
	for (;;) {
		auto n = read_some(fd, buf);
		if (!n && n.error() == std::errc::resource_unavailable_try_again)
			return total;
		if (!n)
			return std::unexpected(n.error());
		if (*n == 0)
			return total;
		total += *n;
	}
}

} // namespace circbuf
