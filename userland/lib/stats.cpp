#include "circbuf/stats.h"

#include <iterator>
#include <sys/ioctl.h>

#include "circbuf/io.h"
#include "circbuf/report.h"

namespace circbuf {

std::expected<circbuf_stats, std::error_code> get_stats(int fd)
{
	circbuf_stats s{};
	if (retry_eintr([&] { return ::ioctl(fd, CIRCBUF_GET_STATS, &s); }) < 0)
		return std::unexpected(errno_code());
	return s;
}

std::expected<void, std::error_code> set_capacity(int fd, std::uint64_t bytes)
{
	if (retry_eintr([&] { return ::ioctl(fd, CIRCBUF_SET_CAPACITY, &bytes); }) < 0)
		return std::unexpected(errno_code());
	return {};
}

std::string format_bytes(std::uint64_t bytes)
{
	static constexpr const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = static_cast<double>(bytes);
	size_t u = 0;
	while (v >= 1024 && u + 1 < std::size(units)) {
		v /= 1024;
		u++;
	}
	if (!u)
		return strprintf("%llu B", static_cast<unsigned long long>(bytes));
	return strprintf("%.1f %s", v, units[u]);
}

std::string format_stats_table(const circbuf_stats &s)
{
	std::string out;
	for_each_stat(s, [&](std::string_view name, std::uint64_t v) {
		bool is_bytes = name == "capacity" || name == "used" ||
				name == "available" || name.starts_with("bytes_") ||
				name.ends_with("_bytes");
		out += strprintf("%-16.*s%20llu", int(name.size()), name.data(),
				 static_cast<unsigned long long>(v));
		if (is_bytes && v >= 1024)
			out += "  (" + format_bytes(v) + ")";
		if (name == "flags" && (v & CIRCBUF_STATS_NO_DMA))
			out += "  (no-dma: kernel without dmaengine, CPU copies only)";
		out += '\n';
	});
	return out;
}

std::string format_stats_json(const circbuf_stats &s)
{
	std::string out = "{";
	for_each_stat(s, [&](std::string_view name, std::uint64_t v) {
		if (out.size() > 1)
			out += ',';
		out += '"';
		out += name;
		out += "\":" + std::to_string(v);
	});
	return out + "}";
}

} // namespace circbuf
