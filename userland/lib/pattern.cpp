#include "circbuf/pattern.h"

namespace circbuf {

void fill_pattern(std::span<std::byte> buf, std::uint64_t offset)
{
	for (size_t i = 0; i < buf.size(); i++)
		buf[i] = std::byte{pattern_byte(offset + i)};
}

std::optional<size_t> find_pattern_mismatch(std::span<const std::byte> buf,
					    std::uint64_t offset)
{
	for (size_t i = 0; i < buf.size(); i++)
		if (buf[i] != std::byte{pattern_byte(offset + i)})
			return i;
	return std::nullopt;
}

} // namespace circbuf
