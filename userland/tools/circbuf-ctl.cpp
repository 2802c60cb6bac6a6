// circbuf-ctl: add, remove and list circbuf rings through the control node,
// /dev/circbuf-control, as losetup does loop devices through
// /dev/loop-control.
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "circbuf.h"
#include "circbuf/io.h"
#include "circbuf/options.h"
#include "circbuf/report.h"
#include "circbuf/rings.h"

using namespace circbuf;

namespace {

constexpr const char *kTool = "circbuf-ctl";
constexpr std::uint64_t kAnyNumber = std::numeric_limits<std::uint64_t>::max();

struct Options {
	std::string command;
	std::vector<std::string> rings; // remove: numbers or paths
	std::uint64_t capacity = 0;
	std::uint64_t number = kAnyNumber;
	bool json = false;
	std::string control = kControlDevice;
};

Options parse_options(int argc, char **argv)
{
	Options o;
	OptionParser p(kTool, "add [--capacity=BYTES] [--number=N] | remove RING... | list [--json]",
		       "Add, remove and list the rings of the circbuf module.\n\n"
		       "add     create a ring (CIRCBUF_CTL_ADD) and print its device,\n"
		       "        /dev/circbufN; the lowest free number unless --number\n"
		       "remove  remove each RING, a number or a device path\n"
		       "        (CIRCBUF_CTL_REMOVE); refused while the ring is open\n"
		       "list    print each ring's number, device, capacity, bytes\n"
		       "        buffered, readers and writers (from sysfs: no open file)\n\n"
		       "add and remove need root (CAP_SYS_ADMIN and the control node, 0600).",
		       "Exit status: 0 success, 1 the module refused, could not be "
		       "reached or\nhas no ring, 2 bad command line.");
	p.size("capacity", "add: the ring's size, 1 to 256M (default: the module's\n"
			   "buffer_size parameter)",
	       o.capacity);
	p.uint("number", "add: the ring's number, 0.." + std::to_string(CIRCBUF_MAX_DEVICES - 1) +
				 " (fails if taken)",
	       o.number);
	p.flag("json", "list: one JSON array of objects", o.json);
	p.string("control", "PATH", "the control node (default /dev/circbuf-control)", o.control);
	auto args = p.parse_or_exit(argc, argv);
	if (args.empty())
		p.usage_error("no command: add, remove or list");
	o.command = args[0];
	o.rings.assign(args.begin() + 1, args.end());
	if (o.command != "add" && o.command != "remove" && o.command != "list")
		p.usage_error("unknown command '" + o.command + "': add, remove or list");
	if (o.command == "remove" && o.rings.empty())
		p.usage_error("remove: which ring? A number or a device path");
	if (o.command != "remove" && !o.rings.empty())
		p.usage_error(o.command + ": unexpected argument '" + o.rings[0] + "'");
	if (o.command != "add" && (o.capacity || o.number != kAnyNumber))
		p.usage_error("--capacity and --number apply to add only");
	if (o.command != "list" && o.json)
		p.usage_error("--json applies to list only");
	if (o.command == "list" && o.control != kControlDevice)
		p.usage_error("--control applies to add and remove: list reads sysfs");
	if (o.number != kAnyNumber && o.number >= CIRCBUF_MAX_DEVICES)
		p.usage_error("--number must be 0.." + std::to_string(CIRCBUF_MAX_DEVICES - 1));
	return o;
}

// Why the module refused, in words, for the errors it documents.
const char *add_hint(std::error_code e)
{
	if (e == std::errc::file_exists)
		return " (that number is in use)";
	if (e == std::errc::no_space_on_device)
		return " (" CIRCBUF_DEVICE_NAME " has its maximum of rings)";
	if (e == std::errc::not_enough_memory)
		return " (past max_total_size, or out of memory: see dmesg)";
	if (e == std::errc::invalid_argument)
		return " (capacity out of 1..268435456 bytes: see dmesg)";
	if (e == std::errc::operation_not_permitted)
		return " (needs CAP_SYS_ADMIN)";
	return "";
}

int add(const Options &o, int ctl)
{
	std::optional<unsigned> number;
	if (o.number != kAnyNumber)
		number = unsigned(o.number);
	auto n = add_ring(ctl, o.capacity, number);
	if (!n) {
		print_error(kTool, std::string("adding a ring") + add_hint(n.error()), n.error());
		return 1;
	}
	std::printf("/dev/%s\n", ring_name(*n).c_str());
	return 0;
}

int remove(const Options &o, int ctl)
{
	int status = 0;
	for (const auto &arg : o.rings) {
		std::optional<unsigned> n = ring_number(arg);
		if (!n) {
			if (auto u = parse_uint(arg); u && *u < CIRCBUF_MAX_DEVICES)
				n = unsigned(*u);
		}
		if (!n) {
			print_error(kTool, arg + ": not a ring number or a ring's device");
			status = 1;
			continue;
		}
		if (auto r = remove_ring(ctl, *n); !r) {
			const auto e = r.error();
			const char *why = e == std::errc::device_or_resource_busy ? " (it is open)"
					  : e == std::errc::no_such_device	   ? " (no such ring)"
										   : "";
			print_error(kTool, "removing /dev/" + ring_name(*n) + why, e);
			status = 1;
		}
	}
	return status;
}

int list(const Options &o)
{
	// From sysfs, opening no ring: an open would take its DMA channel.
	static constexpr const char *fields[] = {"capacity", "used", "readers", "writers"};
	std::string out = o.json ? "[" : strprintf("%-6s %-18s %12s %12s %8s %8s\n", "RING", "DEVICE",
							  "CAPACITY", "USED", "READERS", "WRITERS");
	const auto rings = list_rings();
	if (rings.empty()) {
		print_error(kTool, std::string("no rings in ") + kMiscClass + ": is the module loaded?");
		return 1;
	}
	bool first = true;
	for (const RingInfo &r : rings) {
		std::uint64_t v[std::size(fields)];
		bool gone = false;
		for (size_t i = 0; i < std::size(fields); i++) {
			auto s = read_ring_stat(r.name, fields[i]);
			gone |= !s;
			v[i] = s.value_or(0);
		}
		if (gone) // removed while listed
			continue;
		if (o.json) {
			out += strprintf("%s{\"number\":%u,\"device\":\"%s\"", first ? "" : ",", r.number,
					 r.path.c_str());
			for (size_t i = 0; i < std::size(fields); i++)
				out += strprintf(",\"%s\":%llu", fields[i], (unsigned long long)v[i]);
			out += "}";
		} else {
			out += strprintf("%-6u %-18s %12llu %12llu %8llu %8llu\n", r.number, r.path.c_str(),
					 (unsigned long long)v[0], (unsigned long long)v[1],
					 (unsigned long long)v[2], (unsigned long long)v[3]);
		}
		first = false;
	}
	if (o.json)
		out += "]\n";
	if (std::fputs(out.c_str(), stdout) < 0 || std::fflush(stdout) != 0) {
		print_error(kTool, "stdout", errno_code());
		return 1;
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	Options o = parse_options(argc, argv);
	if (o.command == "list")
		return list(o);
	auto ctl = open_fd(o.control.c_str(), O_RDWR);
	if (!ctl) {
		print_error(kTool, o.control + " (is the circbuf module loaded? are you root?)",
			    ctl.error());
		return 1;
	}
	return o.command == "add" ? add(o, ctl->get()) : remove(o, ctl->get());
}
