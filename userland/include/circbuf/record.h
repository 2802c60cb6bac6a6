// Self-checking records for circbuf-stress, and its PRNG.
//
// A record is a fixed-size frame (32..4096 bytes, little-endian fields):
//
//   0  u32 magic  'CBSR'     16  u64 seq (per writer, from 0)
//   4  u32 FNV-1a of the     24  u32 write: the writer's write() number
//          record, this field 28  u16 index of the record in that write
//          taken as zero      30  u16 records in that write
//   8  u32 writer id         32  payload: splitmix64 stream seeded by
//  12  u32 record size           (writer, seq), to the end of the record
//
// The write stamp proves atomicity: the records of one write must follow
// each other in the stream, whatever the ring's capacity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace circbuf {

// splitmix64: tiny, fast, and good enough to drive test sizes and payloads.
struct Rng {
	std::uint64_t state;

	std::uint64_t next()
	{
		std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		return z ^ (z >> 31);
	}
	// Uniform enough in [lo, hi] for test purposes (hi - lo < 2^63).
	std::uint64_t between(std::uint64_t lo, std::uint64_t hi)
	{
		return lo + next() % (hi - lo + 1);
	}
	void fill(std::span<std::byte> buf);
};

inline constexpr std::uint32_t kRecordMagic = 0x52534243; // "CBSR" in memory
inline constexpr size_t kRecordHeaderSize = 32;
inline constexpr size_t kMinRecordSize = 32;
inline constexpr size_t kMaxRecordSize = 4096;

struct RecordId {
	std::uint32_t writer;
	std::uint64_t seq;
	std::uint32_t write = 0;  // the writer's write() that carries it
	std::uint16_t index = 0;  // its place in that write, from 0
	std::uint16_t count = 1;  // the records in that write

	// Whether @next may follow this record in the stream: the next record
	// of the same write, or the first of a write if this was the last.
	bool may_precede(const RecordId &next) const
	{
		if (index + 1 < count)
			return next.writer == writer && next.write == write &&
			       next.index == index + 1 && next.count == count;
		return next.index == 0;
	}
};

std::uint32_t fnv1a(std::span<const std::byte> data,
		    std::uint32_t hash = 2166136261u);

// Build record @id filling all of @rec; rec.size() is the record size,
// kMinRecordSize..kMaxRecordSize.
void encode_record(std::span<std::byte> rec, const RecordId &id);

// The identity of the record in @rec, or nullopt if anything in it (magic,
// size, checksum, payload) is wrong.
std::optional<RecordId> decode_record(std::span<const std::byte> rec);

// The size a record starting at @buf says it has, for streams of records of
// several sizes; nullopt if @buf is shorter than a header or has no magic.
// Only decode_record() proves the record.
std::optional<size_t> record_size_at(std::span<const std::byte> buf);

} // namespace circbuf
