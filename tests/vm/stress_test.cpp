// Runs the circbuf-stress tool, built next to this binary, for a few seconds
// with several concurrent readers and writers.
#include "vm_test.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufStress : public CircbufTest {};

// Runs circbuf-stress on the device with four readers and four writers for
// three seconds, plus mode-specific arguments; fails unless it exits 0.
void run_stress(const std::vector<std::string> &extra)
{
	if (stress_tool().empty())
		GTEST_SKIP() << "circbuf-stress is not built next to this test";
	std::vector<std::string> args = {"--writers=4", "--readers=4", "--duration=3"};
	args.insert(args.end(), extra.begin(), extra.end());
	// Three seconds of load, plus slack for a slow emulated machine.
	run_stress_tool(args, 30s);
}

TEST_F(CircbufStress, RecordsModePasses)
{
	// The tool's records are 32..4096 bytes and must fit the ring.
	if (!need_capacity(32))
		return;
	run_stress({"--record-size=" + std::to_string(std::min<uint64_t>(64, capacity_))});
}

TEST_F(CircbufStress, RandomModePasses)
{
	run_stress({"--mode=random"});
}

}  // namespace
}  // namespace circbuf_vm
