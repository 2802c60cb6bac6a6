// circbuf-bench: the mmap engine. The ring is mapped (circbuf(4), "Mapping
// the ring") and both ends work in it in place, through the span protocol:
// the producer asks for free space (CIRCBUF_TX_ACQUIRE), writes whole
// blocks of the test stream straight into the mapping and publishes them
// (CIRCBUF_TX_COMMIT); the consumer asks for the readable bytes
// (CIRCBUF_RX_ACQUIRE), checks them where they lie and consumes them
// (CIRCBUF_RX_RELEASE). No byte is copied through the kernel.
#include <sys/mman.h>

#include "bench_tool.h"
#include "circbuf/mapping.h"

namespace circbuf::benchtool {

namespace {

// The most one span moves: an eighth of the ring, so that while one end
// works in its span the other end works in another. On two vCPUs, with a
// 64 KiB ring, this moved 4 KiB and 64 KiB blocks about twice as fast as
// half-ring spans did, where a quarter was fast for 4 KiB blocks only and
// a sixteenth slower for both; on one vCPU larger spans are faster, as
// they need fewer switches between the ends.
size_t span_limit(size_t capacity)
{
	return std::max<size_t>(capacity / 8, 1);
}

Mapping map_ring(Run &run, int fd, int prot)
{
	auto m = Mapping::map(fd, prot);
	if (!m)
		die_errno(run.what + ": mmap of the ring (a circbuf ring whose capacity is a "
				     "multiple of the page size)",
			  m.error().value());
	return std::move(*m);
}

} // namespace

void mmap_producer(Run &run, unique_fd fd, std::uint64_t quota)
{
	Mapping ring = map_ring(run, fd.get(), PROT_READ | PROT_WRITE);
	const size_t limit = span_limit(ring.capacity());
	// The reference holds at most a block past its fold: copy from it
	// in pieces of at most a block.
	const size_t piece = size_t(std::min<std::uint64_t>(run.bs, limit));
	run.start();
	std::uint64_t off = 0;
	while (off < quota && !run.time_up()) {
		// Wait for room for a block (or half the ring, if less), as a
		// write() of it would, and fill all the room up to half the
		// ring: several blocks at once, or a large block in pieces.
		const size_t want = size_t(std::min<std::uint64_t>(piece, quota - off));
		auto sp = tx_acquire(fd.get(), want);
		if (!sp)
			die_errno(run.what + ": CIRCBUF_TX_ACQUIRE", sp.error().value());
		const size_t room = size_t(std::min<std::uint64_t>({sp->len, limit, quota - off}));
		std::byte *dst = ring.at(*sp).data();
		for (size_t done = 0; done < room; done += piece)
			std::memcpy(dst + done, run.ref.at(off + done), std::min(piece, room - done));
		if (auto ok = tx_commit(fd.get(), room); !ok)
			die_errno(run.what + ": CIRCBUF_TX_COMMIT", ok.error().value());
		off += room;
	}
	// The mapping holds the file: unmap first, so that closing it is the
	// end of file for the consumers once every producer is done.
	ring.reset();
	fd.reset();
	run.written += off;
	run.blocks += (off + run.bs - 1) / run.bs;
	run.finish();
}

void mmap_consumer(Run &run, unique_fd fd)
{
	Mapping ring = map_ring(run, fd.get(), PROT_READ);
	const size_t limit = span_limit(ring.capacity());
	const size_t piece = size_t(std::min<std::uint64_t>(run.bs, limit));
	run.start();
	std::uint64_t off = 0;
	for (;;) {
		auto sp = rx_acquire(fd.get());
		if (!sp)
			die_errno(run.what + ": CIRCBUF_RX_ACQUIRE", sp.error().value());
		if (sp->len == 0)
			break; // end of file
		std::span<const std::byte> data = ring.at(*sp).first(std::min<size_t>(sp->len, limit));
		if (run.check_pattern)
			for (size_t done = 0; done < data.size(); done += piece)
				check_pattern(run.ref, data.data() + done,
					      std::min(piece, data.size() - done), off + done, run.what);
		if (auto ok = rx_release(fd.get(), data.size()); !ok)
			die_errno(run.what + ": CIRCBUF_RX_RELEASE", ok.error().value());
		off += data.size();
	}
	ring.reset();
	run.read += off;
	run.finish();
}

} // namespace circbuf::benchtool
