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

// The circbuf-stress binary beside /proc/self/exe, or "" if there is none.
std::string stress_tool()
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "";
	std::string path(self, n);
	path = path.substr(0, path.rfind('/') + 1) + "circbuf-stress";
	return access(path.c_str(), X_OK) == 0 ? path : "";
}

// Runs circbuf-stress on the device with four readers and four writers for
// three seconds, plus mode-specific arguments; fails unless it exits 0.
void run_stress(const std::vector<std::string> &extra)
{
	const std::string tool = stress_tool();
	if (tool.empty())
		GTEST_SKIP() << "circbuf-stress is not built next to this test";
	std::vector<std::string> args = {tool, "--writers=4", "--readers=4", "--duration=3"};
	args.insert(args.end(), extra.begin(), extra.end());
	args.push_back(kDevice);
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(a.data());
	argv.push_back(nullptr);

	pid_t pid = fork();
	ASSERT_GE(pid, 0) << std::strerror(errno);
	if (pid == 0) {
		execv(tool.c_str(), argv.data());
		_exit(127);
	}
	// Three seconds of load, plus slack for a slow emulated machine.
	const auto deadline = Clock::now() + 30s;
	int status = 0;
	pid_t done = 0;
	while ((done = waitpid(pid, &status, WNOHANG)) == 0 && Clock::now() < deadline)
		std::this_thread::sleep_for(50ms);
	if (done == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		FAIL() << tool << " still running after 30 s; killed";
	}
	ASSERT_EQ(done, pid) << std::strerror(errno);
	ASSERT_TRUE(WIFEXITED(status)) << tool << " killed by signal " << WTERMSIG(status);
	EXPECT_EQ(WEXITSTATUS(status), 0) << tool << " failed (exit status 1: FAIL, 2: bad usage)";
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
