// ioctl(2) on /dev/circbuf: what CIRCBUF_GET_STATS reports, FIONREAD, and
// the errors for unknown commands and bad argument pointers.
#include "vm_test.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufIoctl : public CircbufTest {
protected:
	// Opens rw (O_RDWR | O_NONBLOCK) of a ring of at least n bytes, and
	// reads the counters before the test's calls. False when the test
	// cannot go on: use as if (!open_counted(n, rw, before)) return;
	[[nodiscard]] bool open_counted(uint64_t n, Fd &rw, circbuf_stats &before)
	{
		if (!need_capacity(n))
			return false;
		rw = open_device(O_RDWR | O_NONBLOCK);
		EXPECT_TRUE(rw.ok()) << std::strerror(errno);
		if (!rw.ok())
			return false;
		before = get_stats(rw.get());
		return true;
	}
};

TEST_F(CircbufIoctl, CapacityMatchesBufferSizeParameter)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	const auto param = read_text_file(kBufferSizeParam);
	ASSERT_TRUE(param.has_value()) << kBufferSizeParam << ": " << std::strerror(errno);
	EXPECT_EQ(std::to_string(get_stats(r.get()).capacity), *param);
}

TEST_F(CircbufIoctl, UsedAndAvailableFollowBufferedBytes)
{
	if (!need_capacity(10))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	circbuf_stats s = get_stats(rw.get());
	EXPECT_EQ(s.used, 0u);
	EXPECT_EQ(s.available, capacity_);
	ASSERT_EQ(sys_write(rw.get(), "0123456789", 10), ok(10));
	s = get_stats(rw.get());
	EXPECT_EQ(s.used, 10u);
	EXPECT_EQ(s.available, capacity_ - 10);
	char buf[4];
	ASSERT_EQ(sys_read(rw.get(), buf, 4), ok(4));
	s = get_stats(rw.get());
	EXPECT_EQ(s.used, 6u);
	EXPECT_EQ(s.available, capacity_ - 6);
}

TEST_F(CircbufIoctl, CountersAgreeWithUsed)
{
	if (!need_capacity(10))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(rw.get(), "0123456789", 10), ok(10));
	char buf[3];
	ASSERT_EQ(sys_read(rw.get(), buf, 3), ok(3));
	const circbuf_stats s = get_stats(rw.get());
	EXPECT_EQ(s.used, s.bytes_written - s.bytes_read);
	EXPECT_EQ(s.used + s.available, s.capacity);
}

TEST_F(CircbufIoctl, WritesCountCallsThatStoredBytes)
{
	Fd rw;
	circbuf_stats before;
	if (!open_counted(16, rw, before))
		return;
	ASSERT_EQ(sys_write(rw.get(), "abcde", 5), ok(5));
	ASSERT_EQ(sys_write(rw.get(), "xyz", 3), ok(3));
	ASSERT_EQ(sys_write(rw.get(), "", 0), ok(0));
	ASSERT_EQ(sys_write(rw.get(), nullptr, 4), err(EFAULT));
	const std::vector<uint8_t> rest = pattern(0, capacity_ - 8);
	ASSERT_EQ(sys_write(rw.get(), rest.data(), rest.size()), ok(rest.size()));
	ASSERT_EQ(sys_write(rw.get(), "!", 1), err(EAGAIN));
	EXPECT_EQ(get_stats(rw.get()).writes - before.writes, 3u);
}

TEST_F(CircbufIoctl, ReadsCountCallsThatReturnedBytes)
{
	Fd rw;
	circbuf_stats before;
	if (!open_counted(8, rw, before))
		return;
	char buf[100];
	ASSERT_EQ(sys_write(rw.get(), "abcdefgh", 8), ok(8));
	ASSERT_EQ(sys_read(rw.get(), buf, 3), ok(3));
	ASSERT_EQ(sys_read(rw.get(), buf, 0), ok(0));
	ASSERT_EQ(sys_read(rw.get(), nullptr, 3), err(EFAULT));
	ASSERT_EQ(sys_read(rw.get(), buf, sizeof(buf)), ok(5));
	ASSERT_EQ(sys_read(rw.get(), buf, sizeof(buf)), err(EAGAIN));
	rw.reset();
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_read(r.get(), buf, sizeof(buf)), ok(0)) << "expected EOF";
	EXPECT_EQ(get_stats(r.get()).reads - before.reads, 2u);
}

TEST_F(CircbufIoctl, BytesReadAndWrittenCountTransferredBytes)
{
	Fd rw;
	circbuf_stats before;
	if (!open_counted(8, rw, before))
		return;
	ASSERT_EQ(sys_write(rw.get(), "abcde", 5), ok(5));
	ASSERT_EQ(sys_write(rw.get(), "xyz", 3), ok(3));
	char buf[3];
	ASSERT_EQ(sys_read(rw.get(), buf, 3), ok(3));
	ASSERT_EQ(sys_read(rw.get(), buf, 2), ok(2));
	const circbuf_stats after = get_stats(rw.get());
	EXPECT_EQ(after.bytes_written - before.bytes_written, 8u);
	EXPECT_EQ(after.bytes_read - before.bytes_read, 5u);
}

TEST_F(CircbufIoctl, ReadersAndWritersCountOpenFilesByMode)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	circbuf_stats s = get_stats(r.get());
	EXPECT_EQ(s.readers, 1u);
	EXPECT_EQ(s.writers, 0u);

	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok()) << std::strerror(errno);
	s = get_stats(w.get());
	EXPECT_EQ(s.readers, 1u);
	EXPECT_EQ(s.writers, 1u);

	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	s = get_stats(rw.get());
	EXPECT_EQ(s.readers, 2u);
	EXPECT_EQ(s.writers, 2u);

	// A dup shares the open file: it is not counted again.
	Fd dup_rw(dup(rw.get()));
	ASSERT_TRUE(dup_rw.ok());
	s = get_stats(rw.get());
	EXPECT_EQ(s.readers, 2u);
	EXPECT_EQ(s.writers, 2u);

	r.reset();
	s = get_stats(w.get());
	EXPECT_EQ(s.readers, 1u);
	EXPECT_EQ(s.writers, 2u);

	rw.reset();
	dup_rw.reset();
	s = get_stats(w.get());
	EXPECT_EQ(s.readers, 0u);
	EXPECT_EQ(s.writers, 1u);
}

TEST_F(CircbufIoctl, EmptyDeviceReportsItsCapacityAndNothingUsed)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	circbuf_stats s;
	std::memset(&s, 0xff, sizeof(s));
	ASSERT_EQ(ioctl(r.get(), CIRCBUF_GET_STATS, &s), 0) << std::strerror(errno);
	EXPECT_EQ(s.capacity, capacity_);
	EXPECT_EQ(s.used, 0u);
}

TEST_F(CircbufIoctl, UnknownCommandFailsWithEnotty)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	struct Cmd {
		const char *name;
		unsigned long cmd;
	};
	const Cmd cmds[] = {
		{"_IO(0xB8, 0x7f)", _IO(CIRCBUF_IOC_MAGIC, 0x7f)},
		{"next number", _IOR(CIRCBUF_IOC_MAGIC, 0x02, struct circbuf_stats)},
		{"GET_STATS with _IOW", _IOW(CIRCBUF_IOC_MAGIC, 0x01, struct circbuf_stats)},
		{"GET_STATS with a smaller size", _IOR(CIRCBUF_IOC_MAGIC, 0x01, __u32)},
		{"TCGETS", TCGETS},
		{"0xdeadbeef", 0xdeadbeefUL},
	};
	for (const Cmd &c : cmds) {
		circbuf_stats s{};
		errno = 0;
		EXPECT_EQ(ioctl(r.get(), c.cmd, &s), -1) << c.name;
		EXPECT_EQ(errno, ENOTTY) << c.name << ": " << std::strerror(errno);
	}
}

// Argument pointers CIRCBUF_GET_STATS cannot write to.
enum class BadPointer { Null, ProtNone, ReadOnly, KernelAddress };

class CircbufIoctlBadPointer : public CircbufTest, public testing::WithParamInterface<BadPointer> {};

TEST_P(CircbufIoctlBadPointer, GetStatsFailsWithEfault)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	const size_t page = sysconf(_SC_PAGESIZE);
	void *map = nullptr;
	void *arg = nullptr;
	switch (GetParam()) {
	case BadPointer::Null:
		break;
	case BadPointer::ProtNone:
	case BadPointer::ReadOnly:
		map = mmap(nullptr, page, GetParam() == BadPointer::ProtNone ? PROT_NONE : PROT_READ,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
		arg = map;
		break;
	case BadPointer::KernelAddress:
		arg = reinterpret_cast<void *>(0xffffffff81000000UL);
		break;
	}
	EXPECT_EQ(ioctl(r.get(), CIRCBUF_GET_STATS, arg), -1);
	EXPECT_EQ(errno, EFAULT) << std::strerror(errno);
	if (map)
		munmap(map, page);
}

INSTANTIATE_TEST_SUITE_P(Pointers, CircbufIoctlBadPointer,
			 testing::Values(BadPointer::Null, BadPointer::ProtNone, BadPointer::ReadOnly,
					 BadPointer::KernelAddress),
			 [](const testing::TestParamInfo<BadPointer> &p) {
				 switch (p.param) {
				 case BadPointer::Null:
					 return "Null";
				 case BadPointer::ProtNone:
					 return "ProtNone";
				 case BadPointer::ReadOnly:
					 return "ReadOnly";
				 case BadPointer::KernelAddress:
					 return "KernelAddress";
				 }
				 return "Unknown";
			 });

TEST_F(CircbufIoctl, FionreadReturnsBufferedBytes)
{
	if (!need_capacity(17))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	int n = -1;
	ASSERT_EQ(ioctl(rw.get(), FIONREAD, &n), 0) << std::strerror(errno);
	EXPECT_EQ(n, 0);
	const std::vector<uint8_t> data = pattern(0, 17);
	ASSERT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(17));
	ASSERT_EQ(ioctl(rw.get(), FIONREAD, &n), 0) << std::strerror(errno);
	EXPECT_EQ(n, 17);
	EXPECT_EQ(static_cast<uint64_t>(n), get_stats(rw.get()).used);
}

}  // namespace
}  // namespace circbuf_vm
