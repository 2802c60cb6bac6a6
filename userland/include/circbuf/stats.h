// CIRCBUF_GET_STATS and the two ways the tools print its result.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <system_error>

#include "circbuf.h"

namespace circbuf {

// Snapshot of the device's counters; ENOTTY means "not a circbuf device".
std::expected<circbuf_stats, std::error_code> get_stats(int fd);

// CIRCBUF_SET_CAPACITY: the device's capacity becomes @bytes, keeping what
// it holds, or nothing changes (EBUSY: more is buffered than that; EPERM:
// no CAP_SYS_ADMIN; EINVAL: out of 1..CIRCBUF_MAX_SIZE).
std::expected<void, std::error_code> set_capacity(int fd, std::uint64_t bytes);

// Call @f(name, field) for every field of struct circbuf_stats @s, in
// declaration order, with a reference to the field (const if @s is): the
// one list of the fields and their names. The JSON keys, the sysfs files
// and the /proc/circbuf lines are the same names.
template <typename S, typename F>
void for_each_stat_field(S &s, F &&f)
{
	f(std::string_view("capacity"), s.capacity);
	f(std::string_view("used"), s.used);
	f(std::string_view("available"), s.available);
	f(std::string_view("reads"), s.reads);
	f(std::string_view("writes"), s.writes);
	f(std::string_view("bytes_read"), s.bytes_read);
	f(std::string_view("bytes_written"), s.bytes_written);
	f(std::string_view("readers"), s.readers);
	f(std::string_view("writers"), s.writers);
	f(std::string_view("dma_submitted"), s.dma_submitted);
	f(std::string_view("dma_completed"), s.dma_completed);
	f(std::string_view("dma_failed"), s.dma_failed);
	f(std::string_view("dma_timeouts"), s.dma_timeouts);
	f(std::string_view("dma_bytes"), s.dma_bytes);
	f(std::string_view("cpu_bytes"), s.cpu_bytes);
	f(std::string_view("flags"), s.flags);
	f(std::string_view("bytes_discarded"), s.bytes_discarded);
}

// Call @f(name, value) for every field of struct circbuf_stats, in
// declaration order.
template <typename F>
void for_each_stat(const circbuf_stats &s, F &&f)
{
	for_each_stat_field(s, [&](std::string_view name, const auto &v) { f(name, std::uint64_t(v)); });
}

// One "name  value" line per field; byte counts also in KiB/MiB/GiB.
std::string format_stats_table(const circbuf_stats &s);
// One JSON object on one line, without a trailing newline.
std::string format_stats_json(const circbuf_stats &s);
// "1.5 MiB" style, for humans.
std::string format_bytes(std::uint64_t bytes);

} // namespace circbuf
