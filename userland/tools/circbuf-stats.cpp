// circbuf-stats: print the counters of a circbuf device (CIRCBUF_GET_STATS).
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "circbuf/io.h"
#include "circbuf/options.h"
#include "circbuf/report.h"
#include "circbuf/rings.h"
#include "circbuf/stats.h"

using namespace circbuf;

namespace {

constexpr const char *kTool = "circbuf-stats";
// --set-capacity not given (a value the device refuses anyway).
constexpr std::uint64_t kLeave = UINT64_MAX;

struct Options {
	bool json = false;
	bool all = false;
	std::uint64_t set_capacity = kLeave;
	std::string device = "/dev/circbuf";
};

Options parse_options(int argc, char **argv)
{
	Options o;
	OptionParser p(kTool, "[--json] [--set-capacity=BYTES] [DEVICE] | --all [--json]",
		       "Print a snapshot of every counter of a circbuf device "
		       "(default /dev/circbuf):\ncapacity, used, available, reads, "
		       "writes, bytes_read, bytes_written,\nreaders, writers, and "
		       "the DMA counters dma_submitted, dma_completed,\ndma_failed, "
		       "dma_timeouts, dma_bytes and cpu_bytes, and flags (1: no-dma, a\n"
		       "module built for a kernel without dmaengine). The tool opens the\n"
		       "device read-only, so its own open file is counted in readers.\n\n"
		       "--set-capacity changes the capacity first (CIRCBUF_SET_CAPACITY, as\n"
		       "F_SETPIPE_SZ for a pipe): the data is kept; root only; it fails\n"
		       "(EBUSY) while more is buffered than the new capacity holds.\n\n"
		       "--all prints every ring of the module (/dev/circbuf, /dev/circbuf1,\n"
		       "...), each under its device's name; with --json, one array of\n"
		       "objects, each with a \"device\" member. It reads sysfs and opens\n"
		       "no ring (an open would take the ring's DMA channel): each value is\n"
		       "read on its own, so under load they may be a moment apart.",
		       "Exit status: 0 success, 1 the device could not be opened "
		       "or queried\n(with --all: any ring), 2 bad command line.");
	p.flag("json", "print one JSON object with the same field names", o.json);
	p.flag("all", "every ring of the module, not one DEVICE", o.all);
	p.size("set-capacity", "change the capacity to BYTES (1 to 256M) first,\n"
			       "then print the counters", o.set_capacity);
	auto args = p.parse_or_exit(argc, argv);
	o.device = p.device_argument(args);
	if (o.all && (!args.empty() || o.set_capacity != kLeave))
		p.usage_error("--all takes no DEVICE and no --set-capacity");
	return o;
}

bool print(const std::string &out)
{
	if (std::fputs(out.c_str(), stdout) < 0 || std::fflush(stdout) != 0) {
		print_error(kTool, "stdout", errno_code());
		return false;
	}
	return true;
}

// --all: every ring, in the order of their numbers.
int print_all(const Options &o)
{
	const auto rings = list_rings();
	if (rings.empty()) {
		print_error(kTool, std::string("no rings in ") + kMiscClass + ": is the module loaded?");
		return 1;
	}
	std::string out = o.json ? "[" : "";
	int status = 0;
	bool first = true;
	for (const RingInfo &r : rings) {
		// From sysfs: an open here would take the ring's DMA channel.
		auto s = read_ring_stats(r.name);
		if (!s) {
			print_error(kTool, r.path + ": " + kMiscClass + "/" + r.name + "/stats", s.error());
			status = 1;
			continue;
		}
		if (o.json) {
			// {"device":"/dev/circbuf1", then the fields of --json.
			out += (first ? "{\"device\":\"" : ",{\"device\":\"") + r.path + "\"," +
			       format_stats_json(*s).substr(1);
		} else {
			out += (first ? "" : "\n") + r.path + ":\n" + format_stats_table(*s);
		}
		first = false;
	}
	if (o.json)
		out += "]\n";
	return print(out) ? status : 1;
}

} // namespace

int main(int argc, char **argv)
{
	Options o = parse_options(argc, argv);
	if (o.all)
		return print_all(o);
	auto fd = open_fd(o.device.c_str(), O_RDONLY);
	if (!fd) {
		print_error(kTool, o.device, fd.error());
		return 1;
	}
	if (o.set_capacity != kLeave) {
		auto set = set_capacity(fd->get(), o.set_capacity);
		if (!set) {
			const auto e = set.error();
			const char *why = e == std::errc::device_or_resource_busy ? " (more is buffered than that)"
					  : e == std::errc::operation_not_permitted ? " (needs CAP_SYS_ADMIN)"
					  : e == std::errc::invalid_argument	    ? " (out of 1..268435456 bytes)"
										    : "";
			print_error(kTool,
				    strprintf("%s: setting the capacity to %llu bytes%s", o.device.c_str(),
					      (unsigned long long)o.set_capacity, why),
				    e);
			return 1;
		}
	}
	auto s = get_stats(fd->get());
	if (!s) {
		if (s.error() == std::errc::inappropriate_io_control_operation)
			print_error(kTool, o.device + ": not a circbuf device", s.error());
		else
			print_error(kTool, o.device + ": CIRCBUF_GET_STATS", s.error());
		return 1;
	}
	std::string out = o.json ? format_stats_json(*s) + "\n" : format_stats_table(*s);
	if (std::fputs(out.c_str(), stdout) < 0 || std::fflush(stdout) != 0) {
		print_error(kTool, "stdout", errno_code());
		return 1;
	}
	return 0;
}
