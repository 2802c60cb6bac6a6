// circbuf-stress: the threads that write and read with write(2) and
// read(2), in records, random and packets mode.
#include "stress.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "circbuf/io.h"
#include "circbuf/report.h"

namespace circbuf::stress {

namespace {

void add_histogram(Histogram &h, std::span<const std::byte> data)
{
	for (std::byte b : data)
		h[std::to_integer<size_t>(b)]++;
}

} // namespace

// A size in [1, max], log-uniform so small and large transfers both occur.
size_t random_size(Rng &rng, size_t max)
{
	unsigned bits = unsigned(rng.between(1, std::bit_width(max)));
	return rng.between(1, std::min<std::uint64_t>(max, (1ull << bits) - 1));
}

Rng thread_rng(const Shared &sh, char role, unsigned id)
{
	Rng r{sh.opt.seed ^ (std::uint64_t(role) << 56) ^ (std::uint64_t(id) << 32)};
	r.next();
	return r;
}

void record_writer(Shared &sh, unique_fd fd, unsigned id, WriterResult &res)
{
	Rng rng = thread_rng(sh, 'w', id);
	const size_t rs = sh.opt.record_size;
	const size_t max_batch = std::min(kPipeBuf, sh.capacity) / rs;
	std::vector<std::byte> buf(max_batch * rs);
	sh.go.wait();
	for (std::uint32_t write = 0; !sh.stop.load(std::memory_order_relaxed); write++) {
		const size_t nrec = rng.between(1, max_batch);
		for (size_t i = 0; i < nrec; i++)
			encode_record(std::span(buf).subspan(i * rs, rs),
				      {id, res.records + i, write, std::uint16_t(i),
				       std::uint16_t(nrec)});
		auto data = std::span<const std::byte>(buf).first(nrec * rs);
		// An atomic write must not be cut: count it, and finish it so
		// that the stream stays parseable.
		for (bool first = true; !data.empty(); first = false) {
			auto n = write_some(fd.get(), data);
			if (!n) {
				res.error = strprintf("writer %u: write: %s", id,
						      n.error().message().c_str());
				break;
			}
			if (first && *n != data.size())
				res.short_writes++;
			res.writes++;
			res.bytes += *n;
			sh.bytes_written += *n;
			data = data.subspan(*n);
		}
		if (!res.error.empty())
			break;
		res.records += nrec;
	}
	fd.reset(); // the last writer's close is what lets the readers see EOF
	sh.writers_running--;
}

namespace {

// One read into @buf, counted; 0 (end of file) or an error, which goes to
// @res, end the reader.
std::optional<size_t> read_counted(Shared &sh, int fd, std::span<std::byte> buf, unsigned id,
				   ReaderResult &res)
{
	auto n = read_some(fd, buf);
	if (!n) {
		res.error = strprintf("reader %u: read: %s", id, n.error().message().c_str());
		return std::nullopt;
	}
	if (*n == 0)
		return std::nullopt;
	res.reads++;
	res.bytes += *n;
	sh.bytes_read += *n;
	return *n;
}

} // namespace

// Account for one valid-looking record; false if @rec is not one. @prev
// is the record before it in the same read, if any.
bool check_record(const Shared &sh, std::span<const std::byte> rec, ReaderResult &res,
		  std::vector<std::uint64_t> &next_seq, std::optional<RecordId> &prev)
{
	auto id = decode_record(rec);
	if (!id || id->writer >= sh.opt.writers)
		return false;
	if (prev && !prev->may_precede(*id))
		res.split++;
	prev = id;
	// next_seq[w] is one past the last seq of writer w this reader saw.
	if (id->seq < next_seq[id->writer])
		res.reordered++;
	next_seq[id->writer] = id->seq + 1;
	auto &ranges = res.seqs[id->writer];
	if (!ranges.empty() && ranges.back().end == id->seq)
		ranges.back().end++;
	else
		ranges.push_back({id->seq, id->seq + 1});
	return true;
}

void record_reader(Shared &sh, unique_fd fd, unsigned id, ReaderResult &res)
{
	Rng rng = thread_rng(sh, 'r', id);
	const size_t rs = sh.opt.record_size;
	const size_t max_mult = std::max<size_t>(1, std::min(3 * sh.capacity, kMaxRandomIo) / rs);
	// Room for one partial record carried over from a torn read.
	std::vector<std::byte> buf((max_mult + 1) * rs);
	std::vector<std::uint64_t> next_seq(sh.opt.writers, 0);
	res.seqs.resize(sh.opt.writers);
	size_t carry = 0;
	bool in_garbage = false;
	sh.go.wait();
	for (;;) {
		size_t want = rng.between(1, max_mult) * rs;
		auto n = read_counted(sh, fd.get(), std::span(buf).subspan(carry, want), id, res);
		if (!n)
			break;
		if (*n % rs)
			res.torn++;
		// Parse whole records; after damage, slide a byte at a time until
		// a valid record shows up again, counting one corruption per
		// damaged stretch, so that one lost byte costs a few records
		// rather than the rest of the run.
		// A record is checked against the one before it only when that
		// one came in the same read: other readers may have read what
		// came between two reads.
		size_t avail = carry + *n, off = 0;
		std::optional<RecordId> prev;
		while (avail - off >= rs) {
			if (check_record(sh, std::span(buf).subspan(off, rs), res, next_seq, prev)) {
				off += rs;
				in_garbage = false;
				continue;
			}
			if (!in_garbage)
				res.corrupt++;
			in_garbage = true;
			prev.reset();
			off++;
		}
		carry = avail - off;
		std::memmove(buf.data(), buf.data() + off, carry);
	}
	if (carry)
		res.torn++;
	sh.readers_running--;
}

namespace {

// With one writer and one reader the stream is exact: the writer writes the
// test stream (circbuf/pattern.h) in order, which the reader verifies byte
// by byte; otherwise writers interleave and slices of a random pool only
// count as a histogram.
bool exact_stream(const Shared &sh)
{
	return sh.opt.writers == 1 && sh.opt.readers == 1;
}

std::uint32_t stream_seed(const Shared &sh)
{
	return std::uint32_t(sh.opt.seed);
}

} // namespace

void random_writer(Shared &sh, unique_fd fd, unsigned id, WriterResult &res)
{
	Rng rng = thread_rng(sh, 'w', id);
	const size_t max_io = std::min(3 * sh.capacity, kMaxRandomIo);
	const bool exact = exact_stream(sh);
	std::vector<std::byte> pool(2 * max_io);
	if (!exact)
		rng.fill(pool);
	sh.go.wait();
	while (!sh.stop.load(std::memory_order_relaxed) && res.error.empty()) {
		size_t len = random_size(rng, max_io);
		auto data = std::span<std::byte>(pool).subspan(
			exact ? 0 : rng.between(0, pool.size() - len), len);
		if (exact)
			fill_pattern(data, res.bytes, stream_seed(sh));
		while (!data.empty()) {
			auto n = write_some(fd.get(), data);
			if (!n || *n == 0) {
				res.error = strprintf("writer %u: write: %s", id,
					(n ? errno_code(EIO) : n.error()).message().c_str());
				break;
			}
			add_histogram(res.hist, data.first(*n));
			res.writes++;
			res.bytes += *n;
			sh.bytes_written += *n;
			data = data.subspan(*n);
		}
	}
	fd.reset();
	sh.writers_running--;
}

void random_reader(Shared &sh, unique_fd fd, unsigned id, ReaderResult &res)
{
	Rng rng = thread_rng(sh, 'r', id);
	const size_t max_io = std::min(3 * sh.capacity, kMaxRandomIo);
	std::vector<std::byte> buf(max_io);
	sh.go.wait();
	for (;;) {
		const std::uint64_t at = res.bytes;
		auto n = read_counted(sh, fd.get(), std::span(buf).first(random_size(rng, max_io)),
				      id, res);
		if (!n)
			break;
		add_histogram(res.hist, std::span(buf).first(*n));
		if (exact_stream(sh) &&
		    find_pattern_mismatch(std::span(buf).first(*n), at, stream_seed(sh)))
			res.reordered++; // bytes out of place: reordered, lost or corrupt
	}
	sh.readers_running--;
}

// Packets mode: writer @id writes in byte mode if it is one of the last
// --byte-writers, else in packet mode (its file has O_DIRECT).
bool byte_writer(const Shared &sh, unsigned id)
{
	return id >= sh.opt.writers - sh.opt.byte_writers;
}

// Packets mode: one record of random size per write(), a packet (or, for a
// byte writer, an atomic write) that must go whole.
void packet_writer(Shared &sh, unique_fd fd, unsigned id, WriterResult &res)
{
	Rng rng = thread_rng(sh, 'w', id);
	const size_t max = std::min(kPipeBuf, sh.capacity);
	std::vector<std::byte> buf(max);
	sh.go.wait();
	for (std::uint32_t write = 0; !sh.stop.load(std::memory_order_relaxed); write++) {
		auto rec = std::span(buf).first(rng.between(kMinRecordSize, max));
		encode_record(rec, {id, res.records, write, 0, 1});
		auto n = write_some(fd.get(), rec);
		if (!n) {
			res.error = strprintf("writer %u: write: %s", id, n.error().message().c_str());
			break;
		}
		res.writes++;
		res.bytes += *n;
		sh.bytes_written += *n;
		if (*n != rec.size()) {
			// The stream can no longer be parsed: stop here.
			res.short_writes++;
			break;
		}
		res.records++;
	}
	fd.reset();
	sh.writers_running--;
}

// Packets mode: reads into a buffer larger than the capacity plus a packet,
// so that no read ever cuts a packet short (which would drop its rest) or a
// byte-mode record (which is published whole). Each read must hold whole
// records, and at most one packet, last: a read ends at a packet.
void packet_reader(Shared &sh, unique_fd fd, unsigned id, ReaderResult &res)
{
	std::vector<std::byte> buf(sh.capacity + kPipeBuf);
	std::vector<std::uint64_t> next_seq(sh.opt.writers, 0);
	res.seqs.resize(sh.opt.writers);
	sh.go.wait();
	for (;;) {
		auto n = read_counted(sh, fd.get(), buf, id, res);
		if (!n)
			break;
		auto data = std::span<const std::byte>(buf).first(*n);
		std::optional<RecordId> prev;
		while (!data.empty()) {
			auto size = record_size_at(data);
			if (!size || *size < kMinRecordSize || *size > data.size()) {
				// A record cut by the read, or garbage: the rest of the read
				// cannot be parsed.
				if (size && *size >= kMinRecordSize && *size <= kMaxRecordSize)
					res.torn++;
				else
					res.corrupt++;
				break;
			}
			if (!check_record(sh, data.first(*size), res, next_seq, prev)) {
				res.corrupt++;
				break;
			}
			data = data.subspan(*size);
			if (!byte_writer(sh, prev->writer) && !data.empty())
				res.split++;  // bytes after a packet in the same read
		}
	}
	sh.readers_running--;
}

} // namespace circbuf::stress
