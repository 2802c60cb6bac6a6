#include "circbuf/pattern.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace circbuf {

namespace {

static_assert(std::endian::native == std::endian::little,
	      "whole words are stored and compared as pattern_word() is in memory");

// The bytes of a buffer at stream @offset: @head bytes up to the first
// word boundary, then whole words, then the rest from @tail on.
struct Split {
	size_t head, tail;
	Split(std::uint64_t offset, size_t n)
		: head(std::min<size_t>(n, -offset & 7)), tail(head + (n - head) / 8 * 8)
	{
	}
};

} // namespace

void fill_pattern(std::span<std::byte> buf, std::uint64_t offset, std::uint32_t seed)
{
	const Split s(offset, buf.size());
	for (size_t i = 0; i < s.head; i++)
		buf[i] = std::byte{pattern_byte(offset + i, seed)};
	for (size_t i = s.head; i < s.tail; i += 8) {
		const std::uint64_t w = pattern_word((offset + i) >> 3, seed);
		std::memcpy(buf.data() + i, &w, 8);
	}
	for (size_t i = s.tail; i < buf.size(); i++)
		buf[i] = std::byte{pattern_byte(offset + i, seed)};
}

std::optional<size_t> find_pattern_mismatch(std::span<const std::byte> buf, std::uint64_t offset,
					    std::uint32_t seed)
{
	auto first_bad = [&](size_t from, size_t to) -> std::optional<size_t> {
		for (size_t j = from; j < to; j++)
			if (buf[j] != std::byte{pattern_byte(offset + j, seed)})
				return j;
		return std::nullopt;
	};
	const Split s(offset, buf.size());
	if (auto bad = first_bad(0, s.head))
		return bad;
	for (size_t i = s.head; i < s.tail; i += 8) {
		const std::uint64_t w = pattern_word((offset + i) >> 3, seed);
		if (std::memcmp(buf.data() + i, &w, 8) != 0)
			return first_bad(i, i + 8);
	}
	return first_bad(s.tail, buf.size());
}

} // namespace circbuf
