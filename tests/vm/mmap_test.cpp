// mmap of a ring: twice the capacity, the ring mapped twice in a row, so
// that any piece of at most the capacity is contiguous in user space. The
// mapped bytes are the ring's (across the wrap, through both copies, at
// capacities of one page to more than one coherent segment); what mmap
// refuses (EINVAL, EACCES); and what a mapping pins: the capacity (EBUSY
// until the last piece is unmapped), the ring (CIRCBUF_CTL_REMOVE) and the
// module, even with its file closed. fork() does not pass it on.
#include "vm_test.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "circbuf/rings.h"
#include "tests/kmsg.h"

using circbuf::KmsgRecord;
using circbuf::KmsgTail;

namespace circbuf_vm {
namespace {

// The errno of an mmap that is expected to fail, or 0 if it succeeded.
int mmap_error(int fd, size_t len, int prot, int flags = MAP_SHARED, off_t off = 0)
{
	Mapping m(fd, len, prot, flags, off);
	return m.ok() ? 0 : m.error();
}

class CircbufMmap : public CircbufResizing {
protected:
	// An O_RDWR|O_NONBLOCK file of a ring emptied and resized to cap, so
	// that its reader is at offset 0.
	Fd resized(uint64_t cap)
	{
		Fd rw = open_device(O_RDWR | O_NONBLOCK);
		EXPECT_TRUE(rw.ok()) << std::strerror(errno);
		if (rw.ok()) {
			EXPECT_EQ(set_capacity(rw.get(), cap), 0) << "capacity " << cap;
		}
		return rw;
	}
};

TEST_F(CircbufMmap, MappedBytesAreWhatReadReturnsAcrossTheWrapAtEveryCapacity)
{
	// One page, three, the default ring, and one page more than the
	// default coherent segment (1 MiB): two segments, mapped in turn.
	for (const size_t cap : {kPage, 3 * kPage, size_t{65536}, size_t{1 << 20} + kPage}) {
		SCOPED_TRACE("capacity " + std::to_string(cap));
		Fd rw = resized(cap);
		ASSERT_TRUE(rw.ok());
		// The reader ends up 100 bytes before the ring's end, so the
		// data written next wraps.
		const size_t start = cap - 100;
		ASSERT_TRUE(cycle_bytes(rw.get(), start));
		const std::vector<uint8_t> data = pattern(0, cap, unsigned(cap));
		ASSERT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(ssize_t(cap)));

		Mapping m(rw.get(), 2 * cap, PROT_READ);
		ASSERT_TRUE(m.ok()) << std::strerror(m.error());
		const std::vector<uint8_t> mapped(m.data() + start, m.data() + start + cap);
		EXPECT_TRUE(same_bytes(mapped, data)) << "the piece from the reader's offset";
		EXPECT_EQ(std::memcmp(m.data(), m.data() + cap, cap), 0)
			<< "the second copy differs from the first";
		EXPECT_TRUE(same_bytes(read_bytes(rw.get(), cap), data)) << "read() after the mapping";
	}
}

TEST_F(CircbufMmap, WritesThroughEitherCopyReachTheRing)
{
	const size_t cap = 2 * kPage;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	std::vector<uint8_t> data = pattern(0, 200);
	ASSERT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(200));
	Mapping m(rw.get(), 2 * cap, PROT_READ | PROT_WRITE);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	m.data()[5] = uint8_t(~data[5]);
	m.data()[cap + 150] = uint8_t(~data[150]);
	data[5] = uint8_t(~data[5]);
	data[150] = uint8_t(~data[150]);
	EXPECT_TRUE(same_bytes(read_bytes(rw.get(), 200), data));
}

TEST_F(CircbufMmap, CapacityNotAMultipleOfThePageIsEinval)
{
	const size_t cap = kPage + 100;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	EXPECT_EQ(mmap_error(rw.get(), 2 * cap, PROT_READ), EINVAL);
}

TEST_F(CircbufMmap, LengthOtherThanTwiceTheCapacityIsEinval)
{
	const size_t cap = 4 * kPage;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	EXPECT_EQ(mmap_error(rw.get(), cap, PROT_READ), EINVAL);
	EXPECT_EQ(mmap_error(rw.get(), 2 * cap - kPage, PROT_READ), EINVAL);
	EXPECT_EQ(mmap_error(rw.get(), 3 * cap, PROT_READ), EINVAL);
	EXPECT_EQ(mmap_error(rw.get(), 2 * cap, PROT_READ), 0);
}

TEST_F(CircbufMmap, NonzeroOffsetIsEinval)
{
	const size_t cap = 4 * kPage;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	EXPECT_EQ(mmap_error(rw.get(), 2 * cap, PROT_READ, MAP_SHARED, off_t(kPage)), EINVAL);
}

TEST_F(CircbufMmap, PrivateMappingIsEinval)
{
	const size_t cap = 4 * kPage;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	EXPECT_EQ(mmap_error(rw.get(), 2 * cap, PROT_READ, MAP_PRIVATE), EINVAL);
}

TEST_F(CircbufMmap, WritableMappingOfAReadOnlyFileIsEacces)
{
	const size_t cap = 4 * kPage;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	EXPECT_EQ(mmap_error(r.get(), 2 * cap, PROT_READ | PROT_WRITE), EACCES);
	Mapping m(r.get(), 2 * cap, PROT_READ);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	EXPECT_EQ(mprotect(m.data(), 2 * cap, PROT_READ | PROT_WRITE), -1)
		<< "mprotect made a read-only file's mapping writable";
	EXPECT_EQ(errno, EACCES);
}

TEST_F(CircbufMmap, SetCapacityWhileMappedIsEbusyWithAMessage)
{
	const size_t cap = 4 * kPage;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	Mapping m(rw.get(), 2 * cap, PROT_READ);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	KmsgTail kmsg;
	ASSERT_TRUE(kmsg.ok()) << std::strerror(errno);
	EXPECT_EQ(set_capacity(rw.get(), 2 * cap), EBUSY);
	EXPECT_EQ(get_stats(rw.get()).capacity, cap);
	bool said = false;
	for (const KmsgRecord &rec : kmsg.read_new())
		said |= rec.message.find("cannot change while the ring is mapped") != std::string::npos;
	EXPECT_TRUE(said) << "no dmesg line for the refused resize";
	m.reset();
	EXPECT_EQ(set_capacity(rw.get(), 2 * cap), 0) << "still refused after munmap";
}

TEST_F(CircbufMmap, SetCapacityIsEbusyUntilTheLastPieceIsUnmapped)
{
	const size_t cap = 4 * kPage;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	Mapping m(rw.get(), 2 * cap, PROT_READ);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	// Unmapping the middle leaves two vmas, one at each end.
	ASSERT_EQ(munmap(m.data() + kPage, 2 * cap - 2 * kPage), 0) << std::strerror(errno);
	EXPECT_EQ(set_capacity(rw.get(), 2 * cap), EBUSY) << "two pieces still mapped";
	ASSERT_EQ(munmap(m.data(), kPage), 0) << std::strerror(errno);
	EXPECT_EQ(set_capacity(rw.get(), 2 * cap), EBUSY) << "the last page still mapped";
	ASSERT_EQ(munmap(m.data() + 2 * cap - kPage, kPage), 0) << std::strerror(errno);
	EXPECT_EQ(set_capacity(rw.get(), 2 * cap), 0) << "refused with nothing mapped";
}

TEST_F(CircbufMmap, MappingKeepsTheRingFromBeingRemovedAfterItsFileCloses)
{
	Fd ctl(open(circbuf::kControlDevice, O_RDWR | O_CLOEXEC));
	ASSERT_TRUE(ctl.ok()) << std::strerror(errno);
	circbuf_ctl_add req{};
	req.capacity = 4 * kPage;
	const int n = ioctl(ctl.get(), CIRCBUF_CTL_ADD, &req);
	ASSERT_GT(n, 0) << std::strerror(errno);
	const std::string path = "/dev/" + circbuf::ring_name(unsigned(n));
	ASSERT_TRUE(wait_for_path(path.c_str(), true));
	Fd rw(open(path.c_str(), O_RDWR | O_CLOEXEC));
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	Mapping m(rw.get(), 2 * req.capacity, PROT_READ);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	rw.reset();
	EXPECT_EQ(ioctl(ctl.get(), CIRCBUF_CTL_REMOVE, (unsigned long)n), -1);
	EXPECT_EQ(errno, EBUSY) << "a mapped ring was removed";
	m.reset();
	EXPECT_EQ(ioctl(ctl.get(), CIRCBUF_CTL_REMOVE, (unsigned long)n), 0) << std::strerror(errno);
}

TEST_F(CircbufMmap, MappingKeepsTheModuleLoadedAfterItsFileCloses)
{
	const size_t cap = 4 * kPage;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	Mapping m(rw.get(), 2 * cap, PROT_READ);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	rw.reset();
	EXPECT_NE(unload_module(), 0) << "the module went with a ring mapped";
	m.reset();
}

TEST_F(CircbufMmap, ForkedChildDoesNotInheritTheMapping)
{
	const size_t cap = 4 * kPage;
	Fd rw = resized(cap);
	ASSERT_TRUE(rw.ok());
	Mapping m(rw.get(), 2 * cap, PROT_READ);
	ASSERT_TRUE(m.ok()) << std::strerror(m.error());
	std::vector<unsigned char> vec(2 * cap / kPage);
	ASSERT_EQ(mincore(m.data(), 2 * cap, vec.data()), 0) << "the parent's mapping";
	const pid_t pid = fork();
	ASSERT_GE(pid, 0) << std::strerror(errno);
	if (pid == 0) {
		// mincore() fails with ENOMEM on a range that is not mapped.
		const int ret = mincore(m.data(), 2 * cap, vec.data());
		_exit(ret == -1 && errno == ENOMEM ? 0 : 1);
	}
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0) << "the child has the mapping";
}

}  // namespace
}  // namespace circbuf_vm
