// Tests of kmod/circbuf_packets.h, the packet boundaries of packet mode,
// compiled here as C++ beside the ring they describe; the concurrent test
// runs again under ThreadSanitizer (tsan.PacketsConcurrent.*).
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "circbuf_packets.h"

namespace {

// A packet queue with its own slots.
struct ModelPkts {
	std::vector<circbuf_pkt> slot;
	circbuf_pkts q;

	explicit ModelPkts(size_t nr) : slot(nr) { circbuf_pkts_init(&q, slot.data(), nr); }
};

TEST(PacketsPlan, WithoutPacketsEveryReadableByteIsByteData)
{
	size_t bytes = 0;
	EXPECT_FALSE(circbuf_pkts_plan(nullptr, 100, 7, &bytes));
	EXPECT_EQ(bytes, 7u);
}

TEST(PacketsPlan, PacketAtTheReaderIsTakenWhenWhollyReadable)
{
	const circbuf_pkt p{100, 5};
	size_t bytes = 99;
	EXPECT_TRUE(circbuf_pkts_plan(&p, 100, 5, &bytes));
	EXPECT_EQ(bytes, 0u);
	EXPECT_FALSE(circbuf_pkts_plan(&p, 100, 4, &bytes)) << "one byte of it not yet readable";
}

TEST(PacketsPlan, ByteDataBeforeThePacketEndsWhereItStarts)
{
	const circbuf_pkt p{103, 5};
	size_t bytes = 0;
	EXPECT_TRUE(circbuf_pkts_plan(&p, 100, 8, &bytes));
	EXPECT_EQ(bytes, 3u);
	EXPECT_FALSE(circbuf_pkts_plan(&p, 100, 2, &bytes));
	EXPECT_EQ(bytes, 2u) << "fewer readable bytes than come before the packet";
}

TEST(PacketsPlan, PositionsThatWrapStillMeasureTheGap)
{
	const circbuf_pkt p{2, 4};  // the stream's position wrapped past 0
	size_t bytes = 0;
	EXPECT_TRUE(circbuf_pkts_plan(&p, SIZE_MAX - 1, 8, &bytes));
	EXPECT_EQ(bytes, 4u);
}

TEST(PacketsQueue, HasRoomForExactlyItsSlots)
{
	ModelPkts m(4);
	for (size_t i = 0; i < 4; i++) {
		ASSERT_TRUE(circbuf_pkts_room(&m.q)) << i;
		circbuf_pkts_push(&m.q, i * 10, i + 1);
	}
	EXPECT_FALSE(circbuf_pkts_room(&m.q));
	EXPECT_EQ(circbuf_pkts_count(&m.q), 4u);
	circbuf_pkts_pop(&m.q);
	EXPECT_TRUE(circbuf_pkts_room(&m.q));
	EXPECT_EQ(circbuf_pkts_count(&m.q), 3u);
}

TEST(PacketsQueue, PeekReturnsTheOldestInOrderAcrossManyLaps)
{
	ModelPkts m(4);
	m.q.head = m.q.tail = SIZE_MAX - 5;  // the counters wrap during the test
	size_t next_in = 0, next_out = 0;
	std::mt19937 rng(3);
	for (int step = 0; step < 1000; step++) {
		if (rng() % 2 && circbuf_pkts_room(&m.q)) {
			circbuf_pkts_push(&m.q, next_in * 7, next_in % 13 + 1);
			next_in++;
		} else if (const circbuf_pkt *p = circbuf_pkts_peek(&m.q)) {
			ASSERT_EQ(p->start, next_out * 7) << "step " << step;
			ASSERT_EQ(p->len, next_out % 13 + 1) << "step " << step;
			circbuf_pkts_pop(&m.q);
			next_out++;
		}
		ASSERT_EQ(circbuf_pkts_count(&m.q), next_in - next_out);
	}
	EXPECT_GT(next_out, 100u);
}

TEST(PacketsQueue, EmptyQueueHasNoOldest)
{
	ModelPkts m(16);
	EXPECT_EQ(circbuf_pkts_peek(&m.q), nullptr);
	circbuf_pkts_push(&m.q, 0, 1);
	circbuf_pkts_pop(&m.q);
	EXPECT_EQ(circbuf_pkts_peek(&m.q), nullptr);
}

// The module's protocol with one writer and one reader at once, as split
// locking runs them: the writer stores a packet's bytes, pushes its entry,
// then produces; the reader loads the readable count, then peeks. Byte-mode
// chunks come between the packets. The reader must find every packet whole
// and alone, and never take a packet's bytes as byte data.
TEST(PacketsConcurrent, WriterAndReaderInParallelKeepEveryBoundary)
{
	constexpr size_t kCap = 64, kPackets = 20000;
	circbuf_ring ring;
	circbuf_ring_init(&ring, kCap);
	std::vector<uint8_t> mem(kCap);
	ModelPkts m(4);
	// Item i is a packet when i % 3 != 2, else byte data; its length and
	// contents follow from i.
	auto len_of = [](size_t i) { return i % 16 + 1; };
	auto byte_of = [](size_t i, size_t k) { return uint8_t(i * 31 + k); };
	auto is_packet = [](size_t i) { return i % 3 != 2; };

	std::thread writer([&] {
		for (size_t i = 0; i < kPackets; i++) {
			const size_t len = len_of(i);
			while (circbuf_ring_writable(&ring) < len || (is_packet(i) && !circbuf_pkts_room(&m.q)))
				std::this_thread::yield();
			circbuf_piece sp[2];
			circbuf_ring_write_spans(&ring, len, sp);
			size_t k = 0;
			for (auto &s : sp)
				for (size_t j = 0; j < s.len; j++)
					mem[s.off + j] = byte_of(i, k++);
			if (is_packet(i))
				circbuf_pkts_push(&m.q, ring.prod.pos, len);
			circbuf_ring_produce(&ring, len);
		}
	});

	// The reader knows the stream: item by item, byte data may come in
	// pieces, packets only whole.
	size_t item = 0, in_item = 0, bad = 0;
	while (item < kPackets) {
		const size_t readable = circbuf_ring_readable(&ring);
		const circbuf_pkt *p = circbuf_pkts_peek(&m.q);
		size_t bytes;
		const bool packet = circbuf_pkts_plan(p, ring.cons.pos, readable, &bytes);
		circbuf_piece sp[2];
		const size_t n = circbuf_ring_read_spans(&ring, bytes, sp);
		for (auto &s : sp)
			for (size_t j = 0; j < s.len; j++) {
				while (is_packet(item)) {  // byte data never spans a packet
					bad++;
					item++;
				}
				bad += mem[s.off + j] != byte_of(item, in_item);
				if (++in_item == len_of(item)) {
					item++;
					in_item = 0;
				}
			}
		circbuf_ring_consume(&ring, n);
		if (packet) {
			bad += in_item != 0 || !is_packet(item) || p->len != len_of(item);
			circbuf_ring_read_spans(&ring, p->len, sp);
			size_t k = 0;
			for (auto &s : sp)
				for (size_t j = 0; j < s.len; j++)
					bad += mem[s.off + j] != byte_of(item, k++);
			circbuf_ring_consume(&ring, p->len);
			circbuf_pkts_pop(&m.q);
			item++;
		}
		if (!n && !packet)
			std::this_thread::yield();
		ASSERT_EQ(bad, 0u) << "item " << item;
	}
	writer.join();
	EXPECT_EQ(circbuf_ring_used(&ring), 0u);
	EXPECT_EQ(circbuf_pkts_count(&m.q), 0u);
}

}  // namespace
