// Loading and unloading the module: the buffer_size and mode parameters, the
// device node's life, and what a reload resets.
#include "vm_test.h"

#include "tests/kmsg.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufLoad : public CircbufTest {};
class CircbufNode : public CircbufTest {};

// Writes exactly the capacity into the empty ring, then checks one more byte
// does not fit.
void expect_holds_exactly(uint64_t cap)
{
	Fd fd = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(fd.ok()) << std::strerror(errno);
	std::vector<uint8_t> data = pattern(0, cap);
	EXPECT_EQ(sys_write(fd.get(), data.data(), data.size()), ok(cap));
	uint8_t one = 'x';
	EXPECT_EQ(sys_write(fd.get(), &one, 1), err(EAGAIN));
	EXPECT_EQ(get_stats(fd.get()).used, cap);
}

// Moves the ring's head to just before the end, then checks a few bytes
// written across the end come back in order.
void expect_wrap_intact(uint64_t cap)
{
	Fd fd = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(fd.ok()) << std::strerror(errno);
	const size_t n = std::min<uint64_t>(cap, 6);
	ASSERT_TRUE(cycle_bytes(fd.get(), cap - n / 2));
	std::vector<uint8_t> data = pattern(cap, n, 7);
	ASSERT_EQ(sys_write(fd.get(), data.data(), n), ok(n));
	EXPECT_EQ(get_stats(fd.get()).used, n);
	std::vector<uint8_t> back(n);
	ASSERT_EQ(sys_read(fd.get(), back.data(), n), ok(n));
	EXPECT_EQ(back, data);
	EXPECT_EQ(get_stats(fd.get()).used, 0u);
}

class CircbufLoadSize : public CircbufTest, public testing::WithParamInterface<uint32_t> {};

TEST_P(CircbufLoadSize, CapacityIsExactlyBufferSize)
{
	if (!reload({{"buffer_size", std::to_string(GetParam())}}))
		return;
	EXPECT_EQ(capacity_, GetParam());
	EXPECT_EQ(read_text_file(kBufferSizeParam), std::to_string(GetParam()));
	expect_holds_exactly(capacity_);
}

TEST_P(CircbufLoadSize, DataCrossesTheEndOfTheRingIntact)
{
	if (!reload({{"buffer_size", std::to_string(GetParam())}}))
		return;
	ASSERT_EQ(capacity_, GetParam());
	expect_wrap_intact(capacity_);
}

INSTANTIATE_TEST_SUITE_P(OddSizes, CircbufLoadSize, testing::Values(1u, 4097u, 65537u, 1000000u),
			 [](const testing::TestParamInfo<uint32_t> &p) { return std::to_string(p.param); });

TEST_F(CircbufLoad, MaxSizeLoadsAndWraps)
{
	if (!reload({{"buffer_size", std::to_string(CIRCBUF_MAX_SIZE)}}))
		return;
	EXPECT_EQ(capacity_, CIRCBUF_MAX_SIZE);
	expect_wrap_intact(capacity_);
}

TEST_F(CircbufLoad, DataCrossesSegmentBoundariesIntact)
{
	// One-page segments and a size that is not a whole number of them.
	if (!reload({{"buffer_size", "13065"}, {"segment_size", "4096"}}))
		return;
	ASSERT_EQ(capacity_, 13065u);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	// Twice round the ring in transfers whose sizes are prime to the
	// segment size, so they start and end everywhere.
	const uint64_t total = 2 * capacity_ + 1234;
	uint64_t written = 0, read = 0;
	while (read < total) {
		size_t n = std::min<uint64_t>({3001, total - written, capacity_ - (written - read)});
		if (n) {
			const std::vector<uint8_t> data = pattern(written, n, 8);
			ASSERT_EQ(sys_write(rw.get(), data.data(), n), ok(n)) << "at offset " << written;
			written += n;
		}
		size_t m = std::min<uint64_t>(1999, written - read);
		std::vector<uint8_t> got(m);
		ASSERT_EQ(sys_read(rw.get(), got.data(), m), ok(m)) << "at offset " << read;
		ASSERT_TRUE(same_bytes(got, pattern(read, m, 8))) << "at offset " << read;
		read += m;
	}
}

// The decimal numbers that appear in s.
std::vector<std::string> numbers_in(const std::string &s)
{
	std::vector<std::string> out;
	for (size_t i = 0; i < s.size();) {
		if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])))
			j++;
		out.push_back(s.substr(i, j - i));
		i = j;
	}
	return out;
}

bool names_range(const std::string &msg)
{
	if (msg.find("buffer_size") == std::string::npos)
		return false;
	auto nums = numbers_in(msg);
	auto has = [&](const std::string &n) { return std::find(nums.begin(), nums.end(), n) != nums.end(); };
	return has("1") && has(std::to_string(CIRCBUF_MAX_SIZE));
}

class CircbufLoadRefused : public CircbufTest, public testing::WithParamInterface<uint64_t> {
protected:
	// Unloads the module and tries to load it with the parameter's size:
	// the errno, or -1 if the module cannot be unloaded first.
	int try_load()
	{
		if (module_loaded() && unload_module() != 0)
			return -1;
		return load_module(format_params(harness_params_with({{"buffer_size", std::to_string(GetParam())}})));
	}
};

TEST_P(CircbufLoadRefused, FailsWithEinval)
{
	if (!module_path())
		GTEST_SKIP() << "CIRCBUF_KO is not set";
	int e = try_load();
	EXPECT_EQ(e, EINVAL) << (e > 0 ? strerrorname_np(e) : "cannot unload the module");
	EXPECT_FALSE(module_loaded());
	EXPECT_FALSE(wait_for_path(kDevice, true, 100ms));
}

TEST_P(CircbufLoadRefused, LogsTheAllowedRange)
{
	if (!module_path())
		GTEST_SKIP() << "CIRCBUF_KO is not set";
	if (module_loaded()) {
		ASSERT_EQ(unload_module(), 0);
	}
	circbuf::KmsgTail log;
	ASSERT_TRUE(log.ok()) << "open /dev/kmsg: " << std::strerror(errno);
	ASSERT_NE(try_load(), 0);
	std::vector<std::string> msgs;
	for (const auto &r : log.read_new())
		msgs.push_back(r.message);
	std::string all;
	for (const auto &m : msgs)
		all += "  " + m + "\n";
	EXPECT_TRUE(std::any_of(msgs.begin(), msgs.end(), names_range))
		<< "no kernel message names buffer_size and the range 1.." << CIRCBUF_MAX_SIZE
		<< "; the failed load logged:\n"
		<< all;
}

INSTANTIATE_TEST_SUITE_P(OutOfRange, CircbufLoadRefused, testing::Values(0u, uint64_t{CIRCBUF_MAX_SIZE} + 1),
			 [](const testing::TestParamInfo<uint64_t> &p) { return std::to_string(p.param); });

TEST_F(CircbufLoad, BufferSizeParameterIsReadOnlyAndMatchesCapacity)
{
	struct stat st;
	ASSERT_EQ(stat(kBufferSizeParam, &st), 0) << kBufferSizeParam << ": " << std::strerror(errno);
	EXPECT_EQ(st.st_mode & 07777, 0444u);
	EXPECT_EQ(read_text_file(kBufferSizeParam), std::to_string(capacity_));
	// Even root cannot open an attribute without a store method for writing.
	Fd w(open(kBufferSizeParam, O_WRONLY | O_CLOEXEC));
	EXPECT_FALSE(w.ok()) << "opened " << kBufferSizeParam << " for writing";
}

TEST_F(CircbufLoad, ReloadRecreatesTheDevice)
{
	if (!module_path())
		GTEST_SKIP() << "CIRCBUF_KO is not set";
	ASSERT_EQ(unload_module(), 0);
	ASSERT_EQ(load_module(format_params(harness_params())), 0);
	ASSERT_TRUE(wait_for_path(kDevice, true)) << kDevice << " did not come back";
	Fd fd = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(fd.ok()) << std::strerror(errno);
	const std::string msg = std::string("again").substr(0, capacity_);
	EXPECT_EQ(sys_write(fd.get(), msg.data(), msg.size()), ok(msg.size()));
	char back[5];
	EXPECT_EQ(sys_read(fd.get(), back, sizeof(back)), ok(msg.size()));
	EXPECT_EQ(std::string(back, msg.size()), msg);
}

TEST_F(CircbufLoad, ReloadResetsCounters)
{
	if (!module_path())
		GTEST_SKIP() << "CIRCBUF_KO is not set";
	{
		Fd fd = open_device(O_RDWR | O_NONBLOCK);
		ASSERT_TRUE(fd.ok()) << std::strerror(errno);
		// One byte in and out, one more left behind: fits any ring.
		char c = 'c';
		ASSERT_EQ(sys_write(fd.get(), &c, 1), ok(1));
		ASSERT_EQ(sys_read(fd.get(), &c, 1), ok(1));
		ASSERT_EQ(sys_write(fd.get(), &c, 1), ok(1));
		circbuf_stats s = get_stats(fd.get());
		ASSERT_GT(s.reads, 0u);
		ASSERT_EQ(s.used, 1u);
	}
	ASSERT_EQ(reload_module(harness_params()), "");
	Fd fd = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(fd.ok()) << std::strerror(errno);
	circbuf_stats s = get_stats(fd.get());
	EXPECT_EQ(s.used, 0u);
	EXPECT_EQ(s.available, s.capacity);
	EXPECT_EQ(s.reads, 0u);
	EXPECT_EQ(s.writes, 0u);
	EXPECT_EQ(s.bytes_read, 0u);
	EXPECT_EQ(s.bytes_written, 0u);
	EXPECT_EQ(s.readers, 1u);
	EXPECT_EQ(s.writers, 0u);
}

TEST_F(CircbufLoad, UnloadWhileOpenFailsWithEbusy)
{
	if (!module_path())
		GTEST_SKIP() << "CIRCBUF_KO is not set";
	Fd fd = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(fd.ok()) << std::strerror(errno);
	int e = unload_module();
	EXPECT_TRUE(e == EBUSY || e == EWOULDBLOCK) << "delete_module: " << (e ? strerrorname_np(e) : "succeeded");
	ASSERT_TRUE(module_loaded()) << "module unloaded under an open file";
	EXPECT_EQ(get_stats(fd.get()).readers, 1u);
}

TEST_F(CircbufNode, IsCharDeviceWithMode0600ByDefault)
{
	if (!default_mode())
		return;
	struct stat st;
	ASSERT_EQ(stat(kDevice, &st), 0) << std::strerror(errno);
	EXPECT_TRUE(S_ISCHR(st.st_mode)) << std::oct << st.st_mode;
	EXPECT_EQ(st.st_mode & 07777, 0600u) << std::oct << (st.st_mode & 07777);
	EXPECT_EQ(st.st_uid, 0u);
	EXPECT_EQ(st.st_gid, 0u);
}

TEST_F(CircbufNode, ModeParameterSetsNodeMode)
{
	if (!reload({{"mode", "0666"}}))
		return;
	struct stat st;
	ASSERT_EQ(stat(kDevice, &st), 0) << std::strerror(errno);
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(st.st_mode & 07777, 0666u) << std::oct << (st.st_mode & 07777);
}

TEST_F(CircbufNode, DisappearsAfterRmmod)
{
	if (!module_path())
		GTEST_SKIP() << "CIRCBUF_KO is not set";
	ASSERT_EQ(unload_module(), 0);
	EXPECT_TRUE(wait_for_path(kDevice, false)) << kDevice << " still exists after rmmod";
	EXPECT_FALSE(module_loaded());
}

}  // namespace
}  // namespace circbuf_vm
