// Observability of /dev/circbuf: /proc/circbuf, the sysfs attributes under
// /sys/class/misc/circbuf/stats, the tracepoints (trace systems circbuf and
// circbuf_dma, read through tracefs and through trace-cmd), and the dev_dbg
// messages of dynamic debug.
//
// Every value /proc/circbuf and sysfs show must be the one CIRCBUF_GET_STATS
// reports at the same moment. The tests that need the DMA engine load the
// module with use_dma=1 and dma_threshold=1, so that they mean the same in
// every configuration the suite runs in (default, use_dma=0,
// dma_threshold=1).
#include "vm_test.h"

#include "circbuf/stats.h"

#include "tests/kmsg.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace circbuf_vm {
namespace {

constexpr char kProcFile[] = "/proc/circbuf";
constexpr char kStatsDir[] = "/sys/class/misc/circbuf/stats";
constexpr char kParamsDir[] = "/sys/module/circbuf/parameters";
constexpr char kTracefs[] = "/sys/kernel/tracing";
constexpr char kFailNth[] = "/sys/kernel/debug/circbuf-dma/fail_nth";

// Every transfer by the engine, whatever the harness loaded.
const Params kAllByDma = {{"use_dma", "1"}, {"dma_threshold", "1"}, {"buffer_size", "65536"}};

// ---- small helpers ---------------------------------------------------------

// The fields of struct circbuf_stats, by name, in the order of the struct
// (the tools' list, circbuf/stats.h).
std::vector<std::pair<std::string, uint64_t>> stats_fields(const circbuf_stats &s)
{
	std::vector<std::pair<std::string, uint64_t>> fields;
	circbuf::for_each_stat(s, [&](std::string_view name, uint64_t v) { fields.emplace_back(name, v); });
	return fields;
}

// Writes s to an existing file (a tracefs or debugfs control).
testing::AssertionResult write_file(const std::string &path, const std::string &s, int flags = 0)
{
	Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC | flags));
	if (!fd.ok())
		return testing::AssertionFailure() << "open " << path << ": " << std::strerror(errno);
	if (!s.empty() && write(fd.get(), s.data(), s.size()) != static_cast<ssize_t>(s.size()))
		return testing::AssertionFailure() << "write '" << s << "' to " << path << ": " << std::strerror(errno);
	return testing::AssertionSuccess();
}

// "name: value" lines, as /proc/circbuf prints them; nullopt (with a
// failure) if the file cannot be read or a line is not of that form.
std::optional<std::map<std::string, std::string>> read_proc()
{
	auto text = read_text_file(kProcFile);
	if (!text) {
		ADD_FAILURE() << "cannot read " << kProcFile << ": " << std::strerror(errno);
		return std::nullopt;
	}
	std::map<std::string, std::string> values;
	std::istringstream in(*text);
	for (std::string line; std::getline(in, line);) {
		const size_t colon = line.find(": ");
		if (colon == std::string::npos || colon == 0 || line.find(' ') < colon) {
			ADD_FAILURE() << kProcFile << ": not a 'name: value' line: '" << line << "'";
			return std::nullopt;
		}
		if (!values.emplace(line.substr(0, colon), line.substr(colon + 2)).second) {
			ADD_FAILURE() << kProcFile << ": " << line.substr(0, colon) << " appears twice";
			return std::nullopt;
		}
	}
	return values;
}

// A module parameter's value as a number: sysfs shows booleans as Y/N and
// /proc/circbuf as 1/0; mode is decimal in sysfs, octal in /proc/circbuf.
std::optional<unsigned long> param_number(const std::string &v)
{
	if (v == "Y")
		return 1;
	if (v == "N")
		return 0;
	if (v.empty())
		return std::nullopt;
	char *end = nullptr;
	errno = 0;
	const unsigned long n = std::strtoul(v.c_str(), &end, 0);
	if (errno || *end)
		return std::nullopt;
	return n;
}

// Where an executable is on PATH, or "".
std::string find_program(const std::string &name)
{
	const char *path = std::getenv("PATH");
	std::istringstream in(path ? path : "/usr/bin:/bin");
	for (std::string dir; std::getline(in, dir, ':');) {
		const std::string p = dir + "/" + name;
		if (access(p.c_str(), X_OK) == 0)
			return p;
	}
	return "";
}

// Writes then reads back n bytes through rw, an O_RDWR file of an empty ring.
testing::AssertionResult round_trip(int rw, size_t n)
{
	const std::vector<uint8_t> data = pattern(0, n, 5);
	if (Io w = sys_write(rw, data.data(), n); w != ok(n))
		return testing::AssertionFailure() << "write of " << n << " bytes " << testing::PrintToString(w);
	std::vector<uint8_t> back(n);
	if (Io r = sys_read(rw, back.data(), n); r != ok(n))
		return testing::AssertionFailure() << "read of " << n << " bytes " << testing::PrintToString(r);
	return same_bytes(back, data);
}

// Every field of st, as /proc/circbuf shows it (proc: its lines).
void expect_proc_shows(const std::map<std::string, std::string> &proc, const circbuf_stats &st)
{
	for (const auto &[name, value] : stats_fields(st)) {
		auto it = proc.find(name);
		ASSERT_NE(it, proc.end()) << kProcFile << " has no " << name;
		EXPECT_EQ(it->second, std::to_string(value)) << name;
	}
}

// Every field of st, as its sysfs attribute shows it.
void expect_sysfs_shows(const circbuf_stats &st)
{
	for (const auto &[name, value] : stats_fields(st)) {
		const std::string path = std::string(kStatsDir) + "/" + name;
		EXPECT_EQ(read_text_file(path.c_str()), std::to_string(value)) << path;
	}
}

// Writes 1000 bytes through rw (of a module loaded with kAllByDma) from
// one page, so by one descriptor, which the engine's fault injection makes
// fail: the CPU copies them instead.
void write_with_failed_descriptor(int rw)
{
	alignas(4096) static uint8_t page[4096];
	ASSERT_TRUE(write_file(kFailNth, "1"));
	ASSERT_EQ(sys_write(rw, page, 1000), ok(1000));
}

// ---- tracefs ---------------------------------------------------------------

// One line of a trace: "TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: k=v k=v".
struct TraceEvent {
	std::string name;
	std::map<std::string, std::string> fields;

	std::string field(const std::string &k) const
	{
		auto it = fields.find(k);
		return it == fields.end() ? "" : it->second;
	}
	long long num(const std::string &k) const { return std::strtoll(field(k).c_str(), nullptr, 10); }
};

std::ostream &operator<<(std::ostream &os, const TraceEvent &e)
{
	os << e.name << ":";
	for (const auto &[k, v] : e.fields)
		os << " " << k << "=" << v;
	return os;
}

// The events of the circbuf and circbuf_dma systems in a trace's text, in
// order; other events and comment lines are left out.
std::vector<TraceEvent> parse_trace(const std::string &text)
{
	static const std::regex line_re(R"(\s[0-9]+\.[0-9]+: ((circbuf|cbdma)_[a-z_]+): (.*)$)");
	std::vector<TraceEvent> events;
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);) {
		std::smatch m;
		if (line.starts_with("#") || !std::regex_search(line, m, line_re))
			continue;
		TraceEvent e{m[1].str(), {}};
		std::istringstream kv(m[3].str());
		for (std::string word; kv >> word;) {
			const size_t eq = word.find('=');
			if (eq != std::string::npos)
				e.fields[word.substr(0, eq)] = word.substr(eq + 1);
		}
		events.push_back(std::move(e));
	}
	return events;
}

std::vector<TraceEvent> named(const std::vector<TraceEvent> &events, const std::string &name)
{
	std::vector<TraceEvent> out;
	std::copy_if(events.begin(), events.end(), std::back_inserter(out),
		     [&](const TraceEvent &e) { return e.name == name; });
	return out;
}

// The first event from from on named name, and of that side if one is
// given; events.end() if there is none.
std::vector<TraceEvent>::const_iterator find_event(std::vector<TraceEvent>::const_iterator from,
						   const std::vector<TraceEvent> &events, std::string_view name,
						   std::string_view side = "")
{
	return std::find_if(from, events.end(), [&](const TraceEvent &e) {
		return e.name == name && (side.empty() || e.field("side") == side);
	});
}

// The trace's one circbuf_write event: a write of n bytes that left used
// bytes in the ring. @context goes with a failure to find it.
void expect_one_write(const std::vector<TraceEvent> &events, long long n, long long used, const std::string &context)
{
	const auto writes = named(events, "circbuf_write");
	ASSERT_EQ(writes.size(), 1u) << context;
	EXPECT_EQ(writes[0].num("requested"), n);
	EXPECT_EQ(writes[0].num("ret"), n);
	EXPECT_EQ(writes[0].num("used"), used);
}

// Mounts tracefs on /sys/kernel/tracing unless it is there already.
// Returns "" or why tracing cannot be used.
std::string ensure_tracefs()
{
	const std::string events = std::string(kTracefs) + "/events";
	if (access(events.c_str(), F_OK) == 0)
		return "";
	if (mount("tracefs", kTracefs, "tracefs", 0, nullptr) != 0)
		return std::string("mount tracefs on ") + kTracefs + ": " + std::strerror(errno);
	if (access(events.c_str(), F_OK) != 0)
		return std::string("no ") + events + " after mounting tracefs";
	return "";
}

// A tracing instance of its own (instances/NAME: a ring buffer and event
// switches apart from the top-level ones that trace-cmd uses), with the
// circbuf events enabled, and the engine's circbuf_dma ones where the
// module has DMA (@dma); removed on destruction.
class TraceInstance {
public:
	explicit TraceInstance(bool dma) : dir_(std::string(kTracefs) + "/instances/circbuf-vm-test")
	{
		rmdir(dir_.c_str());  // left over by a crashed run
		if (mkdir(dir_.c_str(), 0755) != 0) {
			error_ = "mkdir " + dir_ + ": " + std::strerror(errno);
			return;
		}
		created_ = true;
		for (const char *sys : {"circbuf", "circbuf_dma"}) {
			if (!dma && std::string_view(sys) == "circbuf_dma")
				continue;
			if (auto r = write_file(dir_ + "/events/" + sys + "/enable", "1"); !r) {
				error_ = r.message();
				return;
			}
		}
		if (auto r = write_file(dir_ + "/trace", "", O_TRUNC); !r)
			error_ = r.message();
	}
	TraceInstance(const TraceInstance &) = delete;
	TraceInstance &operator=(const TraceInstance &) = delete;
	~TraceInstance()
	{
		if (!created_)
			return;
		write_file(dir_ + "/events/enable", "0");
		if (rmdir(dir_.c_str()) != 0)
			ADD_FAILURE() << "rmdir " << dir_ << ": " << std::strerror(errno);
	}

	// "" or what went wrong setting it up.
	const std::string &error() const { return error_; }

	// The events recorded so far.
	std::vector<TraceEvent> events() const
	{
		auto text = read_text_file((dir_ + "/trace").c_str());
		if (!text) {
			ADD_FAILURE() << "cannot read " << dir_ << "/trace: " << std::strerror(errno);
			return {};
		}
		return parse_trace(*text);
	}

private:
	std::string dir_;
	std::string error_;
	bool created_ = false;
};

// ---- fixtures --------------------------------------------------------------

class CircbufObserve : public CircbufTest {
protected:
	// Loads the module with kAllByDma and opens rw (O_RDWR | O_NONBLOCK).
	// False when the test cannot go on: it failed, or was skipped for a
	// module without DMA. Use as if (!open_all_by_dma(rw)) return;
	[[nodiscard]] bool open_all_by_dma(Fd &rw)
	{
		if (!need_dma() || !reload(kAllByDma))
			return false;
		rw = open_device(O_RDWR | O_NONBLOCK);
		EXPECT_TRUE(rw.ok()) << std::strerror(errno);
		return rw.ok();
	}
};

class CircbufObserveTrace : public CircbufObserve {
protected:
	// Mounts tracefs if needed; false, skipping the test, on a kernel
	// without tracing.
	[[nodiscard]] bool need_tracefs()
	{
		const std::string e = ensure_tracefs();
		if (e.empty())
			return true;
		[&e] { GTEST_SKIP() << "no tracing in this kernel: " << e; }();
		return false;
	}
};

// ---- /proc/circbuf ---------------------------------------------------------

TEST_F(CircbufObserve, ProcFileShowsEveryStatsFieldWithTheIoctlValues)
{
	if (!need_capacity(1300))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(rw.get());
	const std::vector<uint8_t> data = pattern(0, 1000);
	ASSERT_EQ(sys_write(rw.get(), data.data(), 1000), ok(1000));
	ASSERT_EQ(sys_write(rw.get(), data.data(), 300), ok(300));
	std::vector<uint8_t> buf(700);
	ASSERT_EQ(sys_read(rw.get(), buf.data(), 700), ok(700));

	const auto proc = read_proc();
	const circbuf_stats st = get_stats(rw.get());
	ASSERT_TRUE(proc);
	ASSERT_NO_FATAL_FAILURE(expect_proc_shows(*proc, st));
	// The sequence above, seen through the file.
	EXPECT_EQ(proc->at("used"), "600");
	EXPECT_EQ(proc->at("bytes_written"), std::to_string(before.bytes_written + 1300));
	EXPECT_EQ(proc->at("bytes_read"), std::to_string(before.bytes_read + 700));
	EXPECT_EQ(proc->at("writes"), std::to_string(before.writes + 2));
	EXPECT_EQ(proc->at("reads"), std::to_string(before.reads + 1));
	EXPECT_EQ(proc->at("readers"), "1");
	EXPECT_EQ(proc->at("writers"), "1");
}

TEST_F(CircbufObserve, ProcFileShowsTheParametersInEffect)
{
	// One that can change at run time, changed (and put back: the
	// fixture does not reload a module loaded with the same parameters).
	const std::string threshold = std::string(kParamsDir) + "/dma_threshold";
	const auto old_threshold = read_text_file(threshold.c_str());
	ASSERT_TRUE(old_threshold) << threshold << ": " << std::strerror(errno);
	ASSERT_TRUE(write_file(threshold, "12345"));
	struct Restore {
		const std::string &path, &value;
		~Restore() { EXPECT_TRUE(write_file(path, value)); }
	} restore{threshold, *old_threshold};
	const auto proc = read_proc();
	ASSERT_TRUE(proc);
	const std::vector<std::string> params = dir_entries(kParamsDir);
	ASSERT_FALSE(params.empty()) << "nothing under " << kParamsDir;
	for (const std::string &p : params) {
		auto sys = read_text_file((std::string(kParamsDir) + "/" + p).c_str());
		ASSERT_TRUE(sys) << p;
		auto it = proc->find("param." + p);
		ASSERT_NE(it, proc->end()) << kProcFile << " has no param." << p;
		EXPECT_EQ(param_number(it->second), param_number(*sys))
			<< "param." << p << ": " << it->second << " in " << kProcFile << ", " << *sys << " in sysfs";
	}
	EXPECT_EQ(proc->at("param.dma_threshold"), "12345");
	const auto mode = param_number(read_text_file((std::string(kParamsDir) + "/mode").c_str()).value_or(""));
	ASSERT_TRUE(mode);
	char octal[16];
	std::snprintf(octal, sizeof(octal), "%#lo", *mode);
	EXPECT_EQ(proc->at("param.mode"), octal) << "mode is shown in octal";
	const size_t shown = std::count_if(proc->begin(), proc->end(),
					   [](const auto &kv) { return kv.first.starts_with("param."); });
	EXPECT_EQ(shown, params.size()) << "param.* lines that are no module parameter";
}

TEST_F(CircbufObserve, ProcFileShowsTheDmaChannelOnlyWhileTheDeviceIsOpen)
{
	if (!need_dma())
		return;
	if (!reload({{"use_dma", "1"}}))
		return;
	auto proc = read_proc();
	ASSERT_TRUE(proc);
	EXPECT_EQ(proc->at("dma.channel"), "none") << "no file is open";
	EXPECT_EQ(proc->at("engine.chan0.in_use"), "0");
	{
		Fd r = open_device(O_RDONLY | O_NONBLOCK);
		ASSERT_TRUE(r.ok()) << std::strerror(errno);
		proc = read_proc();
		ASSERT_TRUE(proc);
		EXPECT_EQ(proc->at("dma.channel"), proc->at("engine.chan0.name"));
		EXPECT_TRUE(proc->at("dma.channel").starts_with("dma")) << proc->at("dma.channel");
		EXPECT_EQ(proc->at("engine.chan0.in_use"), "1");
	}
	proc = read_proc();
	ASSERT_TRUE(proc);
	EXPECT_EQ(proc->at("dma.channel"), "none") << "channel kept after the last close";
}

TEST_F(CircbufObserve, ProcFileShowsNoChannelWithUseDmaOff)
{
	if (!reload({{"use_dma", "0"}}))
		return;
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	const auto proc = read_proc();
	ASSERT_TRUE(proc);
	EXPECT_EQ(proc->at("dma.channel"), "none");
	EXPECT_EQ(proc->at("param.use_dma"), "0");
	if (has_dma_)
		EXPECT_EQ(proc->at("engine.chan0.in_use"), "0");
	else
		EXPECT_EQ(proc->at("engine.device"), "none");
}

TEST_F(CircbufObserve, ProcFileDmaCountersAgreeWithTheIoctlAndTheEngine)
{
	Fd rw;
	if (!open_all_by_dma(rw))
		return;
	ASSERT_TRUE(round_trip(rw.get(), 20000));

	const auto proc = read_proc();
	const circbuf_stats st = get_stats(rw.get());
	ASSERT_TRUE(proc);
	ASSERT_EQ(st.dma_bytes, 40000u) << "the transfers did not go by DMA";
	ASSERT_NO_FATAL_FAILURE(expect_proc_shows(*proc, st));
	// The module was just loaded: the engine saw this device's descriptors only.
	EXPECT_EQ(proc->at("engine.chan0.submitted"), std::to_string(st.dma_submitted));
	EXPECT_EQ(proc->at("engine.chan0.completed"), std::to_string(st.dma_completed));
	EXPECT_EQ(proc->at("engine.chan0.failed"), "0");
	EXPECT_EQ(proc->at("engine.chan0.aborted"), "0");
	EXPECT_EQ(proc->at("engine.chan0.queued"), "0");
	EXPECT_EQ(proc->at("engine.chan0.active"), "0");
	EXPECT_EQ(proc->at("engine.channels"), "1");
	EXPECT_EQ(proc->at("engine.device"), "circbuf-dma");
	EXPECT_EQ(proc->at("engine.chan0.thread"), "circbuf-dma/0");
	const std::string comm = "/proc/" + proc->at("engine.chan0.pid") + "/comm";
	EXPECT_EQ(read_text_file(comm.c_str()), "circbuf-dma/0") << "engine.chan0.pid is not the engine's thread";
}

// The write succeeds (the CPU copies what the engine failed to), but the
// engine's failure still shows, in the device's counters and the engine's.
TEST_F(CircbufObserve, ProcFileCountsAnInjectedEngineFailureThatTheCpuMadeGood)
{
	Fd rw;
	if (!open_all_by_dma(rw))
		return;
	ASSERT_NO_FATAL_FAILURE(write_with_failed_descriptor(rw.get()));
	const auto proc = read_proc();
	const circbuf_stats st = get_stats(rw.get());
	ASSERT_TRUE(proc);
	EXPECT_EQ(st.dma_failed, 1u);
	EXPECT_EQ(st.dma_bytes, 0u);
	EXPECT_EQ(st.cpu_bytes, 1000u);
	ASSERT_NO_FATAL_FAILURE(expect_proc_shows(*proc, st));
	EXPECT_EQ(proc->at("dma_failed"), "1");
	EXPECT_EQ(proc->at("cpu_bytes"), "1000");
	EXPECT_EQ(proc->at("engine.chan0.failed"), "1");
	EXPECT_EQ(proc->at("engine.chan0.completed"), "0");
}

TEST_F(CircbufObserve, ProcFileIsReadOnly)
{
	struct stat st;
	ASSERT_EQ(stat(kProcFile, &st), 0) << std::strerror(errno);
	EXPECT_EQ(st.st_mode & 07777, 0444u);
	// Root passes the permission check; the write itself must fail.
	Fd fd(open(kProcFile, O_WRONLY | O_CLOEXEC));
	if (!fd.ok()) {
		EXPECT_EQ(errno, EACCES);
		return;
	}
	EXPECT_EQ(sys_write(fd.get(), "x", 1), err(EIO));
}

TEST_F(CircbufObserve, ProcFileGoesAwayWithTheModule)
{
	if (!module_path())
		GTEST_SKIP() << "CIRCBUF_KO is not set: not running under tests/vm/run";
	ASSERT_EQ(access(kProcFile, F_OK), 0) << std::strerror(errno);
	int e = 0;
	for (int i = 0; i < 100 && (e = unload_module()) == EAGAIN; i++)
		std::this_thread::sleep_for(20ms);
	ASSERT_EQ(e, 0) << "rmmod circbuf: " << std::strerror(e);
	EXPECT_NE(access(kProcFile, F_OK), 0) << kProcFile << " outlived the module";
	EXPECT_NE(access(kStatsDir, F_OK), 0) << kStatsDir << " outlived the module";
	ASSERT_EQ(reload_module(harness_params()), "");
	EXPECT_EQ(access(kProcFile, F_OK), 0) << "no " << kProcFile << " after loading again";
}

// ---- sysfs -----------------------------------------------------------------

TEST_F(CircbufObserve, SysfsHasOneReadOnlyFilePerStatsField)
{
	std::vector<std::string> want;
	for (const auto &[name, value] : stats_fields(circbuf_stats{}))
		want.push_back(name);
	std::sort(want.begin(), want.end());
	EXPECT_EQ(dir_entries(kStatsDir), want);
	for (const std::string &name : want) {
		const std::string path = std::string(kStatsDir) + "/" + name;
		struct stat st;
		ASSERT_EQ(stat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
		EXPECT_EQ(st.st_mode & 07777, 0444u) << path;
		// Even root cannot open an attribute without a store method.
		Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
		EXPECT_FALSE(fd.ok()) << path << " opened for writing";
		EXPECT_EQ(errno, EACCES) << path;
	}
}

TEST_F(CircbufObserve, SysfsAttributesAgreeWithTheIoctl)
{
	if (!need_capacity(1300))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(rw.ok() && r.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 1300);
	ASSERT_EQ(sys_write(rw.get(), data.data(), 1300), ok(1300));
	std::vector<uint8_t> buf(500);
	ASSERT_EQ(sys_read(r.get(), buf.data(), 500), ok(500));

	const circbuf_stats st = get_stats(rw.get());
	EXPECT_EQ(st.used, 800u);
	EXPECT_EQ(st.readers, 2u);
	EXPECT_EQ(st.writers, 1u);
	expect_sysfs_shows(st);
}

TEST_F(CircbufObserve, SysfsDmaAttributesAgreeWithTheIoctlAfterDma)
{
	Fd rw;
	if (!open_all_by_dma(rw))
		return;
	ASSERT_TRUE(round_trip(rw.get(), 20000));
	const circbuf_stats st = get_stats(rw.get());
	ASSERT_GT(st.dma_submitted, 0u);
	ASSERT_EQ(st.dma_bytes, 40000u);
	expect_sysfs_shows(st);
}

// ---- tracepoints -----------------------------------------------------------

TEST_F(CircbufObserveTrace, EventsAreListedInTracefs)
{
	if (!need_tracefs())
		return;
	const std::string events = std::string(kTracefs) + "/events/";
	EXPECT_EQ(dir_entries(events + "circbuf"),
		  (std::vector<std::string>{"circbuf_block", "circbuf_read", "circbuf_resize", "circbuf_wake",
					    "circbuf_write", "enable", "filter"}));
	// The engine's events exist only where the module has DMA.
	const std::vector<std::string> dma_events = {"cbdma_complete", "cbdma_error", "cbdma_submit", "enable",
						     "filter"};
	EXPECT_EQ(dir_entries(events + "circbuf_dma"), has_dma_ ? dma_events : std::vector<std::string>());
	// The side is printed by name: its enum values must be resolved.
	auto fmt = read_text_file((events + "circbuf/circbuf_block/format").c_str());
	ASSERT_TRUE(fmt);
	EXPECT_NE(fmt->find(R"({ 1, "reader" }, { 0, "writer" })"), std::string::npos) << *fmt;
}

TEST_F(CircbufObserveTrace, ReadAndWriteEventsCarryTheByteCounts)
{
	if (!need_tracefs() || !need_capacity(1000))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	TraceInstance trace(has_dma_);
	ASSERT_EQ(trace.error(), "");

	const std::vector<uint8_t> data = pattern(0, 1000);
	ASSERT_EQ(sys_write(rw.get(), data.data(), 1000), ok(1000));
	std::vector<uint8_t> buf(1000);
	ASSERT_EQ(sys_read(rw.get(), buf.data(), 600), ok(600));
	ASSERT_EQ(sys_read(rw.get(), buf.data(), 1000), ok(400));
	ASSERT_EQ(sys_read(rw.get(), buf.data(), 1000), err(EAGAIN));

	const std::vector<TraceEvent> events = trace.events();
	ASSERT_NO_FATAL_FAILURE(expect_one_write(events, 1000, 1000, testing::PrintToString(events)));
	EXPECT_EQ(named(events, "circbuf_write")[0].num("cap"), static_cast<long long>(capacity_));
	const auto reads = named(events, "circbuf_read");
	ASSERT_EQ(reads.size(), 3u) << testing::PrintToString(events);
	EXPECT_EQ(reads[0].num("requested"), 600);
	EXPECT_EQ(reads[0].num("ret"), 600);
	EXPECT_EQ(reads[0].num("used"), 400);
	EXPECT_EQ(reads[1].num("requested"), 1000);
	EXPECT_EQ(reads[1].num("ret"), 400);
	EXPECT_EQ(reads[1].num("used"), 0);
	EXPECT_EQ(reads[2].num("ret"), -EAGAIN) << "a failed read is traced with its error";
	// Nobody slept.
	EXPECT_TRUE(named(events, "circbuf_block").empty()) << testing::PrintToString(events);
	EXPECT_TRUE(named(events, "circbuf_wake").empty()) << testing::PrintToString(events);
}

TEST_F(CircbufObserveTrace, ResizeIsTracedWithBothCapacitiesAndWhatItKept)
{
	if (!need_tracefs() || !need_capacity(100))
		return;
	// The capacity set at run time is no module parameter: reload after.
	struct Reload {
		~Reload() { EXPECT_EQ(reload_module(harness_params()), ""); }
	} reload_after;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(rw.get(), "0123456789", 10), ok(10));
	TraceInstance trace(has_dma_);
	ASSERT_EQ(trace.error(), "");
	uint64_t cap = 3 * capacity_;
	ASSERT_EQ(ioctl(rw.get(), CIRCBUF_SET_CAPACITY, &cap), 0) << std::strerror(errno);
	const auto resizes = named(trace.events(), "circbuf_resize");
	ASSERT_EQ(resizes.size(), 1u);
	EXPECT_EQ(resizes[0].num("old_cap"), static_cast<long long>(capacity_));
	EXPECT_EQ(resizes[0].num("cap"), static_cast<long long>(cap));
	EXPECT_EQ(resizes[0].num("used"), 10);
	EXPECT_EQ(resizes[0].num("packets"), 0);
}

// With several rings, every event names the ring it happened on.
TEST_F(CircbufObserveTrace, EventsNameTheirRing)
{
	if (!need_tracefs() || !reload({{"devices", "3"}}))
		return;
	Fd r0(open("/dev/circbuf", O_RDWR | O_NONBLOCK | O_CLOEXEC));
	Fd r2(open("/dev/circbuf2", O_RDWR | O_NONBLOCK | O_CLOEXEC));
	ASSERT_TRUE(r0.ok() && r2.ok()) << std::strerror(errno);
	TraceInstance trace(has_dma_);
	ASSERT_EQ(trace.error(), "");
	ASSERT_EQ(sys_write(r2.get(), "22", 2), ok(2));
	ASSERT_EQ(sys_write(r0.get(), "0", 1), ok(1));
	uint64_t cap = 2 * capacity_;
	ASSERT_EQ(ioctl(r2.get(), CIRCBUF_SET_CAPACITY, &cap), 0) << std::strerror(errno);
	const auto events = trace.events();
	const auto writes = named(events, "circbuf_write");
	ASSERT_EQ(writes.size(), 2u);
	EXPECT_EQ(writes[0].field("ring"), "2");
	EXPECT_EQ(writes[0].num("requested"), 2);
	EXPECT_EQ(writes[1].field("ring"), "0");
	const auto resizes = named(events, "circbuf_resize");
	ASSERT_EQ(resizes.size(), 1u);
	EXPECT_EQ(resizes[0].field("ring"), "2");
}

// With several rings, ring 0 keeps its lines and each other ring has its
// own, under its name.
TEST_F(CircbufObserve, ProcFileShowsEachRingUnderItsName)
{
	if (!reload({{"devices", "3"}}))
		return;
	Fd r1(open("/dev/circbuf1", O_RDWR | O_NONBLOCK | O_CLOEXEC));
	ASSERT_TRUE(r1.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(r1.get(), "abc", 3), ok(3));
	const auto proc = read_proc();
	ASSERT_TRUE(proc);
	EXPECT_EQ(proc->at("rings"), "3");
	EXPECT_EQ(proc->at("param.devices"), "3");
	EXPECT_EQ(proc->at("used"), "0");
	EXPECT_EQ(proc->at("circbuf1.used"), "3");
	EXPECT_EQ(proc->at("circbuf1.readers"), "1");
	EXPECT_EQ(proc->at("circbuf2.used"), "0");
	EXPECT_EQ(proc->at("circbuf1.packets.buffered"), "0");
	EXPECT_EQ(proc->count("circbuf1.dma.channel"), 1u);
	EXPECT_EQ(proc->count("circbuf1.param.buffer_size"), 0u) << "parameters are the module's, shown once";
	EXPECT_EQ(proc->at("rings.total_size"), std::to_string(3 * capacity_));
}

TEST_F(CircbufObserveTrace, BlockedReaderIsTracedAsBlockedThenWoken)
{
	if (!need_tracefs())
		return;
	Fd r = open_device(O_RDONLY);
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && w.ok()) << std::strerror(errno);
	TraceInstance trace(has_dma_);
	ASSERT_EQ(trace.error(), "");

	Background<Io> reader([&] {
		char buf[64];
		return sys_read(r.get(), buf, sizeof(buf));
	});
	ASSERT_TRUE(wait_until_blocked(reader.tid())) << "the reader did not block on the empty ring";
	ASSERT_EQ(sys_write(w.get(), "0123456789", 10), ok(10));
	ASSERT_TRUE(reader.wait(kWakeTimeout)) << "the reader was not woken";
	EXPECT_EQ(reader.result(), ok(10));

	const std::vector<TraceEvent> events = trace.events();
	auto block = find_event(events.begin(), events, "circbuf_block");
	ASSERT_NE(block, events.end()) << testing::PrintToString(events);
	EXPECT_EQ(block->field("side"), "reader");
	EXPECT_EQ(block->num("used"), 0);
	auto wake = find_event(block, events, "circbuf_wake");
	ASSERT_NE(wake, events.end()) << "no wake-up after the block: " << testing::PrintToString(events);
	EXPECT_EQ(wake->field("side"), "reader");
	EXPECT_EQ(wake->num("used"), 10);
	auto read = find_event(wake, events, "circbuf_read");
	ASSERT_NE(read, events.end()) << testing::PrintToString(events);
	EXPECT_EQ(read->num("ret"), 10);
	EXPECT_EQ(find_event(events.begin(), events, "circbuf_block", "writer"), events.end())
		<< testing::PrintToString(events);
}

TEST_F(CircbufObserveTrace, BlockedWriterIsTracedAsBlockedThenWoken)
{
	if (!need_tracefs())
		return;
	Fd w = open_device(O_WRONLY);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && w.ok()) << std::strerror(errno);
	// Fill the ring, then trace a write that must wait for a reader.
	{
		Fd fill = open_device(O_WRONLY | O_NONBLOCK);
		ASSERT_TRUE(fill.ok()) << std::strerror(errno);
		std::vector<uint8_t> zeros(std::min<uint64_t>(capacity_, 1 << 20));
		for (uint64_t left = capacity_; left;) {
			const size_t n = std::min<uint64_t>(left, zeros.size());
			ASSERT_EQ(sys_write(fill.get(), zeros.data(), n), ok(n));
			left -= n;
		}
	}
	TraceInstance trace(has_dma_);
	ASSERT_EQ(trace.error(), "");

	Background<Io> writer([&] { return sys_write(w.get(), "x", 1); });
	ASSERT_TRUE(wait_until_blocked(writer.tid())) << "the writer did not block on the full ring";
	std::vector<uint8_t> buf(capacity_);
	ASSERT_EQ(sys_read(r.get(), buf.data(), buf.size()), ok(capacity_));
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "the writer was not woken";
	EXPECT_EQ(writer.result(), ok(1));

	const std::vector<TraceEvent> events = trace.events();
	auto block = find_event(events.begin(), events, "circbuf_block");
	ASSERT_NE(block, events.end()) << testing::PrintToString(events);
	EXPECT_EQ(block->field("side"), "writer");
	EXPECT_EQ(block->num("used"), static_cast<long long>(capacity_));
	auto wake = find_event(block, events, "circbuf_wake", "writer");
	ASSERT_NE(wake, events.end()) << "no writer wake-up after the block: " << testing::PrintToString(events);
	EXPECT_EQ(wake->num("used"), 0);
	auto write = find_event(wake, events, "circbuf_write");
	ASSERT_NE(write, events.end()) << testing::PrintToString(events);
	EXPECT_EQ(write->num("requested"), 1);
	EXPECT_EQ(write->num("ret"), 1);
}

TEST_F(CircbufObserveTrace, DmaDescriptorEventsMatchTheCounters)
{
	Fd rw;
	if (!need_dma() || !need_tracefs() || !open_all_by_dma(rw))
		return;
	TraceInstance trace(has_dma_);
	ASSERT_EQ(trace.error(), "");
	const circbuf_stats before = get_stats(rw.get());
	ASSERT_TRUE(round_trip(rw.get(), 20000));
	const circbuf_stats after = get_stats(rw.get());
	ASSERT_EQ(after.dma_bytes - before.dma_bytes, 40000u) << "the transfers did not go by DMA";

	const std::vector<TraceEvent> events = trace.events();
	const auto submits = named(events, "cbdma_submit");
	const auto completes = named(events, "cbdma_complete");
	EXPECT_EQ(submits.size(), after.dma_submitted - before.dma_submitted) << testing::PrintToString(events);
	EXPECT_EQ(completes.size(), after.dma_completed - before.dma_completed) << testing::PrintToString(events);
	EXPECT_TRUE(named(events, "cbdma_error").empty()) << testing::PrintToString(events);
	long long submitted_bytes = 0, completed_bytes = 0;
	for (const TraceEvent &e : submits)
		submitted_bytes += e.num("len");
	for (const TraceEvent &e : completes) {
		EXPECT_EQ(e.field("result"), "ok") << e;
		EXPECT_EQ(e.num("done"), e.num("len")) << e;
		completed_bytes += e.num("len");
	}
	EXPECT_EQ(submitted_bytes, 40000);
	EXPECT_EQ(completed_bytes, 40000);
	// Each descriptor completes once, as submitted.
	std::vector<std::string> submitted, completed;
	for (const TraceEvent &e : submits)
		submitted.push_back(e.field("chan") + "/" + e.field("cookie") + "/" + e.field("len"));
	for (const TraceEvent &e : completes)
		completed.push_back(e.field("chan") + "/" + e.field("cookie") + "/" + e.field("len"));
	EXPECT_EQ(completed, submitted);
	// And the device-level events around them.
	const auto writes = named(events, "circbuf_write");
	ASSERT_EQ(writes.size(), 1u) << testing::PrintToString(events);
	EXPECT_EQ(writes[0].num("ret"), 20000);
	const auto reads = named(events, "circbuf_read");
	ASSERT_EQ(reads.size(), 1u) << testing::PrintToString(events);
	EXPECT_EQ(reads[0].num("ret"), 20000);
}

// The engine's error is traced, and the write it was part of succeeds: the
// CPU copied what the engine failed to.
TEST_F(CircbufObserveTrace, InjectedEngineFailureIsTracedAsAnErrorUnderASuccessfulWrite)
{
	Fd rw;
	if (!need_dma() || !need_tracefs() || !open_all_by_dma(rw))
		return;
	TraceInstance trace(has_dma_);
	ASSERT_EQ(trace.error(), "");
	ASSERT_NO_FATAL_FAILURE(write_with_failed_descriptor(rw.get()));

	const std::vector<TraceEvent> events = trace.events();
	const auto errors = named(events, "cbdma_error");
	ASSERT_EQ(errors.size(), 1u) << testing::PrintToString(events);
	EXPECT_EQ(errors[0].field("result"), "write_failed");
	EXPECT_EQ(errors[0].num("len"), 1000);
	EXPECT_EQ(errors[0].num("done"), 500) << "the engine copies half, then fails";
	EXPECT_TRUE(named(events, "cbdma_complete").empty()) << testing::PrintToString(events);
	expect_one_write(events, 1000, 1000, testing::PrintToString(events));
}

TEST_F(CircbufObserveTrace, TraceCmdRecordsAndReportsTheEvents)
{
	const std::string trace_cmd = find_program("trace-cmd");
	if (trace_cmd.empty())
		GTEST_SKIP() << "trace-cmd is not installed (apt-get install trace-cmd)";
	if (!need_dma() || !need_tracefs() || !reload(kAllByDma))
		return;
	char dir[] = "/tmp/circbuf-trace-XXXXXX";
	ASSERT_NE(mkdtemp(dir), nullptr) << std::strerror(errno);
	const std::string dat = std::string(dir) + "/trace.dat";

	// trace-cmd start, dd, stop, extract, report: extract copies the
	// kernel's buffers whole. (trace-cmd record's streaming recorders, on
	// 6.1 under TCG, lost one CPU's buffer in about half the runs.)
	auto trace_cmd_ok = [&](std::initializer_list<std::string> args) {
		std::vector<std::string> argv{trace_cmd};
		argv.insert(argv.end(), args);
		const Command c = run_command(argv, 30s);
		EXPECT_TRUE(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0)
			<< "trace-cmd " << argv[1] << ": status " << c.status << "\n" << c.output;
		return c;
	};
	trace_cmd_ok({"start", "-e", "circbuf", "-e", "circbuf_dma"});
	const Command dd = run_command({"dd", "if=/dev/zero", "of=/dev/circbuf", "bs=1000", "count=1", "status=none"}, 30s);
	trace_cmd_ok({"stop"});
	trace_cmd_ok({"extract", "-o", dat});
	trace_cmd_ok({"reset"});
	ASSERT_TRUE(WIFEXITED(dd.status) && WEXITSTATUS(dd.status) == 0) << "dd: " << dd.output;
	const Command rep = trace_cmd_ok({"report", "-i", dat});
	unlink(dat.c_str());
	rmdir(dir);
	ASSERT_FALSE(HasFailure());
	const std::vector<TraceEvent> events = parse_trace(rep.output);

	ASSERT_NO_FATAL_FAILURE(expect_one_write(events, 1000, 1000, rep.output));
	const auto submits = named(events, "cbdma_submit");
	ASSERT_FALSE(submits.empty()) << rep.output;
	long long bytes = 0;
	for (const TraceEvent &e : submits)
		bytes += e.num("len");
	EXPECT_EQ(bytes, 1000) << rep.output;
	const auto completes = named(events, "cbdma_complete");
	EXPECT_EQ(completes.size(), submits.size()) << rep.output;
	for (const TraceEvent &e : completes)
		EXPECT_EQ(e.field("result"), "ok") << "trace-cmd did not resolve the result's name: " << e;
}

// ---- dynamic debug ---------------------------------------------------------

// All the text of the kernel log records logged since the last call.
std::string new_text(circbuf::KmsgTail &log)
{
	std::string text;
	for (const auto &r : log.read_new())
		text += r.raw;
	return text;
}

TEST_F(CircbufObserve, DynamicDebugReportsOpenCloseAndTheChannel)
{
	std::string control = "/proc/dynamic_debug/control";
	if (access(control.c_str(), W_OK) != 0)
		control = "/sys/kernel/debug/dynamic_debug/control";
	if (access(control.c_str(), W_OK) != 0)
		GTEST_SKIP() << "no dynamic debug in this kernel (CONFIG_DYNAMIC_DEBUG)";
	if (!reload({{"use_dma", "1"}}))
		return;
	circbuf::KmsgTail log;
	ASSERT_TRUE(log.ok()) << "/dev/kmsg: " << std::strerror(errno);
	ASSERT_TRUE(write_file(control, "module circbuf +p"));
	{
		Fd rw = open_device(O_RDWR | O_NONBLOCK);
		ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	}
	const bool off = write_file(control, "module circbuf -p");
	const std::string text = new_text(log);
	ASSERT_TRUE(off);
	EXPECT_NE(text.find("open rw by circbuf-vm-test"), std::string::npos) << text;
	EXPECT_NE(text.find("close rw by circbuf-vm-test"), std::string::npos) << text;
	if (!has_dma_) {
		// Without dmaengine: no channel, no engine to report one.
		EXPECT_NE(text.find("first open: DMA channel none"), std::string::npos) << text;
		return;
	}
	EXPECT_NE(text.find("first open: DMA channel dma"), std::string::npos) << text;
	EXPECT_NE(text.find("last close: releasing DMA channel dma"), std::string::npos) << text;
	EXPECT_NE(text.find("taken by a client"), std::string::npos) << "the engine's own message: " << text;

	// Off again: nothing more.
	{
		Fd rw = open_device(O_RDWR | O_NONBLOCK);
		ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	}
	EXPECT_EQ(new_text(log).find("open rw by"), std::string::npos);
}

// ---- kernels without dmaengine ---------------------------------------------

// A module built for a kernel without dmaengine (Debian's cloud flavour)
// says so in every place a user looks: the stats' flags, /proc/circbuf,
// modinfo and one line at load; and moves even DMA-sized transfers by CPU.
// A module with DMA says the opposite in each. One test for both builds,
// so that each lane checks the one it has.
TEST_F(CircbufObserve, EveryViewAgreesOnWhetherTheModuleHasDma)
{
	circbuf::KmsgTail log;
	ASSERT_TRUE(log.ok()) << "/dev/kmsg: " << std::strerror(errno);
	if (!reload(kAllByDma))
		return;
	const std::string load_text = new_text(log);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(rw.get());
	const bool no_dma = before.flags & CIRCBUF_STATS_NO_DMA;
	EXPECT_EQ(before.flags & ~CIRCBUF_STATS_NO_DMA, 0u) << "unknown flags";

	EXPECT_EQ(load_text.find("this kernel has no dmaengine") != std::string::npos, no_dma) << load_text;
	const auto proc = read_proc();
	ASSERT_TRUE(proc);
	EXPECT_EQ(proc->at("flags"), no_dma ? "1" : "0");
	EXPECT_EQ(proc->at("engine.device") == "none", no_dma);
	if (module_path()) {
		const std::string modinfo = find_program("modinfo");
		ASSERT_FALSE(modinfo.empty());
		const Command mi = run_command({modinfo, "-F", "data_path", module_path()}, 30s);
		EXPECT_EQ(mi.output.starts_with("cpu:"), no_dma) << mi.output;
		EXPECT_EQ(mi.output.starts_with("dma+cpu:"), !no_dma) << mi.output;
	}

	std::vector<uint8_t> data(4000, 0x5a);
	ASSERT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(4000));
	ASSERT_EQ(read_bytes(rw.get(), 4000), data);
	const circbuf_stats after = get_stats(rw.get());
	EXPECT_EQ(after.flags, before.flags);
	EXPECT_EQ(after.dma_bytes - before.dma_bytes, no_dma ? 0u : 8000u);
	EXPECT_EQ(after.cpu_bytes - before.cpu_bytes, no_dma ? 8000u : 0u);
	if (no_dma) {
		EXPECT_EQ(after.dma_submitted, 0u);
	}
}

}  // namespace
}  // namespace circbuf_vm
