// Tests of kmod/circbuf_ring.h, the ring arithmetic the module uses,
// compiled here as C++. Small capacities are covered exhaustively; longer
// operation sequences are checked against a std::deque model.
#include <cstdint>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "circbuf_ring.h"

namespace {

constexpr size_t kMaxSmallCap = 17;

// The ring offsets a transfer of @sp covers, in order.
std::vector<size_t> offsets_of(const circbuf_piece sp[2], unsigned pieces)
{
	std::vector<size_t> out;
	for (unsigned p = 0; p < pieces; p++)
		for (size_t i = 0; i < sp[p].len; i++)
			out.push_back(sp[p].off + i);
	return out;
}

std::vector<size_t> expected_offsets(size_t cap, size_t off, size_t len)
{
	std::vector<size_t> out;
	for (size_t i = 0; i < len; i++)
		out.push_back((off + i) % cap);
	return out;
}

// Free-running positions start this close to wrapping, so that the tests
// cross SIZE_MAX as rings fill and drain.
constexpr size_t kPosBase = SIZE_MAX - 4;

// A ring of @cap bytes whose oldest byte is at offset @head, @used bytes
// buffered, positions at @base.
circbuf_ring make_ring(size_t cap, size_t head, size_t used, size_t base = kPosBase)
{
	circbuf_ring r;
	circbuf_ring_init(&r, cap);
	r.cons.pos = base;
	r.cons.off = head;
	r.prod.pos = base + used;
	r.prod.off = (head + used) % cap;
	return r;
}

size_t head_of(const circbuf_ring &r) { return circbuf_ring_rd_off(&r); }
size_t used_of(const circbuf_ring &r) { return circbuf_ring_used(&r); }

// Every (cap, head, used) state a ring of capacity up to kMaxSmallCap can be in.
template <typename F>
void for_each_state(F &&f)
{
	for (size_t cap = 1; cap <= kMaxSmallCap; cap++)
		for (size_t head = 0; head < cap; head++)
			for (size_t used = 0; used <= cap; used++)
				f(make_ring(cap, head, used));
}

// The split of every transfer of min_len..cap bytes at every offset of a
// ring of capacity up to kMaxSmallCap: f(cap, off, len, sp, pieces). Stops
// at the first fatal failure.
template <typename F>
void for_each_split(size_t min_len, F &&f)
{
	for (size_t cap = 1; cap <= kMaxSmallCap; cap++)
		for (size_t off = 0; off < cap; off++)
			for (size_t len = min_len; len <= cap; len++) {
				circbuf_piece sp[2];
				unsigned n = circbuf_ring_split(cap, off, len, sp);
				f(cap, off, len, sp, n);
				if (testing::Test::HasFatalFailure())
					return;
			}
}

TEST(RingSplit, EmptyTransferHasNoPieces)
{
	for (size_t cap = 1; cap <= kMaxSmallCap; cap++)
		for (size_t off = 0; off < cap; off++) {
			circbuf_piece sp[2];
			EXPECT_EQ(circbuf_ring_split(cap, off, 0, sp), 0u);
			EXPECT_EQ(sp[0].len, 0u);
			EXPECT_EQ(sp[1].len, 0u);
		}
}

TEST(RingSplit, CoversExactlyTheWrappedRangeAtEveryOffset)
{
	for_each_split(0, [](size_t cap, size_t off, size_t len, const circbuf_piece sp[2], unsigned n) {
		EXPECT_EQ(offsets_of(sp, n), expected_offsets(cap, off, len))
			<< "cap " << cap << " off " << off << " len " << len;
	});
}

TEST(RingSplit, TwoPiecesExactlyWhenTheTransferWraps)
{
	for_each_split(1, [](size_t cap, size_t off, size_t len, const circbuf_piece sp[2], unsigned n) {
		bool wraps = off + len > cap;
		ASSERT_EQ(n, wraps ? 2u : 1u);
		EXPECT_EQ(sp[0].off, off);
		EXPECT_LE(sp[0].off + sp[0].len, cap);
		EXPECT_EQ(sp[1].off, 0u);
		EXPECT_EQ(sp[1].len, wraps ? off + len - cap : 0u);
	});
}

TEST(RingFold, FoldsOnceIntoRange)
{
	for (size_t cap = 1; cap <= kMaxSmallCap; cap++)
		for (size_t off = 0; off < 2 * cap; off++)
			EXPECT_EQ(circbuf_ring_fold(cap, off), off % cap);
}

TEST(RingWrOff, IsHeadPlusUsedModuloCapacity)
{
	for_each_state([](circbuf_ring r) {
		EXPECT_EQ(circbuf_ring_wr_off(&r), (head_of(r) + used_of(r)) % r.cap);
		EXPECT_LT(circbuf_ring_wr_off(&r), r.cap);
	});
}

TEST(RingSpace, UsedPlusSpaceIsCapacity)
{
	for_each_state([](circbuf_ring r) {
		EXPECT_EQ(circbuf_ring_used(&r) + circbuf_ring_space(&r), r.cap);
		EXPECT_EQ(circbuf_ring_empty(&r), used_of(r) == 0);
		EXPECT_EQ(circbuf_ring_full(&r), used_of(r) == r.cap);
	});
}

TEST(RingReadSpans, ClampToUsedAndStartAtHead)
{
	for_each_state([](circbuf_ring r) {
		for (size_t len = 0; len <= r.cap + 2; len++) {
			circbuf_piece sp[2];
			size_t got = circbuf_ring_read_spans(&r, len, sp);
			EXPECT_EQ(got, std::min(len, used_of(r)));
			EXPECT_EQ(offsets_of(sp, 2), expected_offsets(r.cap, head_of(r), got));
		}
	});
}

TEST(RingWriteSpans, ClampToSpaceAndStartAtWrOff)
{
	for_each_state([](circbuf_ring r) {
		for (size_t len = 0; len <= r.cap + 2; len++) {
			circbuf_piece sp[2];
			size_t got = circbuf_ring_write_spans(&r, len, sp);
			EXPECT_EQ(got, std::min(len, r.cap - used_of(r)));
			EXPECT_EQ(offsets_of(sp, 2),
				  expected_offsets(r.cap, (head_of(r) + used_of(r)) % r.cap, got));
		}
	});
}

TEST(RingWriteSpans, FullRingOffersNothing)
{
	for (size_t cap = 1; cap <= kMaxSmallCap; cap++)
		for (size_t head = 0; head < cap; head++) {
			circbuf_ring r = make_ring(cap, head, cap);
			circbuf_piece sp[2];
			EXPECT_EQ(circbuf_ring_write_spans(&r, cap, sp), 0u);
			EXPECT_EQ(sp[0].len + sp[1].len, 0u);
		}
}

TEST(RingConsume, AdvancesHeadWithWrap)
{
	for_each_state([](circbuf_ring r) {
		for (size_t n = 0; n < used_of(r); n++) {
			circbuf_ring c = r;
			circbuf_ring_consume(&c, n);
			EXPECT_EQ(used_of(c), used_of(r) - n);
			EXPECT_EQ(head_of(c), (head_of(r) + n) % r.cap);
		}
	});
}

TEST(RingConsume, EmptyingTheRingLeavesHeadAfterTheLastByteRead)
{
	for_each_state([](circbuf_ring r) {
		circbuf_ring c = r;
		circbuf_ring_consume(&c, used_of(r));
		EXPECT_EQ(used_of(c), 0u);
		EXPECT_EQ(head_of(c), (head_of(r) + used_of(r)) % r.cap);
	});
}

TEST(RingProduce, AddsToUsedAndKeepsHead)
{
	for_each_state([](circbuf_ring r) {
		for (size_t n = 0; n <= r.cap - used_of(r); n++) {
			circbuf_ring c = r;
			circbuf_ring_produce(&c, n);
			EXPECT_EQ(used_of(c), used_of(r) + n);
			EXPECT_EQ(head_of(c), head_of(r));
		}
	});
}

TEST(RingInit, StartsEmptyAtZero)
{
	circbuf_ring r = make_ring(99, 5, 7);
	circbuf_ring_init(&r, 10);
	EXPECT_EQ(r.cap, 10u);
	EXPECT_EQ(r.prod.pos, 0u);
	EXPECT_EQ(r.cons.pos, 0u);
	EXPECT_EQ(head_of(r), 0u);
	EXPECT_EQ(circbuf_ring_wr_off(&r), 0u);
	EXPECT_TRUE(circbuf_ring_empty(&r));
}

TEST(RingCapacityOne, AlternatesBetweenEmptyAndFull)
{
	circbuf_ring r;
	circbuf_ring_init(&r, 1);
	circbuf_piece sp[2];
	for (int round = 0; round < 3; round++) {
		EXPECT_EQ(circbuf_ring_read_spans(&r, 1, sp), 0u);
		ASSERT_EQ(circbuf_ring_write_spans(&r, 5, sp), 1u);
		EXPECT_EQ(sp[0].off, 0u);
		EXPECT_EQ(sp[0].len, 1u);
		circbuf_ring_produce(&r, 1);
		EXPECT_TRUE(circbuf_ring_full(&r));
		EXPECT_EQ(circbuf_ring_wr_off(&r), 0u);
		EXPECT_EQ(circbuf_ring_write_spans(&r, 1, sp), 0u);
		ASSERT_EQ(circbuf_ring_read_spans(&r, 5, sp), 1u);
		EXPECT_EQ(sp[0].off, 0u);
		circbuf_ring_consume(&r, 1);
		EXPECT_TRUE(circbuf_ring_empty(&r));
	}
}

// A ring with real storage, driven only through the header's functions.
struct ModelRing {
	circbuf_ring r;
	std::vector<uint8_t> mem;

	explicit ModelRing(size_t cap) : mem(cap) { circbuf_ring_init(&r, cap); }

	size_t write(const std::vector<uint8_t> &data)
	{
		circbuf_piece sp[2];
		size_t n = circbuf_ring_write_spans(&r, data.size(), sp), k = 0;
		for (auto &s : sp)
			for (size_t i = 0; i < s.len; i++)
				mem.at(s.off + i) = data[k++];
		EXPECT_EQ(k, n);
		circbuf_ring_produce(&r, n);
		return n;
	}

	std::vector<uint8_t> read(size_t len)
	{
		circbuf_piece sp[2];
		std::vector<uint8_t> out;
		size_t n = circbuf_ring_read_spans(&r, len, sp);
		for (auto &s : sp)
			for (size_t i = 0; i < s.len; i++)
				out.push_back(mem.at(s.off + i));
		EXPECT_EQ(out.size(), n);
		circbuf_ring_consume(&r, n);
		return out;
	}
};

TEST(RingModel, RandomWritesAndReadsMatchAFifo)
{
	std::mt19937_64 rng(12345);
	uint8_t next = 0;
	for (size_t cap : {1, 2, 3, 5, 7, 8, 13, 16, 17, 64, 100, 4096}) {
		ModelRing ring(cap);
		std::deque<uint8_t> model;
		for (int op = 0; op < 20000; op++) {
			size_t len = rng() % (cap + 3);
			if (rng() % 2) {
				std::vector<uint8_t> data(len);
				for (auto &b : data)
					b = next++;
				size_t n = ring.write(data);
				ASSERT_EQ(n, std::min(len, cap - model.size()));
				model.insert(model.end(), data.begin(), data.begin() + n);
			} else {
				auto got = ring.read(len);
				size_t n = std::min(len, model.size());
				ASSERT_EQ(got, std::vector<uint8_t>(model.begin(),
								    model.begin() + n))
					<< "cap " << cap << " op " << op;
				model.erase(model.begin(), model.begin() + n);
			}
			ASSERT_EQ(used_of(ring.r), model.size());
			ASSERT_LT(head_of(ring.r), cap);
		}
	}
}

TEST(RingModel, WritesIntoADrainedRingWrapAtTheEnd)
{
	ModelRing ring(10);
	ring.write(std::vector<uint8_t>(7, 1));
	ring.read(7);
	circbuf_piece sp[2];
	EXPECT_EQ(circbuf_ring_write_spans(&ring.r, 10, sp), 10u);
	EXPECT_EQ(sp[0].off, 7u);
	EXPECT_EQ(sp[0].len, 3u);
	EXPECT_EQ(sp[1].off, 0u);
	EXPECT_EQ(sp[1].len, 7u);
}

TEST(RingPositions, WrapPastSizeMaxWithoutLosingCount)
{
	ModelRing ring(7);
	ring.r.prod.pos = ring.r.cons.pos = SIZE_MAX - 2;
	uint8_t next = 0;
	for (int round = 0; round < 5; round++) {
		std::vector<uint8_t> data(5);
		for (auto &b : data)
			b = next++;
		ASSERT_EQ(ring.write(data), 5u);
		EXPECT_EQ(circbuf_ring_used(&ring.r), 5u);
		EXPECT_EQ(circbuf_ring_space(&ring.r), 2u);
		ASSERT_EQ(ring.read(5), data) << "round " << round;
		EXPECT_TRUE(circbuf_ring_empty(&ring.r));
	}
	EXPECT_LT(ring.r.prod.pos, SIZE_MAX - 2) << "the positions wrapped";
}

// circbuf_ring_used() reads two positions that other CPUs may move in
// between; a torn snapshot must still lie in [0, cap].
TEST(RingUsed, TornSnapshotsAreClampedToTheCapacity)
{
	circbuf_ring r = make_ring(10, 3, 4);
	r.cons.pos = r.prod.pos + 2; // the reader seen after it passed
	EXPECT_EQ(circbuf_ring_used(&r), 0u);
	EXPECT_EQ(circbuf_ring_space(&r), 10u);
	r.cons.pos = r.prod.pos - 13; // the writer seen after it refilled
	EXPECT_EQ(circbuf_ring_used(&r), 10u);
	EXPECT_EQ(circbuf_ring_space(&r), 0u);
}

// One writer thread and one reader thread at once, as the module's split
// locking runs them: the reader sees every byte once, in order.
TEST(RingConcurrent, OneWriterAndOneReaderInParallelKeepTheStreamExact)
{
	for (size_t cap : {1, 7, 64, 4096}) {
		ModelRing ring(cap);
		ring.r.prod.pos = ring.r.cons.pos = SIZE_MAX - 100;
		const size_t total = cap < 64 ? 1u << 16 : 1u << 20;
		std::thread writer([&] {
			std::mt19937 rng(1);
			size_t sent = 0;
			circbuf_piece sp[2];
			while (sent < total) {
				size_t n = circbuf_ring_write_spans(&ring.r,
					std::min<size_t>(total - sent, rng() % (cap + 1) + 1), sp);
				for (auto &p : sp)
					for (size_t i = 0; i < p.len; i++)
						ring.mem[p.off + i] = uint8_t((sent++) * 7 / 3);
				circbuf_ring_produce(&ring.r, n);
				if (!n)
					std::this_thread::yield();
			}
		});
		std::mt19937 rng(2);
		size_t got = 0, bad = 0;
		circbuf_piece sp[2];
		while (got < total) {
			size_t n = circbuf_ring_read_spans(&ring.r, rng() % (cap + 1) + 1, sp);
			for (auto &p : sp)
				for (size_t i = 0; i < p.len; i++)
					bad += ring.mem[p.off + i] != uint8_t((got++) * 7 / 3);
			circbuf_ring_consume(&ring.r, n);
			if (!n)
				std::this_thread::yield();
		}
		writer.join();
		EXPECT_EQ(bad, 0u) << "cap " << cap;
		EXPECT_TRUE(circbuf_ring_empty(&ring.r));
	}
}

TEST(RingSegCount, RoundsUp)
{
	EXPECT_EQ(circbuf_seg_count(1, 0), 1u);
	EXPECT_EQ(circbuf_seg_count(4, 2), 1u);
	EXPECT_EQ(circbuf_seg_count(5, 2), 2u);
	EXPECT_EQ(circbuf_seg_count(8, 2), 2u);
	EXPECT_EQ(circbuf_seg_count(4096, 12), 1u);
	EXPECT_EQ(circbuf_seg_count(4097, 12), 2u);
	EXPECT_EQ(circbuf_seg_count(size_t(256) << 20, 22), 64u);
}

TEST(RingSegLen, AllFullButAShortLastSegmentSummingToCapacity)
{
	for (unsigned shift = 0; shift <= 4; shift++)
		for (size_t cap = 1; cap <= 40; cap++) {
			size_t count = circbuf_seg_count(cap, shift), total = 0;
			for (size_t idx = 0; idx < count; idx++) {
				size_t len = circbuf_seg_len(cap, shift, idx);
				EXPECT_GE(len, 1u);
				if (idx + 1 < count) {
					EXPECT_EQ(len, size_t(1) << shift);
				}
				total += len;
			}
			EXPECT_EQ(total, cap) << "cap " << cap << " shift " << shift;
		}
}

TEST(RingSegChunk, WalksEveryPieceAcrossSegmentBoundaries)
{
	for (unsigned shift = 0; shift <= 3; shift++)
		for (size_t cap = 1; cap <= 20; cap++)
			for (size_t off = 0; off < cap; off++)
				for (size_t len = 1; off + len <= cap; len++) {
					size_t pos = off, left = len;
					while (left) {
						size_t idx, seg_off;
						size_t n = circbuf_seg_chunk(pos, left, shift,
									     &idx, &seg_off);
						ASSERT_GE(n, 1u);
						ASSERT_LE(n, left);
						ASSERT_LT(idx, circbuf_seg_count(cap, shift));
						EXPECT_EQ((idx << shift) + seg_off, pos);
						EXPECT_LE(seg_off + n,
							  circbuf_seg_len(cap, shift, idx))
							<< "cap " << cap << " shift " << shift
							<< " off " << off << " len " << len;
						pos += n;
						left -= n;
					}
				}
}

TEST(RingSegChunk, StopsAtTheSegmentEnd)
{
	size_t idx, seg_off;
	EXPECT_EQ(circbuf_seg_chunk(6, 10, 2, &idx, &seg_off), 2u);
	EXPECT_EQ(idx, 1u);
	EXPECT_EQ(seg_off, 2u);
	EXPECT_EQ(circbuf_seg_chunk(8, 2, 2, &idx, &seg_off), 2u);
	EXPECT_EQ(idx, 2u);
	EXPECT_EQ(seg_off, 0u);
}

} // namespace
