// Readiness of /dev/circbuf through poll(2), select(2) and epoll(7): the
// events reported in each state, and that a sleeping waiter wakes when data
// arrives or space frees up.
#include "vm_test.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace circbuf_vm {
namespace {

class CircbufPoll : public CircbufTest {};
class CircbufSelect : public CircbufTest {};

// A waiter's own timeout, longer than kWakeTimeout so that a missed wake-up
// shows as a waiter still asleep rather than as a timeout result.
constexpr int kWaiterTimeoutMs = 10000;

// revents of fd for events, polled without waiting.
short poll_now(int fd, short events)
{
	pollfd p{fd, events, 0};
	int n = poll(&p, 1, 0);
	if (n < 0) {
		ADD_FAILURE() << "poll: " << std::strerror(errno);
		return 0;
	}
	return n == 0 ? 0 : p.revents;
}

std::string events_str(unsigned ev)
{
	std::string s;
	const std::pair<unsigned, const char *> names[] = {
		{POLLIN, "IN"}, {POLLOUT, "OUT"}, {POLLHUP, "HUP"}, {POLLERR, "ERR"}, {POLLNVAL, "NVAL"}, {POLLRDNORM, "RDNORM"},
		{POLLWRNORM, "WRNORM"}, {EPOLLET, "ET"},
	};
	for (auto [bit, name] : names)
		if (ev & bit)
			s += s.empty() ? name : std::string("|") + name;
	return s.empty() ? "0" : s;
}

// Fills the empty ring through fd.
void fill(int fd, uint64_t capacity)
{
	const std::vector<uint8_t> data = pattern(0, capacity);
	ASSERT_EQ(sys_write(fd, data.data(), data.size()), ok(capacity));
}

TEST_F(CircbufPoll, EmptyWithWriterIsWritableNotReadable)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	short ev = poll_now(rw.get(), POLLIN | POLLOUT);
	EXPECT_TRUE(ev & POLLOUT) << events_str(ev);
	EXPECT_FALSE(ev & POLLIN) << events_str(ev);
	EXPECT_FALSE(ev & (POLLHUP | POLLERR)) << events_str(ev);
}

TEST_F(CircbufPoll, ReadOnlyFileIsNotReadableWhileEmptyWithWriter)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	short ev = poll_now(r.get(), POLLIN);
	EXPECT_EQ(ev, 0) << events_str(ev);
	ev = poll_now(w.get(), POLLOUT);
	EXPECT_TRUE(ev & POLLOUT) << events_str(ev);
}

TEST_F(CircbufPoll, AfterWriteIsReadable)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_EQ(sys_write(rw.get(), "x", 1), ok(1));
	short ev = poll_now(rw.get(), POLLIN);
	EXPECT_TRUE(ev & POLLIN) << events_str(ev);
}

TEST_F(CircbufPoll, FullIsNotWritable)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(fill(rw.get(), capacity_));
	short ev = poll_now(rw.get(), POLLIN | POLLOUT);
	EXPECT_FALSE(ev & POLLOUT) << events_str(ev);
	EXPECT_TRUE(ev & POLLIN) << events_str(ev);
}

TEST_F(CircbufPoll, ReaderWithoutWriterGetsPollhup)
{
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(r.ok()) << std::strerror(errno);
	short ev = poll_now(r.get(), POLLIN);
	EXPECT_TRUE(ev & POLLHUP) << events_str(ev);
}

TEST_F(CircbufPoll, WakesWhenDataArrives)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	Background<short> waiter([&]() -> short {
		pollfd p{r.get(), POLLIN, 0};
		return poll(&p, 1, kWaiterTimeoutMs) == 1 ? p.revents : 0;
	});
	ASSERT_TRUE(wait_until_blocked(waiter.tid()));
	ASSERT_FALSE(waiter.done());
	ASSERT_EQ(sys_write(w.get(), "x", 1), ok(1));
	ASSERT_TRUE(waiter.wait(kWakeTimeout)) << "poll not woken by a write";
	EXPECT_TRUE(waiter.result() & POLLIN) << events_str(waiter.result());
}

// A writer is woken, and POLLOUT reported, once PIPE_BUF bytes are free
// (the whole ring if it is smaller): room for any atomic write.
size_t writable_threshold(uint64_t capacity)
{
	return std::min<size_t>(kPipeBuf, capacity);
}

// Fills the ring through @rw, then frees one byte less than the threshold.
void fill_to_one_below_threshold(int rw, uint64_t capacity)
{
	ASSERT_NO_FATAL_FAILURE(fill(rw, capacity));
	const size_t below = writable_threshold(capacity) - 1;
	ASSERT_EQ(read_bytes(rw, below).size(), below);
}

bool pollout_now(int fd)
{
	pollfd p{fd, POLLOUT, 0};
	int n = poll(&p, 1, 0);
	EXPECT_GE(n, 0) << "poll: " << std::strerror(errno);
	return n == 1 && (p.revents & POLLOUT);
}

TEST_F(CircbufPoll, ReportsPolloutFromExactlyThePipeBufThreshold)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(fill_to_one_below_threshold(rw.get(), capacity_));
	EXPECT_FALSE(pollout_now(w.get())) << "POLLOUT one byte below the threshold";
	ASSERT_EQ(read_bytes(rw.get(), 1).size(), 1u);
	EXPECT_TRUE(pollout_now(w.get())) << "no POLLOUT at the threshold";
}

TEST_F(CircbufPoll, WakesWhenSpaceFrees)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(fill_to_one_below_threshold(rw.get(), capacity_));
	Background<short> waiter([&]() -> short {
		pollfd p{w.get(), POLLOUT, 0};
		return poll(&p, 1, kWaiterTimeoutMs) == 1 ? p.revents : 0;
	});
	ASSERT_TRUE(wait_until_blocked(waiter.tid()));
	ASSERT_FALSE(waiter.done());
	ASSERT_EQ(read_bytes(rw.get(), 1).size(), 1u);
	ASSERT_TRUE(waiter.wait(kWakeTimeout)) << "poll not woken when the threshold was reached";
	EXPECT_TRUE(waiter.result() & POLLOUT) << events_str(waiter.result());
}

struct EpollResult {
	int n;
	uint32_t events;
	int err;
};

// epoll on one file of the device, level- or edge-triggered.
class CircbufEpoll : public CircbufTest, public testing::WithParamInterface<bool> {
protected:
	bool edge() const { return GetParam(); }

	// Watches fd for events (plus EPOLLET for the edge-triggered runs).
	void watch(int fd, uint32_t events)
	{
		ep_ = Fd(epoll_create1(EPOLL_CLOEXEC));
		ASSERT_TRUE(ep_.ok()) << std::strerror(errno);
		epoll_event ev{};
		ev.events = events | (edge() ? uint32_t{EPOLLET} : 0u);
		ev.data.fd = fd;
		ASSERT_EQ(epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev), 0) << std::strerror(errno);
	}

	EpollResult wait_events(int timeout_ms)
	{
		epoll_event ev{};
		int n = epoll_wait(ep_.get(), &ev, 1, timeout_ms);
		return {n, n == 1 ? ev.events : 0, n < 0 ? errno : 0};
	}

	// Wakes a thread asleep in epoll_wait with act(); checks it reports
	// event, and that a second look reports it again only when
	// level-triggered.
	void expect_wakes(uint32_t event, const std::function<void()> &act)
	{
		ASSERT_EQ(wait_events(0).n, 0) << "ready before the test acted";
		Background<EpollResult> waiter([this] { return wait_events(kWaiterTimeoutMs); });
		ASSERT_TRUE(wait_until_blocked(waiter.tid()));
		ASSERT_FALSE(waiter.done());
		act();
		ASSERT_TRUE(waiter.wait(kWakeTimeout)) << "epoll_wait not woken";
		EpollResult res = waiter.result();
		ASSERT_EQ(res.n, 1) << std::strerror(res.err);
		EXPECT_TRUE(res.events & event) << events_str(res.events);
		EpollResult again = wait_events(0);
		if (edge())
			EXPECT_EQ(again.n, 0) << "edge-triggered event reported twice: " << events_str(again.events);
		else
			EXPECT_TRUE(again.n == 1 && (again.events & event)) << "level-triggered event gone";
	}

	Fd ep_;
};

TEST_P(CircbufEpoll, WakesWhenDataArrives)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(watch(r.get(), EPOLLIN));
	expect_wakes(EPOLLIN, [&] { ASSERT_EQ(sys_write(w.get(), "x", 1), ok(1)); });
}

TEST_P(CircbufEpoll, WakesWhenSpaceFrees)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(fill_to_one_below_threshold(rw.get(), capacity_));
	ASSERT_NO_FATAL_FAILURE(watch(w.get(), EPOLLOUT));
	expect_wakes(EPOLLOUT, [&] { ASSERT_EQ(read_bytes(rw.get(), 1).size(), 1u); });
}

INSTANTIATE_TEST_SUITE_P(Triggers, CircbufEpoll, testing::Values(false, true),
			 [](const testing::TestParamInfo<bool> &p) { return p.param ? "Edge" : "Level"; });

// select(2) on one fd for reading or writing, with a timeout in ms; returns
// whether fd was reported ready.
bool select_ready(int fd, bool for_write, int timeout_ms)
{
	fd_set set;
	FD_ZERO(&set);
	FD_SET(fd, &set);
	timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	int n = select(fd + 1, for_write ? nullptr : &set, for_write ? &set : nullptr, nullptr, &tv);
	EXPECT_GE(n, 0) << "select: " << std::strerror(errno);
	return n == 1 && FD_ISSET(fd, &set);
}

TEST_F(CircbufSelect, ReportsReadableOnlyWithData)
{
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(rw.ok()) << std::strerror(errno);
	EXPECT_FALSE(select_ready(rw.get(), false, 0));
	EXPECT_TRUE(select_ready(rw.get(), true, 0));
	ASSERT_NO_FATAL_FAILURE(fill(rw.get(), capacity_));
	EXPECT_TRUE(select_ready(rw.get(), false, 0));
	EXPECT_FALSE(select_ready(rw.get(), true, 0));
}

TEST_F(CircbufSelect, WakesWhenDataArrives)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd r = open_device(O_RDONLY | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && r.ok()) << std::strerror(errno);
	Background<bool> waiter([&] { return select_ready(r.get(), false, kWaiterTimeoutMs); });
	ASSERT_TRUE(wait_until_blocked(waiter.tid()));
	ASSERT_FALSE(waiter.done());
	ASSERT_EQ(sys_write(w.get(), "x", 1), ok(1));
	ASSERT_TRUE(waiter.wait(kWakeTimeout)) << "select not woken by a write";
	EXPECT_TRUE(waiter.result());
}

TEST_F(CircbufSelect, WakesWhenSpaceFrees)
{
	Fd w = open_device(O_WRONLY | O_NONBLOCK);
	Fd rw = open_device(O_RDWR | O_NONBLOCK);
	ASSERT_TRUE(w.ok() && rw.ok()) << std::strerror(errno);
	ASSERT_NO_FATAL_FAILURE(fill_to_one_below_threshold(rw.get(), capacity_));
	EXPECT_FALSE(select_ready(w.get(), true, 0)) << "writable one byte below the threshold";
	Background<bool> waiter([&] { return select_ready(w.get(), true, kWaiterTimeoutMs); });
	ASSERT_TRUE(wait_until_blocked(waiter.tid()));
	ASSERT_FALSE(waiter.done());
	ASSERT_EQ(read_bytes(rw.get(), 1).size(), 1u);
	ASSERT_TRUE(waiter.wait(kWakeTimeout)) << "select not woken when the threshold was reached";
	EXPECT_TRUE(waiter.result());
}

}  // namespace
}  // namespace circbuf_vm
