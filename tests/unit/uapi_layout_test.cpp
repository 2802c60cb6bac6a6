// The user-space ABI in uapi/circbuf.h: sizes, field offsets and ioctl
// numbers pinned, and no implicit padding, so that no uninitialised kernel
// byte can reach user space through a hole and 32-bit callers share the
// layout. Checked at compile time and, when pahole (dwarves) is installed,
// against the DWARF of this very binary.
#include <array>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>

#include <linux/ioctl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "circbuf.h"

namespace {

// --- compile time ---------------------------------------------------------

static_assert(sizeof(circbuf_stats) == 128, "struct circbuf_stats changed size: a new ioctl number");
static_assert(sizeof(circbuf_uring_cmd) == 16, "struct circbuf_uring_cmd must fill the SQE's 16-byte command area");
static_assert(std::is_standard_layout_v<circbuf_stats> && std::is_trivially_copyable_v<circbuf_stats>);
static_assert(std::is_standard_layout_v<circbuf_uring_cmd> && std::is_trivially_copyable_v<circbuf_uring_cmd>);
static_assert(sizeof(circbuf_ctl_add) == 32, "struct circbuf_ctl_add changed size: a new ioctl number");
static_assert(std::is_standard_layout_v<circbuf_ctl_add> && std::is_trivially_copyable_v<circbuf_ctl_add>);

// Every field where it always was; appended fields take reserved's place.
static_assert(offsetof(circbuf_stats, capacity) == 0);
static_assert(offsetof(circbuf_stats, used) == 8);
static_assert(offsetof(circbuf_stats, available) == 16);
static_assert(offsetof(circbuf_stats, reads) == 24);
static_assert(offsetof(circbuf_stats, writes) == 32);
static_assert(offsetof(circbuf_stats, bytes_read) == 40);
static_assert(offsetof(circbuf_stats, bytes_written) == 48);
static_assert(offsetof(circbuf_stats, readers) == 56);
static_assert(offsetof(circbuf_stats, writers) == 60);
static_assert(offsetof(circbuf_stats, dma_submitted) == 64);
static_assert(offsetof(circbuf_stats, dma_completed) == 72);
static_assert(offsetof(circbuf_stats, dma_failed) == 80);
static_assert(offsetof(circbuf_stats, dma_timeouts) == 88);
static_assert(offsetof(circbuf_stats, dma_bytes) == 96);
static_assert(offsetof(circbuf_stats, cpu_bytes) == 104);
static_assert(offsetof(circbuf_stats, flags) == 112);
static_assert(offsetof(circbuf_stats, bytes_discarded) == 120);
static_assert(offsetof(circbuf_uring_cmd, stats_addr) == 0);
static_assert(offsetof(circbuf_uring_cmd, addr) == 0);
static_assert(offsetof(circbuf_uring_cmd, reserved) == 8);
static_assert(offsetof(circbuf_ctl_add, capacity) == 0);
static_assert(offsetof(circbuf_ctl_add, number) == 8);
static_assert(offsetof(circbuf_ctl_add, flags) == 12);
static_assert(offsetof(circbuf_ctl_add, reserved) == 16);

// No padding: the fields' sizes add up to the structure's. With every
// 64-bit field at a multiple of 8 and the size a multiple of 8, i386 (where
// __u64 is 4-aligned) lays the structures out identically: no compat ioctl.
constexpr circbuf_stats kS{};
static_assert(sizeof kS.capacity + sizeof kS.used + sizeof kS.available + sizeof kS.reads +
			      sizeof kS.writes + sizeof kS.bytes_read + sizeof kS.bytes_written +
			      sizeof kS.readers + sizeof kS.writers + sizeof kS.dma_submitted +
			      sizeof kS.dma_completed + sizeof kS.dma_failed + sizeof kS.dma_timeouts +
			      sizeof kS.dma_bytes + sizeof kS.cpu_bytes + sizeof kS.flags +
			      sizeof kS.bytes_discarded ==
		      sizeof(circbuf_stats),
	      "struct circbuf_stats has padding");
constexpr circbuf_uring_cmd kC{};
static_assert(sizeof kC.stats_addr + sizeof kC.reserved == sizeof(circbuf_uring_cmd),
	      "struct circbuf_uring_cmd has padding");
constexpr circbuf_ctl_add kA{};
static_assert(sizeof kA.capacity + sizeof kA.number + sizeof kA.flags + sizeof kA.reserved ==
		      sizeof(circbuf_ctl_add),
	      "struct circbuf_ctl_add has padding");
static_assert(sizeof(circbuf_stats) % 8 == 0 && offsetof(circbuf_stats, dma_submitted) % 8 == 0);
static_assert(sizeof(circbuf_ctl_add) % 8 == 0 && offsetof(circbuf_ctl_add, reserved) % 8 == 0);

// The ioctl number encodes direction, type, number and size; pinned.
static_assert(_IOC_DIR(CIRCBUF_GET_STATS) == _IOC_READ);
static_assert(_IOC_TYPE(CIRCBUF_GET_STATS) == CIRCBUF_IOC_MAGIC && CIRCBUF_IOC_MAGIC == 0xB8);
static_assert(_IOC_NR(CIRCBUF_GET_STATS) == 1);
static_assert(_IOC_SIZE(CIRCBUF_GET_STATS) == sizeof(circbuf_stats));
static_assert(CIRCBUF_GET_STATS == 0x8080B801u);
static_assert(CIRCBUF_SET_CAPACITY == 0x4008B802u);
// The control node's: ADD writes its structure in, REMOVE takes a number.
static_assert(_IOC_DIR(CIRCBUF_CTL_ADD) == _IOC_WRITE && _IOC_SIZE(CIRCBUF_CTL_ADD) == sizeof(circbuf_ctl_add));
static_assert(CIRCBUF_CTL_ADD == 0x4020B810u);
static_assert(CIRCBUF_CTL_REMOVE == 0x0000B811u);

// --- pahole -----------------------------------------------------------------

// A structure with a hole, to prove the pahole check can see one.
struct with_hole {
	__u32 a;
	__u64 b;
};

// Keep the types in this binary's DWARF.
[[maybe_unused]] volatile circbuf_stats g_stats{};
[[maybe_unused]] volatile circbuf_uring_cmd g_cmd{};
[[maybe_unused]] volatile circbuf_ctl_add g_add{};
[[maybe_unused]] volatile with_hole g_hole{};

// pahole's description of struct @name in this binary; nullopt-like empty
// string with @ran false when pahole is not installed.
std::string pahole(const char *name, bool &ran)
{
	ran = false;
	if (access("/usr/bin/pahole", X_OK) != 0)
		return {};
	std::string cmd = std::string("/usr/bin/pahole -C ") + name + " /proc/" +
			  std::to_string(getpid()) + "/exe 2>&1";
	FILE *p = popen(cmd.c_str(), "r");
	if (!p)
		return {};
	std::string out;
	std::array<char, 512> buf;
	while (fgets(buf.data(), buf.size(), p))
		out += buf.data();
	ran = pclose(p) == 0;
	return out;
}

// pahole marks holes "XXX N bytes hole" and tail padding "padding: N".
bool has_hole(const std::string &layout)
{
	return layout.find("hole") != std::string::npos || layout.find("XXX") != std::string::npos ||
	       layout.find("padding:") != std::string::npos;
}

// pahole's layout of struct @name; nullopt, skipping the test, where pahole
// cannot run.
std::optional<std::string> layout_or_skip(const char *name)
{
	bool ran;
	std::string out = pahole(name, ran);
	if (ran)
		return out;
	[&out] { GTEST_SKIP() << "pahole (dwarves) is not installed or failed: " << out; }();
	return std::nullopt;
}

TEST(UapiLayout, PaholeSeesTheHoleOfAStructThatHasOne)
{
	const auto out = layout_or_skip("with_hole");
	if (!out)
		return;
	EXPECT_TRUE(has_hole(*out)) << *out;
}

// pahole's layout of struct @name: @size bytes, without a hole.
void expect_no_holes(const char *name, size_t size)
{
	const auto out = layout_or_skip(name);
	if (!out)
		return;
	EXPECT_NE(out->find("size: " + std::to_string(size)), std::string::npos) << *out;
	EXPECT_FALSE(has_hole(*out)) << *out;
}

TEST(UapiLayout, StatsStructureHasNoHolesPerPahole)
{
	expect_no_holes("circbuf_stats", 128);
}

TEST(UapiLayout, UringCmdStructureHasNoHolesPerPahole)
{
	expect_no_holes("circbuf_uring_cmd", 16);
}

TEST(UapiLayout, ControlAddStructureHasNoHolesPerPahole)
{
	expect_no_holes("circbuf_ctl_add", 32);
}

// The run-time view of the compile-time checks, so that ctest lists them.
TEST(UapiLayout, SizesAndIoctlNumberArePinned)
{
	EXPECT_EQ(sizeof(circbuf_stats), 128u);
	EXPECT_EQ(sizeof(circbuf_uring_cmd), 16u);
	EXPECT_EQ(CIRCBUF_GET_STATS, 0x8080B801u);
	EXPECT_EQ(sizeof(circbuf_ctl_add), 32u);
	EXPECT_EQ(CIRCBUF_SET_CAPACITY, 0x4008B802u);
	EXPECT_EQ(CIRCBUF_CTL_ADD, 0x4020B810u);
	EXPECT_EQ(CIRCBUF_CTL_REMOVE, 0x0000B811u);
}

} // namespace
