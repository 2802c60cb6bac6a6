// circbuf-stress's parts (circbuf-stress.cpp says what it checks): what
// the threads share, what each one reports, and the threads of each mode.
// threads.cpp holds the read/write threads, mapped.cpp those that work in
// the mapped ring through the span protocol.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <latch>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "circbuf/pattern.h"
#include "circbuf/record.h"
#include "circbuf/unique_fd.h"

namespace circbuf::stress {

inline constexpr const char *kTool = "circbuf-stress";
inline constexpr size_t kPipeBuf = 4096;	    // largest write that must be atomic
inline constexpr size_t kMaxRandomIo = 8u << 20; // cap on random-mode buffers

struct Options {
	std::string device;
	std::uint64_t writers = 2;
	std::uint64_t readers = 2;
	double duration = 5;
	std::string mode = "records";
	std::uint64_t record_size = 64;
	std::uint64_t byte_writers = 0;
	std::uint64_t mapped_writers = 0, mapped_readers = 0;
	std::uint64_t seed = 1;
	std::uint64_t capacity = 0; // 0: ask the device
	double stall_timeout = 10;
};

// What the threads share while running.
struct Shared {
	Options opt;
	size_t capacity = 0;
	std::latch go{1};
	std::atomic<bool> stop{false};
	std::atomic<std::uint64_t> bytes_written{0}, bytes_read{0};
	std::atomic<unsigned> writers_running{0}, readers_running{0};
};

struct SeqRange {
	std::uint64_t begin, end; // [begin, end)
};

using Histogram = std::array<std::uint64_t, 256>;

struct WriterResult {
	std::uint64_t records = 0; // seqs 0..records-1 were written whole
	std::uint64_t bytes = 0;
	std::uint64_t writes = 0;	// write() calls that stored bytes
	std::uint64_t short_writes = 0; // atomic writes that returned short
	Histogram hist{};
	std::string error;
};

struct ReaderResult {
	std::uint64_t bytes = 0, reads = 0;
	std::uint64_t torn = 0, corrupt = 0, reordered = 0, split = 0;
	std::vector<std::vector<SeqRange>> seqs; // per writer, in read order
	Histogram hist{};
	std::string error;
};

struct Verdict {
	std::uint64_t lost = 0, duplicated = 0, corrupt = 0, reordered = 0, split = 0,
		      torn = 0, errors = 0, histogram = 0, stats = 0;
	bool bytes_match = true;
	std::string details;

	bool pass() const
	{
		return !lost && !duplicated && !corrupt && !reordered && !split && !torn &&
		       !errors && !histogram && !stats && bytes_match;
	}
};

// A size in [1, max], log-uniform so small and large transfers both occur.
size_t random_size(Rng &rng, size_t max);
// The generator of thread @id of @role ('w' or 'r'), from --seed.
Rng thread_rng(const Shared &sh, char role, unsigned id);
// Account for one valid-looking record; false if @rec is not one. @prev
// is the record before it in the same read, if any.
bool check_record(const Shared &sh, std::span<const std::byte> rec, ReaderResult &res,
		  std::vector<std::uint64_t> &next_seq, std::optional<RecordId> &prev);

// The threads: each writes or reads on its own file until told to stop
// (writers) or end of file (readers), and reports in its result.
void record_writer(Shared &sh, unique_fd fd, unsigned id, WriterResult &res);
void record_reader(Shared &sh, unique_fd fd, unsigned id, ReaderResult &res);
void random_writer(Shared &sh, unique_fd fd, unsigned id, WriterResult &res);
void random_reader(Shared &sh, unique_fd fd, unsigned id, ReaderResult &res);
void packet_writer(Shared &sh, unique_fd fd, unsigned id, WriterResult &res);
void packet_reader(Shared &sh, unique_fd fd, unsigned id, ReaderResult &res);
// Packets mode: writer @id writes in byte mode if it is one of the last
// --byte-writers, else in packet mode (its file has O_DIRECT).
bool byte_writer(const Shared &sh, unsigned id);

// Records mode in the mapped ring (mapped.cpp): writer (reader) @id works
// there if it is one of the last --mapped-writers (--mapped-readers).
bool mapped_writer(const Shared &sh, unsigned id);
bool mapped_reader(const Shared &sh, unsigned id);
void mapped_record_writer(Shared &sh, unique_fd fd, unsigned id, WriterResult &res);
void mapped_record_reader(Shared &sh, unique_fd fd, unsigned id, ReaderResult &res);

} // namespace circbuf::stress
