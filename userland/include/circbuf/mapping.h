// The mapped ring and its span protocol (circbuf(4), "Mapping the ring"):
// mmap() of twice the capacity, so that every span of at most the capacity
// is contiguous, and CIRCBUF_RX_ACQUIRE/_RX_RELEASE, CIRCBUF_TX_ACQUIRE/
// _TX_COMMIT to read and write it in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <system_error>

#include "circbuf.h"

namespace circbuf {

// The one owner of a mapping of a ring, unmapped when it goes away (which
// also ends a span its file holds). Move-only.
class Mapping {
public:
	Mapping() noexcept = default;
	Mapping(Mapping &&other) noexcept;
	Mapping &operator=(Mapping &&other) noexcept;
	Mapping(const Mapping &) = delete;
	Mapping &operator=(const Mapping &) = delete;
	~Mapping() { reset(); }

	// Map ring file @fd, whose capacity is @capacity bytes (a multiple of
	// the page size; 0: ask the ring), with @prot: PROT_READ, which any
	// mapping needs a file open for reading for, and PROT_WRITE, which
	// needs O_RDWR. EINVAL: a capacity that is not a multiple of the page
	// size; EACCES: a file open for writing only, or PROT_WRITE on one
	// open for reading only. While mapped, the ring's capacity cannot change (EBUSY).
	static std::expected<Mapping, std::error_code> map(int fd, int prot,
							    std::uint64_t capacity = 0);

	// The ring's capacity; the mapping is twice as long.
	std::size_t capacity() const noexcept { return cap_; }
	std::byte *data() const noexcept { return addr_; }

	// The bytes of @sp (as an ACQUIRE returned it), contiguous across the
	// ring's wrap.
	std::span<std::byte> at(const circbuf_span &sp) const noexcept
	{
		return {addr_ + sp.offset, std::size_t(sp.len)};
	}

	void reset() noexcept;

private:
	std::byte *addr_ = nullptr;
	std::size_t cap_ = 0;
};

// CIRCBUF_RX_ACQUIRE: wait (unless @fd is O_NONBLOCK: EAGAIN) until
// @want bytes (0: one) are readable, and hold them; len 0 at end of file.
// Retried on EINTR.
std::expected<circbuf_span, std::error_code> rx_acquire(int fd, std::uint64_t want = 0);
// CIRCBUF_RX_RELEASE: consume @n bytes of the held span and end it.
// Retried on EINTR, as are the others.
std::expected<void, std::error_code> rx_release(int fd, std::uint64_t n);
// CIRCBUF_TX_ACQUIRE: wait for @want bytes (0: one) of space and hold all
// the free space. Retried on EINTR.
std::expected<circbuf_span, std::error_code> tx_acquire(int fd, std::uint64_t want = 0);
// CIRCBUF_TX_COMMIT: publish the first @n bytes of the held span and end it.
std::expected<void, std::error_code> tx_commit(int fd, std::uint64_t n);

} // namespace circbuf
