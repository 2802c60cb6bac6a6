#include "circbuf/options.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace circbuf {

std::optional<std::uint64_t> parse_uint(std::string_view s)
{
	std::uint64_t v = 0;
	auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (s.empty() || ec != std::errc() || end != s.data() + s.size())
		return std::nullopt;
	return v;
}

std::optional<std::uint64_t> parse_size(std::string_view s)
{
	unsigned shift = 0;
	if (!s.empty()) {
		switch (s.back()) {
		case 'K': case 'k': shift = 10; break;
		case 'M': case 'm': shift = 20; break;
		case 'G': case 'g': shift = 30; break;
		}
	}
	if (shift)
		s.remove_suffix(1);
	auto v = parse_uint(s);
	if (!v || *v > (UINT64_MAX >> shift))
		return std::nullopt;
	return *v << shift;
}

std::optional<double> parse_seconds(std::string_view s)
{
	if (s.ends_with('s'))
		s.remove_suffix(1);
	double v = 0;
	auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (s.empty() || ec != std::errc() || end != s.data() + s.size() ||
	    !std::isfinite(v) || v < 0)
		return std::nullopt;
	return v;
}

OptionParser::OptionParser(std::string tool, std::string synopsis,
			   std::string about, std::string epilog)
	: tool_(std::move(tool)), synopsis_(std::move(synopsis)),
	  about_(std::move(about)), epilog_(std::move(epilog))
{
}

void OptionParser::add(std::string name, std::string value_name, std::string help,
		       std::string expect, std::function<bool(std::string_view)> set)
{
	options_.push_back({std::move(name), std::move(value_name), std::move(help),
			    std::move(expect), std::move(set)});
}

void OptionParser::flag(std::string name, std::string help, bool &out)
{
	add(std::move(name), {}, std::move(help), {}, [&out](std::string_view) {
		out = true;
		return true;
	});
}

void OptionParser::size(std::string name, std::string help, std::uint64_t &out)
{
	add(std::move(name), "BYTES", std::move(help),
	    "a byte count such as 4096, 64K, 1M or 2G", [&out](std::string_view v) {
		auto n = parse_size(v);
		if (n)
			out = *n;
		return n.has_value();
	});
}

void OptionParser::uint(std::string name, std::string help, std::uint64_t &out)
{
	add(std::move(name), "N", std::move(help), "an unsigned integer", [&out](std::string_view v) {
		auto n = parse_uint(v);
		if (n)
			out = *n;
		return n.has_value();
	});
}

void OptionParser::seconds(std::string name, std::string help, double &out)
{
	add(std::move(name), "SECONDS", std::move(help),
	    "seconds such as 10, 0.5 or 2s", [&out](std::string_view v) {
		auto n = parse_seconds(v);
		if (n)
			out = *n;
		return n.has_value();
	});
}

void OptionParser::string(std::string name, std::string value_name,
			  std::string help, std::string &out)
{
	add(std::move(name), std::move(value_name), std::move(help), {},
	    [&out](std::string_view v) {
		    out = v;
		    return true;
	    });
}

void OptionParser::choice(std::string name, std::vector<std::string> choices,
			  std::string help, std::string &out)
{
	std::string value_name;
	for (const auto &c : choices)
		value_name += (value_name.empty() ? "" : "|") + c;
	std::string expect = "one of " + value_name;
	add(std::move(name), std::move(value_name), std::move(help), std::move(expect),
	    [&out, choices = std::move(choices)](std::string_view v) {
		    for (const auto &c : choices)
			    if (v == c) {
				    out = c;
				    return true;
			    }
		    return false;
	    });
}

const OptionParser::Option *OptionParser::find(std::string_view name) const
{
	for (const auto &o : options_)
		if (o.name == name)
			return &o;
	return nullptr;
}

std::expected<OptionParser::Result, std::string>
OptionParser::parse(std::span<char *const> args) const
{
	Result r;
	for (size_t i = 0; i < args.size(); i++) {
		std::string_view arg = args[i];
		if (arg == "--") {
			r.positional.insert(r.positional.end(), args.begin() + i + 1,
					    args.end());
			break;
		}
		if (arg == "-h" || arg == "--help") {
			r.help = true;
			continue;
		}
		if (!arg.starts_with("--")) {
			if (arg.starts_with('-') && arg.size() > 1)
				return std::unexpected("unknown option '" + std::string(arg) + "'");
			r.positional.emplace_back(arg);
			continue;
		}
		arg.remove_prefix(2);
		std::optional<std::string_view> value;
		if (auto eq = arg.find('='); eq != arg.npos) {
			value = arg.substr(eq + 1);
			arg = arg.substr(0, eq);
		}
		const Option *o = find(arg);
		if (!o)
			return std::unexpected("unknown option '--" + std::string(arg) + "'");
		if (o->value_name.empty()) {
			if (value)
				return std::unexpected("option '--" + o->name +
						       "' takes no value");
			o->set({});
			continue;
		}
		if (!value) {
			if (i + 1 == args.size())
				return std::unexpected("option '--" + o->name +
						       "' needs a value");
			value = args[++i];
		}
		if (!o->set(*value))
			return std::unexpected("invalid value '" + std::string(*value) +
					       "' for '--" + o->name + "': expected " +
					       o->expect);
	}
	return r;
}

std::vector<std::string> OptionParser::parse_or_exit(int argc,
						     char *const argv[]) const
{
	auto r = parse(std::span(argv + 1, argc > 0 ? size_t(argc - 1) : 0));
	if (!r)
		usage_error(r.error());
	if (r->help) {
		std::fputs(usage().c_str(), stdout);
		std::exit(0);
	}
	return std::move(r->positional);
}

void OptionParser::usage_error(std::string_view message) const
{
	std::fprintf(stderr, "%s: %.*s\n%s", tool_.c_str(), int(message.size()),
		     message.data(), usage().c_str());
	std::exit(2);
}

std::string OptionParser::device_argument(const std::vector<std::string> &args) const
{
	if (args.size() > 1)
		usage_error("too many arguments");
	return args.empty() ? kDefaultDevice : args[0];
}

std::string OptionParser::usage() const
{
	std::string out = "Usage: " + tool_ + " " + synopsis_ + "\n\n" + about_ +
			  "\n\nOptions:\n";
	auto line = [&](std::string left, const std::string &help) {
		constexpr size_t column = 28;
		left = "  " + left;
		if (left.size() + 2 <= column)
			left.resize(column, ' ');
		else
			left += "\n" + std::string(column, ' ');
		// Continuation lines of the help text line up with its start.
		std::string text;
		for (char c : help)
			text += c == '\n' ? "\n" + std::string(column, ' ') : std::string(1, c);
		out += left + text + "\n";
	};
	for (const auto &o : options_)
		line("--" + o.name + (o.value_name.empty() ? "" : "=" + o.value_name),
		     o.help);
	line("-h, --help", "print this help and exit");
	if (!epilog_.empty())
		out += "\n" + epilog_ + "\n";
	return out;
}

} // namespace circbuf
