// A small command-line parser. Each tool declares its options once, bound to
// the fields of its own options struct; the parser produces --help from the
// same declarations.
//
// Accepted: --name=value, --name value, --flag, -h/--help, "--" to end the
// options. Everything else not starting with "-" is a positional argument.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace circbuf {

// "4096", "64K", "1M", "2G" (powers of 1024; lower case too). nullopt on
// junk or overflow.
std::optional<std::uint64_t> parse_size(std::string_view s);
// A plain unsigned decimal number.
std::optional<std::uint64_t> parse_uint(std::string_view s);
// Seconds, fractions allowed, optional "s" suffix: "10", "0.5", "2s".
std::optional<double> parse_seconds(std::string_view s);

// The device a tool works on when no DEVICE is given.
inline constexpr const char *kDefaultDevice = "/dev/circbuf";

class OptionParser {
public:
	// @synopsis follows the tool name in the usage line, e.g.
	// "[OPTIONS] DEVICE"; @about is one paragraph; @epilog (exit codes,
	// notes) is printed after the options.
	OptionParser(std::string tool, std::string synopsis, std::string about,
		     std::string epilog = {});

	void flag(std::string name, std::string help, bool &out);
	void size(std::string name, std::string help, std::uint64_t &out);
	void uint(std::string name, std::string help, std::uint64_t &out);
	void seconds(std::string name, std::string help, double &out);
	void string(std::string name, std::string value_name, std::string help,
		    std::string &out);
	// One of @choices (listed in the help).
	void choice(std::string name, std::vector<std::string> choices,
		    std::string help, std::string &out);

	struct Result {
		bool help = false; // -h/--help was given: print usage, exit 0
		std::vector<std::string> positional;
	};
	// Parse the arguments after argv[0]. The error is a one-line message.
	std::expected<Result, std::string> parse(std::span<char *const> args) const;

	// parse() for main(): prints usage and exits 0 on --help; prints the
	// error and usage to stderr and exits 2 on a bad command line.
	std::vector<std::string> parse_or_exit(int argc, char *const argv[]) const;

	// Print "tool: @message" and the usage to stderr, exit 2.
	[[noreturn]] void usage_error(std::string_view message) const;

	// The tools' one device convention: an optional positional DEVICE,
	// kDefaultDevice when @args (what parse_or_exit() left) is empty; more
	// than one argument is a usage error.
	std::string device_argument(const std::vector<std::string> &args) const;

	std::string usage() const;
	const std::string &tool() const { return tool_; }

private:
	struct Option {
		std::string name;
		std::string value_name; // empty for a flag
		std::string help;
		std::string expect; // what a valid value looks like, for errors
		std::function<bool(std::string_view)> set; // false: bad value
	};
	void add(std::string name, std::string value_name, std::string help,
		 std::string expect, std::function<bool(std::string_view)> set);
	const Option *find(std::string_view name) const;

	std::string tool_, synopsis_, about_, epilog_;
	std::vector<Option> options_;
};

} // namespace circbuf
