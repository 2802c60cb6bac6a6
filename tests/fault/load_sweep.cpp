// circbuf-fault-load-sweep: load circbuf.ko with every fault-injection point
// of the load failing in turn, and prove each failed load left nothing
// behind.
//
// For N = 1, 2, ... the Nth fault-injection point of finit_module(2) in
// this thread fails (/proc/thread-self/fail-nth; slab and page allocations
// of any size and gfp but those of the debug kernel's own checkers, and
// copies from user memory). Each load that fails
// must fail with an error and leave no /dev/circbuf, no module, no
// circbuf-dma/N engine thread, no DMA channel under /sys/class/dma or in
// debugfs dmaengine/summary, no debugfs circbuf-dma directory and no
// platform device or driver. A load that succeeds although a point failed
// (the code tolerated it) must give a working device, and unload. The sweep
// ends at the first N the load no longer reaches: then every point has been
// failed once, and the load succeeded; the device must work and unload.
// Leaks are for kmemleak, which tests/vm/run --debug checks afterwards.
//
// Runs as root in the debug VM: tests/fault/load-sweep.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/kmsg.h"
#include "circbuf/options.h"
#include "circbuf/unique_fd.h"
#include "tests/fault/fail_nth.h"

using circbuf::KmsgTail;
using circbuf::unique_fd;
using namespace std::chrono_literals;

namespace {

constexpr char kTool[] = "circbuf-fault-load-sweep";
constexpr char kDevice[] = "/dev/circbuf";
constexpr char kEngine[] = "circbuf-dma";
constexpr char kSlabSysfs[] = "/sys/kernel/slab";
// The debug kernel's checkers' own caches, whose allocation failures they
// absorb (kmemleak's pool, debug objects' pool): not points of the load.
constexpr const char *kCheckerCaches[] = {"kmemleak_object", "kmemleak_scan_area",
					  "debug_objects_cache"};

std::vector<std::string> dir_entries(const std::string &dir)
{
	std::vector<std::string> names;
	if (DIR *d = opendir(dir.c_str())) {
		while (const dirent *e = readdir(d))
			if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
				names.push_back(e->d_name);
		closedir(d);
	}
	return names;
}

bool exists(const std::string &path)
{
	struct stat st;
	return lstat(path.c_str(), &st) == 0;
}

std::string read_file(const std::string &path)
{
	std::string s;
	if (FILE *f = std::fopen(path.c_str(), "re")) {
		char buf[4096];
		size_t n;
		while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
			s.append(buf, n);
		std::fclose(f);
	}
	return s;
}

// Everything a loaded circbuf owns that a failed load must not leave.
std::vector<std::string> leftovers()
{
	std::vector<std::string> left;
	for (const char *p : {"/dev/circbuf", "/sys/module/circbuf", "/sys/kernel/debug/circbuf-dma",
			      "/sys/bus/platform/devices/circbuf", "/sys/bus/platform/devices/circbuf-dma",
			      "/sys/bus/platform/drivers/circbuf", "/sys/bus/platform/drivers/circbuf-dma"})
		if (exists(p))
			left.push_back(p);
	for (const std::string &pid : dir_entries("/proc")) {
		if (pid.find_first_not_of("0123456789") != std::string::npos)
			continue;
		std::string comm = read_file("/proc/" + pid + "/comm");
		if (comm.starts_with(std::string(kEngine) + "/"))
			left.push_back("engine thread " + comm.substr(0, comm.size() - 1) + " (pid " + pid + ")");
	}
	for (const std::string &c : dir_entries("/sys/class/dma")) {
		char target[4096];
		std::string link = "/sys/class/dma/" + c + "/device/driver";
		ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
		// A channel whose device has no driver any more is a leak too.
		if (n < 0 || std::string(target, n).ends_with(std::string("/") + kEngine))
			left.push_back("DMA channel /sys/class/dma/" + c);
	}
	if (read_file("/sys/kernel/debug/dmaengine/summary").find(kEngine) != std::string::npos)
		left.push_back("circbuf-dma in /sys/kernel/debug/dmaengine/summary");
	if (read_file("/proc/modules").find("circbuf ") == 0 ||
	    read_file("/proc/modules").find("\ncircbuf ") != std::string::npos)
		left.push_back("circbuf in /proc/modules");
	return left;
}

// Nodes come and go through devtmpfs: give them a moment.
std::vector<std::string> leftovers_settled()
{
	std::vector<std::string> left;
	for (int i = 0; i < 100; i++) {
		left = leftovers();
		if (left.empty())
			break;
		std::this_thread::sleep_for(20ms);
	}
	return left;
}

std::string join(const std::vector<std::string> &v)
{
	std::string s;
	for (const auto &x : v)
		s += (s.empty() ? "" : ", ") + x;
	return s;
}

// The loaded device works: a few bytes written come back.
std::string device_works()
{
	for (int i = 0; i < 100 && !exists(kDevice); i++)
		std::this_thread::sleep_for(20ms);
	unique_fd fd(open(kDevice, O_RDWR | O_NONBLOCK | O_CLOEXEC));
	if (!fd.ok())
		return std::string("open ") + kDevice + ": " + std::strerror(errno);
	const char msg[] = "fault-sweep";
	char back[sizeof(msg)] = {};
	if (write(fd.get(), msg, sizeof(msg)) != static_cast<ssize_t>(sizeof(msg)))
		return std::string("write: ") + std::strerror(errno);
	if (read(fd.get(), back, sizeof(back)) != static_cast<ssize_t>(sizeof(back)))
		return std::string("read: ") + std::strerror(errno);
	if (std::memcmp(msg, back, sizeof(msg)))
		return "read back other bytes than written";
	return "";
}

std::string unload()
{
	for (int i = 0; i < 100; i++) {
		if (syscall(SYS_delete_module, "circbuf", O_NONBLOCK) == 0)
			return "";
		if (errno != EAGAIN && errno != EBUSY)
			break;
		std::this_thread::sleep_for(20ms);
	}
	return std::string("rmmod circbuf: ") + std::strerror(errno);
}

// The kinds of fault the kernel reported injecting since @log's last read
// ("FAULT_INJECTION: forcing a failure.\nname failslab, ..." with verbose=1).
std::vector<std::string> injected(KmsgTail &log)
{
	std::vector<std::string> kinds;
	for (const auto &r : log.read_new()) {
		if (r.raw.find("FAULT_INJECTION: forcing a failure") == std::string::npos)
			continue;
		size_t p = r.raw.find("name ");
		if (p == std::string::npos)
			continue;
		size_t e = r.raw.find(',', p);
		kinds.push_back(r.raw.substr(p + 5, e == std::string::npos ? std::string::npos : e - p - 5));
	}
	return kinds;
}

struct Sweep {
	unsigned points = 0, failed_loads = 0, tolerated = 0;
	std::map<std::string, unsigned> errnos, kinds;
	std::vector<std::string> problems;
};

}  // namespace

int main(int argc, char **argv)
{
	std::uint64_t max_points = 20000;
	std::string params;
	bool verbose = false;
	circbuf::OptionParser p(kTool, "[OPTIONS] MODULE.ko",
				"Load MODULE.ko (circbuf.ko for the running debug kernel) with "
				"the Nth fault-injection point of the load failing, for N = 1, 2, "
				"... until the load no longer reaches N; check that every failed "
				"load left nothing behind and that the final load works and "
				"unloads. Needs root, /proc/thread-self/fail-nth and debugfs.",
				"Exit status: 0 if every load behaved, 1 otherwise, 2 on a usage error.");
	p.string("params", "TEXT", "module parameters for every load (default none)", params);
	p.uint("max", "give up after this many points (default 20000)", max_points);
	p.flag("verbose", "print one line per point", verbose);
	auto args = p.parse_or_exit(argc, argv);
	if (args.size() != 1)
		p.usage_error(args.empty() ? "missing MODULE.ko" : "too many arguments");

	if (!circbuf_fault::fail_nth_available()) {
		std::fprintf(stderr, "%s: no %s: this kernel has no fault injection\n", kTool,
			     circbuf_fault::kFailNth);
		return 1;
	}
	if (auto left = leftovers(); !left.empty()) {
		std::fprintf(stderr, "%s: circbuf is already (partly) there: %s\n", kTool, join(left).c_str());
		return 1;
	}
	// The module from memory: hundreds of loads would each read it again
	// from the file, in the VM over 9p.
	unique_fd ko(memfd_create("circbuf.ko", MFD_CLOEXEC));
	if (!ko.ok()) {
		std::fprintf(stderr, "%s: memfd_create: %s\n", kTool, std::strerror(errno));
		return 1;
	}
	if (std::string image = read_file(args[0]);
	    image.empty() || write(ko.get(), image.data(), image.size()) != static_cast<ssize_t>(image.size())) {
		std::fprintf(stderr, "%s: cannot read %s: %s\n", kTool, args[0].c_str(),
			     image.empty() ? "empty or missing" : std::strerror(errno));
		return 1;
	}

	// Every allocation is a point, whatever its gfp flags and order (of
	// the slab caches, every one but the checkers': below); one line per
	// injected fault in the kernel log, no stack dump (which tests/vm/run
	// would take for a kernel report).
	std::vector<std::unique_ptr<circbuf_fault::ScopedKnob>> knobs;
	auto knob = [&](const char *kind, const char *name, const char *value) {
		knobs.push_back(std::make_unique<circbuf_fault::ScopedKnob>(kind, name, value));
		if (!knobs.back()->ok()) {
			std::fprintf(stderr, "%s: %s\n", kTool, knobs.back()->error().c_str());
			std::exit(1);
		}
	};
	for (const char *kind : {"failslab", "fail_page_alloc", "fail_usercopy"}) {
		knob(kind, "verbose", "1");
		knob(kind, "verbose_ratelimit_burst", "1000000");
	}
	knob("failslab", "ignore-gfp-wait", "N");
	knob("fail_page_alloc", "ignore-gfp-wait", "N");
	knob("fail_page_alloc", "ignore-gfp-highmem", "N");
	knob("fail_page_alloc", "min-order", "0");
	// Every slab cache but the checkers' own: each allocation that
	// kmemleak tracks allocates its kmemleak_object too, and a failed
	// one falls back to kmemleak's pool without a word, so about half
	// of the points were kmemleak's, doubling the sweep for nothing of
	// the load's. failslab's cache filter fails only the caches marked
	// in /sys/kernel/slab/NAME/failslab, which a merged cache refuses:
	// the debug kernel boots with slab_nomerge.
	knob("failslab", "cache-filter", "Y");
	unsigned caches = 0;
	for (const std::string &c : dir_entries(kSlabSysfs)) {
		if (std::find(std::begin(kCheckerCaches), std::end(kCheckerCaches), c) !=
		    std::end(kCheckerCaches))
			continue;
		const std::string path = std::string(kSlabSysfs) + "/" + c;
		struct stat st;
		// Aliases of merged caches are symbolic links.
		if (lstat(path.c_str(), &st) || !S_ISDIR(st.st_mode))
			continue;
		knobs.push_back(std::make_unique<circbuf_fault::ScopedKnob>(path + "/failslab", "1"));
		if (!knobs.back()->ok()) {
			std::fprintf(stderr, "%s: %s (a merged cache: boot with slab_nomerge)\n", kTool,
				     knobs.back()->error().c_str());
			return 1;
		}
		caches++;
	}
	if (!caches) {
		std::fprintf(stderr, "%s: no slab cache under %s to fail\n", kTool, kSlabSysfs);
		return 1;
	}

	circbuf_fault::FailNth fail;
	if (!fail.ok()) {
		std::fprintf(stderr, "%s: open %s: %s\n", kTool, circbuf_fault::kFailNth, std::strerror(errno));
		return 1;
	}
	KmsgTail kmsg;
	Sweep s;
	bool done = false;
	for (unsigned n = 1; n <= max_points && !done; n++) {
		if (auto r = fail.arm(n); !r) {
			std::fprintf(stderr, "%s: arming %s: %s\n", kTool, circbuf_fault::kFailNth,
				     r.error().message().c_str());
			return 1;
		}
		const long ret = syscall(SYS_finit_module, ko.get(), params.c_str(), 0);
		const int err = ret ? errno : 0;
		const bool fired = fail.fired();
		// No log line: an allocation with __GFP_NOWARN (fault injection
		// then stays silent too), which usually has a fallback.
		std::string kind = "nowarn-alloc";
		for (const std::string &k : injected(kmsg))
			kind = k;
		std::string verdict;

		if (!fired) {
			// The load no longer reaches point n: the sweep is complete.
			done = true;
			if (ret) {
				s.problems.push_back("the load without any fault failed: " +
						     std::string(std::strerror(err)));
				break;
			}
			if (std::string e = device_works(); !e.empty())
				s.problems.push_back("after the sweep, the device does not work: " + e);
			if (std::string e = unload(); !e.empty())
				s.problems.push_back("after the sweep: " + e);
			else if (auto left = leftovers_settled(); !left.empty())
				s.problems.push_back("after the final unload: " + join(left));
			verdict = "not reached: the load succeeded";
		} else {
			s.points++;
			s.kinds[kind]++;
			if (ret) {
				s.failed_loads++;
				s.errnos[strerrorname_np(err)]++;
				verdict = std::string("load failed with ") + strerrorname_np(err);
				if (auto left = leftovers_settled(); !left.empty()) {
					s.problems.push_back("point " + std::to_string(n) + " (" + kind +
							     "): the failed load left " + join(left));
					verdict += ", LEFT " + join(left);
				}
			} else {
				s.tolerated++;
				verdict = "tolerated: the load succeeded";
				if (std::string e = device_works(); !e.empty()) {
					s.problems.push_back("point " + std::to_string(n) + " (" + kind +
							     "): loaded, but " + e);
					verdict += ", " + e;
				}
				if (std::string e = unload(); !e.empty()) {
					s.problems.push_back("point " + std::to_string(n) + ": " + e);
					break;
				}
				if (auto left = leftovers_settled(); !left.empty())
					s.problems.push_back("point " + std::to_string(n) + ": unloaded, but left " +
							     join(left));
			}
		}
		if (verbose)
			std::printf("point %u (%s): %s\n", n, fired ? kind.c_str() : "-", verdict.c_str());
	}
	if (!done)
		s.problems.push_back("still reaching new points after " + std::to_string(max_points));

	std::string errnos, kinds;
	for (const auto &[e, c] : s.errnos)
		errnos += (errnos.empty() ? "" : ", ") + e + " " + std::to_string(c);
	for (const auto &[k, c] : s.kinds)
		kinds += (kinds.empty() ? "" : ", ") + k + " " + std::to_string(c);
	std::printf("%s: swept %u injection points of the load of %s: %u failed it (%s), "
		    "%u were tolerated; by kind: %s\n",
		    kTool, s.points, args[0].c_str(), s.failed_loads, errnos.empty() ? "-" : errnos.c_str(),
		    s.tolerated, kinds.empty() ? "-" : kinds.c_str());
	for (const std::string &pr : s.problems)
		std::printf("%s: PROBLEM: %s\n", kTool, pr.c_str());
	std::printf("%s: %s\n", kTool, s.problems.empty() ? "ok" : "FAILED");
	return s.problems.empty() ? 0 : 1;
}
