// The deterministic test pattern of circbuf-write --pattern and
// circbuf-read --verify-pattern.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace circbuf {

// Byte number @i of the stream. It depends only on the position, so a stream
// cut into reads and writes of any sizes still verifies; the i >> 8 term
// makes the period 64 KiB rather than 256 bytes.
constexpr std::uint8_t pattern_byte(std::uint64_t i)
{
	return static_cast<std::uint8_t>((i * 131 + (i >> 8)) & 0xff);
}

// Fill @buf with stream bytes [@offset, @offset + buf.size()).
void fill_pattern(std::span<std::byte> buf, std::uint64_t offset);

// Index in @buf of the first byte that differs from the stream starting at
// @offset, or nullopt if all match.
std::optional<size_t> find_pattern_mismatch(std::span<const std::byte> buf,
					    std::uint64_t offset);

} // namespace circbuf
