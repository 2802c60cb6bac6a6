// circbuf-fuzz: the final check, on the device alone: consistent stats, the
// data drained exactly, then a byte-exact round trip.
#include "fuzz.h"

namespace circbuf::fuzz {

// Why a call of the round trip, @what of n bytes at stream offset at, fell
// short: what it returned, or its error.
static std::string short_call(const char *what, std::uint64_t n, std::uint64_t at,
			      const std::expected<size_t, std::error_code> &r)
{
	return strprintf("round trip: %s of %llu bytes at %llu: %s", what, (unsigned long long)n,
			 (unsigned long long)at,
			 r ? strprintf("returned %zu", *r).c_str() : r.error().message().c_str());
}

void final_check(const Shared &sh, Final &out)
{
	auto fd = open_fd(sh.opt.device.c_str(), O_RDWR | O_NONBLOCK);
	if (!fd) {
		out.fail("final open: " + fd.error().message());
		return;
	}
	// io_uring rings are torn down asynchronously: wait for their files.
	circbuf_stats s{};
	auto deadline = Clock::now() + std::chrono::seconds(20);
	for (;;) {
		auto st = get_stats(fd->get());
		if (!st) {
			out.fail("final CIRCBUF_GET_STATS: " + st.error().message());
			return;
		}
		s = *st;
		if ((s.readers == 1 && s.writers == 1) || Clock::now() > deadline)
			break;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	if (s.readers != 1 || s.writers != 1)
		out.fail(strprintf("after every file closed: readers %u, writers %u; expected "
				   "1 and 1 (this file)", s.readers, s.writers));
	if (s.capacity != sh.capacity)
		out.fail(strprintf("capacity %llu, was %zu", (unsigned long long)s.capacity,
				   sh.capacity));
	if (s.used + s.available != s.capacity)
		out.fail(strprintf("used %llu + available %llu != capacity %llu",
				   (unsigned long long)s.used, (unsigned long long)s.available,
				   (unsigned long long)s.capacity));
	if (s.used != s.bytes_written - s.bytes_read - s.bytes_discarded)
		out.fail(strprintf("used %llu != bytes_written - bytes_read - bytes_discarded = %llu",
				   (unsigned long long)s.used,
				   (unsigned long long)(s.bytes_written - s.bytes_read - s.bytes_discarded)));
	if (s.dma_bytes + s.cpu_bytes != s.bytes_read + s.bytes_written)
		out.fail("dma_bytes + cpu_bytes != bytes_read + bytes_written");
	if (s.dma_completed + s.dma_failed != s.dma_submitted)
		out.fail("dma_completed + dma_failed != dma_submitted");
	int fionread = -1;
	if (::ioctl(fd->get(), FIONREAD, &fionread) != 0 || std::uint64_t(fionread) != s.used)
		out.fail(strprintf("FIONREAD %d, stats used %llu", fionread,
				   (unsigned long long)s.used));

	// Drain what the workers left: exactly "used" bytes, then EAGAIN.
	std::vector<std::byte> buf(std::min<size_t>(sh.capacity, 1 << 20) + 1);
	while (out.drained < s.used) {
		auto r = read_some(fd->get(), std::span(buf).first(
			std::min<std::uint64_t>(buf.size(), s.used - out.drained)));
		if (!r || *r == 0) {
			out.fail(strprintf("draining: %s after %llu of %llu bytes",
					   r ? "end of file" : r.error().message().c_str(),
					   (unsigned long long)out.drained, (unsigned long long)s.used));
			return;
		}
		out.drained += *r;
	}
	auto extra = read_some(fd->get(), std::span(buf).first(1));
	if (extra || extra.error() != std::errc::resource_unavailable_try_again)
		out.fail("after draining \"used\" bytes the device still had data or failed: " +
			 (extra ? std::string("1 more byte") : extra.error().message()));
	auto st = get_stats(fd->get());
	if (!st || st->used != 0 || st->available != st->capacity)
		out.fail("not empty after draining");

	// A byte-exact round trip: twice round the ring in transfers of
	// sizes prime to everything, then the ring filled whole.
	const std::uint64_t cap = sh.capacity;
	const std::uint64_t total = std::min<std::uint64_t>(2 * cap + 1234, 16u << 20);
	std::uint64_t written = 0, read = 0;
	std::vector<std::byte> wbuf, rbuf;
	const std::uint64_t wstep = std::min<std::uint64_t>(cap, 70001);
	const std::uint64_t rstep = std::min<std::uint64_t>(cap, 65537);
	while (read < total) {
		std::uint64_t n = std::min({wstep, total - written, cap - (written - read)});
		if (n) {
			wbuf.resize(n);
			fill_pattern(wbuf, written);
			auto w = write_some(fd->get(), wbuf);
			if (!w || *w != n) {
				out.fail(short_call("write", n, written, w));
				return;
			}
			written += n;
		}
		std::uint64_t m = std::min(rstep, written - read);
		rbuf.resize(m);
		auto r = read_some(fd->get(), rbuf);
		if (!r || *r != m) {
			out.fail(short_call("read", m, read, r));
			return;
		}
		if (auto bad = find_pattern_mismatch(rbuf, read)) {
			out.fail(strprintf("round trip: byte %llu differs",
					   (unsigned long long)(read + *bad)));
			return;
		}
		read += m;
	}
	if (cap <= (16u << 20)) {
		wbuf.resize(cap);
		fill_pattern(wbuf, 7);
		auto w = write_some(fd->get(), wbuf);
		std::byte one{0x5a};
		auto w1 = write_some(fd->get(), std::span(&one, 1));
		rbuf.assign(cap + 1, std::byte{0});
		auto r = read_some(fd->get(), rbuf);
		if (!w || *w != cap)
			out.fail("round trip: a write of the whole capacity into the empty ring "
				 "did not store it all");
		else if (w1 || w1.error() != std::errc::resource_unavailable_try_again)
			out.fail("round trip: a write into the full ring did not fail with EAGAIN");
		else if (!r || *r != cap)
			out.fail("round trip: reading the full ring back did not return the capacity");
		else if (find_pattern_mismatch(std::span(rbuf).first(cap), 7))
			out.fail("round trip: the full ring came back different");
		else
			written += cap;
	}
	out.round_trip = written;
	st = get_stats(fd->get());
	if (!st || st->used != 0 || st->available != st->capacity ||
	    st->bytes_written - st->bytes_read - st->bytes_discarded != 0)
		out.fail("not empty or inconsistent after the round trip");
}

} // namespace circbuf::fuzz
