// circbuf-write: copy a file, stdin or the test pattern into a device.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "circbuf/io.h"
#include "circbuf/options.h"
#include "circbuf/pattern.h"
#include "circbuf/report.h"

using namespace circbuf;

namespace {

constexpr const char *kTool = "circbuf-write";

struct Options {
	std::uint64_t block_size = 4096;
	std::uint64_t count = UINT64_MAX; // UINT64_MAX: until end of input
	std::string input;		  // empty: stdin
	bool pattern = false;
	std::string device;
};

Options parse_options(int argc, char **argv)
{
	Options o;
	OptionParser p(kTool, "[OPTIONS] [DEVICE]",
		       "Write the contents of a file (default: stdin) or the "
		       "deterministic test pattern\ninto DEVICE, one write() per "
		       "block. Every block is full except the last.\nPrints bytes, "
		       "seconds and MB/s to stderr at the end.",
		       "Sizes take K, M or G suffixes (powers of 1024).\n"
		       "Exit status: 0 everything written, 1 an open, read or "
		       "write failed,\n2 bad command line.");
	p.size("block-size", "bytes per write() (default 4096)", o.block_size);
	p.size("count", "stop after this many bytes (required with --pattern)",
	       o.count);
	p.string("input", "FILE", "read the data from FILE instead of stdin", o.input);
	p.flag("pattern", "write the test pattern that circbuf-read\n"
			  "--verify-pattern checks, instead of input",
	       o.pattern);
	auto args = p.parse_or_exit(argc, argv);
	o.device = p.device_argument(args);
	if (o.block_size == 0)
		p.usage_error("--block-size must be at least 1");
	if (o.pattern && !o.input.empty())
		p.usage_error("--pattern and --input exclude each other");
	if (o.pattern && o.count == UINT64_MAX)
		p.usage_error("--pattern needs --count");
	return o;
}

} // namespace

int main(int argc, char **argv)
{
	Options o = parse_options(argc, argv);
	// A vanished reader should be an error message, not a silent death.
	std::signal(SIGPIPE, SIG_IGN);

	unique_fd input_owner;
	int in = STDIN_FILENO;
	if (!o.pattern && !o.input.empty()) {
		auto f = open_fd(o.input.c_str(), O_RDONLY);
		if (!f) {
			print_error(kTool, o.input, f.error());
			return 1;
		}
		input_owner = std::move(*f);
		in = input_owner.get();
	}
	const std::string in_name = o.input.empty() ? "stdin" : o.input;

	auto dev = open_fd(o.device.c_str(), O_WRONLY);
	if (!dev) {
		print_error(kTool, o.device, dev.error());
		return 1;
	}

	std::vector<std::byte> buf(o.block_size);
	std::uint64_t total = 0;
	auto start = std::chrono::steady_clock::now();
	while (total < o.count) {
		auto block = std::span(buf).first(std::min<std::uint64_t>(buf.size(),
									   o.count - total));
		if (o.pattern) {
			fill_pattern(block, total);
		} else {
			auto n = read_full(in, block);
			if (!n) {
				print_error(kTool, in_name, n.error());
				return 1;
			}
			if (*n == 0)
				break;
			block = block.first(*n);
		}
		auto n = write_full(dev->get(), block);
		if (!n) {
			print_error(kTool, o.device, n.error());
			return 1;
		}
		total += *n;
	}
	std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
	if (::close(dev->release()) < 0) {
		print_error(kTool, o.device + ": close", errno_code());
		return 1;
	}
	std::fprintf(stderr, "%s: wrote %s\n", kTool,
		     format_throughput(total, elapsed.count()).c_str());
	return 0;
}
