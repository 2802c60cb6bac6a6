#include "circbuf/record.h"

#include <cstring>

namespace circbuf {

namespace {

template <typename T>
T load(std::span<const std::byte> b, size_t off)
{
	T v;
	std::memcpy(&v, b.data() + off, sizeof(v));
	return v;
}

template <typename T>
void store(std::span<std::byte> b, size_t off, T v)
{
	std::memcpy(b.data() + off, &v, sizeof(v));
}

std::uint32_t record_checksum(std::span<const std::byte> rec)
{
	return fnv1a(rec.subspan(8), fnv1a(rec.first(4)));
}

Rng payload_rng(std::uint32_t writer, std::uint64_t seq)
{
	return Rng{(std::uint64_t(writer) << 48) ^ seq ^ 0x6a09e667f3bcc908ULL};
}

} // namespace

void Rng::fill(std::span<std::byte> buf)
{
	size_t i = 0;
	for (; i + 8 <= buf.size(); i += 8) {
		std::uint64_t v = next();
		std::memcpy(buf.data() + i, &v, 8);
	}
	if (i < buf.size()) {
		std::uint64_t v = next();
		std::memcpy(buf.data() + i, &v, buf.size() - i);
	}
}

std::uint32_t fnv1a(std::span<const std::byte> data, std::uint32_t hash)
{
	for (std::byte b : data)
		hash = (hash ^ std::to_integer<std::uint32_t>(b)) * 16777619u;
	return hash;
}

void encode_record(std::span<std::byte> rec, const RecordId &id)
{
	store(rec, 0, kRecordMagic);
	store(rec, 8, id.writer);
	store(rec, 12, std::uint32_t(rec.size()));
	store(rec, 16, id.seq);
	store(rec, 24, id.write);
	store(rec, 28, id.index);
	store(rec, 30, id.count);
	payload_rng(id.writer, id.seq).fill(rec.subspan(kRecordHeaderSize));
	store(rec, 4, record_checksum(rec));
}

std::optional<size_t> record_size_at(std::span<const std::byte> buf)
{
	if (buf.size() < kRecordHeaderSize || load<std::uint32_t>(buf, 0) != kRecordMagic)
		return std::nullopt;
	return load<std::uint32_t>(buf, 12);
}

std::optional<RecordId> decode_record(std::span<const std::byte> rec)
{
	if (rec.size() < kMinRecordSize || rec.size() > kMaxRecordSize ||
	    load<std::uint32_t>(rec, 0) != kRecordMagic ||
	    load<std::uint32_t>(rec, 12) != rec.size() ||
	    load<std::uint32_t>(rec, 4) != record_checksum(rec))
		return std::nullopt;
	RecordId id{load<std::uint32_t>(rec, 8), load<std::uint64_t>(rec, 16),
		    load<std::uint32_t>(rec, 24), load<std::uint16_t>(rec, 28),
		    load<std::uint16_t>(rec, 30)};
	if (id.count == 0 || id.index >= id.count)
		return std::nullopt;
	std::byte expect[kMaxRecordSize];
	auto payload = std::span(expect, rec.size() - kRecordHeaderSize);
	payload_rng(id.writer, id.seq).fill(payload);
	if (std::memcmp(payload.data(), rec.data() + kRecordHeaderSize,
			payload.size()) != 0)
		return std::nullopt;
	return id;
}

} // namespace circbuf
