// circbuf-stress: the records-mode threads that work in the mapped ring
// (circbuf(4), "Mapping the ring") through the span protocol, alongside
// the read(2)/write(2) threads of threads.cpp and checked the same way.
#include "stress.h"

#include <algorithm>

#include <sys/mman.h>

#include "circbuf/mapping.h"
#include "circbuf/report.h"

namespace circbuf::stress {

namespace {

// The ring mapped for @fd, or an empty mapping with the reason in @error.
Mapping map_ring(const Shared &sh, int fd, int prot, const char *role, unsigned id,
		 std::string &error)
{
	auto m = Mapping::map(fd, prot, sh.capacity);
	if (!m) {
		error = strprintf("%s %u: mmap: %s", role, id, m.error().message().c_str());
		return {};
	}
	return std::move(*m);
}

} // namespace

bool mapped_writer(const Shared &sh, unsigned id)
{
	return id >= sh.opt.writers - sh.opt.mapped_writers;
}

bool mapped_reader(const Shared &sh, unsigned id)
{
	return id >= sh.opt.readers - sh.opt.mapped_readers;
}

// As record_writer(), but each batch of records (at most PIPE_BUF bytes, so
// atomic) is encoded straight into free space of the ring that
// CIRCBUF_TX_ACQUIRE waited for, and published by CIRCBUF_TX_COMMIT.
void mapped_record_writer(Shared &sh, unique_fd fd, unsigned id, WriterResult &res)
{
	Rng rng = thread_rng(sh, 'w', id);
	const size_t rs = sh.opt.record_size;
	const size_t max_batch = std::min(kPipeBuf, sh.capacity) / rs;
	Mapping ring = map_ring(sh, fd.get(), PROT_READ | PROT_WRITE, "writer", id, res.error);
	sh.go.wait();
	for (std::uint32_t write = 0; ring.data() && !sh.stop.load(std::memory_order_relaxed);
	     write++) {
		const size_t nrec = rng.between(1, max_batch);
		auto sp = tx_acquire(fd.get(), nrec * rs);
		if (!sp) {
			res.error = strprintf("writer %u: CIRCBUF_TX_ACQUIRE: %s", id,
					      sp.error().message().c_str());
			break;
		}
		if (sp->len < nrec * rs) {
			res.error = strprintf("writer %u: CIRCBUF_TX_ACQUIRE of %zu bytes gave %llu",
					      id, nrec * rs, (unsigned long long)sp->len);
			break;
		}
		std::span<std::byte> room = ring.at(*sp);
		for (size_t i = 0; i < nrec; i++)
			encode_record(room.subspan(i * rs, rs),
				      {id, res.records + i, write, std::uint16_t(i),
				       std::uint16_t(nrec)});
		if (auto ok = tx_commit(fd.get(), nrec * rs); !ok) {
			res.error = strprintf("writer %u: CIRCBUF_TX_COMMIT: %s", id,
					      ok.error().message().c_str());
			break;
		}
		res.writes++;
		res.bytes += nrec * rs;
		sh.bytes_written += nrec * rs;
		res.records += nrec;
	}
	// The mapping holds the file: unmap it first, so that the close is
	// this writer's end, which the readers' end of file waits for.
	ring.reset();
	fd.reset();
	sh.writers_running--;
}

// As record_reader(), but the records are checked where they lie in the
// ring: CIRCBUF_RX_ACQUIRE waits for at least one, a random number of the
// whole records there are checked, and CIRCBUF_RX_RELEASE consumes them.
// Writers publish whole records only, so a span that does not end on a
// record boundary is torn.
void mapped_record_reader(Shared &sh, unique_fd fd, unsigned id, ReaderResult &res)
{
	Rng rng = thread_rng(sh, 'r', id);
	const size_t rs = sh.opt.record_size;
	const size_t max_mult = std::max<size_t>(1, sh.capacity / rs);
	std::vector<std::uint64_t> next_seq(sh.opt.writers, 0);
	res.seqs.resize(sh.opt.writers);
	Mapping ring = map_ring(sh, fd.get(), PROT_READ, "reader", id, res.error);
	sh.go.wait();
	while (ring.data()) {
		auto sp = rx_acquire(fd.get(), rs);
		if (!sp) {
			res.error = strprintf("reader %u: CIRCBUF_RX_ACQUIRE: %s", id,
					      sp.error().message().c_str());
			break;
		}
		if (sp->len % rs)
			res.torn++;
		const size_t have = size_t(sp->len) / rs;
		if (have == 0) {
			// End of file, with no record or only part of one left
			// (held: let it go).
			if (sp->len)
				(void)rx_release(fd.get(), 0);
			break;
		}
		const size_t take = std::min<size_t>(have, rng.between(1, max_mult)) * rs;
		std::span<const std::byte> data = ring.at(*sp).first(take);
		std::optional<RecordId> prev;
		for (size_t off = 0; off < take; off += rs)
			if (!check_record(sh, data.subspan(off, rs), res, next_seq, prev)) {
				res.corrupt++;
				prev.reset();
			}
		if (auto ok = rx_release(fd.get(), take); !ok) {
			res.error = strprintf("reader %u: CIRCBUF_RX_RELEASE: %s", id,
					      ok.error().message().c_str());
			break;
		}
		res.reads++;
		res.bytes += take;
		sh.bytes_read += take;
	}
	ring.reset();
	sh.readers_running--;
}

} // namespace circbuf::stress
