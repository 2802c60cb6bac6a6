// The locking modes: with locking=split a reader and a writer work on the
// ring at the same time; with locking=single one mutex serialises them. A
// writer stuck in a page fault on its source buffer (a userfaultfd page
// that stays missing until the test serves it) shows the difference.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "circbuf/unique_fd.h"
#include "tests/vm/vm_test.h"

namespace circbuf_vm {
namespace {

class CircbufLocking : public CircbufTest {
protected:
	// Loads the module with locking=@mode, stores @prefill pattern bytes,
	// and starts a writer of one faulting page that must end up asleep in
	// the fault. Check ready() afterwards: false (with a failure or a
	// skip) if that could not be set up.
	void start_stuck_writer(const char *mode, size_t prefill)
	{
		if (!reload({{"locking", mode}, {"buffer_size", "65536"}}))
			return;
		if (!page_.error().empty()) {
			if (page_.error_errno() == ENOSYS)
				GTEST_SKIP() << "no userfaultfd in this kernel: " << page_.error();
			FAIL() << page_.error();
		}
		rd_.reset(open("/dev/circbuf", O_RDONLY));
		wr_.reset(open("/dev/circbuf", O_WRONLY));
		ASSERT_TRUE(rd_.ok() && wr_.ok()) << "open: " << std::strerror(errno);
		auto data = pattern(0, prefill);
		ASSERT_EQ(write(wr_.get(), data.data(), data.size()), ssize_t(prefill))
			<< "prefill: " << std::strerror(errno);
		writer_ = std::make_unique<Background<Io>>([this] {
			ssize_t n = write(wr_.get(), page_.data(), page_.size());
			return n < 0 ? err(errno) : ok(n);
		});
		// D: the DMA path pins the page, and GUP waits for the fault
		// uninterruptibly (only fatal signals end it).
		ASSERT_TRUE(wait_until_blocked(writer_->tid(), SYS_write, 2s, "SD"))
			<< "the writer did not block in the fault";
	}

	bool ready() { return writer_ && !IsSkipped() && !HasFailure(); }

	// Resolves the writer's fault if it is still in it, when destroyed.
	struct ReleaseOnExit {
		CircbufLocking &t;
		~ReleaseOnExit()
		{
			if (!t.writer_->done())
				t.page_.serve_filled(0);
		}
	};

	// The files go before the fixture restores the module.
	void TearDown() override
	{
		// A writer still in its fault cannot be interrupted on the DMA
		// path: resolve the fault (EEXIST if that was done already).
		if (writer_ && !writer_->done())
			page_.serve_filled(0);
		writer_.reset();
		rd_.reset();
		wr_.reset();
		CircbufTest::TearDown();
	}

	// Resolves the fault: the writer then stores the whole page.
	void release_writer(uint8_t value)
	{
		ASSERT_TRUE(page_.serve_filled(value)) << std::strerror(errno);
		ASSERT_TRUE(writer_->wait(kWakeTimeout));
		EXPECT_EQ(writer_->result(), ok(ssize_t(page_.size())));
	}

	// What the writer stored comes next in the stream.
	void expect_page(uint8_t value)
	{
		EXPECT_TRUE(same_bytes(read_bytes(rd_.get(), page_.size()),
				       std::vector<uint8_t>(page_.size(), value)));
	}

	FaultingPage page_;
	circbuf::unique_fd rd_, wr_;
	std::unique_ptr<Background<Io>> writer_;
};

TEST_F(CircbufLocking, SplitReaderDrainsWhileAWriterSleepsInAPageFault)
{
	const size_t prefill = 1000;
	start_stuck_writer("split", prefill);
	if (!ready())
		return;
	Background<std::vector<uint8_t>> reader(
		[this, prefill] { return read_bytes(rd_.get(), prefill); });
	// On a failure below, free the writer before the reader is joined:
	// a reader stuck behind it would otherwise never return.
	ReleaseOnExit release{*this};
	ASSERT_TRUE(reader.wait(kWakeTimeout))
		<< "the reader waited for the writer's fault to be resolved";
	EXPECT_TRUE(same_bytes(reader.result(), pattern(0, prefill)));
	EXPECT_FALSE(writer_->done()) << "the writer must still be in its fault";
	release_writer(0x5a);
	expect_page(0x5a);
}

// The control for the test above: with one mutex, the reader waits for
// the writer that holds it, so the test above can tell the modes apart.
TEST_F(CircbufLocking, SingleReaderWaitsForAWriterThatSleepsInAPageFault)
{
	const size_t prefill = 1000;
	start_stuck_writer("single", prefill);
	if (!ready())
		return;
	Background<std::vector<uint8_t>> reader(
		[this, prefill] { return read_bytes(rd_.get(), prefill); });
	ReleaseOnExit release{*this};
	// Asleep in read(2), and still there a while later: waiting for the
	// mutex, not merely slow to get going.
	EXPECT_TRUE(wait_until_blocked(reader.tid(), SYS_read)) << "the reader never slept in read()";
	EXPECT_FALSE(reader.wait(300ms)) << "the reader got past the writer's mutex";
	release_writer(0x5a);
	ASSERT_TRUE(reader.wait(kWakeTimeout));
	// The writer held the mutex first, but the prefill is older: FIFO.
	EXPECT_TRUE(same_bytes(reader.result(), pattern(0, prefill)));
	expect_page(0x5a);
}

TEST_F(CircbufLocking, UnknownLockingModeIsRefusedAtLoad)
{
	if (!module_path())
		GTEST_SKIP() << "outside the harness";
	ASSERT_EQ(unload_module(), 0);
	EXPECT_EQ(load_module(format_params(harness_params_with({{"locking", "spinny"}}))),
		  EINVAL);
	EXPECT_FALSE(module_loaded());
}

}  // namespace
}  // namespace circbuf_vm
