// circbuf-read: drain a device to a file or stdout, optionally checking the
// test pattern.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "circbuf/io.h"
#include "circbuf/options.h"
#include "circbuf/pattern.h"
#include "circbuf/report.h"

using namespace circbuf;

namespace {

constexpr const char *kTool = "circbuf-read";

struct Options {
	std::uint64_t block_size = 4096;
	std::uint64_t count = UINT64_MAX; // UINT64_MAX: until EOF
	std::string output;		  // empty: stdout, "-": stdout
	bool verify = false;
	std::string device;
};

Options parse_options(int argc, char **argv)
{
	Options o;
	OptionParser p(kTool, "[OPTIONS] [DEVICE]",
		       "Read DEVICE until end of file (read() returns 0, i.e. the "
		       "buffer is empty and\nno writer has it open) or until "
		       "--count bytes, and copy the data to a file\nor stdout. "
		       "Prints bytes, seconds and MB/s to stderr at the end.",
		       "Sizes take K, M or G suffixes (powers of 1024).\n"
		       "Exit status: 0 success, 1 an open, read or write failed, "
		       "the pattern did\nnot match, or EOF came before --count "
		       "bytes; 2 bad command line.");
	p.size("block-size", "largest read() in bytes (default 4096)", o.block_size);
	p.size("count", "stop after this many bytes; EOF before that is an\nerror",
	       o.count);
	p.string("output", "FILE", "write the data to FILE (created or truncated);\n"
				   "'-' is stdout",
		 o.output);
	p.flag("verify-pattern", "check the data is the test pattern of\n"
				 "circbuf-write --pattern, and fail at the first\n"
				 "mismatch; the data then goes to stdout only if\n"
				 "--output=- is given",
	       o.verify);
	auto args = p.parse_or_exit(argc, argv);
	o.device = p.device_argument(args);
	if (o.block_size == 0)
		p.usage_error("--block-size must be at least 1");
	return o;
}

} // namespace

int main(int argc, char **argv)
{
	Options o = parse_options(argc, argv);

	auto dev = open_fd(o.device.c_str(), O_RDONLY);
	if (!dev) {
		print_error(kTool, o.device, dev.error());
		return 1;
	}
	unique_fd output_owner;
	int out = o.verify && o.output.empty() ? -1 : STDOUT_FILENO;
	if (!o.output.empty() && o.output != "-") {
		auto f = open_fd(o.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC);
		if (!f) {
			print_error(kTool, o.output, f.error());
			return 1;
		}
		output_owner = std::move(*f);
		out = output_owner.get();
	}
	const std::string out_name = output_owner.ok() ? o.output : "stdout";

	std::vector<std::byte> buf(o.block_size);
	std::uint64_t total = 0;
	auto start = std::chrono::steady_clock::now();
	while (total < o.count) {
		auto want = std::min<std::uint64_t>(buf.size(), o.count - total);
		auto n = read_some(dev->get(), std::span(buf).first(want));
		if (!n) {
			print_error(kTool, o.device, n.error());
			return 1;
		}
		if (*n == 0)
			break;
		auto data = std::span(buf).first(*n);
		if (o.verify) {
			if (auto bad = find_pattern_mismatch(data, total)) {
				std::uint64_t off = total + *bad;
				print_error(kTool, strprintf(
					"%s: pattern mismatch at offset %llu: expected 0x%02x, got 0x%02x",
					o.device.c_str(), static_cast<unsigned long long>(off),
					pattern_byte(off), std::to_integer<unsigned>(data[*bad])));
				return 1;
			}
		}
		if (out >= 0) {
			if (auto w = write_full(out, data); !w) {
				print_error(kTool, out_name, w.error());
				return 1;
			}
		}
		total += *n;
	}
	std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
	if (output_owner.ok() && ::close(output_owner.release()) < 0) {
		print_error(kTool, out_name + ": close", errno_code());
		return 1;
	}
	std::fprintf(stderr, "%s: read %s%s\n", kTool,
		     format_throughput(total, elapsed.count()).c_str(),
		     o.verify ? ", pattern OK" : "");
	if (o.count != UINT64_MAX && total < o.count) {
		print_error(kTool, strprintf("%s: end of file after %llu of %llu bytes",
					     o.device.c_str(),
					     static_cast<unsigned long long>(total),
					     static_cast<unsigned long long>(o.count)));
		return 1;
	}
	return 0;
}
