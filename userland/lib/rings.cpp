#include "circbuf/rings.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <type_traits>

#include <sys/ioctl.h>

#include "circbuf.h"
#include "circbuf/io.h"
#include "circbuf/stats.h"

namespace circbuf {

std::string ring_name(unsigned number)
{
	std::string name = CIRCBUF_DEVICE_NAME;
	if (number)
		name += std::to_string(number);
	return name;
}

std::optional<unsigned> ring_number(std::string_view name)
{
	if (auto slash = name.rfind('/'); slash != std::string_view::npos)
		name.remove_prefix(slash + 1);
	constexpr std::string_view base = CIRCBUF_DEVICE_NAME;
	if (!name.starts_with(base))
		return std::nullopt;
	std::string_view digits = name.substr(base.size());
	if (digits.empty())
		return 0u;
	// The kernel names ring k "circbuf<k>", never with a leading 0.
	if (digits[0] == '0')
		return std::nullopt;
	unsigned n = 0;
	auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
	if (ec != std::errc() || end != digits.data() + digits.size() || n >= CIRCBUF_MAX_DEVICES)
		return std::nullopt;
	return n;
}

std::vector<RingInfo> list_rings(const std::string &misc_class)
{
	std::vector<RingInfo> rings;
	std::error_code ec;
	for (const auto &e : std::filesystem::directory_iterator(misc_class, ec)) {
		const std::string name = e.path().filename().string();
		auto n = ring_number(name);
		// A ring has stats/: that tells it from another module's node.
		if (!n || !std::filesystem::exists(e.path() / "stats", ec))
			continue;
		rings.push_back({*n, name, "/dev/" + name});
	}
	std::sort(rings.begin(), rings.end(),
		  [](const RingInfo &a, const RingInfo &b) { return a.number < b.number; });
	return rings;
}

std::optional<std::uint64_t> read_ring_stat(const std::string &name, std::string_view field,
					    const std::string &misc_class)
{
	std::ifstream in(misc_class + "/" + name + "/stats/" + std::string(field));
	std::uint64_t v = 0;
	if (!(in >> v))
		return std::nullopt;
	return v;
}

std::expected<circbuf_stats, std::error_code> read_ring_stats(const std::string &name,
							      const std::string &misc_class)
{
	circbuf_stats s{};
	bool all = true;
	for_each_stat_field(s, [&](std::string_view field, auto &out) {
		const auto v = all ? read_ring_stat(name, field, misc_class) : std::nullopt;
		all = v.has_value();
		out = static_cast<std::remove_reference_t<decltype(out)>>(v.value_or(0));
	});
	if (!all)
		return std::unexpected(errno_code(ENOENT));
	return s;
}

std::expected<unsigned, std::error_code> add_ring(int ctl_fd, std::uint64_t capacity,
						  std::optional<unsigned> number)
{
	circbuf_ctl_add req{};
	req.capacity = capacity;
	if (number) {
		req.number = *number;
		req.flags = CIRCBUF_CTL_NUMBER;
	}
	int ret = retry_eintr([&] { return ::ioctl(ctl_fd, CIRCBUF_CTL_ADD, &req); });
	if (ret < 0)
		return std::unexpected(errno_code());
	return unsigned(ret);
}

std::expected<void, std::error_code> remove_ring(int ctl_fd, unsigned number)
{
	if (retry_eintr([&] { return ::ioctl(ctl_fd, CIRCBUF_CTL_REMOVE, (unsigned long)number); }) < 0)
		return std::unexpected(errno_code());
	return {};
}

} // namespace circbuf
