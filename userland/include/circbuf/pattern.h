// The deterministic test stream: what circbuf-write --pattern writes,
// circbuf-read --verify-pattern, circbuf-bench and circbuf-fuzz check, and
// the device tests compare against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace circbuf {

// Word @w of stream @seed: the 8 bytes at stream offset 8 * w, little
// endian. A 64-bit mix (splitmix64's finaliser) of the word's index, so the
// stream never repeats: a transfer that never lands, and leaves a ring's
// last lap in place, or one dropped or doubled write, reads back wrong at
// any ring and block size. (The old stream repeated every 64 KiB.)
constexpr std::uint64_t pattern_word(std::uint64_t w, std::uint32_t seed = 0)
{
	std::uint64_t x = w + (std::uint64_t{seed} << 32) + 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

// Byte number @i of stream @seed. The stream depends only on the position,
// so a stream cut into reads and writes of any sizes still verifies.
constexpr std::uint8_t pattern_byte(std::uint64_t i, std::uint32_t seed = 0)
{
	return static_cast<std::uint8_t>(pattern_word(i >> 3, seed) >> (8 * (i & 7)));
}

// Fill @buf with stream bytes [@offset, @offset + buf.size()).
void fill_pattern(std::span<std::byte> buf, std::uint64_t offset, std::uint32_t seed = 0);

// Index in @buf of the first byte that differs from the stream starting at
// @offset, or nullopt if all match.
std::optional<size_t> find_pattern_mismatch(std::span<const std::byte> buf, std::uint64_t offset,
					    std::uint32_t seed = 0);

} // namespace circbuf
