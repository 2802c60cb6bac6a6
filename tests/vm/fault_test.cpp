// Bad user buffers: a read or write that faults moves exactly the bytes it
// could copy, and nothing is lost or invented in the ring.
#include "vm_test.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufFault : public CircbufTest {};

// Two pages, the second one PROT_NONE: a buffer that ends at end() faults
// on its next byte.
class GuardedPages {
public:
	GuardedPages() : page_(sysconf(_SC_PAGESIZE))
	{
		void *p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return;
		base_ = static_cast<uint8_t *>(p);
		if (mprotect(base_ + page_, page_, PROT_NONE) != 0) {
			munmap(base_, 2 * page_);
			base_ = nullptr;
		}
	}
	GuardedPages(const GuardedPages &) = delete;
	GuardedPages &operator=(const GuardedPages &) = delete;
	~GuardedPages()
	{
		if (base_)
			munmap(base_, 2 * page_);
	}

	bool ok() const { return base_ != nullptr; }
	size_t page() const { return page_; }
	// First byte of the PROT_NONE page.
	uint8_t *end() const { return base_ + page_; }

private:
	size_t page_;
	uint8_t *base_ = nullptr;
};

TEST_F(CircbufFault, ReadIntoNullFailsWithEfaultAndKeepsData)
{
	if (!need_capacity(6))
		return;
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(rw.get(), "abcdef", 6), ok(6));
	const circbuf_stats before = get_stats(rw.get());
	EXPECT_EQ(sys_read(rw.get(), nullptr, 6), err(EFAULT));
	const circbuf_stats after = get_stats(rw.get());
	EXPECT_EQ(after.used, 6u);
	EXPECT_EQ(after.reads, before.reads);
	EXPECT_EQ(after.bytes_read, before.bytes_read);
	char buf[16];
	ASSERT_EQ(sys_read(rw.get(), buf, sizeof(buf)), ok(6));
	EXPECT_EQ(std::string(buf, 6), "abcdef");
}

TEST_F(CircbufFault, WriteFromNullFailsWithEfaultAndStoresNothing)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	const circbuf_stats before = get_stats(rw.get());
	EXPECT_EQ(sys_write(rw.get(), nullptr, std::min<uint64_t>(capacity_, 6)), err(EFAULT));
	const circbuf_stats after = get_stats(rw.get());
	EXPECT_EQ(after.used, 0u);
	EXPECT_EQ(after.writes, before.writes);
	EXPECT_EQ(after.bytes_written, before.bytes_written);
}

// A transfer of `total` bytes whose user buffer has `valid` bytes before a
// PROT_NONE page, with the ring's head `head_back` bytes before its end (0:
// at the start) so that the copy may cross the end of the ring.
struct Crossing {
	const char *name;
	size_t valid;
	size_t total;
	size_t head_back;
};

void PrintTo(const Crossing &c, std::ostream *os)
{
	*os << c.name;
}

class CircbufFaultCrossing : public CircbufTest, public testing::WithParamInterface<Crossing> {
protected:
	// Loads a larger ring when this case does not fit the current one.
	bool prepare()
	{
		const Crossing &c = GetParam();
		if (capacity_ < c.total + c.head_back && !reload({{"buffer_size", "16384"}}))
			return false;
		rw_ = open_device(O_RDWR | O_NONBLOCK);
		EXPECT_TRUE(rw_.ok()) << std::strerror(errno);
		EXPECT_TRUE(pages_.ok()) << "mmap: " << std::strerror(errno);
		if (!rw_.ok() || !pages_.ok())
			return false;
		return c.head_back == 0 || cycle_bytes(rw_.get(), capacity_ - c.head_back);
	}

	void TearDown() override
	{
		rw_.reset();  // before the fixture may unload the module
		CircbufTest::TearDown();
	}

	Fd rw_;
	GuardedPages pages_;
};

TEST_P(CircbufFaultCrossing, ReadStopsAtTheBadPageAndKeepsTheRest)
{
	if (!prepare())
		return;
	const Crossing &c = GetParam();
	const std::vector<uint8_t> data = pattern(0, c.total, 5);
	ASSERT_EQ(sys_write(rw_.get(), data.data(), data.size()), ok(c.total));
	uint8_t *buf = pages_.end() - c.valid;
	const Io r = sys_read(rw_.get(), buf, c.total);
	EXPECT_EQ(r, c.valid ? ok(c.valid) : err(EFAULT));
	const size_t got = r.ret > 0 ? r.ret : 0;
	const size_t seen = std::min(got, c.valid);  // never touch the bad page
	EXPECT_TRUE(same_bytes(std::vector<uint8_t>(buf, buf + seen), pattern(0, seen, 5)));
	EXPECT_EQ(get_stats(rw_.get()).used, c.total - got) << "bytes lost or duplicated";
	EXPECT_TRUE(same_bytes(read_bytes(rw_.get(), c.total - got), pattern(got, c.total - got, 5)));
}

TEST_P(CircbufFaultCrossing, WriteStoresExactlyTheBytesBeforeTheBadPage)
{
	if (!prepare())
		return;
	const Crossing &c = GetParam();
	uint8_t *buf = pages_.end() - c.valid;
	const std::vector<uint8_t> data = pattern(0, c.valid, 6);
	std::copy(data.begin(), data.end(), buf);
	const circbuf_stats before = get_stats(rw_.get());
	const Io w = sys_write(rw_.get(), buf, c.total);
	EXPECT_EQ(w, c.valid ? ok(c.valid) : err(EFAULT));
	const size_t stored = w.ret > 0 ? w.ret : 0;
	const circbuf_stats after = get_stats(rw_.get());
	EXPECT_EQ(after.used, stored) << "the write returned " << testing::PrintToString(w);
	EXPECT_EQ(after.bytes_written - before.bytes_written, stored);
	EXPECT_TRUE(same_bytes(read_bytes(rw_.get(), after.used, 100ms), pattern(0, stored, 6)));
}

INSTANTIATE_TEST_SUITE_P(Buffers, CircbufFaultCrossing,
			 testing::Values(Crossing{"Inside40of100", 40, 100, 0},
					 Crossing{"NothingValid", 0, 100, 0},
					 Crossing{"BeforeRingEnd20of100", 20, 100, 30},
					 Crossing{"AfterRingEnd40of100", 40, 100, 30},
					 Crossing{"WholePageOf4196", 4096, 4196, 0},
					 Crossing{"WholePageAcrossRingEnd", 4096, 4196, 1000}),
			 [](const testing::TestParamInfo<Crossing> &p) { return std::string(p.param.name); });

}  // namespace
}  // namespace circbuf_vm
