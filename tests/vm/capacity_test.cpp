// CIRCBUF_SET_CAPACITY, the run-time twin of buffer_size: the capacity
// changes with the data kept in order, packets kept whole, sleepers woken
// to the new ring, EBUSY while more is buffered than the new size holds,
// EINVAL out of bounds; and a resize under a running stress of four
// writers and four readers. (EPERM: security_test.cpp; the resize's
// tracepoint: observe_test.cpp; failure injection: faultinject_test.cpp.)
#include "vm_test.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/kmsg.h"

using circbuf::KmsgRecord;
using circbuf::KmsgTail;

namespace circbuf_vm {
namespace {

using CircbufCapacity = CircbufResizing;

TEST_F(CircbufCapacity, GrowKeepsTheDataInOrderAcrossTheWrap)
{
	if (!need_capacity(1000))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	// The data starts 300 bytes before the ring's end and wraps.
	ASSERT_TRUE(cycle_bytes(rw.get(), capacity_ - 300));
	const std::vector<uint8_t> data = pattern(0, 900);
	ASSERT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(900));
	const uint64_t grown = 3 * capacity_ + 17;
	ASSERT_EQ(set_capacity(rw.get(), grown), 0) << std::strerror(errno);
	const circbuf_stats st = get_stats(rw.get());
	EXPECT_EQ(st.capacity, grown);
	EXPECT_EQ(st.used, 900u);
	EXPECT_EQ(st.available, grown - 900);
	EXPECT_TRUE(same_bytes(read_bytes(rw.get(), 900), data));
	// All of the new capacity holds data, and it comes back.
	const std::vector<uint8_t> full = pattern(900, grown);
	EXPECT_EQ(sys_write(rw.get(), full.data(), full.size()), ok(grown));
	EXPECT_TRUE(same_bytes(read_bytes(rw.get(), grown), full));
}

TEST_F(CircbufCapacity, ShrinkToExactlyWhatIsBufferedKeepsItAndIsFull)
{
	if (!need_capacity(200))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_TRUE(cycle_bytes(rw.get(), capacity_ - 50));
	const std::vector<uint8_t> data = pattern(7, 100);
	ASSERT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(100));
	ASSERT_EQ(set_capacity(rw.get(), 100), 0) << std::strerror(errno);
	EXPECT_EQ(sys_write(rw.get(), "x", 1), err(EAGAIN)) << "a full ring took a byte";
	pollfd p{rw.get(), POLLOUT, 0};
	EXPECT_EQ(poll(&p, 1, 0), 0) << "POLLOUT on a full ring";
	EXPECT_TRUE(same_bytes(read_bytes(rw.get(), 100), data));
	EXPECT_EQ(poll(&p, 1, 0), 1) << "no POLLOUT once the small ring is empty";
}

TEST_F(CircbufCapacity, ShrinkBelowWhatIsBufferedIsEbusyAndChangesNothing)
{
	if (!need_capacity(100))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, 100);
	ASSERT_EQ(sys_write(rw.get(), data.data(), data.size()), ok(100));
	EXPECT_EQ(set_capacity(rw.get(), 99), EBUSY);
	EXPECT_EQ(get_stats(rw.get()).capacity, capacity_);
	EXPECT_TRUE(same_bytes(read_bytes(rw.get(), 100), data));
}

TEST_F(CircbufCapacity, OutOfBoundsIsEinvalWithAMessage)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	KmsgTail kmsg;
	ASSERT_TRUE(kmsg.ok()) << std::strerror(errno);
	EXPECT_EQ(set_capacity(r.get(), 0), EINVAL);
	EXPECT_EQ(set_capacity(r.get(), uint64_t{CIRCBUF_MAX_SIZE} + 1), EINVAL);
	EXPECT_EQ(set_capacity(r.get(), uint64_t{1} << 32), EINVAL) << "a size_t would have cut it to 0";
	EXPECT_EQ(get_stats(r.get()).capacity, capacity_);
	bool said = false;
	for (const KmsgRecord &rec : kmsg.read_new())
		said |= rec.message.find("capacity 0 is out of range") != std::string::npos;
	EXPECT_TRUE(said) << "no dmesg line for capacity 0";
}

TEST_F(CircbufCapacity, BadArgumentPointerIsEfault)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	EXPECT_EQ(ioctl(r.get(), CIRCBUF_SET_CAPACITY, reinterpret_cast<void *>(8)), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(get_stats(r.get()).capacity, capacity_);
}

TEST_F(CircbufCapacity, SysfsAndProcShowTheNewCapacity)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	ASSERT_EQ(set_capacity(r.get(), 12345), 0) << std::strerror(errno);
	EXPECT_EQ(read_text_file("/sys/class/misc/circbuf/stats/capacity"), "12345");
	const auto proc = read_text_file("/proc/circbuf");
	ASSERT_TRUE(proc.has_value());
	EXPECT_TRUE(proc->starts_with("capacity: 12345\n")) << *proc;
	EXPECT_NE(proc->find("\npackets.slots: 64\n"), std::string::npos) << "12345 / 256, rounded up to a power of two";
}

TEST_F(CircbufCapacity, BlockedWriterWakesWhenTheRingGrows)
{
	Fd w = open_device(O_WRONLY);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && rw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> fill = pattern(0, capacity_);
	ASSERT_EQ(sys_write(rw.get(), fill.data(), fill.size()), ok(capacity_));
	const std::vector<uint8_t> more = pattern(capacity_, 100);
	Background<Io> writer([&] { return sys_write(w.get(), more.data(), more.size()); });
	ASSERT_TRUE(wait_until_blocked(writer.tid()));
	ASSERT_FALSE(writer.done());
	ASSERT_EQ(set_capacity(rw.get(), capacity_ + 4096 + 100), 0) << std::strerror(errno);
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "the writer slept on in a ring with room";
	EXPECT_EQ(writer.result(), ok(100));
	std::vector<uint8_t> all = fill;
	all.insert(all.end(), more.begin(), more.end());
	EXPECT_TRUE(same_bytes(read_bytes(rw.get(), all.size()), all));
}

TEST_F(CircbufCapacity, BlockedReaderStillGetsTheNextWrite)
{
	Fd r = open_device(O_RDONLY);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(r.ok() && rw.ok()) << std::strerror(errno);
	Background<Io> reader([&] {
		char c = 0;
		Io io = sys_read(r.get(), &c, 1);
		return io.ret == 1 && c != 'z' ? err(EBADMSG) : io;
	});
	ASSERT_TRUE(wait_until_blocked(reader.tid()));
	ASSERT_EQ(set_capacity(rw.get(), 2 * capacity_), 0) << std::strerror(errno);
	ASSERT_EQ(set_capacity(rw.get(), 1), 0) << std::strerror(errno);
	EXPECT_FALSE(reader.done()) << "the resize woke the reader to nothing";
	ASSERT_EQ(sys_write(rw.get(), "z", 1), ok(1));
	ASSERT_TRUE(reader.wait(kWakeTimeout)) << "the reader missed the write after the resize";
	EXPECT_EQ(reader.result(), ok(1));
}

TEST_F(CircbufCapacity, PacketsStayWholeAcrossAResize)
{
	Fd pw = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(pw.ok() && r.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(pw.get(), "one", 3), ok(3));
	ASSERT_EQ(sys_write(pw.get(), "three", 5), ok(5));
	ASSERT_EQ(set_capacity(r.get(), 65536), 0) << std::strerror(errno);
	char buf[16];
	EXPECT_EQ(sys_read(r.get(), buf, sizeof buf), ok(3));
	ASSERT_EQ(set_capacity(r.get(), 8), 0) << std::strerror(errno);
	EXPECT_EQ(sys_read(r.get(), buf, sizeof buf), ok(5));
	EXPECT_EQ(std::string(buf, 5), "three");
}

TEST_F(CircbufCapacity, ShrinkBelowTheBufferedPacketsSlotsIsEbusy)
{
	Fd pw = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(pw.ok() && r.ok()) << std::strerror(errno);
	ASSERT_EQ(set_capacity(r.get(), 65536), 0) << std::strerror(errno);  // 256 slots
	for (int i = 0; i < 17; i++)
		ASSERT_EQ(sys_write(pw.get(), "p", 1), ok(1)) << "packet " << i;
	EXPECT_EQ(set_capacity(r.get(), 4096), EBUSY) << "17 packets in 16 slots";
	char c;
	ASSERT_EQ(sys_read(r.get(), &c, 1), ok(1));
	EXPECT_EQ(set_capacity(r.get(), 4096), 0) << std::strerror(errno);
	for (int i = 0; i < 16; i++)
		EXPECT_EQ(sys_read(r.get(), &c, 1), ok(1)) << "packet " << i + 1;
	EXPECT_EQ(sys_read(r.get(), &c, 1), err(EAGAIN));
}

// The test: 4 writers and 4 readers in records mode while the
// capacity grows and shrinks under them; the stress tool proves every
// record once. The capacities stay at PIPE_BUF or more, so that the
// writers' atomic writes stay atomic (a smaller ring makes them
// non-atomic, which records mode would rightly count as split).
TEST_F(CircbufCapacity, ResizeUnderStressKeepsEveryRecordExactlyOnce)
{
	if (stress_tool().empty())
		GTEST_SKIP() << "no circbuf-stress beside the test binary";
	if (!reload({{"buffer_size", "65536"}}))
		return;
	Fd ctl = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(ctl.ok()) << std::strerror(errno);
	std::atomic<bool> done{false};
	unsigned grown = 0, shrunk = 0, same = 0, busy = 0, other = 0;
	std::thread resizer([&] {
		const uint64_t sizes[] = {131072, 4096, 65536, 5000, 200000, 4099, 100000, 8192};
		uint64_t last = 65536;
		for (unsigned i = 0; !done.load(); i = (i + 1) % std::size(sizes)) {
			const int e = set_capacity(ctl.get(), sizes[i]);
			if (!e) {
				(sizes[i] > last ? grown : sizes[i] < last ? shrunk : same)++;
				last = sizes[i];
			} else if (e == EBUSY) {
				busy++;
			} else {
				other++;
			}
			std::this_thread::sleep_for(20ms);
		}
	});
	run_stress_tool({"--writers=4", "--readers=4", "--duration=6"}, 60s);
	done = true;
	resizer.join();
	EXPECT_EQ(other, 0u) << "a resize failed with neither success nor EBUSY";
	// Both ways under load: a shrink needs the readers to have made room.
	EXPECT_GE(grown, 2u) << "shrunk " << shrunk << ", EBUSY " << busy;
	EXPECT_GE(shrunk, 2u) << "grown " << grown << ", EBUSY " << busy;
	std::printf("[ RESIZE   ] grown %u, shrunk %u, unchanged %u, EBUSY %u times under stress\n", grown, shrunk,
		    same, busy);
}

}  // namespace
}  // namespace circbuf_vm
