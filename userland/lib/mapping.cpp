// The mapped ring and the span protocol: see circbuf/mapping.h.
#include "circbuf/mapping.h"

#include <utility>

#include <sys/ioctl.h>
#include <sys/mman.h>

#include "circbuf/io.h"
#include "circbuf/stats.h"

namespace circbuf {

Mapping::Mapping(Mapping &&other) noexcept
	: addr_(std::exchange(other.addr_, nullptr)), cap_(std::exchange(other.cap_, 0))
{
}

Mapping &Mapping::operator=(Mapping &&other) noexcept
{
	if (this != &other) {
		reset();
		addr_ = std::exchange(other.addr_, nullptr);
		cap_ = std::exchange(other.cap_, 0);
	}
	return *this;
}

void Mapping::reset() noexcept
{
	if (addr_) {
		int saved = errno;
		::munmap(addr_, 2 * cap_);
		errno = saved;
	}
	addr_ = nullptr;
	cap_ = 0;
}

std::expected<Mapping, std::error_code> Mapping::map(int fd, int prot, std::uint64_t capacity)
{
	if (!capacity) {
		auto st = get_stats(fd);
		if (!st)
			return std::unexpected(st.error());
		capacity = st->capacity;
	}
	void *p = ::mmap(nullptr, std::size_t(2 * capacity), prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return std::unexpected(errno_code());
	Mapping m;
	m.addr_ = static_cast<std::byte *>(p);
	m.cap_ = std::size_t(capacity);
	return m;
}

namespace {

std::expected<circbuf_span, std::error_code> acquire(int fd, unsigned long cmd,
						     std::uint64_t want)
{
	circbuf_span sp{};
	int ret = retry_eintr([&] {
		sp = circbuf_span{};
		sp.len = want;
		return ::ioctl(fd, cmd, &sp);
	});
	if (ret != 0)
		return std::unexpected(errno_code());
	return sp;
}

std::expected<void, std::error_code> end_span(int fd, unsigned long cmd, std::uint64_t n)
{
	circbuf_span sp{};
	sp.len = n;
	if (retry_eintr([&] { return ::ioctl(fd, cmd, &sp); }) != 0)
		return std::unexpected(errno_code());
	return {};
}

} // namespace

std::expected<circbuf_span, std::error_code> rx_acquire(int fd, std::uint64_t want)
{
	return acquire(fd, CIRCBUF_RX_ACQUIRE, want);
}

std::expected<void, std::error_code> rx_release(int fd, std::uint64_t n)
{
	return end_span(fd, CIRCBUF_RX_RELEASE, n);
}

std::expected<circbuf_span, std::error_code> tx_acquire(int fd, std::uint64_t want)
{
	return acquire(fd, CIRCBUF_TX_ACQUIRE, want);
}

std::expected<void, std::error_code> tx_commit(int fd, std::uint64_t n)
{
	return end_span(fd, CIRCBUF_TX_COMMIT, n);
}

} // namespace circbuf
