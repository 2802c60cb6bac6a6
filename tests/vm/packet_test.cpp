// Packet mode (O_DIRECT), as pipe2(2) documents it for pipes: each write of
// at most PIPE_BUF bytes is a packet, a larger one is cut into PIPE_BUF-sized
// packets, a read returns at most one packet and the unread rest of it is
// dropped. Byte-mode and packet-mode files share one ring as on one pipe.
#include "vm_test.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufPacket : public CircbufTest {
protected:
	// The largest packet: min(PIPE_BUF, capacity).
	size_t packet_max() const { return std::min<size_t>(kPipeBuf, capacity_); }

	// Reloads the module with a 64 KiB ring if the harness's is smaller
	// (the default is 4096): room for several packets of PIPE_BUF, and
	// for a slot's worth of one-byte packets with PIPE_BUF free besides.
	[[nodiscard]] bool roomy_ring() { return capacity_ >= kRoomy || reload({{"buffer_size", std::to_string(kRoomy)}}); }

	static constexpr uint64_t kRoomy = 65536;
};

// /proc/circbuf's packets.NAME, or 0 (with a failure) without it.
uint64_t proc_packets(const std::string &name)
{
	const auto text = read_text_file("/proc/circbuf");
	if (!text) {
		ADD_FAILURE() << "cannot read /proc/circbuf";
		return 0;
	}
	std::istringstream in(*text);
	const std::string key = "packets." + name + ": ";
	for (std::string line; std::getline(in, line);)
		if (line.starts_with(key))
			return std::stoull(line.substr(key.size()));
	ADD_FAILURE() << "/proc/circbuf has no packets." << name;
	return 0;
}

// Reads with a buffer of n bytes; the bytes it returned, or a failure.
std::vector<uint8_t> read_once(int fd, size_t n)
{
	std::vector<uint8_t> buf(n);
	const Io io = sys_read(fd, buf.data(), n);
	if (io.ret < 0) {
		ADD_FAILURE() << "read of " << n << " bytes: " << std::strerror(io.err);
		return {};
	}
	buf.resize(io.ret);
	return buf;
}

TEST_F(CircbufPacket, OpenWithODirectSucceeds)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	ASSERT_TRUE(w.ok()) << "open(O_DIRECT): " << std::strerror(errno);
	EXPECT_TRUE(fcntl(w.get(), F_GETFL) & O_DIRECT);
}

TEST_F(CircbufPacket, FcntlSwitchesPacketModeOnAndOff)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	ASSERT_EQ(fcntl(w.get(), F_SETFL, O_NONBLOCK | O_DIRECT), 0) << std::strerror(errno);
	ASSERT_EQ(sys_write(w.get(), "ab", 2), ok(2));
	ASSERT_EQ(fcntl(w.get(), F_SETFL, O_NONBLOCK), 0) << std::strerror(errno);
	ASSERT_EQ(sys_write(w.get(), "cd", 2), ok(2));
	ASSERT_EQ(sys_write(w.get(), "ef", 2), ok(2));
	char buf[16];
	EXPECT_EQ(sys_read(r.get(), buf, sizeof buf), ok(2)) << "the packet written in packet mode";
	EXPECT_EQ(sys_read(r.get(), buf, sizeof buf), ok(4)) << "byte mode again: one stream";
}

TEST_F(CircbufPacket, EachWriteIsOnePacket)
{
	if (!need_capacity(7))
		return;
	Fd w = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(w.get(), "abc", 3), ok(3));
	ASSERT_EQ(sys_write(w.get(), "defg", 4), ok(4));
	EXPECT_EQ(read_once(r.get(), 100), (std::vector<uint8_t>{'a', 'b', 'c'}));
	EXPECT_EQ(read_once(r.get(), 100), (std::vector<uint8_t>{'d', 'e', 'f', 'g'}));
	EXPECT_EQ(sys_read(r.get(), nullptr, 0), ok(0));
}

TEST_F(CircbufPacket, ShortReadDropsTheRestOfThePacket)
{
	if (!need_capacity(12))
		return;
	Fd w = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(r.get());
	ASSERT_EQ(sys_write(w.get(), "0123456789", 10), ok(10));
	ASSERT_EQ(sys_write(w.get(), "xy", 2), ok(2));
	EXPECT_EQ(read_once(r.get(), 4), (std::vector<uint8_t>{'0', '1', '2', '3'}));
	EXPECT_EQ(read_once(r.get(), 100), (std::vector<uint8_t>{'x', 'y'})) << "the next read starts at the next packet";
	const circbuf_stats after = get_stats(r.get());
	EXPECT_EQ(after.bytes_discarded - before.bytes_discarded, 6u);
	EXPECT_EQ(after.bytes_read - before.bytes_read, 6u) << "bytes delivered, without the discarded";
	EXPECT_EQ(after.used, 0u);
	EXPECT_EQ(after.used, after.bytes_written - after.bytes_read - after.bytes_discarded);
}

TEST_F(CircbufPacket, LargeWriteIsCutIntoPacketsOfPipeBuf)
{
	if (!roomy_ring())
		return;
	const size_t max = packet_max();
	const size_t total = 2 * max + max / 2 + 1;
	Fd w = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	const std::vector<uint8_t> data = pattern(0, total);
	ASSERT_EQ(sys_write(w.get(), data.data(), total), ok(total));
	std::vector<uint8_t> got;
	for (size_t want : {max, max, total - 2 * max}) {
		const std::vector<uint8_t> p = read_once(r.get(), total);
		EXPECT_EQ(p.size(), want);
		got.insert(got.end(), p.begin(), p.end());
	}
	EXPECT_TRUE(same_bytes(got, data));
}

// "abcde" written in byte mode, then the packet "PACKET": what a ring with
// both holds, through a byte-mode writer bw_, a packet writer pw_ and a
// reader r_ (all O_NONBLOCK).
class CircbufPacketMixed : public CircbufTest {
protected:
	void SetUp() override
	{
		CircbufTest::SetUp();
		if (HasFatalFailure() || IsSkipped() || !need_capacity(20))
			return;
		bw_ = open_device(O_WRONLY | O_NONBLOCK);
		pw_ = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
		r_ = open_device(O_RDONLY | O_NONBLOCK);
		ASSERT_TRUE(bw_.ok() && pw_.ok() && r_.ok()) << std::strerror(errno);
		ASSERT_EQ(sys_write(bw_.get(), "abcde", 5), ok(5));
		ASSERT_EQ(sys_write(pw_.get(), "PACKET", 6), ok(6));
	}

	static std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

	Fd bw_, pw_, r_;
};

TEST_F(CircbufPacketMixed, ByteDataBeforeAPacketComesInTheSameRead)
{
	ASSERT_EQ(sys_write(bw_.get(), "vwxyz", 5), ok(5));
	EXPECT_EQ(read_once(r_.get(), 100), bytes("abcdePACKET"));
	EXPECT_EQ(read_once(r_.get(), 100), bytes("vwxyz"));
}

TEST_F(CircbufPacketMixed, ReadEndingInByteDataLeavesThePacketWhole)
{
	EXPECT_EQ(read_once(r_.get(), 3), bytes("abc"));
	EXPECT_EQ(read_once(r_.get(), 2), bytes("de")) << "byte data ends where the packet starts";
	EXPECT_EQ(read_once(r_.get(), 100), bytes("PACKET"));
}

TEST_F(CircbufPacket, PacketReaderReadsByteDataAsAStream)
{
	if (!need_capacity(6))
		return;
	Fd bw = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY | O_NONBLOCK | O_DIRECT);
	ASSERT_TRUE(bw.ok() && r.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(bw.get(), "abc", 3), ok(3));
	ASSERT_EQ(sys_write(bw.get(), "def", 3), ok(3));
	EXPECT_EQ(read_once(r.get(), 100).size(), 6u) << "a reader's mode makes no packets, as on a pipe";
}

TEST_F(CircbufPacket, ZeroLengthWriteStoresNoPacket)
{
	Fd pw = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(pw.ok() && r.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(pw.get(), "", 0), ok(0));
	EXPECT_EQ(proc_packets("buffered"), 0u);
	char c;
	EXPECT_EQ(sys_read(r.get(), &c, 1), err(EAGAIN)) << "nothing to read, not an empty packet";
}

TEST_F(CircbufPacket, NonBlockingPacketGoesWholeOrNotAtAll)
{
	const size_t max = packet_max();
	if (max < 2 || !need_capacity(2))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	Fd pw = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	ASSERT_TRUE(rw.ok() && pw.ok()) << std::strerror(errno);
	const std::vector<uint8_t> fill = pattern(0, capacity_ - 1);
	ASSERT_EQ(sys_write(rw.get(), fill.data(), fill.size()), ok(fill.size()));
	const circbuf_stats before = get_stats(rw.get());
	EXPECT_EQ(sys_write(pw.get(), "ab", 2), err(EAGAIN)) << "a packet of 2 bytes into 1 free byte";
	EXPECT_EQ(get_stats(rw.get()).bytes_written, before.bytes_written) << "part of a packet was stored";
	EXPECT_EQ(proc_packets("buffered"), 0u);
}

TEST_F(CircbufPacket, FaultAtAPacketsFirstByteLeavesItWhole)
{
	if (!need_capacity(8))
		return;
	Fd pw = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(pw.ok() && r.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(pw.get(), "packet!!", 8), ok(8));
	void *bad = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(bad, MAP_FAILED);
	EXPECT_EQ(sys_read(r.get(), bad, 8), err(EFAULT));
	munmap(bad, 4096);
	const std::string p = "packet!!";
	EXPECT_EQ(read_once(r.get(), 100), std::vector<uint8_t>(p.begin(), p.end()));
}

// With every slot holding a packet, the ring is full for writers: packets
// get EAGAIN and poll reports no POLLOUT, until a read frees a slot.
TEST_F(CircbufPacket, RingIsFullWhenEverySlotHoldsAPacket)
{
	if (!roomy_ring())
		return;
	const uint64_t slots = proc_packets("slots");
	ASSERT_EQ(slots, kRoomy / 256) << "one slot per 256 bytes";
	ASSERT_GE(capacity_, slots + packet_max());
	Fd pw = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(pw.ok() && r.ok()) << std::strerror(errno);
	for (uint64_t i = 0; i < slots; i++)
		ASSERT_EQ(sys_write(pw.get(), "p", 1), ok(1)) << "packet " << i;
	EXPECT_EQ(proc_packets("buffered"), slots);
	EXPECT_EQ(sys_write(pw.get(), "p", 1), err(EAGAIN)) << "a packet with no free slot";
	pollfd p{pw.get(), POLLOUT, 0};
	EXPECT_EQ(poll(&p, 1, 0), 0) << "POLLOUT with no free slot";
	char c;
	ASSERT_EQ(sys_read(r.get(), &c, 1), ok(1));
	EXPECT_EQ(poll(&p, 1, 0), 1) << "no POLLOUT once a slot is free";
	EXPECT_EQ(sys_write(pw.get(), "p", 1), ok(1));
}

TEST_F(CircbufPacket, BlockedPacketWriterWakesWhenASlotFrees)
{
	if (!roomy_ring())
		return;
	const uint64_t slots = proc_packets("slots");
	ASSERT_GE(capacity_, slots + packet_max());
	Fd pw = open_device(O_WRONLY | O_DIRECT);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(pw.ok() && r.ok()) << std::strerror(errno);
	for (uint64_t i = 0; i < slots; i++)
		ASSERT_EQ(sys_write(pw.get(), "p", 1), ok(1)) << "packet " << i;
	Background<Io> writer([&] { return sys_write(pw.get(), "q", 1); });
	ASSERT_TRUE(wait_until_blocked(writer.tid()));
	ASSERT_FALSE(writer.done());
	char c;
	ASSERT_EQ(sys_read(r.get(), &c, 1), ok(1));
	ASSERT_TRUE(writer.wait(kWakeTimeout)) << "the writer slept on after a slot freed";
	EXPECT_EQ(writer.result(), ok(1));
}

// Packets of every size from 1 to the largest, written and read through
// several wraps of a ring of each capacity the issue names, with DMA as
// the harness loaded it: each comes back whole, alone, and in order.
class CircbufPacketCapacity : public CircbufTest, public testing::WithParamInterface<unsigned> {};

TEST_P(CircbufPacketCapacity, PacketsComeBackWholeAcrossTheWrap)
{
	if (!reload({{"buffer_size", std::to_string(GetParam())}}))
		return;
	const size_t max = std::min<size_t>(kPipeBuf, capacity_);
	Fd pw = open_device(O_WRONLY | O_NONBLOCK | O_DIRECT);
	Fd bw = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(pw.ok() && bw.ok() && r.ok()) << std::strerror(errno);
	std::mt19937 rng(GetParam());
	uint64_t offset = 0;
	std::vector<uint8_t> buf(kPipeBuf);
	// Three laps of the ring, and at least 200 packets.
	for (int i = 0; offset < 3 * capacity_ || i < 200; i++) {
		const size_t len = std::uniform_int_distribution<size_t>(1, max)(rng);
		const std::vector<uint8_t> data = pattern(offset, len);
		// Every fourth one in byte mode, alone in the ring: read as is.
		const bool bytes = i % 4 == 3;
		ASSERT_EQ(sys_write(bytes ? bw.get() : pw.get(), data.data(), len), ok(len)) << "write " << i;
		const Io io = sys_read(r.get(), buf.data(), buf.size());
		ASSERT_EQ(io, ok(len)) << "read " << i << " of a " << (bytes ? "byte-mode write" : "packet");
		ASSERT_TRUE(same_bytes(std::vector<uint8_t>(buf.begin(), buf.begin() + len), data)) << "read " << i;
		offset += len;
	}
	// Two packets at once, around wherever the ring now is.
	if (capacity_ >= 2) {
		const size_t a = std::max<size_t>(1, std::min(max, capacity_) / 2), b = std::min(max, capacity_) - a;
		if (b) {
			ASSERT_EQ(sys_write(pw.get(), pattern(offset, a).data(), a), ok(a));
			ASSERT_EQ(sys_write(pw.get(), pattern(offset + a, b).data(), b), ok(b));
			EXPECT_EQ(sys_read(r.get(), buf.data(), buf.size()), ok(a));
			EXPECT_EQ(sys_read(r.get(), buf.data(), buf.size()), ok(b));
		}
	}
	const circbuf_stats st = get_stats(r.get());
	EXPECT_EQ(st.used, 0u);
	EXPECT_EQ(proc_packets("buffered"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Capacities, CircbufPacketCapacity, testing::Values(1u, 4096u, 5000u, 65536u),
			 [](const testing::TestParamInfo<unsigned> &p) { return std::to_string(p.param); });

}  // namespace
}  // namespace circbuf_vm
